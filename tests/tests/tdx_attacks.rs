//! The attack matrix's TDX rows, end to end over real TLS: a real guest server whose
//! simulated TDX quoting enclave (or the host on the path) is bent one way per row, the
//! real client on the console channel, and for each row the named refusal and the
//! guest's own proof that no channel started (no login, no channel after a Proceed).
//! The honest control goes through the same harness and must start its console.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cvm_console::clientkey::ClientKey;
use cvm_console::net::{ConnectError, connect};
use cvm_console::policy_file::LoadedPolicy;
use cvm_consoled::evidence::{EvidenceError, EvidenceProvider, RawEvidence};
use cvm_consoled::sim_tdx::{CollateralSpec, LevelSpec, PlatformSpec, SimTdxCa, SimTdxPlatform};
use cvmc_protocol::evidence::Tee;
use cvmc_protocol::handshake::alpn;
use cvmc_protocol::policy::Hex;
use cvmc_protocol::tdx::Quote;
use cvmc_protocol::tdx::quote::{TD_ATTR_DEBUG, TD_ATTR_SEPT_VE_DISABLE, TdReport};
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest, sim_dir_tdx};
use cvmc_tests::relay::{EvidenceBend, Relay};

/// How the quoting enclave (or the collateral it sends) is bent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bend {
    Honest,
    /// A byte of the signed TD report changed after signing.
    TamperBody,
    /// A byte of the QE report changed after signing.
    TamperQeReport,
    /// Another quoting enclave's attestation key and signature spliced in.
    AkSwap,
    /// The whole chain and collateral from a root the policy does not trust.
    OtherRoot,
    /// The PCK CRL lists the PCK certificate.
    RevokedPck,
    /// Collateral whose nextUpdate has passed.
    StaleCollateral,
    /// TCB info edited after signing.
    ForgedCollateral,
    /// TCB info for another platform, correctly signed.
    FmspcMismatch,
    /// The platform's level is OutOfDate.
    OutOfDate,
    /// A debug TD.
    DebugTd,
    /// Another MRTD.
    WrongMrtd,
}

#[derive(Debug)]
struct BentTdx {
    bend: Bend,
    ca: SimTdxCa,
    platform: SimTdxPlatform,
    other_ca: SimTdxCa,
    other: SimTdxPlatform,
}

impl BentTdx {
    fn new(bend: Bend) -> Self {
        let ca = SimTdxCa::load(sim_dir_tdx()).unwrap();
        let platform = ca.platform(&PlatformSpec::default()).unwrap();
        let other_ca = SimTdxCa::generate().unwrap();
        let other = other_ca.platform(&PlatformSpec::default()).unwrap();
        Self { bend, ca, platform, other_ca, other }
    }
}

impl EvidenceProvider for BentTdx {
    fn name(&self) -> &'static str {
        "bent TDX"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        let spec = PlatformSpec::default();
        let mut collateral = CollateralSpec::up_to_date(&spec);
        let mut td: TdReport = self.platform.td_template(*report_data);
        let (ca, platform) = match self.bend {
            Bend::OtherRoot => (&self.other_ca, &self.other),
            _ => (&self.ca, &self.platform),
        };
        match self.bend {
            Bend::RevokedPck => collateral.revoked_pcks = vec![spec.pck_serial],
            Bend::StaleCollateral => {
                let now = cvm_consoled::sim::now_unix();
                collateral.window = (now - 60 * 86_400, now - 30 * 86_400);
            }
            Bend::FmspcMismatch => collateral.fmspc = [9, 9, 9, 9, 9, 9],
            Bend::OutOfDate => {
                let mut tdx = [0u8; 16];
                tdx[2] = 2;
                collateral.levels = vec![LevelSpec {
                    sgx: spec.sgx_components,
                    pce_svn: spec.pce_svn,
                    tdx,
                    status: "OutOfDate",
                    advisories: vec!["INTEL-SA-00837".into()],
                }];
            }
            Bend::DebugTd => td.td_attributes = (TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_DEBUG).to_le_bytes(),
            Bend::WrongMrtd => td.mr_td = [0x5a; 48],
            _ => {}
        }
        let mut quote = platform.quote(&td);
        let parsed = Quote::parse(&quote).unwrap();
        match self.bend {
            Bend::TamperBody => quote[48 + 200] ^= 1,
            // MRENCLAVE (bytes 64..96 of the QE report; a reserved byte would be a format error).
            Bend::TamperQeReport => quote[parsed.qe_report_range.start + 70] ^= 1,
            Bend::AkSwap => {
                let theirs = self.other.quote(&td);
                let at = parsed.signed_len + 4;
                quote[at..at + 128].copy_from_slice(&theirs[at..at + 128]);
            }
            _ => {}
        }
        let mut c = ca.collateral(&collateral).map_err(|e| EvidenceError::Files(e.to_string()))?;
        if self.bend == Bend::ForgedCollateral {
            c.tcb_info = c.tcb_info.replace("\"tcbEvaluationDataNumber\":17", "\"tcbEvaluationDataNumber\":99");
        }
        Ok(RawEvidence {
            tee: Tee::SIMULATED_TDX,
            report: quote,
            certs: Vec::new(),
            collateral: c.to_json().into_bytes(),
        })
    }
}

