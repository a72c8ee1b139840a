//! PIXEL_FORMAT (RFC 6143 7.4) and the conversion of the server's 0x00RRGGBB pixels
//! into whatever true-colour format a client asked for.

use super::error::PixelFormatError;

/// Length of a PIXEL_FORMAT on the wire.
pub const PIXEL_FORMAT_LEN: usize = 16;

/// A pixel format (RFC 6143 7.4). Decoding accepts every bit pattern (the flags
/// normalised to bool, the padding dropped); [`PixelFormat::validate`] says whether
/// we serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PixelFormat {
    /// 8, 16 or 32.
    pub bits_per_pixel: u8,
    /// Useful bits in a pixel; informational.
    pub depth: u8,
    /// Multi-byte pixels are big-endian on the wire.
    pub big_endian: bool,
    /// The shifts and maxima below describe the pixel (no colour map).
    pub true_colour: bool,
    /// Largest red value (2^n - 1).
    pub red_max: u16,
    /// Largest green value (2^n - 1).
    pub green_max: u16,
    /// Largest blue value (2^n - 1).
    pub blue_max: u16,
    /// Red's bit position in the pixel value.
    pub red_shift: u8,
    /// Green's bit position in the pixel value.
    pub green_shift: u8,
    /// Blue's bit position in the pixel value.
    pub blue_shift: u8,
}

