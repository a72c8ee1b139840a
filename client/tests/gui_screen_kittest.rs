//! The Screen tab headless (egui_kittest): send keys (on the wire too, against a
//! recording RFB server), SysRq, paste as typing, view-only, HiDPI scaling and the
//! pointer.

#![allow(clippy::unwrap_used)] // reason: a test; a failed step should stop it

mod common;

use std::time::Duration;

use egui_kittest::kittest::Queryable;

use common::Rig;
use cvm_console::gui::net::NetCommand;
use cvm_console::gui::screen_view::{PASTE_LABEL, VIEW_ONLY_TEXT};
use cvm_console::rfb_viewer::start_viewer;

#[test]
fn send_keys_ctrl_alt_del_sends_rfb_key_events() {
    let mut rig = Rig::session();
    rig.drain();
    rig.click("Send keys");
    rig.click("Ctrl+Alt+Del");
    let keys: Vec<(u32, bool)> = rig
        .drain()
        .into_iter()
        .filter_map(|c| match c {
            NetCommand::Key { keysym, down } => Some((keysym, down)),
            _ => None,
        })
        .collect();
    assert_eq!(
        keys,
        vec![(0xffe3, true), (0xffe9, true), (0xffff, true), (0xffff, false), (0xffe9, false), (0xffe3, false)]
    );
    rig.click("Send keys");
    rig.click("Ctrl+Alt+F2");
    let keys: Vec<NetCommand> = rig.drain().into_iter().filter(|c| matches!(c, NetCommand::Key { .. })).collect();
    assert_eq!(keys[2], NetCommand::Key { keysym: 0xffbf, down: true });
}

#[test]
fn sysrq_sends_alt_sysrq_key_and_asks_before_reboot() {
    let mut rig = Rig::session();
    rig.drain();
    rig.click("Send keys");
    rig.click("SysRq");
    rig.click("Alt+SysRq+S: sync all filesystems");
    let (alt, sysrq) = (0xffe9, 0xff15);
    assert_eq!(rig.keys(), vec![(alt, true), (sysrq, true), (0x73, true), (0x73, false), (sysrq, false), (alt, false)]);
    rig.click("Send keys");
    rig.click("SysRq");
    rig.click_containing("Alt+SysRq+B: reboot");
    assert!(rig.keys().is_empty(), "reboot waits for a confirmation");
    rig.harness.get_by_label_contains("Send Alt+SysRq+B");
    rig.click("Cancel");
    assert!(rig.keys().is_empty());
    rig.click("Send keys");
    rig.click("SysRq");
    rig.click_containing("Alt+SysRq+B: reboot");
    rig.click("Send it");
    assert_eq!(rig.keys()[2], (0x62, true));
}

/// Send keys > Paste as typing, with `text` on the clipboard.
fn paste(rig: &mut Rig, text: &str) {
    rig.click("Send keys");
    rig.click(PASTE_LABEL);
    rig.harness.event(egui::Event::Paste(text.into()));
    rig.frames(2);
}

#[test]
fn paste_as_typing_confirms_the_text_and_refuses_what_cannot_be_typed() {
    let mut rig = Rig::session();
    rig.drain();
    paste(&mut rig, "echo hi\n");
    rig.harness.get_by_label("Type 8 characters into the guest?");
    rig.harness.get_by_label_contains("echo hi\\n");
    assert!(rig.keys().is_empty(), "nothing typed before the confirmation");
    rig.click("Type it");
    let downs: Vec<u32> = rig.keys().into_iter().filter(|(_, d)| *d).map(|(k, _)| k).collect();
    assert_eq!(downs, vec![0x65, 0x63, 0x68, 0x6f, 0x20, 0x68, 0x69, 0xff0d]);

    paste(&mut rig, "naïve");
    rig.harness.get_by_label_contains("character 3");
    rig.harness.get_by_label_contains("U+00EF");
    assert!(rig.harness.query_by_label("Type it").is_none());
    assert!(rig.keys().is_empty());

    // An empty clipboard sends no text at all: said so after a few frames, not waited for forever.
    rig.click("Send keys");
    rig.harness.get_by_label(PASTE_LABEL).click();
    rig.frames(8);
    rig.harness.try_run().unwrap(); // and then it stops repainting
    rig.harness.get_by_label_contains("the clipboard holds no text");
    assert!(rig.keys().is_empty());
}

