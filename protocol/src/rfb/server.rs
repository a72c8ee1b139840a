//! Server-to-client message headers (RFC 6143 7.6) and the ExtendedDesktopSize
//! SCREEN structure; the pixel data behind a rectangle header is the encoder's.

use super::common::{MAX_CUT_TEXT, SCREEN_LEN, Screen};
use super::error::RfbError;

/// RFC 6143 7.6.1 FramebufferUpdate message type.
pub const FRAMEBUFFER_UPDATE: u8 = 0;
/// RFC 6143 7.6.3 Bell message type.
pub const BELL: u8 = 2;
/// RFC 6143 7.6.4 ServerCutText message type.
pub const SERVER_CUT_TEXT: u8 = 3;
/// Length of a rectangle header (RFC 6143 7.6.1).
pub const RECT_HEADER_LEN: usize = 12;

/// RFC 6143 7.6.1: FramebufferUpdate header announcing `count` rectangles.
pub fn update_header(count: u16) -> [u8; 4] {
    let [hi, lo] = count.to_be_bytes();
    [FRAMEBUFFER_UPDATE, 0, hi, lo]
}

/// RFC 6143 7.6.3: Bell.
pub fn bell() -> [u8; 1] {
    [BELL]
}

/// RFC 6143 7.6.4: ServerCutText, at most [`MAX_CUT_TEXT`] bytes of Latin-1.
pub fn server_cut_text(text: &[u8]) -> Result<Vec<u8>, RfbError> {
    let len = text.len();
    let too_long = RfbError::TooLong { field: "ServerCutText length", len, max: MAX_CUT_TEXT };
    let len32 = u32::try_from(len).ok().filter(|_| len <= MAX_CUT_TEXT).ok_or(too_long)?;
    let mut out = Vec::with_capacity(8 + len);
    out.extend_from_slice(&[SERVER_CUT_TEXT, 0, 0, 0]);
    out.extend_from_slice(&len32.to_be_bytes());
    out.extend_from_slice(text);
    Ok(out)
}

/// RFC 6143 7.6.1: the header in front of each rectangle's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RectHeader {
    /// Left edge (for pseudo-encodings, whatever the extension says).
    pub x: u16,
    /// Top edge.
    pub y: u16,
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
    /// Encoding number ([`super::encoding`]).
    pub encoding: i32,
}

impl RectHeader {
    /// The 12 wire bytes.
    pub fn encode(&self) -> [u8; RECT_HEADER_LEN] {
        let mut out = [0u8; RECT_HEADER_LEN];
        out[0..2].copy_from_slice(&self.x.to_be_bytes());
        out[2..4].copy_from_slice(&self.y.to_be_bytes());
        out[4..6].copy_from_slice(&self.width.to_be_bytes());
        out[6..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..12].copy_from_slice(&self.encoding.to_be_bytes());
        out
    }

    /// Parse 12 wire bytes (for tests and tools that read updates).
    pub fn decode(b: &[u8; RECT_HEADER_LEN]) -> Self {
        Self {
            x: u16::from_be_bytes([b[0], b[1]]),
            y: u16::from_be_bytes([b[2], b[3]]),
            width: u16::from_be_bytes([b[4], b[5]]),
            height: u16::from_be_bytes([b[6], b[7]]),
            encoding: i32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

/// The ExtendedDesktopSize pseudo-rectangle (header and data): `reason` goes in
/// x-position (0 server, 1 this client, 2 another client), `status` in y-position
/// (0 success, 1 prohibited, ...), the framebuffer size in width and height.
pub fn extended_desktop_size(
    reason: u16,
    status: u16,
    width: u16,
    height: u16,
    screens: &[Screen],
) -> Result<Vec<u8>, RfbError> {
    let n = screens.len();
    let count =
        u8::try_from(n).map_err(|_| RfbError::TooLong { field: "ExtendedDesktopSize screens", len: n, max: 255 })?;
    let header = RectHeader { x: reason, y: status, width, height, encoding: super::encoding::EXTENDED_DESKTOP_SIZE };
    let mut out = Vec::with_capacity(RECT_HEADER_LEN + 4 + SCREEN_LEN * n);
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(&[count, 0, 0, 0]);
    screens.iter().for_each(|s| out.extend_from_slice(&s.encode()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encoding;

    #[test]
    fn known_bytes() {
        assert_eq!(update_header(0x0102), [0, 0, 1, 2]);
        assert_eq!(bell(), [2]);
        assert_eq!(server_cut_text(b"hi").unwrap(), [3, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        let rect = RectHeader { x: 1, y: 2, width: 640, height: 480, encoding: encoding::DESKTOP_SIZE };
        let bytes = rect.encode();
        assert_eq!(bytes, [0, 1, 0, 2, 2, 128, 1, 224, 0xff, 0xff, 0xff, 0x21]);
        assert_eq!(RectHeader::decode(&bytes), rect);
        let screen = Screen { id: 0x0102_0304, x: 5, y: 6, width: 7, height: 8, flags: 0x0a0b_0c0d };
        let bytes = screen.encode();
        assert_eq!(bytes, [1, 2, 3, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0xa, 0xb, 0xc, 0xd]);
        assert_eq!(Screen::decode(&bytes), screen);
        let eds = extended_desktop_size(1, 1, 800, 600, &[screen]).unwrap();
        assert_eq!(&eds[..12], &[0, 1, 0, 1, 3, 32, 2, 88, 0xff, 0xff, 0xfe, 0xcc]);
        assert_eq!(&eds[12..16], &[1, 0, 0, 0]);
        assert_eq!(eds.len(), 12 + 4 + 16);
    }

    #[test]
    fn bounds() {
        assert!(matches!(server_cut_text(&vec![0; MAX_CUT_TEXT + 1]), Err(RfbError::TooLong { .. })));
        let screens = vec![Screen { id: 0, x: 0, y: 0, width: 1, height: 1, flags: 0 }; 256];
        assert!(matches!(extended_desktop_size(0, 0, 1, 1, &screens), Err(RfbError::TooLong { .. })));
    }
}
