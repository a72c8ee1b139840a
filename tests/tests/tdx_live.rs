//! A live simulated Intel TDX guest over loopback: the real server (the simulated
//! quoting enclave, fresh collateral in the Evidence, TLS, PTY) and the real client:
//! verified through the TDX verifier, its console echoes; relay and replay fail the
//! binding as they do for SEV-SNP.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use cvm_console::console_client::Reconnect;
use cvm_console::net::{ConnectError, connect};
use cvmc_protocol::handshake::alpn;
use cvmc_protocol::tdx::Collateral;
use cvmc_protocol::{Check, GuestVerdict};
use cvmc_tests::console_driver::Driver;
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_tdx_guest_is_verified_and_its_console_echoes() {
    let client = TestClient::tdx();
    let opts = GuestOptions { tdx: true, ..GuestOptions::default() };
    let guest = TestGuest::start(opts, std::slice::from_ref(&client.fingerprint)).await;

    let attested = connect(&guest.addr.to_string(), alpn::VERIFY, &client.opts).await.unwrap();
    let GuestVerdict::Tdx(v) = &attested.guest.verified else { panic!("not a TDX verdict") };
    assert!(v.simulated() && v.binding_checked);
    assert_eq!(v.tcb.status.name(), "UpToDate");
    let checks: Vec<Check> = attested.guest.verified.passed().iter().map(|p| p.check).collect();
    assert_eq!(checks, Check::TDX.to_vec(), "every TDX check ran, identity last");
    assert!(attested.guest.verified.warnings().iter().any(|w| w.contains("SIMULATED - NOT CONFIDENTIAL")));

    let mut d = Driver::start(guest.addr.to_string(), client.opts.clone(), Reconnect::default());
    d.type_str("echo t''dx\r").await;
    d.wait_for("\r\ntdx\r\n", 20).await;
    d.type_str("exit 3\r").await;
    let (end, _, _) = d.finish(20).await;
    assert!(matches!(end, cvm_console::console_client::ConsoleEnd::Exited(3)), "{end:?}");
    guest.stop().await;
}

/// A client whose policy trusts the SEV-SNP test root only refuses the TDX guest,
/// naming the missing [tdx] section or the root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_snp_policy_refuses_a_tdx_guest() {
    let snp_client = TestClient::new();
    let opts = GuestOptions { tdx: true, ..GuestOptions::default() };
    let guest = TestGuest::start(opts, std::slice::from_ref(&snp_client.fingerprint)).await;
    let e = connect(&guest.addr.to_string(), alpn::VERIFY, &snp_client.opts).await.unwrap_err();
    let ConnectError::Refused { error, .. } = e else { panic!("{e}") };
    assert_eq!((error.name(), error.check()), ("root", Check::Root), "{error}");
    guest.stop().await;
}

