//! A synthetic, animated screen for the demo, benchmarks and tests.
//!
//! Mostly static (colour bars, a grid, a window of text-like blocks, a photo-like
//! gradient with noise) plus a 24-bit frame counter and a small square moving along
//! the bottom band, so consecutive frames differ in a few 64x64 tiles only. ScreenImage `n`
//! is a pure function of the size and `n` ([`PatternSource::frame_at`]); `capture`
//! returns frames 0, 1, 2, ... in turn.

use super::{ScreenImage, ScreenSource, SourceError};

/// Side of the moving square.
const SQUARE: u32 = 24;
/// Pixels the square moves per frame.
const SPEED: u64 = 8;
/// Bits shown by the frame counter.
const COUNTER_BITS: u32 = 24;
/// Width of one counter cell (6 lit pixels and a 2-pixel gap).
const CELL: u32 = 8;
/// SMPTE-like colour bars.
const BARS: [u32; 8] = [0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000];

/// The synthetic screen; see the module docs.
#[derive(Debug, Clone)]
pub struct PatternSource {
    width: u16,
    height: u16,
    next: u64,
}

impl PatternSource {
    /// A `width` x `height` pattern whose first capture is frame 0.
    pub fn new(width: u16, height: u16) -> Self {
        Self { width, height, next: 0 }
    }

    /// Change the size (a mode change); the frame count goes on.
    pub fn set_size(&mut self, width: u16, height: u16) {
        self.width = width;
        self.height = height;
    }

    /// The current size.
    pub fn size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    /// ScreenImage `n` at the current size.
    pub fn frame_at(&self, n: u64) -> ScreenImage {
        let layout = Layout::new(self.width, self.height, n);
        let mut pixels = Vec::with_capacity(usize::from(self.width) * usize::from(self.height));
        for y in 0..u32::from(self.height) {
            pixels.extend((0..u32::from(self.width)).map(|x| layout.pixel(x, y)));
        }
        ScreenImage { width: self.width, height: self.height, pixels }
    }
}

impl ScreenSource for PatternSource {
    fn name(&self) -> String {
        format!("pattern {}x{}", self.width, self.height)
    }

    fn capture(&mut self) -> Result<ScreenImage, SourceError> {
        let frame = self.frame_at(self.next);
        self.next = self.next.wrapping_add(1);
        Ok(frame)
    }
}

/// Where everything is for one size and frame number.
struct Layout {
    w: u32,
    h: u32,
    n: u64,
    square: (u32, u32),
    counter: (u32, u32),
    /// Text window and photo region: x0, y0, x1, y1.
    window: (u32, u32, u32, u32),
    photo: (u32, u32, u32, u32),
}

impl Layout {
    fn new(width: u16, height: u16, n: u64) -> Self {
        let (w, h) = (u32::from(width), u32::from(height));
        let span = w.saturating_sub(SQUARE).max(1);
        // invariant: the remainder is below `span`, a u32.
        let sx = u32::try_from(n.wrapping_mul(SPEED) % u64::from(span)).unwrap_or(0);
        let body = (h / 4 + 32, h * 3 / 4);
        Self {
            w,
            h,
            n,
            square: (sx, h * 3 / 4 + 16),
            counter: (8, h / 4 + 8),
            window: (w / 16, body.0, w / 2, body.1),
            photo: (w / 2 + 16, body.0, w.saturating_sub(16), body.1),
        }
    }

    fn pixel(&self, x: u32, y: u32) -> u32 {
        let inside = |(x0, y0, x1, y1): (u32, u32, u32, u32)| (x0..x1).contains(&x) && (y0..y1).contains(&y);
        let (sx, sy) = self.square;
        if inside((sx, sy, sx + SQUARE, sy + SQUARE)) {
            return 0xff8800;
        }
        let (cx, cy) = self.counter;
        if inside((cx, cy, cx + CELL * COUNTER_BITS, cy + CELL)) {
            let cell = (x - cx) / CELL;
            if (x - cx) % CELL < CELL - 2 {
                let bit = COUNTER_BITS - 1 - cell;
                return if (self.n >> bit) & 1 == 1 { 0x00ff00 } else { 0x303030 };
            }
        }
        if y < self.h / 4 {
            return BARS[usize::try_from(x * 8 / self.w.max(1)).unwrap_or(0).min(7)];
        }
        if inside(self.window) {
            return text_pixel(x - self.window.0, y - self.window.1);
        }
        if inside(self.photo) {
            let (x0, y0, x1, y1) = self.photo;
            let r = (x - x0) * 255 / (x1 - x0).max(1);
            let g = (y - y0) * 255 / (y1 - y0).max(1);
            let b = 128 + (mix(x, y) & 0x1f);
            return (r << 16) | (g << 8) | b;
        }
        if x.is_multiple_of(32) || y.is_multiple_of(32) { 0x404850 } else { 0x202830 }
    }
}

/// Lines of "words": dark blocks of pseudo-random width on a light page.
fn text_pixel(x: u32, y: u32) -> u32 {
    const LINE: u32 = 14;
    const WORD_CELL: u32 = 48;
    let (line, within_line) = (y / LINE, y % LINE);
    let (cell, within_cell) = (x / WORD_CELL, x % WORD_CELL);
    let word = 8 + mix(line, cell) % 36;
    if (3..11).contains(&within_line) && within_cell < word { 0x202020 } else { 0xf0f0f0 }
}

/// A small integer hash, deterministic across runs.
fn mix(a: u32, b: u32) -> u32 {
    let mut h = a.wrapping_mul(0x9e37_79b9) ^ b.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^ (h >> 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_mostly_static() {
        let p = PatternSource::new(320, 240);
        let (a, b) = (p.frame_at(5), p.frame_at(6));
        assert_eq!(a, p.frame_at(5));
        assert_eq!(a.pixels.len(), 320 * 240);
        let changed = a.pixels.iter().zip(&b.pixels).filter(|(x, y)| x != y).count();
        assert!(changed > 0 && changed < 320 * 240 / 20, "{changed} pixels changed");
    }

    #[test]
    fn capture_advances_and_resizes() {
        let mut p = PatternSource::new(64, 48);
        assert_eq!(p.capture().unwrap(), p.frame_at(0));
        assert_eq!(p.capture().unwrap(), p.frame_at(1));
        p.set_size(100, 30);
        let f = p.capture().unwrap();
        assert_eq!((f.width, f.height, f.pixels.len()), (100, 30, 3000));
        assert_eq!(f, p.frame_at(2));
        // Tiny sizes do not panic.
        PatternSource::new(1, 1).frame_at(u64::MAX);
    }
}
