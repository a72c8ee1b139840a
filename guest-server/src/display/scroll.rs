//! Vertical scrolls of the changed region, sent as CopyRects (RFC 6143 7.7.2) so the
//! client moves what it already holds instead of receiving it again.
//!
//! One shift `dy` is found by row hashes (every row of the region in the new frame
//! votes for the old rows with its hash); then every band of rows that `old` holds
//! shifted by `dy` is taken, not only the longest: static content drawn over a scroll
//! (the pointer, a status line) splits it into several bands. Bands are checked
//! pixel for pixel, and ordered so that applying them one after another, as the
//! client does, equals applying them all to the old frame at once.

use std::borrow::Cow;
use std::collections::HashMap;

use super::ScreenImage;
use super::damage::Rect;

/// Fewest rows, all bands together, worth CopyRects.
const MIN_SCROLL_ROWS: u16 = 32;
/// Fewest rows of one band (a CopyRect costs 16 bytes and a rectangle split).
const MIN_BAND_ROWS: u16 = 16;
/// Rows of a band that must differ from what was there before.
const MIN_MOVED_ROWS: u16 = 8;
/// Old rows remembered per row hash; a hash seen more often (a flat row) says nothing.
const ROWS_PER_HASH: usize = 4;
/// Shifts (by votes) whose bands are measured before one is chosen.
const CANDIDATES: usize = 3;

/// A band of rows the client can copy from its own framebuffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scroll {
    /// Where the rows go.
    pub dest: Rect,
    /// The top row they come from (same columns).
    pub src_y: u16,
}

/// If the changed `region` (same columns) moved vertically between `old` and `new`:
/// the bands of rows, one shift for all, in the order the client must apply them.
/// Empty when no shift explains at least [`MIN_SCROLL_ROWS`] rows.
///
/// `known`: row hashes of `old` from the previous detection, used if they cover the
/// same columns. Returns with the scrolls the row hashes of `new` over the region's
/// columns, for the next detection; they hold for `new` only if every change between
/// the two frames lies within `region` (the caller keeps them only then).
pub(crate) fn detect_scroll(
    old: &ScreenImage,
    new: &ScreenImage,
    region: Rect,
    known: Option<&RowHashes>,
) -> (Vec<Scroll>, Option<RowHashes>) {
    if region.h < MIN_SCROLL_ROWS || old.width != new.width || old.height != new.height || region.is_empty() {
        return (Vec::new(), None);
    }
    let cols = region.cols();
    let old_hash: Cow<'_, [u64]> = match known {
        Some(k) if k.cols == cols && k.hashes.len() == usize::from(old.height) => Cow::Borrowed(&k.hashes),
        _ => Cow::Owned((0..old.height).map(|y| row_hash(&old.row(y)[cols.clone()])).collect()),
    };
    let new_hash: Vec<u64> = (region.y..region.y + region.h).map(|y| row_hash(&new.row(y)[cols.clone()])).collect();
    // The rows outside the region did not change.
    let mut next = old_hash.to_vec();
    next[usize::from(region.y)..usize::from(region.y) + new_hash.len()].copy_from_slice(&new_hash);
    let next = Some(RowHashes { cols: cols.clone(), hashes: next });
    let scrolls = find_bands(old, new, region, &old_hash, &new_hash);
    (scrolls, next)
}

/// Row hashes of a frame over some columns (see [`detect_scroll`]).
#[derive(Debug, Clone)]
pub(crate) struct RowHashes {
    cols: std::ops::Range<usize>,
    hashes: Vec<u64>,
}

/// The scroll bands of `region`, given the row hashes of all of `old` and of the
/// region's rows of `new`.
fn find_bands(old: &ScreenImage, new: &ScreenImage, region: Rect, old_hash: &[u64], new_hash: &[u64]) -> Vec<Scroll> {
    let cols = region.cols();
    let mut by_hash: HashMap<u64, Vec<u16>> = HashMap::with_capacity(old_hash.len());
    for (y, &h) in (0u16..).zip(old_hash) {
        let rows = by_hash.entry(h).or_default();
        if rows.len() <= ROWS_PER_HASH {
            rows.push(y);
        }
    }
    let mut votes: HashMap<i32, u32> = HashMap::new();
    for (y, h) in (region.y..).zip(new_hash) {
        let Some(rows) = by_hash.get(h).filter(|rows| rows.len() <= ROWS_PER_HASH) else { continue };
        for &src in rows.iter().filter(|&&src| src != y) {
            *votes.entry(i32::from(src) - i32::from(y)).or_default() += 1;
        }
    }
    let mut candidates: Vec<(i32, u32)> = votes.into_iter().collect();
    candidates.sort_by_key(|&(dy, n)| (std::cmp::Reverse(n), dy.unsigned_abs()));
    // Rank the candidates by hashes, then check the winner pixel for pixel.
    let by_hashes = |dy: i32| {
        bands(
            region,
            dy,
            old.height,
            |y, src| new_hash[usize::from(y - region.y)] == old_hash[usize::from(src)],
            |y| new_hash[usize::from(y - region.y)] != old_hash[usize::from(y)],
        )
    };
    let Some(dy) = candidates
        .into_iter()
        .take(CANDIDATES)
        .map(|(dy, _)| (dy, total_rows(&by_hashes(dy))))
        .filter(|&(_, rows)| rows >= u32::from(MIN_SCROLL_ROWS))
        .max_by_key(|&(dy, rows)| (rows, std::cmp::Reverse(dy.unsigned_abs())))
        .map(|(dy, _)| dy)
    else {
        return Vec::new();
    };
    let exact = bands(
        region,
        dy,
        old.height,
        |y, src| new.row(y)[cols.clone()] == old.row(src)[cols.clone()],
        |y| new.row(y)[cols.clone()] != old.row(y)[cols.clone()],
    );
    if total_rows(&exact) < u32::from(MIN_SCROLL_ROWS) {
        return Vec::new();
    }
    let mut scrolls: Vec<Scroll> = exact
        .into_iter()
        .filter_map(|(y, h)| {
            let src_y = u16::try_from(i32::from(y) + dy).ok()?;
            Some(Scroll { dest: Rect::new(region.x, y, region.w, h), src_y })
        })
        .collect();
    // Content moving up (sources below): top band first, so no band overwrites rows a
    // later one copies from; moving down, bottom first.
    if dy < 0 {
        scrolls.reverse();
    }
    scrolls
}

