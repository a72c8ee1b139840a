//! X11 keysyms for RFB key events (RFC 6143 7.5.4) and the send-keys menu's
//! sequences: modifiers down, the key down and up, modifiers up in reverse.

pub use cvmc_protocol::rfb::keysym::{ALT_L, CONTROL_L, DELETE, F1, RETURN, SHIFT_L, SYS_REQ, TAB};

/// The magic SysRq keys the menu offers: key, what the kernel does, whether it needs a
/// confirmation (it ends processes or the guest without a clean shutdown).
pub const SYSRQ_KEYS: [(char, &str, bool); 6] = [
    ('s', "sync all filesystems", false),
    ('u', "remount filesystems read-only", false),
    ('b', "reboot at once, without syncing or unmounting", true),
    ('e', "send SIGTERM to every process but init", true),
    ('i', "send SIGKILL to every process but init", true),
    ('r', "take the keyboard out of raw mode", false),
];

/// A chord of the send-keys menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chord {
    /// Ctrl+Alt+Del.
    CtrlAltDel,
    /// Ctrl+Alt+F1..F12.
    CtrlAltF(u8),
    /// Alt+SysRq+key: the kernel's magic SysRq (one of [`SYSRQ_KEYS`]).
    SysRq(char),
}

impl Chord {
    /// All chords, in menu order.
    pub fn all() -> Vec<Self> {
        std::iter::once(Self::CtrlAltDel).chain((1..=12).map(Self::CtrlAltF)).collect()
    }

    /// The SysRq chords, in menu order.
    pub fn sysrq() -> Vec<Self> {
        SYSRQ_KEYS.iter().map(|(k, _, _)| Self::SysRq(*k)).collect()
    }

    /// The menu label.
    pub fn label(self) -> String {
        match self {
            Self::CtrlAltDel => "Ctrl+Alt+Del".into(),
            Self::CtrlAltF(n) => format!("Ctrl+Alt+F{n}"),
            Self::SysRq(k) => {
                let what = SYSRQ_KEYS.iter().find(|(c, _, _)| *c == k).map_or("", |(_, w, _)| w);
                format!("Alt+SysRq+{}: {what}", k.to_ascii_uppercase())
            }
        }
    }

    /// Whether the chord must be confirmed before it is sent.
    pub fn needs_confirmation(self) -> bool {
        match self {
            Self::SysRq(k) => SYSRQ_KEYS.iter().any(|(c, _, confirm)| *c == k && *confirm),
            _ => false,
        }
    }

    /// The key events, in order: (keysym, down).
    pub fn events(self) -> Vec<(u32, bool)> {
        match self {
            Self::CtrlAltDel => press_with(&[CONTROL_L, ALT_L], DELETE),
            Self::CtrlAltF(n) => press_with(&[CONTROL_L, ALT_L], F1 + u32::from(n.clamp(1, 12)) - 1),
            // Alt and SysRq held, the command key pressed (how a keyboard does it).
            Self::SysRq(k) => press_with(&[ALT_L, SYS_REQ], char_keysym(k.to_ascii_lowercase())),
        }
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

/// How many characters of a paste the confirmation shows.
pub const PASTE_PREVIEW: usize = 40;

/// A clipboard text as key events for typing into the guest: printable ASCII, newlines
/// (Return; CR LF counts once) and tabs. The guest's keyboard is a US layout, so
/// anything else is refused with its position rather than typed wrong.
pub fn paste_keys(text: &str) -> Result<Vec<(u32, bool)>, String> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut prev = '\0';
    for (i, c) in text.chars().enumerate() {
        let sym = match c {
            '\n' if prev == '\r' => None,
            '\r' | '\n' => Some(RETURN),
            '\t' => Some(TAB),
            ' '..='~' => Some(u32::from(c)),
            other => {
                return Err(format!(
                    "character {} ({other:?}, U+{:04X}) cannot be typed: only printable ASCII, tabs and newlines can \
                     (the guest keyboard is a US layout); nothing was sent",
                    i + 1,
                    u32::from(other)
                ));
            }
        };
        prev = c;
        if let Some(sym) = sym {
            out.extend(press_with(&[], sym));
        }
    }
    Ok(out)
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

    #[test]
    fn sysrq_holds_alt_and_sysrq_around_the_key() {
        assert_eq!(
            Chord::SysRq('s').events(),
            vec![(ALT_L, true), (SYS_REQ, true), (0x73, true), (0x73, false), (SYS_REQ, false), (ALT_L, false)]
        );
        assert!(Chord::SysRq('b').needs_confirmation() && !Chord::SysRq('s').needs_confirmation());
        assert!(!Chord::CtrlAltDel.needs_confirmation());
        assert_eq!(Chord::sysrq().len(), 6);
        assert!(Chord::SysRq('b').label().starts_with("Alt+SysRq+B: reboot"));
    }

    #[test]
    fn paste_types_ascii_and_refuses_the_rest() {
        let keys = paste_keys("a B\r\n\t").unwrap();
        let downs: Vec<u32> = keys.iter().filter(|(_, d)| *d).map(|(k, _)| *k).collect();
        assert_eq!(downs, vec![0x61, 0x20, 0x42, RETURN, TAB]);
        assert_eq!(keys.len(), 10);
        let e = paste_keys("ok é").unwrap_err();
        assert!(e.contains("character 4") && e.contains("U+00E9") && e.contains("nothing was sent"), "{e}");
    }
}
