use super::*;
use crate::display::damage::{changed_rects, changed_rects_outside, patch};
use crate::display::pattern::PatternSource;

fn frame(w: u16, h: u16, f: impl Fn(u16, u16) -> u32) -> ScreenImage {
    let mut pixels = Vec::new();
    for y in 0..h {
        pixels.extend((0..w).map(|x| f(x, y)));
    }
    ScreenImage { width: w, height: h, pixels }
}

/// What the client ends up with: the copies applied in order, then the rest patched.
fn reproduce(old: &ScreenImage, new: &ScreenImage, scrolls: &[Scroll]) -> ScreenImage {
    let copied = apply_scrolls(old, scrolls);
    changed_rects(&copied, new, Rect::of(new)).iter().fold(copied, |f, r| patch(&f, new, *r))
}

/// Lines of "text" 14 rows high: 10 rows of glyph pixels, then 4 blank rows that are
/// the same before and after a scroll.
fn terminal(w: u16, h: u16, first_line: u32) -> ScreenImage {
    let text = |line: u32, x: u16, y_in: u16| {
        if y_in >= 10 {
            0x101010
        } else {
            line.wrapping_mul(2_654_435_761).rotate_left(u32::from(x % 13)) ^ u32::from(y_in)
        }
    };
    frame(w, h, move |x, y| text(first_line + u32::from(y / 14), x, y % 14))
}

#[test]
fn scroll_is_found_and_reproduces_the_frame() {
    let page = |shift: u16| frame(300, 200, move |x, y| (u32::from(y + shift) * 7919) ^ (u32::from(x) * 31));
    let (old, new) = (page(0), page(24)); // content moved up by 24 rows
    let scrolls = detect_scroll(&old, &new, Rect::of(&new), None).0;
    assert_eq!(scrolls, vec![Scroll { dest: Rect::new(0, 0, 300, 176), src_y: 24 }]);
    let copied = apply_scrolls(&old, &scrolls);
    assert_eq!(changed_rects(&copied, &new, Rect::of(&new)), vec![Rect::new(0, 176, 300, 24)]);
    assert_eq!(reproduce(&old, &new, &scrolls), new);
}

#[test]
fn no_scroll_in_noise_or_small_regions() {
    let p = PatternSource::new(320, 240);
    let (a, b) = (p.frame_at(1), p.frame_at(2));
    assert!(detect_scroll(&a, &b, Rect::new(0, 0, 320, 240), None).0.is_empty());
    assert!(detect_scroll(&a, &b, Rect::new(0, 0, 320, 16), None).0.is_empty());
}

#[test]
fn a_terminal_scroll_with_blank_gaps_between_lines_is_found() {
    let (old, new) = (terminal(320, 280, 0), terminal(320, 280, 3)); // three lines (42 rows)
    let scrolls = detect_scroll(&old, &new, Rect::of(&new), None).0;
    assert_eq!(scrolls.len(), 1, "{scrolls:?}");
    assert_eq!(scrolls[0].src_y - scrolls[0].dest.y, 42);
    assert!(scrolls[0].dest.h >= 200, "{scrolls:?}");
    assert_eq!(reproduce(&old, &new, &scrolls), new);
}

#[test]
fn a_static_region_is_not_taken_for_a_scroll() {
    // Identical rows everywhere: every shift "matches", but nothing moved.
    let a = frame(320, 240, |_, _| 0x202020);
    let mut b = a.clone();
    b.pixels[0] = 0xffffff;
    assert!(detect_scroll(&a, &b, Rect::of(&b), None).0.is_empty());
}

/// A pointer (static, drawn over the text) at rows `y..y + 16`, columns 200..210.
fn with_pointer(mut f: ScreenImage, y: u16) -> ScreenImage {
    for row in y..y + 16 {
        for x in 200..210 {
            f.pixels[usize::from(row) * usize::from(f.width) + x] = 0xffffff;
        }
    }
    f
}

#[test]
fn a_pointer_over_a_scroll_splits_it_into_bands_all_copied() {
    // The old code copied only the longest band (below the pointer) and sent the
    // other one again as pixels.
    let (old, new) = (with_pointer(terminal(320, 400, 0), 120), with_pointer(terminal(320, 400, 2), 120));
    let scrolls = detect_scroll(&old, &new, Rect::of(&new), None).0;
    assert_eq!(scrolls.len(), 2, "{scrolls:?}");
    assert!(scrolls.iter().all(|s| s.src_y - s.dest.y == 28), "{scrolls:?}");
    // Content moves up: the top band is applied first.
    assert!(scrolls[0].dest.y < scrolls[1].dest.y);
    // The pointer breaks the rows it covers and the rows copied from under it.
    assert!(scrolls[0].dest.h >= 80 && scrolls[1].dest.h >= 200, "{scrolls:?}");
    assert_eq!(reproduce(&old, &new, &scrolls), new);
    // What is left to send: the rows around the pointer and the new lines at the bottom.
    let copied = apply_scrolls(&old, &scrolls);
    let left: usize = changed_rects(&copied, &new, Rect::of(&new)).iter().map(Rect::pixels).sum();
    assert!(left <= 320 * (16 + 28 + 28), "{left} pixels left");
}

