//! What changed between the frame a client holds and the current one: 64x64 tiles
//! compared pixel by pixel, each run of changed tiles cropped to the rows and 8-pixel
//! columns that really differ, and merged into rectangles. (A vertical scroll of the
//! changed region is found by `scroll`.)

use std::ops::Range;

use super::ScreenImage;

/// Side of a comparison tile (docs/DESIGN.md "Display and input").
pub(crate) const TILE: u16 = 64;
/// Changed columns are widened to multiples of this many pixels: narrower rectangles
/// save fewer bytes than their headers cost.
const COLUMN_GRAIN: u16 = 8;

/// A rectangle in framebuffer coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub(crate) fn new(x: u16, y: u16, w: u16, h: u16) -> Self {
        Self { x, y, w, h }
    }

    /// The whole of a frame.
    pub(crate) fn of(frame: &ScreenImage) -> Self {
        Self::new(0, 0, frame.width, frame.height)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    pub(crate) fn right(&self) -> u32 {
        u32::from(self.x) + u32::from(self.w)
    }

    pub(crate) fn bottom(&self) -> u32 {
        u32::from(self.y) + u32::from(self.h)
    }

    /// The overlap of two rectangles, empty if none.
    pub(crate) fn intersect(&self, other: &Rect) -> Rect {
        let (x0, y0) = (self.x.max(other.x), self.y.max(other.y));
        let (x1, y1) = (self.right().min(other.right()), self.bottom().min(other.bottom()));
        let span = |from: u16, to: u32| u16::try_from(to.saturating_sub(u32::from(from))).unwrap_or(0);
        Rect::new(x0, y0, span(x0, x1), span(y0, y1))
    }

    /// The smallest rectangle holding both (an empty one is ignored).
    pub(crate) fn union(&self, other: &Rect) -> Rect {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        let (x0, y0) = (self.x.min(other.x), self.y.min(other.y));
        let (x1, y1) = (self.right().max(other.right()), self.bottom().max(other.bottom()));
        let span = |from: u16, to: u32| u16::try_from(to - u32::from(from)).unwrap_or(u16::MAX);
        Rect::new(x0, y0, span(x0, x1), span(y0, y1))
    }

    pub(crate) fn pixels(&self) -> usize {
        usize::from(self.w) * usize::from(self.h)
    }

    pub(crate) fn cols(&self) -> std::ops::Range<usize> {
        usize::from(self.x)..usize::from(self.x) + usize::from(self.w)
    }
}

/// What differs between `old` and `new` within `area`: the 64x64 tiles (on the
/// screen's grid) with a changed pixel, each run of them in a tile row cropped to the
/// changed rows and [`COLUMN_GRAIN`]-pixel columns, and rectangles with the same
/// columns in consecutive rows merged. Both frames must have the same size.
pub(crate) fn changed_rects(old: &ScreenImage, new: &ScreenImage, area: Rect) -> Vec<Rect> {
    changed_rects_outside(old, new, area, &[])
}

/// Like [`changed_rects`], with the rows in `clean` taken as unchanged without
/// looking (rows a CopyRect has just made equal).
pub(crate) fn changed_rects_outside(
    old: &ScreenImage,
    new: &ScreenImage,
    area: Rect,
    clean: &[Range<u16>],
) -> Vec<Rect> {
    let area = area.intersect(&Rect::of(new)).intersect(&Rect::of(old));
    if area.is_empty() {
        return Vec::new();
    }
    let mut done: Vec<Rect> = Vec::new();
    let mut open: Vec<Rect> = Vec::new();
    let mut ty = area.y - area.y % TILE;
    while u32::from(ty) < area.bottom() {
        let row_band = Rect::new(area.x, ty, area.w, TILE).intersect(&area);
        let runs = dirty_runs(old, new, row_band, clean);
        let mut next_open = Vec::with_capacity(runs.len());
        for run in runs {
            match open.iter().position(|o| o.x == run.x && o.w == run.w && o.bottom() == u32::from(run.y)) {
                Some(i) => {
                    let mut grown = open.swap_remove(i);
                    grown.h += run.h;
                    next_open.push(grown);
                }
                None => next_open.push(run),
            }
        }
        done.append(&mut open);
        open = next_open;
        ty = match ty.checked_add(TILE) {
            Some(next) => next,
            None => break,
        };
    }
    done.append(&mut open);
    done.sort_by_key(|r| (r.y, r.x));
    done
}

/// The changed rows and columns of one tile: first and last, inclusive.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    rows: (u16, u16),
    cols: (usize, usize),
}

