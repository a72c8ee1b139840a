//! The attack matrix of issue #6, end to end over real TLS: a real guest server (the
//! simulated evidence provider, possibly bent the way a hostile host or a non-compliant
//! guest would bend it), the real client, and every attack in one table, each run
//! against the console and the display channel.
//!
//! Each row names how it is mounted and the refusal it must meet (a verifier check, a
//! TLS alert, a closed connection). Its proof that no channel started comes from the
//! guest itself: no console session was opened (no login process), no channel started
//! after a Proceed, and no RFB byte was written (the version string `RFB 003.008` is
//! the first a display channel sends). Relay rows also show what the host saw from the
//! guest after the verdict: nothing. The honest controls go through the same harness
//! and must be accepted and start their channel, so a harness that refused everything
//! fails. The table of results is printed (`cargo test ... -- --nocapture`).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cvm_console::clientkey::ClientKey;
use cvm_console::known_guests::KnownGuests;
use cvm_console::net::tls::AttestedServerVerifier;
use cvm_console::net::{Attested, ConnectError, ConnectOptions, connect};
use cvm_console::policy_file::LoadedPolicy;
use cvm_consoled::display::source::DisplaySpec;
use cvm_consoled::sim::simulated_measurement;
use cvmc_protocol::console::{ConsoleMsg, SessionToken};
use cvmc_protocol::handshake::{HandshakeMsg, Hello, NONCE_LEN, PROTOCOL_VERSION, alpn, kind};
use cvmc_protocol::policy::{Hex, Policy};
use cvmc_protocol::snp::product::Product;
use cvmc_tests::bent::{Bend, BentProvider, keys};
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest};
use cvmc_tests::relay::{EvidenceBend, Relay, read_raw_frame};
use cvmc_tests::{sim_anchors, sim_ca};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the host does on the path between client and guest (a relay with its own TLS).
#[derive(Clone, Copy, Debug)]
enum Path {
    /// Forward every message unchanged.
    Forward,
    /// Answer with the Evidence of the relay's first session.
    Replay,
    /// Rewrite the Evidence header to announce 2 GiB.
    Oversize,
}

