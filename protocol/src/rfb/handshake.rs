//! The RFB handshake (RFC 6143 7.1, 7.3): version, security type None, ClientInit,
//! ServerInit.

use super::error::RfbError;
use super::pixel::PixelFormat;
use crate::codec::truncate_utf8;

/// RFC 6143 7.1.1: the only version we speak.
pub const VERSION_3_8: &[u8; 12] = b"RFB 003.008\n";
/// Length of a ProtocolVersion message.
pub const VERSION_LEN: usize = 12;
/// RFC 6143 7.2.1: security type None.
pub const SECURITY_NONE: u8 = 1;
/// RFC 6143 7.1.3: SecurityResult OK.
pub const SECURITY_RESULT_OK: [u8; 4] = [0, 0, 0, 0];
/// Longest desktop name or failure reason we send (ServerInit name-length, 7.3.2).
pub const MAX_NAME: usize = 1024;

/// A version a client announced (RFC 6143 7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfbVersion {
    /// The three digits after "RFB ".
    pub major: u16,
    /// The three digits after the dot.
    pub minor: u16,
}

impl RfbVersion {
    /// RFB 3.8, the version we serve.
    pub const V3_8: Self = Self { major: 3, minor: 8 };

    /// RFC 6143 7.1.1: anything below 3.7 (and unknown 3.x versions such as 3.889)
    /// is to be treated as 3.3, whose failure reporting differs.
    pub fn is_3_3_like(&self) -> bool {
        !(self.major == 3 && (self.minor == 7 || self.minor == 8))
    }

    /// Refuse anything but 3.8.
    pub fn require_3_8(self) -> Result<(), RfbError> {
        if self == Self::V3_8 {
            Ok(())
        } else {
            Err(RfbError::UnsupportedVersion { major: self.major, minor: self.minor })
        }
    }
}

/// Parse the client's `RFB xxx.yyy\n` (RFC 6143 7.1.1).
pub fn parse_version(bytes: &[u8; VERSION_LEN]) -> Result<RfbVersion, RfbError> {
    let bad = || RfbError::BadVersion { got: String::from_utf8_lossy(bytes).into_owned() };
    if &bytes[..4] != b"RFB " || bytes[7] != b'.' || bytes[11] != b'\n' {
        return Err(bad());
    }
    let digits = |d: &[u8]| -> Option<u16> {
        d.iter().try_fold(0u16, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0')))
    };
    match (digits(&bytes[4..7]), digits(&bytes[8..11])) {
        (Some(major), Some(minor)) => Ok(RfbVersion { major, minor }),
        _ => Err(bad()),
    }
}

/// RFC 6143 7.1.2: the security types offered by a 3.7+ server: one, None.
pub fn security_types_none() -> [u8; 2] {
    [1, SECURITY_NONE]
}

/// RFC 6143 7.1.2: check the type the client chose.
pub fn check_security_choice(chosen: u8) -> Result<(), RfbError> {
    if chosen == SECURITY_NONE { Ok(()) } else { Err(RfbError::SecurityType { chosen }) }
}

/// RFC 6143 7.1.2: refuse the connection before any security type is chosen: for
/// 3.7+ zero types and a reason; for 3.3 the u32 security type 0 and a reason.
pub fn connection_failed(version: RfbVersion, reason: &str) -> Vec<u8> {
    let mut out = if version.is_3_3_like() { vec![0, 0, 0, 0] } else { vec![0] };
    put_string(&mut out, reason);
    out
}

/// RFC 6143 7.1.3: SecurityResult failed (3.8) with a reason.
pub fn security_result_failed(reason: &str) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 1];
    put_string(&mut out, reason);
    out
}

/// A u32-length-prefixed string, cut at [`MAX_NAME`] bytes (on a char boundary).
fn put_string(out: &mut Vec<u8>, s: &str) {
    let s = truncate_utf8(s, MAX_NAME);
    let len = u32::try_from(s.len()).unwrap_or(0); // MAX_NAME fits
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// ClientInit (RFC 6143 7.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInit {
    /// Leave other clients connected. We always share; the flag is only logged.
    pub shared: bool,
}

