use super::*;
use crate::display::pattern::PatternSource;

fn frame(w: u16, h: u16, f: impl Fn(u16, u16) -> u32) -> Frame {
    let mut pixels = Vec::new();
    for y in 0..h {
        pixels.extend((0..w).map(|x| f(x, y)));
    }
    Frame { width: w, height: h, pixels }
}

#[test]
fn rect_ops() {
    let a = Rect::new(10, 10, 20, 20);
    assert_eq!(a.intersect(&Rect::new(25, 0, 100, 15)), Rect::new(25, 10, 5, 5));
    assert!(a.intersect(&Rect::new(40, 40, 5, 5)).is_empty());
    assert_eq!(a.union(&Rect::new(0, 0, 1, 1)), Rect::new(0, 0, 30, 30));
    assert_eq!(Rect::new(0, 0, 0, 0).union(&a), a);
}

#[test]
fn unchanged_frames_have_no_damage() {
    let p = PatternSource::new(200, 130).frame_at(3);
    assert!(changed_rects(&p, &p, Rect::of(&p)).is_empty());
}

#[test]
fn one_pixel_marks_its_tile_clipped_to_the_area() {
    let old = Frame::filled(200, 130, 0);
    let mut new = old.clone();
    new.pixels[70 * 200 + 130] = 1; // x 130, y 70: tile (2, 1)
    assert_eq!(changed_rects(&old, &new, Rect::of(&new)), vec![Rect::new(128, 64, 64, 64)]);
    assert_eq!(changed_rects(&old, &new, Rect::new(100, 60, 40, 100)), vec![Rect::new(128, 64, 12, 64)]);
    assert!(changed_rects(&old, &new, Rect::new(0, 0, 100, 130)).is_empty());
    new.pixels[129 * 200 + 199] = 1; // bottom-right partial tile
    let rects = changed_rects(&old, &new, Rect::of(&new));
    assert_eq!(rects, vec![Rect::new(128, 64, 64, 64), Rect::new(192, 128, 8, 2)]);
}

#[test]
fn runs_merge_across_and_down() {
    let old = Frame::filled(256, 256, 0);
    let new = frame(256, 256, |x, y| u32::from((10..140).contains(&x) && (5..150).contains(&y)));
    assert_eq!(changed_rects(&old, &new, Rect::of(&new)), vec![Rect::new(0, 0, 192, 192)]);
}

#[test]
fn pattern_damage_is_small() {
    let p = PatternSource::new(640, 480);
    let (a, b) = (p.frame_at(10), p.frame_at(11));
    let rects = changed_rects(&a, &b, Rect::of(&a));
    let area: usize = rects.iter().map(Rect::pixels).sum();
    assert!(!rects.is_empty() && area <= 6 * 64 * 64, "{rects:?}");
    let back = rects.iter().fold(a.clone(), |f, r| patch(&f, &b, *r));
    assert_eq!(back, b);
}

#[test]
fn scroll_is_found_and_reproduces_the_frame() {
    let page = |shift: u16| frame(300, 200, move |x, y| (u32::from(y + shift) * 7919) ^ (u32::from(x) * 31));
    let (old, new) = (page(0), page(24)); // content moved up by 24 rows
    let region = Rect::of(&new);
    let scroll = detect_scroll(&old, &new, region).expect("a scroll");
    assert_eq!(scroll, Scroll { dest: Rect::new(0, 0, 300, 176), src_y: 24 });
    let copied = apply_scroll(&old, scroll);
    let rest = changed_rects(&copied, &new, region);
    assert_eq!(rest, vec![Rect::new(0, 128, 300, 72)]);
    let fixed = rest.iter().fold(copied, |f, r| patch(&f, &new, *r));
    assert_eq!(fixed, new);
}

#[test]
fn no_scroll_in_noise_or_small_regions() {
    let p = PatternSource::new(320, 240);
    let (a, b) = (p.frame_at(1), p.frame_at(2));
    assert_eq!(detect_scroll(&a, &b, Rect::new(0, 0, 320, 240)), None);
    assert_eq!(detect_scroll(&a, &b, Rect::new(0, 0, 320, 16)), None);
}

#[test]
fn a_terminal_scroll_with_blank_gaps_between_lines_is_found() {
    // Lines of "text" 14 rows high: 10 rows of glyph pixels, then 4 blank rows that are
    // the same before and after the scroll (they used to break the band).
    let text = |line: u32, x: u16, y_in: u16| {
        if y_in >= 10 {
            0x101010
        } else {
            line.wrapping_mul(2_654_435_761).rotate_left(u32::from(x % 13)) ^ u32::from(y_in)
        }
    };
    let screen = |first_line: u32| frame(320, 280, move |x, y| text(first_line + u32::from(y / 14), x, y % 14));
    let (old, new) = (screen(0), screen(3)); // scrolled by three lines (42 rows)
    let scroll = detect_scroll(&old, &new, Rect::of(&new)).expect("a scroll across the blank gaps");
    assert_eq!(scroll.src_y - scroll.dest.y, 42);
    assert!(scroll.dest.h >= 200, "{scroll:?}");
    let copied = apply_scroll(&old, scroll);
    let fixed = changed_rects(&copied, &new, Rect::of(&new)).iter().fold(copied, |f, r| patch(&f, &new, *r));
    assert_eq!(fixed, new);
}

#[test]
fn a_static_region_is_not_taken_for_a_scroll() {
    // Identical rows everywhere: every shift "matches", but nothing moved.
    let a = frame(320, 240, |_, _| 0x202020);
    let mut b = a.clone();
    b.pixels[0] = 0xffffff;
    assert_eq!(detect_scroll(&a, &b, Rect::of(&b)), None);
}
