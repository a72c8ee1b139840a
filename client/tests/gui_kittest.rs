//! The GUI driven headless (egui_kittest, no DISPLAY): the real App and views, fed
//! by test events in place of the net thread; the commands it emits are asserted.

#![allow(clippy::unwrap_used)] // reason: a test; a failed step should stop it

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use cvm_console::console_client::{ConsoleCommand, ConsoleEvent};
use cvm_console::gui::app::{BANNER_TEXT, CONNECT_AGAIN, GuiApp, RECONNECT_NOW, Tab};
use cvm_console::gui::dialogs::{COMPARED_LABEL, IDENTITY_HEADING, PIN_LABEL, TRUST_LABEL};
use cvm_console::gui::frame::{Rect, ScreenEvent};
use cvm_console::gui::net::Link;
use cvm_console::gui::screen_view::{PASTE_LABEL, VIEW_ONLY_TEXT};
use cvm_console::gui::state::{NetCommand, NetEvent, Phase};
use cvm_console::net::{IdentityChange, Stage};
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::Report;
use cvmc_protocol::snp::tcb::Tcb;
use cvmc_protocol::snp::verify::Passed;
use cvmc_protocol::{Anchor, AttestedGuest, Check, Verified, VerifyError};

const REPORT: &[u8] = include_bytes!("../../tests/data/snp/milan_attestation_report.bin");

struct Rig {
    harness: Harness<'static, GuiApp>,
    events: mpsc::Sender<NetEvent>,
    commands: tokio::sync::mpsc::UnboundedReceiver<NetCommand>,
}

/// The test's ends of a link the app opened.
type Ends = (mpsc::Sender<NetEvent>, tokio::sync::mpsc::UnboundedReceiver<NetCommand>);

fn link() -> (Link, Ends) {
    let (events, ev_rx) = mpsc::channel();
    let (cmd_tx, commands) = tokio::sync::mpsc::unbounded_channel();
    (Link { events: ev_rx, commands: cmd_tx }, (events, commands))
}

impl Rig {
    fn new() -> Self {
        Self::with(|app| app, 1.0)
    }

    /// An app connected through a test link, changed by `setup`, at `ppp` pixels per point.
    fn with(setup: impl FnOnce(GuiApp) -> GuiApp, ppp: f32) -> Self {
        let (link, (events, commands)) = link();
        let app = setup(GuiApp::with_link("test guest".into(), link));
        let harness = Harness::builder()
            .with_size([1000.0, 700.0])
            .with_pixels_per_point(ppp)
            .build_ui_state(|ui: &mut egui::Ui, app: &mut GuiApp| app.show(ui), app);
        Self { harness, events, commands }
    }

    /// Keys sent since the last drain.
    fn keys(&mut self) -> Vec<(u32, bool)> {
        self.drain()
            .into_iter()
            .filter_map(|c| match c {
                NetCommand::Key { keysym, down } => Some((keysym, down)),
                _ => None,
            })
            .collect()
    }

    fn has(&self, label: &str) -> bool {
        self.harness.query_all_by_label_contains(label).count() > 0
    }

    fn send(&mut self, ev: NetEvent) {
        self.events.send(ev).unwrap();
    }

    fn frames(&mut self, n: usize) {
        self.harness.run_steps(n);
    }

    fn drain(&mut self) -> Vec<NetCommand> {
        let mut out = Vec::new();
        while let Ok(c) = self.commands.try_recv() {
            out.push(c);
        }
        out
    }

    /// Connect, verify (simulated), attach the console and show a small screen.
    fn session() -> Self {
        Self::new().into_session()
    }

    fn into_session(mut self) -> Self {
        let rig = &mut self;
        rig.send(NetEvent::Connecting);
        rig.send(NetEvent::Verified { guest: guest(), report: REPORT.to_vec() });
        rig.send(NetEvent::Console(ConsoleEvent::Attested(guest())));
        rig.send(NetEvent::Screen(ScreenEvent::Resized { w: 64, h: 32 }));
        rig.send(NetEvent::Screen(ScreenEvent::Pixels(Rect { x: 0, y: 0, w: 2, h: 1 }, [255, 0, 0, 255].repeat(2))));
        rig.frames(3);
        self
    }
}

