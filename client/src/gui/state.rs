//! The GUI's client state machine, with no egui types: the net thread's events go
//! in, the views read it out. Unit-tested without a window.
//!
//! ```text
//! Idle ─► Connecting ─► Verifying ─► Verified ─► Session ⇄ Reconnecting
//!                 └───────────┴──► Refused (a failed check; no session, ever)
//! ```

use std::time::SystemTime;

use cvmc_protocol::{AttestedGuest, Check, VerifyError};

use crate::console_client::{ConsoleCommand, ConsoleEvent};
use crate::gui::frame::{Framebuffer, ScreenEvent};

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
    /// NOT trusted: the failed check is in [`ClientState::refusal`].
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

/// What the net thread reports.
#[derive(Debug)]
pub enum NetEvent {
    /// TCP and TLS under way.
    Connecting,
    /// Evidence is being checked.
    Verifying,
    /// The guest passed every check.
    Verified {
        /// What was verified.
        guest: Box<AttestedGuest>,
        /// The report bytes as received.
        report: Vec<u8>,
    },
    /// The guest failed a check.
    Refused {
        /// The failed check with its values.
        error: VerifyError,
        /// The report as received, if any.
        report: Vec<u8>,
    },
    /// The connection failed before any verdict (network, TLS, authorization).
    Failed(String),
    /// From the console loop.
    Console(ConsoleEvent),
    /// The console ended (exit, close, loss).
    ConsoleEnded(String),
    /// From the screen connection.
    Screen(ScreenEvent),
}

/// What the GUI asks the net thread to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetCommand {
    /// To the console loop.
    Console(ConsoleCommand),
    /// An RFB key event (RFC 6143 7.5.4): an X11 keysym, down or up.
    Key {
        /// The keysym.
        keysym: u32,
        /// Pressed (true) or released.
        down: bool,
    },
    /// An RFB pointer event (RFC 6143 7.5.5) in framebuffer pixels.
    Pointer {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// Button mask (bit 0 left, 1 middle, 2 right).
        buttons: u8,
    },
    /// Close everything.
    Disconnect,
}

