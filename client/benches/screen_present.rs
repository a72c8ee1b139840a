//! Decode-to-present time per screen update, for a full 1920x1080 frame and for a small
//! text change: `cargo bench -p cvm-console --bench screen_present`.
//!
//! ```text
//! recorded: guest server (serve_rfb, ZRLE, damage) ─► update bytes, once
//! timed:    bytes into the stream ─► vnc-rs decode ─► gui::net::screen_event (BGRA→RGBA)
//!           ─► Framebuffer::apply ─► ScreenView::ui in an egui frame (texture set_partial)
//!           ─► tessellate                                   = "presented"
//! ```
//! "Present" ends when egui holds the texture delta and the tessellated frame, i.e.
//! everything the renderer needs; the GPU upload and draw are not included (there is
//! no GPU here, and lavapipe's software timing would not say anything about one).
//! Encoding on the guest is not timed: the server's bytes are recorded first and then
//! replayed, so only the client's work is measured. Each replay is a new vnc-rs
//! connection, because ZRLE's zlib stream lives as long as the connection.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // reason: a benchmark; a failed step should stop it

#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
fn main() {
    bench::main();
}

/// The benchmark (the guest server it records from needs Unix).
#[cfg(unix)]
mod bench {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use cvm_console::gui::net::screen_event;
    use cvm_console::gui::screen_view::ScreenView;
    use cvm_console::gui::state::SessionView;
    use cvm_consoled::display::{DisplayConfig, PatternSource, ScreenHub, ScreenImage, ScreenSource, serve_rfb};

    const W: u16 = 1920;
    const H: u16 = 1080;
    /// Small changes between two full frames.
    const SMALL_PER_FULL: usize = 15;
    /// Full frames per recording (the first is the initial picture).
    const FULLS: usize = 4;
    /// Replays of the recording.
    const REPLAYS: usize = 3;

    /// Serves whatever frame the benchmark set last.
    struct Shared(Arc<Mutex<ScreenImage>>);

    impl ScreenSource for Shared {
        fn name(&self) -> String {
            "bench".into()
        }
        fn capture(&mut self) -> Result<ScreenImage, cvm_consoled::display::SourceError> {
            Ok(self.0.lock().unwrap().clone())
        }
    }

    /// 32 bpp, depth 24, little-endian, true colour, 0x00RRGGBB: what vnc-rs's `bgra()` asks for.
    const PIXEL_FORMAT: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

    /// A recorded FramebufferUpdate: its bytes, the pixels it covers, and whether it is a full frame.
    struct Update {
        bytes: Vec<u8>,
        area: u64,
        full: bool,
    }

    /// A few lines of "text" (blocks in a character grid) that differ with `seed`.
    fn type_text(frame: &mut ScreenImage, seed: usize) {
        let (x0, y0) = (240usize, 640usize);
        for ch in 0..12 {
            for y in 0..16 {
                for x in 0..8 {
                    let on = (x + y * 3 + ch * 7 + seed * 13) % 5 < 2 && x < 7 && y < 14;
                    let i = (y0 + y) * usize::from(W) + x0 + (seed % 4) * 8 * 12 + ch * 8 + x;
                    frame.pixels[i] = if on { 0x00d0_d0d0 } else { 0x0010_1010 };
                }
            }
        }
    }

    async fn read_u16(s: &mut DuplexStream) -> u16 {
        s.read_u16().await.unwrap()
    }