/// A dialer for the app that records each new link's test ends.
fn dialer(links: &Arc<Mutex<Vec<Ends>>>) -> cvm_console::gui::app::Dialer {
    let links = Arc::clone(links);
    Box::new(move |_wake| {
        let (link, ends) = link();
        links.lock().unwrap().push(ends);
        Ok(link)
    })
}

fn guest() -> Box<AttestedGuest> {
    let report = Report::parse(REPORT).unwrap();
    let passed = Check::ALL.iter().map(|c| Passed { check: *c, detail: format!("{c:?} detail") }).collect();
    Box::new(AttestedGuest {
        verified: Verified {
            report,
            product: Product::Milan,
            reported_tcb: Tcb::default(),
            anchor: Anchor::PolicyRoot { label: "sim/ark.pem".into(), fingerprint: "ab".repeat(32) },
            passed,
            binding_checked: true,
            warnings: Vec::new(),
        },
        identity_key: [7; 32],
        identity_fingerprint: format!("SHA256:{}", "07".repeat(32)),
    })
}

#[test]
fn a_refused_guest_names_the_failed_check_and_shows_no_session() {
    let mut rig = Rig::new();
    rig.send(NetEvent::Connecting);
    rig.frames(2);
    rig.harness.get_by_label_contains("Connecting and attesting");
    let error = VerifyError::MeasurementNotAllowed { actual: "ab".repeat(48), allowed: 2 };
    rig.send(NetEvent::Refused { error, report: REPORT.to_vec() });
    // A session event after the refusal must change nothing.
    rig.send(NetEvent::Console(ConsoleEvent::Attested(guest())));
    rig.frames(3);
    assert_eq!(rig.harness.state().state.phase, Phase::Refused);
    rig.harness.get_by_label_contains("Failed check: measurement (measurement)");
    assert!(rig.harness.query_all_by_label_contains("is not one of the 2 allowed measurements").count() >= 1);
    assert!(rig.harness.query_by_label("Screen").is_none());
    assert!(rig.harness.query_by_label("Console").is_none());
    assert!(rig.harness.query_by_label("Attestation").is_none());
    assert!(rig.harness.query_by_label(BANNER_TEXT).is_none());
}

#[test]
fn an_accepted_simulated_guest_shows_the_tabs_and_the_banner() {
    let mut rig = Rig::session();
    assert_eq!(rig.harness.state().state.phase, Phase::Session);
    rig.harness.get_by_label(BANNER_TEXT);
    rig.harness.get_by_label("Screen");
    rig.harness.get_by_label("Console");
    rig.harness.get_by_label("Attestation").click();
    rig.frames(3);
    assert_eq!(rig.harness.state().tab, Tab::Attestation);
    rig.harness.get_by_label_contains("TRUSTED (SIMULATED - NOT CONFIDENTIAL)");
    rig.harness.get_by_label("Copy measurement");
    rig.harness.get_by_label("Copy identity");
    // Values get room: the 71-character identity sits on one line, not one word per line.
    let identity = rig.harness.get_by_label(&format!("SHA256:{}", "07".repeat(32))).rect();
    assert!(identity.width() > 300.0 && identity.height() < 30.0, "{identity:?}");
}

