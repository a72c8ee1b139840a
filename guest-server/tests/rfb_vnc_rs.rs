//! The RFB server against a real client: vnc-rs 0.6 over `tokio::io::duplex`, plus a
//! hand-driven client for input and malformed messages. The screen is a
//! `PatternSource` whose frame number and size the test sets, so every expected
//! framebuffer is `PatternSource::frame_at(n)`.
#![allow(clippy::unwrap_used)]

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use cvm_consoled::display::{
    DisplayConfig, DisplayError, InputSink, PatternSource, ScreenHub, ScreenImage, ScreenSource, SourceError, serve_rfb,
};
use cvmc_protocol::rfb::{ClientMsg, PixelFormatError, RfbError, VERSION_3_8, encoding};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, DuplexStream, ReadBuf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use vnc::{PixelFormat, VncClient, VncConnector, VncEncoding, VncEvent, X11Event};

/// Longest any single condition may take (debug builds encode slowly).
const DEADLINE: Duration = Duration::from_secs(20);
/// How long the client waits for an event before asking for another update.
const POLL: Duration = Duration::from_millis(20);

/// The pattern at a frame number and size the test chooses; counts captures.
#[derive(Clone)]
struct Screen {
    pattern: Arc<Mutex<PatternSource>>,
    n: Arc<AtomicU64>,
    captures: Arc<AtomicU64>,
}

impl Screen {
    fn new(width: u16, height: u16) -> Self {
        let pattern = Arc::new(Mutex::new(PatternSource::new(width, height)));
        Self { pattern, n: Arc::new(AtomicU64::new(0)), captures: Arc::new(AtomicU64::new(0)) }
    }
    fn show(&self, n: u64) {
        self.n.store(n, Ordering::SeqCst);
    }
    fn resize(&self, width: u16, height: u16) {
        self.pattern.lock().unwrap().set_size(width, height);
    }
    fn expected(&self) -> ScreenImage {
        self.pattern.lock().unwrap().frame_at(self.n.load(Ordering::SeqCst))
    }
    fn hub(&self) -> ScreenHub {
        ScreenHub::new(Box::new(self.clone()), 60)
    }
}

impl ScreenSource for Screen {
    fn name(&self) -> String {
        "test screen".into()
    }
    fn capture(&mut self) -> Result<ScreenImage, SourceError> {
        self.captures.fetch_add(1, Ordering::SeqCst);
        Ok(self.expected())
    }
}

/// The server's end of the pipe, counting the bytes the server writes.
struct Counted {
    inner: DuplexStream,
    written: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            self.written.fetch_add(u64::try_from(*n).unwrap(), Ordering::SeqCst);
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct Served {
    client_end: DuplexStream,
    task: JoinHandle<Result<(), DisplayError>>,
    written: Arc<AtomicU64>,
}

fn start_rfb(hub: &ScreenHub, input: Option<Arc<dyn InputSink>>, cfg: DisplayConfig) -> Served {
    let (client_end, server_end) = tokio::io::duplex(1 << 20);
    let written = Arc::new(AtomicU64::new(0));
    let stream = Counted { inner: server_end, written: Arc::clone(&written) };
    let hub = hub.clone();
    let task = tokio::spawn(async move { serve_rfb(stream, hub, input, &cfg).await });
    Served { client_end, task, written }
}

async fn connect(stream: DuplexStream, encodings: &[VncEncoding]) -> VncClient {
    let mut connector = VncConnector::new(stream).set_auth_method(async { Ok(String::new()) });
    for e in encodings {
        connector = connector.add_encoding(*e);
    }
    let state = connector.allow_shared(true).set_pixel_format(PixelFormat::bgra()).build().unwrap();
    timeout(DEADLINE, state.try_start()).await.expect("handshake in time").unwrap().finish().unwrap()
}

/// What the client drew, and the rectangles it got since `rects` was last cleared.
#[derive(Default)]
struct Fb {
    width: u16,
    height: u16,
    pixels: Vec<u32>,
    rects: Vec<vnc::Rect>,
    copies: usize,
}

impl Fb {
    fn resize(&mut self, width: u16, height: u16) {
        (self.width, self.height) = (width, height);
        self.pixels = vec![0; usize::from(width) * usize::from(height)];
    }