#[test]
fn view_only_sends_no_input_and_says_so() {
    let mut rig = Rig::session();
    rig.click("View only");
    rig.harness.get_by_label(VIEW_ONLY_TEXT);
    rig.drain();
    let screen = rig.harness.get_by_label("Guest screen").rect();
    rig.harness.hover_at(screen.center());
    rig.frames(2);
    rig.click("Guest screen");
    rig.click("Send keys");
    assert!(rig.harness.query_by_label("Ctrl+Alt+Del").is_none(), "the send-keys menu is disabled");
    let sent: Vec<NetCommand> =
        rig.drain().into_iter().filter(|c| matches!(c, NetCommand::Key { .. } | NetCommand::Pointer { .. })).collect();
    assert!(sent.is_empty(), "{sent:?}");
    // Off again: the pointer reaches the guest.
    rig.click("View only");
    rig.harness.hover_at(screen.center() + egui::vec2(1.0, 1.0));
    rig.frames(2);
    assert!(rig.drain().iter().any(|c| matches!(c, NetCommand::Pointer { .. })));
}

#[test]
fn hidpi_one_hundred_percent_is_one_guest_pixel_per_physical_pixel_and_the_pointer_maps_back() {
    let mut rig = Rig::with(|app| app, 2.0).into_session();
    rig.click("100%");
    // The 64x32 guest screen on a 2x display: 32x16 points = 64x32 physical pixels.
    let screen = rig.harness.get_by_label("Guest screen").rect();
    assert!((screen.width() - 32.0).abs() < 0.01 && (screen.height() - 16.0).abs() < 0.01, "{screen:?}");
    rig.drain();
    rig.harness.hover_at(screen.min + egui::vec2(10.25, 5.25));
    rig.frames(2);
    let pointer = rig.drain().into_iter().rfind(|c| matches!(c, NetCommand::Pointer { .. }));
    assert_eq!(pointer, Some(NetCommand::Pointer { x: 20, y: 10, buttons: 0 }));
    // Fit: the picture grows to the tab and keeps its 2:1 aspect ratio.
    rig.click("Fit");
    let fitted = rig.harness.get_by_label("Guest screen").rect();
    assert!(fitted.width() > 400.0 && (fitted.width() / fitted.height() - 2.0).abs() < 0.01, "{fitted:?}");
    rig.harness.hover_at(fitted.min + fitted.size() * 0.5);
    rig.frames(2);
    let pointer = rig.drain().into_iter().rfind(|c| matches!(c, NetCommand::Pointer { .. }));
    assert_eq!(pointer, Some(NetCommand::Pointer { x: 32, y: 16, buttons: 0 }));
}

/// A recording RFB server (RFC 6143): the handshake with security None, then every
/// client message parsed; returns the first `n` KeyEvents as (keysym, down).
async fn record_keys(mut s: tokio::io::DuplexStream, n: usize) -> Vec<(u32, bool)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"RFB 003.008\n").await.unwrap();
    let mut version = [0u8; 12];
    s.read_exact(&mut version).await.unwrap();
    s.write_all(&[1, 1]).await.unwrap();
    s.read_u8().await.unwrap();
    s.write_all(&0u32.to_be_bytes()).await.unwrap();
    s.read_u8().await.unwrap();
    let mut init = vec![0, 64, 0, 32, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];
    init.extend_from_slice(&4u32.to_be_bytes());
    init.extend_from_slice(b"test");
    s.write_all(&init).await.unwrap();
    let mut keys = Vec::new();
    while keys.len() < n {
        let skip = match s.read_u8().await.unwrap() {
            0 => 19, // SetPixelFormat
            2 => {
                s.read_u8().await.unwrap();
                4 * usize::from(s.read_u16().await.unwrap()) // SetEncodings
            }
            3 => 9, // FramebufferUpdateRequest
            4 => {
                let down = s.read_u8().await.unwrap() == 1;
                s.read_u16().await.unwrap();
                keys.push((s.read_u32().await.unwrap(), down));
                0
            }
            5 => 5, // PointerEvent
            6 => {
                let mut pad = [0u8; 3];
                s.read_exact(&mut pad).await.unwrap();
                usize::try_from(s.read_u32().await.unwrap()).unwrap() // ClientCutText
            }
            other => panic!("unexpected client message type {other}"),
        };
        let mut rest = vec![0u8; skip];
        s.read_exact(&mut rest).await.unwrap();
    }
    keys
}