/// How a row is mounted.
#[derive(Clone, Copy, Debug)]
enum Mount {
    /// A direct connection to a guest with bent evidence, under a changed policy.
    Guest(Bend, fn(&mut LoadedPolicy)),
    /// Through a relay on the host.
    Relay(Path),
    /// The address answers with another guest than the one whose identity is pinned.
    IdentityChange,
    /// A client key the guest does not authorize.
    StrangerKey,
    /// No client key at all.
    NoKey,
    /// A client offering TLS 1.2 only.
    Tls12,
    /// A second connection offering to resume the first, then Proceed without Hello.
    Resumption,
    /// The same, with early data enabled and Proceed written as early as possible.
    EarlyData,
    /// These bytes where Hello belongs.
    BeforeHello(&'static [u8]),
    /// One byte of a Hello per second.
    Trickle,
    /// Honest guest, honest client: must be accepted and start its channel.
    Control,
}

impl Mount {
    /// How the row is mounted, for the table.
    fn how(self) -> String {
        match self {
            Self::Guest(Bend::Honest, _) => "guest honest, policy changed".into(),
            Self::Guest(bend, _) => format!("guest evidence: {bend:?}"),
            Self::Relay(path) => format!("host relay: {path:?}"),
            Self::BeforeHello(_) => "raw TLS, bytes for Hello".into(),
            other => format!("{other:?}"),
        }
    }
}

#[derive(Clone, Copy)]
struct Row {
    case: &'static str,
    mount: Mount,
    /// What the refusal must contain (for a control: what acceptance looks like).
    expected: &'static str,
}

fn same(_: &mut LoadedPolicy) {}

/// A policy that trusts AMD's roots only, not the test CA that signs the guest's chain.
fn amd_roots_only(p: &mut LoadedPolicy) {
    p.anchors = cvmc_protocol::TrustAnchors::amd();
}

/// A policy pinning a vTPM AK that is not the guest's.
fn pin_other_ak(p: &mut LoadedPolicy) {
    p.policy.azure.ak_pub = vec![Hex(cvmc_tests::azure::other_ak_fingerprint())];
}

fn rows() -> Vec<Row> {
    use Mount::*;
    let row = |case, mount, expected| Row { case, mount, expected };
    vec![
        row("trickling peer before Hello", Trickle, "cut at the 10 s Hello deadline"),
        row("relay MITM", Relay(Path::Forward), "check binding"),
        row("replay of an earlier session's evidence", Relay(Path::Replay), "check binding"),
        row("evidence over the size limit (2 GiB)", Relay(Path::Oversize), "of 2147483647 bytes"),
        row("forged report", Guest(Bend::Forged, same), "check report_signature"),
        row("report from another session", Guest(Bend::OtherSession, same), "check binding"),
        row("wrong root (not one the policy names)", Guest(Bend::Honest, amd_roots_only), "check root"),
        row("VLEK presented for a VCEK report", Guest(Bend::VlekForVcek, same), "check signing_key"),
        row("debug guest", Guest(Bend::Debug, same), "check debug"),
        row("migration agent", Guest(Bend::MigrationAgent, same), "check migration_agent"),
        row("LAUNCH, COMMITTED, CURRENT TCB all zero", Guest(Bend::ZeroTcbs, same), "check reported_tcb"),
        row(
            "committed 1.51.3 running as 1.58.10",
            Guest(Bend::ProvisionalFirmware, same),
            "check provisional_firmware",
        ),
        row("guest policy bit 17 clear", Guest(Bend::PolicyBit17Clear, same), "check guest_policy_reserved"),
        row("guest policy must-be-zero bit set", Guest(Bend::PolicyMbz, same), "check guest_policy_reserved"),
        row("guest policy CXL_ALLOW", Guest(Bend::Cxl, same), "check cxl"),
        row("PLATFORM_INFO all ones", Guest(Bend::PlatformInfoAllOnes, same), "check platform_info_reserved"),
        row("TCB rollback below the minimum", Guest(Bend::Honest, |p| p.policy.min_tcb.snp = 0x19), "check min_tcb"),
        row(
            "measurement not allowed",
            Guest(Bend::Honest, |p| p.policy.measurements = vec![Hex([0x42; 48])]),
            "check measurement",
        ),
        row("host_data mismatch", Guest(Bend::Honest, |p| p.policy.host_data = Some(Hex([7; 32]))), "check host_data"),
        row("Azure: runtime claims edited", Guest(Bend::AzureEditedClaims, same), "check runtime_claims_hash"),
        row(
            "Azure: user data from another session",
            Guest(Bend::AzureOtherSession, same),
            "check runtime_claims_user_data",
        ),
        row("Azure: another VM's SNP report", Guest(Bend::AzureOtherVm, same), "check runtime_claims_hash"),
        row("Azure: AK swapped (another AK pinned)", Guest(Bend::AzureHonest, pin_other_ak), "check ak_pin"),
        row("guest identity changed", IdentityChange, "identity changed"),
        row("unauthorized client key", StrangerKey, "unauthorized key (TLS alert)"),
        row("no client key", NoKey, "unauthorized key (TLS alert)"),
        row("TLS 1.2", Tls12, "alert: ProtocolVersion"),
        row(
            "resumption, then Proceed without Hello",
            Resumption,
            "Full handshake, early data refused; closed, 0 bytes",
        ),
        row("early data, then Proceed without Hello", EarlyData, "Full handshake, early data refused; closed, 0 bytes"),
        row("HTTP request instead of Hello", BeforeHello(b"GET / HTTP/1.1\r\n\r\n"), "closed, 0 bytes"),
        row("Hello header announcing 4 GiB", BeforeHello(&[kind::HELLO, 0xff, 0xff, 0xff, 0xff]), "closed, 0 bytes"),
        row("Proceed instead of Hello", BeforeHello(&[kind::PROCEED, 0, 0, 0, 0]), "closed, 0 bytes"),
    ]
}

/// The honest controls: one per channel.
fn control() -> Row {
    Row { case: "CONTROL: honest guest and client", mount: Mount::Control, expected: "accepted" }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Console,
    Display,
}

impl Channel {
    fn alpn(self) -> &'static [u8] {
        match self {
            Self::Console => alpn::CONSOLE,
            Self::Display => alpn::DISPLAY,
        }
    }
}

/// What the guest did, read from its own counters once the attempt ended.
#[derive(Debug, Default, Clone, Copy)]
struct Proof {
    /// Console sessions opened (each a login process).
    logins: u64,
    /// Channels started after a Proceed: console, display.
    started: (u64, u64),
    /// Bytes written on display channels.
    rfb_bytes: u64,
    /// Bytes the guest sent the relay after the client's verdict (relay rows).
    after_verdict: Option<usize>,
}

