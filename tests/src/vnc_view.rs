//! A real RFB client (vnc-rs) with a local framebuffer, for end-to-end tests of
//! the display channel: it applies every rectangle it receives and can wait until
//! the picture satisfies a condition.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use vnc::{VncClient, VncEncoding, VncEvent, X11Event};

/// A connected viewer and what it has drawn.
pub struct Viewer {
    client: VncClient,
    /// Width and height.
    pub size: (u16, u16),
    /// 0x00RRGGBB pixels.
    pub pixels: Vec<u32>,
    /// Rectangles received so far.
    pub rects: usize,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Viewer({:?}, {} rects)", self.size, self.rects)
    }
}

impl Viewer {
    /// Connect over `stream`, asking for `encoding` first (then Raw).
    pub async fn connect<S>(stream: S, encoding: VncEncoding) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let encodings = [encoding, VncEncoding::Raw, VncEncoding::DesktopSizePseudo];
        let client = cvm_console::rfb_viewer::start_viewer(stream, &encodings).await.unwrap();
        Self { client, size: (0, 0), pixels: Vec::new(), rects: 0 }
    }

    /// Press and release each keysym in turn.
    pub async fn type_keysyms(&self, keysyms: impl IntoIterator<Item = u32>) {
        for keysym in keysyms {
            for down in [true, false] {
                self.input(X11Event::KeyEvent(vnc::ClientKeyEvent { keycode: keysym, down })).await;
            }
        }
    }

    /// Send an input event.
    pub async fn input(&self, event: X11Event) {
        self.client.input(event).await.unwrap();
    }

    fn apply(&mut self, ev: VncEvent) {
        match ev {
            VncEvent::SetResolution(s) => {
                self.size = (s.width, s.height);
                self.pixels = vec![0; usize::from(s.width) * usize::from(s.height)];
            }
            VncEvent::RawImage(r, data) => {
                self.rects += 1;
                let w = usize::from(self.size.0);
                for row in 0..usize::from(r.height) {
                    for col in 0..usize::from(r.width) {
                        let i = (row * usize::from(r.width) + col) * 4;
                        let (b, g, red) = (data[i], data[i + 1], data[i + 2]);
                        let at = (usize::from(r.y) + row) * w + usize::from(r.x) + col;
                        if at < self.pixels.len() {
                            self.pixels[at] = (u32::from(red) << 16) | (u32::from(g) << 8) | u32::from(b);
                        }
                    }
                }
            }
            VncEvent::Copy(dst, src) => {
                self.rects += 1;
                let w = usize::from(self.size.0);
                let copy: Vec<u32> = (0..usize::from(src.height))
                    .flat_map(|row| {
                        let start = (usize::from(src.y) + row) * w + usize::from(src.x);
                        self.pixels[start..start + usize::from(src.width)].to_vec()
                    })
                    .collect();
                for row in 0..usize::from(dst.height) {
                    let start = (usize::from(dst.y) + row) * w + usize::from(dst.x);
                    let from = row * usize::from(dst.width);
                    self.pixels[start..start + usize::from(dst.width)]
                        .copy_from_slice(&copy[from..from + usize::from(dst.width)]);
                }
            }
            VncEvent::Error(e) => panic!("vnc client error: {e}"),
            _ => {}
        }
    }

    /// Keep requesting updates until `done(self)` holds, or panic after `secs`.
    pub async fn wait_until(&mut self, secs: u64, done: impl FnMut(&Self) -> bool) {
        self.wait_until_or(secs, done, String::new).await;
    }

    /// Like `wait_until`, with `why()` describing the last state in the panic.
    pub async fn wait_until_or(&mut self, secs: u64, mut done: impl FnMut(&Self) -> bool, why: impl Fn() -> String) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if !self.pixels.is_empty() && done(self) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the screen never reached the expected state ({self:?}): {}",
                why()
            );
            while let Ok(Some(ev)) = self.client.poll_event().await {
                self.apply(ev);
            }
            self.client.input(X11Event::Refresh).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Pixel at (x, y).
    pub fn at(&self, x: usize, y: usize) -> u32 {
        self.pixels[y * usize::from(self.size.0) + x]
    }
}
