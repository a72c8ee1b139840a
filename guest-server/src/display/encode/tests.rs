//! Every encoding, through a small reference decoder, in several client formats:
//! the decoded pixel values must equal the source converted with `pixel_value`.

use flate2::{Decompress, FlushDecompress};

use super::*;
use crate::display::pattern::PatternSource;

fn formats() -> Vec<PixelFormat> {
    let rgb565_be = PixelFormat { big_endian: true, ..PixelFormat::RGB565 };
    let rgbx_be =
        PixelFormat { big_endian: true, red_shift: 24, green_shift: 16, blue_shift: 8, ..PixelFormat::RGB888 };
    vec![PixelFormat::RGB888, rgb565_be, PixelFormat::BGR233, rgbx_be]
}

/// Reads the encoder's output back.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
}

fn value_of(bytes: &[u8], pf: &PixelFormat) -> u32 {
    let mut b = [0u8; 4];
    if pf.big_endian {
        b[4 - bytes.len()..].copy_from_slice(bytes);
        u32::from_be_bytes(b)
    } else {
        b[..bytes.len()].copy_from_slice(bytes);
        u32::from_le_bytes(b)
    }
}

fn inflate(z: &mut Decompress, data: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    z.decompress_vec(data, &mut out, FlushDecompress::Sync).unwrap();
    assert_eq!(out.len(), len);
    out
}

fn zrle(r: &mut Reader<'_>, z: &mut Decompress, rect: Rect, px: &PixelWriter) -> Vec<u32> {
    let pf = *px.format();
    let len = usize::try_from(u32::from_be_bytes(r.take(4).try_into().unwrap())).unwrap();
    let mut plain = Vec::with_capacity(1 << 20);
    z.decompress_vec(r.take(len), &mut plain, FlushDecompress::Sync).unwrap();
    let mut t = Reader { buf: &plain, pos: 0 };
    let cp = px.cpixel_len();
    let cpixel = |t: &mut Reader<'_>| -> u32 {
        let bytes = t.take(cp);
        if cp == 3 && pf.bits_per_pixel == 32 {
            let mut full = [0u8; 4];
            // The 3 bytes are the low ones (LE: first; BE: last) or the high ones.
            let low = pf.pixel_value(0xffffff) & 0xff00_0000 == 0;
            let at = usize::from(low == pf.big_endian);
            full[at..at + 3].copy_from_slice(bytes);
            value_of(&full, &pf)
        } else {
            value_of(bytes, &pf)
        }
    };
    let mut out = vec![0u32; rect.pixels()];
    for ty in (0..rect.h).step_by(64) {
        for tx in (0..rect.w).step_by(64) {
            let (tw, th) = (64.min(rect.w - tx), 64.min(rect.h - ty));
            let mut tile = Vec::new();
            let sub = t.u8();
            let palette: Vec<u32> = (0..usize::from(sub & 0x7f)).map(|_| cpixel(&mut t)).collect();
            let n = usize::from(tw) * usize::from(th);
            let run = |t: &mut Reader<'_>| {
                let mut len = 1;
                loop {
                    let b = t.u8();
                    len += usize::from(b);
                    if b != 255 {
                        return len;
                    }
                }
            };
            match sub {
                0 => tile.extend((0..n).map(|_| cpixel(&mut t))),
                1 => tile.resize(n, palette[0]),
                2..=16 => {
                    let bits = match sub {
                        2 => 1,
                        3 | 4 => 2,
                        _ => 4,
                    };
                    for _ in 0..th {
                        let bytes = t.take((usize::from(tw) * bits).div_ceil(8));
                        for x in 0..usize::from(tw) {
                            let bit = x * bits;
                            let i = (bytes[bit / 8] >> (8 - bits - bit % 8)) & ((1 << bits) - 1);
                            tile.push(palette[usize::from(i)]);
                        }
                    }
                }
                128 => {
                    while tile.len() < n {
                        let c = cpixel(&mut t);
                        let len = run(&mut t);
                        tile.extend(std::iter::repeat_n(c, len));
                    }
                }
                130..=255 => {
                    while tile.len() < n {
                        let i = t.u8();
                        let len = if i & 0x80 != 0 { run(&mut t) } else { 1 };
                        tile.extend(std::iter::repeat_n(palette[usize::from(i & 0x7f)], len));
                    }
                }
                _ => panic!("subencoding {sub}"),
            }
            assert_eq!(tile.len(), n);
            for (i, v) in tile.into_iter().enumerate() {
                let (x, y) = (usize::from(tx) + i % usize::from(tw), usize::from(ty) + i / usize::from(tw));
                out[y * usize::from(rect.w) + x] = v;
            }
        }
    }
    assert_eq!(t.pos, plain.len());
    out
}