    fn apply(&mut self, event: VncEvent) {
        let w = usize::from(self.width);
        match event {
            VncEvent::SetResolution(s) => self.resize(s.width, s.height),
            VncEvent::DesktopUpdate(u) => {
                if let Some(l) = u.layout
                    && (l.width, l.height) != (self.width, self.height)
                {
                    self.resize(l.width, l.height);
                }
            }
            VncEvent::RawImage(r, data) => {
                // BGRA: the little-endian u32 is 0xAARRGGBB.
                let mut px = data.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) & 0xff_ffff);
                for y in usize::from(r.y)..usize::from(r.y + r.height) {
                    for x in usize::from(r.x)..usize::from(r.x + r.width) {
                        self.pixels[y * w + x] = px.next().unwrap();
                    }
                }
                self.rects.push(r);
            }
            VncEvent::Copy(dst, src) => {
                let old = self.pixels.clone();
                for dy in 0..usize::from(dst.height) {
                    for dx in 0..usize::from(dst.width) {
                        let from = (usize::from(src.y) + dy) * w + usize::from(src.x) + dx;
                        self.pixels[(usize::from(dst.y) + dy) * w + usize::from(dst.x) + dx] = old[from];
                    }
                }
                self.copies += 1;
            }
            VncEvent::JpegImage(..) => panic!("a lossless test received JPEG"),
            _ => {}
        }
    }

    fn matches(&self, f: &ScreenImage) -> bool {
        (self.width, self.height) == (f.width, f.height) && self.pixels == f.pixels
    }
}

/// Apply events until `done(fb)`, asking for an incremental update whenever the
/// client has been idle for [`POLL`].
async fn pump(client: &VncClient, fb: &mut Fb, what: &str, done: impl Fn(&Fb) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(fb) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        match timeout(POLL, client.recv_event()).await {
            Ok(Ok(event)) => fb.apply(event),
            Ok(Err(e)) => panic!("client failed while waiting for {what}: {e}"),
            Err(_) => client.input(X11Event::Refresh).await.unwrap(),
        }
    }
}

