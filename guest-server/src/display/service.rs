//! How a connection on the display channel (ALPN `cvmc/1/display`) is served after
//! attestation, as `--display` says: our RFB server (this module's parent) over a
//! screen source, or an in-guest VNC server proxied byte for byte.
//!
//! ```text
//! --display pattern | fbdev:/dev/fbN ─► ScreenHub ─► serve_rfb ─► uinput (keys, pointer)
//! --display vnc:ADDR ────────────────► connect ADDR on the guest's loopback ─► copy both ways
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::display::input::uinput::UinputSink;
use crate::display::source::fbdev::FbdevSource;
use crate::display::source::{DisplaySpec, VncTarget};
use crate::display::{DisplayConfig, DisplayError, InputSink, ScreenHub, ScreenSource, SourceError, serve_rfb};

/// Most keys one connection may hold down at once. A keyboard holds a handful; a
/// client pressing ever new keysym/keycode pairs without releasing them is refused
/// past this, so the set of keys to release at the end stays bounded.
pub const MAX_HELD_KEYS: usize = 64;

/// How display connections are served.
#[derive(Clone)]
pub enum DisplayService {
    /// Our RFB server over a shared frame source.
    Frames {
        /// The shared source.
        hub: ScreenHub,
        /// Keyboard and pointer (None: view-only).
        input: Option<Arc<dyn InputSink>>,
        /// Server settings.
        config: Arc<DisplayConfig>,
    },
    /// An in-guest VNC server, proxied.
    VncProxy(VncTarget),
}

impl std::fmt::Debug for DisplayService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Frames { config, input, .. } => {
                write!(f, "DisplayService::Frames(view_only: {}, input: {})", config.view_only, input.is_some())
            }
            Self::VncProxy(t) => write!(f, "DisplayService::VncProxy({t:?})"),
        }
    }
}

/// Options for the display channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct DisplayOptions {
    /// Never inject input.
    pub view_only: bool,
    /// Serve a host-visible framebuffer anyway (it protects nothing).
    pub force_host_visible: bool,
}

impl DisplayService {
    /// Build the service for `--display`; `Ok(None)` for `none`.
    pub fn from_spec(spec: &DisplaySpec, opts: DisplayOptions) -> Result<Option<Self>, SourceError> {
        let source: Box<dyn ScreenSource> = match spec {
            DisplaySpec::None => return Ok(None),
            DisplaySpec::Vnc { target } => return Ok(Some(Self::VncProxy(target.clone()))),
            DisplaySpec::Pattern { width, height } => {
                Box::new(crate::display::pattern::PatternSource::new(*width, *height))
            }
            DisplaySpec::Fbdev { path } => Box::new(FbdevSource::open_device(path, opts.force_host_visible)?),
        };
        let input: Option<Arc<dyn InputSink>> = if opts.view_only {
            None
        } else {
            match UinputSink::new() {
                Ok(sink) => Some(Arc::new(sink)),
                Err(e) => {
                    tracing::warn!(error = %e, "no /dev/uinput: the display is view-only");
                    None
                }
            }
        };
        let config = DisplayConfig { view_only: opts.view_only, max_fps: 30, desktop_name: source.name() };
        Ok(Some(Self::Frames { hub: ScreenHub::new(source, config.max_fps), input, config: Arc::new(config) }))
    }

    /// Serve one attested display connection.
    pub async fn serve_display<S>(&self, mut stream: S) -> Result<(), DisplayError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        match self {
            Self::Frames { hub, input, config } => {
                let input = input.as_ref().map(|i| Arc::new(ConnectionInput::new(Arc::clone(i))) as Arc<dyn InputSink>);
                serve_rfb(stream, hub.clone(), input, config).await
            }
            Self::VncProxy(VncTarget::Tcp(addr)) => {
                let vnc_error = |source| DisplayError::VncServer { target: addr.to_string(), source };
                let mut vnc = tokio::net::TcpStream::connect(addr).await.map_err(vnc_error)?;
                let _ = vnc.set_nodelay(true);
                tokio::io::copy_bidirectional(&mut stream, &mut vnc).await.map(|_| ()).map_err(DisplayError::Io)
            }
            #[cfg(unix)]
            Self::VncProxy(VncTarget::Unix(path)) => {
                let mut vnc = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|source| DisplayError::VncServer { target: path.display().to_string(), source })?;
                tokio::io::copy_bidirectional(&mut stream, &mut vnc).await.map(|_| ()).map_err(DisplayError::Io)
            }
            #[cfg(not(unix))]
            Self::VncProxy(VncTarget::Unix(path)) => Err(DisplayError::VncServer {
                target: path.display().to_string(),
                source: std::io::Error::other("unix sockets need a Unix guest"),
            }),
        }
    }
}

