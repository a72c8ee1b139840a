//! A live guest behind Azure's paravisor, on a real software TPM: swtpm (started here
//! on a private unix socket) stands in for the vTPM, and a test paravisor stand-in
//! watches NV 0x01400002 and, like the real one, writes a fresh HCL report to NV
//! 0x01400001: runtime claims carrying the user data, and an SEV-SNP report (or a
//! TDX TD report) of the simulated chain whose REPORT_DATA is their SHA-256. For TDX
//! a loopback stand-in for Azure's quoting service (IMDS /acc/tdquote) quotes the TD
//! report, and one for Intel's PCS serves the collateral. The `azure-vtpm` provider,
//! the TPM commands, the IMDS request, the HCL parser and the verifiers are the code
//! that runs on Azure; the provider labels the evidence simulated
//! (`simulated_paravisor`), as the chains are the TEST ones.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cvm_console::console_client::{ConsoleEnd, Reconnect};
use cvm_console::net::connect;
use cvm_console::pcs::PcsSource;
use cvm_consoled::evidence::EvidenceProvider;
use cvm_consoled::evidence::azure::{AzureVtpmProvider, Vtpm};
use cvm_consoled::evidence::simulated::SimulatedProvider;
use cvm_consoled::sim_tdx::{CollateralSpec, SimTdxPlatform};
use cvmc_protocol::azure::hcl::{self, ClaimsHash, HwReportType};
use cvmc_protocol::azure::{NV_HCL_REPORT, NV_USER_DATA};
use cvmc_protocol::handshake::alpn;
use cvmc_protocol::{Check, GuestVerdict};
use cvmc_tests::azure::{Imds, imds_server};
use cvmc_tests::console_driver::Driver;
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest, sim_dir, sim_dir_tdx};
use cvmc_tests::pcs_server::{Behaviour, PcsServer};

/// swtpm on a unix socket in its own state directory, killed on drop.
struct Swtpm {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Swtpm {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tpm.sock");
        let child = Command::new("swtpm")
            .arg("socket")
            .arg("--tpm2")
            .arg("--server")
            .arg(format!("type=unixio,path={}", socket.display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}", dir.path().join("ctrl.sock").display()))
            .arg("--tpmstate")
            .arg(format!("dir={}", dir.path().display()))
            .args(["--flags", "not-need-init,startup-clear"])
            // It logs every connection ("Data client disconnected"); a swtpm that
            // fails to start is caught by the socket wait below.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("swtpm (Debian package swtpm; scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "swtpm did not create its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, socket, _dir: dir }
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The runtime claims a paravisor writes for `user_data`.
fn claims(user_data: &[u8]) -> Vec<u8> {
    cvmc_tests::azure::claims(user_data, "3404EF27-32A2-4A07-A4C7-1A1171624C5D")
}

/// The HCL report a paravisor makes for runtime claims.
type MakeHcl = Box<dyn Fn(&[u8]) -> Vec<u8> + Send>;

/// An SEV-SNP paravisor: an SNP report of the simulated chain.
fn snp_hcl(sim: SimulatedProvider) -> MakeHcl {
    Box::new(move |claims| {
        let mut report_data = [0u8; 64];
        report_data[..32].copy_from_slice(&ClaimsHash::Sha256.digest(claims));
        hcl::encode(HwReportType::Snp, &sim.evidence(&report_data).unwrap().report, claims, 2048)
    })
}

/// The test paravisor: polls NV 0x01400002 and answers each new user data with a
/// fresh HCL report in NV 0x01400001, until `stop`.
fn paravisor(vtpm: Vtpm, make: MakeHcl, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let mut last: Option<Vec<u8>> = None;
        let mut reports = 0;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
            if vtpm.nv_size(NV_USER_DATA).unwrap() != Some(64) {
                continue;
            }
            // Defined by the provider a moment before its first write.
            let Some(user_data) = vtpm.nv_read_if_written(NV_USER_DATA).unwrap() else { continue };
            if last.as_ref() == Some(&user_data) {
                continue;
            }
            vtpm.nv_write(NV_HCL_REPORT, &make(&claims(&user_data))).unwrap();
            last = Some(user_data);
            reports += 1;
        }
        reports
    })
}

