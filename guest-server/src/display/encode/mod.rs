//! Pixel data for one connection: which encoding the client prefers, and the encoders
//! with their persistent zlib streams (ZRLE: one per connection; Tight: four).
//!
//! Rectangles are cut into pieces of at most [`PIECE_ROWS`] rows and
//! [`tight::MAX_WIDTH`] columns, which bounds the memory of one encoded rectangle
//! and satisfies Tight's width limit.

mod pixels;
mod tight;
mod zlib;
mod zrle;

pub(crate) use pixels::PixelWriter;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use cvmc_protocol::rfb::{PixelFormat, RectHeader, encoding};

use super::damage::{Rect, TILE};
use super::{DisplayError, ScreenImage};

/// Colour to palette index. Hashed by one multiply instead of SipHash (a fifth of
/// Tight's time on terminal text): a palette holds at most 257 colours, so even
/// colliding colours cost a bounded search.
pub(crate) type PaletteIndex = HashMap<u32, u8, BuildHasherDefault<PixelHasher>>;

/// The hasher of [`PaletteIndex`]: 0x00RRGGBB times an odd constant, high bits folded
/// down (the table indexes by the low bits).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PixelHasher(u64);

impl Hasher for PixelHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        let h = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

/// Rows of one encoded piece (one ZRLE tile row).
pub(crate) const PIECE_ROWS: u16 = TILE;

/// What the client's SetEncodings (RFC 6143 7.5.2) lets us send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientEncodings {
    /// The first of Raw, ZRLE, Tight in the client's list (Raw if none).
    pub pixel: i32,
    /// CopyRect allowed.
    pub copy_rect: bool,
    /// DesktopSize pseudo-encoding.
    pub desktop_size: bool,
    /// ExtendedDesktopSize pseudo-encoding (preferred over DesktopSize).
    pub extended_desktop_size: bool,
    /// QEMU extended key events: we confirm with an empty pseudo-rectangle.
    pub qemu_key: bool,
    /// Tight JPEG quality level; `None`: lossless only.
    pub jpeg_quality: Option<u8>,
    /// zlib level for ZRLE and Tight, if the client asked for one (each has its default).
    pub level: Option<u8>,
}

impl Default for ClientEncodings {
    fn default() -> Self {
        Self::from_list(&[])
    }
}

impl ClientEncodings {
    /// Read a SetEncodings list; unknown numbers are ignored (RFC 6143 7.5.2).
    pub(crate) fn from_list(list: &[i32]) -> Self {
        let has = |e: i32| list.contains(&e);
        Self {
            pixel: list
                .iter()
                .copied()
                .find(|e| matches!(*e, encoding::RAW | encoding::ZRLE | encoding::TIGHT))
                .unwrap_or(encoding::RAW),
            copy_rect: has(encoding::COPY_RECT),
            desktop_size: has(encoding::DESKTOP_SIZE),
            extended_desktop_size: has(encoding::EXTENDED_DESKTOP_SIZE),
            qemu_key: has(encoding::QEMU_EXTENDED_KEY_EVENT),
            jpeg_quality: list.iter().find_map(|&e| encoding::jpeg_quality_level(e)),
            level: list.iter().find_map(|&e| encoding::compress_level(e)),
        }
    }
}

/// One connection's encoders, created on first use.
#[derive(Debug, Default)]
pub(crate) struct Encoders {
    zrle: Option<zrle::ZrleEncoder>,
    tight: Option<tight::TightEncoder>,
}

impl Encoders {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Append the header and data of one piece (see [`pieces`]) of `frame`.
    pub(crate) fn encode(
        &mut self,
        frame: &ScreenImage,
        piece: Rect,
        px: &PixelWriter,
        enc: &ClientEncodings,
        out: &mut Vec<u8>,
    ) -> Result<(), DisplayError> {
        let header = RectHeader { x: piece.x, y: piece.y, width: piece.w, height: piece.h, encoding: enc.pixel };
        out.extend_from_slice(&header.encode());
        match enc.pixel {
            encoding::ZRLE => self
                .zrle
                .get_or_insert_with(|| zrle::ZrleEncoder::new(enc.level.unwrap_or(zlib::ZRLE_LEVEL)))
                .encode(frame, piece, px, out),
            encoding::TIGHT => {
                let level = enc.level.unwrap_or(zlib::TIGHT_LEVEL);
                let opts = tight::TightOptions { level, jpeg_quality: enc.jpeg_quality };
                self.tight.get_or_insert_with(tight::TightEncoder::new).encode(frame, piece, px, opts, out)
            }
            _ => {
                out.reserve(piece.pixels() * px.bytes_per_pixel());
                for y in piece.y..piece.y + piece.h {
                    px.put_row(&frame.row(y)[usize::from(piece.x)..usize::from(piece.x + piece.w)], out);
                }
                Ok(())
            }
        }
    }
}

/// `rect` cut into pieces of at most [`PIECE_ROWS`] rows and Tight's maximum width.
pub(crate) fn pieces(rect: Rect) -> impl Iterator<Item = Rect> {
    let rows = (rect.y..rect.y.saturating_add(rect.h)).step_by(usize::from(PIECE_ROWS));
    rows.flat_map(move |y| {
        (rect.x..rect.x.saturating_add(rect.w))
            .step_by(usize::from(tight::MAX_WIDTH))
            .map(move |x| Rect::new(x, y, tight::MAX_WIDTH, PIECE_ROWS).intersect(&rect))
    })
}

/// The pixel format is one we can write (validated when decoded; checked again here).
pub(crate) fn writer_for(pf: PixelFormat) -> Result<PixelWriter, DisplayError> {
    pf.validate().map_err(cvmc_protocol::rfb::RfbError::from)?;
    Ok(PixelWriter::new(pf))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