#[test]
fn typing_in_the_console_tab_sends_console_input() {
    let mut rig = Rig::session();
    rig.send(NetEvent::Console(ConsoleEvent::Output(b"guest$ ".to_vec())));
    rig.harness.get_by_label("Console").click();
    rig.frames(3);
    rig.drain();
    rig.harness.get_by_label("Terminal").type_text("ls");
    rig.frames(2);
    let typed: Vec<u8> = rig
        .drain()
        .into_iter()
        .filter_map(|c| match c {
            NetCommand::Console(ConsoleCommand::Input(b)) => Some(b),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(typed, b"ls");
}

#[test]
fn send_keys_ctrl_alt_del_sends_rfb_key_events() {
    let mut rig = Rig::session();
    rig.drain();
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label("Ctrl+Alt+Del").click();
    rig.frames(2);
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
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label("Ctrl+Alt+F2").click();
    rig.frames(2);
    let keys: Vec<NetCommand> = rig.drain().into_iter().filter(|c| matches!(c, NetCommand::Key { .. })).collect();
    assert_eq!(keys[2], NetCommand::Key { keysym: 0xffbf, down: true });
}

#[test]
fn connecting_shows_what_it_waits_for_and_ticks_the_checks_as_they_pass() {
    let mut rig = Rig::new();
    rig.send(NetEvent::Connecting);
    rig.send(NetEvent::Stage(Stage::Tcp));
    rig.frames(2);
    rig.harness.get_by_label_contains("connecting (TCP)");
    rig.send(NetEvent::Stage(Stage::Tls));
    rig.frames(2);
    rig.harness.get_by_label_contains("TLS 1.3 handshake");
    rig.send(NetEvent::Stage(Stage::Evidence));
    rig.frames(2);
    assert_eq!(rig.harness.state().state.phase, Phase::Verifying);
    rig.harness.get_by_label_contains("waiting for evidence");
    rig.harness.get_by_label_contains("gives up after 20 s");
    assert!(!rig.has("Chain detail"), "no check is ticked before the verifier ran");
    let passed = Check::ALL.iter().map(|c| (*c, format!("{c:?} detail"))).collect();
    rig.send(NetEvent::Stage(Stage::Checked(passed)));
    rig.frames(2);
    rig.harness.get_by_label("Chain detail");
    rig.harness.get_by_label("Measurement detail");
    rig.harness.get_by_label_contains("comparing the guest identity with known_guests");
    // Still no session: the tabs come only after the console is attested.
    assert!(rig.harness.query_by_label("Console").is_none());
}

#[test]
fn an_unpinned_measurement_is_pinned_only_after_a_warned_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    let original = "# db-1's policy\nmeasurements = [] # nothing yet\nvmpl = 0\n";
    std::fs::write(&policy, original).unwrap();
    let links = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::with(|app| app.with_policy_path(policy.clone()).with_dialer(dialer(&links)), 1.0);
    let m = "ab".repeat(48);
    rig.send(NetEvent::Refused { error: VerifyError::MeasurementNotPinned { actual: m.clone() }, report: Vec::new() });
    rig.frames(3);
    rig.harness.get_by_label_contains("so it trusts no guest yet");
    rig.harness.get_by_label(&m);
    rig.harness.get_by_label(TRUST_LABEL).click();
    rig.frames(2);
    rig.harness.get_by_label_contains("whatever guest image produced it");
    // The button does nothing until the comparison is confirmed.
    rig.harness.get_by_label(PIN_LABEL).click();
    rig.frames(2);
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), original);
    assert!(links.lock().unwrap().is_empty());
    rig.harness.get_by_label(COMPARED_LABEL).click();
    rig.frames(1);
    rig.harness.get_by_label(PIN_LABEL).click();
    rig.frames(2);
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains(&m) && text.starts_with("# db-1's policy\n") && text.contains("vmpl = 0"), "{text}");
    assert_eq!(links.lock().unwrap().len(), 1, "verified again on a fresh connection");
    assert_eq!(rig.harness.state().state.phase, Phase::Connecting);
    rig.harness.get_by_label_contains("verifying again");
}

#[test]
fn pinning_is_never_offered_for_another_failure() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "measurements = []\n").unwrap();
    for error in [
        VerifyError::MeasurementNotAllowed { actual: "ab".repeat(48), allowed: 1 },
        VerifyError::Binding { expected: "aa".into(), actual: "bb".into() },
        VerifyError::Debug,
    ] {
        let mut rig = Rig::with(|app| app.with_policy_path(policy.clone()), 1.0);
        rig.send(NetEvent::Refused { error, report: REPORT.to_vec() });
        rig.frames(3);
        assert_eq!(rig.harness.state().state.phase, Phase::Refused);
        assert!(rig.harness.query_by_label(TRUST_LABEL).is_none());
    }
}