async fn pump_to(client: &VncClient, fb: &mut Fb, expected: &ScreenImage, what: &str) {
    pump(client, fb, what, |fb| fb.matches(expected)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossless_encodings_reconstruct_the_pattern() {
    for enc in [VncEncoding::Raw, VncEncoding::Zrle, VncEncoding::Tight] {
        let screen = Screen::new(320, 240);
        let hub = screen.hub();
        let served = start_rfb(&hub, None, DisplayConfig::default());
        let client = connect(served.client_end, &[enc, VncEncoding::Raw]).await;
        let mut fb = Fb::default();
        for n in [0, 1, 2, 77, 1_000_003] {
            screen.show(n);
            pump_to(&client, &mut fb, &screen.expected(), &format!("{enc:?} frame {n}")).await;
        }
        client.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_updates_carry_only_changed_tiles() {
    let screen = Screen::new(640, 480);
    let served = start_rfb(&screen.hub(), None, DisplayConfig::default());
    let written = Arc::clone(&served.written);
    let client = connect(served.client_end, &[VncEncoding::Raw]).await;
    let mut fb = Fb::default();
    screen.show(40);
    let before = screen.expected();
    pump_to(&client, &mut fb, &before, "the first frame").await;
    let full_bytes = written.load(Ordering::SeqCst);
    fb.rects.clear();
    screen.show(41);
    let after = screen.expected();
    pump_to(&client, &mut fb, &after, "the next frame").await;
    let update_bytes = written.load(Ordering::SeqCst) - full_bytes;

    let tile_changed = |tx: usize, ty: usize| {
        (ty * 64..(ty * 64 + 64).min(480)).any(|y| {
            (tx * 64..(tx * 64 + 64).min(640)).any(|x| before.pixels[y * 640 + x] != after.pixels[y * 640 + x])
        })
    };
    assert!(!fb.rects.is_empty());
    for r in &fb.rects {
        for ty in usize::from(r.y) / 64..=(usize::from(r.y + r.height) - 1) / 64 {
            for tx in usize::from(r.x) / 64..=(usize::from(r.x + r.width) - 1) / 64 {
                assert!(tile_changed(tx, ty), "rectangle {r:?} covers unchanged tile ({tx}, {ty})");
            }
        }
    }
    assert!(update_bytes * 20 < full_bytes, "incremental {update_bytes} B vs first frame {full_bytes} B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resize_reaches_the_client() {
    let screen = Screen::new(320, 240);
    let hub = screen.hub();
    let mut clients = Vec::new();
    for extra in [Some(VncEncoding::DesktopSizePseudo), Some(VncEncoding::ExtendedDesktopSizePseudo), None] {
        let served = start_rfb(&hub, None, DisplayConfig::default());
        let encodings: Vec<VncEncoding> = [VncEncoding::Zrle].into_iter().chain(extra).collect();
        let client = connect(served.client_end, &encodings).await;
        let mut fb = Fb::default();
        pump_to(&client, &mut fb, &screen.expected(), "the first frame").await;
        clients.push((extra, client, fb));
    }
    screen.resize(400, 300);
    screen.show(1);
    let grown = screen.expected();
    for (extra, client, fb) in &mut clients {
        if extra.is_some() {
            pump_to(client, fb, &grown, &format!("the resized frame ({extra:?})")).await;
        } else {
            // No resize support: the old geometry, showing the new screen clipped.
            let clipped: Vec<u32> =
                (0..240).flat_map(|y| grown.pixels[y * 400..y * 400 + 320].iter().copied()).collect();
            let want = ScreenImage { width: 320, height: 240, pixels: clipped };
            pump_to(client, fb, &want, "the clipped frame").await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_screen_sends_no_update_bytes() {
    let screen = Screen::new(320, 240);
    let served = start_rfb(&screen.hub(), None, DisplayConfig::default());
    let written = Arc::clone(&served.written);
    let client = connect(served.client_end, &[VncEncoding::Zrle]).await;
    let mut fb = Fb::default();
    pump_to(&client, &mut fb, &screen.expected(), "the first frame").await;
    let (bytes, captures) = (written.load(Ordering::SeqCst), screen.captures.load(Ordering::SeqCst));
    let end = Instant::now() + Duration::from_secs(1);
    let mut requests = 0;
    while Instant::now() < end {
        client.input(X11Event::Refresh).await.unwrap();
        requests += 1;
        if let Ok(event) = timeout(POLL, client.recv_event()).await {
            let event = event.unwrap();
            assert!(!matches!(event, VncEvent::RawImage(..) | VncEvent::Copy(..)), "update while idle: {event:?}");
        }
    }
    assert_eq!(written.load(Ordering::SeqCst), bytes, "update bytes while idle");
    // A still screen is captured every half second (the hub's idle back-off): the
    // server looked at the screen again and found nothing to send.
    let looked = screen.captures.load(Ordering::SeqCst) - captures;
    assert!(requests > 20 && looked >= 2, "{requests} requests, {looked} captures compared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scroll_is_sent_as_copy_rect() {
    let screen = Screen::new(320, 240);
    let hub = ScreenHub::new(Box::new(Scroller(screen.clone())), 60);
    let served = start_rfb(&hub, None, DisplayConfig::default());
    let written = Arc::clone(&served.written);
    let client = connect(served.client_end, &[VncEncoding::CopyRect, VncEncoding::Raw]).await;
    let mut fb = Fb::default();
    pump_to(&client, &mut fb, &Scroller::frame(0), "the first frame").await;
    let full = written.load(Ordering::SeqCst);
    screen.show(1);
    pump_to(&client, &mut fb, &Scroller::frame(1), "the scrolled frame").await;
    assert_eq!(fb.copies, 1);
    assert!((written.load(Ordering::SeqCst) - full) * 2 < full, "the scroll cost more than half a frame");
}

/// The pattern scrolled up by 32 rows per frame number (new rows at the bottom).
struct Scroller(Screen);

impl Scroller {
    fn frame(n: u64) -> ScreenImage {
        let tall = PatternSource::new(320, 240 + 64).frame_at(7);
        let top = usize::try_from(n * 32).unwrap() * 320;
        ScreenImage { width: 320, height: 240, pixels: tall.pixels[top..top + 320 * 240].to_vec() }
    }
}

impl ScreenSource for Scroller {
    fn name(&self) -> String {
        "scroller".into()
    }
    fn capture(&mut self) -> Result<ScreenImage, SourceError> {
        Ok(Scroller::frame(self.0.n.load(Ordering::SeqCst)))
    }
}

/// Records input; `changed` fires on every event.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
    changed: Notify,
}

impl InputSink for Recorder {
    fn key(&self, down: bool, keysym: u32, xt_keycode: Option<u32>) {
        self.events.lock().unwrap().push(format!("key {down} {keysym:#x} {xt_keycode:?}"));
        self.changed.notify_one();
    }
    fn pointer(&self, buttons: u8, x: u16, y: u16, width: u16, height: u16) {
        self.events.lock().unwrap().push(format!("pointer {buttons} {x},{y} in {width}x{height}"));
        self.changed.notify_one();
    }
}

impl Recorder {
    async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let notified = self.changed.notified();
            if self.events.lock().unwrap().len() >= count {
                return self.events.lock().unwrap().clone();
            }
            assert!(timeout(deadline - Instant::now(), notified).await.is_ok(), "input did not arrive");
        }
    }
}

/// The client side of the handshake by hand; returns the framebuffer size.
async fn raw_handshake(s: &mut DuplexStream) -> (u16, u16) {
    let mut version = [0u8; 12];
    s.read_exact(&mut version).await.unwrap();
    assert_eq!(&version, VERSION_3_8);
    s.write_all(VERSION_3_8).await.unwrap();
    let mut types = [0u8; 2];
    s.read_exact(&mut types).await.unwrap();
    assert_eq!(types, [1, 1], "one security type, None");
    s.write_all(&[1]).await.unwrap();
    assert_eq!(s.read_u32().await.unwrap(), 0, "SecurityResult OK");
    s.write_all(&[1]).await.unwrap();
    let (w, h) = (s.read_u16().await.unwrap(), s.read_u16().await.unwrap());
    let mut pf = [0u8; 16];
    s.read_exact(&mut pf).await.unwrap();
    let mut name = vec![0u8; usize::try_from(s.read_u32().await.unwrap()).unwrap()];
    s.read_exact(&mut name).await.unwrap();
    (w, h)
}

/// Read one FramebufferUpdate of Raw 32-bit rectangles; returns the encodings seen.
async fn read_raw_update(s: &mut DuplexStream) -> Vec<i32> {
    let mut header = [0u8; 4];
    timeout(DEADLINE, s.read_exact(&mut header)).await.unwrap().unwrap();
    assert_eq!(header[0], 0, "FramebufferUpdate");
    let mut seen = Vec::new();
    for _ in 0..u16::from_be_bytes([header[2], header[3]]) {
        let mut r = [0u8; 12];
        s.read_exact(&mut r).await.unwrap();
        let rect = cvmc_protocol::rfb::RectHeader::decode(&r);
        if rect.encoding == encoding::RAW {
            let mut px = vec![0u8; usize::from(rect.width) * usize::from(rect.height) * 4];
            s.read_exact(&mut px).await.unwrap();
        }
        seen.push(rect.encoding);
    }
    seen
}

type Check = fn(&DisplayError) -> bool;
/// A malformed client: its name, the version it sends instead of 3.8 (if any), the
/// bytes it sends after the handshake, and the error the server must end with.
type Case = (&'static str, Option<&'static [u8; 12]>, Vec<u8>, Check);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_end_only_that_connection() {
    let screen = Screen::new(64, 48);
    let hub = screen.hub();
    let mut bad_pf = ClientMsg::SetPixelFormat(cvmc_protocol::rfb::PixelFormat::RGB888).encode().unwrap();
    bad_pf[4] = 24;
    let cases: Vec<Case> = vec![
        ("bad SetPixelFormat", None, bad_pf, |e| {
            matches!(e, DisplayError::Protocol(RfbError::PixelFormat(PixelFormatError::BitsPerPixel { bpp: 24 })))
        }),
        ("huge ClientCutText", None, vec![6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], |e| {
            matches!(e, DisplayError::Protocol(RfbError::TooLong { field: "ClientCutText length", .. }))
        }),
        ("unknown message type", None, vec![42], |e| {
            matches!(e, DisplayError::Protocol(RfbError::UnknownMessageType { value: 42 }))
        }),
        ("garbage version", Some(b"GET / HTTP/1"), vec![], |e| {
            matches!(e, DisplayError::Protocol(RfbError::BadVersion { .. }))
        }),
        ("RFB 3.3", Some(b"RFB 003.003\n"), vec![], |e| {
            matches!(e, DisplayError::Protocol(RfbError::UnsupportedVersion { major: 3, minor: 3 }))
        }),
    ];
    for (name, version, bytes, check) in cases {
        let served = start_rfb(&hub, None, DisplayConfig::default());
        let mut s = served.client_end;
        match version {
            Some(v) => {
                let mut server_version = [0u8; 12];
                s.read_exact(&mut server_version).await.unwrap();
                s.write_all(v).await.unwrap();
            }
            None => {
                raw_handshake(&mut s).await;
                s.write_all(&bytes).await.unwrap();
            }
        }
        let ended = timeout(DEADLINE, served.task).await.unwrap_or_else(|_| panic!("{name}: still serving"));
        let err = ended.unwrap_or_else(|e| panic!("{name}: server task panicked: {e}")).unwrap_err();
        assert!(check(&err), "{name}: unexpected error {err}");
        if version == Some(b"RFB 003.003\n") {
            assert_eq!(s.read_u32().await.unwrap(), 0, "3.3 connection failed");
            assert!(s.read_u32().await.unwrap() > 0, "with a reason");
        }
    }
    let served = start_rfb(&hub, None, DisplayConfig::default());
    let client = connect(served.client_end, &[VncEncoding::Zrle]).await;
    pump_to(&client, &mut Fb::default(), &screen.expected(), "a frame after the bad connections").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_pointer_reach_the_sink() {
    let screen = Screen::new(320, 240);
    let hub = screen.hub();
    let recorder = Arc::new(Recorder::default());
    let served = start_rfb(&hub, Some(recorder.clone()), DisplayConfig::default());
    let client = connect(served.client_end, &[VncEncoding::Raw]).await;
    pump_to(&client, &mut Fb::default(), &screen.expected(), "the first frame").await;
    for event in [
        X11Event::KeyEvent((0x61, true).into()),
        X11Event::KeyEvent((0x61, false).into()),
        X11Event::PointerEvent((10, 20, 1).into()),
        X11Event::PointerEvent((5000, 7, 0).into()),
    ] {
        client.input(event).await.unwrap();
    }
    let want =
        ["key true 0x61 None", "key false 0x61 None", "pointer 1 10,20 in 320x240", "pointer 0 319,7 in 320x240"];
    assert_eq!(recorder.wait_for(4).await, want);

    // A client that uses QEMU extended key events gets them confirmed, then heard.
    let served = start_rfb(&hub, Some(recorder.clone()), DisplayConfig::default());
    let mut s = served.client_end;
    let (w, h) = raw_handshake(&mut s).await;
    let mut msgs = ClientMsg::SetEncodings(vec![encoding::QEMU_EXTENDED_KEY_EVENT]).encode().unwrap();
    let request = ClientMsg::FramebufferUpdateRequest { incremental: false, x: 0, y: 0, width: w, height: h };
    msgs.extend(request.encode().unwrap());
    s.write_all(&msgs).await.unwrap();
    let (last, pixels) = read_raw_update(&mut s).await.split_last().map(|(l, p)| (*l, p.to_vec())).unwrap();
    assert_eq!(last, encoding::QEMU_EXTENDED_KEY_EVENT, "confirmed after the pixels");
    assert!(!pixels.is_empty() && pixels.iter().all(|&e| e == encoding::RAW));
    let key = ClientMsg::QemuExtendedKeyEvent { down: true, keysym: 0x41, keycode: 0x1e };
    s.write_all(&key.encode().unwrap()).await.unwrap();
    assert_eq!(recorder.wait_for(5).await[4], "key true 0x41 Some(30)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_only_drops_keys_and_pointer() {
    let screen = Screen::new(320, 240);
    let recorder = Arc::new(Recorder::default());
    let cfg = DisplayConfig { view_only: true, ..DisplayConfig::default() };
    let served = start_rfb(&screen.hub(), Some(recorder.clone()), cfg);
    let client = connect(served.client_end, &[VncEncoding::Raw]).await;
    let mut fb = Fb::default();
    pump_to(&client, &mut fb, &screen.expected(), "the first frame").await;
    fb.rects.clear();
    client.input(X11Event::KeyEvent((0x61, true).into())).await.unwrap();
    client.input(X11Event::PointerEvent((10, 20, 1).into())).await.unwrap();
    // The server reads in order: once this refresh is answered, the input was handled.
    client.input(X11Event::FullRefresh).await.unwrap();
    pump(&client, &mut fb, "the full refresh", |fb| !fb.rects.is_empty()).await;
    assert!(recorder.events.lock().unwrap().is_empty(), "view-only input reached the sink");
}

/// A connection holds no frame it no longer needs: once its client has newer frames, the
/// first one it was sent is freed. (Kept for the connection's life, that first frame
/// cost 7.9 MiB per connection at 1920x1080 as soon as the screen changed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lets_go_of_frames_it_no_longer_needs() {
    let screen = Screen::new(320, 240);
    let hub = screen.hub();
    screen.show(1);
    // The hub hands out the same `Arc` while the screen does not change, so this is the
    // frame the connection starts from.
    let first = Arc::downgrade(&hub.frame().await.unwrap());
    let served = start_rfb(&hub, None, DisplayConfig::default());
    let client = connect(served.client_end, &[VncEncoding::Raw]).await;
    let mut fb = Fb::default();
    pump_to(&client, &mut fb, &screen.expected(), "the first frame").await;
    assert!(first.upgrade().is_some(), "the first frame is what the client holds");
    for n in [2, 3, 4] {
        screen.show(n);
        pump_to(&client, &mut fb, &screen.expected(), "a newer frame").await;
    }
    assert!(first.upgrade().is_none(), "the first frame is still held after three newer ones");
}
