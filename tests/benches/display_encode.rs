//! Benchmark (not a test): what the screen costs, next to TigerVNC's Xvnc on identical
//! content, as ratios ours/Xvnc from one run.
//!
//! For each content and encoding (ZRLE, then Tight; lossless: no JPEG quality and no
//! compression level are asked, so both servers use their defaults):
//!
//! 1. Xvnc: a vnc-rs client connects over TCP through a byte-counting wrapper that also
//!    scans the RFB stream (no pixel decoding) for where each FramebufferUpdate starts
//!    and ends. It asks for one update at a time and keeps the decoded framebuffer after
//!    each update: those frames are the content.
//! 2. Ours: the same frames, in the same order, are replayed by a [`ScreenSource`] into
//!    the real server path, `serve_rfb` over `tokio::io::duplex`, on a thread of its own
//!    (current-thread runtime); the same client code counts the bytes and checks that
//!    every update reproduces its frame exactly.
//!
//! Content (started by `scripts/bench-display`, each on its own Xvnc): a terminal
//! (xterm listing /usr/bin in a loop, flat out), the same paced to 100 lines a second
//! (small scrolls), both with incremental updates and CopyRect allowed; and a photo,
//! full-screen (non-incremental) updates of the static screen. Plus the idle screen:
//! incremental requests on the static photo for a fixed time (the goal is 0 bytes).
//!
//! A terminal's xterm runs in slices: before each of Xvnc's updates it runs for
//! [`SLICE`], is stopped, and Xvnc gets [`SETTLE`] to finish drawing; so while Xvnc
//! answers the request it does nothing else, and its CPU time then is its update work.
//! The xterms stay stopped while our side runs.
//!
//! Measured per update:
//! - bytes: the whole FramebufferUpdate message, headers included.
//! - CPU: on-CPU time (`/proc/.../schedstat`) from the request to the complete update:
//!   Xvnc's whole process; ours, the server thread (hub, damage and scroll detection,
//!   encoding; not the capture thread, where the replay copies a stored frame and
//!   compares it with the previous one). The idle screen counts the capture threads
//!   too, reading a framebuffer as the guest does.
//! - ours, server time: wall time from the server having both the request and the frame
//!   (the later of: the request read; the replayed capture returning) to the server
//!   flushing the complete update. The server's writes reach the client only on flush,
//!   so the client's decoding never overlaps it.
//! - Xvnc, latency: wall time from the request to the update's last byte at the client
//!   (context: it includes the transfer and Xvnc's update deferral).
//!
//! Driven by `scripts/bench-display`, which starts the Xvnc servers and passes them in
//! `CVMC_BENCH_*` variables (see [`Config::from_env`]). Without them it says so and
//! exits 0.

// Benchmark code: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

#[path = "display_encode/rss.rs"]
mod rss;
#[path = "display_encode/summary.rs"]
mod summary;

use summary::{memory_table, summary};

use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cvm_consoled::display::source::fbdev::{FbdevSource, Geometry};
use cvm_consoled::display::{
    DisplayConfig, DisplayError, ScreenHub, ScreenImage, ScreenSource, SourceError, serve_rfb,
};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use vnc::{PixelFormat, VncClient, VncConnector, VncEncoding, VncEvent, X11Event};

/// Longest wait for one update.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Capture rate of our hub while measuring (its maximum: the rate limit only delays
/// captures, and our time is measured from the capture on).
const MEASURE_FPS: u32 = cvm_consoled::display::hub::MAX_FPS;
/// Bytes per pixel of the client's format (vnc-rs `PixelFormat::bgra()`).
const BPP: usize = 4;
/// Bytes of a Tight TPIXEL in that format.
const TPIXEL: usize = 3;
/// The in-memory pipe between our server and the client.
const DUPLEX_BUFFER: usize = 1 << 20;
/// Pause between incremental requests on the idle screen.
const IDLE_REQUEST_EVERY: Duration = Duration::from_millis(100);
/// A terminal's xterm runs this long before each update of Xvnc ...
const SLICE: Duration = Duration::from_millis(30);
/// ... then is stopped, and Xvnc gets this long to finish drawing what it sent.
const SETTLE: Duration = Duration::from_millis(20);

/// One Xvnc server and its content.
#[derive(Debug, Clone)]
struct Screen {
    /// Short name for the tables, and what it shows.
    name: &'static str,
    what: String,
    port: u16,
    /// Xvnc's pid (for its CPU time).
    pid: u32,
    /// The xterm drawing on it, if any: run in slices between updates ("stop and go").
    xterm: Option<u32>,
}

impl Screen {
    /// `PORT:PID[:XTERM_PID]` from `var`, described by `var_NAME`.
    fn from_env(var: &str, name: &'static str) -> Option<Self> {
        let spec = std::env::var(var).ok().filter(|v| !v.is_empty())?;
        let parts: Vec<u32> = spec.split(':').map(|p| p.parse().unwrap()).collect();
        Some(Self {
            name,
            what: std::env::var(format!("{var}_NAME")).unwrap_or_else(|_| name.into()),
            port: u16::try_from(parts[0]).unwrap(),
            pid: parts[1],
            xterm: parts.get(2).copied(),
        })
    }
}

/// What the driver script passes in.
struct Config {
    /// Terminals (Xvnc with an xterm each), then the photo (Xvnc with a static screen).
    terminals: Vec<Screen>,
    photo: Screen,
    /// A 1920x1080 Xvnc with a static screen, for the memory measurement.
    big: Option<Screen>,
    /// Updates per content and encoding.
    updates: usize,
    /// Seconds of the idle measurement.
    idle_secs: u64,
}

