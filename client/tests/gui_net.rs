//! The GUI's network thread against a real in-process guest (simulated evidence, a
//! shell on a PTY, the test pattern): the stages a person sees while connecting, the
//! verdict, the session, a hidden screen asking for nothing, and a changed identity.
#![cfg(unix)]
#![allow(clippy::unwrap_used)] // reason: a test; a failed step should stop it

use std::sync::Arc;
use std::time::{Duration, Instant};

use cvm_console::clientkey::ClientKey;
use cvm_console::console_client::ConsoleEvent;
use cvm_console::gui::frame::ScreenEvent;
use cvm_console::gui::net::{Link, spawn};
use cvm_console::gui::net::{NetCommand, NetEvent};
use cvm_console::known_guests::KnownGuests;
use cvm_console::net::{ConnectOptions, Stage};
use cvm_consoled::builder::ServerBuilder;
use cvm_consoled::config::{CommandLine, ServerConfig};
use cvm_consoled::local::LocalGuest;

struct Guest {
    guest: LocalGuest,
    opts: ConnectOptions,
    _dir: tempfile::TempDir,
}

async fn guest() -> Guest {
    guest_with(cvm_consoled::display::source::DisplaySpec::PATTERN).await
}

async fn guest_with(display: cvm_consoled::display::source::DisplaySpec) -> Guest {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(ClientKey::load_or_create(dir.path()).unwrap());
    let sim = dir.path().join("sim");
    cvm_console::demo::prepare(&sim, &key).unwrap();
    let mut config = ServerConfig::simulated("127.0.0.1:0", sim.clone());
    config.console_command = Some(CommandLine::Argv(vec!["/bin/sh".into()]));
    config.authorized_clients = Some(sim.join(cvm_consoled::siminit::files::AUTHORIZED));
    config.linger_secs = 5;
    config.display = display.to_string();
    let guest = LocalGuest::start(ServerBuilder::new(config)).await.unwrap();
    let policy = cvm_console::policy_file::load_policy(&sim.join(cvm_consoled::siminit::files::POLICY)).unwrap();
    let opts = ConnectOptions {
        policy: Arc::new(policy),
        client_key: Some(key),
        known_guests: None,
        pin_new: false,
        pcs: None,
        kds: None,
    };
    Guest { guest, opts, _dir: dir }
}

/// Events until `stop` says so (or panic after `secs`).
fn collect(link: &Link, secs: u64, mut stop: impl FnMut(&NetEvent) -> bool) -> Vec<NetEvent> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    while Instant::now() < deadline {
        if let Ok(ev) = link.events.recv_timeout(Duration::from_millis(100)) {
            let done = stop(&ev);
            out.push(ev);
            if done {
                return out;
            }
        }
    }
    panic!("timed out after {secs} s; events: {:?}", out.iter().map(short).collect::<Vec<_>>());
}

fn short(ev: &NetEvent) -> String {
    let s = format!("{ev:?}");
    s.chars().take(80).collect()
}

fn screen_updates(link: &Link, during: Duration) -> usize {
    let deadline = Instant::now() + during;
    let mut n = 0;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Ok(NetEvent::Screen(ScreenEvent::Pixels(..) | ScreenEvent::Copy(..))) = link.events.recv_timeout(left) {
            n += 1;
        }
    }
    n
}