    /// Record one update per frame the guest server sends for `frames`.
    async fn record(frames: Vec<(ScreenImage, bool)>) -> Vec<Update> {
        let current = Arc::new(Mutex::new(frames[0].0.clone()));
        let hub = ScreenHub::new(Box::new(Shared(Arc::clone(&current))), 1000);
        let (server_end, mut c) = tokio::io::duplex(1 << 20);
        let cfg = DisplayConfig { view_only: true, max_fps: 1000, desktop_name: "bench".into() };
        tokio::spawn(async move { serve_rfb(server_end, hub, None, &cfg).await });
        // RFC 6143 7.1-7.3: version, security None, ClientInit (shared), ServerInit.
        let mut version = [0u8; 12];
        c.read_exact(&mut version).await.unwrap();
        c.write_all(b"RFB 003.008\n").await.unwrap();
        let n = c.read_u8().await.unwrap();
        let mut types = vec![0u8; usize::from(n)];
        c.read_exact(&mut types).await.unwrap();
        c.write_all(&[1]).await.unwrap();
        assert_eq!(c.read_u32().await.unwrap(), 0, "security result");
        c.write_all(&[1]).await.unwrap();
        let mut init = [0u8; 20];
        c.read_exact(&mut init).await.unwrap();
        let name_len = c.read_u32().await.unwrap();
        let mut name = vec![0u8; usize::try_from(name_len).unwrap()];
        c.read_exact(&mut name).await.unwrap();
        // SetPixelFormat, SetEncodings [ZRLE, Raw] (7.5.1, 7.5.2).
        let mut msg = vec![0u8, 0, 0, 0];
        msg.extend_from_slice(&PIXEL_FORMAT);
        msg.extend_from_slice(&[2, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 0]);
        c.write_all(&msg).await.unwrap();

        let mut out = Vec::new();
        for (i, (frame, full)) in frames.into_iter().enumerate() {
            *current.lock().unwrap() = frame;
            tokio::time::sleep(Duration::from_millis(5)).await;
            let incremental = u8::from(i > 0);
            let [w0, w1] = W.to_be_bytes();
            let [h0, h1] = H.to_be_bytes();
            c.write_all(&[3, incremental, 0, 0, 0, 0, w0, w1, h0, h1]).await.unwrap();
            // FramebufferUpdate (7.6.1): rectangles with their encodings' payloads.
            let kind = c.read_u8().await.unwrap();
            assert_eq!(kind, 0, "expected a FramebufferUpdate");
            let pad = c.read_u8().await.unwrap();
            let rects = read_u16(&mut c).await;
            let mut bytes = vec![kind, pad];
            bytes.extend_from_slice(&rects.to_be_bytes());
            let mut area = 0u64;
            for _ in 0..rects {
                let mut header = [0u8; 12];
                c.read_exact(&mut header).await.unwrap();
                bytes.extend_from_slice(&header);
                let (w, h) = (u16::from_be_bytes([header[4], header[5]]), u16::from_be_bytes([header[6], header[7]]));
                let encoding = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
                let payload = match encoding {
                    0 => usize::from(w) * usize::from(h) * 4,
                    16 => {
                        let len = c.read_u32().await.unwrap();
                        bytes.extend_from_slice(&len.to_be_bytes());
                        usize::try_from(len).unwrap()
                    }
                    other => panic!("unexpected encoding {other}"),
                };
                let mut data = vec![0u8; payload];
                c.read_exact(&mut data).await.unwrap();
                bytes.extend_from_slice(&data);
                area += u64::from(w) * u64::from(h);
            }
            out.push(Update { bytes, area, full });
        }
        out
    }

