//! A real Debian 12 guest with a LUKS2 root, booted by `tests/vm/luks` under QEMU
//! (TCG): its initramfs comes from Debian's own update-initramfs with
//! cryptsetup-initramfs and the cvm-consoled package's hook. Through the real client
//! code, one step after the other, each step's time printed:
//!
//! 1. the initramfs stage attests (SIMULATED evidence, ephemeral identity);
//! 2. its console runs cryptroot-unlock: the LUKS passphrase typed there unlocks the
//!    root and the boot goes on;
//! 3. the real root's cvm-consoled.service attests, with another identity;
//! 4. root logs in;
//! 5. `systemctl isolate rescue.target`: cvm-consoled-rescue.service serves sulogin,
//!    and the root password typed over the attested channel opens the maintenance
//!    shell, where `doctor` finds single-user mode clean (the package's drop-in keeps
//!    systemd's sulogin off the serial console);
//! 6. the leaky control: systemd's own sulogin back on the serial console and a
//!    serial getty wanted by rescue.target, which doctor flags (and the script sees
//!    the prompt on the serial log, where before it saw none).
//!
//! With `CVMC_LUKS_INITRD=dracut` the script makes the same guest with Debian's dracut
//! and runs [`dracut_luks_unlock_and_login_over_the_attested_console`]: steps 1 to 4,
//! the LUKS prompt systemd-cryptsetup's, answered by systemd-tty-ask-password-agent.
//!
//! Ignored in the ordinary suite: the script passes `CVMC_LUKS_ADDR`,
//! `CVMC_LUKS_SIM_DIR`, `CVMC_LUKS_OUT`, `CVMC_LUKS_PASSPHRASE` and
//! `CVMC_LUKS_PASSWORD` (both fresh per run, then looked for in everything the host
//! recorded), and the client key in `$XDG_CONFIG_HOME/cvm-console`.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cvm_console::clientkey::{ClientKey, config_dir};
use cvm_console::console_client::{ConsoleCommand, Reconnect};
use cvm_console::known_guests::KnownGuests;
use cvm_console::net::{ConnectOptions, connect};
use cvm_console::policy_file::load_policy;
use cvmc_protocol::handshake::alpn;
use cvmc_tests::console_driver::Driver;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run tests/vm/luks"))
}

fn options(sim: &std::path::Path, known: PathBuf) -> ConnectOptions {
    ConnectOptions {
        policy: Arc::new(load_policy(&sim.join("policy.toml")).unwrap()),
        client_key: Some(Arc::new(ClientKey::load_or_create(&config_dir().unwrap()).unwrap())),
        known_guests: Some(KnownGuests::new(known)),
        pin_new: true,
        pcs: None,
        kds: None,
    }
}