/// One connection's view of the shared input devices: remembers what it pressed
/// and releases it when the connection ends, so a cut never leaves a key held.
pub struct ConnectionInput {
    inner: Arc<dyn InputSink>,
    pressed: Mutex<HashSet<(u32, Option<u32>)>>,
}

impl std::fmt::Debug for ConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectionInput({} keys held)", self.pressed.lock().map(|p| p.len()).unwrap_or(0))
    }
}

impl ConnectionInput {
    /// Wrap the shared sink.
    pub fn new(inner: Arc<dyn InputSink>) -> Self {
        Self { inner, pressed: Mutex::default() }
    }
}

impl InputSink for ConnectionInput {
    fn key(&self, down: bool, keysym: u32, xt_keycode: Option<u32>) {
        let Ok(mut held) = self.pressed.lock() else { return };
        let key = (keysym, xt_keycode);
        if down && !held.contains(&key) && held.len() >= MAX_HELD_KEYS {
            tracing::warn!(keysym, held = held.len(), "display: too many keys held at once; key press dropped");
            return;
        }
        if down {
            held.insert(key);
        } else {
            held.remove(&key);
        }
        // Passed on with the set locked, so a press and its release keep their order
        // across the connection's tasks.
        self.inner.key(down, keysym, xt_keycode);
    }

    fn pointer(&self, buttons: u8, x: u16, y: u16, width: u16, height: u16) {
        self.inner.pointer(buttons, x, y, width, height);
    }
}

impl Drop for ConnectionInput {
    fn drop(&mut self) {
        if let Ok(p) = self.pressed.get_mut() {
            for (keysym, xt) in p.drain() {
                self.inner.key(false, keysym, xt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(bool, u32)>>);

    impl InputSink for Recorder {
        fn key(&self, down: bool, keysym: u32, _xt: Option<u32>) {
            self.0.lock().unwrap().push((down, keysym));
        }
        fn pointer(&self, _b: u8, _x: u16, _y: u16, _w: u16, _h: u16) {}
    }

    #[test]
    fn a_dropped_connection_releases_its_keys() {
        let rec = Arc::new(Recorder::default());
        let conn = ConnectionInput::new(Arc::clone(&rec) as Arc<dyn InputSink>);
        conn.key(true, 0xffe3, None); // Control_L held
        conn.key(true, u32::from(b'a'), None);
        conn.key(false, u32::from(b'a'), None);
        drop(conn);
        let log = rec.0.lock().unwrap().clone();
        assert_eq!(log.last(), Some(&(false, 0xffe3)));
        assert_eq!(log.len(), 4);
    }

    #[test]
    fn keys_held_at_once_are_bounded_and_all_released() {
        let rec = Arc::new(Recorder::default());
        let conn = ConnectionInput::new(Arc::clone(&rec) as Arc<dyn InputSink>);
        for k in 0..10_000u32 {
            conn.key(true, 0x100 + k, Some(k));
        }
        assert_eq!(conn.pressed.lock().unwrap().len(), MAX_HELD_KEYS);
        // A key already held and a release always pass; a held key can be pressed again.
        conn.key(true, 0x100, Some(0));
        conn.key(false, 0x101, Some(1));
        conn.key(true, 0x5000, Some(9_999_999));
        let presses = rec.0.lock().unwrap().iter().filter(|(down, _)| *down).count();
        assert_eq!(presses, MAX_HELD_KEYS + 2, "presses past the bound are dropped, one freed slot is reused");
        drop(conn);
        let log = rec.0.lock().unwrap().clone();
        let releases = log.iter().filter(|(down, _)| !*down).count();
        assert_eq!(releases, MAX_HELD_KEYS + 1, "everything held is released at the end");
    }
}