fn rtmr0_pinned(p: &mut LoadedPolicy) {
    p.policy.tdx.as_mut().unwrap().rtmr0 = vec![Hex([0x11; 48])];
}

fn same(_: &mut LoadedPolicy) {}

/// A row: the bend, the policy change, the `failed_check` it must meet.
type Row = (Bend, fn(&mut LoadedPolicy), &'static str);

/// Start a guest with `bend`, connect on the console channel with the policy changed
/// by `policy`; the refusal's `failed_check` (or "accepted") and the guest's proof.
async fn attempt(bend: Bend, policy: fn(&mut LoadedPolicy)) -> (String, u64, u64) {
    let client = TestClient::tdx();
    let opts = GuestOptions { tdx: true, ..GuestOptions::default() };
    let guest =
        TestGuest::start_with_provider(opts, std::slice::from_ref(&client.fingerprint), Arc::new(BentTdx::new(bend)))
            .await;
    let mut copts = client.opts.clone();
    let mut loaded = (*copts.policy).clone();
    policy(&mut loaded);
    copts.policy = Arc::new(loaded);
    let got = match connect(&guest.addr.to_string(), alpn::CONSOLE, &copts).await {
        Ok(_) => "accepted".to_owned(),
        Err(ConnectError::Refused { error, .. }) => error.name().to_owned(),
        Err(e) => format!("error: {e}"),
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (logins, started) = (guest.sessions.sessions_opened() as u64, guest.channels.console.load(Ordering::Relaxed));
    guest.stop().await;
    (got, logins, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tdx_attack_is_refused_by_its_check_and_no_channel_starts() {
    // The control: the same harness accepts an honest TD and starts its console.
    let (got, _, started) = attempt(Bend::Honest, same).await;
    assert_eq!((got.as_str(), started), ("accepted", 1), "the harness must accept an honest guest");

    let rows: [Row; 12] = [
        (Bend::TamperBody, same, "quote_signature"),
        (Bend::TamperQeReport, same, "qe_report_signature"),
        (Bend::AkSwap, same, "qe_report_data"),
        (Bend::OtherRoot, same, "root"),
        (Bend::RevokedPck, same, "revoked"),
        (Bend::StaleCollateral, same, "crl_stale"),
        (Bend::ForgedCollateral, same, "collateral_signature"),
        (Bend::FmspcMismatch, same, "fmspc"),
        (Bend::OutOfDate, same, "tcb_status"),
        (Bend::DebugTd, same, "debug"),
        (Bend::WrongMrtd, same, "mrtd"),
        (Bend::Honest, rtmr0_pinned, "rtmr0"),
    ];
    let mut table = String::from("| attack | expected | got | logins | channels |\n|---|---|---|---|---|\n");
    let mut failed = Vec::new();
    for (bend, policy, want) in rows {
        let (got, logins, started) = attempt(bend, policy).await;
        table.push_str(&format!("| {bend:?} | {want} | {got} | {logins} | {started} |\n"));
        if got != want || logins != 0 || started != 0 {
            failed.push(format!("{bend:?}"));
        }
    }
    println!("{table}");
    assert!(failed.is_empty(), "rows not refused as expected: {failed:?}\n{table}");
}

/// Relay and replay through the host: a relay with its own TLS forwards the guest's
/// evidence (bound to the relay's session, not the client's), or answers with the
/// evidence of an earlier session; both fail the binding, and the guest sends nothing
/// after the verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tdx_relay_and_replay_fail_the_binding() {
    let client = TestClient::tdx();
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_key = Arc::new(ClientKey::load_or_create(relay_dir.path()).unwrap());
    let opts = GuestOptions { tdx: true, ..GuestOptions::default() };
    let guest = TestGuest::start(opts, &[client.fingerprint.clone(), relay_key.fingerprint()]).await;
    for replay in [false, true] {
        let bend: EvidenceBend = if replay {
            let first = Mutex::new(None::<Vec<u8>>);
            Arc::new(move |evidence| first.lock().unwrap().get_or_insert(evidence).clone())
        } else {
            Arc::new(|evidence| evidence)
        };
        let relay = Relay::start_bending(guest.addr, Arc::clone(&relay_key), bend).await;
        if replay {
            let _ = connect(&relay.addr.to_string(), alpn::VERIFY, &client.opts).await;
        }
        let e = connect(&relay.addr.to_string(), alpn::CONSOLE, &client.opts).await.unwrap_err();
        let ConnectError::Refused { error, .. } = e else { panic!("replay {replay}: {e}") };
        assert!(matches!(error.name(), "binding" | "identity"), "replay {replay}: {error}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(relay.log.lock().unwrap().guest_bytes_after_verdict, 0, "replay {replay}");
    }
    assert_eq!(guest.sessions.sessions_opened(), 0);
    assert_eq!(guest.channels.console.load(Ordering::Relaxed), 0);
    guest.stop().await;
}