impl ClientInit {
    /// The one byte.
    pub fn decode(byte: u8) -> Self {
        Self { shared: byte != 0 }
    }

    /// The one byte.
    pub fn encode(&self) -> u8 {
        u8::from(self.shared)
    }
}

/// ServerInit (RFC 6143 7.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// The server's natural pixel format.
    pub pixel_format: PixelFormat,
    /// Desktop name, UTF-8, at most [`MAX_NAME`] bytes.
    pub name: String,
}

impl ServerInit {
    /// The wire bytes; a name over [`MAX_NAME`] is refused.
    pub fn encode(&self) -> Result<Vec<u8>, RfbError> {
        let len = self.name.len();
        if len > MAX_NAME {
            return Err(RfbError::TooLong { field: "desktop name", len, max: MAX_NAME });
        }
        let mut out = Vec::with_capacity(24 + len);
        out.extend_from_slice(&self.width.to_be_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.pixel_format.encode());
        put_string(&mut out, &self.name);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        // RFC 6143 7.1.1: hex 52 46 42 20 30 30 33 2e 30 30 38 0a.
        assert_eq!(VERSION_3_8, &[0x52, 0x46, 0x42, 0x20, 0x30, 0x30, 0x33, 0x2e, 0x30, 0x30, 0x38, 0x0a]);
        assert_eq!(parse_version(VERSION_3_8), Ok(RfbVersion::V3_8));
        assert_eq!(parse_version(VERSION_3_8).and_then(RfbVersion::require_3_8), Ok(()));
        let v33 = parse_version(b"RFB 003.003\n").unwrap();
        assert!(v33.is_3_3_like());
        assert_eq!(v33.require_3_8(), Err(RfbError::UnsupportedVersion { major: 3, minor: 3 }));
        let v37 = parse_version(b"RFB 003.007\n").unwrap();
        assert!(!v37.is_3_3_like());
        assert!(parse_version(b"RFB 003.889\n").unwrap().is_3_3_like());
        for garbage in [b"GET / HTTP/1", b"RFB 003.008 ", b"RFB 0x3.008\n", b"\0\0\0\0\0\0\0\0\0\0\0\0"] {
            assert!(matches!(parse_version(garbage), Err(RfbError::BadVersion { .. })), "{garbage:?}");
        }
    }

    #[test]
    fn security_and_failures() {
        assert_eq!(security_types_none(), [1, 1]);
        assert_eq!(check_security_choice(1), Ok(()));
        assert_eq!(check_security_choice(2), Err(RfbError::SecurityType { chosen: 2 }));
        assert_eq!(connection_failed(RfbVersion::V3_8, "no"), [0, 0, 0, 0, 2, b'n', b'o']);
        assert_eq!(connection_failed(RfbVersion { major: 3, minor: 3 }, "no"), [0, 0, 0, 0, 0, 0, 0, 2, b'n', b'o']);
        assert_eq!(security_result_failed("x"), [0, 0, 0, 1, 0, 0, 0, 1, b'x']);
        let long = "é".repeat(MAX_NAME);
        let failed = security_result_failed(&long);
        assert_eq!(failed.len(), 8 + MAX_NAME);
    }

    #[test]
    fn server_init_known_bytes_and_bound() {
        let init = ServerInit { width: 640, height: 480, pixel_format: PixelFormat::RGB888, name: "vm".into() };
        let mut want = vec![0x02, 0x80, 0x01, 0xe0];
        want.extend_from_slice(&PixelFormat::RGB888.encode());
        want.extend_from_slice(&[0, 0, 0, 2, b'v', b'm']);
        assert_eq!(init.encode().unwrap(), want);
        let long = ServerInit { name: "x".repeat(MAX_NAME + 1), ..init };
        assert!(matches!(long.encode(), Err(RfbError::TooLong { len: 1025, .. })));
        assert!(ClientInit::decode(7).shared);
        assert_eq!(ClientInit { shared: false }.encode(), 0);
    }
}
