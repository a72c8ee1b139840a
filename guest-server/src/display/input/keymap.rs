//! Key translation to Linux evdev key codes (linux/input-event-codes.h):
//!
//! - QEMU extended key events carry an XT "qnum" code (scancode set 1; keys with the
//!   0xE0 prefix have the high bit set, e.g. 0xE0 0x48 -> 0xC8). Layout-independent:
//!   preferred whenever a client sends it.
//! - Otherwise an X11 keysym (RFC 6143 7.5.4), mapped for a US layout; keysyms that
//!   need Shift on that layout say so, so the sink can press it when the client did not.

use cvmc_protocol::rfb::keysym as ks;

/// An evdev key code and whether the keysym needs Shift on a US layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMapping {
    /// Linux evdev key code.
    pub code: u16,
    /// The keysym is the shifted symbol of that key.
    pub shift: bool,
}

// A few evdev codes used by name below.
pub const KEY_LEFTSHIFT: u16 = 42;
pub const KEY_LEFTCTRL: u16 = 29;
pub const KEY_LEFTALT: u16 = 56;
pub const KEY_DELETE: u16 = 111;
pub const KEY_SYSRQ: u16 = 99;
pub const KEY_F1: u16 = 59;

/// XT qnum -> evdev. Base scancodes 0x01..=0x58 equal the evdev codes by design of
/// the Linux input layer; extended (0x80 | code) and the rest are listed.
pub fn qnum_to_evdev(qnum: u32) -> Option<u16> {
    let q = u16::try_from(qnum).ok()?;
    Some(match q {
        0x01..=0x58 => q,
        0x59 => 117, // KP =
        0x70 => 93,  // Katakana/Hiragana
        0x73 => 89,  // RO
        0x79 => 92,  // Henkan
        0x7b => 94,  // Muhenkan
        0x7d => 124, // Yen
        0x9c => 96,  // KP Enter
        0x9d => 97,  // Right Ctrl
        0xb5 => 98,  // KP /
        0xb7 => 99,  // SysRq / Print
        0xb8 => 100, // Right Alt
        0xc6 => 119, // Pause (Ctrl+Break form)
        0xc7 => 102, // Home
        0xc8 => 103, // Up
        0xc9 => 104, // Page Up
        0xcb => 105, // Left
        0xcd => 106, // Right
        0xcf => 107, // End
        0xd0 => 108, // Down
        0xd1 => 109, // Page Down
        0xd2 => 110, // Insert
        0xd3 => 111, // Delete
        0xdb => 125, // Left Meta
        0xdc => 126, // Right Meta
        0xdd => 127, // Menu
        _ => return None,
    })
}

fn plain(code: u16) -> Option<KeyMapping> {
    Some(KeyMapping { code, shift: false })
}

fn shifted(code: u16) -> Option<KeyMapping> {
    Some(KeyMapping { code, shift: true })
}

/// US-layout rows: unshifted and shifted characters of each key, with its code.
const US_KEYS: &[(u8, u8, u16)] = &[
    (b'1', b'!', 2),
    (b'2', b'@', 3),
    (b'3', b'#', 4),
    (b'4', b'$', 5),
    (b'5', b'%', 6),
    (b'6', b'^', 7),
    (b'7', b'&', 8),
    (b'8', b'*', 9),
    (b'9', b'(', 10),
    (b'0', b')', 11),
    (b'-', b'_', 12),
    (b'=', b'+', 13),
    (b'q', b'Q', 16),
    (b'w', b'W', 17),
    (b'e', b'E', 18),
    (b'r', b'R', 19),
    (b't', b'T', 20),
    (b'y', b'Y', 21),
    (b'u', b'U', 22),
    (b'i', b'I', 23),
    (b'o', b'O', 24),
    (b'p', b'P', 25),
    (b'[', b'{', 26),
    (b']', b'}', 27),
    (b'a', b'A', 30),
    (b's', b'S', 31),
    (b'd', b'D', 32),
    (b'f', b'F', 33),
    (b'g', b'G', 34),
    (b'h', b'H', 35),
    (b'j', b'J', 36),
    (b'k', b'K', 37),
    (b'l', b'L', 38),
    (b';', b':', 39),
    (b'\'', b'"', 40),
    (b'`', b'~', 41),
    (b'\\', b'|', 43),
    (b'z', b'Z', 44),
    (b'x', b'X', 45),
    (b'c', b'C', 46),
    (b'v', b'V', 47),
    (b'b', b'B', 48),
    (b'n', b'N', 49),
    (b'm', b'M', 50),
    (b',', b'<', 51),
    (b'.', b'>', 52),
    (b'/', b'?', 53),
    (b' ', b' ', 57),
];

