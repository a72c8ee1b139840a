//! egui keys to the bytes an xterm-compatible terminal sends.
//!
//! Printable keys without Ctrl/Alt return None: egui delivers their text as `Event::Text`.

use egui::{Key, Modifiers};

const ESC: u8 = 0x1b;

/// The bytes for `key` with `modifiers`; `app_cursor` is DECCKM (application cursor keys).
pub fn key_to_bytes(key: Key, modifiers: Modifiers, app_cursor: bool) -> Option<Vec<u8>> {
    // xterm's modifier parameter: 1 + shift + 2*alt + 4*ctrl.
    let param = 1 + u8::from(modifiers.shift) + 2 * u8::from(modifiers.alt) + 4 * u8::from(modifiers.ctrl);
    if let Some(final_byte) = cursor_final(key) {
        return Some(if param > 1 {
            format!("\x1b[1;{param}{}", char::from(final_byte)).into_bytes()
        } else if app_cursor {
            vec![ESC, b'O', final_byte]
        } else {
            vec![ESC, b'[', final_byte]
        });
    }
    if let Some(code) = tilde_code(key) {
        return Some(if param > 1 { format!("\x1b[{code};{param}~") } else { format!("\x1b[{code}~") }.into_bytes());
    }
    if let Some(final_byte) = ss3_function(key) {
        return Some(if param > 1 {
            format!("\x1b[1;{param}{}", char::from(final_byte)).into_bytes()
        } else {
            vec![ESC, b'O', final_byte]
        });
    }
    let base: Vec<u8> = match key {
        Key::Tab if modifiers.shift => return Some(b"\x1b[Z".to_vec()),
        Key::Tab => vec![b'\t'],
        Key::Enter => vec![b'\r'],
        Key::Backspace if modifiers.ctrl => vec![0x08],
        Key::Backspace => vec![0x7f],
        Key::Escape => vec![ESC],
        Key::Space if modifiers.ctrl => vec![0],
        Key::Space if modifiers.alt => vec![b' '],
        _ => {
            let ch = printable(key)?;
            if modifiers.ctrl {
                vec![control_byte(ch)?]
            } else if modifiers.alt {
                let ch = if modifiers.shift { ch.to_ascii_uppercase() } else { ch };
                vec![u8::try_from(ch).ok()?]
            } else {
                return None;
            }
        }
    };
    Some(if modifiers.alt { [&[ESC][..], &base].concat() } else { base })
}

/// Final byte of the arrow / Home / End sequences (`CSI x` or `SS3 x`).
fn cursor_final(key: Key) -> Option<u8> {
    Some(match key {
        Key::ArrowUp => b'A',
        Key::ArrowDown => b'B',
        Key::ArrowRight => b'C',
        Key::ArrowLeft => b'D',
        Key::Home => b'H',
        Key::End => b'F',
        _ => return None,
    })
}

/// F1..F4 are `SS3 P..S`.
fn ss3_function(key: Key) -> Option<u8> {
    Some(match key {
        Key::F1 => b'P',
        Key::F2 => b'Q',
        Key::F3 => b'R',
        Key::F4 => b'S',
        _ => return None,
    })
}

/// Keys sent as `CSI code ~`.
fn tilde_code(key: Key) -> Option<u8> {
    Some(match key {
        Key::Insert => 2,
        Key::Delete => 3,
        Key::PageUp => 5,
        Key::PageDown => 6,
        Key::F5 => 15,
        Key::F6 => 17,
        Key::F7 => 18,
        Key::F8 => 19,
        Key::F9 => 20,
        Key::F10 => 21,
        Key::F11 => 23,
        Key::F12 => 24,
        _ => return None,
    })
}

/// Lower-case letter, digit or punctuation of a key (egui names letters "A".."Z").
fn printable(key: Key) -> Option<char> {
    let mut chars = key.symbol_or_name().chars();
    let ch = chars.next()?;
    (chars.next().is_none() && ch.is_ascii_graphic()).then(|| ch.to_ascii_lowercase())
}

/// Ctrl+letter is 0x01..0x1a; Ctrl+[ \ ] are ESC, FS, GS.
fn control_byte(ch: char) -> Option<u8> {
    match ch {
        'a'..='z' => u8::try_from(ch).ok().map(|b| b - b'a' + 1),
        '[' => Some(ESC),
        '\\' => Some(0x1c),
        ']' => Some(0x1d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes() {
        assert_eq!(control_byte('a'), Some(1));
        assert_eq!(control_byte('z'), Some(0x1a));
        assert_eq!(control_byte('1'), None);
        assert_eq!(printable(Key::A), Some('a'));
        assert_eq!(printable(Key::Num5), Some('5'));
        assert_eq!(printable(Key::ArrowUp), None);
    }
}