#[test]
fn a_changed_identity_is_refused_with_an_ssh_like_warning_and_no_way_to_accept() {
    let mut rig = Rig::new();
    let change = IdentityChange {
        address: "10.0.0.5:7443".into(),
        seen: "SHA256:new-identity".into(),
        pinned: "SHA256:old-identity".into(),
        file: "/home/me/.config/cvm-console/known_guests".into(),
        line: 7,
    };
    rig.send(NetEvent::Connecting);
    rig.send(NetEvent::Stage(Stage::IdentityChanged(change)));
    rig.send(NetEvent::IdentityChanged("@@@ WARNING: GUEST IDENTITY HAS CHANGED! @@@".into()));
    rig.frames(3);
    assert_eq!(rig.harness.state().state.phase, Phase::Refused);
    rig.harness.get_by_label(IDENTITY_HEADING);
    rig.harness.get_by_label("SHA256:new-identity");
    rig.harness.get_by_label("SHA256:old-identity");
    rig.harness.get_by_label("/home/me/.config/cvm-console/known_guests:7");
    rig.harness.get_by_label_contains("remove line 7 of /home/me/.config/cvm-console/known_guests");
    rig.harness.get_by_label_contains("sed -i '7d'");
    for word in ["Accept", "accept", "Trust", "anyway", "Connect"] {
        assert!(
            rig.harness.query_all(egui_kittest::kittest::by().role(egui::accesskit::Role::Button)).all(|b| !b
                .accesskit_node()
                .label()
                .unwrap_or_default()
                .contains(word)),
            "no button may offer {word:?}"
        );
    }
    rig.harness.get_by_label("Close").click();
    rig.frames(2);
    assert!(rig.harness.query_by_label(IDENTITY_HEADING).is_none());
    rig.harness.get_by_label("Show the identity warning again");
    assert_eq!(rig.harness.state().state.phase, Phase::Refused);
    assert!(rig.harness.query_by_label("Console").is_none());
}

#[test]
fn sysrq_sends_alt_sysrq_key_and_asks_before_reboot() {
    let mut rig = Rig::session();
    rig.drain();
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label("SysRq").click();
    rig.frames(2);
    rig.harness.get_by_label("Alt+SysRq+S: sync all filesystems").click();
    rig.frames(2);
    let (alt, sysrq) = (0xffe9, 0xff15);
    assert_eq!(rig.keys(), vec![(alt, true), (sysrq, true), (0x73, true), (0x73, false), (sysrq, false), (alt, false)]);
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label("SysRq").click();
    rig.frames(2);
    rig.harness.get_by_label_contains("Alt+SysRq+B: reboot").click();
    rig.frames(2);
    assert!(rig.keys().is_empty(), "reboot waits for a confirmation");
    rig.harness.get_by_label_contains("Send Alt+SysRq+B");
    rig.harness.get_by_label("Cancel").click();
    rig.frames(2);
    assert!(rig.keys().is_empty());
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label("SysRq").click();
    rig.frames(2);
    rig.harness.get_by_label_contains("Alt+SysRq+B: reboot").click();
    rig.frames(2);
    rig.harness.get_by_label("Send it").click();
    rig.frames(2);
    assert_eq!(rig.keys()[2], (0x62, true));
}

