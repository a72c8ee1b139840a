//! The guest's RFB server (docs/DESIGN.md "Display and input"): RFB 3.8, security type
//! None, over an already attested stream, serving images of the screen from a
//! [`ScreenSource`] and passing keys and the pointer to an [`InputSink`]. Which server a
//! display connection gets (this one, or an in-guest VNC server proxied) is
//! [`service`]'s choice.
//!
//! ```text
//!  ScreenSource ─► ScreenHub (one per source: rate-limited, backs off on a still
//!      ▲            screen, captures only on demand,
//!      │            latest frame shared by Arc) ─┬─► serve_rfb (connection 1)
//!      │                                         └─► serve_rfb (connection 2) …
//!  capture on a blocking thread
//!
//!  serve_rfb: handshake ─► read loop  (ClientMsgDecoder ─► InputSink, requests)
//!                       └► write loop (wait for a request and a changed image ─►
//!                                      damage (64x64 tiles cropped to what changed,
//!                                      CopyRect bands of a scroll) ─►
//!                                      encode (Raw / ZRLE / Tight) ─► stream)
//! ```
//!
//! Modules: [`service`] (what `--display` serves), [`hub`] (sharing one source),
//! [`pattern`] (synthetic screen), `connection` (handshake and read loop), `control` (what the read loop hands the write loop),
//! `update` (write loop), `damage` (what changed), `scroll`
//! (CopyRect bands), `encode` (pixel encodings with their per-connection zlib streams);
//! [`source`] (fbdev and the `--display` spec) and [`input`] (uinput) feed it.

mod connection;
mod control;
mod damage;
mod encode;
mod handshake;
pub mod hub;
pub mod input;
pub mod pattern;
mod scroll;
pub mod service;
pub mod source;
mod update;

pub use connection::serve_rfb;
pub use hub::ScreenHub;
pub use pattern::PatternSource;

use cvmc_protocol::rfb::RfbError;

/// Largest frame width or height we serve (vnc-rs and most viewers stop at 8192).
pub const MAX_FRAME_DIMENSION: u16 = 8192;

/// A captured screen: 0x00RRGGBB pixels, row-major, `width * height` of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenImage {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// `width * height` pixels, 0x00RRGGBB, row-major.
    pub pixels: Vec<u32>,
}

impl ScreenImage {
    /// A frame of one colour.
    pub fn filled(width: u16, height: u16, rgb: u32) -> Self {
        Self { width, height, pixels: vec![rgb; usize::from(width) * usize::from(height)] }
    }

    /// One row of pixels.
    pub(crate) fn row(&self, y: u16) -> &[u32] {
        let w = usize::from(self.width);
        let start = usize::from(y) * w;
        &self.pixels[start..start + w]
    }
}

/// A source of frames (pattern, a guest-private fbdev, ...). Capture may return a
/// different size than before (mode change).
pub trait ScreenSource: Send + 'static {
    /// A short name for logs and errors.
    fn name(&self) -> String;
    /// Take the current screen. Called on a blocking thread, never concurrently.
    fn capture(&mut self) -> Result<ScreenImage, SourceError>;

    /// Take the current screen, or `None` if it equals `previous` (the frame the last
    /// capture returned). The hub calls this; a source that reads its pixels from
    /// somewhere can compare as it reads and skip building a frame for a still screen
    /// (the common case of an idle display). By default: [`ScreenSource::capture`],
    /// then a comparison.
    fn capture_changed(&mut self, previous: Option<&ScreenImage>) -> Result<Option<ScreenImage>, SourceError> {
        let frame = self.capture()?;
        Ok(if previous == Some(&frame) { None } else { Some(frame) })
    }
}

/// Where keys and the pointer go (a uinput device in the guest; a recorder in tests).
pub trait InputSink: Send + Sync + 'static {
    /// `keysym` per RFC 6143 7.5.4; `xt_keycode` from the QEMU extended key event when
    /// the client sent one.
    fn key(&self, down: bool, keysym: u32, xt_keycode: Option<u32>);
    /// RFB button mask and absolute position within a `width` x `height` screen.
    fn pointer(&self, buttons: u8, x: u16, y: u16, width: u16, height: u16);
}

/// Why a frame source could not open or capture. `Clone`: one capture's failure is
/// handed to every connection that waited for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source could not open or capture (the message names the device).
    #[error("frame source: {0}")]
    Device(String),
    /// A frame whose pixel count does not match its size.
    #[error("frame source {name}: frame {width}x{height} has {pixels} pixels, expected {expected}")]
    FrameSize { name: String, width: u16, height: u16, pixels: usize, expected: usize },
    /// An empty or oversized frame.
    #[error("frame source {name}: frame {width}x{height} is outside 1x1..={max}x{max}")]
    FrameDimensions { name: String, width: u16, height: u16, max: u16 },
    /// A blocking capture task panicked or was cancelled.
    #[error("frame source {name}: capture task failed: {reason}")]
    CaptureTask { name: String, reason: String },
}

/// Why a display connection ended with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisplayError {
    /// Reading or writing the stream failed, or the client closed it mid-message.
    #[error("display stream: {0}")]
    Io(#[from] std::io::Error),
    /// The client sent bytes RFB 3.8 does not allow, or that we do not serve.
    #[error("rfb: {0}")]
    Protocol(#[from] RfbError),
    /// The client did not finish the RFB handshake in time.
    #[error("rfb handshake: not finished within {secs} s")]
    HandshakeTimeout { secs: u64 },
    /// The frame source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The input device failed.
    #[error("input: {reason}")]
    Input { reason: String },
    /// Compressing pixel data failed (zlib or JPEG).
    #[error("{encoding} encoder: {reason}")]
    Encoder { encoding: &'static str, reason: String },
    /// The client asked for more resize replies than we hold without it reading.
    #[error("{count} SetDesktopSize requests unanswered, more than the maximum {max}")]
    TooManyResizeRequests { count: usize, max: usize },
    /// The in-guest VNC server behind `--display vnc:` could not be reached.
    #[error("in-guest VNC server at {target}: {source}")]
    VncServer { target: String, source: std::io::Error },
}

/// How the display channel serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayConfig {
    /// Drop keys and pointer events (logged once per connection).
    pub view_only: bool,
    /// Most captures per second of one source (also the most updates per second).
    pub max_fps: u32,
    /// Sent to clients in ServerInit.
    pub desktop_name: String,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        Self { view_only: false, max_fps: 30, desktop_name: "cvm-console".into() }
    }
}