fn total_rows(bands: &[(u16, u16)]) -> u32 {
    bands.iter().map(|&(_, h)| u32::from(h)).sum()
}

/// The runs of rows `y` of `region` where `matches(y, y + dy)` (the new row equals the
/// old row `dy` below), top to bottom, as (first row, rows). Rows that also equal
/// themselves in place (the blank gaps between lines of text) may sit inside a run,
/// but a run counts only as far as enough of it really `moved`: at least
/// [`MIN_MOVED_ROWS`] rows and a quarter of it; and only if [`MIN_BAND_ROWS`] long.
fn bands(
    region: Rect,
    dy: i32,
    height: u16,
    matches: impl Fn(u16, u16) -> bool,
    moved: impl Fn(u16) -> bool,
) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let (mut start, mut len, mut moved_rows, mut good) = (0u16, 0u16, 0u16, 0u16);
    let mut close = |start: u16, good: u16| {
        if good >= MIN_BAND_ROWS {
            out.push((start, good));
        }
    };
    for y in region.y..region.y + region.h {
        let src = u16::try_from(i32::from(y) + dy).ok().filter(|&s| s < height);
        if src.is_some_and(|src| matches(y, src)) {
            if len == 0 {
                (start, moved_rows, good) = (y, 0, 0);
            }
            len += 1;
            moved_rows += u16::from(moved(y));
            if moved_rows >= MIN_MOVED_ROWS && u32::from(moved_rows) * 4 >= u32::from(len) {
                good = len;
            }
        } else if len > 0 {
            close(start, good);
            len = 0;
        }
    }
    if len > 0 {
        close(start, good);
    }
    out
}

/// A hash of one row: four independent lanes of two pixels each, so it runs at
/// memory speed rather than at one multiply per pixel. Equal hashes are only
/// candidates: bands are checked pixel for pixel.
fn row_hash(row: &[u32]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut lanes = [0x243f_6a88_85a3_08d3u64, 0x1319_8a2e_0370_7344, 0xa409_3822_299f_31d0, 0x082e_fa98_ec4e_6c89];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            let v = u64::from(c[2 * i]) | (u64::from(c[2 * i + 1]) << 32);
            *lane = (*lane ^ v).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut h = lanes.iter().fold(row.len() as u64, |h, &l| (h ^ l).wrapping_mul(K).rotate_left(31));
    for &p in chunks.remainder() {
        h = (h ^ u64::from(p)).wrapping_mul(K).rotate_left(29);
    }
    h
}

/// `base` with `scrolls` applied in order, as the client applies CopyRects.
pub(crate) fn apply_scrolls(base: &ScreenImage, scrolls: &[Scroll]) -> ScreenImage {
    let mut out = base.clone();
    let w = usize::from(base.width);
    for scroll in scrolls {
        let cols = scroll.dest.cols();
        let row = |i: u16| {
            let (src, dst) = (usize::from(scroll.src_y + i) * w, usize::from(scroll.dest.y + i) * w);
            (src + cols.start..src + cols.end, dst + cols.start)
        };
        // One CopyRect reads the framebuffer as it was before it: copy rows in the
        // order that reads each source row before overwriting it.
        if scroll.src_y >= scroll.dest.y {
            (0..scroll.dest.h).map(row).for_each(|(src, dst)| out.pixels.copy_within(src, dst));
        } else {
            (0..scroll.dest.h).rev().map(row).for_each(|(src, dst)| out.pixels.copy_within(src, dst));
        }
    }
    out
}

#[cfg(test)]
#[path = "scroll_tests.rs"]
mod tests;
