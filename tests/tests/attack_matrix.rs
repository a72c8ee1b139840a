//! The attack matrix, end to end over real TLS: a real guest server whose evidence
//! a hostile host (or a non-compliant guest) has shaped, the real client, and the
//! trust policy of the simulated chain. Every row must be refused with its named
//! check, and the guest must never have started a console for it.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cvm_console::net::{ConnectError, connect};
use cvm_console::policy_file::LoadedPolicy;
use cvm_consoled::evidence::{EvidenceError, EvidenceProvider, RawEvidence};
use cvm_consoled::sim::{SimCa, SimLeaf};
use cvmc_protocol::evidence::{CertEntry, CertKind, Tee};
use cvmc_protocol::handshake::alpn;
use cvmc_protocol::policy::Hex;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::{Report, SigningKey, offset};
use cvmc_protocol::snp::verify::policy_bits;
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest};
use cvmc_tests::sim_ca;

/// How the evidence is bent.
#[derive(Clone, Copy, Debug)]
enum Bend {
    /// Flip a byte of the signed report after signing.
    Forged,
    /// Serve a report made for an earlier session.
    OtherSession,
    /// Sign with a chain the policy does not trust.
    WrongRoot,
    /// A VCEK-signed report presented with a VLEK.
    VlekForVcek,
    /// The guest policy allows debugging.
    Debug,
    /// The guest policy allows a migration agent.
    MigrationAgent,
    /// An honest report (the policy does the refusing).
    Honest,
}

#[derive(Debug)]
struct BentProvider {
    bend: Bend,
    vcek: SimLeaf,
    vlek: SimLeaf,
    ask: Vec<u8>,
    stranger: (SimLeaf, Vec<u8>),
    earlier: Mutex<Option<Vec<u8>>>,
}

impl BentProvider {
    fn new(bend: Bend) -> Self {
        let ca = sim_ca(Product::Milan);
        let stranger_ca = stranger_ca();
        Self {
            bend,
            vcek: ca.issue_leaf(&ca.default_leaf(SigningKey::Vcek)).unwrap(),
            vlek: ca.issue_leaf(&ca.default_leaf(SigningKey::Vlek)).unwrap(),
            ask: ca.ask_der(),
            stranger: (
                stranger_ca.issue_leaf(&stranger_ca.default_leaf(SigningKey::Vcek)).unwrap(),
                stranger_ca.ask_der(),
            ),
            earlier: Mutex::default(),
        }
    }
}

/// A second simulated CA that no policy here names.
fn stranger_ca() -> &'static SimCa {
    static CA: std::sync::OnceLock<SimCa> = std::sync::OnceLock::new();
    CA.get_or_init(|| SimCa::generate(Product::Milan).unwrap())
}

impl EvidenceProvider for BentProvider {
    fn name(&self) -> &'static str {
        "bent (test)"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        let certs = |leaf: &SimLeaf, ask: &[u8]| {
            vec![
                CertEntry { kind: CertKind::VCEK, der: leaf.cert_der() },
                CertEntry { kind: CertKind::ASK, der: ask.to_vec() },
            ]
        };
        let signed = |leaf: &SimLeaf, change: &dyn Fn(&mut Report)| {
            let mut r = leaf.report_template(*report_data);
            change(&mut r);
            leaf.sign(&r)
        };
        let (report, certs) = match self.bend {
            Bend::Honest => (signed(&self.vcek, &|_| {}), certs(&self.vcek, &self.ask)),
            Bend::Forged => {
                let mut report = signed(&self.vcek, &|_| {});
                report[offset::MEASUREMENT] ^= 1;
                (report, certs(&self.vcek, &self.ask))
            }
            Bend::OtherSession => {
                let mut earlier = self.earlier.lock().unwrap();
                let report = earlier.get_or_insert_with(|| signed(&self.vcek, &|_| {})).clone();
                (report, certs(&self.vcek, &self.ask))
            }
            Bend::WrongRoot => (signed(&self.stranger.0, &|_| {}), certs(&self.stranger.0, &self.stranger.1)),
            Bend::VlekForVcek => (signed(&self.vcek, &|_| {}), certs(&self.vlek, &self.ask)),
            Bend::Debug => (signed(&self.vcek, &|r| r.policy |= policy_bits::DEBUG), certs(&self.vcek, &self.ask)),
            Bend::MigrationAgent => {
                (signed(&self.vcek, &|r| r.policy |= policy_bits::MIGRATE_MA), certs(&self.vcek, &self.ask))
            }
        };
        Ok(RawEvidence { tee: Tee::SIMULATED_SNP, report, certs })
    }
}

/// The client's options with the test CA's root (the one `sim_ca` issues from)
/// among the policy's roots, as a sim-init policy names its own.
fn trusting_the_test_ca(client: &TestClient) -> cvm_console::net::ConnectOptions {
    let mut opts = client.opts.clone();
    let mut loaded = (*opts.policy).clone();
    let pem = der::EncodePem::to_pem(&sim_ca(Product::Milan).ark, der::pem::LineEnding::LF).unwrap();
    loaded.anchors.add_root("test-ca/ark.pem", pem.as_bytes()).unwrap();
    opts.policy = Arc::new(loaded);
    opts
}

