//! The live commands through the real `cvm-console` binary, each run with a config
//! directory of its own: exit statuses (0 trusted, 1 not trusted, 2 unusable input,
//! 3 no verdict reached), `--require-hardware`, `verify` pinning the identity like
//! `console` does (and `--no-pin`), an alias of a pinned guest named, and no key
//! taken from a shared directory when the user has no home.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use cvmc_tests::guest::{GuestOptions, TestGuest, sim_dir};
use cvmc_tests::server_process::{client_binary, free_addr};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cvm_console(config: &Path, args: &[&str]) -> Run {
    let out =
        Command::new(client_binary()).args(args).env("XDG_CONFIG_HOME", config).env("HOME", config).output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A client config directory with its key, and that key's fingerprint.
fn client() -> (tempfile::TempDir, String) {
    let config = tempfile::tempdir().unwrap();
    let id = cvm_console(config.path(), &["id"]);
    assert_eq!(id.code, 0, "{}", id.stderr);
    let fingerprint = id.stdout.split_whitespace().next().unwrap().to_owned();
    (config, fingerprint)
}

fn policy() -> String {
    sim_dir().join("policy.toml").display().to_string()
}

fn known_guests(config: &Path) -> String {
    std::fs::read_to_string(config.join("cvm-console/known_guests")).unwrap_or_default()
}

async fn run(config: &Path, args: Vec<String>) -> Run {
    let config = config.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cvm_console(&config, &args)
    })
    .await
    .unwrap()
}

fn verify(addr: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["verify".to_owned(), addr.to_owned(), "--policy".into(), policy()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_cannot_be_reached_is_no_verdict_not_bad_input() {
    let (config, _) = client();
    let nobody = free_addr().to_string();
    let r = run(config.path(), verify(&nobody, &[])).await;
    assert_eq!(r.code, 3, "exit 3: no verdict reached\n{}", r.stderr);
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
    // A policy that is not there is unusable input, before any connection.
    let mut args = verify(&nobody, &[]);
    args[3] = "/nonexistent/policy.toml".into();
    assert_eq!(run(config.path(), args).await.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_pins_like_console_and_no_pin_only_checks() {
    let (config, fingerprint) = client();
    let guest = TestGuest::start(GuestOptions::default(), &[fingerprint]).await;
    let addr = guest.addr.to_string();

    let r = run(config.path(), verify(&addr, &["--no-pin", "--json"])).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(j["identity_pin"]["status"], "new");
    assert!(known_guests(config.path()).is_empty(), "--no-pin wrote a pin");

    let r = run(config.path(), verify(&addr, &[])).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("identity seen for the first time: pinned"), "{}", r.stdout);
    let pinned = known_guests(config.path());
    assert!(pinned.starts_with(&format!("{addr} SHA256:")), "{pinned}");
    let r = run(config.path(), verify(&addr, &[])).await;
    assert!(r.stdout.contains("identity matches its pin"), "{}", r.stdout);

    // The same guest under another name: a new pin, and the old one named.
    let alias = format!("localhost:{}", guest.addr.port());
    let r = run(config.path(), verify(&alias, &[])).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("already pinned as {addr}")), "{}", r.stdout);
    guest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_hardware_refuses_a_simulated_guest() {
    let (config, fingerprint) = client();
    let guest = TestGuest::start(GuestOptions::default(), &[fingerprint]).await;
    let addr = guest.addr.to_string();
    let r = run(config.path(), verify(&addr, &["--require-hardware", "--json"])).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(j["trusted"], false);
    assert_eq!(j["failed_check"], "hardware_required");
    assert_eq!(run(config.path(), verify(&addr, &["--json"])).await.code, 0, "without the flag it is trusted");
    guest.stop().await;
}

#[test]
fn without_a_home_the_client_refuses_instead_of_using_a_shared_directory() {
    // A user with no passwd entry and no HOME: dirs finds no config directory.
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: running as a user without a passwd entry needs root (the suite runs as root)");
        return;
    }
    let out = Command::new(client_binary()).arg("id").env_clear().uid(54_321).gid(54_321).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no configuration directory"), "{stderr}");
}

/// `verify` on an early-boot guest: `--json` says `"stage": "initramfs"` and the
/// identity pin `ephemeral`, the text says so, and nothing is written to known_guests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_shows_the_early_boot_stage_and_pins_nothing() {
    let (config, fingerprint) = client();
    let opts = GuestOptions { stage: cvmc_protocol::GuestStage::Initramfs, ..GuestOptions::default() };
    let guest = TestGuest::start(opts, &[fingerprint]).await;
    let addr = guest.addr.to_string();
    let r = run(config.path(), verify(&addr, &["--json"])).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!((j["stage"].as_str(), j["identity_pin"]["status"].as_str()), (Some("initramfs"), Some("ephemeral")));
    let r = run(config.path(), verify(&addr, &[])).await;
    assert!(r.stdout.contains("stage: early boot (initramfs)"), "{}", r.stdout);
    assert!(r.stdout.contains("is ephemeral (early boot)"), "{}", r.stdout);
    assert!(known_guests(config.path()).is_empty(), "an early-boot identity was pinned");
    guest.stop().await;
}
