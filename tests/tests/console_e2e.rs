//! The console end to end over loopback: the real server (TLS, attestation with
//! the simulated provider, PTY running `bash --norc`) and the real client loop.
//! Attacks on it are in `attack_matrix.rs`.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cvm_console::console_client::{ConsoleCommand, ConsoleEnd, Reconnect};
use cvm_console::net::{ConnectError, connect};
use cvmc_protocol::handshake::alpn;
use cvmc_tests::console_driver::Driver;
use cvmc_tests::guest::{GuestOptions, TestClient, TestGuest};
use cvmc_tests::proxy::CutProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn guest_for(client: &TestClient) -> TestGuest {
    TestGuest::start(GuestOptions::default(), std::slice::from_ref(&client.fingerprint)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_resize_and_exit_status() {
    let client = TestClient::new();
    let guest = guest_for(&client).await;
    let mut d = Driver::start(guest.addr.to_string(), client.opts.clone(), Reconnect::default());
    d.type_str("echo o''k\r").await;
    d.wait_for("\r\nok\r\n", 20).await;
    d.tx.send(ConsoleCommand::Resize { cols: 100, rows: 40 }).await.unwrap();
    d.type_str("stty size\r").await;
    d.wait_for("40 100", 20).await;
    d.type_str("exit 7\r").await;
    let (end, _, _) = d.finish(20).await;
    assert!(matches!(end, ConsoleEnd::Exited(7)), "{end:?}");
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_in_the_middle_of_a_burst_loses_and_repeats_nothing() {
    let client = TestClient::new();
    let guest = guest_for(&client).await;
    let proxy = CutProxy::start(guest.addr).await;
    // The host drops the first connection after 100 kB and the second after 150 kB,
    // in the middle of the ~350 kB burst (and likely in the middle of a TLS record).
    proxy.cut_connections_after(&[100_000, 150_000]);
    let fast = Reconnect { attempts: 20, first_delay: Duration::from_millis(50), ..Reconnect::default() };
    let mut d = Driver::start(proxy.addr.to_string(), client.opts.clone(), fast);
    d.type_str("stty -echo; echo READY\r").await;
    d.wait_for("READY\r\n", 20).await;
    let start = d.output.len();
    d.type_str("echo START-$((1+1)); seq 1 60000; echo DONE-$((6*7))\r").await;
    d.wait_for_len(start + 120_000, 60).await;
    // Typed while the connection may be down: must arrive exactly once.
    d.type_str("echo AFTER-CUT\r").await;
    d.wait_for("DONE-42\r\n", 60).await;
    d.wait_for("AFTER-CUT\r\n", 30).await;
    d.type_str("exit 0\r").await;
    let (end, output, reconnects) = d.finish(30).await;
    assert!(matches!(end, ConsoleEnd::Exited(0)), "{end:?}");
    assert_eq!(reconnects, 2, "the proxy cut two connections");
    let text = String::from_utf8_lossy(&output[start..]).replace("\r\n", "\n");
    let burst = &text[text.find("START-2\n").expect("start marker") + 8..text.find("DONE-42").expect("end marker")];
    let numbers: Vec<&str> = burst.lines().collect();
    let expected: Vec<String> = (1..=60000).map(|n| n.to_string()).collect();
    assert_eq!(numbers.len(), expected.len(), "lines lost or repeated");
    assert!(numbers.iter().zip(&expected).all(|(a, b)| *a == b.as_str()), "lines out of order");
    assert_eq!(text.matches("AFTER-CUT").count(), 1, "typed input lost or doubled");
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_added_to_authorized_clients_works_without_a_restart() {
    // (Refusing unauthorized keys is in the attack matrix; this is about the file.)
    let authorized = TestClient::new();
    let newcomer = TestClient::new();
    let guest = guest_for(&authorized).await;
    let err = connect(&guest.addr.to_string(), alpn::CONSOLE, &newcomer.opts).await.unwrap_err();
    assert!(matches!(err, ConnectError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("authorized_clients"), "the refusal says which file to edit: {err}");
    std::fs::write(&guest.authorized_path, format!("{}\n", newcomer.fingerprint)).unwrap();
    connect(&guest.addr.to_string(), alpn::VERIFY, &newcomer.opts).await.unwrap();
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_after_attestation_close_that_connection_only() {
    // (Garbage before Hello is in the attack matrix; this is an attested, authorized
    // client sending bad console frames: only its own connection may suffer.)
    let client = TestClient::new();
    let guest = guest_for(&client).await;
    let mut d = Driver::start(guest.addr.to_string(), client.opts.clone(), Reconnect::default());
    d.type_str("echo before\r").await;
    d.wait_for("\r\nbefore\r\n", 20).await;
    // An oversized frame header, an unknown type, a Resize one byte short.
    for bad in [vec![0x10, 0x7f, 0xff, 0xff, 0xff], vec![0x99, 0, 0, 0, 0], b"\x12\x00\x00\x00\x01x".to_vec()] {
        let mut attested = connect(&guest.addr.to_string(), alpn::CONSOLE, &client.opts).await.unwrap();
        attested.stream.write_all(&bad).await.unwrap();
        attested.stream.flush().await.unwrap();
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(15), attested.stream.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "the guest kept a connection that sent {bad:?}");
    }
    assert_eq!(guest.sessions.session_count(), 1, "no session was opened for a bad frame");
    d.type_str("echo still-here\r").await;
    d.wait_for("\r\nstill-here\r\n", 20).await;
    d.type_str("exit 0\r").await;
    let (end, _, _) = d.finish(20).await;
    assert!(matches!(end, ConsoleEnd::Exited(0)), "{end:?}");
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sessions_echo_correctly() {
    let client = TestClient::new();
    let guest = guest_for(&client).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let addr = guest.addr.to_string();
        let opts = client.opts.clone();
        tasks.push(tokio::spawn(async move {
            let mut d = Driver::start(addr, opts, Reconnect::default());
            d.type_str(&format!("echo token-$(({i}*1000+7))\r")).await;
            d.wait_for(&format!("\r\ntoken-{}\r\n", i * 1000 + 7), 120).await;
            d.type_str("exit 0\r").await;
            let (end, _, _) = d.finish(60).await;
            assert!(matches!(end, ConsoleEnd::Exited(0)), "session {i}: {end:?}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    guest.stop().await;
}

/// An early-boot guest (the initramfs) says so over the attested channel; its
/// identity, new every boot, is neither compared with the pin of the running system
/// at the same address nor pinned; the running system's stays pinned and compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_boot_stage_is_shown_and_its_ephemeral_identity_never_pinned() {
    use cvmc_protocol::GuestStage;
    let client = TestClient::new();
    let system = guest_for(&client).await;
    let addr = system.addr;
    let first = connect(&addr.to_string(), alpn::VERIFY, &client.opts).await.unwrap();
    assert_eq!((first.guest.stage, first.pin.as_ref().unwrap().status), (GuestStage::System, "pinned"));
    drop(first);
    system.stop().await;

    // The initramfs at the same address, with another (ephemeral) identity.
    let opts = GuestOptions { stage: GuestStage::Initramfs, ..GuestOptions::default() };
    let early = TestGuest::start_at(addr, opts, std::slice::from_ref(&client.fingerprint)).await;
    let pins = std::fs::read_to_string(&client.known_guests).unwrap();
    for _ in 0..2 {
        let a = connect(&addr.to_string(), alpn::VERIFY, &client.opts).await.unwrap();
        assert_eq!(a.guest.stage, GuestStage::Initramfs);
        let pin = a.pin.as_ref().unwrap();
        assert_eq!(pin.status, "ephemeral");
        assert!(pin.note.as_deref().unwrap().contains("measurement"), "{pin:?}");
    }
    assert_eq!(std::fs::read_to_string(&client.known_guests).unwrap(), pins, "nothing pinned for the initramfs");
    // Its console works like any.
    let mut d = Driver::start(addr.to_string(), client.opts.clone(), Reconnect::default());
    d.type_str("echo ear''ly\r").await;
    d.wait_for("\r\nearly\r\n", 20).await;
    drop(d);
    early.stop().await;

    // A running-system guest with another identity is still the changed-identity refusal.
    let other = TestGuest::start_at(addr, GuestOptions::default(), std::slice::from_ref(&client.fingerprint)).await;
    let e = connect(&addr.to_string(), alpn::VERIFY, &client.opts).await.err().unwrap();
    assert!(matches!(e, ConnectError::IdentityChanged { .. }), "{e}");
    other.stop().await;
}
