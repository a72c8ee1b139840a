//! Where the guest's screen goes on ours, and where our pointer lands on the guest's.
//!
//! egui lays out in points; a point is `pixels_per_point` physical pixels (2 on a
//! typical HiDPI screen). "100%" shows one guest pixel per physical pixel, so the
//! picture is `guest / pixels_per_point` points wide; "fit" scales it to the space
//! available, keeping its aspect ratio.

use egui::Vec2;

/// Points per guest pixel for a `guest`-pixel screen in `avail` points.
pub fn points_per_guest_pixel(guest: Vec2, avail: Vec2, pixels_per_point: f32, fit: bool) -> f32 {
    let ppp = if pixels_per_point.is_finite() && pixels_per_point > 0.0 { pixels_per_point } else { 1.0 };
    if !fit || guest.x <= 0.0 || guest.y <= 0.0 {
        return 1.0 / ppp;
    }
    let scale = (avail.x / guest.x).min(avail.y / guest.y);
    if scale.is_finite() && scale > 0.0 { scale } else { 1.0 / ppp }
}

/// The guest pixel under a pointer `offset` points from the picture's top-left corner,
/// clamped to the screen (`guest` pixels; `scale` from [`points_per_guest_pixel`]).
pub fn guest_pixel(offset: Vec2, scale: f32, guest: (u16, u16)) -> (u16, u16) {
    let at = |v: f32, max: u16| -> u16 {
        let px = (v / scale).floor();
        if !px.is_finite() || px <= 0.0 {
            return 0;
        }
        let last = max.saturating_sub(1);
        // invariant: px is positive and finite; min() keeps it within u16 before the cast.
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "bounded by min() first")]
        let px = px.min(f32::from(last)) as u16;
        px
    };
    (at(offset.x, guest.0), at(offset.y, guest.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hundred_percent_is_one_guest_pixel_per_physical_pixel() {
        let guest = Vec2::new(1920.0, 1080.0);
        let s = points_per_guest_pixel(guest, Vec2::new(800.0, 600.0), 2.0, false);
        assert!((s - 0.5).abs() < f32::EPSILON);
        // 1920 guest pixels take 960 points = 1920 physical pixels.
        assert!((guest.x * s * 2.0 - 1920.0).abs() < 0.01);
        assert!((points_per_guest_pixel(guest, Vec2::splat(10.0), 1.0, false) - 1.0).abs() < f32::EPSILON);
    }

    #[test]
    fn fit_keeps_the_aspect_ratio() {
        let guest = Vec2::new(1600.0, 900.0);
        let s = points_per_guest_pixel(guest, Vec2::new(800.0, 800.0), 2.0, true);
        assert!((s - 0.5).abs() < f32::EPSILON, "width-bound");
        let s = points_per_guest_pixel(guest, Vec2::new(3200.0, 450.0), 1.0, true);
        assert!((s - 0.5).abs() < f32::EPSILON, "height-bound");
        assert!((points_per_guest_pixel(Vec2::ZERO, Vec2::splat(100.0), 2.0, true) - 0.5).abs() < f32::EPSILON);
    }

    #[test]
    fn pointer_maps_back_to_guest_pixels_in_both_modes() {
        // 100% on a 2x screen: 0.5 points per guest pixel.
        assert_eq!(guest_pixel(Vec2::new(10.25, 5.0), 0.5, (1920, 1080)), (20, 10));
        // Fit at 0.25 points per pixel.
        assert_eq!(guest_pixel(Vec2::new(100.0, 50.0), 0.25, (1920, 1080)), (400, 200));
        // Clamped to the screen, never negative, never past the last pixel.
        assert_eq!(guest_pixel(Vec2::new(-3.0, 99999.0), 1.0, (640, 480)), (0, 479));
        assert_eq!(guest_pixel(Vec2::new(f32::NAN, 1.0), 1.0, (640, 480)), (0, 1));
    }
}