    /// Replay `updates` to vnc-rs and time each from its bytes to its presented frame.
    fn replay(rt: &tokio::runtime::Runtime, updates: &[Update], times: &mut [Vec<Duration>; 4], rect_px: &mut u64) {
        let (mut server, client_end) = tokio::io::duplex(1 << 20);
        let client = rt.block_on(async {
            let handshake = tokio::spawn(async move {
                server.write_all(b"RFB 003.008\n").await.unwrap();
                let mut v = [0u8; 12];
                server.read_exact(&mut v).await.unwrap();
                server.write_all(&[1, 1]).await.unwrap();
                server.read_u8().await.unwrap();
                server.write_all(&0u32.to_be_bytes()).await.unwrap();
                server.read_u8().await.unwrap();
                let mut init = Vec::new();
                init.extend_from_slice(&W.to_be_bytes());
                init.extend_from_slice(&H.to_be_bytes());
                init.extend_from_slice(&PIXEL_FORMAT);
                init.extend_from_slice(&5u32.to_be_bytes());
                init.extend_from_slice(b"bench");
                server.write_all(&init).await.unwrap();
                server
            });
            let encodings = [vnc::VncEncoding::Zrle, vnc::VncEncoding::Raw];
            let client = cvm_console::rfb_viewer::start_viewer(client_end, &encodings).await.unwrap();
            (client, handshake.await.unwrap())
        });
        let (client, server) = client;
        let (mut rd, mut wr) = tokio::io::split(server);
        // The client's requests and input are read and dropped: the replay decides what comes.
        rt.spawn(async move {
            let mut sink = [0u8; 4096];
            while rd.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        rt.spawn(async move {
            while let Some(bytes) = rx.recv().await {
                wr.write_all(&bytes).await.unwrap();
            }
        });

        let ctx = egui::Context::default();
        let mut view = ScreenView::new();
        let mut fb = SessionView::default();
        let frame = |fb: &mut SessionView, view: &mut ScreenView| {
            let mut out = ctx.run_ui(egui::RawInput::default(), |ui| view.ui(ui, fb, &mut |_| {}));
            let area: u64 = out
                .textures_delta
                .set
                .values()
                .flat_map(|deltas| deltas.iter())
                .map(|d| u64::try_from(d.image.width() * d.image.height()).unwrap_or(0))
                .sum();
            // The renderer would apply the delta now; here it has been measured.
            out.textures_delta.clear();
            let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
            area
        };
        // The first event is the size (SetResolution from ServerInit).
        let first = rt.block_on(client.recv_event()).unwrap();
        fb.screen.apply(screen_event(first).unwrap().unwrap());
        frame(&mut fb, &mut view);
        for update in updates {
            let t0 = Instant::now();
            tx.send(update.bytes.clone()).unwrap();
            let mut got = 0u64;
            while got < update.area {
                let ev = rt.block_on(client.recv_event()).unwrap();
                if let vnc::VncEvent::RawImage(r, _) = &ev {
                    got += u64::from(r.width) * u64::from(r.height);
                }
                if let Some(ev) = screen_event(ev).unwrap() {
                    fb.screen.apply(ev);
                }
            }
            let decoded = t0.elapsed();
            let uploaded = frame(&mut fb, &mut view);
            let dt = t0.elapsed();
            let at = if update.full { 0 } else { 2 };
            times[at].push(dt);
            times[at + 1].push(decoded);
            if !update.full {
                *rect_px = (*rect_px).max(uploaded);
            }
        }
    }

    fn stats(name: &str, mut v: Vec<Duration>, bytes: usize) {
        v.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
        println!(
            "{name:<34} n={:<4} median {:>8.3} ms   p90 {:>8.3} ms   min {:>8.3} ms   mean {:>8.3} ms   ({} bytes ZRLE)",
            v.len(),
            ms(v[v.len() / 2]),
            ms(v[v.len() * 9 / 10]),
            ms(v[0]),
            mean,
            bytes
        );
    }

    pub fn main() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let a = PatternSource::new(W, H).frame_at(0);
        let mut b = a.clone();
        b.pixels.iter_mut().for_each(|p| *p ^= 0x00ff_ffff);
        let mut frames = Vec::new();
        for f in 0..FULLS {
            let base = if f % 2 == 0 { &a } else { &b };
            frames.push((base.clone(), true));
            for s in 0..SMALL_PER_FULL {
                let mut t = base.clone();
                type_text(&mut t, f * SMALL_PER_FULL + s);
                frames.push((t, false));
            }
        }
        let updates = rt.block_on(record(frames));
        let full_bytes = updates.iter().filter(|u| u.full).map(|u| u.bytes.len()).max().unwrap_or(0);
        let small_bytes = updates.iter().filter(|u| !u.full).map(|u| u.bytes.len()).max().unwrap_or(0);
        let small_area = updates.iter().filter(|u| !u.full).map(|u| u.area).max().unwrap_or(0);
        let mut times: [Vec<Duration>; 4] = Default::default();
        let mut uploaded = 0;
        for _ in 0..REPLAYS {
            replay(&rt, &updates, &mut times, &mut uploaded);
        }
        println!(
            "decode-to-present per update (vnc-rs decode -> RGBA -> framebuffer -> egui texture delta -> tessellated)"
        );
        let [full, full_decode, small, small_decode] = times;
        stats("full 1920x1080 frame", full, full_bytes);
        stats("  of which decode into framebuffer", full_decode, full_bytes);
        stats("small text change (12 characters)", small, small_bytes);
        stats("  of which decode into framebuffer", small_decode, small_bytes);
        println!(
            "small change: at most {small_area} pixels in the update, {uploaded} texture pixels uploaded (of {})",
            u64::from(W) * u64::from(H)
        );
        assert!(uploaded <= small_area.max(1) * 4, "a small update uploads only its rectangles");
    }
}