#[test]
fn paste_as_typing_confirms_the_text_and_refuses_what_cannot_be_typed() {
    let mut rig = Rig::session();
    rig.drain();
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label(PASTE_LABEL).click();
    rig.frames(2);
    rig.harness.event(egui::Event::Paste("echo hi\n".into()));
    rig.frames(2);
    rig.harness.get_by_label("Type 8 characters into the guest?");
    rig.harness.get_by_label_contains("echo hi\\n");
    assert!(rig.keys().is_empty(), "nothing typed before the confirmation");
    rig.harness.get_by_label("Type it").click();
    rig.frames(2);
    let downs: Vec<u32> = rig.keys().into_iter().filter(|(_, d)| *d).map(|(k, _)| k).collect();
    assert_eq!(downs, vec![0x65, 0x63, 0x68, 0x6f, 0x20, 0x68, 0x69, 0xff0d]);

    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label(PASTE_LABEL).click();
    rig.frames(2);
    rig.harness.event(egui::Event::Paste("naïve".into()));
    rig.frames(2);
    rig.harness.get_by_label_contains("character 3");
    rig.harness.get_by_label_contains("U+00EF");
    assert!(rig.harness.query_by_label("Type it").is_none());
    assert!(rig.keys().is_empty());

    // An empty clipboard sends no text at all: said so after a few frames, not waited for forever.
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label(PASTE_LABEL).click();
    rig.frames(8);
    rig.harness.try_run().unwrap(); // and then it stops repainting
    rig.harness.get_by_label_contains("the clipboard holds no text");
    assert!(rig.keys().is_empty());
}

#[test]
fn view_only_sends_no_input_and_says_so() {
    let mut rig = Rig::session();
    rig.harness.get_by_label("View only").click();
    rig.frames(2);
    rig.harness.get_by_label(VIEW_ONLY_TEXT);
    rig.drain();
    let screen = rig.harness.get_by_label("Guest screen").rect();
    rig.harness.hover_at(screen.center());
    rig.frames(2);
    rig.harness.get_by_label("Guest screen").click();
    rig.frames(2);
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    assert!(rig.harness.query_by_label("Ctrl+Alt+Del").is_none(), "the send-keys menu is disabled");
    let sent: Vec<NetCommand> =
        rig.drain().into_iter().filter(|c| matches!(c, NetCommand::Key { .. } | NetCommand::Pointer { .. })).collect();
    assert!(sent.is_empty(), "{sent:?}");
    // Off again: the pointer reaches the guest.
    rig.harness.get_by_label("View only").click();
    rig.frames(2);
    rig.harness.hover_at(screen.center() + egui::vec2(1.0, 1.0));
    rig.frames(2);
    assert!(rig.drain().iter().any(|c| matches!(c, NetCommand::Pointer { .. })));
}

#[test]
fn hidpi_one_hundred_percent_is_one_guest_pixel_per_physical_pixel_and_the_pointer_maps_back() {
    let mut rig = Rig::with(|app| app, 2.0).into_session();
    rig.harness.get_by_label("100%").click();
    rig.frames(2);
    // The 64x32 guest screen on a 2x display: 32x16 points = 64x32 physical pixels.
    let screen = rig.harness.get_by_label("Guest screen").rect();
    assert!((screen.width() - 32.0).abs() < 0.01 && (screen.height() - 16.0).abs() < 0.01, "{screen:?}");
    rig.drain();
    rig.harness.hover_at(screen.min + egui::vec2(10.25, 5.25));
    rig.frames(2);
    let pointer = rig.drain().into_iter().rfind(|c| matches!(c, NetCommand::Pointer { .. }));
    assert_eq!(pointer, Some(NetCommand::Pointer { x: 20, y: 10, buttons: 0 }));
    // Fit: the picture grows to the tab and keeps its 2:1 aspect ratio.
    rig.harness.get_by_label("Fit").click();
    rig.frames(2);
    let fitted = rig.harness.get_by_label("Guest screen").rect();
    assert!(fitted.width() > 400.0 && (fitted.width() / fitted.height() - 2.0).abs() < 0.01, "{fitted:?}");
    rig.harness.hover_at(fitted.min + fitted.size() * 0.5);
    rig.frames(2);
    let pointer = rig.drain().into_iter().rfind(|c| matches!(c, NetCommand::Pointer { .. }));
    assert_eq!(pointer, Some(NetCommand::Pointer { x: 32, y: 16, buttons: 0 }));
}

