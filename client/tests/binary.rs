//! The installed `cvm-console` binary: exit statuses and `--json` as scripts see them.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn data(name: &str) -> String {
    format!("{}/../tests/data/snp/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn measurement_policy(dir: &std::path::Path, report: &[u8]) -> String {
    let p = dir.join("policy.toml");
    std::fs::write(&p, format!("measurements = [\"{}\"]\n", hex::encode(&report[0x90..0xC0]))).unwrap();
    p.to_str().unwrap().to_owned()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cvm-console")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn verify_report_exit_statuses_and_json() {
    let dir = std::env::temp_dir().join(format!("cvmc-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = std::fs::read(data("genoa_attestation_report.bin")).unwrap();
    let policy = measurement_policy(&dir, &report);
    let (r, v) = (data("genoa_attestation_report.bin"), data("genoa_vcek.pem"));
    // A VCEK issued 2026-02-05 is valid at 2026-06-01 (1780272000).
    let at = ["--at", "1780272000"];
    let base = ["verify-report", "--report", &r, "--vcek", &v, "--policy", &policy, at[0], at[1], "--json"];
    // A stored report's binding cannot be checked without --report-data: not trusted...
    let (code, out, err) = run(&base);
    assert_eq!(code, 1, "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["failed_check"], "binding_not_checked");
    // ...unless --no-binding accepts that; the JSON still says it was not checked.
    let (code, out, err) = run(&[&base[..], &["--no-binding"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((j["trusted"].as_bool(), j["product"].as_str()), (Some(true), Some("Genoa")));
    assert_eq!(j["binding_checked"], false);
    // Another report under the same policy: measurement differs -> exit 1.
    let other = data("turin_attestation_report.bin");
    let vcek = data("turin_vcek.pem");
    let (code, out, _) =
        run(&["verify-report", "--report", &other, "--vcek", &vcek, "--policy", &policy, "--json", "--no-binding"]);
    assert_eq!(code, 1, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["failed_check"], "measurement");
    // Unusable input -> exit 2, one line on stderr, nothing on stdout.
    let (code, out, err) = run(&["verify-report", "--report", "/nonexistent", "--vcek", &v, "--policy", &policy]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // A closed stdout pipe is not a panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvm-console"))
        .args(base)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    std::fs::remove_dir_all(&dir).ok();
}