fn tight(r: &mut Reader<'_>, zs: &mut [Decompress; 4], rect: Rect, px: &PixelWriter) -> Option<Vec<u32>> {
    let pf = *px.format();
    let tpixel = |b: &[u8]| {
        if b.len() == 3 && px.tpixel_len() == 3 {
            pf.pixel_value(u32::from_be_bytes([0, b[0], b[1], b[2]]))
        } else {
            value_of(b, &pf)
        }
    };
    let ctrl = r.u8();
    for (i, z) in zs.iter_mut().enumerate() {
        if ctrl & (1 << i) != 0 {
            *z = Decompress::new(true);
        }
    }
    let n = rect.pixels();
    let tl = px.tpixel_len();
    let mut data = |r: &mut Reader<'_>, stream: usize, len: usize| -> Vec<u8> {
        if len < 12 {
            return r.take(len).to_vec();
        }
        let clen = compact(r);
        inflate(&mut zs[stream], r.take(clen), len)
    };
    match ctrl >> 4 {
        8 => Some(vec![tpixel(r.take(tl)); n]),
        9 => {
            let len = compact(r);
            let jfif = r.take(len);
            assert_eq!(&jfif[..2], &[0xff, 0xd8]);
            None
        }
        c if c & 0x8 == 0 => {
            let stream = usize::from(c & 3);
            if c & 4 == 0 {
                let raw = data(r, stream, n * tl);
                return Some(raw.chunks(tl).map(tpixel).collect());
            }
            if r.u8() == 2 {
                // GradientFilter, decoded as rfbproto describes it.
                assert_eq!(tl, 3, "gradient only with RGB TPIXELs");
                let (w, h) = (usize::from(rect.w), usize::from(rect.h));
                let res = data(r, stream, n * 3);
                let mut rgb = vec![0u8; n * 3];
                for y in 0..h {
                    for x in 0..w {
                        for c in 0..3 {
                            let at = |x: usize, y: usize| i32::from(rgb[(y * w + x) * 3 + c]);
                            let left = if x > 0 { at(x - 1, y) } else { 0 };
                            let up = if y > 0 { at(x, y - 1) } else { 0 };
                            let up_left = if x > 0 && y > 0 { at(x - 1, y - 1) } else { 0 };
                            let p = u8::try_from((left + up - up_left).clamp(0, 255)).unwrap();
                            rgb[(y * w + x) * 3 + c] = p.wrapping_add(res[(y * w + x) * 3 + c]);
                        }
                    }
                }
                return Some(rgb.chunks(3).map(tpixel).collect());
            }
            let colours = usize::from(r.u8()) + 1;
            let palette: Vec<u32> = (0..colours).map(|_| tpixel(r.take(tl))).collect();
            let w = usize::from(rect.w);
            if colours == 2 {
                let raw = data(r, stream, w.div_ceil(8) * usize::from(rect.h));
                let row_bytes = w.div_ceil(8);
                Some(
                    (0..n)
                        .map(|i| palette[usize::from((raw[i / w * row_bytes + i % w / 8] >> (7 - i % w % 8)) & 1)])
                        .collect(),
                )
            } else {
                Some(data(r, stream, n).into_iter().map(|i| palette[usize::from(i)]).collect())
            }
        }
        other => panic!("ctrl {other}"),
    }
}

fn compact(r: &mut Reader<'_>) -> usize {
    let b0 = usize::from(r.u8());
    let mut len = b0 & 0x7f;
    if b0 & 0x80 != 0 {
        let b1 = usize::from(r.u8());
        len |= (b1 & 0x7f) << 7;
        if b1 & 0x80 != 0 {
            len |= usize::from(r.u8()) << 14;
        }
    }
    len
}

fn expected(frame: &ScreenImage, rect: Rect, pf: &PixelFormat) -> Vec<u32> {
    (rect.y..rect.y + rect.h)
        .flat_map(|y| frame.row(y)[usize::from(rect.x)..usize::from(rect.x + rect.w)].to_vec())
        .map(|c| pf.pixel_value(c))
        .collect()
}

