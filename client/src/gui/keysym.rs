//! X11 keysyms for RFB key events (RFC 6143 7.5.4) and the send-keys menu's
//! sequences: modifiers down, the key down and up, modifiers up in reverse.

/// Control_L.
pub const CONTROL_L: u32 = 0xffe3;
/// Alt_L.
pub const ALT_L: u32 = 0xffe9;
/// Shift_L.
pub const SHIFT_L: u32 = 0xffe1;
/// Delete.
pub const DELETE: u32 = 0xffff;
/// F1 (F2..F12 follow).
pub const F1: u32 = 0xffbe;
/// Sys_Req (Alt+Print).
pub const SYS_REQ: u32 = 0xff15;
/// Return.
pub const RETURN: u32 = 0xff0d;

/// A chord of the send-keys menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chord {
    /// Ctrl+Alt+Del.
    CtrlAltDel,
    /// Ctrl+Alt+F1..F12.
    CtrlAltF(u8),
}

impl Chord {
    /// All chords, in menu order.
    pub fn all() -> Vec<Self> {
        std::iter::once(Self::CtrlAltDel).chain((1..=12).map(Self::CtrlAltF)).collect()
    }

    /// The menu label.
    pub fn label(self) -> String {
        match self {
            Self::CtrlAltDel => "Ctrl+Alt+Del".into(),
            Self::CtrlAltF(n) => format!("Ctrl+Alt+F{n}"),
        }
    }

    /// The key events, in order: (keysym, down).
    pub fn events(self) -> Vec<(u32, bool)> {
        let key = match self {
            Self::CtrlAltDel => DELETE,
            Self::CtrlAltF(n) => F1 + u32::from(n.clamp(1, 12)) - 1,
        };
        press_with(&[CONTROL_L, ALT_L], key)
    }
}

/// `modifiers` down in order, `key` down and up, `modifiers` up in reverse.
pub fn press_with(modifiers: &[u32], key: u32) -> Vec<(u32, bool)> {
    let mut out: Vec<(u32, bool)> = modifiers.iter().map(|m| (*m, true)).collect();
    out.push((key, true));
    out.push((key, false));
    out.extend(modifiers.iter().rev().map(|m| (*m, false)));
    out
}

/// The keysym of a typed character: Latin-1 maps to itself, the rest to the
/// Unicode keysym range (0x0100_0000 + code point).
pub fn char_keysym(c: char) -> u32 {
    match u32::from(c) {
        0x0a | 0x0d => RETURN,
        cp @ 0x20..=0x7e | cp @ 0xa0..=0xff => cp,
        cp => 0x0100_0000 + cp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_alt_del_and_f_keys() {
        assert_eq!(
            Chord::CtrlAltDel.events(),
            vec![(0xffe3, true), (0xffe9, true), (0xffff, true), (0xffff, false), (0xffe9, false), (0xffe3, false)]
        );
        assert_eq!(Chord::CtrlAltF(1).events()[2], (0xffbe, true));
        assert_eq!(Chord::CtrlAltF(12).events()[2], (0xffc9, true));
        assert_eq!(Chord::all().len(), 13);
        assert_eq!(char_keysym('a'), 0x61);
        assert_eq!(char_keysym('é'), 0xe9);
        assert_eq!(char_keysym('€'), 0x0100_20ac);
    }
}
