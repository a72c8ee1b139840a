//! Tight (rfbproto "Tight Encoding"): per rectangle, FillCompression for one colour,
//! the PaletteFilter for 2..=256 colours, JpegCompression for many colours when the
//! client asked for a JPEG quality level; otherwise, losslessly, the GradientFilter
//! when its residuals promise clearly fewer bytes (photographs, smooth shading:
//! about a fifth less than the colours themselves; 24-bit TPIXEL formats only) and
//! the CopyFilter else. Zlib streams: 0 full colour, 1 two-colour palettes, 2 larger
//! palettes, 3 gradient residuals. Rectangles must be at most [`MAX_WIDTH`] wide (the
//! caller splits them).

use jpeg_encoder::{ColorType, Encoder as JpegEncoder};

use super::PaletteIndex;
use super::pixels::PixelWriter;
use super::zlib::ZStream;
use crate::display::damage::Rect;
use crate::display::{DisplayError, ScreenImage};

/// Widest Tight rectangle the spec allows.
pub(crate) const MAX_WIDTH: u16 = 2048;
/// Largest value of Tight's compact length.
const MAX_COMPACT: usize = 4_194_303;
/// Filtered data shorter than this is sent without zlib (and without a length).
const MIN_TO_COMPRESS: usize = 12;
/// Most palette colours.
const MAX_PALETTE: usize = 256;
/// Smallest rectangle (pixels) worth a JPEG header.
const MIN_JPEG_PIXELS: usize = 64 * 16;

const FILL: u8 = 0x80;
const JPEG: u8 = 0x90;
const READ_FILTER: u8 = 0x40;
const PALETTE_FILTER: u8 = 1;
const GRADIENT_FILTER: u8 = 2;
const STREAM_FULL: usize = 0;
const STREAM_MONO: usize = 1;
const STREAM_INDEXED: usize = 2;
const STREAM_GRADIENT: usize = 3;
/// The gradient filter is used when its residuals' order-0 entropy is below this share
/// of the raw colours'. On photographs zlib gains little from repeats and almost all
/// from Huffman coding, which this estimates; the margin keeps synthetic content, where
/// zlib's repeats matter more, on the CopyFilter unless the gain is plain.
const GRADIENT_ENTROPY_SHARE: f64 = 0.9;
/// Smaller many-colour rectangles (a few lines of coloured, anti-aliased text, the usual
/// case on a terminal) keep the CopyFilter without the estimate: it would cost more CPU
/// than the few bytes it could save there.
const MIN_GRADIENT_PIXELS: usize = 64 * 64;

/// The per-connection Tight state: four zlib streams and scratch buffers.
#[derive(Debug, Default)]
pub(crate) struct TightEncoder {
    streams: [Option<ZStream>; 4],
    /// Streams re-created since last used: the next use sets their reset bit.
    reset: [bool; 4],
    data: Vec<u8>,
    /// The GradientFilter's output for the same rectangle.
    residuals: Vec<u8>,
    palette: Vec<u32>,
    index: PaletteIndex,
}

/// What the client asked of Tight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TightOptions {
    /// zlib level 0..=9.
    pub level: u8,
    /// JPEG quality level 0..=9; `None`: lossless only.
    pub jpeg_quality: Option<u8>,
}

