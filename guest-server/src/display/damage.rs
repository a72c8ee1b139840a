//! What changed between the frame a client holds and the current one: 64x64 tiles
//! compared pixel by pixel and merged into rectangles, and a vertical scroll of the
//! changed region (sent as CopyRect) when one explains enough of it.

use std::collections::HashMap;

use super::Frame;

/// Side of a comparison tile (DESIGN.md "Display and input").
pub(crate) const TILE: u16 = 64;
/// Fewest rows a scrolled band must have to be worth a CopyRect.
const MIN_SCROLL_ROWS: u16 = 32;
/// Rows of a scrolled band that must differ from what was there before.
const MIN_MOVED_ROWS: u16 = 8;
/// Rows of the changed region sampled to guess scroll offsets.
const SCROLL_SAMPLES: u16 = 16;
/// Old rows remembered per row hash; a hash seen more often (a flat row) says nothing.
const ROWS_PER_HASH: usize = 4;

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
    pub(crate) fn of(frame: &Frame) -> Self {
        Self::new(0, 0, frame.width, frame.height)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    fn right(&self) -> u32 {
        u32::from(self.x) + u32::from(self.w)
    }

    fn bottom(&self) -> u32 {
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

    fn cols(&self) -> std::ops::Range<usize> {
        usize::from(self.x)..usize::from(self.x) + usize::from(self.w)
    }
}

/// The 64x64 tiles (on the screen's grid, clipped to `area`) whose pixels differ
/// between `old` and `new`, merged: runs of tiles in a tile row become one rectangle,
/// and rectangles with the same columns in consecutive tile rows merge. Both frames
/// must have the same size.
pub(crate) fn changed_rects(old: &Frame, new: &Frame, area: Rect) -> Vec<Rect> {
    let area = area.intersect(&Rect::of(new)).intersect(&Rect::of(old));
    if area.is_empty() {
        return Vec::new();
    }
    let mut done: Vec<Rect> = Vec::new();
    let mut open: Vec<Rect> = Vec::new();
    let mut ty = area.y - area.y % TILE;
    while u32::from(ty) < area.bottom() {
        let row_band = Rect::new(area.x, ty, area.w, TILE).intersect(&area);
        let runs = dirty_runs(old, new, row_band);
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

/// Runs of changed tiles within one tile row `band`.
fn dirty_runs(old: &Frame, new: &Frame, band: Rect) -> Vec<Rect> {
    let first_tile = band.x / TILE;
    let tiles =
        usize::from((u16::try_from(band.right().saturating_sub(1)).unwrap_or(u16::MAX) / TILE) - first_tile) + 1;
    let mut dirty = vec![false; tiles];
    for y in band.y..band.y + band.h {
        let (o, n) = (old.row(y), new.row(y));
        for (i, d) in dirty.iter_mut().enumerate().filter(|(_, d)| !**d) {
            let tile = Rect::new((first_tile + u16::try_from(i).unwrap_or(0)) * TILE, y, TILE, 1).intersect(&band);
            *d = o[tile.cols()] != n[tile.cols()];
        }
    }
    let mut runs = Vec::new();
    let mut i = 0;
    while i < tiles {
        if !dirty[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < tiles && dirty[i] {
            i += 1;
        }
        let x0 = (first_tile + u16::try_from(start).unwrap_or(0)) * TILE;
        let w = u16::try_from(i - start).unwrap_or(0).saturating_mul(TILE);
        runs.push(Rect::new(x0, band.y, w, band.h).intersect(&band));
    }
    runs
}

/// A band of rows the client can copy from its own framebuffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scroll {
    /// Where the rows go.
    pub dest: Rect,
    /// The top row they come from (same columns).
    pub src_y: u16,
}

/// If the changed `region` (same columns) moved vertically between `old` and `new`,
/// the longest band of at least [`MIN_SCROLL_ROWS`] rows that `old` holds shifted.
pub(crate) fn detect_scroll(old: &Frame, new: &Frame, region: Rect) -> Option<Scroll> {
    if region.h < MIN_SCROLL_ROWS || old.width != new.width || old.height != new.height {
        return None;
    }
    let cols = region.cols();
    let mut by_hash: HashMap<u64, Vec<u16>> = HashMap::new();
    for y in 0..old.height {
        let rows = by_hash.entry(row_hash(&old.row(y)[cols.clone()])).or_default();
        if rows.len() <= ROWS_PER_HASH {
            rows.push(y);
        }
    }
    let mut votes: HashMap<i32, u32> = HashMap::new();
    let step = (region.h / SCROLL_SAMPLES).max(1);
    for y in (region.y..region.y + region.h).step_by(usize::from(step)) {
        let Some(rows) = by_hash.get(&row_hash(&new.row(y)[cols.clone()])) else { continue };
        if rows.len() > ROWS_PER_HASH {
            continue;
        }
        for &src in rows.iter().filter(|&&src| src != y) {
            *votes.entry(i32::from(src) - i32::from(y)).or_default() += 1;
        }
    }
    let mut candidates: Vec<(i32, u32)> = votes.into_iter().collect();
    candidates.sort_by_key(|&(dy, n)| (std::cmp::Reverse(n), dy.unsigned_abs()));
    candidates
        .into_iter()
        .take(3)
        .filter_map(|(dy, _)| longest_band(old, new, region, dy))
        .max_by_key(|s| s.dest.h)
        .filter(|s| s.dest.h >= MIN_SCROLL_ROWS)
}

/// The longest run of rows of `region` in `new` equal to the rows `dy` below in `old`.
/// Rows that also equal themselves in place (the blank gaps between lines of text)
/// may sit inside a run, but a run counts only when enough of it really moved: at
/// least [`MIN_MOVED_ROWS`] rows and a quarter of it.
fn longest_band(old: &Frame, new: &Frame, region: Rect, dy: i32) -> Option<Scroll> {
    let cols = region.cols();
    let (mut best, mut run_start, mut run_len, mut run_moved) = (None::<(u16, u16)>, 0u16, 0u16, 0u16);
    for y in region.y..region.y + region.h {
        let src = i32::from(y) + dy;
        let row = &new.row(y)[cols.clone()];
        let matches =
            u16::try_from(src).ok().filter(|&s| s < old.height).is_some_and(|s| row == &old.row(s)[cols.clone()]);
        if matches {
            if run_len == 0 {
                run_start = y;
                run_moved = 0;
            }
            run_len += 1;
            if row != &old.row(y)[cols.clone()] {
                run_moved += 1;
            }
            let counts = run_moved >= MIN_MOVED_ROWS && u32::from(run_moved) * 4 >= u32::from(run_len);
            if counts && best.is_none_or(|(_, len)| run_len > len) {
                best = Some((run_start, run_len));
            }
        } else {
            run_len = 0;
        }
    }
    let (y, h) = best?;
    let src_y = u16::try_from(i32::from(y) + dy).ok()?;
    Some(Scroll { dest: Rect::new(region.x, y, region.w, h), src_y })
}

fn row_hash(row: &[u32]) -> u64 {
    row.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &p| (h.rotate_left(5) ^ u64::from(p)).wrapping_mul(0x0100_0000_01b3))
}

/// `base` with `scroll` applied as the client applies a CopyRect.
pub(crate) fn apply_scroll(base: &Frame, scroll: Scroll) -> Frame {
    let mut out = base.clone();
    let w = usize::from(base.width);
    let cols = scroll.dest.cols();
    for i in 0..scroll.dest.h {
        let (src, dst) = (usize::from(scroll.src_y + i) * w, usize::from(scroll.dest.y + i) * w);
        out.pixels[dst + cols.start..dst + cols.end].copy_from_slice(&base.pixels[src + cols.start..src + cols.end]);
    }
    out
}

/// `base` with `area` taken from `new` (same size).
pub(crate) fn patch(base: &Frame, new: &Frame, area: Rect) -> Frame {
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
