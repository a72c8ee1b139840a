//! Screen sources behind the RFB server, chosen by `--display`:
//!
//! ```text
//! fbdev:/dev/fbN   a guest-private framebuffer (vkms), mmap'd        -> FbdevSource
//! pattern[:WxH]    an animated synthetic screen (demo, benchmarks)     -> PatternSource
//! vnc:ADDR         an in-guest VNC server, proxied byte for byte       -> (no frames: a proxy)
//! none             no display channel
//! ```

pub mod fbdev;

use std::path::PathBuf;

/// What `--display` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplaySpec {
    /// No display channel.
    None,
    /// The synthetic pattern, at this size (`pattern` is 1024x768).
    Pattern {
        /// Width in pixels.
        width: u16,
        /// Height in pixels.
        height: u16,
    },
    /// A framebuffer device.
    Fbdev {
        /// Device path.
        path: PathBuf,
    },
    /// An in-guest VNC server: a unix socket path or a loopback `host:port`.
    Vnc {
        /// Where it listens.
        target: VncTarget,
    },
}

/// Where an in-guest VNC server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VncTarget {
    /// A unix socket.
    Unix(PathBuf),
    /// A TCP address on this guest's loopback.
    Tcp(std::net::SocketAddr),
}

impl DisplaySpec {
    /// `pattern`: the synthetic screen at 1024x768.
    pub const PATTERN: Self = Self::Pattern { width: 1024, height: 768 };
    /// The largest pattern side (a frame is width x height x 4 bytes, held a few times).
    pub const MAX_PATTERN_SIDE: u16 = 8192;
}

impl std::fmt::Display for DisplaySpec {
    /// The `--display` text that parses back to this spec.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Pattern { width, height } => write!(f, "pattern:{width}x{height}"),
            Self::Fbdev { path } => write!(f, "fbdev:{}", path.display()),
            Self::Vnc { target: VncTarget::Unix(path) } => write!(f, "vnc:{}", path.display()),
            Self::Vnc { target: VncTarget::Tcp(addr) } => write!(f, "vnc:{addr}"),
        }
    }
}

/// A `--display` value that names no source we serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--display {0}")]
pub struct DisplaySpecError(String);

impl std::str::FromStr for DisplaySpec {
    type Err = DisplaySpecError;

    fn from_str(s: &str) -> Result<Self, DisplaySpecError> {
        Self::parse(s).map_err(DisplaySpecError)
    }
}

impl DisplaySpec {
    fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(Self::None);
        }
        if s == "pattern" {
            return Ok(Self::PATTERN);
        }
        if let Some(size) = s.strip_prefix("pattern:") {
            let bad = || format!("pattern:{size}: the size must be WIDTHxHEIGHT, e.g. pattern:1920x1080");
            let (w, h) = size.split_once('x').ok_or_else(bad)?;
            let (width, height): (u16, u16) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
            let max = Self::MAX_PATTERN_SIDE;
            if !(16..=max).contains(&width) || !(16..=max).contains(&height) {
                return Err(format!("pattern:{size}: each side must be 16 to {max} pixels"));
            }
            return Ok(Self::Pattern { width, height });
        }
        if let Some(path) = s.strip_prefix("fbdev:") {
            if path.is_empty() {
                return Err("fbdev: needs a device path, e.g. fbdev:/dev/fb0".into());
            }
            return Ok(Self::Fbdev { path: path.into() });
        }
        if let Some(target) = s.strip_prefix("vnc:") {
            if target.starts_with('/') {
                return Ok(Self::Vnc { target: VncTarget::Unix(target.into()) });
            }
            let addr: std::net::SocketAddr =
                target.parse().map_err(|e| format!("vnc:{target}: not a unix socket path or host:port ({e})"))?;
            if !addr.ip().is_loopback() {
                return Err(format!(
                    "vnc:{addr}: only a VNC server on this guest's loopback (127.0.0.1, ::1) or a unix socket may be proxied"
                ));
            }
            return Ok(Self::Vnc { target: VncTarget::Tcp(addr) });
        }
        Err(format!(
            "unknown display source \"{}\": use fbdev:/dev/fbN, vnc:ADDR, pattern[:WxH] or none",
            cvmc_protocol::text::escape(s)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_specs_parse() {
        assert_eq!("none".parse(), Ok(DisplaySpec::None));
        assert_eq!("pattern".parse(), Ok(DisplaySpec::PATTERN));
        assert_eq!("pattern:1920x1080".parse(), Ok(DisplaySpec::Pattern { width: 1920, height: 1080 }));
        for bad in ["pattern:", "pattern:1920", "pattern:1920x", "pattern:x1080", "pattern:8x8", "pattern:9000x100"] {
            assert!(bad.parse::<DisplaySpec>().is_err(), "{bad}");
        }
        assert_eq!("fbdev:/dev/fb0".parse(), Ok(DisplaySpec::Fbdev { path: "/dev/fb0".into() }));
        assert_eq!(
            "vnc:/run/wayvnc.sock".parse(),
            Ok(DisplaySpec::Vnc { target: VncTarget::Unix("/run/wayvnc.sock".into()) })
        );
        assert_eq!(
            "vnc:127.0.0.1:5901".parse(),
            Ok(DisplaySpec::Vnc { target: VncTarget::Tcp("127.0.0.1:5901".parse().unwrap()) })
        );
        assert!("vnc:10.0.0.1:5900".parse::<DisplaySpec>().is_err());
        assert!("fbdev:".parse::<DisplaySpec>().is_err());
        assert!("x11".parse::<DisplaySpec>().is_err());
        for spec in
            ["none", "pattern:1920x1080", "fbdev:/dev/fb0", "vnc:/run/w.sock", "vnc:127.0.0.1:5901", "vnc:[::1]:5900"]
        {
            assert_eq!(spec.parse::<DisplaySpec>().unwrap().to_string(), spec);
        }
    }
}
