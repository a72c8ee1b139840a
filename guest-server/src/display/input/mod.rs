//! Input into the guest: a uinput keyboard and pointer, with the keysym and XT
//! key tables that feed them.

pub mod keymap;
pub mod uinput;