struct Result1 {
    case: &'static str,
    how: String,
    channel: Channel,
    expected: String,
    got: String,
    proof: Proof,
    pass: bool,
    secs: f64,
}

/// A guest with a console and a (synthetic) display, whose evidence is bent.
async fn guest(bend: Bend, authorize: &[String]) -> TestGuest {
    let opts = GuestOptions { display: DisplaySpec::PATTERN, ..GuestOptions::default() };
    let provider = Arc::new(BentProvider::new(bend));
    TestGuest::start_with_provider(opts, authorize, provider).await
}

/// A client whose policy is what sim-init writes for the test CA: its measurement, its
/// root (besides AMD's).
fn test_client() -> TestClient {
    let policy = Policy { measurements: vec![Hex(simulated_measurement())], ..Policy::default() };
    let anchors = sim_anchors(sim_ca(Product::Milan));
    TestClient::with_policy(Arc::new(LoadedPolicy { path: "test-ca policy".into(), policy, anchors }))
}

/// The client's options with its policy changed by `policy`.
fn options(client: &TestClient, policy: fn(&mut LoadedPolicy)) -> ConnectOptions {
    let mut opts = client.opts.clone();
    let mut loaded = (*opts.policy).clone();
    policy(&mut loaded);
    opts.policy = Arc::new(loaded);
    opts
}

// ---------------------------------------------------------------- mounting

/// The client's side of a refusal, in the table's words.
fn describe(result: &Result<Attested, ConnectError>) -> String {
    match result {
        Ok(_) => "ACCEPTED".into(),
        Err(ConnectError::Refused { error, .. }) => format!("check {}", error.name()),
        Err(ConnectError::Unauthorized { .. }) => "unauthorized key (TLS alert)".into(),
        Err(ConnectError::IdentityChanged { warning }) if warning.contains("GUEST IDENTITY HAS CHANGED") => {
            "identity changed".into()
        }
        Err(ConnectError::Tls { reason, .. }) => format!("TLS: {reason}"),
        Err(ConnectError::Protocol { reason, .. }) => format!("protocol: {reason}"),
        Err(other) => format!("error: {other}"),
    }
}

fn raw_tls(
    versions: &[&'static rustls::SupportedProtocolVersion],
    key: &ClientKey,
    channel: Channel,
) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AttestedServerVerifier::new(&provider));
    let (certs, private) = key.tls_identity().unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(certs, private)
        .unwrap();
    config.alpn_protocols = vec![channel.alpn().to_vec()];
    config
}

fn server_name() -> ServerName<'static> {
    ServerName::try_from("cvm-consoled").unwrap()
}

/// Send `bytes` and read until the guest closes: what it answered.
async fn answer_to<S: AsyncReadExt + AsyncWriteExt + Unpin>(s: &mut S, bytes: &[u8]) -> String {
    if s.write_all(bytes).await.is_err() || s.flush().await.is_err() {
        return "closed, 0 bytes".into();
    }
    let mut buf = Vec::new();
    match tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut buf)).await {
        Err(_) => format!("KEPT OPEN 15 s ({} bytes)", buf.len()),
        Ok(_) if buf.is_empty() => "closed, 0 bytes".into(),
        Ok(_) => format!("ANSWERED {} bytes", buf.len()),
    }
}

