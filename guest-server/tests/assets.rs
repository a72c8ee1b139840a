//! The example files under assets/ stay valid as the formats evolve.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

fn asset(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../assets/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn example_server_config_parses() {
    let c = cvm_consoled::config::ServerConfig::from_toml(&asset("examples/server.toml")).unwrap();
    assert_eq!(c.evidence, cvm_consoled::config::EvidenceKind::Tsm);
    assert!(!c.allow_unauthenticated_console);
}

#[test]
fn example_policy_parses_once_its_measurement_is_filled_in() {
    let text = asset("examples/policy.toml").replace("<96 hex characters>", &"ab".repeat(48));
    let p = cvmc_protocol::Policy::from_toml(&text).unwrap();
    assert_eq!(p.measurements.len(), 1);
    assert_eq!((p.min_abi.major, p.min_abi.minor), (1, 51));
}

#[test]
fn systemd_units_run_the_server_with_its_config() {
    let rescue = asset("cvm-consoled-rescue.service");
    assert!(rescue.contains("--console-command \"/usr/sbin/sulogin /dev/stdin\""), "sulogin on the session's terminal");
    assert!(rescue.contains("WantedBy=rescue.target emergency.target"));
    assert!(rescue.contains("Conflicts=shutdown.target cvm-consoled.service"));
    for name in ["cvm-consoled.service", "cvm-consoled-rescue.service"] {
        unit_is_valid(name);
    }
}

fn unit_is_valid(name: &str) {
    let unit = asset(name);
    assert!(unit.contains("ExecStart=/usr/bin/cvm-consoled --config /etc/cvm-console/server.toml"));
    assert!(unit.contains("ConditionPathExists=/etc/cvm-console/authorized_clients"), "{name}: not before configured");
    assert!(unit.contains("LimitCORE=0"));
    if let Ok(out) = std::process::Command::new("systemd-analyze").arg("--version").output()
        && out.status.success()
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &unit).unwrap();
        let verify = std::process::Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&verify.stderr);
        assert!(!stderr.contains("Unknown key") && !stderr.contains("Invalid"), "{name}: {stderr}");
    }
}

#[test]
fn example_initramfs_config_parses_with_an_ephemeral_identity() {
    let c = cvm_consoled::config::ServerConfig::from_toml(&asset("examples/initramfs.toml")).unwrap();
    assert!(c.ephemeral_identity, "the initramfs is on a /boot the host can read");
    assert_eq!(c.console_command.unwrap().argv(), ["/usr/bin/cryptroot-unlock"]);
}