/// X11 keysym ([`cvmc_protocol::rfb::keysym`]) -> evdev for a US layout.
pub fn keysym_to_evdev(keysym: u32) -> Option<KeyMapping> {
    if let Ok(byte) = u8::try_from(keysym)
        && (0x20..0x7f).contains(&byte)
    {
        return US_KEYS.iter().find_map(|&(lower, upper, code)| {
            if byte == lower {
                plain(code)
            } else if byte == upper {
                shifted(code)
            } else {
                None
            }
        });
    }
    match keysym {
        ks::BACKSPACE => plain(14),
        ks::TAB => plain(15),
        ks::RETURN => plain(28),
        ks::PAUSE => plain(119),
        ks::SCROLL_LOCK => plain(70),
        ks::SYS_REQ => plain(KEY_SYSRQ),
        ks::ESCAPE => plain(1),
        ks::HOME => plain(102),
        ks::LEFT => plain(105),
        ks::UP => plain(103),
        ks::RIGHT => plain(106),
        ks::DOWN => plain(108),
        ks::PAGE_UP => plain(104),   // Prior
        ks::PAGE_DOWN => plain(109), // Next
        ks::END => plain(107),
        ks::PRINT => plain(KEY_SYSRQ), // Print
        ks::INSERT => plain(110),
        ks::MENU => plain(127),
        ks::NUM_LOCK => plain(69),
        ks::KP_ENTER => plain(96),
        ks::KP_MULTIPLY => plain(55),
        ks::KP_ADD => plain(78),
        ks::KP_SUBTRACT => plain(74),
        ks::KP_DECIMAL => plain(83),
        ks::KP_DIVIDE => plain(98),
        ks::KP_0 => plain(82),
        v if (ks::KP_0 + 1..=ks::KP_0 + 3).contains(&v) => plain(79 + u16::try_from(v - ks::KP_0 - 1).ok()?), // KP_1..3
        v if (ks::KP_0 + 4..=ks::KP_0 + 6).contains(&v) => plain(75 + u16::try_from(v - ks::KP_0 - 4).ok()?), // KP_4..6
        v if (ks::KP_0 + 7..=ks::KP_0 + 9).contains(&v) => plain(71 + u16::try_from(v - ks::KP_0 - 7).ok()?), // KP_7..9
        v if (ks::F1..ks::F1 + 10).contains(&v) => plain(KEY_F1 + u16::try_from(v - ks::F1).ok()?),           // F1..F10
        ks::F11 => plain(87),                                                                                 // F11
        ks::F12 => plain(88),
        ks::SHIFT_L => plain(KEY_LEFTSHIFT),
        ks::SHIFT_R => plain(54),
        ks::CONTROL_L => plain(KEY_LEFTCTRL),
        ks::CONTROL_R => plain(97),
        ks::CAPS_LOCK => plain(58),
        ks::META_L | ks::SUPER_L => plain(125), // Meta_L, Super_L
        ks::META_R | ks::SUPER_R => plain(126), // Meta_R, Super_R
        ks::ALT_L => plain(KEY_LEFTALT),
        ks::ALT_R | ks::ISO_LEVEL3_SHIFT => plain(100), // Alt_R, ISO_Level3_Shift (AltGr)
        ks::DELETE => plain(KEY_DELETE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xt_codes_map_to_evdev() {
        assert_eq!(qnum_to_evdev(0x1e), Some(30)); // A
        assert_eq!(qnum_to_evdev(0x1c), Some(28)); // Enter
        assert_eq!(qnum_to_evdev(0x9c), Some(96)); // KP Enter (E0 1C)
        assert_eq!(qnum_to_evdev(0xc8), Some(103)); // Up (E0 48)
        assert_eq!(qnum_to_evdev(0xb8), Some(100)); // Right Alt (E0 38)
        assert_eq!(qnum_to_evdev(0x58), Some(88)); // F12
        assert_eq!(qnum_to_evdev(0), None);
        assert_eq!(qnum_to_evdev(0x1_0000), None);
    }

    #[test]
    fn keysyms_map_for_a_us_layout() {
        assert_eq!(keysym_to_evdev(u32::from(b'a')), Some(KeyMapping { code: 30, shift: false }));
        assert_eq!(keysym_to_evdev(u32::from(b'A')), Some(KeyMapping { code: 30, shift: true }));
        assert_eq!(keysym_to_evdev(u32::from(b'!')), Some(KeyMapping { code: 2, shift: true }));
        assert_eq!(keysym_to_evdev(u32::from(b'~')), Some(KeyMapping { code: 41, shift: true }));
        assert_eq!(keysym_to_evdev(u32::from(b' ')), Some(KeyMapping { code: 57, shift: false }));
        assert_eq!(keysym_to_evdev(0xff0d).map(|m| m.code), Some(28));
        assert_eq!(keysym_to_evdev(0xffbe).map(|m| m.code), Some(59)); // F1
        assert_eq!(keysym_to_evdev(0xffc7).map(|m| m.code), Some(68)); // F10
        assert_eq!(keysym_to_evdev(0xffc9).map(|m| m.code), Some(88)); // F12
        assert_eq!(keysym_to_evdev(0xffb5).map(|m| m.code), Some(76)); // KP_5 (KEY_KP5)
        assert_eq!(keysym_to_evdev(0xffb2).map(|m| m.code), Some(80)); // KP_2 (KEY_KP2)
        assert_eq!(keysym_to_evdev(0xffb9).map(|m| m.code), Some(73)); // KP_9
        assert_eq!(keysym_to_evdev(0x20ac), None); // EuroSign: not on a US layout
    }

    #[test]
    fn every_printable_ascii_character_is_typable() {
        for c in 0x20u8..0x7f {
            assert!(keysym_to_evdev(u32::from(c)).is_some(), "{:?}", char::from(c));
        }
    }
}
