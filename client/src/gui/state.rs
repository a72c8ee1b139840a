//! The GUI's client state machine, with no egui types: the net thread's events go
//! in, the views read it out. Unit-tested without a window.
//!
//! ```text
//! Idle ─► Connecting ─► Verifying ─► Verified ─► Session ⇄ Reconnecting
//!                 └───────────┴──► Refused (a failed check; no session, ever)
//! ```

use std::time::{Duration, Instant, SystemTime};

use cvmc_protocol::{AttestedGuest, Check, VerifyError};

use crate::console_client::ConsoleEvent;
use crate::gui::frame::Framebuffer;
use crate::gui::net::NetEvent;
use crate::net::{IdentityChange, Stage};

/// The refusal name of a changed guest identity (`Refusal::name`).
pub const IDENTITY_CHANGED: &str = "identity_changed";

/// A wait before the next connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Attempt number (1 for the first retry).
    pub attempt: u32,
    /// Why the last connection ended.
    pub reason: String,
    /// When the next attempt starts (sooner on "Reconnect now").
    pub at: Instant,
}

impl Retry {
    /// A retry after `retry_in` from now.
    pub fn new(attempt: u32, reason: String, retry_in: Duration) -> Self {
        Self { attempt, reason, at: Instant::now() + retry_in }
    }

    /// Whole seconds until the next attempt (rounded up; 0 once it is due).
    pub fn secs_left(&self) -> u64 {
        let left = self.at.saturating_duration_since(Instant::now());
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No guest chosen.
    Idle,
    /// TCP and TLS.
    Connecting,
    /// Evidence received; checking it.
    Verifying,
    /// Trusted; the session is being opened.
    Verified,
    /// NOT trusted: the failed check is in [`Verdict::refusal`].
    Refused,
    /// Console (and screen) attached.
    Session,
    /// The connection dropped; attesting afresh.
    Reconnecting,
}

/// One row of the visible check list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckStatus {
    /// Not decided yet.
    Pending,
    /// Passed, with what it established.
    Passed(String),
    /// Failed, with the values.
    Failed(String),
    /// Not run (an earlier check failed, or the policy did not ask for it).
    NotReached,
}

/// A refusal: the failed check and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The check group it belongs to.
    pub check: Check,
    /// The precise failure's name (`VerifyError::name`), as `--json` prints it.
    pub name: &'static str,
    /// The message with the expected and actual values (`VerifyError::to_string`).
    pub message: String,
}

/// What the guest proved, or failed to prove.
#[derive(Debug)]
pub struct Verdict {
    /// The check list, in the verifier's order (`Check::SNP` or `Check::TDX`).
    pub checks: Vec<(Check, CheckStatus)>,
    /// Set when the guest was refused.
    pub refusal: Option<Refusal>,
    /// The chain ends in a policy root, not AMD's: nothing is confidential.
    pub simulated: bool,
    /// What was verified (for the Attestation tab).
    pub guest: Option<Box<AttestedGuest>>,
    /// The report bytes as received (also on refusal).
    pub report: Vec<u8>,
    /// When the verdict was reached.
    pub verified_at: Option<SystemTime>,
    /// Set when the guest was refused for a changed identity.
    pub identity_change: Option<IdentityChange>,
    /// Set when the only failure is an unpinned measurement: the measurement seen.
    pub pinnable: Option<String>,
    /// Where a pinned value goes (SEV-SNP `measurements` or TDX `[tdx] mrtd`).
    pub pin_key: crate::gui::pin::PinKey,
    /// Verdicts of trust so far (the first connection and every reconnection).
    pub attestations: u32,
}

impl Default for Verdict {
    fn default() -> Self {
        Self {
            checks: Check::SNP.iter().map(|c| (*c, CheckStatus::Pending)).collect(),
            refusal: None,
            simulated: false,
            guest: None,
            report: Vec::new(),
            verified_at: None,
            identity_change: None,
            pinnable: None,
            pin_key: crate::gui::pin::PinKey::Measurements,
            attestations: 0,
        }
    }
}

/// What the session shows, and whether each part of it is still up.
#[derive(Debug, Default)]
pub struct SessionView {
    /// Console output not yet fed to the terminal view.
    pub console_output: Vec<u8>,
    /// The guest's screen, pixels only.
    pub screen: Framebuffer,
    /// The session ended (console exited or dropped by the guest): why.
    pub ended: Option<String>,
    /// The screen connection ended for good: why (the console goes on).
    pub screen_ended: Option<String>,
    /// Waiting to reconnect the screen.
    pub screen_retry: Option<Retry>,
}