/// Everything the views show.
#[derive(Debug)]
pub struct ClientState {
    /// Where the connection is.
    pub phase: Phase,
    /// A name for the guest (saved name or address).
    pub guest_name: String,
    /// The check list, in `Check::ALL` order.
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
    /// The last connection problem or end, for a status line.
    pub status: Option<String>,
    /// Console output not yet fed to the terminal view.
    pub console_output: Vec<u8>,
    /// The guest's screen.
    pub screen: Framebuffer,
    /// Something changed since the views last looked (drives repaints).
    pub changed: bool,
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
            checks: Check::ALL.iter().map(|c| (*c, CheckStatus::Pending)).collect(),
            refusal: None,
            simulated: false,
            guest: None,
            report: Vec::new(),
            verified_at: None,
            status: None,
            console_output: Vec::new(),
            screen: Framebuffer::default(),
            changed: true,
        }
    }

    /// Whether the session (Screen, Console) may be shown: only after a verdict of trust.
    pub fn session_visible(&self) -> bool {
        matches!(self.phase, Phase::Session | Phase::Reconnecting) && self.refusal.is_none()
    }

    /// Apply one event from the net thread.
    pub fn apply(&mut self, event: NetEvent) {
        self.changed = true;
        // A refusal is final: nothing after it may reopen the session.
        if self.phase == Phase::Refused {
            return;
        }
        match event {
            NetEvent::Connecting => self.phase = Phase::Connecting,
            NetEvent::Verifying => self.phase = Phase::Verifying,
            NetEvent::Verified { guest, report } => self.verified(guest, report),
            NetEvent::Refused { error, report } => self.refused(&error, report),
            NetEvent::Failed(reason) => {
                self.phase = Phase::Idle;
                self.status = Some(reason);
            }
            NetEvent::Console(ev) => self.console(ev),
            NetEvent::ConsoleEnded(reason) => self.status = Some(reason),
            NetEvent::Screen(ev) => {
                if self.session_visible() || self.phase == Phase::Verified {
                    self.screen.apply(ev);
                }
            }
        }
    }

    fn verified(&mut self, guest: Box<AttestedGuest>, report: Vec<u8>) {
        for (check, status) in &mut self.checks {
            let details: Vec<&str> =
                guest.verified.passed.iter().filter(|p| p.check == *check).map(|p| p.detail.as_str()).collect();
            *status =
                if details.is_empty() { CheckStatus::NotReached } else { CheckStatus::Passed(details.join("; ")) };
        }
        self.simulated = guest.verified.simulated();
        self.guest = Some(guest);
        self.report = report;
        self.verified_at = Some(SystemTime::now());
        if self.phase != Phase::Session && self.phase != Phase::Reconnecting {
            self.phase = Phase::Verified;
        }
    }

    fn refused(&mut self, error: &VerifyError, report: Vec<u8>) {
        let failed = error.check();
        let mut reached = true;
        for (check, status) in &mut self.checks {
            *status = if *check == failed {
                reached = false;
                CheckStatus::Failed(error.to_string())
            } else if reached {
                CheckStatus::Passed(String::new())
            } else {
                CheckStatus::NotReached
            };
        }
        self.refusal = Some(Refusal { check: failed, name: error.name(), message: error.to_string() });
        self.report = report;
        self.verified_at = Some(SystemTime::now());
        self.phase = Phase::Refused;
        self.console_output.clear();
        self.screen = Framebuffer::default();
    }

    fn console(&mut self, ev: ConsoleEvent) {
        match ev {
            ConsoleEvent::Attested(guest) => {
                // Every (re)connection is attested afresh; keep the newest verdict.
                self.simulated = guest.verified.simulated();
                self.guest = Some(guest);
                if self.verified_at.is_none() {
                    self.verified_at = Some(SystemTime::now());
                }
                self.phase = Phase::Session;
                self.status = None;
            }
            ConsoleEvent::Output(bytes) if self.session_visible() => self.console_output.extend_from_slice(&bytes),
            ConsoleEvent::Output(_) => {}
            ConsoleEvent::Reconnecting { attempt, reason } => {
                self.phase = Phase::Reconnecting;
                self.status = Some(format!("reconnecting (attempt {attempt}): {reason}"));
            }
            ConsoleEvent::OutputGap { bytes } => {
                self.status = Some(format!("{bytes} bytes of console output were lost (scrollback)"));
            }
        }
    }

    /// Take the console output gathered since the last call.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.console_output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::frame::Rect;

    const REPORT: &[u8] = include_bytes!("../../../tests/data/snp/milan_attestation_report.bin");

    fn guest(simulated: bool) -> Box<AttestedGuest> {
        use cvmc_protocol::snp::{product::Product, report::Report, tcb::Tcb, verify::Passed};
        use cvmc_protocol::{Anchor, Verified};
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
            verified: Verified {
                report: Report::parse(REPORT).unwrap(),
                product: Product::Milan,
                reported_tcb: Tcb::default(),
                anchor,
                passed,
                binding_checked: true,
                warnings: Vec::new(),
            },
            identity_key: [1; 32],
            identity_fingerprint: "SHA256:01".into(),
        })
    }

    #[test]
    fn verified_then_session_fills_the_check_list_and_the_banner_flag() {
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::Connecting);
        assert_eq!(s.phase, Phase::Connecting);
        s.apply(NetEvent::Console(ConsoleEvent::Output(b"early".to_vec())));
        assert!(s.console_output.is_empty(), "nothing of the session before the verdict");
        s.apply(NetEvent::Verified { guest: guest(true), report: REPORT.to_vec() });
        assert_eq!(s.phase, Phase::Verified);
        assert!(s.simulated && !s.session_visible());
        assert_eq!(s.checks[0].1, CheckStatus::Passed("v3".into()));
        assert_eq!(s.checks[1].1, CheckStatus::Passed("ok; valid".into()));
        assert_eq!(s.checks[2].1, CheckStatus::NotReached);
        s.apply(NetEvent::Console(ConsoleEvent::Attested(guest(true))));
        assert!(s.session_visible());
        s.apply(NetEvent::Console(ConsoleEvent::Output(b"hi".to_vec())));
        assert_eq!(s.take_console_output(), b"hi");
        s.apply(NetEvent::Console(ConsoleEvent::Reconnecting { attempt: 1, reason: "cut".into() }));
        assert_eq!(s.phase, Phase::Reconnecting);
        s.apply(NetEvent::Console(ConsoleEvent::Attested(guest(false))));
        assert_eq!(s.phase, Phase::Session);
        assert!(!s.simulated);
    }

    #[test]
    fn a_refusal_names_the_check_and_is_final() {
        let mut s = ClientState::new("g".into());
        s.apply(NetEvent::Connecting);
        let error = VerifyError::MeasurementNotAllowed { actual: "ab".into(), allowed: 3 };
        let message = error.to_string();
        s.apply(NetEvent::Refused { error, report: REPORT.to_vec() });
        assert_eq!(s.phase, Phase::Refused);
        let r = s.refusal.clone().unwrap();
        assert_eq!((r.check, r.name, r.message.as_str()), (Check::Measurement, "measurement", message.as_str()));
        let statuses: Vec<&CheckStatus> = s.checks.iter().map(|(_, st)| st).collect();
        assert_eq!(statuses[5], &CheckStatus::Passed(String::new()));
        assert_eq!(statuses[6], &CheckStatus::Failed(message));
        assert_eq!(statuses[7], &CheckStatus::NotReached);
        s.apply(NetEvent::Console(ConsoleEvent::Attested(guest(true))));
        s.apply(NetEvent::Screen(ScreenEvent::Resized { w: 2, h: 2 }));
        s.apply(NetEvent::Screen(ScreenEvent::Pixels(Rect { x: 0, y: 0, w: 1, h: 1 }, vec![1; 4])));
        assert_eq!(s.phase, Phase::Refused);
        assert!(!s.session_visible() && s.screen.size == (0, 0));
    }
}
