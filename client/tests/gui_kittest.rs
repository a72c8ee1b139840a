//! The GUI driven headless (egui_kittest, no DISPLAY): the real App and views, fed
//! by test events in place of the net thread; the commands it emits are asserted.

#![allow(clippy::unwrap_used)] // reason: a test; a failed step should stop it

use std::sync::mpsc;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use cvm_console::console_client::{ConsoleCommand, ConsoleEvent};
use cvm_console::gui::app::{BANNER_TEXT, GuiApp, Tab};
use cvm_console::gui::frame::{Rect, ScreenEvent};
use cvm_console::gui::net::Link;
use cvm_console::gui::state::{NetCommand, NetEvent, Phase};
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

impl Rig {
    fn new() -> Self {
        let (events, ev_rx) = mpsc::channel();
        let (cmd_tx, commands) = tokio::sync::mpsc::unbounded_channel();
        let app = GuiApp::with_link("test guest".into(), Link { events: ev_rx, commands: cmd_tx });
        let harness = Harness::builder()
            .with_size([1000.0, 700.0])
            .build_ui_state(|ui: &mut egui::Ui, app: &mut GuiApp| app.show(ui), app);
        Self { harness, events, commands }
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
        let mut rig = Self::new();
        rig.send(NetEvent::Connecting);
        rig.send(NetEvent::Verified { guest: guest(), report: REPORT.to_vec() });
        rig.send(NetEvent::Console(ConsoleEvent::Attested(guest())));
        rig.send(NetEvent::Screen(ScreenEvent::Resized { w: 64, h: 32 }));
        rig.send(NetEvent::Screen(ScreenEvent::Pixels(Rect { x: 0, y: 0, w: 2, h: 1 }, [255, 0, 0, 255].repeat(2))));
        rig.frames(3);
        rig
    }
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