/// Where the connection is.
#[derive(Debug, Default)]
pub struct ConnectionStatus {
    /// The step the current connection is at, and since when (None: not connecting).
    pub stage: Option<(Stage, Instant)>,
    /// Waiting to reconnect the console.
    pub retry: Option<Retry>,
    /// The last connection problem or end, for a status line.
    pub status: Option<String>,
    /// The step a failed connection was at (for advice next to the error).
    pub failed_at: Option<Stage>,
}

/// Everything the views show.
#[derive(Debug)]
pub struct ClientState {
    /// Where the connection is, as a phase.
    pub phase: Phase,
    /// A name for the guest (saved name or address).
    pub guest_name: String,
    /// Something changed since the views last looked (drives repaints).
    pub changed: bool,
    /// What the guest proved.
    pub verdict: Verdict,
    /// What the session shows.
    pub session: SessionView,
    /// The connection's step, wait and last problem.
    pub connection: ConnectionStatus,
}

impl Default for ClientState {
    fn default() -> Self {
        Self::new(String::new())
    }
}

impl ClientState {
    /// Idle, for the named guest.
    pub fn new(guest_name: String) -> Self {
        Self {
            phase: Phase::Idle,
            guest_name,
            changed: true,
            verdict: Verdict::default(),
            session: SessionView::default(),
            connection: ConnectionStatus::default(),
        }
    }

    /// Whether the session (Screen, Console) may be shown: only after a verdict of trust.
    pub fn session_visible(&self) -> bool {
        matches!(self.phase, Phase::Session | Phase::Reconnecting) && self.verdict.refusal.is_none()
    }

    /// Apply one event from the net thread. Every text that may carry a peer's words
    /// is kept escaped ([`shown`]), so no view can show it as controls.
    pub fn apply(&mut self, event: NetEvent) {
        self.changed = true;
        // A refusal is final: nothing after it may reopen the session.
        if self.phase == Phase::Refused {
            return;
        }
        match event {
            NetEvent::Connecting => self.phase = Phase::Connecting,
            NetEvent::Verifying => self.phase = Phase::Verifying,
            NetEvent::Stage(stage) => self.stage(stage),
            NetEvent::Verified { guest, report } => self.verified(guest, report),
            NetEvent::Refused { error, report } => self.refused(&error, report),
            NetEvent::IdentityChanged(warning) => self.identity_changed(warning),
            NetEvent::Failed(reason) => {
                self.phase = Phase::Idle;
                self.connection.failed_at = self.connection.stage.take().map(|(stage, _)| stage);
                self.connection.retry = None;
                self.connection.status = Some(shown(&reason));
            }
            NetEvent::Console(ev) => self.console(ev),
            NetEvent::ConsoleEnded(reason) => {
                self.connection.retry = None;
                self.connection.stage = None;
                self.session.ended = Some(shown(&reason));
            }
            NetEvent::Screen(ev) => {
                if self.session_visible() || self.phase == Phase::Verified {
                    // A (re)connected screen: whatever ended is over.
                    if matches!(ev, crate::gui::frame::ScreenEvent::Resized { .. }) {
                        self.session.screen_ended = None;
                        self.session.screen_retry = None;
                    }
                    self.session.screen.apply(ev);
                }
            }
            NetEvent::ScreenEnded(reason) => {
                self.session.screen_retry = None;
                self.session.screen_ended = Some(shown(&reason));
            }
            NetEvent::ScreenReconnecting { attempt, reason, retry_in } => {
                self.session.screen_ended = None;
                self.session.screen_retry = Some(Retry::new(attempt, shown(&reason), retry_in));
            }
        }
    }

    /// A connection step: the phase follows it (unless a session is being re-attached),
    /// and the verifier's passed checks are ticked as soon as it has run.
    fn stage(&mut self, stage: Stage) {
        // After the verdict, the console's own connection (attested afresh) reports its
        // steps too; they show as the step under way, the phase stays.
        let reconnecting = matches!(self.phase, Phase::Verified | Phase::Session | Phase::Reconnecting);
        match &stage {
            Stage::Tcp | Stage::Tls if !reconnecting => self.phase = Phase::Connecting,
            Stage::Evidence | Stage::Checking { .. } | Stage::Collateral | Stage::Certificates if !reconnecting => {
                self.phase = Phase::Verifying
            }
            Stage::Checked(passed) if !reconnecting => self.tick(passed.iter().map(|(c, d)| (*c, d.as_str()))),
            Stage::IdentityChanged(change) => self.verdict.identity_change = Some(change.clone()),
            _ => {}
        }
        if reconnecting && let Some(retry) = &mut self.connection.retry {
            // The wait is over: the attempt is running.
            retry.at = Instant::now();
        }
        self.connection.stage = Some((stage, Instant::now()));
    }

