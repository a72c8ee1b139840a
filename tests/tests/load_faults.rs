//! Load and faults against the real `cvm-consoled` binary (a separate process, so
//! its memory can be sampled and it can be killed): 100 mixed console and display
//! sessions held for a minute while 1,000 hostile sockets are held and a peer without a
//! key keeps opening and dropping sessions; a client that stops reading; `kill -9`.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cvm_console::console_client::{ConsoleCommand, ConsoleEnd, Reconnect};
use cvm_console::net::connect;
use cvmc_protocol::console::{ConsoleMsg, SessionToken};
use cvmc_protocol::handshake::alpn;
use cvmc_tests::console_driver::Driver;
use cvmc_tests::guest::TestClient;
use cvmc_tests::hostile::{Attack, Hostile, raise_fd_limit};
use cvmc_tests::server_process::{ServerArgs, ServerProcess, authorize, free_addr};

/// The address the load and the attack both come from.
const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
use cvmc_tests::vnc_view::Viewer;
use vnc::{VncEncoding, X11Event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_mixed_sessions_for_a_minute_with_bounded_memory() {
    let secs: u64 = std::env::var("CVMC_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    raise_fd_limit(4096);
    let client = TestClient::new();
    let (_dir, authorized) = authorize(&client);
    let server = ServerProcess::start_with(&ServerArgs {
        args: &["--allow-unauthenticated-console"],
        ..ServerArgs::new(free_addr(), &authorized)
    });
    let addr = server.addr.to_string();
    let echoes = Arc::new(AtomicU64::new(0));
    let frames = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    // The attacks, all the while: 1,000 sockets held (900 silent, 100 dawdling in the
    // TLS record), and a peer without a key opening a session and dropping it at once.
    // CVMC_LOAD_ATTACK=0 leaves the attacks out, to measure the load alone.
    let attacking = std::env::var("CVMC_LOAD_ATTACK").map_or(true, |v| v != "0");
    let hostile: &[(Hostile, usize)] = if attacking { &[(Hostile::Idle, 900), (Hostile::Slow, 100)] } else { &[] };
    let attack = Attack::start(server.addr, hostile, &[LOOPBACK]);
    let churn = {
        let (addr, mut opts) = (addr.clone(), TestClient::new().opts);
        opts.client_key = None;
        tokio::spawn(async move {
            let (mut opened, mut refused) = (0u64, 0u64);
            while attacking && tokio::time::Instant::now() < deadline {
                match connect(&addr, alpn::CONSOLE, &opts).await {
                    Ok(mut attested) => {
                        use tokio::io::AsyncWriteExt;
                        let attach = ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 };
                        let _ = attested.stream.write_all(&attach.encode().unwrap()).await;
                        opened += 1;
                    }
                    Err(_) => refused += 1,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (opened, refused)
        })
    };
    let mut tasks = Vec::new();
    for i in 0..80u64 {
        let (addr, opts, echoes) = (addr.clone(), client.opts.clone(), Arc::clone(&echoes));
        let latencies = Arc::clone(&latencies);
        tasks.push(tokio::spawn(async move {
            let mut d = Driver::start(addr, opts, Reconnect::default());
            let mut n = 0u64;
            while tokio::time::Instant::now() < deadline {
                n += 1;
                let typed = Instant::now();
                d.type_str(&format!("echo s{i}-$(({n}+1000))\r")).await;
                d.wait_for(&format!("\r\ns{i}-{}\r\n", n + 1000), 60).await;
                // The first echo also waits for the connection, the attestation and
                // bash starting (80 at once): the latency is measured from the second.
                if n > 1 {
                    latencies.lock().unwrap().push(typed.elapsed());
                }
                echoes.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            d.type_str("exit 0\r").await;
            let (end, output, _) = d.finish(60).await;
            assert!(matches!(end, ConsoleEnd::Exited(0)), "session {i}: {end:?}");
            // Nothing typed or printed was lost or repeated: every answer exactly once.
            for k in 1..=n {
                let line = format!("\r\ns{i}-{}\r\n", k + 1000);
                let seen = output.windows(line.len()).filter(|w| *w == line.as_bytes()).count();
                assert_eq!(seen, 1, "session {i}: answer {k} seen {seen} times");
            }
        }));
    }
    for _ in 0..20 {
        let (addr, opts, frames) = (addr.clone(), client.opts.clone(), Arc::clone(&frames));
        tasks.push(tokio::spawn(async move {
            let attested = connect(&addr, alpn::DISPLAY, &opts).await.unwrap();
            let mut viewer = Viewer::connect(attested.stream, VncEncoding::Zrle).await;
            viewer.wait_until(60, |v| v.size == (1024, 768)).await;
            while tokio::time::Instant::now() < deadline {
                let before = viewer.rects;
                viewer.input(X11Event::Refresh).await;
                viewer.wait_until(30, |v| v.rects > before).await;
                frames.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    let mut samples = Vec::new();
    while tokio::time::Instant::now() < deadline {
        samples.push(server.rss_kib());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (churn_opened, churn_refused) = churn.await.unwrap();
    let reopened = attack.stop().await;
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let pct = |p: usize| lat.get((lat.len() * p / 100).min(lat.len().saturating_sub(1))).copied().unwrap_or_default();
    println!(
        "load{}: echo latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} echoes; hostile \
         sockets reopened {reopened}; a keyless peer attested {churn_opened} sessions and was refused {churn_refused} times",
        if attacking { " under attack" } else { " alone" },
        pct(50).as_secs_f64() * 1e3,
        pct(90).as_secs_f64() * 1e3,
        pct(99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        lat.len()
    );
    let peak = samples.iter().copied().max().unwrap_or(0);
    let settled = samples[samples.len() / 2..].iter().copied().max().unwrap_or(0);
    let early = samples[..samples.len() / 2].iter().copied().max().unwrap_or(0);
    println!(
        "load: 80 console + 20 display sessions for {secs} s: {} echoes, {} screen updates; server RSS peak {} MiB \
         (first half {} MiB, second half {} MiB)",
        echoes.load(Ordering::Relaxed),
        frames.load(Ordering::Relaxed),
        peak / 1024,
        early / 1024,
        settled / 1024
    );
    assert!(echoes.load(Ordering::Relaxed) >= 80, "every console session echoed");
    assert!(frames.load(Ordering::Relaxed) >= 20, "every viewer got updates");
    assert!(peak < 1024 * 1024, "server RSS peaked at {} MiB", peak / 1024);
    assert!(settled <= early + early / 2 + 16 * 1024, "server memory keeps growing: {early} KiB then {settled} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_stall_the_others() {
    let client = TestClient::new();
    let (_dir, authorized) = authorize(&client);
    let server = ServerProcess::start(free_addr(), &authorized);
    // A client that starts a flood and then never reads again.
    let mut stalled = connect(&server.addr.to_string(), alpn::CONSOLE, &client.opts).await.unwrap();
    use tokio::io::AsyncWriteExt;
    let attach = cvmc_protocol::console::ConsoleMsg::Attach {
        token: cvmc_protocol::console::SessionToken::NEW,
        output_received: 0,
    };
    stalled.stream.write_all(&attach.encode().unwrap()).await.unwrap();
    let flood = cvmc_protocol::console::ConsoleMsg::Data(b"yes flood-flood-flood\r".to_vec());
    stalled.stream.write_all(&flood.encode().unwrap()).await.unwrap();
    stalled.stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_flood = server.rss_kib();
    // Others keep echoing promptly.
    let mut d = Driver::start(server.addr.to_string(), client.opts.clone(), Reconnect::default());
    for n in 0..10 {
        let started = Instant::now();
        d.type_str(&format!("echo ok-$((40+{n}))\r")).await;
        d.wait_for(&format!("\r\nok-{}\r\n", 40 + n), 10).await;
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_later = server.rss_kib();
    println!(
        "stalled reader: server RSS {} KiB after the flood started, {} KiB five seconds later",
        rss_after_flood, rss_later
    );
    assert!(rss_later < rss_after_flood + 32 * 1024, "the stalled session's output is buffered without bound");
    d.tx.send(ConsoleCommand::Close).await.unwrap();
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_and_a_restart_the_client_reattests_a_fresh_report() {
    let client = TestClient::new();
    let (_dir, authorized) = authorize(&client);
    let addr = free_addr();
    let mut server = ServerProcess::start(addr, &authorized);
    let mut opts = client.opts.clone();
    // The restarted guest has a new (ephemeral) identity: do not pin for this test.
    opts.known_guests = None;
    let mut d = Driver::start(
        addr.to_string(),
        opts,
        Reconnect { attempts: 40, first_delay: Duration::from_millis(100), ..Reconnect::default() },
    );
    d.type_str("echo before-$((1+1))\r").await;
    d.wait_for("\r\nbefore-2\r\n", 20).await;
    server.kill9();
    let _restarted = ServerProcess::start(addr, &authorized);
    let (end, _, reconnects) = d.finish(60).await;
    assert!(reconnects >= 1, "the client reconnected");
    // The console process died with the server. The client attested the restarted
    // guest afresh (Attach is only sent after Proceed, so the guest's answer proves
    // it) and was told, clearly, that the session is gone.
    match end {
        ConsoleEnd::Refused(reason) => assert!(reason.contains("gone"), "{reason}"),
        other => panic!("expected the session to be reported gone, got {other:?}"),
    }
}
