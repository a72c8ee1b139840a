//! Our 0x00RRGGBB pixels in the client's format: whole PIXELs (RFC 6143 7.4), ZRLE's
//! CPIXEL (RFC 6143 7.7.6) and Tight's TPIXEL (rfbproto "Tight Encoding").

use cvmc_protocol::rfb::PixelFormat;

/// Writes pixels in one client format; the server's native format is a plain copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PixelWriter {
    pf: PixelFormat,
    native: bool,
    /// Which bytes of a little/big-endian PIXEL make a CPIXEL.
    cpixel: (usize, usize),
    /// TPIXEL is 3 bytes R, G, B.
    tpixel_rgb: bool,
}

impl PixelWriter {
    /// A writer for a validated format.
    pub(crate) fn new(pf: PixelFormat) -> Self {
        let bpp = pf.bytes_per_pixel();
        let mask = pf.pixel_value(0x00ff_ffff);
        let le = !pf.big_endian;
        // RFC 6143 7.7.6: 3-byte CPIXELs for 32 bpp, depth <= 24 formats whose colour
        // bits fit the least (preferred, as TigerVNC does) or the most significant 3 bytes.
        let cpixel = if pf.true_colour && pf.bits_per_pixel == 32 && pf.depth <= 24 {
            match (mask & 0xff00_0000 == 0, mask & 0xff == 0, le) {
                (true, _, true) | (false, true, false) => (0, 3),
                (true, _, false) | (false, true, true) => (1, 4),
                _ => (0, 4),
            }
        } else {
            (0, bpp)
        };
        let tpixel_rgb = pf.true_colour
            && pf.bits_per_pixel == 32
            && pf.depth == 24
            && [pf.red_max, pf.green_max, pf.blue_max] == [255; 3];
        Self { pf, native: pf == PixelFormat::RGB888, cpixel, tpixel_rgb }
    }

    /// The client's format.
    pub(crate) fn format(&self) -> &PixelFormat {
        &self.pf
    }

    /// Bytes of one PIXEL.
    pub(crate) fn bytes_per_pixel(&self) -> usize {
        self.pf.bytes_per_pixel()
    }

    /// Append whole PIXELs.
    pub(crate) fn put_row(&self, row: &[u32], out: &mut Vec<u8>) {
        if self.native {
            out.reserve(row.len() * 4);
            row.iter().for_each(|p| out.extend_from_slice(&p.to_le_bytes()));
        } else {
            row.iter().for_each(|&p| {
                let (bytes, len) = self.pixel_bytes(p);
                out.extend_from_slice(&bytes[..len]);
            });
        }
    }

    /// Bytes of one CPIXEL.
    pub(crate) fn cpixel_len(&self) -> usize {
        self.cpixel.1 - self.cpixel.0
    }

    /// One PIXEL's wire bytes and how many of the 4 are used.
    fn pixel_bytes(&self, rgb: u32) -> ([u8; 4], usize) {
        if self.native {
            return (rgb.to_le_bytes(), 4);
        }
        let value = self.pf.pixel_value(rgb);
        let be = self.pf.big_endian;
        let b = if be { value.to_be_bytes() } else { value.to_le_bytes() };
        match (self.bytes_per_pixel(), be) {
            (4, _) => (b, 4),
            (2, true) => ([b[2], b[3], 0, 0], 2),
            (2, false) => (b, 2),
            (_, true) => ([b[3], 0, 0, 0], 1),
            (_, false) => (b, 1),
        }
    }

    /// Append one CPIXEL.
    pub(crate) fn put_cpixel(&self, rgb: u32, out: &mut Vec<u8>) {
        let (bytes, len) = self.pixel_bytes(rgb);
        out.extend_from_slice(&bytes[self.cpixel.0..self.cpixel.1.min(len)]);
    }

    /// TPIXELs are the three bytes R, G, B (8-bit channels in 32-bit pixels).
    pub(crate) fn tpixel_is_rgb(&self) -> bool {
        self.tpixel_rgb
    }

