//! Peers without an authorized key against the real `cvm-consoled`: they hold
//! sockets open, dawdle in the TLS handshake, open and abandon unauthenticated
//! sessions, and none of it keeps an authorized admin out (docs/DESIGN.md "Admission").
//! Also: a secret in the server's environment never reaches the console.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cvm_console::console_client::{ConsoleEnd, Reconnect};
use cvm_console::live::verify_live;
use cvm_console::net::{ConnectError, ConnectOptions, connect};
use cvmc_protocol::console::{ConsoleMsg, SessionToken};
use cvmc_protocol::handshake::alpn;
use cvmc_tests::console_driver::Driver;
use cvmc_tests::guest::TestClient;
use cvmc_tests::hostile::{Attack, Hostile, raise_fd_limit};
use cvmc_tests::server_process::{ServerArgs, ServerProcess, authorize, config_with, free_addr};
use tokio::io::AsyncWriteExt;

/// Where the admin and the same-address attackers connect from.
const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// What an admin does: verify the guest, open its console, see an echo, leave.
async fn admin_round(addr: &str, opts: &ConnectOptions) -> Duration {
    let started = Instant::now();
    let outcome = verify_live(addr, opts).await.expect("verify reached a verdict");
    assert!(outcome.trusted(), "{}", outcome.to_text());
    let mut d = Driver::start(addr.to_owned(), opts.clone(), Reconnect { attempts: 0, ..Reconnect::default() });
    d.type_str("echo up-$((20+1))\r").await;
    d.wait_for("\r\nup-21\r\n", 60).await;
    let elapsed = started.elapsed();
    d.type_str("exit 0\r").await;
    let (end, _, _) = d.finish(60).await;
    assert!(matches!(end, ConsoleEnd::Exited(0)), "{end:?}");
    elapsed
}

async fn median_round(addr: &str, opts: &ConnectOptions, rounds: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..rounds {
        times.push(admin_round(addr, opts).await);
    }
    times.sort();
    times[rounds / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_handshakes_do_not_keep_an_admin_out() {
    raise_fd_limit(4096);
    let client = TestClient::new();
    let (_dir, authorized) = authorize(&client);
    let server = ServerProcess::start(free_addr(), &authorized);
    let addr = server.addr.to_string();
    let unloaded = median_round(&addr, &client.opts, 5).await;

    let attack = Attack::start(server.addr, &[(Hostile::Idle, 1000), (Hostile::Slow, 100)], &[LOOPBACK]);
    attack.wait_open(1100).await;
    let loaded = median_round(&addr, &client.opts, 5).await;
    let held = attack.open.load(Ordering::Relaxed);
    let reconnects = attack.stop().await;
    println!(
        "admin verify + console: {:.1} ms unloaded, {:.1} ms with {held} hostile sockets held ({reconnects} reopened) \
         = {:.2}x",
        unloaded.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3,
        loaded.as_secs_f64() / unloaded.as_secs_f64()
    );
    assert!(loaded <= unloaded * 3, "with the attack running the admin took {loaded:?}, unloaded {unloaded:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_from_other_addresses_never_evicts_an_admin() {
    raise_fd_limit(4096);
    let client = TestClient::new();
    let (dir, authorized) = authorize(&client);
    // Tables far smaller than the attack, in total and per address: every arrival
    // evicts, and every evicted socket is reopened at once.
    let config = config_with(dir.path(), |c| {
        c.max_startups = 256;
        c.max_startups_per_source = 64;
    });
    let server =
        ServerProcess::start_with(&ServerArgs { config: Some(config), ..ServerArgs::new(free_addr(), &authorized) });
    let sources: Vec<IpAddr> = (2..10).map(|n| IpAddr::from([127, 0, 0, n])).collect();
    let attack = Attack::start(server.addr, &[(Hostile::OneByte, 1200)], &sources);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = attack.reconnects.load(Ordering::Relaxed);
    for _ in 0..5 {
        admin_round(&server.addr.to_string(), &client.opts).await;
    }
    let during = attack.reconnects.load(Ordering::Relaxed) - before;
    let reconnects = attack.stop().await;
    println!("5 admin rounds from 127.0.0.1 while 8 other addresses reopened {during} evicted sockets");
    assert!(reconnects > 1000, "the storm did not happen ({reconnects} reopened)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_unauthenticated_sessions_leave_room_for_an_admin() {
    raise_fd_limit(4096);
    let admin = TestClient::new();
    let (dir, authorized) = authorize(&admin);
    // Fewer session slots than attackers: without the unauthenticated quota the
    // attackers alone would fill them.
    let config = config_with(dir.path(), |c| c.max_sessions = 16);
    let server = ServerProcess::start_with(&ServerArgs {
        config: Some(config),
        console_command: "echo session-up",
        args: &["--allow-unauthenticated-console"],
        ..ServerArgs::new(free_addr(), &authorized)
    });
    let addr = server.addr.to_string();
    let mut anonymous = TestClient::new().opts;
    anonymous.client_key = None;
    // Each opens a session and never acknowledges its output, holding the connection.
    let (mut opened, mut refused) = (0, 0);
    let mut held = Vec::new();
    let attempts: Vec<_> = (0..200)
        .map(|_| {
            let (addr, opts) = (addr.clone(), anonymous.clone());
            tokio::spawn(async move {
                let mut attested = connect(&addr, alpn::CONSOLE, &opts).await?;
                let attach = ConsoleMsg::Attach { token: SessionToken::NEW, output_received: 0 };
                attested.stream.write_all(&attach.encode().unwrap()).await.unwrap();
                attested.stream.flush().await.unwrap();
                Ok::<_, ConnectError>(attested)
            })
        })
        .collect();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(attested) => {
                opened += 1;
                held.push(attested);
            }
            Err(ConnectError::ChannelRefused { reason, .. }) => {
                assert!(reason.contains("without an authorized key"), "{reason}");
                refused += 1;
            }
            Err(e) => panic!("an unauthenticated attempt failed otherwise: {e}"),
        }
    }
    println!("200 unauthenticated console attempts: {opened} attested, {refused} refused by the quota");
    assert!(opened <= 3, "one address got {opened} unauthenticated connections");
    // The admin gets a console at once, while the attackers still hold theirs.
    let mut d = Driver::start(addr.clone(), admin.opts.clone(), Reconnect { attempts: 0, ..Reconnect::default() });
    d.wait_for("session-up", 30).await;
    let (end, _, _) = d.finish(30).await;
    assert!(matches!(end, ConsoleEnd::Exited(0)), "{end:?}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_starts_with_a_clean_environment() {
    let client = TestClient::new();
    let (_dir, authorized) = authorize(&client);
    let server = ServerProcess::start_with(&ServerArgs {
        console_command: "env",
        env: &[("CVMC_UNIT_SECRET", "hunter2-do-not-leak"), ("TZ", "UTC")],
        args: &[],
        ..ServerArgs::new(free_addr(), &authorized)
    });
    let d = Driver::start(server.addr.to_string(), client.opts.clone(), Reconnect::default());
    let (end, output, _) = d.finish(30).await;
    let output = String::from_utf8_lossy(&output).into_owned();
    assert!(matches!(end, ConsoleEnd::Exited(0)), "{end:?}");
    assert!(output.contains("TERM=") && output.contains("PATH=") && output.contains("HOME="), "{output}");
    assert!(!output.contains("hunter2"), "the server's environment leaked into the console:\n{output}");
    assert!(!output.contains("TZ="), "TZ is not passed unless pass_environment names it");
}