#[test]
fn every_encoding_round_trips_in_every_format() {
    let p = PatternSource::new(300, 200);
    let frames = [p.frame_at(0), p.frame_at(1), ScreenImage::filled(300, 200, 0x123456)];
    for pf in formats() {
        let px = writer_for(pf).unwrap();
        for e in [encoding::RAW, encoding::ZRLE, encoding::TIGHT] {
            let enc = ClientEncodings::from_list(&[e, encoding::COMPRESS_LEVEL_0 + 6]);
            let mut encoders = Encoders::new();
            let mut zs = [Decompress::new(true), Decompress::new(true), Decompress::new(true), Decompress::new(true)];
            for frame in &frames {
                for rect in [Rect::of(frame), Rect::new(7, 3, 131, 70), Rect::new(299, 199, 1, 1)] {
                    for piece in pieces(rect) {
                        let mut out = Vec::new();
                        encoders.encode(frame, piece, &px, &enc, &mut out).unwrap();
                        let mut r = Reader { buf: &out, pos: 0 };
                        let header = RectHeader::decode(r.take(12).try_into().unwrap());
                        assert_eq!(
                            (header.x, header.y, header.width, header.height, header.encoding),
                            (piece.x, piece.y, piece.w, piece.h, e)
                        );
                        let got = match e {
                            encoding::RAW => r
                                .take(piece.pixels() * pf.bytes_per_pixel())
                                .chunks(pf.bytes_per_pixel())
                                .map(|b| value_of(b, &pf))
                                .collect(),
                            encoding::ZRLE => zrle(&mut r, &mut zs[0], piece, &px),
                            _ => tight(&mut r, &mut zs, piece, &px).unwrap(),
                        };
                        assert_eq!(r.pos, out.len(), "{pf:?} {e} {piece:?}: trailing bytes");
                        assert!(got == expected(frame, piece, &pf), "{pf:?} encoding {e} {piece:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn tight_jpeg_only_when_asked_and_for_many_colours() {
    let frame = PatternSource::new(640, 480).frame_at(0);
    let px = writer_for(PixelFormat::RGB888).unwrap();
    let photo = Rect::new(336, 160, 256, 64); // inside the photo-like region
    let mut enc = Encoders::new();
    let mut out = Vec::new();
    let lossless = ClientEncodings::from_list(&[encoding::TIGHT]);
    enc.encode(&frame, photo, &px, &lossless, &mut out).unwrap();
    assert_eq!(out[12] & 0x80, 0, "basic compression, not JPEG");
    out.clear();
    let jpeg = ClientEncodings::from_list(&[encoding::TIGHT, encoding::JPEG_QUALITY_LEVEL_0 + 8]);
    enc.encode(&frame, photo, &px, &jpeg, &mut out).unwrap();
    assert_eq!(out[12], 0x90, "JpegCompression");
    let mut r = Reader { buf: &out[12..], pos: 0 };
    let mut zs = [Decompress::new(true), Decompress::new(true), Decompress::new(true), Decompress::new(true)];
    assert!(tight(&mut r, &mut zs, photo, &px).is_none());
    assert_eq!(r.pos, out.len() - 12);
    // Text-like content stays lossless even with a quality level.
    out.clear();
    enc.encode(&frame, Rect::new(40, 160, 256, 64), &px, &jpeg, &mut out).unwrap();
    assert_eq!(out[12] & 0xc0, 0x40, "palette filter");
}

#[test]
fn preferences_follow_the_client_order() {
    let e = ClientEncodings::from_list(&[encoding::DESKTOP_SIZE, encoding::TIGHT, encoding::ZRLE, encoding::RAW]);
    assert_eq!(e.pixel, encoding::TIGHT);
    assert!(e.desktop_size && !e.copy_rect && e.jpeg_quality.is_none());
    let e = ClientEncodings::from_list(&[encoding::ZRLE, encoding::TIGHT, encoding::JPEG_QUALITY_LEVEL_9, -250]);
    assert_eq!((e.pixel, e.jpeg_quality, e.level), (encoding::ZRLE, Some(9), Some(6)));
    assert_eq!(ClientEncodings::from_list(&[encoding::ZRLE]).level, None, "each encoding has its default");
    assert_eq!(ClientEncodings::from_list(&[12345]).pixel, encoding::RAW);
    let ps: Vec<Rect> = pieces(Rect::new(0, 10, 5000, 130)).collect();
    assert_eq!(ps.len(), 9);
    assert_eq!(ps[2], Rect::new(4096, 10, 904, 64));
    assert_eq!(ps[8], Rect::new(4096, 138, 904, 2));
}

/// A smooth, photograph-like picture: shading plus a little deterministic noise, with
/// more than 256 colours in every rectangle.
fn smooth(width: u16, height: u16) -> ScreenImage {
    let mut f = ScreenImage::filled(width, height, 0);
    let mut seed = 0x2545_f491_u32;
    for y in 0..height {
        for (x, px) in f.pixels[usize::from(y) * usize::from(width)..][..usize::from(width)].iter_mut().enumerate() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let noise = (seed >> 16) % 7;
            let x = u32::try_from(x).unwrap();
            let (r, g, b) =
                ((x / 3 + noise) & 0xff, (u32::from(y) / 2 + noise) & 0xff, ((x + u32::from(y)) / 5) & 0xff);
            *px = (r << 16) | (g << 8) | b;
        }
    }
    f
}

#[test]
fn tight_uses_the_gradient_filter_where_it_pays_and_round_trips() {
    let px = writer_for(PixelFormat::RGB888).unwrap();
    let lossless = ClientEncodings::from_list(&[encoding::TIGHT]);
    let mut enc = Encoders::new();
    let mut zs = [Decompress::new(true), Decompress::new(true), Decompress::new(true), Decompress::new(true)];
    // Smooth shading: gradient residuals (stream 3, explicit filter 2), and smaller
    // than the same rectangle with the CopyFilter.
    let photo = smooth(256, 96);
    let rect = Rect::of(&photo);
    let mut out = Vec::new();
    enc.encode(&photo, rect, &px, &lossless, &mut out).unwrap();
    assert_eq!((out[12], out[13]), (0x70, 2), "stream 3, gradient filter");
    let mut r = Reader { buf: &out[12..], pos: 0 };
    assert!(tight(&mut r, &mut zs, rect, &px).unwrap() == expected(&photo, rect, px.format()));
    assert_eq!(r.pos, out.len() - 12);
    let mut rgb = Vec::new();
    for y in 0..rect.h {
        photo.row(y).iter().for_each(|&c| px.put_tpixel(c, &mut rgb));
    }
    let copy = zlib_len(&rgb);
    assert!(out.len() - 12 < copy * 9 / 10, "gradient {} B vs copy {copy} B", out.len() - 12);
    // Whatever the filter, never clearly worse than the CopyFilter alone: the pattern's
    // photo-like, text and flat regions and the whole frame, each with fresh streams.
    let pattern = PatternSource::new(640, 480).frame_at(0);
    for rect in
        [Rect::of(&pattern), Rect::new(320, 0, 320, 240), Rect::new(40, 160, 256, 64), Rect::new(0, 0, 320, 240)]
    {
        let (mut enc, mut out) = (Encoders::new(), Vec::new());
        enc.encode(&pattern, rect, &px, &lossless, &mut out).unwrap();
        let mut zs = [Decompress::new(true), Decompress::new(true), Decompress::new(true), Decompress::new(true)];
        let mut r = Reader { buf: &out[12..], pos: 0 };
        assert!(tight(&mut r, &mut zs, rect, &px).unwrap() == expected(&pattern, rect, px.format()));
        let mut rgb = Vec::new();
        for y in rect.y..rect.y + rect.h {
            let row = &pattern.row(y)[usize::from(rect.x)..usize::from(rect.x + rect.w)];
            row.iter().for_each(|&c| px.put_tpixel(c, &mut rgb));
        }
        let copy = zlib_len(&rgb);
        assert!(out.len() - 12 <= copy + 8, "{rect:?}: {} B chosen vs copy filter {copy} B", out.len() - 12);
    }
    // Formats whose TPIXELs are not R, G, B bytes never get the gradient filter.
    for pf in formats().into_iter().filter(|pf| !writer_for(*pf).unwrap().tpixel_is_rgb()) {
        let px = writer_for(pf).unwrap();
        out.clear();
        Encoders::new().encode(&photo, rect, &px, &lossless, &mut out).unwrap();
        assert!(!(out[12] & 0x40 != 0 && out[13] == 2), "{pf:?}: gradient filter");
    }
}

fn zlib_len(data: &[u8]) -> usize {
    let mut z = flate2::Compress::new(flate2::Compression::new(2), true);
    let mut out = Vec::with_capacity(data.len() + 1024);
    z.compress_vec(data, &mut out, flate2::FlushCompress::Sync).unwrap();
    out.len()
}
