//! Encoding and pseudo-encoding numbers (RFC 6143 7.7, 7.8; rfbproto "Encodings").
//!
//! SetEncodings carries them as S32; they stay plain `i32` so an unknown number is
//! kept and ignored, as the spec asks of a server.

/// RFC 6143 7.7.1: pixels as they are.
pub const RAW: i32 = 0;
/// RFC 6143 7.7.2: copy a rectangle the client already has.
pub const COPY_RECT: i32 = 1;
/// rfbproto "Tight Encoding".
pub const TIGHT: i32 = 7;
/// RFC 6143 7.7.6: zlib, 64x64 tiles, palettes and runs.
pub const ZRLE: i32 = 16;
/// RFC 6143 7.8.2: the client copes with a framebuffer size change.
pub const DESKTOP_SIZE: i32 = -223;
/// rfbproto "LastRect Pseudo-encoding".
pub const LAST_RECT: i32 = -224;
/// RFC 6143 7.8.1: the client draws the cursor itself.
pub const CURSOR: i32 = -239;
/// rfbproto "QEMU Extended Key Event Pseudo-encoding".
pub const QEMU_EXTENDED_KEY_EVENT: i32 = -258;
/// rfbproto "ExtendedDesktopSize Pseudo-encoding".
pub const EXTENDED_DESKTOP_SIZE: i32 = -308;
/// rfbproto "JPEG Quality Level Pseudo-encoding": level 0 (lowest quality) ...
pub const JPEG_QUALITY_LEVEL_0: i32 = -32;
/// ... to level 9 (highest quality).
pub const JPEG_QUALITY_LEVEL_9: i32 = -23;
/// rfbproto "Compression Level Pseudo-encoding": level 0 (fastest) ...
pub const COMPRESS_LEVEL_0: i32 = -256;
/// ... to level 9 (smallest).
pub const COMPRESS_LEVEL_9: i32 = -247;

/// The JPEG quality level 0..=9 a pseudo-encoding asks for, if it is one.
pub fn jpeg_quality_level(encoding: i32) -> Option<u8> {
    level_in(encoding, JPEG_QUALITY_LEVEL_0, JPEG_QUALITY_LEVEL_9)
}

/// The compression level 0..=9 a pseudo-encoding asks for, if it is one.
pub fn compress_level(encoding: i32) -> Option<u8> {
    level_in(encoding, COMPRESS_LEVEL_0, COMPRESS_LEVEL_9)
}

fn level_in(encoding: i32, lowest: i32, highest: i32) -> Option<u8> {
    if (lowest..=highest).contains(&encoding) { u8::try_from(encoding - lowest).ok() } else { None }
}

/// A short name for logs.
pub fn name(encoding: i32) -> &'static str {
    match encoding {
        RAW => "Raw",
        COPY_RECT => "CopyRect",
        TIGHT => "Tight",
        ZRLE => "ZRLE",
        DESKTOP_SIZE => "DesktopSize",
        LAST_RECT => "LastRect",
        CURSOR => "Cursor",
        QEMU_EXTENDED_KEY_EVENT => "QEMUExtendedKeyEvent",
        EXTENDED_DESKTOP_SIZE => "ExtendedDesktopSize",
        JPEG_QUALITY_LEVEL_0..=JPEG_QUALITY_LEVEL_9 => "JPEGQualityLevel",
        COMPRESS_LEVEL_0..=COMPRESS_LEVEL_9 => "CompressLevel",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(jpeg_quality_level(-32), Some(0));
        assert_eq!(jpeg_quality_level(-23), Some(9));
        assert_eq!(jpeg_quality_level(-33), None);
        assert_eq!(jpeg_quality_level(-22), None);
        assert_eq!(compress_level(-256), Some(0));
        assert_eq!(compress_level(-247), Some(9));
        assert_eq!(compress_level(-246), None);
        assert_eq!(name(ZRLE), "ZRLE");
        assert_eq!(name(-30), "JPEGQualityLevel");
    }
}