/// A guest whose quote comes without collateral (as a real TDX guest's does): the
/// client fetches it from the PCS it is given (here a loopback PCS serving the
/// simulated chain's collateral), and refuses with a clear error when it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collateral_missing_from_the_evidence_is_fetched_from_the_pcs() {
    use cvm_consoled::evidence::{EvidenceError, EvidenceProvider, RawEvidence};
    use cvm_consoled::sim_tdx::{CollateralSpec, PlatformSpec, SimTdxCa};
    use cvmc_tests::pcs_server::{Behaviour, PcsServer};

    #[derive(Debug)]
    struct NoCollateral(cvm_consoled::evidence::simulated::SimulatedProvider);
    impl EvidenceProvider for NoCollateral {
        fn name(&self) -> &'static str {
            "simulated, without collateral"
        }
        fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
            Ok(RawEvidence { collateral: Vec::new(), ..self.0.evidence(report_data)? })
        }
    }

    let dir = cvmc_tests::guest::sim_dir_tdx();
    let provider = NoCollateral(cvm_consoled::evidence::simulated::SimulatedProvider::load(dir).unwrap());
    let collateral =
        SimTdxCa::load(dir).unwrap().collateral(&CollateralSpec::up_to_date(&PlatformSpec::default())).unwrap();
    let mut client = TestClient::tdx();
    let opts = GuestOptions { tdx: true, ..GuestOptions::default() };
    let guest =
        TestGuest::start_with_provider(opts, std::slice::from_ref(&client.fingerprint), std::sync::Arc::new(provider))
            .await;
    let addr = guest.addr.to_string();

    // No PCS: the guest sent none, so nothing verifies it.
    let e = connect(&addr, alpn::VERIFY, &client.opts).await.unwrap_err();
    let ConnectError::Refused { error, .. } = e else { panic!("{e}") };
    assert_eq!(error.name(), "missing_collateral", "{error}");

    let cache = tempfile::tempdir().unwrap();
    let server = PcsServer::start(collateral, Behaviour::Normal);
    client.opts.pcs = Some(std::sync::Arc::new(cvm_console::pcs::PcsSource {
        base: server.url(),
        offline: false,
        cache: Some(cache.path().to_path_buf()),
        timeout: std::time::Duration::from_secs(5),
    }));
    let attested = connect(&addr, alpn::VERIFY, &client.opts).await.unwrap();
    assert!(matches!(attested.guest.verified, GuestVerdict::Tdx(_)));
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 4);

    // A PCS that answers 404: a clear error, no verdict.
    let server = PcsServer::start(Collateral::default(), Behaviour::NotFound("/tcb"));
    client.opts.pcs = Some(std::sync::Arc::new(cvm_console::pcs::PcsSource {
        base: server.url(),
        offline: false,
        cache: None,
        timeout: std::time::Duration::from_secs(5),
    }));
    let e = connect(&addr, alpn::VERIFY, &client.opts).await.unwrap_err();
    assert!(matches!(e, ConnectError::Collateral { .. }), "{e}");
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    guest.stop().await;
}

/// A guest that sends stale collateral: the client fetches current collateral from
/// the PCS instead of refusing; with no PCS, the stale collateral is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_collateral_from_the_guest_is_replaced_from_the_pcs() {
    use cvm_consoled::evidence::{EvidenceError, EvidenceProvider, RawEvidence};
    use cvm_consoled::sim_tdx::{CollateralSpec, PlatformSpec, SimTdxCa};
    use cvmc_tests::pcs_server::{Behaviour, PcsServer};

    #[derive(Debug)]
    struct Stale(cvm_consoled::evidence::simulated::SimulatedProvider, Vec<u8>);
    impl EvidenceProvider for Stale {
        fn name(&self) -> &'static str {
            "simulated, stale collateral"
        }
        fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
            Ok(RawEvidence { collateral: self.1.clone(), ..self.0.evidence(report_data)? })
        }
    }
    let dir = cvmc_tests::guest::sim_dir_tdx();
    let ca = SimTdxCa::load(dir).unwrap();
    let now = cvm_consoled::sim::now_unix();
    let spec = PlatformSpec::default();
    let stale = ca
        .collateral(&CollateralSpec {
            window: (now - 60 * 86_400, now - 30 * 86_400),
            ..CollateralSpec::up_to_date(&spec)
        })
        .unwrap();
    let fresh = ca.collateral(&CollateralSpec::up_to_date(&spec)).unwrap();
    let provider =
        Stale(cvm_consoled::evidence::simulated::SimulatedProvider::load(dir).unwrap(), stale.to_json().into_bytes());
    let mut client = TestClient::tdx();
    let opts = GuestOptions { tdx: true, ..GuestOptions::default() };
    let guest =
        TestGuest::start_with_provider(opts, std::slice::from_ref(&client.fingerprint), std::sync::Arc::new(provider))
            .await;
    let addr = guest.addr.to_string();
    let e = connect(&addr, alpn::VERIFY, &client.opts).await.unwrap_err();
    let ConnectError::Refused { error, .. } = e else { panic!("{e}") };
    assert_eq!(error.name(), "crl_stale", "{error}");

    let server = PcsServer::start(fresh, Behaviour::Normal);
    client.opts.pcs = Some(std::sync::Arc::new(cvm_console::pcs::PcsSource {
        base: server.url(),
        offline: false,
        cache: None,
        timeout: std::time::Duration::from_secs(5),
    }));
    connect(&addr, alpn::VERIFY, &client.opts).await.unwrap();
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 4);
    guest.stop().await;
}