/// Connect with a resumption-capable TLS client twice (the first time up to Evidence,
/// so a ticket would have arrived), and on the second connection skip attestation:
/// Proceed instead of Hello, as 0-RTT data if the client has a ticket that allows it.
/// Blocking rustls, so the early data is really offered when it can be.
fn resume_and_skip(addr: std::net::SocketAddr, key: &ClientKey, channel: Channel, early: bool) -> String {
    use std::io::{Read, Write};
    let mut config = raw_tls(&[&rustls::version::TLS13], key, channel);
    config.enable_early_data = early;
    let config = Arc::new(config);
    let open = || {
        let tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        (rustls::ClientConnection::new(Arc::clone(&config), server_name()).unwrap(), tcp)
    };
    let (mut conn, mut tcp) = open();
    let mut first = rustls::Stream::new(&mut conn, &mut tcp);
    let hello = HandshakeMsg::Hello(Hello { version: PROTOCOL_VERSION, nonce: [9; NONCE_LEN] }).encode().unwrap();
    first.write_all(&hello).unwrap();
    let mut header = [0u8; 5];
    first.read_exact(&mut header).unwrap();
    let mut evidence = vec![0u8; u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize];
    first.read_exact(&mut evidence).unwrap();
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);

    let (mut conn, mut tcp) = open();
    let proceed = HandshakeMsg::Proceed.encode().unwrap();
    let offered = match conn.early_data() {
        Some(mut zero_rtt) => zero_rtt.write_all(&proceed).is_ok(),
        None => false,
    };
    while conn.is_handshaking() {
        if conn.complete_io(&mut tcp).is_err() {
            return "handshake failed".into();
        }
    }
    let handshake = conn.handshake_kind().map_or_else(|| "no".into(), |k| format!("{k:?}"));
    let accepted = if conn.is_early_data_accepted() { "ACCEPTED" } else { "refused" };
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    if !offered || accepted == "refused" {
        let _ = stream.write_all(&proceed);
    }
    let mut answer = Vec::new();
    let answer = match stream.read_to_end(&mut answer) {
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            "KEPT OPEN 15 s".to_owned()
        }
        _ if answer.is_empty() => "closed, 0 bytes".to_owned(),
        _ => format!("ANSWERED {} bytes", answer.len()),
    };
    format!("{handshake} handshake, early data {accepted}; {answer}")
}

/// One Hello byte a second; the guest must cut the connection at its Hello deadline.
async fn trickle(guest: &TestGuest, key: &ClientKey, channel: Channel) -> String {
    let config = cvm_console::net::tls::client_config(channel.alpn(), Some(key)).unwrap();
    let tcp = TcpStream::connect(guest.addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config).connect(server_name(), tcp).await.unwrap();
    let started = Instant::now();
    for byte in [kind::HELLO, 0, 0, 0, 34, 0, 1].into_iter().chain(std::iter::repeat(0)).take(16) {
        if tls.write_all(&[byte]).await.is_err() || tls.flush().await.is_err() {
            break;
        }
        let mut buf = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(1), tls.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(_)) => return "ANSWERED a trickle with data".into(),
            Err(_) => {}
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if (9.5..13.0).contains(&secs) {
        format!("cut at the 10 s Hello deadline ({secs:.1} s)")
    } else {
        format!("KEPT for {secs:.1} s")
    }
}

/// The honest control: attest, then start the channel and see its first message.
async fn control_run(guest: &TestGuest, opts: &ConnectOptions, channel: Channel) -> String {
    let result = connect(&guest.addr.to_string(), channel.alpn(), opts).await;
    let Ok(mut attested) = result else { return describe(&result) };
    match channel {
        Channel::Console => {
            let attach = ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 }.encode().unwrap();
            attested.stream.write_all(&attach).await.unwrap();
            attested.stream.flush().await.unwrap();
            let frame = read_raw_frame(&mut attested.stream).await.unwrap();
            match ConsoleMsg::decode(&frame) {
                Ok(ConsoleMsg::SessionInfo { .. }) => "accepted: SessionInfo".into(),
                other => format!("accepted, then {other:?}"),
            }
        }
        Channel::Display => {
            let mut version = [0u8; 12];
            attested.stream.read_exact(&mut version).await.unwrap();
            format!("accepted: {}", String::from_utf8_lossy(&version).trim_end())
        }
    }
}