/// Attest until it works (the guest is booting) or `secs` pass; the identity seen.
/// `not` skips an identity (the stage that is going away).
async fn attested(addr: &str, opts: &ConnectOptions, not: Option<&str>, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(30), connect(addr, alpn::VERIFY, opts)).await {
            Ok(Ok(a)) if Some(a.guest.identity_fingerprint.as_str()) != not => {
                assert!(a.guest.verified.simulated(), "the test chain is simulated");
                return a.guest.identity_fingerprint.clone();
            }
            Ok(Ok(_)) => last = "the previous stage still answers".into(),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "time-out".into(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no attested guest at {addr} within {secs} s: {last}");
}

struct Clock(Instant, Instant);

impl Clock {
    fn step(&mut self, what: &str) {
        let now = Instant::now();
        println!(
            "[luks {:6.1}s] PASS {what} ({:.1}s)",
            now.duration_since(self.0).as_secs_f64(),
            now.duration_since(self.1).as_secs_f64()
        );
        self.1 = now;
    }
}

/// Log in as root on the real root's console; the session, at the shell's prompt.
/// No re-attach: the rescue step ends this server on purpose.
async fn log_in(addr: &str, system: &ConnectOptions, password: &str) -> Driver {
    let once = Reconnect { attempts: 0, ..Reconnect::default() };
    let mut d = Driver::start(addr.to_owned(), system.clone(), once);
    d.tx.send(ConsoleCommand::Resize { cols: 200, rows: 50 }).await.unwrap();
    d.wait_for("login: ", 120).await;
    d.type_str("root\n").await;
    d.wait_for("Password: ", 60).await;
    d.type_str(&format!("{password}\n")).await;
    // login flushes what is typed before the shell reads: wait for its prompt.
    d.wait_for("@cvmc-luks:~# ", 120).await;
    d.type_str("echo lo''gged-in-$((6*7))\n").await;
    d.wait_for("logged-in-42", 60).await;
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU guest: run tests/vm/luks"]
async fn luks_unlock_login_and_rescue_over_the_attested_console() {
    let addr = env("CVMC_LUKS_ADDR");
    let sim = PathBuf::from(env("CVMC_LUKS_SIM_DIR"));
    let out = PathBuf::from(env("CVMC_LUKS_OUT"));
    let (passphrase, password) = (env("CVMC_LUKS_PASSPHRASE"), env("CVMC_LUKS_PASSWORD"));
    let early = options(&sim, out.join("known_guests.initramfs"));
    let system = options(&sim, out.join("known_guests.system"));
    let mut clock = Clock(Instant::now(), Instant::now());

    // 1. The initramfs stage.
    let early_id = attested(&addr, &early, None, 600).await;
    clock.step(&format!("1 the initramfs stage attests ({early_id})"));

    // 2. Its console answers cryptroot's prompt.
    let mut d = Driver::start(addr.clone(), early.clone(), Reconnect::default());
    d.tx.send(ConsoleCommand::Resize { cols: 200, rows: 50 }).await.unwrap();
    d.wait_for("Please unlock disk", 120).await;
    d.type_str(&format!("{passphrase}\n")).await;
    d.wait_for("set up successfully", 180).await;
    drop(d);
    clock.step("2 cryptroot-unlock over the attested console unlocked the LUKS root");

    // 3. The real root's server, another identity.
    let system_id = attested(&addr, &system, Some(&early_id), 900).await;
    assert_ne!(system_id, early_id);
    clock.step(&format!("3 the real root's cvm-consoled attests ({system_id})"));

    // 4. Log in.
    let d = log_in(&addr, &system, &password).await;
    clock.step("4 root logged in on the real root");

    // 5. Single-user mode: the rescue unit serves sulogin.
    d.type_str("systemctl isolate rescue.target\n").await;
    // The isolate stops cvm-consoled.service and this session with it.
    let (end, output, _) = d.finish(120).await;
    println!("[luks] the system's session ended with the isolate: {end:?} ({} bytes)", output.len());
    let rescue_id = attested(&addr, &system, None, 300).await;
    assert_eq!(rescue_id, system_id, "the rescue unit serves the system's identity");
    let mut d = Driver::start(addr.clone(), system.clone(), Reconnect::default());
    d.tx.send(ConsoleCommand::Resize { cols: 200, rows: 50 }).await.unwrap();
    d.wait_for("root password for maintenance", 120).await;
    d.type_str(&format!("{password}\n")).await;
    d.wait_for("@cvmc-luks:~# ", 120).await;
    d.type_str("echo res''cue-$((6*7)); systemctl is-active rescue.target\n").await;
    d.wait_for("rescue-42", 60).await;
    d.wait_for("\nactive", 30).await;
    let from = d.output.len();
    d.type_str("cvm-consoled doctor --json | grep -o 'single-user[-][a-z-]*'; echo doc''tor-done\n").await;
    let at = d.wait_for("doctor-done", 60).await;
    let found = String::from_utf8_lossy(&d.output[from..at]).into_owned();
    assert!(!found.contains("single-user-"), "clean single-user mode: {found}");
    clock.step("5 rescue.target: sulogin over the attested channel, doctor clean");

    // 6. The leaky control: systemd's own sulogin back on the serial console (the
    //    drop-in removed) and a serial getty wanted by rescue.target.
    d.type_str(
        "echo CVMC-LEAKY-CONTROL > /dev/ttyS0; rm -r /etc/systemd/system/rescue.service.d; systemctl daemon-reload; \
         systemctl restart rescue.service; systemctl unmask -q serial-getty@ttyS0.service; \
         systemctl add-wants -q rescue.target serial-getty@ttyS0.service; sleep 3; \
         cvm-consoled doctor --json | grep -o 'single-user[-][a-z-]*' | sort -u | tr '\\n' ' '; echo le''aky-done\n",
    )
    .await;
    let at = d.wait_for("leaky-done", 90).await;
    let line = String::from_utf8_lossy(&d.output[..at]).lines().last().unwrap_or_default().to_owned();
    for id in ["single-user-getty", "single-user-sulogin-on-host-console"] {
        assert!(line.contains(id), "doctor flags {id}: {line}");
    }
    clock.step("6 leaky control: doctor flags the serial getty and sulogin on the host's console");
    std::fs::write(out.join("luks-steps.done"), "ok\n").unwrap();
}

/// `CVMC_LUKS_INITRD=dracut tests/vm/luks`: the same guest with Debian's dracut (a
/// systemd initrd with the package's 90cvm-consoled module). Its console is
/// systemd-tty-ask-password-agent, which answers systemd-cryptsetup's prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the QEMU guest: run CVMC_LUKS_INITRD=dracut tests/vm/luks"]
async fn dracut_luks_unlock_and_login_over_the_attested_console() {
    let addr = env("CVMC_LUKS_ADDR");
    let sim = PathBuf::from(env("CVMC_LUKS_SIM_DIR"));
    let out = PathBuf::from(env("CVMC_LUKS_OUT"));
    let (passphrase, password) = (env("CVMC_LUKS_PASSPHRASE"), env("CVMC_LUKS_PASSWORD"));
    let early = options(&sim, out.join("known_guests.initramfs"));
    let system = options(&sim, out.join("known_guests.system"));
    let mut clock = Clock(Instant::now(), Instant::now());

    // 1. The systemd initrd's stage.
    let early_id = attested(&addr, &early, None, 600).await;
    clock.step(&format!("1 the dracut initrd stage attests ({early_id})"));

    // 2. The password agent shows systemd-cryptsetup's prompt; the answer unlocks the
    //    root, the initrd switches root and stops this server, ending the session.
    let once = Reconnect { attempts: 0, ..Reconnect::default() };
    let mut d = Driver::start(addr.clone(), early.clone(), once);
    d.tx.send(ConsoleCommand::Resize { cols: 200, rows: 50 }).await.unwrap();
    d.wait_for("passphrase for", 180).await;
    d.type_str(&format!("{passphrase}\n")).await;
    let (end, output, _) = d.finish(300).await;
    println!("[luks] the initrd's session ended with the switch to the root: {end:?} ({} bytes)", output.len());
    clock.step("2 systemd-tty-ask-password-agent over the attested console unlocked the LUKS root");

    // 3. The real root's server, another identity.
    let system_id = attested(&addr, &system, Some(&early_id), 900).await;
    assert_ne!(system_id, early_id);
    clock.step(&format!("3 the real root's cvm-consoled attests ({system_id})"));

    // 4. Log in.
    let d = log_in(&addr, &system, &password).await;
    drop(d);
    clock.step("4 root logged in on the real root");
    std::fs::write(out.join("luks-steps.done"), "ok\n").unwrap();
}