struct Row {
    attack: &'static str,
    bend: Bend,
    policy: fn(&mut LoadedPolicy),
    failed_check: &'static str,
}

fn rows() -> Vec<Row> {
    let same = |_: &mut LoadedPolicy| {};
    vec![
        Row { attack: "forged report", bend: Bend::Forged, policy: same, failed_check: "report_signature" },
        Row { attack: "report from another session", bend: Bend::OtherSession, policy: same, failed_check: "binding" },
        Row { attack: "wrong root", bend: Bend::WrongRoot, policy: same, failed_check: "root" },
        Row {
            attack: "VLEK presented for a VCEK report",
            bend: Bend::VlekForVcek,
            policy: same,
            failed_check: "signing_key",
        },
        Row { attack: "debug guest", bend: Bend::Debug, policy: same, failed_check: "debug" },
        Row { attack: "migration agent", bend: Bend::MigrationAgent, policy: same, failed_check: "migration_agent" },
        Row {
            attack: "TCB rollback below the policy minimum",
            bend: Bend::Honest,
            policy: |p| p.policy.min_tcb.snp = 0x19,
            failed_check: "min_tcb",
        },
        Row {
            attack: "measurement not allowed",
            bend: Bend::Honest,
            policy: |p| p.policy.measurements = vec![Hex([0x42; 48])],
            failed_check: "measurement",
        },
        Row {
            attack: "host_data mismatch",
            bend: Bend::Honest,
            policy: |p| p.policy.host_data = Some(Hex([7; 32])),
            failed_check: "host_data",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_refused_with_its_check_and_no_console_starts() {
    let mut wrong = Vec::new();
    let rows = rows();
    for row in &rows {
        let client = TestClient::new();
        let provider = Arc::new(BentProvider::new(row.bend));
        let guest = TestGuest::start_with_provider(
            GuestOptions::default(),
            std::slice::from_ref(&client.fingerprint),
            provider,
        )
        .await;
        let mut opts = trusting_the_test_ca(&client);
        let mut loaded = (*opts.policy).clone();
        (row.policy)(&mut loaded);
        opts.policy = Arc::new(loaded);
        if matches!(row.bend, Bend::OtherSession) {
            // The first connection records the report; it is the second that replays it.
            let _ = connect(&guest.addr.to_string(), alpn::VERIFY, &opts).await;
        }
        match connect(&guest.addr.to_string(), alpn::CONSOLE, &opts).await {
            Err(ConnectError::Refused { error, .. }) if error.name() == row.failed_check => {}
            Err(other) => wrong.push(format!("{}: refused as {other}", row.attack)),
            Ok(_) => wrong.push(format!("{}: ACCEPTED", row.attack)),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if guest.sessions.session_count() != 0 {
            wrong.push(format!("{}: the guest started a console", row.attack));
        }
        guest.stop().await;
    }
    // The honest control: the same guest and policy are accepted and do start a console.
    let client = TestClient::new();
    let guest = TestGuest::start_with_provider(
        GuestOptions::default(),
        std::slice::from_ref(&client.fingerprint),
        Arc::new(BentProvider::new(Bend::Honest)),
    )
    .await;
    let attested = connect(&guest.addr.to_string(), alpn::CONSOLE, &trusting_the_test_ca(&client)).await;
    assert!(attested.is_ok(), "the honest control must be accepted: {:?}", attested.err());
    guest.stop().await;
    assert!(
        wrong.is_empty(),
        "{} of {} attacks not refused as expected:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_over_the_size_limit_is_refused_without_buffering_it() {
    let client = TestClient::new();
    // A fake guest announcing a 2 GiB Evidence frame.
    let fake = cvmc_tests::relay::replaying_guest(vec![0x02, 0x7f, 0xff, 0xff, 0xff]).await;
    let err = connect(&fake.to_string(), alpn::CONSOLE, &client.opts).await.unwrap_err();
    assert!(err.to_string().contains("unexpected frame type") || err.to_string().contains("bytes"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_trickling_bytes_before_hello_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let client = TestClient::new();
    let guest = TestGuest::start(GuestOptions::default(), std::slice::from_ref(&client.fingerprint)).await;
    let config = cvm_console::net::tls::client_config(alpn::CONSOLE, client.opts.client_key.as_deref()).unwrap();
    let tcp = tokio::net::TcpStream::connect(guest.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("x").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.unwrap();
    // One byte of a Hello header every second: the guest's Hello deadline (10 s) ends it.
    let started = tokio::time::Instant::now();
    let mut closed = false;
    for byte in [0x01u8, 0, 0, 0, 34, 0, 1].into_iter().chain(std::iter::repeat(0)).take(30) {
        if tls.write_all(&[byte]).await.is_err() || tls.flush().await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 1];
        if let Ok(read) = tokio::time::timeout(Duration::from_secs(1), tls.read(&mut buf)).await {
            assert!(matches!(read, Ok(0) | Err(_)), "the guest answered a trickle with data");
            closed = true;
            break;
        }
    }
    assert!(closed, "the guest kept a trickling peer for {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(guest.sessions.session_count(), 0);
    guest.stop().await;
}
