//! ZRLE (RFC 6143 7.7.6): 64x64 tiles, each solid, raw, packed-palette, plain RLE or
//! palette RLE, whichever is smallest, all through the connection's one zlib stream.

use super::PaletteIndex;
use super::pixels::PixelWriter;
use super::zlib::ZStream;
use crate::display::damage::{Rect, TILE};
use crate::display::{DisplayError, ScreenImage};

/// Largest ZRLE palette (subencodings 2..=127 and 130..=255).
const MAX_PALETTE: usize = 127;

/// The per-connection ZRLE state: its zlib stream and scratch buffers.
#[derive(Debug)]
pub(crate) struct ZrleEncoder {
    z: ZStream,
    tiles: Vec<u8>,
    pixels: Vec<u32>,
    runs: Vec<(u32, usize)>,
    palette: Vec<u32>,
    index: PaletteIndex,
}

impl ZrleEncoder {
    /// A new stream at zlib `level`; RFC 6143 7.7.6 allows no reset, so it is kept.
    pub(crate) fn new(level: u8) -> Self {
        Self {
            z: ZStream::new(level, "ZRLE"),
            tiles: Vec::new(),
            pixels: Vec::new(),
            runs: Vec::new(),
            palette: Vec::new(),
            index: PaletteIndex::default(),
        }
    }

    /// Append the rectangle's data (u32 length, zlib data) to `out`.
    pub(crate) fn encode(
        &mut self,
        frame: &ScreenImage,
        rect: Rect,
        px: &PixelWriter,
        out: &mut Vec<u8>,
    ) -> Result<(), DisplayError> {
        self.tiles.clear();
        for ty in (rect.y..rect.y + rect.h).step_by(usize::from(TILE)) {
            for tx in (rect.x..rect.x + rect.w).step_by(usize::from(TILE)) {
                let tile = Rect::new(tx, ty, TILE, TILE).intersect(&rect);
                self.tile(frame, tile, px);
            }
        }
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        self.z.compress(&self.tiles, out)?;
        let len = u32::try_from(out.len() - start - 4)
            .map_err(|_| DisplayError::Encoder { encoding: "ZRLE", reason: "rectangle over 4 GiB".into() })?;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// One tile into `self.tiles`, uncompressed.
    fn tile(&mut self, frame: &ScreenImage, tile: Rect, px: &PixelWriter) {
        self.pixels.clear();
        for y in tile.y..tile.y + tile.h {
            let row = frame.row(y);
            self.pixels.extend_from_slice(&row[usize::from(tile.x)..usize::from(tile.x) + usize::from(tile.w)]);
        }
        self.runs.clear();
        for &p in &self.pixels {
            match self.runs.last_mut() {
                Some((colour, len)) if *colour == p => *len += 1,
                _ => self.runs.push((p, 1)),
            }
        }
        self.palette.clear();
        self.index.clear();
        for &(colour, _) in &self.runs {
            if self.index.len() > MAX_PALETTE {
                break;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = self.index.entry(colour) {
                e.insert(u8::try_from(self.palette.len()).unwrap_or(u8::MAX));
                self.palette.push(colour);
            }
        }
        let cp = px.cpixel_len();
        let n = self.pixels.len();
        let out = &mut self.tiles;
        if self.palette.len() == 1 {
            out.push(1);
            px.put_cpixel(self.palette[0], out);
            return;
        }
        let run_bytes = |len: usize| (len - 1) / 255 + 1;
        let raw = n * cp;
        let plain_rle: usize = self.runs.iter().map(|&(_, len)| cp + run_bytes(len)).sum();
        let paletted = self.palette.len() <= MAX_PALETTE;
        let p = self.palette.len();
        let bits = match p {
            2 => 1,
            3..=4 => 2,
            _ => 4,
        };
        let packed = if paletted && p <= 16 {
            p * cp + (usize::from(tile.w) * bits).div_ceil(8) * usize::from(tile.h)
        } else {
            usize::MAX
        };
        let palette_rle = if paletted {
            p * cp + self.runs.iter().map(|&(_, len)| if len == 1 { 1 } else { 1 + run_bytes(len) }).sum::<usize>()
        } else {
            usize::MAX
        };
        let best = raw.min(plain_rle).min(packed).min(palette_rle);
        let p_u8 = u8::try_from(p).unwrap_or(0); // invariant: p <= 127 where used
        if best == raw {
            out.push(0);
            self.pixels.iter().for_each(|&c| px.put_cpixel(c, out));
        } else if best == packed {
            out.push(p_u8);
            self.palette.iter().for_each(|&c| px.put_cpixel(c, out));
            for row in self.pixels.chunks(usize::from(tile.w)) {
                let (mut byte, mut used) = (0u8, 0usize);
                for c in row {
                    byte = (byte << bits) | self.index.get(c).copied().unwrap_or(0);
                    used += bits;
                    if used == 8 {
                        out.push(byte);
                        (byte, used) = (0, 0);
                    }
                }
                if used > 0 {
                    out.push(byte << (8 - used));
                }
            }
        } else if best == palette_rle {
            out.push(128 + p_u8);
            self.palette.iter().for_each(|&c| px.put_cpixel(c, out));
            for &(colour, len) in &self.runs {
                let i = self.index.get(&colour).copied().unwrap_or(0);
                if len == 1 {
                    out.push(i);
                } else {
                    out.push(i | 0x80);
                    put_run(len, out);
                }
            }
        } else {
            out.push(128);
            for &(colour, len) in &self.runs {
                px.put_cpixel(colour, out);
                put_run(len, out);
            }
        }
    }
}

/// RFC 6143 7.7.6 run length: 255s then (len - 1) % 255.
fn put_run(len: usize, out: &mut Vec<u8>) {
    let mut rest = len - 1;
    while rest >= 255 {
        out.push(255);
        rest -= 255;
    }
    out.push(u8::try_from(rest).unwrap_or(0));
}