impl PixelFormat {
    /// The server's native format: 0x00RRGGBB as a little-endian 32-bit value, which
    /// is also what vnc-rs calls `bgra`.
    pub const RGB888: Self = Self {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// 16-bit 5-6-5 true colour, little-endian: what low-colour viewers ask for.
    pub const RGB565: Self = Self {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };

    /// 8-bit BGR233 true colour (blue in the top two bits), the lowest-colour format
    /// viewers such as TigerVNC's offer.
    pub const BGR233: Self = Self {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: true,
        red_max: 7,
        green_max: 7,
        blue_max: 3,
        red_shift: 0,
        green_shift: 3,
        blue_shift: 6,
    };

    /// The 16 wire bytes; padding is zero.
    pub fn encode(&self) -> [u8; PIXEL_FORMAT_LEN] {
        let [rh, rl] = self.red_max.to_be_bytes();
        let [gh, gl] = self.green_max.to_be_bytes();
        let [bh, bl] = self.blue_max.to_be_bytes();
        [
            self.bits_per_pixel,
            self.depth,
            u8::from(self.big_endian),
            u8::from(self.true_colour),
            rh,
            rl,
            gh,
            gl,
            bh,
            bl,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
            0,
            0,
            0,
        ]
    }

    /// Parse the 16 wire bytes; never fails (see [`PixelFormat::validate`]).
    pub fn decode(b: &[u8; PIXEL_FORMAT_LEN]) -> Self {
        Self {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            red_max: u16::from_be_bytes([b[4], b[5]]),
            green_max: u16::from_be_bytes([b[6], b[7]]),
            blue_max: u16::from_be_bytes([b[8], b[9]]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        }
    }

    /// Refuse what we do not serve: colour maps, bits-per-pixel other than 8/16/32,
    /// depth 0 or over bits-per-pixel, a channel maximum that is not 2^n - 1, a
    /// channel outside the pixel, channels sharing bits.
    pub fn validate(&self) -> Result<(), PixelFormatError> {
        if !self.true_colour {
            return Err(PixelFormatError::NotTrueColour);
        }
        let bpp = self.bits_per_pixel;
        if !matches!(bpp, 8 | 16 | 32) {
            return Err(PixelFormatError::BitsPerPixel { bpp });
        }
        if self.depth == 0 || self.depth > bpp {
            return Err(PixelFormatError::Depth { depth: self.depth, bpp });
        }
        let mut masks: [(&'static str, u64); 3] = [("red", 0), ("green", 0), ("blue", 0)];
        for (i, (channel, max, shift)) in self.channels().into_iter().enumerate() {
            let wide = u32::from(max) + 1;
            if max == 0 || !wide.is_power_of_two() {
                return Err(PixelFormatError::ChannelMax { channel, max });
            }
            let mask = u64::from(max) << u32::from(shift.min(63));
            if u32::from(shift) >= u32::from(bpp) || mask >> bpp != 0 {
                return Err(PixelFormatError::ChannelShift { channel, max, shift, bpp });
            }
            if let Some((first, _)) = masks[..i].iter().find(|(_, other)| other & mask != 0) {
                return Err(PixelFormatError::ChannelsOverlap { first, second: channel });
            }
            masks[i].1 = mask;
        }
        Ok(())
    }

    /// Bytes of one pixel on the wire (bits_per_pixel / 8, at least 1).
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8).max(1)
    }

    /// (name, max, shift) of red, green, blue.
    fn channels(&self) -> [(&'static str, u16, u8); 3] {
        [
            ("red", self.red_max, self.red_shift),
            ("green", self.green_max, self.green_shift),
            ("blue", self.blue_max, self.blue_shift),
        ]
    }

    /// The pixel value in this format of a 0x00RRGGBB colour: each 8-bit component
    /// scaled to its channel maximum (rounded) and shifted into place. Bits outside
    /// bits_per_pixel are dropped, so an unvalidated format cannot overflow.
    pub fn pixel_value(&self, rgb: u32) -> u32 {
        let [_, r, g, b] = rgb.to_be_bytes();
        let mut value = 0u64;
        for ((_, max, shift), c) in self.channels().into_iter().zip([r, g, b]) {
            let scaled = (u64::from(c) * u64::from(max) + 127) / 255;
            value |= scaled.checked_shl(u32::from(shift)).unwrap_or(0);
        }
        let keep = (1u64 << self.bits_per_pixel.min(32)) - 1;
        u32::try_from(value & keep & u64::from(u32::MAX)).unwrap_or(0)
    }

    /// Append the wire bytes of a 0x00RRGGBB colour: [`PixelFormat::bytes_per_pixel`]
    /// bytes in this format's byte order.
    pub fn put_pixel(&self, rgb: u32, out: &mut Vec<u8>) {
        let value = self.pixel_value(rgb);
        let bytes = if self.big_endian { value.to_be_bytes() } else { value.to_le_bytes() };
        match (self.bytes_per_pixel(), self.big_endian) {
            (4, _) => out.extend_from_slice(&bytes),
            (2, false) => out.extend_from_slice(&bytes[..2]),
            (2, true) => out.extend_from_slice(&bytes[2..]),
            (_, false) => out.push(bytes[0]),
            (_, true) => out.push(bytes[3]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6143 7.4 layout of the server's native format.
    const RGB888_BYTES: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

    #[test]
    fn rgb888_known_bytes_and_round_trip() {
        assert_eq!(PixelFormat::RGB888.encode(), RGB888_BYTES);
        assert_eq!(PixelFormat::decode(&RGB888_BYTES), PixelFormat::RGB888);
        assert_eq!(PixelFormat::RGB888.validate(), Ok(()));
        assert_eq!(PixelFormat::RGB888.bytes_per_pixel(), 4);
        let mut out = Vec::new();
        PixelFormat::RGB888.put_pixel(0x00_12_34_56, &mut out);
        assert_eq!(out, [0x56, 0x34, 0x12, 0x00]);
    }

    #[test]
    fn flags_normalise_and_padding_is_dropped() {
        let mut b = RGB888_BYTES;
        b[2] = 7;
        b[3] = 0xff;
        b[15] = 9;
        let pf = PixelFormat::decode(&b);
        assert!(pf.big_endian && pf.true_colour);
        assert_eq!(pf.encode()[2..4], [1, 1]);
        assert_eq!(pf.encode()[13..], [0, 0, 0]);
    }

    #[test]
    fn conversion_to_other_formats() {
        let rgb565_be = PixelFormat { big_endian: true, ..PixelFormat::RGB565 };
        assert_eq!(rgb565_be.validate(), Ok(()));
        let mut out = Vec::new();
        rgb565_be.put_pixel(0x00_ff_00_00, &mut out);
        rgb565_be.put_pixel(0x00_00_ff_00, &mut out);
        rgb565_be.put_pixel(0x00_00_00_ff, &mut out);
        assert_eq!(out, [0xf8, 0x00, 0x07, 0xe0, 0x00, 0x1f]);

        let bgr233 = PixelFormat::BGR233;
        assert_eq!(bgr233.validate(), Ok(()));
        let mut out = Vec::new();
        bgr233.put_pixel(0x00_ff_ff_ff, &mut out);
        bgr233.put_pixel(0x00_80_00_00, &mut out);
        assert_eq!(out, [0xff, 4]);

        let rgbx_be =
            PixelFormat { big_endian: true, red_shift: 24, green_shift: 16, blue_shift: 8, ..PixelFormat::RGB888 };
        let mut out = Vec::new();
        rgbx_be.put_pixel(0x00_12_34_56, &mut out);
        assert_eq!(out, [0x12, 0x34, 0x56, 0x00]);
    }

    #[test]
    fn validate_refuses_each_unserved_format() {
        let ok = PixelFormat::RGB888;
        let cases = [
            (PixelFormat { true_colour: false, ..ok }, PixelFormatError::NotTrueColour),
            (PixelFormat { bits_per_pixel: 24, ..ok }, PixelFormatError::BitsPerPixel { bpp: 24 }),
            (PixelFormat { depth: 0, ..ok }, PixelFormatError::Depth { depth: 0, bpp: 32 }),
            (PixelFormat { depth: 33, ..ok }, PixelFormatError::Depth { depth: 33, bpp: 32 }),
            (PixelFormat { red_max: 254, ..ok }, PixelFormatError::ChannelMax { channel: "red", max: 254 }),
            (PixelFormat { blue_max: 0, ..ok }, PixelFormatError::ChannelMax { channel: "blue", max: 0 }),
            (
                PixelFormat { green_shift: 32, ..ok },
                PixelFormatError::ChannelShift { channel: "green", max: 255, shift: 32, bpp: 32 },
            ),
            (
                PixelFormat { red_shift: 25, ..ok },
                PixelFormatError::ChannelShift { channel: "red", max: 255, shift: 25, bpp: 32 },
            ),
            (
                PixelFormat { green_shift: 12, ..ok },
                PixelFormatError::ChannelsOverlap { first: "red", second: "green" },
            ),
        ];
        for (pf, err) in cases {
            assert_eq!(pf.validate(), Err(err), "{pf:?}");
        }
    }

    #[test]
    fn unvalidated_formats_do_not_overflow() {
        let weird = PixelFormat { red_shift: 200, green_max: u16::MAX, green_shift: 31, ..PixelFormat::RGB888 };
        let mut out = Vec::new();
        weird.put_pixel(0x00_ff_ff_ff, &mut out);
        assert_eq!(out.len(), 4);
    }
}
