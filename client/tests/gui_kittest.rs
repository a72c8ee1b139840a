//! The GUI driven headless (egui_kittest, no DISPLAY): the real App and views, fed
//! by test events in place of the net thread; the commands it emits are asserted.
//! Connecting, the verdict, pinning, the identity warning, reconnecting; the Screen
//! tab's own tests are in gui_screen_kittest.rs.

#![allow(clippy::unwrap_used)] // reason: a test; a failed step should stop it

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui_kittest::kittest::{NodeT, Queryable};

use common::{REPORT, Rig, dialer, guest};
use cvm_console::console_client::{ConsoleCommand, ConsoleEvent};
use cvm_console::gui::app::{BANNER_TEXT, CONNECT_AGAIN, RECONNECT_NOW, Tab};
use cvm_console::gui::dialogs::{COMPARED_LABEL, IDENTITY_HEADING, PIN_LABEL, TRUST_LABEL};
use cvm_console::gui::net::{NetCommand, NetEvent};
use cvm_console::gui::state::Phase;
use cvm_console::net::{IdentityChange, Stage};
use cvmc_protocol::{Check, VerifyError};

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
    let passed = Check::SNP.iter().map(|c| (*c, format!("{c:?} detail"))).collect();
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
    rig.click(TRUST_LABEL);
    rig.harness.get_by_label_contains("whatever guest image produced it");
    // The button does nothing until the comparison is confirmed.
    rig.click(PIN_LABEL);
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), original);
    assert!(links.lock().unwrap().is_empty());
    rig.harness.get_by_label(COMPARED_LABEL).click();
    rig.frames(1);
    rig.click(PIN_LABEL);
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
    rig.click("Close");
    assert!(rig.harness.query_by_label(IDENTITY_HEADING).is_none());
    rig.harness.get_by_label("Show the identity warning again");
    assert_eq!(rig.harness.state().state.phase, Phase::Refused);
    assert!(rig.harness.query_by_label("Console").is_none());
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
    rig.click(RECONNECT_NOW);
    assert!(rig.drain().contains(&NetCommand::ReconnectNow));
    rig.send(NetEvent::Stage(Stage::Evidence));
    rig.frames(2);
    rig.harness.get_by_label_contains("Reconnecting (attempt 2)");
    rig.harness.get_by_label_contains("waiting for evidence");
    rig.send(NetEvent::Console(ConsoleEvent::Attested(guest())));
    rig.frames(2);
    assert_eq!(rig.harness.state().state.phase, Phase::Session);
    assert!(!rig.has("Reconnecting"));
    assert_eq!(rig.harness.state().state.verdict.attestations, 3, "verify, console, re-attach: each attested");
    // The guest dropped the session for good: a new one is a click away.
    rig.send(NetEvent::ConsoleEnded("console: the console exited with status 0".into()));
    rig.frames(2);
    rig.harness.get_by_label_contains("Session ended: console: the console exited with status 0");
    rig.click(CONNECT_AGAIN);
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
