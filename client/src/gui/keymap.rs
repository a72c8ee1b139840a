//! egui keyboard events as RFB key events (X11 keysyms) for a captured keyboard.
//! Text arrives as text (already shifted, any layout); keys without text, and keys
//! with Ctrl or Alt held, arrive as keys with their modifiers pressed around them.

use egui::{Event, Key, Modifiers};

use crate::gui::keysym::{ALT_L, CONTROL_L, SHIFT_L, char_keysym, press_with};

/// The chord that releases a captured keyboard.
pub const RELEASE_HINT: &str = "Ctrl+Alt+Home";

/// Whether `event` is the release chord.
pub fn is_release(event: &Event) -> bool {
    matches!(event, Event::Key { key: Key::Home, pressed: true, modifiers, .. } if modifiers.ctrl && modifiers.alt)
}

fn special(key: Key) -> Option<u32> {
    Some(match key {
        Key::Enter => 0xff0d,
        Key::Backspace => 0xff08,
        Key::Tab => 0xff09,
        Key::Escape => 0xff1b,
        Key::ArrowLeft => 0xff51,
        Key::ArrowUp => 0xff52,
        Key::ArrowRight => 0xff53,
        Key::ArrowDown => 0xff54,
        Key::Home => 0xff50,
        Key::End => 0xff57,
        Key::PageUp => 0xff55,
        Key::PageDown => 0xff56,
        Key::Insert => 0xff63,
        Key::Delete => 0xffff,
        Key::F1 => 0xffbe,
        Key::F2 => 0xffbf,
        Key::F3 => 0xffc0,
        Key::F4 => 0xffc1,
        Key::F5 => 0xffc2,
        Key::F6 => 0xffc3,
        Key::F7 => 0xffc4,
        Key::F8 => 0xffc5,
        Key::F9 => 0xffc6,
        Key::F10 => 0xffc7,
        Key::F11 => 0xffc8,
        Key::F12 => 0xffc9,
        _ => return None,
    })
}

fn held(modifiers: Modifiers, shift: bool) -> Vec<u32> {
    let mut m = Vec::new();
    if modifiers.ctrl || modifiers.command && !modifiers.mac_cmd {
        m.push(CONTROL_L);
    }
    if modifiers.alt {
        m.push(ALT_L);
    }
    if shift && modifiers.shift {
        m.push(SHIFT_L);
    }
    m
}

/// The key events (keysym, down) for one egui event.
pub fn key_events(event: &Event) -> Vec<(u32, bool)> {
    match event {
        Event::Text(text) => text.chars().flat_map(|c| press_with(&[], char_keysym(c))).collect(),
        Event::Key { key, pressed: true, modifiers, .. } => {
            if let Some(sym) = special(*key) {
                press_with(&held(*modifiers, true), sym)
            } else if modifiers.ctrl || modifiers.alt {
                // No text arrives with Ctrl or Alt: send the key's own character.
                let name = key.symbol_or_name();
                let mut chars = name.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => press_with(&held(*modifiers, false), char_keysym(c.to_ascii_lowercase())),
                    _ => Vec::new(),
                }
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}
