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
    use cvmc_protocol::rfb::keysym as ks;
    Some(match key {
        Key::Enter => ks::RETURN,
        Key::Backspace => ks::BACKSPACE,
        Key::Tab => ks::TAB,
        Key::Escape => ks::ESCAPE,
        Key::ArrowLeft => ks::LEFT,
        Key::ArrowUp => ks::UP,
        Key::ArrowRight => ks::RIGHT,
        Key::ArrowDown => ks::DOWN,
        Key::Home => ks::HOME,
        Key::End => ks::END,
        Key::PageUp => ks::PAGE_UP,
        Key::PageDown => ks::PAGE_DOWN,
        Key::Insert => ks::INSERT,
        Key::Delete => ks::DELETE,
        Key::F1 => ks::F1,
        Key::F2 => ks::F1 + 1,
        Key::F3 => ks::F1 + 2,
        Key::F4 => ks::F1 + 3,
        Key::F5 => ks::F1 + 4,
        Key::F6 => ks::F1 + 5,
        Key::F7 => ks::F1 + 6,
        Key::F8 => ks::F1 + 7,
        Key::F9 => ks::F1 + 8,
        Key::F10 => ks::F1 + 9,
        Key::F11 => ks::F11,
        Key::F12 => ks::F12,
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
