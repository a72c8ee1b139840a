//! The guest's screen as RGBA pixels plus the rectangles changed since the view
//! last uploaded them (so the texture is updated per rectangle, not per frame). Only
//! pixels travel here; whether the screen connection is up is the state's business.

/// A rectangle in framebuffer pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: u16,
    /// Top row.
    pub y: u16,
    /// Width.
    pub w: u16,
    /// Height.
    pub h: u16,
}

/// What the screen connection reports.
#[derive(Debug, Clone)]
pub enum ScreenEvent {
    /// The desktop size (RFC 6143 7.3.2, DesktopSize); the picture restarts black.
    Resized {
        /// Width.
        w: u16,
        /// Height.
        h: u16,
    },
    /// New pixels for a rectangle, RGBA, row by row.
    Pixels(Rect, Vec<u8>),
    /// Copy a rectangle (CopyRect, RFC 6143 7.7.2): destination, source top-left.
    Copy(Rect, (u16, u16)),
}

/// Beyond this many pending rectangles the whole picture is uploaded instead.
const MAX_DIRTY: usize = 64;

/// The picture and what changed.
#[derive(Debug, Default)]
pub struct Framebuffer {
    /// Width and height.
    pub size: (u16, u16),
    /// RGBA, `size.0 * size.1 * 4` bytes.
    pub rgba: Vec<u8>,
    /// Changed rectangles since the last [`Framebuffer::take_dirty`].
    dirty: Vec<Rect>,
    /// The size changed: a new texture is needed.
    pub resized: bool,
}

impl Framebuffer {
    fn index(&self, x: usize, y: usize) -> usize {
        (y * usize::from(self.size.0) + x) * 4
    }

    /// Whether a rectangle lies inside the picture.
    fn fits(&self, r: Rect) -> bool {
        u32::from(r.x) + u32::from(r.w) <= u32::from(self.size.0)
            && u32::from(r.y) + u32::from(r.h) <= u32::from(self.size.1)
    }

    fn mark(&mut self, r: Rect) {
        if self.dirty.len() >= MAX_DIRTY {
            self.dirty.clear();
            self.resized = true;
        } else if !self.resized {
            self.dirty.push(r);
        }
    }

    /// Apply one event. Rectangles outside the picture are dropped (a peer's mistake is no panic).
    pub fn apply(&mut self, ev: ScreenEvent) {
        match ev {
            ScreenEvent::Resized { w, h } => {
                self.size = (w, h);
                self.rgba = [0, 0, 0, 255].repeat(usize::from(w) * usize::from(h));
                self.dirty.clear();
                self.resized = true;
            }
            ScreenEvent::Pixels(r, data) => {
                let row = usize::from(r.w) * 4;
                if !self.fits(r) || data.len() < row * usize::from(r.h) {
                    return;
                }
                for y in 0..usize::from(r.h) {
                    let at = self.index(usize::from(r.x), usize::from(r.y) + y);
                    self.rgba[at..at + row].copy_from_slice(&data[y * row..(y + 1) * row]);
                }
                self.mark(r);
            }
            ScreenEvent::Copy(dst, (sx, sy)) => {
                let src = Rect { x: sx, y: sy, ..dst };
                if !self.fits(dst) || !self.fits(src) {
                    return;
                }
                let row = usize::from(dst.w) * 4;
                let copy: Vec<u8> = (0..usize::from(dst.h))
                    .flat_map(|y| {
                        let at = self.index(usize::from(sx), usize::from(sy) + y);
                        self.rgba[at..at + row].to_vec()
                    })
                    .collect();
                for y in 0..usize::from(dst.h) {
                    let at = self.index(usize::from(dst.x), usize::from(dst.y) + y);
                    self.rgba[at..at + row].copy_from_slice(&copy[y * row..(y + 1) * row]);
                }
                self.mark(dst);
            }
        }
    }

    /// The rectangles changed since the last call, each with its RGBA pixels.
    /// After a resize (or too many rectangles) the caller gets `None` and uploads it all.
    pub fn take_dirty(&mut self) -> Option<Vec<(Rect, Vec<u8>)>> {
        if std::mem::take(&mut self.resized) {
            self.dirty.clear();
            return None;
        }
        let dirty = std::mem::take(&mut self.dirty);
        Some(
            dirty
                .into_iter()
                .map(|r| {
                    let row = usize::from(r.w) * 4;
                    let mut px = Vec::with_capacity(row * usize::from(r.h));
                    for y in 0..usize::from(r.h) {
                        let at = self.index(usize::from(r.x), usize::from(r.y) + y);
                        px.extend_from_slice(&self.rgba[at..at + row]);
                    }
                    (r, px)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_copy_and_dirty_rectangles() {
        let mut fb = Framebuffer::default();
        fb.apply(ScreenEvent::Resized { w: 4, h: 2 });
        assert!(fb.take_dirty().is_none(), "a resize uploads everything");
        let red = [255, 0, 0, 255].repeat(2);
        fb.apply(ScreenEvent::Pixels(Rect { x: 0, y: 0, w: 2, h: 1 }, red.clone()));
        fb.apply(ScreenEvent::Copy(Rect { x: 2, y: 1, w: 2, h: 1 }, (0, 0)));
        let dirty = fb.take_dirty().unwrap();
        assert_eq!(dirty.len(), 2);
        assert_eq!(dirty[1].1, red);
        assert_eq!(&fb.rgba[(4 + 2) * 4..(4 + 3) * 4], &[255, 0, 0, 255]);
        // Out of bounds is ignored, not a panic.
        fb.apply(ScreenEvent::Pixels(Rect { x: 3, y: 1, w: 2, h: 1 }, red));
        assert!(fb.take_dirty().unwrap().is_empty());
    }
}
