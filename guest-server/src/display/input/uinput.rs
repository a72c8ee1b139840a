//! The guest's virtual keyboard and absolute pointer, through /dev/uinput (which
//! exists only inside the guest: the host never sees these events).
//!
//! Keys pressed through a connection are released when the sink is dropped, so a
//! cut connection never leaves a key held down.

use std::collections::HashSet;
use std::sync::Mutex;

use evdev::uinput::VirtualDevice;
use evdev::{
    AbsInfo, AbsoluteAxisCode, AttributeSet, EventType, InputEvent, KeyCode, RelativeAxisCode, UinputAbsSetup,
};

use super::keymap::{KEY_LEFTSHIFT, keysym_to_evdev, qnum_to_evdev};
use crate::display::InputSink;

/// Range of the absolute pointer axes.
pub const ABS_MAX: i32 = 32767;
const BTN_LEFT: u16 = 0x110;
const BTN_RIGHT: u16 = 0x111;
const BTN_MIDDLE: u16 = 0x112;
const KEY_RIGHTSHIFT: u16 = 54;
/// Highest evdev key code offered by the keyboard (KEY_MAX is larger, but no
/// keyboard key we map goes past KEY_MICMUTE).
const KEY_LAST: u16 = 248;

#[derive(Debug)]
struct State {
    keyboard: VirtualDevice,
    pointer: VirtualDevice,
    pressed: HashSet<u16>,
    buttons: u8,
}

/// uinput keyboard + pointer.
#[derive(Debug)]
pub struct UinputSink {
    state: Mutex<State>,
}

fn key_event(code: u16, down: bool) -> InputEvent {
    InputEvent::new(EventType::KEY.0, code, i32::from(down))
}

impl UinputSink {
    /// Create the two virtual devices.
    pub fn new() -> std::io::Result<Self> {
        let mut keys = AttributeSet::<KeyCode>::new();
        for code in 1..=KEY_LAST {
            keys.insert(KeyCode::new(code));
        }
        let keyboard = VirtualDevice::builder()?.name("cvm-console keyboard").with_keys(&keys)?.build()?;
        let mut buttons = AttributeSet::<KeyCode>::new();
        for b in [BTN_LEFT, BTN_RIGHT, BTN_MIDDLE] {
            buttons.insert(KeyCode::new(b));
        }
        let axis = AbsInfo::new(0, 0, ABS_MAX, 0, 0, 0);
        let mut wheel = AttributeSet::<RelativeAxisCode>::new();
        wheel.insert(RelativeAxisCode::REL_WHEEL);
        let pointer = VirtualDevice::builder()?
            .name("cvm-console pointer")
            .with_keys(&buttons)?
            .with_absolute_axis(&UinputAbsSetup::new(AbsoluteAxisCode::ABS_X, axis))?
            .with_absolute_axis(&UinputAbsSetup::new(AbsoluteAxisCode::ABS_Y, axis))?
            .with_relative_axes(&wheel)?
            .build()?;
        Ok(Self { state: Mutex::new(State { keyboard, pointer, pressed: HashSet::new(), buttons: 0 }) })
    }

    fn with_state(&self, f: impl FnOnce(&mut State) -> std::io::Result<()>) {
        let Ok(mut state) = self.state.lock() else { return };
        if let Err(e) = f(&mut state) {
            tracing::warn!(error = %e, "uinput write failed");
        }
    }
}

/// Scale a position in a `size`-pixel screen to the absolute axis range.
pub fn scale(pos: u16, size: u16) -> i32 {
    if size <= 1 {
        return 0;
    }
    (i32::from(pos) * ABS_MAX / i32::from(size - 1)).clamp(0, ABS_MAX)
}

impl InputSink for UinputSink {
    fn key(&self, down: bool, keysym: u32, xt_keycode: Option<u32>) {
        let (code, needs_shift) = match xt_keycode.and_then(qnum_to_evdev) {
            Some(code) => (code, false),
            None => match keysym_to_evdev(keysym) {
                Some(m) => (m.code, m.shift),
                None => {
                    tracing::debug!(keysym = format!("{keysym:#x}"), "no key for this keysym on a US layout");
                    return;
                }
            },
        };
        self.with_state(|s| {
            let shift_held = s.pressed.contains(&KEY_LEFTSHIFT) || s.pressed.contains(&KEY_RIGHTSHIFT);
            let synth_shift = down && needs_shift && !shift_held;
            if synth_shift {
                s.keyboard.emit(&[key_event(KEY_LEFTSHIFT, true)])?;
            }
            s.keyboard.emit(&[key_event(code, down)])?;
            if synth_shift {
                s.keyboard.emit(&[key_event(KEY_LEFTSHIFT, false)])?;
            }
            if down {
                s.pressed.insert(code);
            } else {
                s.pressed.remove(&code);
            }
            Ok(())
        });
    }

    fn pointer(&self, buttons: u8, x: u16, y: u16, width: u16, height: u16) {
        self.with_state(|s| {
            let mut events = vec![
                InputEvent::new(EventType::ABSOLUTE.0, AbsoluteAxisCode::ABS_X.0, scale(x, width)),
                InputEvent::new(EventType::ABSOLUTE.0, AbsoluteAxisCode::ABS_Y.0, scale(y, height)),
            ];
            for (bit, code) in [(1u8, BTN_LEFT), (2, BTN_MIDDLE), (4, BTN_RIGHT)] {
                if (buttons ^ s.buttons) & bit != 0 {
                    events.push(key_event(code, buttons & bit != 0));
                }
            }
            // Wheel: RFB buttons 4 (up) and 5 (down) are pressed-and-released per notch.
            for (bit, delta) in [(8u8, 1), (16, -1)] {
                if buttons & bit != 0 && s.buttons & bit == 0 {
                    events.push(InputEvent::new(EventType::RELATIVE.0, RelativeAxisCode::REL_WHEEL.0, delta));
                }
            }
            s.buttons = buttons;
            s.pointer.emit(&events)
        });
    }
}

impl Drop for UinputSink {
    fn drop(&mut self) {
        if let Ok(s) = self.state.get_mut() {
            let held: Vec<u16> = s.pressed.drain().collect();
            for code in held {
                let _ = s.keyboard.emit(&[key_event(code, false)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_positions_scale_to_the_axis() {
        assert_eq!(scale(0, 1024), 0);
        assert_eq!(scale(1023, 1024), ABS_MAX);
        assert_eq!(scale(511, 1023), ABS_MAX / 2);
        assert_eq!(scale(5, 1), 0);
        assert_eq!(scale(5000, 1024), ABS_MAX);
    }
}