/// Runs of changed tiles within one tile row `band`, each cropped to what changed.
fn dirty_runs(old: &ScreenImage, new: &ScreenImage, band: Rect, clean: &[Range<u16>]) -> Vec<Rect> {
    let first_tile = band.x / TILE;
    let tiles =
        usize::from((u16::try_from(band.right().saturating_sub(1)).unwrap_or(u16::MAX) / TILE) - first_tile) + 1;
    // Column range of tile i within a row slice.
    let tile_cols = |i: usize| {
        let x0 = (usize::from(first_tile) + i) * usize::from(TILE);
        x0.max(usize::from(band.x))..(x0 + usize::from(TILE)).min(band.right() as usize)
    };
    let mut bounds: Vec<Option<Bounds>> = vec![None; tiles];
    let span = band.cols();
    for y in (band.y..band.y + band.h).filter(|y| !clean.iter().any(|r| r.contains(y))) {
        let (o, n) = (old.row(y), new.row(y));
        // Most rows of most updates are unchanged: one comparison for all the tiles.
        if o[span.clone()] == n[span.clone()] {
            continue;
        }
        for (i, b) in bounds.iter_mut().enumerate() {
            let cols = tile_cols(i);
            let (o, n) = (&o[cols.clone()], &n[cols.clone()]);
            if o == n {
                continue;
            }
            // Only look for the changed columns where they could widen what is known.
            let known = b.map_or((usize::MAX, 0), |b| b.cols);
            let whole = (cols.start, cols.end - 1);
            let (first, last) = if known.0 == whole.0 && known.1 == whole.1 {
                known
            } else {
                let first = o.iter().zip(n).position(|(a, b)| a != b).unwrap_or(0);
                let last = o.iter().zip(n).rposition(|(a, b)| a != b).unwrap_or(first);
                (cols.start + first, cols.start + last)
            };
            *b = Some(match *b {
                None => Bounds { rows: (y, y), cols: (first, last) },
                Some(b) => Bounds { rows: (b.rows.0, y), cols: (b.cols.0.min(first), b.cols.1.max(last)) },
            });
        }
    }
    let mut runs = Vec::new();
    let mut i = 0;
    while i < tiles {
        let Some(mut run) = bounds[i] else {
            i += 1;
            continue;
        };
        i += 1;
        while let Some(Some(b)) = bounds.get(i) {
            run.rows = (run.rows.0.min(b.rows.0), run.rows.1.max(b.rows.1));
            run.cols = (run.cols.0.min(b.cols.0), run.cols.1.max(b.cols.1));
            i += 1;
        }
        let grain = usize::from(COLUMN_GRAIN);
        let x0 = u16::try_from(run.cols.0 / grain * grain).unwrap_or(band.x);
        let x1 = u16::try_from((run.cols.1 + 1).div_ceil(grain) * grain).unwrap_or(u16::MAX);
        let cropped = Rect::new(x0, run.rows.0, x1.saturating_sub(x0), run.rows.1 - run.rows.0 + 1);
        runs.push(cropped.intersect(&band));
    }
    runs
}

/// The smallest rectangle of `area` that holds every pixel differing between the two
/// frames, its columns widened to [`COLUMN_GRAIN`] within `area` as
/// [`changed_rects`] widens its rectangles (so `changed_rects` over it equals
/// `changed_rects` over `area`); empty if nothing differs. One pass: whole rows
/// compared, and in a row that differs only the columns outside the bounds found so
/// far are scanned, from each end.
pub(crate) fn changed_bounds(old: &ScreenImage, new: &ScreenImage, area: Rect) -> Rect {
    let area = area.intersect(&Rect::of(new)).intersect(&Rect::of(old));
    if area.is_empty() {
        return Rect::new(0, 0, 0, 0);
    }
    let cols = area.cols();
    // Rows and columns (within the area's columns) that differ, once one does.
    let mut found: Option<((u16, u16), (usize, usize))> = None;
    for y in area.y..area.y + area.h {
        let (o, n) = (&old.row(y)[cols.clone()], &new.row(y)[cols.clone()]);
        if o == n {
            continue;
        }
        let (left, right) = found.map_or((o.len(), 0), |(_, c)| c);
        // A difference left of the known columns, or the first one in the row; the
        // last one right of them. Most rows have none there: one memcmp each side.
        let first =
            if o[..left] == n[..left] { left } else { o.iter().zip(n).position(|(a, b)| a != b).unwrap_or(left) };
        let last =
            if o[right..] == n[right..] { right } else { o.iter().zip(n).rposition(|(a, b)| a != b).unwrap_or(right) };
        found = Some(match found {
            None => ((y, y), (first, last)),
            Some(((top, _), (l, r))) => ((top, y), (l.min(first), r.max(last))),
        });
    }
    let Some(((top, bottom), (left, right))) = found else {
        return Rect::new(0, 0, 0, 0);
    };
    let grain = usize::from(COLUMN_GRAIN);
    let x0 = (cols.start + left) / grain * grain;
    let x1 = (cols.start + right + 1).div_ceil(grain) * grain;
    let (x0, x1) = (u16::try_from(x0).unwrap_or(area.x), u16::try_from(x1).unwrap_or(u16::MAX));
    Rect::new(x0, top, x1.saturating_sub(x0), bottom - top + 1).intersect(&area)
}

/// `base` with `area` taken from `new` (same size).
pub(crate) fn patch(base: &ScreenImage, new: &ScreenImage, area: Rect) -> ScreenImage {
    let mut out = base.clone();
    let w = usize::from(base.width);
    let cols = area.cols();
    for y in area.y..area.y + area.h {
        let row = usize::from(y) * w;
        out.pixels[row + cols.start..row + cols.end].copy_from_slice(&new.row(y)[cols.clone()]);
    }
    out
}

#[cfg(test)]
#[path = "damage_tests.rs"]
mod tests;