#[test]
fn stages_verdict_session_and_a_hidden_screen_that_asks_for_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let g = rt.block_on(guest());
    let link = spawn(g.guest.addr.to_string(), g.opts.clone(), Arc::new(|| {})).unwrap();
    let events = collect(&link, 60, |ev| matches!(ev, NetEvent::Screen(ScreenEvent::Pixels(..))));
    let stages: Vec<&Stage> = events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Stage(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(matches!(
        stages[..5],
        [Stage::Tcp, Stage::Tls, Stage::Evidence, Stage::Checking { .. }, Stage::Checked(_)]
    ));
    let Stage::Checked(passed) = stages[4] else { unreachable!() };
    assert!(passed.len() >= 8, "the verifier's passed checks arrive before the verdict: {passed:?}");
    let verdict = events.iter().position(|e| matches!(e, NetEvent::Verified { .. })).unwrap();
    let attached = events.iter().position(|e| matches!(e, NetEvent::Console(ConsoleEvent::Attested(_)))).unwrap();
    assert!(verdict < attached);

    // Hidden: after what was in flight (the rest of a frame, the answer to the one
    // request already sent), no updates at all, though the pattern animates.
    link.commands.send(NetCommand::ScreenVisible(false)).unwrap();
    let quiet = (0..20).any(|_| screen_updates(&link, Duration::from_millis(700)) == 0);
    assert!(quiet, "the screen never went quiet after it was hidden");
    assert_eq!(screen_updates(&link, Duration::from_millis(1500)), 0, "a hidden screen asks for no updates");
    link.commands.send(NetCommand::ScreenVisible(true)).unwrap();
    assert!(screen_updates(&link, Duration::from_millis(1500)) > 0, "shown again, the picture moves again");
    link.commands.send(NetCommand::Disconnect).unwrap();
    rt.block_on(g.guest.stop());
}

#[test]
fn a_changed_identity_is_refused_with_both_identities_and_the_pin_line() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut g = rt.block_on(guest());
    let address = g.guest.addr.to_string();
    let file = g._dir.path().join("known_guests");
    std::fs::write(&file, format!("# pins\nother:1 SHA256:zz\n{address} SHA256:pinned-before\n")).unwrap();
    g.opts.known_guests = Some(KnownGuests::new(file.clone()));
    let link = spawn(address.clone(), g.opts.clone(), Arc::new(|| {})).unwrap();
    let events = collect(&link, 60, |ev| matches!(ev, NetEvent::IdentityChanged(_)));
    let change = events
        .iter()
        .find_map(|e| match e {
            NetEvent::Stage(Stage::IdentityChanged(c)) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (change.address.as_str(), change.pinned.as_str(), change.line),
        (address.as_str(), "SHA256:pinned-before", 3)
    );
    assert_eq!(change.file, file);
    assert!(change.seen.starts_with("SHA256:") && change.seen != change.pinned);
    let Some(NetEvent::IdentityChanged(warning)) = events.last() else { unreachable!() };
    assert!(warning.contains("GUEST IDENTITY HAS CHANGED") && warning.contains(&change.seen));
    assert!(!events.iter().any(|e| matches!(e, NetEvent::Verified { .. } | NetEvent::Console(_))), "no session");
    rt.block_on(g.guest.stop());
}

