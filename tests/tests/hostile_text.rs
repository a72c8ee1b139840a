//! A TLS peer that is not a guest answers with text meant for the user's terminal:
//! erase the line, print a fake verdict, set the window title, write the clipboard
//! (OSC 52), C1 controls, a right-to-left override. Whatever the CLI prints to stdout
//! and stderr, and whatever the GUI's state holds for its labels, carries none of those
//! characters raw (docs/DESIGN.md "Text from peers").

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use cvm_console::gui::state::CheckStatus;
use cvm_consoled::authorized::AuthorizedClients;
use cvmc_protocol::evidence::{CertEntry, CertKind, Evidence, Tee};
use cvmc_protocol::frame::FRAME_HEADER_LEN;
use cvmc_protocol::handshake::HandshakeMsg;
use cvmc_protocol::text::is_unsafe;
use cvmc_tests::guest::sim_dir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Everything a hostile peer would like a terminal to act on.
const HOSTILE: &str = "\x1b[2K\x1b[1A\rTRUSTED (SEV-SNP, Milan, AMD root)\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\u{9b}31m\x08\x7f\u{202e}gnp.exe\u{2066}\u{200b}";

/// What the fake guest answers to Hello.
#[derive(Clone)]
enum Answer {
    Abort,
    /// Evidence whose signing certificate names itself HOSTILE.
    HostileCert,
}

/// A fake guest: real TLS 1.3 with every ALPN, any client key, then `answer`.
async fn fake_guest(answer: Answer) -> SocketAddr {
    let tls = cvm_consoled::tls::server_config(AuthorizedClients::new(None), false).unwrap();
    let acceptor = TlsAcceptor::from(tls);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, answer) = (acceptor.clone(), answer.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut hello = [0u8; FRAME_HEADER_LEN + 34];
                if tls.read_exact(&mut hello).await.is_err() {
                    return;
                }
                let msg = match answer {
                    Answer::Abort => HandshakeMsg::Abort { reason: HOSTILE.into() },
                    Answer::HostileCert => HandshakeMsg::Evidence(hostile_evidence()),
                };
                let _ = tls.write_all(&msg.encode().unwrap()).await;
                let _ = tls.flush().await;
                let mut rest = Vec::new();
                let _ = tls.read_to_end(&mut rest).await;
            });
        }
    });
    addr
}

fn hostile_evidence() -> Evidence {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, HOSTILE);
    params.distinguished_name.push(rcgen::DnType::OrganizationName, HOSTILE);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let report = cvmc_tests::vector("milan v3").report;
    Evidence {
        tee: Tee::SEV_SNP,
        report,
        certs: vec![
            CertEntry { kind: CertKind::VCEK, der: cert.der().to_vec() },
            CertEntry { kind: CertKind::ASK, der: cert.der().to_vec() },
        ],
        identity_key: vec![0; 32],
        identity_sig: vec![0; 64],
        collateral: Vec::new(),
        stage: cvmc_protocol::GuestStage::System,
    }
}

/// Run the real `cvm-console` binary with a config directory of its own; (exit
/// status, stdout, stderr).
fn cli(args: &[String]) -> (u8, String, String) {
    let config = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(cvmc_tests::server_process::client_binary())
        .args(args)
        .env("XDG_CONFIG_HOME", config.path())
        .env("HOME", config.path())
        .output()
        .unwrap();
    let code = u8::try_from(output.status.code().unwrap()).unwrap();
    (code, String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
}

fn verify_args(addr: &str, json: bool) -> Vec<String> {
    let policy = sim_dir().join("policy.toml");
    let mut args = vec!["verify".to_owned(), addr.to_owned(), "--policy".into(), policy.display().to_string()];
    args.push("--no-client-key".into());
    if json {
        args.push("--json".into());
    }
    args
}

fn assert_inert(what: &str, text: &str) {
    let raw: Vec<String> =
        text.chars().filter(|&c| c != '\n' && is_unsafe(c)).map(|c| format!("U+{:04X}", u32::from(c))).collect();
    assert!(raw.is_empty(), "{what} holds raw {raw:?}:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_abort_reason_reaches_the_terminal_escaped() {
    let addr = fake_guest(Answer::Abort).await.to_string();
    for json in [false, true] {
        let args = verify_args(&addr, json);
        let (code, out, err) = tokio::task::spawn_blocking(move || cli(&args)).await.unwrap();
        assert_ne!(code, 0);
        assert_inert("stdout", &out);
        assert_inert("stderr", &err);
        assert!(err.contains("\\x1b[2K") && err.contains("\\u{202e}"), "the reason is shown, escaped: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_certificate_name_reaches_the_terminal_and_the_gui_escaped() {
    let addr = fake_guest(Answer::HostileCert).await.to_string();
    for json in [false, true] {
        let args = verify_args(&addr, json);
        let (code, out, err) = tokio::task::spawn_blocking(move || cli(&args)).await.unwrap();
        assert_eq!(code, 1, "not trusted: {out}{err}");
        assert_inert("stdout", &out);
        assert_inert("stderr", &err);
        assert!(out.contains("\\x1b]0;pwned"), "the certificate's name is shown, escaped: {out}");
    }

    // The GUI's model of the same refusal: every text its views render.
    let loaded = Arc::new(cvm_console::policy_file::load_policy(&sim_dir().join("policy.toml")).unwrap());
    let mut opts = cvmc_tests::guest::TestClient::with_policy(loaded).opts;
    opts.client_key = None;
    let error = match cvm_console::net::connect(&addr, cvmc_protocol::handshake::alpn::VERIFY, &opts).await {
        Err(cvm_console::net::ConnectError::Refused { error, .. }) => error,
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    };
    let mut state = cvm_console::gui::state::ClientState::new("g".into());
    state.apply(cvm_console::gui::net::NetEvent::Refused { error, report: Vec::new() });
    let refusal = state.verdict.refusal.clone().unwrap();
    assert_inert("the GUI's refusal", &refusal.message);
    for (_, status) in &state.verdict.checks {
        if let CheckStatus::Passed(text) | CheckStatus::Failed(text) = status {
            assert_inert("a GUI check", text);
        }
    }
    let mut state = cvm_console::gui::state::ClientState::new("g".into());
    state.apply(cvm_console::gui::net::NetEvent::Failed(HOSTILE.into()));
    assert_inert("the GUI's status line", state.connection.status.as_deref().unwrap());
}