impl TightEncoder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Append the rectangle's data (from the compression-control byte on) to `out`.
    pub(crate) fn encode(
        &mut self,
        frame: &ScreenImage,
        rect: Rect,
        px: &PixelWriter,
        opts: TightOptions,
        out: &mut Vec<u8>,
    ) -> Result<(), DisplayError> {
        self.count_colours(frame, rect);
        let n = self.palette.len();
        if n == 1 {
            out.push(FILL);
            px.put_tpixel(self.palette[0], out);
            return Ok(());
        }
        self.data.clear();
        if n <= MAX_PALETTE {
            let (stream, mono) = if n == 2 { (STREAM_MONO, true) } else { (STREAM_INDEXED, false) };
            let ctrl = self.ctrl(stream, opts.level) | READ_FILTER;
            out.extend_from_slice(&[ctrl, PALETTE_FILTER, u8::try_from(n - 1).unwrap_or(u8::MAX)]);
            self.palette.iter().for_each(|&c| px.put_tpixel(c, out));
            let first = self.palette[0];
            // Text is runs of one colour: look a colour up only when it changes.
            let mut last = (first, 0u8);
            for y in rect.y..rect.y + rect.h {
                let row = &frame.row(y)[usize::from(rect.x)..usize::from(rect.x) + usize::from(rect.w)];
                if mono {
                    // Two colours: index 0 is the first, 1 the other.
                    for chunk in row.chunks(8) {
                        let bits = chunk.iter().fold(0u8, |acc, &c| (acc << 1) | u8::from(c != first));
                        self.data.push(bits << (8 - chunk.len()));
                    }
                } else {
                    self.data.extend(row.iter().map(|&c| {
                        if c != last.0 {
                            last = (c, self.index.get(&c).copied().unwrap_or(0));
                        }
                        last.1
                    }));
                }
            }
            return self.put_data(stream, opts.level, out);
        }
        let jpeg_ok = matches!(px.format().bits_per_pixel, 16 | 32) && rect.pixels() >= MIN_JPEG_PIXELS;
        if let (Some(quality), true) = (opts.jpeg_quality, jpeg_ok) {
            return self.jpeg(frame, rect, quality, out);
        }
        for y in rect.y..rect.y + rect.h {
            let row = &frame.row(y)[usize::from(rect.x)..usize::from(rect.x) + usize::from(rect.w)];
            px.put_tpixel_row(row, &mut self.data);
        }
        if px.tpixel_is_rgb()
            && rect.pixels() >= MIN_GRADIENT_PIXELS
            && gradient_pays(&self.data, usize::from(rect.w), &mut self.residuals)
        {
            gradient_residuals(&self.data, usize::from(rect.w), &mut self.residuals);
            std::mem::swap(&mut self.data, &mut self.residuals);
            let ctrl = self.ctrl(STREAM_GRADIENT, opts.level) | READ_FILTER;
            out.extend_from_slice(&[ctrl, GRADIENT_FILTER]);
            return self.put_data(STREAM_GRADIENT, opts.level, out);
        }
        out.push(self.ctrl(STREAM_FULL, opts.level));
        self.put_data(STREAM_FULL, opts.level, out)
    }

    /// Distinct colours of `rect` into `self.palette` (stops counting past 256).
    fn count_colours(&mut self, frame: &ScreenImage, rect: Rect) {
        self.palette.clear();
        self.index.clear();
        let mut last = None;
        'rows: for y in rect.y..rect.y + rect.h {
            for &c in &frame.row(y)[usize::from(rect.x)..usize::from(rect.x) + usize::from(rect.w)] {
                if last == Some(c) || self.index.contains_key(&c) {
                    last = Some(c);
                    continue;
                }
                if self.palette.len() == MAX_PALETTE {
                    self.palette.push(c); // over the limit: "many colours"
                    break 'rows;
                }
                self.index.insert(c, u8::try_from(self.palette.len()).unwrap_or(u8::MAX));
                self.palette.push(c);
                last = Some(c);
            }
        }
    }

    /// The compression-control bits selecting `stream`, (re)creating it at `level`.
    fn ctrl(&mut self, stream: usize, level: u8) -> u8 {
        let stale = self.streams[stream].as_ref().is_some_and(|z| z.level() != level);
        if stale || self.streams[stream].is_none() {
            self.reset[stream] |= self.streams[stream].is_some();
            self.streams[stream] = Some(ZStream::new(level, "Tight"));
        }
        let reset = if std::mem::take(&mut self.reset[stream]) { 1u8 << stream } else { 0 };
        // invariant: stream < 4, so the id fits bits 4-5.
        (u8::try_from(stream).unwrap_or(0) << 4) | reset
    }

    /// The filtered data: as is when short, else compact length and zlib data.
    fn put_data(&mut self, stream: usize, level: u8, out: &mut Vec<u8>) -> Result<(), DisplayError> {
        if self.data.len() < MIN_TO_COMPRESS {
            out.extend_from_slice(&self.data);
            return Ok(());
        }
        let z = self.streams[stream].get_or_insert_with(|| ZStream::new(level, "Tight"));
        // Compress straight into `out` behind room for the longest compact length, then
        // close the gap: no buffer per rectangle.
        let at = out.len();
        out.extend_from_slice(&[0; 3]);
        z.compress(&self.data, out)?;
        let packed = out.len() - at - 3;
        let (len, n) = compact_len(packed)?;
        out.copy_within(at + 3.., at + n);
        out.truncate(at + n + packed);
        out[at..at + n].copy_from_slice(&len[..n]);
        Ok(())
    }

    /// JpegCompression: the rectangle as a JFIF stream.
    fn jpeg(&mut self, frame: &ScreenImage, rect: Rect, level: u8, out: &mut Vec<u8>) -> Result<(), DisplayError> {
        self.data.clear();
        for y in rect.y..rect.y + rect.h {
            for &c in &frame.row(y)[usize::from(rect.x)..usize::from(rect.x) + usize::from(rect.w)] {
                let [_, r, g, b] = c.to_be_bytes();
                self.data.extend_from_slice(&[r, g, b]);
            }
        }
        let mut jfif = Vec::new();
        JpegEncoder::new(&mut jfif, jpeg_quality(level))
            .encode(&self.data, rect.w, rect.h, ColorType::Rgb)
            .map_err(|e| DisplayError::Encoder { encoding: "Tight JPEG", reason: e.to_string() })?;
        out.push(JPEG);
        put_compact_len(jfif.len(), out)?;
        out.extend_from_slice(&jfif);
        Ok(())
    }
}