impl Config {
    fn from_env() -> Option<Self> {
        let number = |name: &str, default: u64| std::env::var(name).map_or(default, |v| v.parse().unwrap());
        let terminals = [("CVMC_BENCH_TERM", "terminal"), ("CVMC_BENCH_LOG", "terminal, paced")]
            .into_iter()
            .filter_map(|(var, name)| Screen::from_env(var, name))
            .collect();
        Some(Self {
            terminals,
            photo: Screen::from_env("CVMC_BENCH_PHOTO", "photo")?,
            big: Screen::from_env("CVMC_BENCH_BIG", "1920x1080"),
            updates: usize::try_from(number("CVMC_BENCH_UPDATES", 100).max(2)).unwrap(),
            idle_secs: number("CVMC_BENCH_IDLE_SECS", 10).max(1),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The client side: a byte counter that finds update boundaries in the RFB stream.
// ---------------------------------------------------------------------------------------

/// One FramebufferUpdate as it crossed the wire.
#[derive(Debug, Clone)]
struct WireUpdate {
    /// Stream offsets of its first byte and one past its last.
    start: u64,
    end: u64,
    /// Pixels covered by pixel-data rectangles; CopyRects; rectangles of any kind.
    area: u64,
    copies: u64,
    rects: u64,
    /// When its last byte arrived.
    last_byte: Instant,
}

impl WireUpdate {
    fn bytes(&self) -> u64 {
        self.end - self.start
    }
}

/// What the scanner expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Version,
    SecurityCount,
    SecurityTypes,
    SecurityResult,
    ServerInit,
    MsgType,
    UpdateHeader,
    RectHeader,
    ZrleLength,
    TightControl,
    TightFilter,
    TightPaletteSize,
    /// Tight's compact length, one byte at a time.
    TightLength,
    ExtendedDesktopSize,
    ColourMapHeader,
    CutTextHeader,
    /// A body we do not look into: `skip` bytes, then `after`.
    Skip,
}

/// What follows a skipped body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    EndRect,
    /// Tight basic compression: the (maybe compressed) data of `tight_data` bytes.
    TightData,
    EndMessage,
}

/// Scans server-to-client RFB 3.8 bytes (security type None): handshake, then messages.
#[derive(Debug)]
struct RfbScan {
    item: Item,
    need: usize,
    acc: Vec<u8>,
    skip: u64,
    after: After,
    offset: u64,
    /// The update being received: start offset, rectangles left, and its counts.
    update: Option<WireUpdate>,
    rects_left: u16,
    rect: (u16, u16, i32),
    tight_data: usize,
    tight_len: (usize, u32),
    done: Vec<WireUpdate>,
}

impl RfbScan {
    fn new() -> Self {
        Self {
            item: Item::Version,
            need: 12,
            acc: Vec::new(),
            skip: 0,
            after: After::EndMessage,
            offset: 0,
            update: None,
            rects_left: 0,
            rect: (0, 0, 0),
            tight_data: 0,
            tight_len: (0, 0),
            done: Vec::new(),
        }
    }

    /// Scan bytes that arrived at `now`.
    fn feed(&mut self, mut data: &[u8], now: Instant) {
        while !data.is_empty() {
            if self.item == Item::Skip {
                let take = usize::try_from(self.skip.min(data.len() as u64)).unwrap();
                self.skip -= take as u64;
                self.offset += take as u64;
                data = &data[take..];
                if self.skip == 0 {
                    self.after_skip(now);
                }
                continue;
            }
            let take = (self.need - self.acc.len()).min(data.len());
            self.acc.extend_from_slice(&data[..take]);
            self.offset += take as u64;
            data = &data[take..];
            if self.acc.len() == self.need {
                let bytes = std::mem::take(&mut self.acc);
                self.step(&bytes, now);
            }
        }
    }

    fn expect(&mut self, item: Item, need: usize) {
        self.item = item;
        self.need = need;
    }

    fn skip_then(&mut self, n: u64, after: After, now: Instant) {
        if n == 0 {
            self.after = after;
            self.after_skip(now);
        } else {
            self.item = Item::Skip;
            self.skip = n;
            self.after = after;
        }
    }

    fn after_skip(&mut self, now: Instant) {
        match self.after {
            After::EndRect => self.end_rect(now),
            After::EndMessage => self.expect(Item::MsgType, 1),
            After::TightData => {
                if self.tight_data < 12 {
                    let n = self.tight_data as u64;
                    self.skip_then(n, After::EndRect, now);
                } else {
                    self.tight_len = (0, 0);
                    self.expect(Item::TightLength, 1);
                }
            }
        }
    }

    fn end_rect(&mut self, now: Instant) {
        self.rects_left -= 1;
        if self.rects_left == 0 {
            self.end_update(now);
        } else {
            self.expect(Item::RectHeader, 12);
        }
    }

    fn end_update(&mut self, now: Instant) {
        let mut update = self.update.take().unwrap();
        update.end = self.offset;
        update.last_byte = now;
        self.done.push(update);
        self.expect(Item::MsgType, 1);
    }

    fn step(&mut self, b: &[u8], now: Instant) {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match self.item {
            Item::Version => self.expect(Item::SecurityCount, 1),
            Item::SecurityCount => {
                assert!(b[0] > 0, "the server refused the connection");
                self.expect(Item::SecurityTypes, usize::from(b[0]));
            }
            Item::SecurityTypes => {
                assert!(b.contains(&1), "the server does not offer security type None: {b:?}");
                self.expect(Item::SecurityResult, 4);
            }
            Item::SecurityResult => {
                assert_eq!(u32_at(0), 0, "security handshake failed");
                self.expect(Item::ServerInit, 24);
            }
            Item::ServerInit => {
                let name_len = u64::from(u32_at(20));
                self.skip_then(name_len, After::EndMessage, now);
            }
            Item::MsgType => match b[0] {
                0 => self.expect(Item::UpdateHeader, 3),
                1 => self.expect(Item::ColourMapHeader, 5),
                2 => self.expect(Item::MsgType, 1), // Bell
                3 => self.expect(Item::CutTextHeader, 7),
                t => panic!("unexpected server message type {t} at offset {}", self.offset - 1),
            },
            Item::ColourMapHeader => self.skip_then(u64::from(u16_at(3)) * 6, After::EndMessage, now),
            Item::CutTextHeader => self.skip_then(u64::from(u32_at(3)), After::EndMessage, now),
            Item::UpdateHeader => {
                self.update =
                    Some(WireUpdate { start: self.offset - 4, end: 0, area: 0, copies: 0, rects: 0, last_byte: now });
                self.rects_left = u16_at(1);
                if self.rects_left == 0 {
                    self.end_update(now);
                } else {
                    self.expect(Item::RectHeader, 12);
                }
            }
            Item::RectHeader => {
                let (w, h) = (u16_at(4), u16_at(6));
                let encoding = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
                self.rect = (w, h, encoding);
                let pixels = u64::from(w) * u64::from(h);
                let update = self.update.as_mut().unwrap();
                update.rects += 1;
                match encoding {
                    0 | 7 | 16 => update.area += pixels,
                    1 => update.copies += 1,
                    _ => {}
                }
                match encoding {
                    0 => self.skip_then(pixels * BPP as u64, After::EndRect, now),
                    1 => self.skip_then(4, After::EndRect, now),
                    16 => self.expect(Item::ZrleLength, 4),
                    7 => self.expect(Item::TightControl, 1),
                    // DesktopSize, QEMU extended key event: no data.
                    -223 | -258 => self.end_rect(now),
                    -308 => self.expect(Item::ExtendedDesktopSize, 4),
                    -224 => self.end_update(now), // LastRect
                    -239 => {
                        let mask = u64::from(w.div_ceil(8)) * u64::from(h);
                        self.skip_then(pixels * BPP as u64 + mask, After::EndRect, now);
                    }
                    e => panic!("unexpected rectangle encoding {e}"),
                }
            }
            Item::ExtendedDesktopSize => self.skip_then(u64::from(b[0]) * 16, After::EndRect, now),
            Item::ZrleLength => self.skip_then(u64::from(u32_at(0)), After::EndRect, now),
            Item::TightControl => {
                let (w, h, _) = self.rect;
                let (w, h) = (usize::from(w), usize::from(h));
                match b[0] >> 4 {
                    0x8 => self.skip_then(TPIXEL as u64, After::EndRect, now), // fill
                    0x9 => {
                        // JPEG: compact length and data.
                        self.tight_data = usize::MAX;
                        self.tight_len = (0, 0);
                        self.expect(Item::TightLength, 1);
                    }
                    c if c > 0x9 => panic!("bad Tight compression control {:#x}", b[0]),
                    c if c & 0x4 != 0 => self.expect(Item::TightFilter, 1),
                    _ => {
                        self.tight_data = w * h * TPIXEL;
                        self.after = After::TightData;
                        self.after_skip(now);
                    }
                }
            }
            Item::TightFilter => {
                let (w, h, _) = self.rect;
                let (w, h) = (usize::from(w), usize::from(h));
                match b[0] {
                    0 | 2 => {
                        self.tight_data = w * h * TPIXEL;
                        self.after = After::TightData;
                        self.after_skip(now);
                    }
                    1 => self.expect(Item::TightPaletteSize, 1),
                    f => panic!("bad Tight filter {f}"),
                }
            }
            Item::TightPaletteSize => {
                let (w, h, _) = self.rect;
                let (w, h) = (usize::from(w), usize::from(h));
                let colours = usize::from(b[0]) + 1;
                self.tight_data = if colours == 2 { w.div_ceil(8) * h } else { w * h };
                self.skip_then((colours * TPIXEL) as u64, After::TightData, now);
            }
            Item::TightLength => {
                let (value, shift) = self.tight_len;
                let last = shift == 14 || b[0] & 0x80 == 0;
                let bits = if shift == 14 { usize::from(b[0]) } else { usize::from(b[0] & 0x7f) };
                let value = value | (bits << shift);
                if last {
                    self.skip_then(value as u64, After::EndRect, now);
                } else {
                    self.tight_len = (value, shift + 7);
                    self.expect(Item::TightLength, 1);
                }
            }
            Item::Skip => unreachable!(),
        }
    }
}

/// The scanner shared by the stream wrapper and the driver.
#[derive(Debug)]
struct Wire {
    scan: Mutex<RfbScan>,
    changed: Notify,
}

impl Wire {
    fn new() -> Arc<Self> {
        Arc::new(Self { scan: Mutex::new(RfbScan::new()), changed: Notify::new() })
    }

    fn updates(&self) -> usize {
        self.scan.lock().unwrap().done.len()
    }

    fn update(&self, i: usize) -> Option<WireUpdate> {
        self.scan.lock().unwrap().done.get(i).cloned()
    }

    /// Bytes received so far.
    fn offset(&self) -> u64 {
        self.scan.lock().unwrap().offset
    }
}

/// A client stream that feeds every received byte to a [`Wire`].
struct Counted<S> {
    inner: S,
    wire: Arc<Wire>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && buf.filled().len() > before
        {
            self.wire.scan.lock().unwrap().feed(&buf.filled()[before..], Instant::now());
            self.wire.changed.notify_waiters();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A vnc-rs client, its framebuffer, and what it has applied so far.
struct Session {
    client: VncClient,
    wire: Arc<Wire>,
    size: (u16, u16),
    pixels: Vec<u32>,
    applied_area: u64,
    applied_copies: u64,
    expected_area: u64,
    expected_copies: u64,
    next_update: usize,
}

impl Session {
    async fn connect<S>(stream: S, encoding: VncEncoding) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let wire = Wire::new();
        let counted = Counted { inner: stream, wire: Arc::clone(&wire) };
        let client = VncConnector::new(counted)
            .set_auth_method(async move { Ok(String::new()) })
            .add_encoding(encoding)
            .add_encoding(VncEncoding::CopyRect)
            .allow_shared(true)
            .set_pixel_format(PixelFormat::bgra())
            .build()
            .unwrap()
            .try_start()
            .await
            .unwrap()
            .finish()
            .unwrap();
        Self {
            client,
            wire,
            size: (0, 0),
            pixels: Vec::new(),
            applied_area: 0,
            applied_copies: 0,
            expected_area: 0,
            expected_copies: 0,
            next_update: 0,
        }
    }

    fn apply(&mut self, ev: VncEvent) {
        let w = usize::from(self.size.0);
        match ev {
            VncEvent::SetResolution(s) => {
                self.size = (s.width, s.height);
                self.pixels = vec![0; usize::from(s.width) * usize::from(s.height)];
            }
            VncEvent::RawImage(r, data) => {
                self.applied_area += u64::from(r.width) * u64::from(r.height);
                let rw = usize::from(r.width);
                for row in 0..usize::from(r.height) {
                    let at = (usize::from(r.y) + row) * w + usize::from(r.x);
                    let src = &data[row * rw * 4..(row + 1) * rw * 4];
                    for (dst, px) in self.pixels[at..at + rw].iter_mut().zip(src.chunks_exact(4)) {
                        *dst = (u32::from(px[2]) << 16) | (u32::from(px[1]) << 8) | u32::from(px[0]);
                    }
                }
            }
            VncEvent::Copy(dst, src) => {
                self.applied_copies += 1;
                let (dw, dh) = (usize::from(dst.width), usize::from(dst.height));
                let block: Vec<u32> = (0..dh)
                    .flat_map(|row| {
                        let start = (usize::from(src.y) + row) * w + usize::from(src.x);
                        self.pixels[start..start + dw].to_vec()
                    })
                    .collect();
                for row in 0..dh {
                    let start = (usize::from(dst.y) + row) * w + usize::from(dst.x);
                    self.pixels[start..start + dw].copy_from_slice(&block[row * dw..(row + 1) * dw]);
                }
            }
            VncEvent::JpegImage(..) => panic!("JPEG was not asked for"),
            VncEvent::Error(e) => panic!("vnc client error: {e}"),
            _ => {}
        }
    }

    /// Wait until the next update has arrived and been applied to the framebuffer.
    async fn next(&mut self) -> WireUpdate {
        let deadline = tokio::time::Instant::now() + UPDATE_TIMEOUT;
        let i = self.next_update;
        loop {
            let wire = Arc::clone(&self.wire);
            let changed = wire.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(update) = self.wire.update(i) {
                let (area, copies) = (self.expected_area + update.area, self.expected_copies + update.copies);
                assert!(self.applied_area <= area && self.applied_copies <= copies, "decoded past update {i}");
                if (self.applied_area, self.applied_copies) == (area, copies) {
                    (self.expected_area, self.expected_copies) = (area, copies);
                    self.next_update += 1;
                    return update;
                }
            }
            tokio::select! {
                ev = self.client.recv_event() => self.apply(ev.unwrap()),
                () = &mut changed => {}
                () = tokio::time::sleep_until(deadline) => panic!("no update {i} within {UPDATE_TIMEOUT:?}"),
            }
        }
    }

    /// Ask for an update and wait for it.
    async fn request(&mut self, incremental: bool) -> (WireUpdate, Duration) {
        let asked = Instant::now();
        let event = if incremental { X11Event::Refresh } else { X11Event::FullRefresh };
        self.client.input(event).await.unwrap();
        let update = self.next().await;
        let latency = update.last_byte.saturating_duration_since(asked);
        (update, latency)
    }

    fn frame(&self) -> ScreenImage {
        ScreenImage { width: self.size.0, height: self.size.1, pixels: self.pixels.clone() }
    }

    /// Keep asking for incremental updates on a static screen for `secs`; the bytes
    /// that arrive meanwhile and the updates they make.
    async fn idle(&mut self, secs: u64) -> (u64, usize) {
        let (bytes0, updates0) = (self.wire.offset(), self.wire.updates());
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            self.client.input(X11Event::Refresh).await.unwrap();
            while let Ok(Some(ev)) = self.client.poll_event().await {
                self.apply(ev);
            }
            tokio::time::sleep(IDLE_REQUEST_EVERY).await;
        }
        (self.wire.offset() - bytes0, self.wire.updates() - updates0)
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

// ---------------------------------------------------------------------------------------
// Our side: the replayed frames through serve_rfb, on its own thread.
// ---------------------------------------------------------------------------------------

/// What the replay source and our server's stream record.
#[derive(Debug, Default)]
struct ServerLog {
    /// End of every capture: which frame and when.
    captures: Vec<(usize, Instant)>,
    /// Every read that returned request bytes.
    reads: Vec<Instant>,
    /// Every flush that sent bytes: stream offset after it, and when it started.
    flushes: Vec<(u64, Instant)>,
}

/// Serves `frames[index]` on every capture; the driver moves `index`.
struct Replay {
    frames: Arc<Vec<ScreenImage>>,
    index: Arc<AtomicUsize>,
    log: Arc<Mutex<ServerLog>>,
}

impl ScreenSource for Replay {
    fn name(&self) -> String {
        "replay".into()
    }

    fn capture(&mut self) -> Result<ScreenImage, SourceError> {
        let i = self.index.load(Ordering::SeqCst);
        let frame = self.frames[i].clone();
        self.log.lock().unwrap().captures.push((i, Instant::now()));
        Ok(frame)
    }
}

/// Our server's end of the pipe: writes are held until flushed (so the client decodes
/// only complete updates, never while the server works), and flushes and reads are
/// timed.
struct GatedServer {
    inner: DuplexStream,
    held: Vec<u8>,
    sent: usize,
    total: u64,
    flushing: bool,
    log: Arc<Mutex<ServerLog>>,
}

impl AsyncRead for GatedServer {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && buf.filled().len() > before
        {
            self.log.lock().unwrap().reads.push(Instant::now());
        }
        result
    }
}

impl AsyncWrite for GatedServer {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.held.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if !this.flushing && !this.held.is_empty() {
            this.flushing = true;
            let end = this.total + this.held.len() as u64;
            this.log.lock().unwrap().flushes.push((end, Instant::now()));
        }
        while this.sent < this.held.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &this.held[this.sent..]) {
                Poll::Ready(Ok(n)) => this.sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        this.total += this.held.len() as u64;
        this.held.clear();
        this.sent = 0;
        this.flushing = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.as_mut().poll_flush(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

/// Our server on its own thread, serving replayed frames to one client.
struct OurServer {
    index: Arc<AtomicUsize>,
    log: Arc<Mutex<ServerLog>>,
    tid: u32,
    thread: std::thread::JoinHandle<Result<(), DisplayError>>,
}

impl OurServer {
    /// Start it on replayed `frames`; returns the client's end of the pipe.
    fn start(frames: Arc<Vec<ScreenImage>>, max_fps: u32) -> (Self, DuplexStream) {
        let index = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let source = Replay { frames, index: Arc::clone(&index), log: Arc::clone(&log) };
        Self::start_on(Box::new(source), index, log, max_fps)
    }

    /// Start it on `source`.
    fn start_on(
        source: Box<dyn ScreenSource>,
        index: Arc<AtomicUsize>,
        log: Arc<Mutex<ServerLog>>,
        max_fps: u32,
    ) -> (Self, DuplexStream) {
        let (client_io, server_io) = tokio::io::duplex(DUPLEX_BUFFER);
        let stream = GatedServer {
            inner: server_io,
            held: Vec::new(),
            sent: 0,
            total: 0,
            flushing: false,
            log: Arc::clone(&log),
        };
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("our-server".into())
            .spawn(move || {
                tid_tx.send(thread_id()).unwrap();
                // Captures run on the runtime's blocking threads, named for `capture_cpu`.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name(CAPTURE_THREAD)
                    .build()
                    .unwrap();
                let hub = ScreenHub::new(source, max_fps);
                let cfg = DisplayConfig { max_fps, ..DisplayConfig::default() };
                rt.block_on(serve_rfb(stream, hub, None, &cfg))
            })
            .unwrap();
        let tid = tid_rx.recv().unwrap();
        (Self { index, log, tid, thread }, client_io)
    }

    fn show(&self, i: usize) {
        self.index.store(i, Ordering::SeqCst);
    }

    fn cpu(&self) -> Duration {
        task_cpu(std::process::id(), self.tid)
    }

    /// On-CPU time of the server thread and the capture threads (the source's reads).
    fn cpu_with_captures(&self) -> Duration {
        let me = std::process::id();
        let captures: Duration = task_ids(me)
            .filter(|tid| {
                std::fs::read_to_string(format!("/proc/{me}/task/{tid}/comm")).is_ok_and(|c| c.trim() == CAPTURE_THREAD)
            })
            .map(|tid| task_cpu(me, tid))
            .sum();
        self.cpu() + captures
    }

    /// Captures that ended in `from..to`.
    fn captures_between(&self, from: Instant, to: Instant) -> usize {
        self.log.lock().unwrap().captures.iter().filter(|&&(_, t)| t >= from && t < to).count()
    }

    /// Server time of the update that ends at stream offset `end`.
    fn server_time(&self, end: u64) -> Duration {
        let log = self.log.lock().unwrap();
        let &(_, flushed) = log.flushes.iter().find(|(at, _)| *at >= end).expect("no flush for an update");
        let read = log.reads.iter().copied().filter(|t| *t <= flushed).max();
        let captured = log.captures.iter().map(|&(_, t)| t).filter(|t| *t <= flushed).max();
        let start = read.into_iter().chain(captured).max().expect("an update before any request");
        flushed - start
    }

    /// Wait for the server to end (the client has closed: its read loop sees the end of
    /// the stream). Async: the client's tasks must run to close the stream.
    async fn stop(self) {
        let deadline = Instant::now() + UPDATE_TIMEOUT;
        while !self.thread.is_finished() {
            assert!(Instant::now() < deadline, "our server did not end after the client closed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Err(e) = self.thread.join().unwrap() {
            eprintln!("bench-display: our server ended with: {e}");
        }
    }
}

/// The name of our server's capture threads (under 16 bytes: /proc shows 15).
const CAPTURE_THREAD: &str = "our-capture";

/// This thread's id (`/proc/thread-self` names it).
fn thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// On-CPU time of one thread (schedstat, nanoseconds).
fn task_cpu(pid: u32, tid: u32) -> Duration {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).unwrap();
    Duration::from_nanos(text.split_whitespace().next().unwrap().parse().unwrap())
}

/// The thread ids of a process.
fn task_ids(pid: u32) -> impl Iterator<Item = u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
}

/// On-CPU time of all threads of a process.
fn process_cpu(pid: u32) -> Duration {
    task_ids(pid)
        .filter_map(|tid| std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok())
        .map(|text| Duration::from_nanos(text.split_whitespace().next().unwrap().parse().unwrap()))
        .sum()
}

/// Stop or continue a process (the terminal's xterm).
fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill {sig} {pid} failed");
}

// ---------------------------------------------------------------------------------------
// Runs.
// ---------------------------------------------------------------------------------------

/// How updates are asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Incremental requests while the content changes: one replayed frame per update.
    Incremental,
    /// Non-incremental requests for the whole (static) screen.
    Full,
}

/// One side's measurements of one content and encoding.
#[derive(Debug, Default)]
struct Side {
    first_bytes: u64,
    bytes: Vec<u64>,
    latency: Vec<Duration>,
    server_time: Vec<Duration>,
    cpu: Vec<Duration>,
    wall: Duration,
    copies: u64,
    rects: u64,
}

impl Side {
    fn record(&mut self, update: &WireUpdate, latency: Duration, cpu: Duration) {
        self.bytes.push(update.bytes());
        self.latency.push(latency);
        self.cpu.push(cpu);
        self.copies += update.copies;
        self.rects += update.rects;
    }
}

/// Xvnc: `n` updates in `mode`, and the frame after each one (the first is the initial
/// full screen). A terminal's xterm runs for [`SLICE`] before each request, then is
/// stopped and Xvnc given [`SETTLE`] to finish drawing, so that Xvnc's CPU time during
/// the update is its update work alone.
async fn run_xvnc(screen: &Screen, encoding: VncEncoding, mode: Mode, n: usize) -> (Side, Vec<ScreenImage>) {
    let stream = TcpStream::connect(("127.0.0.1", screen.port)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut session = Session::connect(stream, encoding).await;
    let first = session.next().await;
    let mut frames = vec![session.frame()];
    let mut side = Side { first_bytes: first.bytes(), ..Side::default() };
    let t0 = Instant::now();
    for _ in 0..n {
        if let Some(xterm) = screen.xterm {
            signal(xterm, "-CONT");
            tokio::time::sleep(SLICE).await;
            signal(xterm, "-STOP");
            tokio::time::sleep(SETTLE).await;
        }
        let cpu0 = process_cpu(screen.pid);
        let (update, latency) = session.request(mode == Mode::Incremental).await;
        if mode == Mode::Incremental {
            frames.push(session.frame());
        }
        side.record(&update, latency, process_cpu(screen.pid) - cpu0);
    }
    side.wall = t0.elapsed();
    session.close().await;
    (side, frames)
}

/// Our server on `frames`: the first as the initial screen, then one update per frame
/// (incremental), or `n` full-screen updates of the first.
async fn run_ours(frames: Arc<Vec<ScreenImage>>, encoding: VncEncoding, mode: Mode, n: usize) -> Side {
    let (server, io) = OurServer::start(Arc::clone(&frames), MEASURE_FPS);
    let mut session = Session::connect(io, encoding).await;
    let first = session.next().await;
    assert!(session.pixels == frames[0].pixels, "our first update did not show the first frame");
    let mut side = Side { first_bytes: first.bytes(), ..Side::default() };
    let t0 = Instant::now();
    let count = match mode {
        Mode::Incremental => frames.len() - 1,
        Mode::Full => n,
    };
    for i in 1..=count {
        if mode == Mode::Incremental {
            server.show(i);
        }
        let cpu0 = server.cpu();
        let (update, latency) = session.request(mode == Mode::Incremental).await;
        side.record(&update, latency, server.cpu() - cpu0);
        side.server_time.push(server.server_time(update.end));
        let expected = &frames[if mode == Mode::Incremental { i } else { 0 }];
        assert!(session.pixels == expected.pixels, "our update {i} did not reproduce the frame");
    }
    side.wall = t0.elapsed();
    session.close().await;
    server.stop().await;
    side
}

/// What an idle screen cost: the first second after the first update, then `secs` more.
#[derive(Debug, Clone, Copy)]
struct Idle {
    /// Update bytes and updates over the whole time (first second included).
    bytes: u64,
    updates: usize,
    /// CPU per second in the first second after the first update (our capture runs at
    /// its full rate there before backing off).
    first_cpu: f64,
    /// CPU per second afterwards, the screen still for over a second: Xvnc's process;
    /// ours, the server thread and the capture threads (reading the framebuffer).
    cpu: f64,
    /// Ours: the whole bench process over the same time.
    process_cpu: f64,
    /// Ours: captures in the first second and per second after it.
    captures: (usize, f64),
    /// Ours: the capture threads' share of `cpu`.
    capture_cpu: f64,
}

/// Seconds of the idle screen's first part, measured on its own.
const IDLE_FIRST: u64 = 1;

/// Idle screen: incremental requests on Xvnc's static photo for 1 + `secs` seconds.
async fn idle_xvnc(screen: &Screen, secs: u64) -> Idle {
    let stream = TcpStream::connect(("127.0.0.1", screen.port)).await.unwrap();
    let mut session = Session::connect(stream, VncEncoding::Zrle).await;
    session.next().await;
    let (cpu0, t0) = (process_cpu(screen.pid), Instant::now());
    let (bytes0, updates0) = session.idle(IDLE_FIRST).await;
    let (cpu1, t1) = (process_cpu(screen.pid), Instant::now());
    let (bytes, updates) = session.idle(secs).await;
    let first_cpu = (cpu1 - cpu0).as_secs_f64() / (t1 - t0).as_secs_f64();
    let cpu = (process_cpu(screen.pid) - cpu1).as_secs_f64() / t1.elapsed().as_secs_f64();
    session.close().await;
    Idle {
        bytes: bytes0 + bytes,
        updates: updates0 + updates,
        first_cpu,
        cpu,
        process_cpu: cpu,
        captures: (0, 0.0),
        capture_cpu: 0.0,
    }
}

/// The same for our server on the same frame, with its default capture rate, read
/// the way the guest reads its screen: from a framebuffer (a file laid out as an
/// XRGB8888 fbdev, through the same mmap source as /dev/fb0).
async fn idle_ours(frame: ScreenImage, secs: u64) -> Idle {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb0");
    let bytes: Vec<u8> = frame.pixels.iter().flat_map(|p| (p | 0xff00_0000).to_le_bytes()).collect();
    std::fs::write(&path, bytes).unwrap();
    let (w, h) = (u32::from(frame.width), u32::from(frame.height));
    let fb = FbdevSource::open_file(&path, Geometry::xrgb8888(w, h, w * 4)).unwrap();
    let log = Arc::new(Mutex::new(ServerLog::default()));
    let source = Logged { inner: fb, log: Arc::clone(&log) };
    let max_fps = DisplayConfig::default().max_fps;
    let (server, io) = OurServer::start_on(Box::new(source), Arc::new(AtomicUsize::new(0)), log, max_fps);
    let mut session = Session::connect(io, VncEncoding::Zrle).await;
    session.next().await;
    assert!(session.pixels == frame.pixels, "our first idle update did not show the photo");
    let me = std::process::id();
    let (cpu0, t0) = (server.cpu_with_captures(), Instant::now());
    let (bytes0, updates0) = session.idle(IDLE_FIRST).await;
    let (cpu1, all1, t1) = (server.cpu_with_captures(), process_cpu(me), Instant::now());
    let server1 = server.cpu();
    let (bytes, updates) = session.idle(secs).await;
    let wall = t1.elapsed().as_secs_f64();
    let first_cpu = (cpu1 - cpu0).as_secs_f64() / (t1 - t0).as_secs_f64();
    let cpu = (server.cpu_with_captures() - cpu1).as_secs_f64() / wall;
    let capture_cpu = cpu - (server.cpu() - server1).as_secs_f64() / wall;
    let process = (process_cpu(me) - all1).as_secs_f64() / wall;
    let end = Instant::now();
    let captures = (server.captures_between(t0, t1), server.captures_between(t1, end) as f64 / wall);
    session.close().await;
    server.stop().await;
    Idle {
        bytes: bytes0 + bytes,
        updates: updates0 + updates,
        first_cpu,
        cpu,
        process_cpu: process,
        captures,
        capture_cpu,
    }
}

/// A source that notes when each capture ended.
struct Logged<S> {
    inner: S,
    log: Arc<Mutex<ServerLog>>,
}

impl<S: ScreenSource> ScreenSource for Logged<S> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn capture(&mut self) -> Result<ScreenImage, SourceError> {
        let frame = self.inner.capture();
        self.log.lock().unwrap().captures.push((0, Instant::now()));
        frame
    }

    fn capture_changed(&mut self, previous: Option<&ScreenImage>) -> Result<Option<ScreenImage>, SourceError> {
        let frame = self.inner.capture_changed(previous);
        self.log.lock().unwrap().captures.push((0, Instant::now()));
        frame
    }
}

/// Frames without the ones equal to their predecessor (an update that changed nothing
/// visible: our server would wait for a change instead of answering).
fn distinct(frames: Vec<ScreenImage>) -> (Vec<ScreenImage>, usize) {
    let before = frames.len();
    let mut out: Vec<ScreenImage> = Vec::with_capacity(before);
    for f in frames {
        if out.last() != Some(&f) {
            out.push(f);
        }
    }
    let dropped = before - out.len();
    (out, dropped)
}

// ---------------------------------------------------------------------------------------
// Report.
// ---------------------------------------------------------------------------------------

fn percentile<T: Copy + Ord>(v: &[T], p: usize) -> T {
    let mut s = v.to_vec();
    s.sort();
    s[(s.len() * p / 100).min(s.len() - 1)]
}

fn kib(bytes: u64) -> String {
    if bytes < 10_000 { format!("{bytes} B") } else { format!("{:.1} KiB", bytes as f64 / 1024.0) }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `ours / theirs`, in bold when over 1.
fn ratio(ours: f64, theirs: f64) -> String {
    if theirs == 0.0 {
        return if ours == 0.0 { "1.00".into() } else { "inf".into() };
    }
    let r = ours / theirs;
    if r > 1.0 { format!("**{r:.2}**") } else { format!("{r:.2}") }
}

fn ratio_d(ours: Duration, theirs: Duration) -> String {
    ratio(ours.as_secs_f64(), theirs.as_secs_f64())
}

/// One content and encoding, both sides.
struct Row {
    content: &'static str,
    encoding: &'static str,
    xvnc: Side,
    ours: Side,
    dropped: usize,
}

fn report(
    cfg: &Config,
    rows: &[Row],
    idle: (Idle, Idle),
    memory: &[rss::RssRow],
    real: &[(usize, rss::Mem, rss::Mem)],
) -> String {
    let mut md = String::new();
    let w = &mut md;
    summary(w, rows, idle, memory);
    writeln!(w, "Content, 1024x768:").unwrap();
    for s in cfg.terminals.iter().chain([&cfg.photo]) {
        writeln!(w, "- {}: {}", s.name, s.what).unwrap();
    }
    writeln!(
        w,
        "\nClient format 32 bpp (vnc-rs bgra); lossless (no JPEG quality, no compression level asked); CopyRect allowed."
    )
    .unwrap();
    writeln!(w, "\n### Bytes per update (ratio ours/Xvnc, > 1 in bold)\n").unwrap();
    writeln!(
        w,
        "| content | encoding | updates Xvnc/ours | p50 Xvnc | p50 ours | p50 ratio | p99 Xvnc | p99 ours | p99 ratio | all updates ratio | first full screen Xvnc / ours |"
    )
    .unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for r in rows {
        let (x, o) = (&r.xvnc, &r.ours);
        let (x50, o50, x99, o99) =
            (percentile(&x.bytes, 50), percentile(&o.bytes, 50), percentile(&x.bytes, 99), percentile(&o.bytes, 99));
        let (xt, ot): (u64, u64) = (x.bytes.iter().sum(), o.bytes.iter().sum());
        writeln!(
            w,
            "| {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} / {} ({}) |",
            r.content,
            r.encoding,
            x.bytes.len(),
            o.bytes.len(),
            kib(x50),
            kib(o50),
            ratio(o50 as f64, x50 as f64),
            kib(x99),
            kib(o99),
            ratio(o99 as f64, x99 as f64),
            ratio(ot as f64, xt as f64),
            kib(x.first_bytes),
            kib(o.first_bytes),
            ratio(o.first_bytes as f64, x.first_bytes as f64),
        )
        .unwrap();
    }
    writeln!(w, "\n### Time per update\n").unwrap();
    writeln!(
        w,
        "| content | encoding | CPU p50 Xvnc | CPU p50 ours | p50 ratio | CPU p99 Xvnc | CPU p99 ours | p99 ratio | ours server time p50 / p99 | Xvnc latency p50 / p99 |"
    )
    .unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for r in rows {
        let (x, o) = (&r.xvnc, &r.ours);
        let (x50, o50, x99, o99) =
            (percentile(&x.cpu, 50), percentile(&o.cpu, 50), percentile(&x.cpu, 99), percentile(&o.cpu, 99));
        writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} |",
            r.content,
            r.encoding,
            ms(x50),
            ms(o50),
            ratio_d(o50, x50),
            ms(x99),
            ms(o99),
            ratio_d(o99, x99),
            ms(percentile(&o.server_time, 50)),
            ms(percentile(&o.server_time, 99)),
            ms(percentile(&x.latency, 50)),
            ms(percentile(&x.latency, 99)),
        )
        .unwrap();
    }
    let (x, o) = idle;
    writeln!(
        w,
        "\n### Idle screen ({} s of incremental requests every {} ms, static photo, after the first update)\n",
        IDLE_FIRST + cfg.idle_secs,
        IDLE_REQUEST_EVERY.as_millis()
    )
    .unwrap();
    writeln!(w, "| | update bytes | updates | CPU, first {IDLE_FIRST} s | CPU, the {} s after |", cfg.idle_secs)
        .unwrap();
    writeln!(w, "|---|---|---|---|---|").unwrap();
    writeln!(
        w,
        "| Xvnc | {} | {} | {:.1} ms/s | {:.1} ms/s (Xvnc process) |",
        x.bytes,
        x.updates,
        x.first_cpu * 1e3,
        x.cpu * 1e3
    )
    .unwrap();
    writeln!(
        w,
        "| ours | {} | {} | {:.1} ms/s | {:.1} ms/s server and capture threads ({:.1} of it capturing); {:.1} ms/s whole bench process (with the client) |",
        o.bytes,
        o.updates,
        o.first_cpu * 1e3,
        o.cpu * 1e3,
        o.capture_cpu * 1e3,
        o.process_cpu * 1e3,
    )
    .unwrap();
    writeln!(
        w,
        "\nOurs reads the photo from a framebuffer (a file laid out as XRGB8888 /dev/fb0, through the guest's own mmap source) and its CPU counts the server thread and the capture threads. Our capture runs at its full rate ({} a second) for {} ms after a change or input, and one every {} ms on a still screen (a new connection, whose full-screen request gets one prompt capture): {} captures in the first second here, {:.1} a second after it. Each reads the whole framebuffer and compares it line by line with the previous frame, building no frame while it matches; Xvnc, the X server itself, is told what changed.",
        DisplayConfig::default().max_fps,
        cvm_consoled::display::hub::IDLE_AFTER.as_millis(),
        cvm_consoled::display::hub::MAX_IDLE_INTERVAL.as_millis(),
        o.captures.0,
        o.captures.1,
    )
    .unwrap();
    memory_table(w, memory, real);
    writeln!(w, "\nNotes:").unwrap();
    for r in rows {
        let (x, o) = (&r.xvnc, &r.ours);
        let dropped = if r.dropped > 0 {
            format!("; {} Xvnc update(s) changed no pixel and have no replayed counterpart", r.dropped)
        } else {
            String::new()
        };
        writeln!(
            w,
            "- {} {}: Xvnc sent {} rectangles ({} CopyRect) in {:.1} s; ours {} ({} CopyRect) in {:.1} s{dropped}.",
            r.content,
            r.encoding,
            x.rects,
            x.copies,
            x.wall.as_secs_f64(),
            o.rects,
            o.copies,
            o.wall.as_secs_f64(),
        )
        .unwrap();
    }
    let notes = [
        "bytes: the whole FramebufferUpdate message, headers included; \"all updates\": the sum over the run.",
        "terminals: before each request the xterm runs for 30 ms, is stopped, and Xvnc gets 20 ms to finish drawing; the frames Xvnc sent are then replayed to ours in the same order (xterm stopped). Photo: full-screen (non-incremental) updates of the static screen.",
        "CPU: on-CPU time (schedstat) from the request to the complete update: Xvnc's whole process (nothing else runs in it then); ours: the server thread (hub, damage, encoding; not the capture thread's copy of the replayed frame and its comparison with the previous one).",
        "ours server time: wall time from the server having both the request and the replayed frame to its flush of the complete update; the client decodes only after it.",
        "Xvnc latency: wall time from the request to the update's last byte at the client (loopback TCP; includes Xvnc's 1 ms update deferral and the client's concurrent reading).",
    ];
    for n in notes {
        writeln!(w, "- {n}").unwrap();
    }
    md
}

fn main() {
    if let Ok(frame_file) = std::env::var(rss::CHILD_VAR) {
        rss::serve_child(&frame_file);
        return;
    }
    let Some(cfg) = Config::from_env() else {
        println!("display_encode: needs the Xvnc servers that scripts/bench-display starts; run that. Skipped.");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let n = cfg.updates;
        let encodings = [(VncEncoding::Zrle, "ZRLE"), (VncEncoding::Tight, "Tight")];
        cfg.terminals.iter().filter_map(|t| t.xterm).for_each(|x| signal(x, "-STOP"));
        let mut rows = Vec::new();
        for screen in &cfg.terminals {
            for (encoding, name) in encodings {
                eprintln!("bench-display: {} {name}: Xvnc, {n} updates", screen.name);
                let (xvnc, frames) = run_xvnc(screen, encoding, Mode::Incremental, n).await;
                let (frames, dropped) = distinct(frames);
                eprintln!("bench-display: {} {name}: ours, {} frames", screen.name, frames.len() - 1);
                let ours = run_ours(Arc::new(frames), encoding, Mode::Incremental, n).await;
                rows.push(Row { content: screen.name, encoding: name, xvnc, ours, dropped });
            }
        }
        let mut photo = None;
        for (encoding, name) in encodings {
            eprintln!("bench-display: photo {name}: Xvnc, {n} full-screen updates");
            let (xvnc, frames) = run_xvnc(&cfg.photo, encoding, Mode::Full, n).await;
            let frame = frames.into_iter().next().unwrap();
            eprintln!("bench-display: photo {name}: ours");
            let ours = run_ours(Arc::new(vec![frame.clone()]), encoding, Mode::Full, n).await;
            photo = Some(frame);
            rows.push(Row { content: "photo", encoding: name, xvnc, ours, dropped: 0 });
        }
        eprintln!("bench-display: idle, {} s each", cfg.idle_secs);
        let idle_x = idle_xvnc(&cfg.photo, cfg.idle_secs).await;
        let idle_o = idle_ours(photo.unwrap(), cfg.idle_secs).await;
        let mut memory = Vec::new();
        if let Some(big) = &cfg.big {
            let (_, frames) = run_xvnc(big, VncEncoding::Zrle, Mode::Full, 1).await;
            memory = rss::measure(big, &frames[0]).await;
        }
        let real = match std::env::var_os("CVMC_BENCH_SERVER") {
            Some(server) => rss::measure_real_server(std::path::Path::new(&server)).await,
            None => Vec::new(),
        };
        print!("{}", report(&cfg, &rows, (idle_x, idle_o), &memory, &real));
    });
}
