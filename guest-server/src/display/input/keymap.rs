//! Key translation to Linux evdev key codes (linux/input-event-codes.h):
//!
//! - QEMU extended key events carry an XT "qnum" code (scancode set 1; keys with the
//!   0xE0 prefix have the high bit set, e.g. 0xE0 0x48 -> 0xC8). Layout-independent:
//!   preferred whenever a client sends it.
//! - Otherwise an X11 keysym (RFC 6143 7.5.4), mapped for a US layout; keysyms that
//!   need Shift on that layout say so, so the sink can press it when the client did not.

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

/// X11 keysym -> evdev for a US layout.
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
        0xff08 => plain(14),                                                     // BackSpace
        0xff09 => plain(15),                                                     // Tab
        0xff0d => plain(28),                                                     // Return
        0xff13 => plain(119),                                                    // Pause
        0xff14 => plain(70),                                                     // Scroll_Lock
        0xff15 => plain(KEY_SYSRQ),                                              // Sys_Req
        0xff1b => plain(1),                                                      // Escape
        0xff50 => plain(102),                                                    // Home
        0xff51 => plain(105),                                                    // Left
        0xff52 => plain(103),                                                    // Up
        0xff53 => plain(106),                                                    // Right
        0xff54 => plain(108),                                                    // Down
        0xff55 => plain(104),                                                    // Prior
        0xff56 => plain(109),                                                    // Next
        0xff57 => plain(107),                                                    // End
        0xff61 => plain(KEY_SYSRQ),                                              // Print
        0xff63 => plain(110),                                                    // Insert
        0xff67 => plain(127),                                                    // Menu
        0xff7f => plain(69),                                                     // Num_Lock
        0xff8d => plain(96),                                                     // KP_Enter
        0xffaa => plain(55),                                                     // KP_Multiply
        0xffab => plain(78),                                                     // KP_Add
        0xffad => plain(74),                                                     // KP_Subtract
        0xffae => plain(83),                                                     // KP_Decimal
        0xffaf => plain(98),                                                     // KP_Divide
        0xffb0 => plain(82),                                                     // KP_0
        0xffb1..=0xffb3 => plain(79 + u16::try_from(keysym - 0xffb1).ok()?),     // KP_1..3
        0xffb4..=0xffb6 => plain(75 + u16::try_from(keysym - 0xffb4).ok()?),     // KP_4..6
        0xffb7..=0xffb9 => plain(71 + u16::try_from(keysym - 0xffb7).ok()?),     // KP_7..9
        0xffbe..=0xffc7 => plain(KEY_F1 + u16::try_from(keysym - 0xffbe).ok()?), // F1..F10
        0xffc8 => plain(87),                                                     // F11
        0xffc9 => plain(88),                                                     // F12
        0xffe1 => plain(KEY_LEFTSHIFT),                                          // Shift_L
        0xffe2 => plain(54),                                                     // Shift_R
        0xffe3 => plain(KEY_LEFTCTRL),                                           // Control_L
        0xffe4 => plain(97),                                                     // Control_R
        0xffe5 => plain(58),                                                     // Caps_Lock
        0xffe7 | 0xffeb => plain(125),                                           // Meta_L, Super_L
        0xffe8 | 0xffec => plain(126),                                           // Meta_R, Super_R
        0xffe9 => plain(KEY_LEFTALT),                                            // Alt_L
        0xffea | 0xfe03 => plain(100),                                           // Alt_R, ISO_Level3_Shift (AltGr)
        0xffff => plain(KEY_DELETE),                                             // Delete
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
