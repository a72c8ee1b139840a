//! The built-in colour palette (xterm's 256 colours plus default foreground/background).

use alacritty_terminal::vte::ansi::NamedColor;

/// The 16 ANSI colours (xterm defaults, slightly softened blue for dark backgrounds).
const ANSI: [(u8, u8, u8); 16] = [
    (0x00, 0x00, 0x00),
    (0xcd, 0x00, 0x00),
    (0x00, 0xcd, 0x00),
    (0xcd, 0xcd, 0x00),
    (0x3b, 0x78, 0xff),
    (0xcd, 0x00, 0xcd),
    (0x00, 0xcd, 0xcd),
    (0xe5, 0xe5, 0xe5),
    (0x7f, 0x7f, 0x7f),
    (0xff, 0x00, 0x00),
    (0x00, 0xff, 0x00),
    (0xff, 0xff, 0x00),
    (0x5c, 0x5c, 0xff),
    (0xff, 0x00, 0xff),
    (0x00, 0xff, 0xff),
    (0xff, 0xff, 0xff),
];

pub(crate) const DEFAULT_FG: (u8, u8, u8) = (0xd8, 0xd8, 0xd8);
pub(crate) const DEFAULT_BG: (u8, u8, u8) = (0x1a, 0x1a, 0x1a);

/// RGB of palette entry `index`: 0..256 indexed colours, then alacritty's named slots.
pub(crate) fn default_rgb(index: usize) -> (u8, u8, u8) {
    const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match index {
        0..16 => ANSI[index],
        16..232 => {
            let i = index - 16;
            (CUBE[i / 36], CUBE[(i / 6) % 6], CUBE[i % 6])
        }
        232..256 => {
            let v = u8::try_from(8 + (index - 232) * 10).unwrap_or(u8::MAX);
            (v, v, v)
        }
        i if i == NamedColor::Background as usize => DEFAULT_BG,
        _ => DEFAULT_FG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_entries() {
        assert_eq!(default_rgb(1), (0xcd, 0, 0));
        assert_eq!(default_rgb(16), (0, 0, 0));
        assert_eq!(default_rgb(196), (255, 0, 0));
        assert_eq!(default_rgb(231), (255, 255, 255));
        assert_eq!(default_rgb(232), (8, 8, 8));
        assert_eq!(default_rgb(255), (238, 238, 238));
        assert_eq!(default_rgb(NamedColor::Foreground as usize), DEFAULT_FG);
        assert_eq!(default_rgb(NamedColor::Background as usize), DEFAULT_BG);
    }
}