/// The GradientFilter's prediction of a component from its left, upper and upper-left
/// neighbours.
fn predict(left: u8, up: u8, up_left: u8) -> u8 {
    let p = (i16::from(left) + i16::from(up) - i16::from(up_left)).clamp(0, 255);
    u8::try_from(p).unwrap_or(u8::MAX)
}

/// The GradientFilter (rfbproto): each colour component minus its prediction
/// `left + above - above-left`, clamped to 0..=255, modulo 256; neighbours outside the
/// rectangle count as 0. `rgb` holds the rectangle's 3-byte TPIXELs row by row.
fn gradient_residuals(rgb: &[u8], width: usize, out: &mut Vec<u8>) {
    out.clear();
    out.resize(rgb.len(), 0);
    let stride = width * 3;
    let zeros = vec![0u8; stride];
    let mut above: &[u8] = &zeros;
    for (row, dst) in rgb.chunks_exact(stride).zip(out.chunks_exact_mut(stride)) {
        residual_row(row, above, dst);
        above = row;
    }
}

/// One row's residuals into `dst` (all three the same length, a multiple of 3). Written
/// as zipped slices so that the compiler vectorises it.
fn residual_row(row: &[u8], above: &[u8], dst: &mut [u8]) {
    let n = row.len().min(3);
    for ((d, &v), &u) in dst[..n].iter_mut().zip(&row[..n]).zip(&above[..n]) {
        *d = v.wrapping_sub(u);
    }
    if row.len() <= 3 {
        return;
    }
    let (left, up, up_left) = (&row[..row.len() - 3], &above[3..], &above[..above.len() - 3]);
    for ((((d, &v), &l), &u), &ul) in dst[3..].iter_mut().zip(&row[3..]).zip(left).zip(up).zip(up_left) {
        *d = v.wrapping_sub(predict(l, u, ul));
    }
}

/// Whether the GradientFilter promises clearly fewer bytes than the CopyFilter: the
/// order-0 entropy of both on every fourth row (the rest costs only when it pays).
fn gradient_pays(rgb: &[u8], width: usize, scratch: &mut Vec<u8>) -> bool {
    let stride = width * 3;
    let rows = rgb.len() / stride.max(1);
    if rows < 2 {
        return false;
    }
    scratch.clear();
    scratch.resize(stride, 0);
    let (mut raw, mut res) = ([0u32; 256], [0u32; 256]);
    for y in (1..rows).step_by(4) {
        let row = &rgb[y * stride..(y + 1) * stride];
        residual_row(row, &rgb[(y - 1) * stride..y * stride], scratch);
        row.iter().for_each(|&b| raw[usize::from(b)] += 1);
        scratch.iter().for_each(|&b| res[usize::from(b)] += 1);
    }
    entropy_bits(&res) < GRADIENT_ENTROPY_SHARE * entropy_bits(&raw)
}

/// Order-0 entropy in bits of data with these byte counts: the size Huffman coding
/// alone would approach.
fn entropy_bits(counts: &[u32; 256]) -> f64 {
    let total = counts.iter().map(|&c| f64::from(c)).sum::<f64>();
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c)).map(|c| -c * (c / total).log2()).sum()
}

/// JPEG quality (1..=100) for a Tight quality level 0..=9: 10, 20, ... 100.
pub(crate) fn jpeg_quality(level: u8) -> u8 {
    10 + 10 * level.min(9)
}

/// Tight's compact length: 7 bits per byte, at most three bytes.
fn put_compact_len(len: usize, out: &mut Vec<u8>) -> Result<(), DisplayError> {
    let (bytes, n) = compact_len(len)?;
    out.extend_from_slice(&bytes[..n]);
    Ok(())
}

/// Tight's compact length as bytes, and how many of them are used.
fn compact_len(len: usize) -> Result<([u8; 3], usize), DisplayError> {
    if len > MAX_COMPACT {
        return Err(DisplayError::Encoder {
            encoding: "Tight",
            reason: format!("data length {len} over {MAX_COMPACT}"),
        });
    }
    let byte = |v: usize| u8::try_from(v & 0xff).unwrap_or(0);
    Ok(if len < 0x80 {
        ([byte(len), 0, 0], 1)
    } else if len < 0x4000 {
        ([byte(len & 0x7f) | 0x80, byte(len >> 7), 0], 2)
    } else {
        ([byte(len & 0x7f) | 0x80, byte((len >> 7) & 0x7f) | 0x80, byte(len >> 14)], 3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_length_examples() {
        let enc = |len| {
            let mut out = Vec::new();
            put_compact_len(len, &mut out).unwrap();
            out
        };
        // rfbproto: decimal 10000 is 90 4E.
        assert_eq!(enc(10000), [0x90, 0x4e]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x80, 0x01]);
        assert_eq!(enc(MAX_COMPACT), [0xff, 0xff, 0xff]);
        assert!(put_compact_len(MAX_COMPACT + 1, &mut Vec::new()).is_err());
    }
}