#[test]
fn reconnecting_shows_the_wait_and_reattaches_with_a_fresh_attestation() {
    let links = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::with(|app| app.with_dialer(dialer(&links)), 1.0).into_session();
    rig.drain();
    rig.send(NetEvent::Console(ConsoleEvent::Reconnecting {
        attempt: 2,
        reason: "the guest closed the connection".into(),
        retry_in: Duration::from_secs(4),
    }));
    rig.frames(2);
    assert_eq!(rig.harness.state().state.phase, Phase::Reconnecting);
    rig.harness.get_by_label_contains("attempt 2, next try in 4 s");
    rig.harness.get_by_label_contains("the guest closed the connection");
    rig.harness.get_by_label(RECONNECT_NOW).click();
    rig.frames(2);
    assert!(rig.drain().contains(&NetCommand::ReconnectNow));
    rig.send(NetEvent::Stage(Stage::Evidence));
    rig.frames(2);
    rig.harness.get_by_label_contains("Reconnecting (attempt 2)");
    rig.harness.get_by_label_contains("waiting for evidence");
    rig.send(NetEvent::Console(ConsoleEvent::Attested(guest())));
    rig.frames(2);
    assert_eq!(rig.harness.state().state.phase, Phase::Session);
    assert!(!rig.has("Reconnecting"));
    assert_eq!(rig.harness.state().state.attestations, 3, "verify, console, re-attach: each attested");
    // The guest dropped the session for good: a new one is a click away.
    rig.send(NetEvent::ConsoleEnded("console: the console exited with status 0".into()));
    rig.frames(2);
    rig.harness.get_by_label_contains("Session ended: console: the console exited with status 0");
    rig.harness.get_by_label(CONNECT_AGAIN).click();
    rig.frames(2);
    assert_eq!(links.lock().unwrap().len(), 1);
    assert_eq!(rig.harness.state().state.phase, Phase::Connecting);
    assert!(rig.drain().contains(&NetCommand::Disconnect), "the old link is closed");
}

#[test]
fn a_quiet_session_stops_repainting() {
    // With nothing arriving, the UI settles: no frame asks for another (no polling).
    let mut rig = Rig::session();
    rig.harness.try_run().unwrap();
    rig.harness.get_by_label("Console").click();
    rig.harness.try_run().unwrap();
    assert!(rig.drain().contains(&NetCommand::ScreenVisible(false)), "a hidden screen asks for no updates");
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
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label("Ctrl+Alt+F3").click();
    rig.frames(2);
    rig.harness.get_by_label("Send keys").click();
    rig.frames(2);
    rig.harness.get_by_label("SysRq").click();
    rig.frames(2);
    rig.harness.get_by_label_contains("Alt+SysRq+U").click();
    rig.frames(2);
    let commands = rig.drain();
    let expected: Vec<(u32, bool)> =
        Chord::CtrlAltF(3).events().into_iter().chain(Chord::SysRq('u').events()).collect();

    // The commands go through the net thread's mapping and vnc-rs onto the wire.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let recorded = rt.block_on(async {
        let (server, client_end) = tokio::io::duplex(1 << 16);
        let recorder = tokio::spawn(record_keys(server, expected.len()));
        let client = vnc::VncConnector::new(client_end)
            .set_auth_method(async move { Ok(String::new()) })
            .add_encoding(vnc::VncEncoding::Raw)
            .allow_shared(true)
            .set_pixel_format(vnc::PixelFormat::bgra())
            .build()
            .unwrap()
            .try_start()
            .await
            .unwrap()
            .finish()
            .unwrap();
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
fn a_failed_connection_says_where_it_failed_and_what_to_check() {
    let mut rig = Rig::new();
    rig.send(NetEvent::Connecting);
    rig.send(NetEvent::Stage(Stage::Tcp));
    rig.send(NetEvent::Failed("10.0.0.5:7443: TCP connect timed out after 20 s".into()));
    rig.frames(2);
    assert_eq!(rig.harness.state().state.phase, Phase::Idle);
    rig.harness.get_by_label("10.0.0.5:7443: TCP connect timed out after 20 s");
    rig.harness.get_by_label_contains("It failed while connecting (TCP)");
    rig.harness.get_by_label_contains("port is reachable");
}