#[test]
fn send_keys_reach_a_recording_rfb_server_as_key_events() {
    use cvm_console::gui::keysym::Chord;
    let mut rig = Rig::session();
    rig.drain();
    rig.click("Send keys");
    rig.click("Ctrl+Alt+F3");
    rig.click("Send keys");
    rig.click("SysRq");
    rig.click_containing("Alt+SysRq+U");
    let commands = rig.drain();
    let expected: Vec<(u32, bool)> =
        Chord::CtrlAltF(3).events().into_iter().chain(Chord::SysRq('u').events()).collect();

    // The commands go through the net thread's mapping and vnc-rs onto the wire.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let recorded = rt.block_on(async {
        let (server, client_end) = tokio::io::duplex(1 << 16);
        let recorder = tokio::spawn(record_keys(server, expected.len()));
        let client = start_viewer(client_end, &[vnc::VncEncoding::Raw]).await.unwrap();
        for c in &commands {
            if let Some(ev) = cvm_console::gui::net::rfb_input(c) {
                client.input(ev).await.unwrap();
            }
        }
        tokio::time::timeout(Duration::from_secs(20), recorder).await.unwrap().unwrap()
    });
    assert_eq!(recorded, expected);
}

#[test]
fn a_guest_saved_as_view_only_opens_its_screen_view_only() {
    use cvm_console::gui::app::GuiApp;
    use cvm_console::gui::guests::{SavedGuest, SavedGuests};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let guest = |name: &str, view_only| SavedGuest {
        name: name.into(),
        address: "127.0.0.1:9".into(),
        policy: dir.path().join("policy.toml"),
        view_only,
    };
    let saved = SavedGuests {
        path: dir.path().join("guests.toml"),
        guests: vec![guest("watch-me", true), guest("drive-me", false)],
    };
    saved.save().unwrap();
    // What the file says after a round trip: only the view-only guest carries the key.
    let text = std::fs::read_to_string(dir.path().join("guests.toml")).unwrap();
    assert_eq!(text.matches("view_only = true").count(), 1, "{text}");
    assert!(!text.contains("view_only = false"), "{text}");

    for (row, (name, view_only)) in [("watch-me", true), ("drive-me", false)].into_iter().enumerate() {
        let ends = Arc::new(Mutex::new(Vec::new()));
        let links = Arc::clone(&ends);
        let connector: cvm_console::gui::app::Connector = Box::new(move |_guest, _wake| {
            let (link, end) = common::link();
            links.lock().unwrap().push(end);
            Ok(link)
        });
        let saved = SavedGuests::load(dir.path()).unwrap();
        let mut rig = Rig::with(|_| GuiApp::with_guests(saved, connector), 1.0);
        rig.frames(1);
        rig.harness.query_all_by_label("Connect").nth(row).expect("a Connect button per guest").click();
        rig.frames(2);
        let (events, commands) = ends.lock().unwrap().pop().expect("the guest was dialled");
        (rig.events, rig.commands) = (events, commands);
        rig = rig.into_session();
        assert_eq!(rig.has(VIEW_ONLY_TEXT), view_only, "{name}");
        // In view-only mode the pointer over the screen reaches nothing.
        let screen = rig.harness.get_by_label("Guest screen").rect();
        rig.drain();
        rig.harness.hover_at(screen.center());
        rig.frames(2);
        let pointer = rig.drain().iter().any(|c| matches!(c, NetCommand::Pointer { .. }));
        assert_eq!(pointer, !view_only, "{name}");
    }
}