/// swtpm with the HCL report's NV index defined (2048 bytes, as Azure's; the
/// user-data index is left for the provider to define, as on a fresh VM) and the
/// paravisor stand-in answering it, until [`Paravisor::finish`].
struct Paravisor {
    tpm: Swtpm,
    stop: Arc<AtomicBool>,
    stand_in: std::thread::JoinHandle<u32>,
}

impl Paravisor {
    fn start(make: MakeHcl) -> Self {
        let tpm = Swtpm::start();
        let vtpm = Vtpm::new(&tpm.socket);
        vtpm.nv_define(NV_HCL_REPORT, 2048).unwrap();
        assert_eq!(vtpm.nv_size(NV_USER_DATA).unwrap(), None);
        let stop = Arc::new(AtomicBool::new(false));
        let stand_in = paravisor(vtpm, make, Arc::clone(&stop));
        Self { tpm, stop, stand_in }
    }

    /// Stop the stand-in: how many reports it made.
    fn finish(self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        self.stand_in.join().unwrap()
    }
}

/// The simulated chain's VCEK and ASK as the guest's `certs_dir`.
fn certs_dir(sim: &SimulatedProvider, dir: &Path) {
    let certs = sim.evidence(&[0; 64]).unwrap().certs;
    for c in certs {
        let name = match c.kind {
            cvmc_protocol::CertKind::VCEK => "vcek.pem",
            cvmc_protocol::CertKind::ASK => "ask.pem",
            _ => continue,
        };
        std::fs::write(dir.join(name), &c.der).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_behind_the_paravisor_on_swtpm_is_verified_end_to_end_and_its_console_echoes() {
    let para = Paravisor::start(snp_hcl(SimulatedProvider::load(sim_dir()).unwrap()));

    let certs = tempfile::tempdir().unwrap();
    certs_dir(&SimulatedProvider::load(sim_dir()).unwrap(), certs.path());
    let provider = AzureVtpmProvider::new(&para.tpm.socket, Some(certs.path().to_path_buf()), true).unwrap();
    let client = TestClient::new();
    let guest = TestGuest::start_with_provider(
        GuestOptions::default(),
        std::slice::from_ref(&client.fingerprint),
        Arc::new(provider),
    )
    .await;

    let attested = connect(&guest.addr.to_string(), alpn::VERIFY, &client.opts).await.unwrap();
    let GuestVerdict::AzureSnp(v) = &attested.guest.verified else { panic!("not an Azure verdict") };
    assert!(v.snp.simulated() && v.snp.binding_checked);
    assert_eq!(v.claims.flag("console-enabled"), Some(false));
    let checks: Vec<Check> = attested.guest.verified.passed().iter().map(|p| p.check).collect();
    assert_eq!(checks, Check::AZURE_SNP.to_vec(), "every check ran, in the list's order");
    assert_eq!(attested.guest.verified.tee(), "azure-sev-snp");
    drop(attested);

    // The console: attested afresh (a new binding, so a new report), then it echoes.
    let mut d = Driver::start(guest.addr.to_string(), client.opts.clone(), Reconnect::default());
    d.type_str("echo az''ure\r").await;
    d.wait_for("\r\nazure\r\n", 30).await;
    d.type_str("exit 4\r").await;
    let (end, _, _) = d.finish(30).await;
    assert!(matches!(end, ConsoleEnd::Exited(4)), "{end:?}");
    guest.stop().await;
    let reports = para.finish();
    assert!(reports >= 2, "one fresh report per attestation, {reports} made");
}

/// Without a paravisor refreshing the report, the provider waits a bounded time and
/// says why; with a stale report (another session's user data), the same.
#[test]
fn a_paravisor_that_never_refreshes_is_a_clear_time_out() {
    let tpm = Swtpm::start();
    let vtpm = Vtpm::new(&tpm.socket);
    vtpm.nv_define(NV_HCL_REPORT, 2048).unwrap();
    let sim = SimulatedProvider::load(sim_dir()).unwrap();
    let claims = claims(&[9; 64]);
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(&ClaimsHash::Sha256.digest(&claims));
    let stale = hcl::encode(HwReportType::Snp, &sim.evidence(&report_data).unwrap().report, &claims, 2048);
    vtpm.nv_write(NV_HCL_REPORT, &stale).unwrap();
    let provider =
        AzureVtpmProvider::new(&tpm.socket, None, true).unwrap().with_refresh_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let e = provider.evidence(&[1; 64]).unwrap_err().to_string();
    assert!(e.contains("did not refresh") && e.contains("300 ms"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(20), "bounded");
    // The provider defined the user-data index and wrote this session's binding.
    assert_eq!(vtpm.nv_read_all(NV_USER_DATA).unwrap(), vec![1; 64]);
    // The stale report is still what the index holds: nothing was overwritten.
    assert_eq!(vtpm.nv_read_all(NV_HCL_REPORT).unwrap(), stale);
    // No TPM at the path: unavailable, naming it.
    let e = AzureVtpmProvider::new(Path::new("/nonexistent/tpmrm0"), None, false).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/tpmrm0"), "{e}");
}

/// The attack matrix's Azure rows bend this honest guest: it must be accepted, so
/// that each row is refused for its own bend alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attack_matrixs_honest_azure_guest_is_accepted() {
    use cvm_console::policy_file::LoadedPolicy;
    use cvmc_protocol::policy::{Hex, Policy};
    use cvmc_tests::bent::{Bend, BentProvider};
    // The matrix's client: the test CA's root and measurement.
    let policy = Policy { measurements: vec![Hex(cvm_consoled::sim::simulated_measurement())], ..Policy::default() };
    let anchors = cvmc_tests::sim_anchors(cvmc_tests::sim_ca(cvmc_protocol::snp::product::Product::Milan));
    let client = TestClient::with_policy(Arc::new(LoadedPolicy { path: "test-ca policy".into(), policy, anchors }));
    let provider = Arc::new(BentProvider::new(Bend::AzureHonest));
    let guest =
        TestGuest::start_with_provider(GuestOptions::default(), std::slice::from_ref(&client.fingerprint), provider)
            .await;
    let attested = connect(&guest.addr.to_string(), alpn::VERIFY, &client.opts).await.unwrap();
    assert_eq!(attested.guest.verified.tee(), "azure-sev-snp");
    guest.stop().await;
}

/// The simulated TDX platform of [`sim_dir_tdx`], shared by the paravisor and the
/// quoting service stand-ins, and its collateral as Intel's PCS would serve it.
fn tdx_platform() -> (Arc<SimTdxPlatform>, cvmc_protocol::tdx::Collateral) {
    let files = cvm_consoled::siminit::load_tdx(sim_dir_tdx()).unwrap();
    let collateral = files.ca.collateral(&CollateralSpec::up_to_date(&files.platform.spec)).unwrap();
    (Arc::new(files.platform), collateral)
}

/// A TDX paravisor: a TD report of the simulated platform.
fn tdx_hcl(platform: Arc<SimTdxPlatform>) -> MakeHcl {
    Box::new(move |claims| cvmc_tests::azure::tdx_hcl_report(&platform, claims, claims).0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tdx_guest_behind_the_paravisor_is_quoted_over_imds_verified_end_to_end_and_its_console_echoes() {
    let (platform, collateral) = tdx_platform();
    let para = Paravisor::start(tdx_hcl(Arc::clone(&platform)));
    let imds = imds_server(Arc::clone(&platform), Imds::Honest);
    let pcs = PcsServer::start(collateral, Behaviour::Normal);

    let provider = AzureVtpmProvider::new(&para.tpm.socket, None, true)
        .unwrap()
        .with_imds_url(format!("{}/acc/tdquote", imds.url()));
    let mut client = TestClient::tdx();
    let cache = tempfile::tempdir().unwrap();
    client.opts.pcs = Some(Arc::new(PcsSource {
        base: pcs.url(),
        offline: false,
        cache: Some(cache.path().to_path_buf()),
        timeout: Duration::from_secs(5),
    }));
    let guest = TestGuest::start_with_provider(
        GuestOptions::default(),
        std::slice::from_ref(&client.fingerprint),
        Arc::new(provider),
    )
    .await;

    let attested = connect(&guest.addr.to_string(), alpn::VERIFY, &client.opts).await.unwrap();
    let GuestVerdict::AzureTdx(v) = &attested.guest.verified else { panic!("not an Azure TDX verdict") };
    assert!(v.tdx.simulated() && v.tdx.binding_checked);
    assert_eq!(v.claims.flag("secure-boot"), Some(true));
    assert_eq!(v.tdx.quote.td.mr_td, platform.td_template([0; 64]).mr_td);
    let checks: Vec<Check> = attested.guest.verified.passed().iter().map(|p| p.check).collect();
    assert_eq!(checks, Check::AZURE_TDX.to_vec(), "every check ran, in the list's order");
    assert_eq!(attested.guest.verified.tee(), "azure-tdx");
    let claims_row = attested.guest.verified.passed().iter().find(|p| p.check == Check::RuntimeClaims).unwrap();
    assert!(claims_row.detail.contains("SHA-256 of the runtime claims"), "{}", claims_row.detail);
    drop(attested);
    assert_eq!(imds.paths.lock().unwrap().as_slice(), ["/acc/tdquote"], "one quote per attestation");
    assert!(pcs.requests.load(Ordering::SeqCst) > 0, "the guest sends no collateral: the client fetched it");

    let mut d = Driver::start(guest.addr.to_string(), client.opts.clone(), Reconnect::default());
    d.type_str("echo t''dx\r").await;
    d.wait_for("\r\ntdx\r\n", 30).await;
    d.type_str("exit 5\r").await;
    let (end, _, _) = d.finish(30).await;
    assert!(matches!(end, ConsoleEnd::Exited(5)), "{end:?}");
    guest.stop().await;
    assert!(para.finish() >= 2, "one fresh report per attestation");
    assert_eq!(imds.paths.lock().unwrap().len(), 2, "the console's attestation was quoted afresh");
}

/// A quoting service that answers badly is a clear error at the guest, naming what
/// was wrong, bounded in size and time; its text is escaped.
#[test]
fn a_hostile_or_broken_quoting_service_is_a_clear_bounded_error() {
    let (platform, _) = tdx_platform();
    let para = Paravisor::start(tdx_hcl(Arc::clone(&platform)));
    let cases = [
        (Imds::OtherTd, "the quote's MRTD is not this TD report's"),
        (Imds::BadJson, "answer is not {\"quote\": ...}"),
        (Imds::BadBase64, "quote is not base64"),
        (Imds::Huge, "answer:"),
        (Imds::Error, "answered 500: quote failed \\x1b[2J\\x07"),
        (Imds::Silent, "/acc/tdquote"),
    ];
    for (n, (behaviour, want)) in cases.into_iter().enumerate() {
        let imds = imds_server(Arc::clone(&platform), behaviour);
        let provider = AzureVtpmProvider::new(&para.tpm.socket, None, true)
            .unwrap()
            .with_imds_url(format!("{}/acc/tdquote", imds.url()))
            .with_imds_timeout(Duration::from_secs(1));
        let started = Instant::now();
        let e = provider.evidence(&[u8::try_from(n).unwrap() + 1; 64]).unwrap_err().to_string();
        assert!(e.contains(want), "{behaviour:?}: {e}");
        assert!(!e.contains('\x1b') && !e.contains('\x07'), "{behaviour:?}: control bytes reach the log: {e:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "{behaviour:?}: bounded");
    }
    // The honest service, for contrast: evidence an Azure TDX verifier takes apart.
    let imds = imds_server(Arc::clone(&platform), Imds::Honest);
    let provider = AzureVtpmProvider::new(&para.tpm.socket, None, true)
        .unwrap()
        .with_imds_url(format!("{}/acc/tdquote", imds.url()));
    let ev = provider.evidence(&[0xaa; 64]).unwrap();
    assert_eq!(ev.tee, cvmc_protocol::evidence::Tee::SIMULATED_AZURE_TDX);
    let (hcl_part, quote) = hcl::split_quote(&ev.report).unwrap();
    assert!(!quote.is_empty() && hcl::HclReport::parse(hcl_part).unwrap().report_type == HwReportType::Tdx);
    para.finish();
}