/// A loopback TCP relay whose connections can all be cut at once (a dropped network).
struct Cutter {
    addr: String,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Cutter {
    async fn start(to: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let conns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let held = Arc::clone(&conns);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = to.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                held.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { addr, conns }
    }

    fn cut(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

fn console_output(events: &[NetEvent]) -> String {
    let bytes: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Console(ConsoleEvent::Output(b)) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_cut_connection_is_reattested_and_the_console_reattaches() {
    use cvm_console::console_client::ConsoleCommand;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let g = rt.block_on(guest());
    let relay = rt.block_on(Cutter::start(g.guest.addr.to_string()));
    let link = spawn(relay.addr.clone(), g.opts.clone(), Arc::new(|| {})).unwrap();
    collect(&link, 60, |ev| matches!(ev, NetEvent::Screen(ScreenEvent::Pixels(..))));
    let input =
        |s: &str| link.commands.send(NetCommand::Console(ConsoleCommand::Input(s.as_bytes().to_vec()))).unwrap();
    input("A=before; echo \"mark-$A\"\n");
    let seen = std::cell::RefCell::new(String::new());
    collect(&link, 30, |ev| {
        seen.borrow_mut().push_str(&console_output(std::slice::from_ref(ev)));
        seen.borrow().contains("mark-before")
    });

    relay.cut();
    let mut console_back = false;
    let mut screen_back = false;
    let events = collect(&link, 90, |ev| {
        match ev {
            NetEvent::Console(ConsoleEvent::Attested(_)) => console_back = true,
            NetEvent::Screen(ScreenEvent::Resized { .. }) => screen_back = true,
            _ => {}
        }
        console_back && screen_back
    });
    let retry = events.iter().find_map(|e| match e {
        NetEvent::Console(ConsoleEvent::Reconnecting { attempt, retry_in, .. }) => Some((*attempt, *retry_in)),
        _ => None,
    });
    assert!(matches!(retry, Some((1, d)) if d > Duration::ZERO), "the wait is announced: {retry:?}");
    assert!(events.iter().any(|e| matches!(e, NetEvent::ScreenReconnecting { attempt: 1, .. })));
    // Attested afresh: the reconnection went through the evidence step again.
    assert!(events.iter().any(|e| matches!(e, NetEvent::Stage(Stage::Evidence))));

    // The same shell: its variable survived, and nothing printed before is replayed.
    input("echo \"again-$A\"\n");
    let seen = std::cell::RefCell::new(String::new());
    let after = collect(&link, 30, |ev| {
        seen.borrow_mut().push_str(&console_output(std::slice::from_ref(ev)));
        seen.borrow().contains("again-before")
    });
    let replayed = console_output(&events) + &console_output(&after);
    assert!(!replayed.contains("mark-before"), "output before the cut is not repeated: {replayed:?}");
    link.commands.send(NetCommand::Disconnect).unwrap();
    rt.block_on(g.guest.stop());
}

#[test]
fn an_unpinned_measurement_pinned_into_the_policy_file_is_trusted_on_the_next_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let g = rt.block_on(guest());
    // The demo policy without its measurement, beside it (its roots are relative paths).
    let pinned = &g.opts.policy.path;
    let text = std::fs::read_to_string(pinned).unwrap();
    let unpinned_text: String = text
        .lines()
        .map(|l| if l.trim_start().starts_with("measurements") { "measurements = []" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let path = pinned.with_file_name("unpinned.toml");
    std::fs::write(&path, &unpinned_text).unwrap();
    let mut opts = g.opts.clone();
    opts.policy = Arc::new(cvm_console::policy_file::load_policy(&path).unwrap());
    let address = g.guest.addr.to_string();

    let link = spawn(address.clone(), opts.clone(), Arc::new(|| {})).unwrap();
    let events = collect(&link, 60, |ev| matches!(ev, NetEvent::Refused { .. }));
    let Some(NetEvent::Refused { error, .. }) = events.last() else { unreachable!() };
    let cvmc_protocol::VerifyError::MeasurementNotPinned { actual } = error else { panic!("{error}") };

    cvm_console::gui::pin::pin_measurement(&path, actual).unwrap();
    opts.policy = Arc::new(cvm_console::policy_file::load_policy(&path).unwrap());
    let link = spawn(address, opts, Arc::new(|| {})).unwrap();
    collect(&link, 60, |ev| matches!(ev, NetEvent::Verified { .. }));
    link.commands.send(NetCommand::Disconnect).unwrap();
    rt.block_on(g.guest.stop());
}

#[test]
fn a_guest_without_a_screen_says_so_once_and_keeps_its_console() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let g = rt.block_on(guest_with(cvm_consoled::display::source::DisplaySpec::None));
    let link = spawn(g.guest.addr.to_string(), g.opts.clone(), Arc::new(|| {})).unwrap();
    let mut attached = false;
    let mut ended = None;
    let events = collect(&link, 60, |ev| {
        match ev {
            NetEvent::Console(ConsoleEvent::Attested(_)) => attached = true,
            NetEvent::ScreenEnded(why) => ended = Some(why.clone()),
            _ => {}
        }
        attached && ended.is_some()
    });
    // The guest's own reason, at the first try: no retries.
    let why = ended.unwrap();
    assert!(why.contains("serves no screen"), "{why}");
    let tries = events.iter().filter(|e| matches!(e, NetEvent::ScreenReconnecting { .. })).count();
    assert_eq!(tries, 0, "a refused screen is not retried");
    link.commands.send(NetCommand::Disconnect).unwrap();
    rt.block_on(g.guest.stop());
}