/// Wait until the relay logged `connections` finished connections.
async fn relay_done(relay: &Relay, connections: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = relay.log.lock().unwrap().clone();
        if log.finished >= connections || Instant::now() > deadline {
            return log.guest_bytes_after_verdict;
        }
        drop(log);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Mount `row` against `channel`; returns what the client (or attacker) got, the guest
/// whose counters prove the rest, and what a relay saw after the verdict.
async fn mount(row: &Row, channel: Channel) -> (String, TestGuest, Option<usize>) {
    let client = test_client();
    let me = std::slice::from_ref(&client.fingerprint);
    let key = client.opts.client_key.clone().unwrap();
    match row.mount {
        Mount::Guest(bend, policy) => {
            let g = guest(bend, me).await;
            let opts = options(&client, policy);
            if bend == Bend::OtherSession || bend == Bend::AzureOtherSession {
                // The first session makes the report the guest then serves to the second.
                let _ = connect(&g.addr.to_string(), alpn::VERIFY, &opts).await;
            }
            let got = describe(&connect(&g.addr.to_string(), channel.alpn(), &opts).await);
            (got, g, None)
        }
        Mount::Relay(path) => {
            let relay_dir = tempfile::tempdir().unwrap();
            let relay_key = Arc::new(ClientKey::load_or_create(relay_dir.path()).unwrap());
            // Give the relay every chance: the guest authorizes its key too.
            let g = guest(Bend::Honest, &[client.fingerprint.clone(), relay_key.fingerprint()]).await;
            let bend: EvidenceBend = match path {
                Path::Forward => Arc::new(|evidence| evidence),
                Path::Replay => {
                    let first = Mutex::new(None::<Vec<u8>>);
                    Arc::new(move |evidence| first.lock().unwrap().get_or_insert(evidence).clone())
                }
                Path::Oversize => Arc::new(|mut evidence: Vec<u8>| {
                    evidence[1..5].copy_from_slice(&0x7fff_ffff_u32.to_be_bytes());
                    evidence
                }),
            };
            let relay = Relay::start_bending(g.addr, relay_key, bend).await;
            let opts = options(&client, same);
            let mut connections = 1;
            if matches!(path, Path::Replay) {
                let _ = connect(&relay.addr.to_string(), alpn::VERIFY, &opts).await;
                connections += 1;
            }
            let got = describe(&connect(&relay.addr.to_string(), channel.alpn(), &opts).await);
            let after = relay_done(&relay, connections).await;
            (got, g, Some(after))
        }
        Mount::IdentityChange => {
            // The client knows one guest; the host routes the address to another that
            // passes the same policy (same image, same measurement).
            let known = guest(Bend::Honest, me).await;
            let other = guest(Bend::Honest, me).await;
            let opts = options(&client, same);
            let first = connect(&known.addr.to_string(), alpn::VERIFY, &opts).await.unwrap();
            KnownGuests::new(client.known_guests.clone())
                .add(&other.addr.to_string(), &first.guest.identity_fingerprint)
                .unwrap();
            known.stop().await;
            let got = describe(&connect(&other.addr.to_string(), channel.alpn(), &opts).await);
            (got, other, None)
        }
        Mount::StrangerKey | Mount::NoKey => {
            let stranger = test_client();
            let g = guest(Bend::Honest, me).await;
            let mut opts = options(&stranger, same);
            if matches!(row.mount, Mount::NoKey) {
                opts.client_key = None;
            }
            let got = describe(&connect(&g.addr.to_string(), channel.alpn(), &opts).await);
            (got, g, None)
        }
        Mount::Tls12 => {
            let g = guest(Bend::Honest, me).await;
            let connector =
                tokio_rustls::TlsConnector::from(Arc::new(raw_tls(&[&rustls::version::TLS12], &key, channel)));
            let got = match connector.connect(server_name(), TcpStream::connect(g.addr).await.unwrap()).await {
                Ok(_) => "TLS 1.2 ACCEPTED".into(),
                Err(e) => format!("alert: {}", e.to_string().trim_start_matches("received fatal alert: ")),
            };
            (got, g, None)
        }
        Mount::Resumption | Mount::EarlyData => {
            let g = guest(Bend::Honest, me).await;
            let (addr, early) = (g.addr, matches!(row.mount, Mount::EarlyData));
            let got = tokio::task::spawn_blocking(move || resume_and_skip(addr, &key, channel, early)).await.unwrap();
            (got, g, None)
        }
        Mount::BeforeHello(bytes) => {
            let g = guest(Bend::Honest, me).await;
            let config = cvm_console::net::tls::client_config(channel.alpn(), Some(&key)).unwrap();
            let tcp = TcpStream::connect(g.addr).await.unwrap();
            let mut s = tokio_rustls::TlsConnector::from(config).connect(server_name(), tcp).await.unwrap();
            let got = answer_to(&mut s, bytes).await;
            (got, g, None)
        }
        Mount::Trickle => {
            let g = guest(Bend::Honest, me).await;
            let got = trickle(&g, &key, channel).await;
            (got, g, None)
        }
        Mount::Control => {
            let g = guest(Bend::Honest, me).await;
            let got = control_run(&g, &options(&client, same), channel).await;
            (got, g, None)
        }
    }
}

async fn run(row: Row, channel: Channel) -> Result1 {
    let began = Instant::now();
    let (got, guest, after_verdict) = mount(&row, channel).await;
    // Anything the guest would start after a Proceed has had time to start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = &guest.channels;
    let proof = Proof {
        logins: guest.sessions.sessions_opened(),
        started: (c.console.load(Ordering::Relaxed), c.display.load(Ordering::Relaxed)),
        rfb_bytes: c.display_bytes.load(Ordering::Relaxed),
        after_verdict,
    };
    guest.stop().await;
    let (expected, pass) = if matches!(row.mount, Mount::Control) {
        // The control must start exactly its own channel, visibly.
        let expected = match channel {
            Channel::Console => "accepted: SessionInfo",
            Channel::Display => "accepted: RFB 003.008",
        };
        let started = match channel {
            Channel::Console => proof.logins == 1 && proof.started == (1, 0) && proof.rfb_bytes == 0,
            Channel::Display => proof.logins == 0 && proof.started == (0, 1) && proof.rfb_bytes >= 12,
        };
        (expected.to_owned(), got == expected && started)
    } else {
        let nothing = proof.logins == 0 && proof.started == (0, 0) && proof.rfb_bytes == 0;
        (row.expected.to_owned(), got.contains(row.expected) && nothing && proof.after_verdict.unwrap_or(0) == 0)
    };
    Result1 {
        case: row.case,
        how: row.mount.how(),
        channel,
        expected,
        got,
        proof,
        pass,
        secs: began.elapsed().as_secs_f64(),
    }
}

fn table(results: &[Result1]) -> String {
    let mut out = format!(
        "{:<42} {:<30} {:<8} {:<52} {:<56} {:>6} {:>7} {:>9} {:>6} {:>5}  result\n",
        "case", "mounted as", "channel", "expected", "got", "logins", "started", "RFB bytes", "relay", "secs"
    );
    for r in results {
        let mut got = r.got.clone();
        if got.len() > 56 {
            got.truncate(got.floor_char_boundary(53));
            got.push_str("...");
        }
        out.push_str(&format!(
            "{:<42} {:<30} {:<8} {:<52} {:<56} {:>6} {:>7} {:>9} {:>6} {:>5.1}  {}\n",
            r.case,
            r.how,
            format!("{:?}", r.channel).to_lowercase(),
            r.expected,
            got,
            r.proof.logins,
            format!("{}/{}", r.proof.started.0, r.proof.started.1),
            r.proof.rfb_bytes,
            r.proof.after_verdict.map_or_else(|| "-".into(), |n| n.to_string()),
            r.secs,
            if r.pass { "ok" } else { "FAIL" },
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_attack_is_refused_with_its_check_and_no_channel_starts() {
    let started = Instant::now();
    // The simulated chains (RSA-4096) once, before any guest needs them.
    tokio::task::spawn_blocking(|| {
        let _ = keys();
    })
    .await
    .unwrap();
    let cases: Vec<(Row, Channel)> = rows()
        .into_iter()
        .chain([control()])
        .flat_map(|row| [(row, Channel::Console), (row, Channel::Display)])
        .collect();
    let total = cases.len();
    // Every row at once would be 46 guests on two shared cores; a few at a time is
    // plenty (the trickle rows, which take 10 s, start first).
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for (row, channel) in cases {
        let limit = Arc::clone(&limit);
        let case = row.case;
        tasks.push((
            case,
            channel,
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                run(row, channel).await
            }),
        ));
    }
    let mut results = Vec::new();
    for (case, channel, task) in tasks {
        results.push(task.await.unwrap_or_else(|panic| Result1 {
            case,
            how: String::new(),
            channel,
            expected: String::new(),
            got: format!("PANICKED: {panic}"),
            proof: Proof::default(),
            pass: false,
            secs: 0.0,
        }));
    }
    let refused = results.iter().filter(|r| r.pass && !r.case.starts_with("CONTROL")).count();
    let controls = results.iter().filter(|r| r.pass && r.case.starts_with("CONTROL")).count();
    println!("{}", table(&results));
    println!(
        "attacks refused as expected with no channel started: {refused} / {}; honest controls accepted: {controls} / 2; {:.1} s",
        total - 2,
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<String> =
        results.iter().filter(|r| !r.pass).map(|r| format!("{} ({:?}): got {:?}", r.case, r.channel, r.got)).collect();
    assert!(failed.is_empty(), "{} of {total} cases failed:\n{}\n{}", failed.len(), failed.join("\n"), table(&results));
}
