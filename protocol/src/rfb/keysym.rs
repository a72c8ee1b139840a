//! The X11 keysyms RFB key events carry (RFC 6143 7.5.4; X11 `keysymdef.h`), as one
//! table that the client's keyboard and send-keys menu and the guest's uinput keymap
//! both name. Printable Latin-1 characters are their own code points (0x20..=0x7e).

/// BackSpace.
pub const BACKSPACE: u32 = 0xff08;
/// Tab.
pub const TAB: u32 = 0xff09;
/// Return.
pub const RETURN: u32 = 0xff0d;
/// Pause.
pub const PAUSE: u32 = 0xff13;
/// Scroll_Lock.
pub const SCROLL_LOCK: u32 = 0xff14;
/// Sys_Req (Alt+Print).
pub const SYS_REQ: u32 = 0xff15;
/// Escape.
pub const ESCAPE: u32 = 0xff1b;
/// Home.
pub const HOME: u32 = 0xff50;
/// Left.
pub const LEFT: u32 = 0xff51;
/// Up.
pub const UP: u32 = 0xff52;
/// Right.
pub const RIGHT: u32 = 0xff53;
/// Down.
pub const DOWN: u32 = 0xff54;
/// Prior (Page Up).
pub const PAGE_UP: u32 = 0xff55;
/// Next (Page Down).
pub const PAGE_DOWN: u32 = 0xff56;
/// End.
pub const END: u32 = 0xff57;
/// Print.
pub const PRINT: u32 = 0xff61;
/// Insert.
pub const INSERT: u32 = 0xff63;
/// Menu.
pub const MENU: u32 = 0xff67;
/// Num_Lock.
pub const NUM_LOCK: u32 = 0xff7f;
/// KP_Enter.
pub const KP_ENTER: u32 = 0xff8d;
/// KP_Multiply.
pub const KP_MULTIPLY: u32 = 0xffaa;
/// KP_Add.
pub const KP_ADD: u32 = 0xffab;
/// KP_Subtract.
pub const KP_SUBTRACT: u32 = 0xffad;
/// KP_Decimal.
pub const KP_DECIMAL: u32 = 0xffae;
/// KP_Divide.
pub const KP_DIVIDE: u32 = 0xffaf;
/// KP_0; KP_1..KP_9 follow.
pub const KP_0: u32 = 0xffb0;
/// F1; F2..F12 follow ([`f`]).
pub const F1: u32 = 0xffbe;
/// F11.
pub const F11: u32 = 0xffc8;
/// F12.
pub const F12: u32 = 0xffc9;
/// Shift_L.
pub const SHIFT_L: u32 = 0xffe1;
/// Shift_R.
pub const SHIFT_R: u32 = 0xffe2;
/// Control_L.
pub const CONTROL_L: u32 = 0xffe3;
/// Control_R.
pub const CONTROL_R: u32 = 0xffe4;
/// Caps_Lock.
pub const CAPS_LOCK: u32 = 0xffe5;
/// Meta_L.
pub const META_L: u32 = 0xffe7;
/// Meta_R.
pub const META_R: u32 = 0xffe8;
/// Alt_L.
pub const ALT_L: u32 = 0xffe9;
/// Alt_R.
pub const ALT_R: u32 = 0xffea;
/// Super_L.
pub const SUPER_L: u32 = 0xffeb;
/// Super_R.
pub const SUPER_R: u32 = 0xffec;
/// ISO_Level3_Shift (AltGr).
pub const ISO_LEVEL3_SHIFT: u32 = 0xfe03;
/// Delete.
pub const DELETE: u32 = 0xffff;

/// F`n` for `n` in 1..=12.
pub const fn f(n: u8) -> Option<u32> {
    if n >= 1 && n <= 12 { Some(F1 + n as u32 - 1) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_keys_run_from_f1_to_f12() {
        assert_eq!(f(1), Some(F1));
        assert_eq!(f(12), Some(F12));
        assert_eq!((f(0), f(13)), (None, None));
    }
}
