//! What both directions of RFB share: the cut-text limit and the screen layout of
//! ExtendedDesktopSize (sent by the server, asked for by the client's SetDesktopSize).

/// Most bytes of cut text either side accepts (RFC 6143 7.5.6, 7.6.4: Latin-1).
pub const MAX_CUT_TEXT: usize = 256 * 1024;

/// Length of a SCREEN structure (rfbproto "ExtendedDesktopSize Pseudo-encoding").
pub const SCREEN_LEN: usize = 16;

/// A head within the framebuffer (rfbproto "ExtendedDesktopSize Pseudo-encoding",
/// SCREEN); also carried by SetDesktopSize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// Stable identifier of the head.
    pub id: u32,
    /// Left edge within the framebuffer.
    pub x: u16,
    /// Top edge.
    pub y: u16,
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
    /// Flags; preserved, no meaning defined.
    pub flags: u32,
}

impl Screen {
    /// The 16 wire bytes.
    pub fn encode(&self) -> [u8; SCREEN_LEN] {
        let mut out = [0u8; SCREEN_LEN];
        out[0..4].copy_from_slice(&self.id.to_be_bytes());
        out[4..6].copy_from_slice(&self.x.to_be_bytes());
        out[6..8].copy_from_slice(&self.y.to_be_bytes());
        out[8..10].copy_from_slice(&self.width.to_be_bytes());
        out[10..12].copy_from_slice(&self.height.to_be_bytes());
        out[12..16].copy_from_slice(&self.flags.to_be_bytes());
        out
    }

    /// Parse 16 wire bytes.
    pub fn decode(b: &[u8; SCREEN_LEN]) -> Self {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Self { id: u32_at(0), x: u16_at(4), y: u16_at(6), width: u16_at(8), height: u16_at(10), flags: u32_at(12) }
    }
}
