//! What a malicious host can try against the console channel, over real TLS on
//! loopback: relaying, replaying, downgrading, resuming, and feeding garbage.
//! Each is refused, and the guest never starts a console for it.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use cvm_console::clientkey::ClientKey;
use cvm_console::console_client::{ConsoleEnd, Reconnect};
use cvm_console::net::tls::AttestedServerVerifier;
use cvm_console::net::{ConnectError, connect};
use cvmc_protocol::handshake::{alpn, kind};
use cvmc_tests::console_driver::Driver;
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest};
use cvmc_tests::relay::{Relay, replaying_guest};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_is_refused_on_the_binding_and_the_guest_starts_nothing() {
    let client = TestClient::new();
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_key = Arc::new(ClientKey::load_or_create(relay_dir.path()).unwrap());
    // Give the relay every chance: the guest authorizes its key too.
    let guest = TestGuest::start(GuestOptions::default(), &[client.fingerprint.clone(), relay_key.fingerprint()]).await;
    let relay = Relay::start(guest.addr, relay_key).await;
    let err = connect(&relay.addr.to_string(), alpn::CONSOLE, &client.opts).await.unwrap_err();
    let ConnectError::Refused { error, .. } = &err else { panic!("expected a refusal, got {err}") };
    assert_eq!(error.name(), "binding", "{error}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let log = relay.log.lock().unwrap().clone();
    assert_eq!(log.evidence.len(), 1, "the relay did forward the guest's real evidence");
    assert_eq!(log.verdicts.len(), 1);
    assert_eq!(log.verdicts[0][0], kind::ABORT, "the client aborted");
    assert_eq!(log.guest_bytes_after_verdict, 0, "the guest sent no console byte after the Abort");
    assert_eq!(guest.sessions.session_count(), 0, "no console was spawned");
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_replayed_from_an_earlier_connection_is_refused() {
    let client = TestClient::new();
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_key = Arc::new(ClientKey::load_or_create(relay_dir.path()).unwrap());
    let guest = TestGuest::start(GuestOptions::default(), &[client.fingerprint.clone(), relay_key.fingerprint()]).await;
    // Record genuine evidence through a relay...
    let relay = Relay::start(guest.addr, relay_key).await;
    let _ = connect(&relay.addr.to_string(), alpn::VERIFY, &client.opts).await;
    let recorded = relay.log.lock().unwrap().evidence[0].clone();
    // ...and serve it to a new connection.
    let fake = replaying_guest(recorded).await;
    let err = connect(&fake.to_string(), alpn::CONSOLE, &client.opts).await.unwrap_err();
    let ConnectError::Refused { error, .. } = &err else { panic!("expected a refusal, got {err}") };
    assert_eq!(error.name(), "binding", "{error}");
    guest.stop().await;
}

fn tls_client(versions: &[&'static rustls::SupportedProtocolVersion], key: &ClientKey) -> rustls::ClientConfig {
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
    config.alpn_protocols = vec![alpn::VERIFY.to_vec()];
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_resumption_and_early_data_are_not_possible() {
    let dir = tempfile::tempdir().unwrap();
    let key = ClientKey::load_or_create(dir.path()).unwrap();
    let guest = TestGuest::start(GuestOptions::default(), &[key.fingerprint()]).await;
    let name = ServerName::try_from("cvm-consoled").unwrap();

    let tls12 = tokio_rustls::TlsConnector::from(Arc::new(tls_client(&[&rustls::version::TLS12], &key)));
    let err = tls12.connect(name.clone(), TcpStream::connect(guest.addr).await.unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("ProtocolVersion") || err.to_string().contains("version"), "{err}");

    // A client that would resume and send early data if the server let it.
    let mut config = tls_client(&[&rustls::version::TLS13], &key);
    config.enable_early_data = true;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for round in 0..3 {
        let mut s = connector.connect(name.clone(), TcpStream::connect(guest.addr).await.unwrap()).await.unwrap();
        let conn = s.get_ref().1;
        assert_eq!(conn.handshake_kind(), Some(rustls::HandshakeKind::Full), "round {round}");
        assert!(!conn.is_early_data_accepted());
        // Read until the server hangs up (it waits for Hello, we send none): no ticket may arrive.
        s.shutdown().await.ok();
    }
    guest.stop().await;
}

/// Open TLS on the console channel and send `bytes` where Hello belongs; the guest
/// must close without sending anything.
async fn garbage_before_hello(guest: &TestGuest, key: &ClientKey, bytes: &[u8]) {
    let config = cvm_console::net::tls::client_config(alpn::CONSOLE, Some(key)).unwrap();
    let tcp = TcpStream::connect(guest.addr).await.unwrap();
    let mut s =
        tokio_rustls::TlsConnector::from(config).connect(ServerName::try_from("x").unwrap(), tcp).await.unwrap();
    s.write_all(bytes).await.unwrap();
    s.flush().await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the guest did not close the connection");
    assert!(buf.is_empty(), "the guest sent {} bytes in answer to garbage", buf.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_malformed_frames_close_that_connection_only() {
    let client = TestClient::new();
    let guest = TestGuest::start(GuestOptions::default(), std::slice::from_ref(&client.fingerprint)).await;
    let mut d = Driver::start(guest.addr.to_string(), client.opts.clone(), Reconnect::default());
    d.type_str("echo before\r").await;
    d.wait_for("\r\nbefore\r\n", 20).await;

    let key = client.opts.client_key.as_deref().unwrap();
    garbage_before_hello(&guest, key, b"GET / HTTP/1.1\r\n\r\n").await;
    garbage_before_hello(&guest, key, &[kind::HELLO, 0xff, 0xff, 0xff, 0xff]).await;
    garbage_before_hello(&guest, key, &[kind::PROCEED, 0, 0, 0, 0]).await;

    // After a genuine attestation: an oversized frame header, then an unknown type.
    for bad in [vec![0x10, 0x7f, 0xff, 0xff, 0xff], vec![0x99, 0, 0, 0, 0], b"\x12\x00\x00\x00\x01x".to_vec()] {
        let mut attested = connect(&guest.addr.to_string(), alpn::CONSOLE, &client.opts).await.unwrap();
        attested.stream.write_all(&bad).await.unwrap();
        attested.stream.flush().await.unwrap();
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(15), attested.stream.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "the guest kept a connection that sent {bad:?}");
    }

    d.type_str("echo still-here\r").await;
    d.wait_for("\r\nstill-here\r\n", 20).await;
    d.type_str("exit 0\r").await;
    let (end, _, _) = d.finish(20).await;
    assert!(matches!(end, ConsoleEnd::Exited(0)), "{end:?}");
    guest.stop().await;
}
