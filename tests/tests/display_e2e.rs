//! The screen end to end over real TLS on loopback: our RFB server behind the
//! attested display channel, seen by real RFB peers — vnc-rs, vncdotool through
//! `cvm-console bridge` — and TigerVNC's Xvnc proxied behind `--display vnc:`.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cvm_console::net::{ConnectError, connect};
use cvm_consoled::display::pattern::PatternSource;
use cvm_consoled::display::source::DisplaySpec;
use cvmc_protocol::handshake::alpn;
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest};
use cvmc_tests::vnc_view::Viewer;
use cvmc_tests::xvnc::XvncWithXterm;
use vnc::VncEncoding;

/// The frame number the pattern shows in its 24-bit counter (cells of 8 pixels at
/// (8, h/4 + 8), lit green for a 1), so a viewer can be compared with that exact frame.
fn counter(v: &Viewer) -> u64 {
    let y = usize::from(v.size.1) / 4 + 8;
    (0..24).fold(0, |n, cell| (n << 1) | u64::from(v.at(8 + cell * 8, y) == 0x00ff00))
}

/// Whether the viewer shows exactly the pattern frame its counter names.
fn shows_a_whole_pattern_frame(v: &Viewer, pattern: &PatternSource) -> Result<u64, String> {
    let n = counter(v);
    let frame = pattern.frame_at(n);
    if (frame.width, frame.height) != v.size {
        return Err(format!("size {:?}", v.size));
    }
    let bad = frame.pixels.iter().zip(&v.pixels).filter(|(a, b)| a != b).count();
    if bad == 0 { Ok(n) } else { Err(format!("{bad} pixels differ from pattern frame {n}")) }
}

fn pattern_guest_options() -> GuestOptions {
    GuestOptions { display: DisplaySpec::PATTERN, ..GuestOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_through_the_attested_channel_matches_the_pattern() {
    let client = TestClient::new();
    let guest = TestGuest::start(pattern_guest_options(), std::slice::from_ref(&client.fingerprint)).await;
    let pattern = PatternSource::new(1024, 768);
    for encoding in [VncEncoding::Zrle, VncEncoding::Tight, VncEncoding::Raw] {
        let attested = connect(&guest.addr.to_string(), alpn::DISPLAY, &client.opts).await.unwrap();
        let mut viewer = Viewer::connect(attested.stream, encoding).await;
        let last = std::cell::RefCell::new(String::new());
        viewer
            .wait_until_or(
                30,
                |v| match shows_a_whole_pattern_frame(v, &pattern) {
                    Ok(n) => n > 0,
                    Err(e) => {
                        *last.borrow_mut() = format!("{encoding:?}: {e}");
                        false
                    }
                },
                || last.borrow().clone(),
            )
            .await;
    }
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_display_needs_an_authorized_key_even_when_the_console_does_not() {
    let authorized = TestClient::new();
    let guest = TestGuest::start(
        GuestOptions { allow_unauthenticated_console: true, ..pattern_guest_options() },
        std::slice::from_ref(&authorized.fingerprint),
    )
    .await;
    let mut anonymous = TestClient::new();
    anonymous.opts.client_key = None;
    assert!(connect(&guest.addr.to_string(), alpn::CONSOLE, &anonymous.opts).await.is_ok());
    let refused = connect(&guest.addr.to_string(), alpn::DISPLAY, &anonymous.opts).await.err();
    assert_channel_refused(refused, "authorized_clients");
    assert!(connect(&guest.addr.to_string(), alpn::DISPLAY, &authorized.opts).await.is_ok());
    guest.stop().await;
}

/// The guest answered Hello with Abort (no evidence), and the client names its reason.
fn assert_channel_refused(err: Option<ConnectError>, reason_has: &str) {
    match err {
        Some(ConnectError::ChannelRefused { channel, reason, .. }) => {
            assert_eq!(channel, "display");
            assert!(reason.contains(reason_has), "reason {reason:?} lacks {reason_has:?}");
        }
        other => panic!("expected the display channel refused with a reason, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_without_a_screen_says_so_instead_of_closing() {
    let client = TestClient::new();
    let guest = TestGuest::start(GuestOptions::default(), std::slice::from_ref(&client.fingerprint)).await;
    let refused = connect(&guest.addr.to_string(), alpn::DISPLAY, &client.opts).await.err();
    assert_channel_refused(refused, "no screen");
    // Nothing was attested or started, and the console is unaffected.
    assert_eq!(guest.channels.display.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(connect(&guest.addr.to_string(), alpn::CONSOLE, &client.opts).await.is_ok());
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vncdotool_captures_the_verified_screen_through_the_bridge() {
    let client = TestClient::new();
    let guest = TestGuest::start(pattern_guest_options(), std::slice::from_ref(&client.fingerprint)).await;
    let listener = cvm_console::bridge::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(cvm_console::bridge::run(listener, guest.addr.to_string(), client.opts.clone()));
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("screen.png");
    let out = tokio::process::Command::new("vncdo")
        .args(["-s", &format!("127.0.0.1::{port}"), "capture"])
        .arg(&png_path)
        .output()
        .await
        .expect("vncdo is installed (scripts/test installs vncdotool)");
    assert!(out.status.success(), "vncdo failed: {}", String::from_utf8_lossy(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pattern = PatternSource::new(1024, 768);
    assert_eq!((info.width, info.height), (1024, 768));
    let pixels: Vec<u32> =
        buf.chunks(channels).map(|p| (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2])).collect();
    let y = 768 / 4 + 8;
    let n = (0..24).fold(0u64, |n, cell| (n << 1) | u64::from(pixels[y * 1024 + 8 + cell * 8] == 0x00ff00));
    let mismatched = pattern.frame_at(n).pixels.iter().zip(&pixels).filter(|(a, b)| a != b).count();
    assert_eq!(mismatched, 0, "vncdotool's capture differs from pattern frame {n} in {mismatched} pixels");
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xvnc_behind_the_channel_is_seen_and_typed_into() {
    let x = XvncWithXterm::start();
    let client = TestClient::new();
    let guest = x.guest_for(&client).await;
    let attested = connect(&guest.addr.to_string(), alpn::DISPLAY, &client.opts).await.unwrap();
    let mut viewer = Viewer::connect(attested.stream, VncEncoding::Zrle).await;
    // The xterm window appears: more than a few distinct colours on the screen.
    viewer
        .wait_until(30, |v| {
            v.size == (800, 600) && v.pixels.iter().collect::<std::collections::HashSet<_>>().len() >= 2
        })
        .await;
    // Type into it through the attested channel: keysyms for "cvm42" and Return.
    tokio::time::sleep(Duration::from_millis(500)).await;
    viewer.type_keysyms("cvm42".bytes().map(u32::from).chain([0xff0d])).await;
    x.wait_typed("cvm42\n", 20).await;
    guest.stop().await;
}