    /// Mark each check passed with its details (or not run, if the verifier did not need it).
    fn tick<'a>(&mut self, passed: impl Iterator<Item = (Check, &'a str)> + Clone) {
        for (check, status) in &mut self.verdict.checks {
            let details: Vec<&str> = passed.clone().filter(|(c, _)| c == check).map(|(_, d)| d).collect();
            *status = if details.is_empty() {
                CheckStatus::NotReached
            } else {
                CheckStatus::Passed(shown(&details.join("; ")))
            };
        }
    }

    /// Show the check list of this kind of evidence (SEV-SNP's or TDX's rows).
    fn rows_for(&mut self, rows: &[Check]) {
        if self.verdict.checks.iter().map(|(c, _)| *c).ne(rows.iter().copied()) {
            self.verdict.checks = rows.iter().map(|c| (*c, CheckStatus::Pending)).collect();
        }
    }

    fn verified(&mut self, guest: Box<AttestedGuest>, report: Vec<u8>) {
        self.rows_for(guest.verified.checks());
        self.tick(guest.verified.passed().iter().map(|p| (p.check, p.detail.as_str())));
        self.verdict.simulated = guest.verified.simulated();
        self.verdict.guest = Some(guest);
        self.verdict.report = report;
        self.verdict.verified_at = Some(SystemTime::now());
        self.verdict.attestations += 1;
        if self.phase != Phase::Session && self.phase != Phase::Reconnecting {
            self.phase = Phase::Verified;
        }
    }

    fn identity_changed(&mut self, warning: String) {
        // The pin is compared only after every verifier check passed.
        for (check, status) in &mut self.verdict.checks {
            if *check == Check::Identity {
                *status = CheckStatus::Failed("the guest identity differs from the pinned one".into());
            } else if *status == CheckStatus::Pending {
                *status = CheckStatus::Passed(String::new());
            }
        }
        self.verdict.refusal =
            Some(Refusal { check: Check::Identity, name: IDENTITY_CHANGED, message: shown(&warning) });
        self.refuse();
    }

    /// Enter the final Refused phase: drop everything of the session.
    fn refuse(&mut self) {
        self.verdict.verified_at = Some(SystemTime::now());
        self.phase = Phase::Refused;
        self.connection.stage = None;
        self.connection.retry = None;
        self.session.console_output.clear();
        self.session.screen = Framebuffer::default();
        self.session.screen_ended = None;
        self.session.screen_retry = None;
    }

    fn refused(&mut self, error: &VerifyError, report: Vec<u8>) {
        use cvmc_protocol::azure::hcl::{HwReportType, report_type_hint};
        let azure = report_type_hint(&report);
        let tdx = matches!(error, VerifyError::Tdx(_)) || cvmc_protocol::tdx::quote::looks_like_quote(&report);
        self.rows_for(if azure == Some(HwReportType::Tdx) {
            &Check::AZURE_TDX
        } else if azure.is_some() {
            &Check::AZURE_SNP
        } else if tdx {
            &Check::TDX
        } else {
            &Check::SNP
        });
        let failed = error.check();
        let mut reached = true;
        for (check, status) in &mut self.verdict.checks {
            *status = if *check == failed {
                reached = false;
                CheckStatus::Failed(shown(&error.to_string()))
            } else if reached {
                CheckStatus::Passed(String::new())
            } else {
                CheckStatus::NotReached
            };
        }
        self.verdict.refusal = Some(Refusal { check: failed, name: error.name(), message: shown(&error.to_string()) });
        // Only this failure may be answered by pinning what was seen.
        (self.verdict.pinnable, self.verdict.pin_key) = match error {
            VerifyError::MeasurementNotPinned { actual } => {
                (Some(actual.clone()), crate::gui::pin::PinKey::Measurements)
            }
            VerifyError::Tdx(cvmc_protocol::tdx::TdxError::MrtdNotPinned { actual }) => {
                (Some(actual.clone()), crate::gui::pin::PinKey::TdxMrtd)
            }
            _ => (None, crate::gui::pin::PinKey::Measurements),
        };
        self.verdict.report = report;
        self.refuse();
    }

    fn console(&mut self, ev: ConsoleEvent) {
        match ev {
            ConsoleEvent::Attested(guest) => {
                // Every (re)connection is attested afresh; show the newest verdict and its time.
                self.rows_for(guest.verified.checks());
                self.tick(guest.verified.passed().iter().map(|p| (p.check, p.detail.as_str())));
                self.verdict.simulated = guest.verified.simulated();
                self.verdict.guest = Some(guest);
                self.verdict.verified_at = Some(SystemTime::now());
                self.verdict.attestations += 1;
                self.phase = Phase::Session;
                self.connection.status = None;
                self.connection.stage = None;
                self.connection.retry = None;
            }
            ConsoleEvent::Output(bytes) if self.session_visible() => {
                self.session.console_output.extend_from_slice(&bytes)
            }
            ConsoleEvent::Output(_) => {}
            ConsoleEvent::Reconnecting { attempt, reason, retry_in } => {
                self.phase = Phase::Reconnecting;
                self.connection.stage = None;
                self.connection.retry = Some(Retry::new(attempt, shown(&reason), retry_in));
            }
            ConsoleEvent::OutputGap { bytes } => {
                self.connection.status = Some(format!("{bytes} bytes of console output were lost (scrollback)"));
            }
        }
    }

    /// Take the console output gathered since the last call.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.session.console_output)
    }
}