    /// Bytes of one TPIXEL.
    #[cfg(test)]
    pub(crate) fn tpixel_len(&self) -> usize {
        if self.tpixel_rgb { 3 } else { self.bytes_per_pixel() }
    }

    /// Append a row of TPIXELs.
    pub(crate) fn put_tpixel_row(&self, row: &[u32], out: &mut Vec<u8>) {
        if self.tpixel_rgb {
            let start = out.len();
            out.resize(start + row.len() * 3, 0);
            for (dst, &rgb) in out[start..].chunks_exact_mut(3).zip(row) {
                let [_, r, g, b] = rgb.to_be_bytes();
                dst.copy_from_slice(&[r, g, b]);
            }
        } else {
            row.iter().for_each(|&c| self.put_tpixel(c, out));
        }
    }

    /// Append one TPIXEL.
    pub(crate) fn put_tpixel(&self, rgb: u32, out: &mut Vec<u8>) {
        if self.tpixel_rgb {
            // Every channel is 8 bits wide here, so the client's R, G, B bytes are ours.
            let [_, r, g, b] = rgb.to_be_bytes();
            out.extend_from_slice(&[r, g, b]);
        } else {
            let (bytes, len) = self.pixel_bytes(rgb);
            out.extend_from_slice(&bytes[..len]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_and_other_formats() {
        let native = PixelWriter::new(PixelFormat::RGB888);
        let mut out = Vec::new();
        native.put_row(&[0x00_11_22_33], &mut out);
        native.put_cpixel(0x00_11_22_33, &mut out);
        native.put_tpixel(0x00_11_22_33, &mut out);
        assert_eq!(out, [0x33, 0x22, 0x11, 0, 0x33, 0x22, 0x11, 0x11, 0x22, 0x33]);
        assert_eq!((native.cpixel_len(), native.tpixel_len()), (3, 3));

        // Big-endian RGBX: colour in the most significant 3 bytes, first on the wire.
        let rgbx =
            PixelFormat { big_endian: true, red_shift: 24, green_shift: 16, blue_shift: 8, ..PixelFormat::RGB888 };
        let w = PixelWriter::new(rgbx);
        let mut out = Vec::new();
        w.put_cpixel(0x00_11_22_33, &mut out);
        w.put_tpixel(0x00_11_22_33, &mut out);
        assert_eq!(out, [0x11, 0x22, 0x33, 0x11, 0x22, 0x33]);

        // Little-endian XBGR with the colour high: CPIXEL is the top 3 bytes, last on the wire.
        let xbgr = PixelFormat { red_shift: 8, green_shift: 16, blue_shift: 24, ..PixelFormat::RGB888 };
        let w = PixelWriter::new(xbgr);
        let mut out = Vec::new();
        w.put_cpixel(0x00_11_22_33, &mut out);
        assert_eq!(out, [0x11, 0x22, 0x33]);

        let w = PixelWriter::new(PixelFormat::RGB565);
        assert_eq!((w.cpixel_len(), w.tpixel_len(), w.bytes_per_pixel()), (2, 2, 2));
        let mut out = Vec::new();
        w.put_tpixel(0x00_ff_00_00, &mut out);
        assert_eq!(out, [0x00, 0xf8]);
    }

    #[test]
    fn a_row_of_tpixels_is_the_pixels_one_by_one() {
        let row: Vec<u32> = (0..37u32).map(|i| i.wrapping_mul(0x0012_3457) & 0x00ff_ffff).collect();
        for pf in [PixelFormat::RGB888, PixelFormat::RGB565] {
            let w = PixelWriter::new(pf);
            let (mut whole, mut single) = (vec![9u8], vec![9u8]);
            w.put_tpixel_row(&row, &mut whole);
            row.iter().for_each(|&c| w.put_tpixel(c, &mut single));
            assert_eq!(whole, single, "{pf:?}");
        }
    }
}
