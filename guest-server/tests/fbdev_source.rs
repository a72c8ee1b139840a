//! The fbdev frame source against files laid out like framebuffers: the same
//! mmap path as /dev/fbN, with the geometry given instead of read by ioctl.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use cvm_consoled::display::ScreenSource;
use cvm_consoled::display::pattern::PatternSource;
use cvm_consoled::display::source::fbdev::{FbdevSource, Geometry};

#[test]
fn xrgb8888_with_a_padded_stride_reads_back_exactly() {
    let frame = PatternSource::new(320, 200).frame_at(3);
    let stride = 320 * 4 + 64; // padding at the end of each line, as drivers do
    let mut bytes = vec![0xEEu8; stride * 200];
    for y in 0..200 {
        for x in 0..320 {
            let px = frame.pixels[y * 320 + x];
            bytes[y * stride + x * 4..y * stride + x * 4 + 4].copy_from_slice(&(px | 0xff00_0000).to_le_bytes());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb0");
    std::fs::write(&path, &bytes).unwrap();
    let mut source =
        FbdevSource::open_file(&path, Geometry::xrgb8888(320, 200, u32::try_from(stride).unwrap())).unwrap();
    assert_eq!(source.capture().unwrap(), frame);

    // The screen changes under the mapping: the next capture sees it.
    bytes[0..4].copy_from_slice(&0x0012_3456u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(source.capture().unwrap().pixels[0], 0x0012_3456);
}

#[test]
fn rgb565_is_expanded_to_full_range() {
    // Four pixels: white, red, green, blue in RGB565.
    let pixels: [u16; 4] = [0xffff, 0xf800, 0x07e0, 0x001f];
    let bytes: Vec<u8> = pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb565");
    std::fs::write(&path, &bytes).unwrap();
    let mut source = FbdevSource::open_file(&path, Geometry::rgb565(4, 1, 8)).unwrap();
    assert_eq!(source.capture().unwrap().pixels, vec![0xffffff, 0xff0000, 0x00ff00, 0x0000ff]);
}

#[test]
fn impossible_geometries_and_short_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb");
    std::fs::write(&path, vec![0u8; 100]).unwrap();
    for (g, needle) in [
        (Geometry::xrgb8888(64, 64, 256), "bytes, the geometry needs"),
        (Geometry::xrgb8888(64, 1, 100), "stride 100 is shorter"),
        (Geometry { bpp: 12, ..Geometry::xrgb8888(1, 1, 4) }, "bits per pixel"),
        (Geometry::xrgb8888(0, 1, 4), "out of range"),
        (Geometry { rgb: [(30, 8), (8, 8), (0, 8)], ..Geometry::xrgb8888(1, 1, 4) }, "colour fields"),
    ] {
        let err = FbdevSource::open_file(&path, g).unwrap_err().to_string();
        assert!(err.contains(needle), "{g:?}: {err}");
    }
}

#[test]
fn a_host_visible_device_is_refused_unless_forced() {
    // This machine has no /dev/fb*; a path whose sysfs name cannot be read is refused
    // with the reason, never served blindly.
    let err = FbdevSource::open_device(std::path::Path::new("/dev/fb9"), false).unwrap_err().to_string();
    assert!(err.contains("/dev/fb9"), "{err}");
}

#[test]
fn capture_changed_finds_a_change_on_any_line_and_nothing_on_a_still_screen() {
    use std::io::{Seek, SeekFrom, Write};
    let (w, h) = (96usize, 40usize);
    let stride = w * 4 + 16;
    // XRGB8888 (the fast path) and a BGR layout (the general one).
    for rgb in [[(16, 8), (8, 8), (0, 8)], [(0, 8), (8, 8), (16, 8)]] {
        let g = Geometry { rgb, ..Geometry::xrgb8888(96, 40, u32::try_from(stride).unwrap()) };
        let bytes: Vec<u8> = (0..stride * h).map(|i| u8::try_from(i * 7 % 251).unwrap()).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fb");
        std::fs::write(&path, &bytes).unwrap();
        let mut source = FbdevSource::open_file(&path, g).unwrap();
        let first = source.capture_changed(None).unwrap().expect("no previous frame: a frame");
        assert_eq!(first, source.capture().unwrap());
        assert_eq!(source.capture_changed(Some(&first)).unwrap(), None, "{rgb:?}: still screen");
        // A previous frame of another size: a whole new frame.
        let small = cvm_consoled::display::ScreenImage::filled(8, 8, 0);
        assert_eq!(source.capture_changed(Some(&small)).unwrap().as_ref(), Some(&first));
        let mut previous = first;
        for y in [0, h / 2, h - 1] {
            // One byte of one pixel changes in place, under the mapping.
            let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.seek(SeekFrom::Start(u64::try_from(y * stride + 5 * 4 + 1).unwrap())).unwrap();
            file.write_all(&[u8::try_from(y).unwrap() ^ 0x5a]).unwrap();
            drop(file);
            let changed = source.capture_changed(Some(&previous)).unwrap().expect("a changed line");
            assert_eq!(changed, source.capture().unwrap(), "{rgb:?}: line {y}");
            assert_ne!(changed.pixels[y * w..(y + 1) * w], previous.pixels[y * w..(y + 1) * w]);
            previous = changed;
        }
    }
}
