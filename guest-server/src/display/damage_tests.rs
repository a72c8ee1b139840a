use super::*;
use crate::display::pattern::PatternSource;

fn frame(w: u16, h: u16, f: impl Fn(u16, u16) -> u32) -> ScreenImage {
    let mut pixels = Vec::new();
    for y in 0..h {
        pixels.extend((0..w).map(|x| f(x, y)));
    }
    ScreenImage { width: w, height: h, pixels }
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
    let old = ScreenImage::filled(200, 130, 0);
    let mut new = old.clone();
    new.pixels[70 * 200 + 130] = 1; // x 130, y 70: tile (2, 1)
    // Cropped to the changed row and its 8-pixel column.
    assert_eq!(changed_rects(&old, &new, Rect::of(&new)), vec![Rect::new(128, 70, 8, 1)]);
    assert_eq!(changed_rects(&old, &new, Rect::new(100, 60, 31, 100)), vec![Rect::new(128, 70, 3, 1)]);
    assert!(changed_rects(&old, &new, Rect::new(0, 0, 100, 130)).is_empty());
    new.pixels[129 * 200 + 199] = 1; // bottom-right partial tile
    let rects = changed_rects(&old, &new, Rect::of(&new));
    assert_eq!(rects, vec![Rect::new(128, 70, 8, 1), Rect::new(192, 129, 8, 1)]);
}

#[test]
fn runs_merge_across_and_down() {
    let old = ScreenImage::filled(256, 256, 0);
    let new = frame(256, 256, |x, y| u32::from((10..140).contains(&x) && (5..150).contains(&y)));
    // Cropped to rows 5..150 and columns 8..144 (8-pixel grain) in every tile row,
    // which then merge into one.
    let rects = changed_rects(&old, &new, Rect::of(&new));
    assert_eq!(rects, vec![Rect::new(8, 5, 136, 145)]);
    let back = rects.iter().fold(old.clone(), |f, r| patch(&f, &new, *r));
    assert_eq!(back, new);
}

#[test]
fn changes_are_cropped_to_their_rows_and_columns_per_run_of_tiles() {
    // A line of "text" redrawn in rows 100..114, columns 3..300 (a terminal's last
    // line): the old code sent the whole tile rows 64..128, columns 0..320.
    let old = frame(640, 256, |x, y| u32::from(x) ^ (u32::from(y) << 12));
    let mut new = old.clone();
    for y in 100..114u16 {
        for x in 3..300u16 {
            new.pixels[usize::from(y) * 640 + usize::from(x)] ^= 0x0080_8080;
        }
    }
    // And a pointer-sized change far to the right, a run of its own.
    new.pixels[200 * 640 + 600] = 0xffffff;
    let rects = changed_rects(&old, &new, Rect::of(&new));
    assert_eq!(rects, vec![Rect::new(0, 100, 304, 14), Rect::new(600, 200, 8, 1)]);
    let back = rects.iter().fold(old.clone(), |f, r| patch(&f, &new, *r));
    assert_eq!(back, new);
}

#[test]
fn pattern_damage_is_small() {
    let p = PatternSource::new(640, 480);
    let (a, b) = (p.frame_at(10), p.frame_at(11));
    let rects = changed_rects(&a, &b, Rect::of(&a));
    let area: usize = rects.iter().map(Rect::pixels).sum();
    assert!(!rects.is_empty() && area <= 6 * 64 * 64, "{rects:?}");
    assert!(area < 6 * 64 * 64, "cropped below whole tiles: {rects:?}");
    let back = rects.iter().fold(a.clone(), |f, r| patch(&f, &b, *r));
    assert_eq!(back, b);
}

#[test]
fn changed_bounds_hold_every_change_and_give_the_same_rectangles() {
    // Scattered changes of random size and place, several per frame, in random areas.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        u16::try_from(seed % n).unwrap()
    };
    let old = frame(333, 201, |x, y| (u32::from(x) * 7) ^ (u32::from(y) << 9));
    assert!(changed_bounds(&old, &old, Rect::of(&old)).is_empty());
    for _ in 0..300 {
        let mut new = old.clone();
        for _ in 0..1 + next(4) {
            let (x, y) = (next(333), next(201));
            let (w, h) = (1 + next(333 - u64::from(x)), 1 + next((201 - u64::from(y)).min(40)));
            for yy in y..y + h {
                for xx in x..x + w {
                    new.pixels[usize::from(yy) * 333 + usize::from(xx)] ^= 0x0001_0101;
                }
            }
        }
        let area = if next(3) == 0 {
            let (x, y) = (next(300), next(180));
            Rect::new(x, y, 1 + next(333 - u64::from(x)), 1 + next(201 - u64::from(y)))
        } else {
            Rect::of(&new)
        };
        let bounds = changed_bounds(&old, &new, area);
        let rects = changed_rects(&old, &new, area);
        assert_eq!(changed_rects(&old, &new, bounds), rects, "area {area:?} bounds {bounds:?}");
        let union = rects.iter().fold(Rect::new(0, 0, 0, 0), |u, r| u.union(r));
        assert_eq!(bounds, union, "the bounds are the rectangles' bounding box");
        // Nothing differs in the area outside the bounds.
        for y in area.y..area.y + area.h {
            for x in area.x..area.x + area.w {
                let i = usize::from(y) * 333 + usize::from(x);
                let inside = bounds.intersect(&Rect::new(x, y, 1, 1)) == Rect::new(x, y, 1, 1);
                assert!(inside || old.pixels[i] == new.pixels[i], "({x}, {y}) changed outside {bounds:?}");
            }
        }
    }
}
