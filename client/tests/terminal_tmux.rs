//! `cvm-console console` in a real terminal, driven the way a person uses it:
//! tmux runs the binary, send-keys types, capture-pane reads the screen. An
//! embedded simulated guest serves the console.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cvm_console::clientkey::ClientKey;
use cvm_consoled::builder::ServerBuilder;
use cvm_consoled::config::{CommandLine, ServerConfig};
use cvm_consoled::local::LocalGuest;
use cvmc_protocol::binding::CONFIG_DIR_NAME;
use cvmc_protocol::snp::product::Product;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(Instant::now() < deadline, "{needle:?} never appeared; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Tmux {
    /// The pid of the process the pane's shell is running (the client), if any.
    fn pane_child(&self) -> Option<u32> {
        let shell: u32 = self.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]).trim().parse().ok()?;
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    fn pane_shell(&self) -> u32 {
        self.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]).trim().parse().unwrap()
    }
}

/// Whether `pid`'s file descriptor `fd` is in non-blocking mode (O_NONBLOCK in fdinfo).
fn non_blocking(pid: u32, fd: u32) -> bool {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
    u32::from_str_radix(flags, 8).unwrap() & 0o4000 != 0
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_real_terminal_resizes_exits_and_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config_home = dir.path().join("config");
    let key = ClientKey::load_or_create(&config_home.join(CONFIG_DIR_NAME)).unwrap();
    let sim = dir.path().join("sim");
    cvm_consoled::siminit::sim_init(&sim, cvm_consoled::siminit::SimTee::Snp(Product::Milan), &[key.fingerprint()])
        .unwrap();
    let mut config = ServerConfig::simulated("127.0.0.1:0", sim.clone());
    config.console_command = Some(CommandLine::Argv(vec!["bash".into(), "--norc".into(), "--noprofile".into()]));
    config.authorized_clients = Some(sim.join("authorized_clients"));
    config.linger_secs = 5;
    config.display = "none".into();
    let guest = LocalGuest::start(ServerBuilder::new(config)).await.unwrap();

    let after = dir.path().join("stty-after");
    let script = format!(
        "XDG_CONFIG_HOME={} {} console {} --policy {}; echo CLIENT-EXIT=$?; stty -a | tr '\\n' ' ' > {}; sleep 120",
        shell_quote(&config_home),
        env!("CARGO_BIN_EXE_cvm-console"),
        guest.addr,
        shell_quote(&sim.join("policy.toml")),
        shell_quote(&after),
    );
    let tmux = Tmux { socket: format!("cvmc-test-{}", std::process::id()) };
    // A history long enough to hold the bulk output below.
    tmux.run(&[
        "-f",
        "/dev/null",
        "start-server",
        ";",
        "set-option",
        "-g",
        "history-limit",
        "300000",
        ";",
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "30",
        "sh",
        "-c",
        &script,
    ]);
    let t = tokio::task::spawn_blocking(move || {
        tmux.wait_for("bash");
        // Stdin and stdout (one terminal) are read and written through the reactor,
        // in non-blocking mode, while the client runs.
        let client = tmux.pane_child().expect("the client runs in the pane");
        assert!(non_blocking(client, 0) && non_blocking(client, 1), "stdin/stdout of the client are blocking");
        tmux.run(&["send-keys", "-t", "t", "echo tmux-ok-$((2+3))", "Enter"]);
        tmux.wait_for("tmux-ok-5");
        // Output faster than the terminal takes it: with stdout non-blocking, every
        // write that would block must wait, not drop bytes. All 200,000 lines, in order.
        tmux.run(&["send-keys", "-t", "t", "clear; seq 1 200000; echo seq-$((1+1))-done", "Enter"]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !tmux.screen().lines().any(|l| l == "seq-2-done") {
            assert!(Instant::now() < deadline, "seq never finished:\n{}", tmux.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
        let history = tmux.run(&["capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "t"]);
        let numbers: Vec<u32> = history.lines().filter_map(|l| l.trim_end().parse().ok()).collect();
        let expected: Vec<u32> = (1..=200_000).collect();
        if numbers != expected {
            let first_bad = numbers.iter().zip(&expected).position(|(a, b)| a != b);
            panic!("{} numbered lines arrived, first difference at {first_bad:?}", numbers.len());
        }
        tmux.run(&["send-keys", "-t", "t", "clear", "Enter"]);
        tmux.run(&["send-keys", "-t", "t", "stty size", "Enter"]);
        tmux.wait_for("30 100");
        tmux.run(&["resize-window", "-t", "t", "-x", "90", "-y", "20"]);
        std::thread::sleep(Duration::from_millis(300));
        tmux.run(&["send-keys", "-t", "t", "stty size", "Enter"]);
        tmux.wait_for("20 90");
        // ssh's escape: Enter ~ . detaches and the client exits 0.
        tmux.run(&["send-keys", "-t", "t", "Enter"]);
        tmux.run(&["send-keys", "-t", "t", "~."]);
        let screen = tmux.wait_for("CLIENT-EXIT=0");
        // The terminal the client shared with its shell is blocking again.
        assert!(!non_blocking(tmux.pane_shell(), 0), "the client left the terminal non-blocking");
        (tmux, screen)
    });
    let (_tmux, screen) = t.await.unwrap();
    assert!(screen.contains("disconnected"), "{screen}");
    // The terminal is back in cooked mode with echo after the client exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !after.exists() {
        assert!(Instant::now() < deadline, "stty -a never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let stty = std::fs::read_to_string(&after).unwrap();
    assert!(stty.contains(" icanon") && !stty.contains("-icanon"), "{stty}");
    assert!(stty.contains(" echo ") && !stty.contains("-echo "), "{stty}");
    guest.stop().await;
}

#[test]
fn demo_attests_an_embedded_simulated_guest_and_opens_its_console() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "XDG_CONFIG_HOME={} SHELL=/bin/bash {} demo --terminal; echo DEMO-EXIT=$?; sleep 120",
        shell_quote(&dir.path().join("config")),
        env!("CARGO_BIN_EXE_cvm-console"),
    );
    let tmux = Tmux { socket: format!("cvmc-demo-{}", std::process::id()) };
    tmux.run(&["new-session", "-d", "-s", "t", "-x", "160", "-y", "40", "sh", "-c", &script]);
    let screen = tmux.wait_for("Opening its console");
    assert!(screen.contains("TRUSTED (SIMULATED - NOT CONFIDENTIAL"), "{screen}");
    for check in ["format", "chain", "root", "signature", "tcb", "policy", "measurement", "binding", "identity"] {
        assert!(screen.contains(&format!("ok   {check}")), "{check} missing:\n{screen}");
    }
    tmux.run(&["send-keys", "-t", "t", "echo demo-$((1+1))", "Enter"]);
    tmux.wait_for("demo-2");
    tmux.run(&["send-keys", "-t", "t", "exit 4", "Enter"]);
    tmux.wait_for("DEMO-EXIT=4");
}