/// Text as the GUI keeps it: every control and bidi character escaped, newlines kept
/// ([`cvmc_protocol::text::escape_lines`]); a guest's words reach no label raw.
pub fn shown(text: &str) -> String {
    cvmc_protocol::text::escape_lines(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::frame::{Rect, ScreenEvent};

    const REPORT: &[u8] = include_bytes!("../../../tests/data/snp/milan_attestation_report.bin");

    fn guest(simulated: bool) -> Box<AttestedGuest> {
        use cvmc_protocol::snp::{product::Product, report::Report, tcb::Tcb, verify::Passed};
        use cvmc_protocol::{Anchor, GuestVerdict, Verified};
        let anchor = if simulated {
            Anchor::PolicyRoot { label: "ark.pem".into(), fingerprint: "00".into() }
        } else {
            Anchor::AmdArk { product: Product::Milan }
        };
        let passed = vec![
            Passed { check: Check::Format, detail: "v3".into() },
            Passed { check: Check::Chain, detail: "ok".into() },
            Passed { check: Check::Chain, detail: "valid".into() },
        ];
        Box::new(AttestedGuest {
            verified: GuestVerdict::Snp(Box::new(Verified {
                report: Report::parse(REPORT).unwrap(),
                product: Product::Milan,
                reported_tcb: Tcb::default(),
                anchor,
                passed,
                binding_checked: true,
                warnings: Vec::new(),
            })),
            identity_key: [1; 32],
            identity_fingerprint: "SHA256:01".into(),
            stage: cvmc_protocol::GuestStage::System,
        })
    }

    #[test]
    fn verified_then_session_fills_the_check_list_and_the_banner_flag() {
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::Connecting);
        assert_eq!(s.phase, Phase::Connecting);
        s.apply(NetEvent::Console(ConsoleEvent::Output(b"early".to_vec())));
        assert!(s.session.console_output.is_empty(), "nothing of the session before the verdict");
        s.apply(NetEvent::Verified { guest: guest(true), report: REPORT.to_vec() });
        assert_eq!(s.phase, Phase::Verified);
        assert!(s.verdict.simulated && !s.session_visible());
        assert_eq!(s.verdict.checks[0].1, CheckStatus::Passed("v3".into()));
        assert_eq!(s.verdict.checks[1].1, CheckStatus::Passed("ok; valid".into()));
        assert_eq!(s.verdict.checks[2].1, CheckStatus::NotReached);
        s.apply(NetEvent::Console(ConsoleEvent::Attested(guest(true))));
        assert!(s.session_visible());
        s.apply(NetEvent::Console(ConsoleEvent::Output(b"hi".to_vec())));
        assert_eq!(s.take_console_output(), b"hi");
        s.apply(NetEvent::Console(ConsoleEvent::Reconnecting {
            attempt: 1,
            reason: "cut".into(),
            retry_in: Duration::from_secs(2),
        }));
        assert_eq!(s.phase, Phase::Reconnecting);
        assert_eq!(s.connection.retry.as_ref().map(Retry::secs_left), Some(2));
        s.apply(NetEvent::Stage(Stage::Evidence));
        assert_eq!(s.phase, Phase::Reconnecting, "a re-attach stays in Reconnecting");
        assert_eq!(s.connection.retry.as_ref().map(Retry::secs_left), Some(0));
        s.apply(NetEvent::Console(ConsoleEvent::Attested(guest(false))));
        assert_eq!(s.phase, Phase::Session);
        assert!(!s.verdict.simulated && s.connection.retry.is_none() && s.connection.stage.is_none());
        assert_eq!(s.verdict.attestations, 3, "the verdict, the console, the re-attach: each attested afresh");
    }

    #[test]
    fn a_refusal_names_the_check_and_is_final() {
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::Connecting);
        let error = VerifyError::MeasurementNotAllowed { actual: "ab".into(), allowed: 3 };
        let message = error.to_string();
        s.apply(NetEvent::Refused { error, report: REPORT.to_vec() });
        assert_eq!(s.phase, Phase::Refused);
        let r = s.verdict.refusal.clone().unwrap();
        assert_eq!((r.check, r.name, r.message.as_str()), (Check::Measurement, "measurement", message.as_str()));
        let statuses: Vec<&CheckStatus> = s.verdict.checks.iter().map(|(_, st)| st).collect();
        let at = Check::SNP.iter().position(|c| *c == Check::Measurement).unwrap();
        assert_eq!(statuses[at - 1], &CheckStatus::Passed(String::new()));
        assert_eq!(statuses[at], &CheckStatus::Failed(message));
        assert_eq!(statuses[at + 1], &CheckStatus::NotReached);
        s.apply(NetEvent::Console(ConsoleEvent::Attested(guest(true))));
        s.apply(NetEvent::Screen(ScreenEvent::Resized { w: 2, h: 2 }));
        s.apply(NetEvent::Screen(ScreenEvent::Pixels(Rect { x: 0, y: 0, w: 1, h: 1 }, vec![1; 4])));
        assert_eq!(s.phase, Phase::Refused);
        assert!(!s.session_visible() && s.session.screen.size == (0, 0));
        assert!(s.verdict.pinnable.is_none(), "pinning is offered for an unpinned measurement only");
    }

    #[test]
    fn stages_drive_the_phase_and_tick_the_checks() {
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::Stage(Stage::Tcp));
        assert_eq!(s.phase, Phase::Connecting);
        s.apply(NetEvent::Stage(Stage::Evidence));
        assert_eq!(s.phase, Phase::Verifying);
        assert_eq!(s.connection.stage.as_ref().map(|(st, _)| st.limit().is_some()), Some(true));
        s.apply(NetEvent::Stage(Stage::Checked(vec![(Check::Format, "v3".into()), (Check::Chain, "ok".into())])));
        assert_eq!(s.verdict.checks[0].1, CheckStatus::Passed("v3".into()));
        assert_eq!(s.verdict.checks[2].1, CheckStatus::NotReached);
    }

    #[test]
    fn only_an_unpinned_measurement_is_pinnable() {
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::Refused {
            error: VerifyError::MeasurementNotPinned { actual: "cd".repeat(48) },
            report: Vec::new(),
        });
        assert_eq!(s.verdict.pinnable, Some("cd".repeat(48)));
        assert_eq!(s.verdict.pin_key, crate::gui::pin::PinKey::Measurements);
        // A TDX guest: MRTD, into [tdx] mrtd, with TDX's check rows.
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::Refused {
            error: VerifyError::Tdx(cvmc_protocol::tdx::TdxError::MrtdNotPinned { actual: "ef".repeat(48) }),
            report: Vec::new(),
        });
        assert_eq!(
            (s.verdict.pinnable.as_deref(), s.verdict.pin_key),
            (Some("ef".repeat(48).as_str()), crate::gui::pin::PinKey::TdxMrtd)
        );
        assert_eq!(s.verdict.checks.iter().map(|(c, _)| *c).collect::<Vec<_>>(), Check::TDX.to_vec());
        assert!(matches!(s.verdict.checks[8], (Check::Measurement, CheckStatus::Failed(_))));
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::IdentityChanged("WARNING".into()));
        assert_eq!(s.phase, Phase::Refused);
        assert_eq!(s.verdict.refusal.as_ref().map(|r| r.name), Some(IDENTITY_CHANGED));
        assert_eq!(s.verdict.checks[0].1, CheckStatus::Passed(String::new()));
        assert!(matches!(s.verdict.checks.last(), Some((Check::Identity, CheckStatus::Failed(_)))));
        assert!(s.verdict.pinnable.is_none());
    }
}