#[test]
fn bands_scrolling_down_are_applied_bottom_first() {
    // Content moves down by two lines (a reverse scroll), split by the pointer.
    let (old, new) = (with_pointer(terminal(320, 400, 2), 200), with_pointer(terminal(320, 400, 0), 200));
    let scrolls = detect_scroll(&old, &new, Rect::of(&new), None).0;
    assert_eq!(scrolls.len(), 2, "{scrolls:?}");
    assert!(scrolls.iter().all(|s| i32::from(s.src_y) - i32::from(s.dest.y) == -28), "{scrolls:?}");
    assert!(scrolls[0].dest.y > scrolls[1].dest.y, "bottom band first: {scrolls:?}");
    assert_eq!(reproduce(&old, &new, &scrolls), new);
}

#[test]
fn one_copy_reads_its_rows_before_overwriting_them() {
    let old = frame(64, 100, |x, y| u32::from(y) * 1000 + u32::from(x));
    // Down by 10: rows 10..90 come from 0..80 (overlapping).
    let down = apply_scrolls(&old, &[Scroll { dest: Rect::new(0, 10, 64, 80), src_y: 0 }]);
    assert_eq!(down.row(89), old.row(79));
    assert_eq!(down.row(10), old.row(0));
    let up = apply_scrolls(&old, &[Scroll { dest: Rect::new(0, 0, 64, 80), src_y: 10 }]);
    assert_eq!(up.row(79), old.row(89));
    assert_eq!(up.row(0), old.row(10));
}

#[test]
fn the_rows_bands_cover_need_no_second_look() {
    // What the write loop sends after the copies: the first pass's damage outside the
    // bands' rows, found without building the copied frame. It must equal the damage
    // of the copied frame, and reproduce the new one.
    for (old, new) in [
        (with_pointer(terminal(320, 400, 0), 120), with_pointer(terminal(320, 400, 2), 120)),
        (with_pointer(terminal(320, 400, 2), 200), with_pointer(terminal(320, 400, 0), 200)),
    ] {
        let region = changed_rects(&old, &new, Rect::of(&new)).iter().fold(Rect::new(0, 0, 0, 0), |a, r| a.union(r));
        let scrolls = detect_scroll(&old, &new, region, None).0;
        assert!(!scrolls.is_empty());
        let clean: Vec<_> = scrolls.iter().map(|s| s.dest.y..s.dest.y + s.dest.h).collect();
        let rects = changed_rects_outside(&old, &new, Rect::of(&new), &clean);
        let copied = apply_scrolls(&old, &scrolls);
        assert_eq!(rects, changed_rects(&copied, &new, Rect::of(&new)));
        assert_eq!(rects.iter().fold(copied, |f, r| patch(&f, &new, *r)), new);
    }
}

#[test]
fn the_row_hashes_handed_on_are_the_new_frames_and_change_no_result() {
    // A terminal with a static status line on top scrolls three times; the region of
    // each step holds every change, as the write loop's region does.
    let screens: Vec<ScreenImage> = (0..4u32)
        .map(|i| {
            let text = terminal(320, 280, i * 2);
            frame(320, 280, |x, y| if y < 20 { 0x00_ff_00 } else { text.pixels[usize::from(y) * 320 + usize::from(x)] })
        })
        .collect();
    let mut known: Option<RowHashes> = None;
    for pair in screens.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let region = changed_rects(old, new, Rect::of(new)).iter().fold(Rect::new(0, 0, 0, 0), |a, r| a.union(r));
        let (fresh, fresh_hashes) = detect_scroll(old, new, region, None);
        let (reused, hashes) = detect_scroll(old, new, region, known.as_ref());
        assert!(!fresh.is_empty());
        assert_eq!(reused, fresh, "hashes carried over change the scrolls found");
        let (hashes, fresh_hashes) = (hashes.unwrap(), fresh_hashes.unwrap());
        let computed: Vec<u64> = (0..new.height).map(|y| row_hash(&new.row(y)[region.cols()])).collect();
        assert_eq!(hashes.hashes, computed, "the hashes handed on are not the new frame's");
        assert_eq!(fresh_hashes.hashes, computed);
        known = Some(hashes);
    }
    // Hashes of other columns are not used.
    let other = RowHashes { cols: 0..10, hashes: vec![0; 280] };
    let (old, new) = (&screens[0], &screens[1]);
    assert_eq!(detect_scroll(old, new, Rect::of(new), Some(&other)).0, detect_scroll(old, new, Rect::of(new), None).0);
}
