//! `cvm-console measure` against the reference tool, `sev-snp-measure` (virtee, PyPI;
//! scripts/test installs it): the same inputs must give the same 96-hex digest, on
//! Debian's own OVMF builds (package `ovmf`), the OvmfPkgX64 and AmdSev footers of the
//! reference tool's fixtures (`tests/data/measure/`), several vCPU counts, types,
//! signatures, VMM types and guest features, and for measured direct boot a kernel,
//! an initrd and command lines. Debian's kernel from the VM test's cache is measured
//! when it is there; otherwise kernel-sized files stand in (both tools hash the files
//! as bytes). Bad inputs are clear errors, never panics.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cvm_console::cli::{EXIT_BAD_INPUT, EXIT_OK};
use cvmc_tests::cli::{Run, cli};

/// `cvm-console measure ARGS...`.
fn ours(args: &[&str]) -> Run {
    let mut all = vec!["measure"];
    all.extend_from_slice(args);
    cli(&all)
}

fn reference(args: &[&str]) -> Result<String, String> {
    let out = Command::new("sev-snp-measure")
        .arg("--mode")
        .arg("snp")
        .args(args)
        .output()
        .expect("sev-snp-measure (pip install sev-snp-measure; scripts/test installs it)");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Both tools on `args`: equal digests, 96 hex characters.
fn agree(args: &[&str]) -> String {
    let want = reference(args).unwrap_or_else(|e| panic!("sev-snp-measure {args:?}: {e}"));
    let got = ours(args);
    assert_eq!(got.code, EXIT_OK, "{args:?}: {}", got.stderr);
    assert_eq!(got.stdout.trim(), want, "{args:?}");
    assert_eq!(want.len(), 96);
    want
}

fn fixture(name: &str) -> String {
    format!("{}/data/measure/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Debian's OVMF images with SEV metadata (package ovmf).
fn debian_ovmf() -> Vec<String> {
    let found: Vec<String> = ["/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF_CODE.fd"]
        .into_iter()
        .filter(|p| Path::new(p).exists())
        .map(String::from)
        .collect();
    assert!(!found.is_empty(), "Debian's OVMF (apt install ovmf; scripts/test installs it)");
    found
}

/// A Debian kernel the VM test cached, if any.
fn cached_kernel() -> Option<PathBuf> {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/vm-cache");
    let mut found = Vec::new();
    for dir in std::fs::read_dir(cache).ok()?.flatten() {
        if let Ok(boot) = std::fs::read_dir(dir.path().join("image/boot")) {
            found.extend(
                boot.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz"))),
            );
        }
    }
    found.into_iter().next()
}

#[test]
fn firmware_only_measurements_agree_with_sev_snp_measure() {
    let mut images = debian_ovmf();
    images.push(fixture("ovmf_OvmfX64_suffix.bin"));
    images.push(fixture("ovmf_AmdSev_suffix.bin"));
    let mut seen = std::collections::HashSet::new();
    for (i, ovmf) in images.iter().enumerate() {
        for (vcpus, vcpu_type) in [("1", "EPYC-v4"), ("2", "EPYC-Milan"), ("7", "EPYC-Genoa"), ("64", "EPYC-Turin")] {
            // Spread the types over the images rather than multiply them out.
            let vcpu_type = if i % 2 == 1 && vcpu_type == "EPYC-v4" { "EPYC" } else { vcpu_type };
            seen.insert(agree(&["--ovmf", ovmf, "--vcpus", vcpus, "--vcpu-type", vcpu_type]));
        }
    }
    assert_eq!(seen.len(), images.len() * 4, "every input set has its own digest");

    let ovmf = &images[0];
    // The signature, or family/model/stepping, instead of the type; the other VMM; other
    // guest features.
    let milan = agree(&["--ovmf", ovmf, "--vcpus", "4", "--vcpu-type", "EPYC-Milan"]);
    assert_eq!(agree(&["--ovmf", ovmf, "--vcpus", "4", "--vcpu-sig", "0xa00f11"]), milan);
    let fms = ["--vcpu-family", "25", "--vcpu-model", "1", "--vcpu-stepping", "1"];
    let mut args = vec!["--ovmf", ovmf.as_str(), "--vcpus", "4"];
    args.extend(fms);
    assert_eq!(agree(&args), milan);
    assert_eq!(agree(&["--ovmf", ovmf, "--vcpus", "4", "--vcpu-type", "EPYC-Milan", "--vmm-type", "QEMU"]), milan);
    let features = agree(&["--ovmf", ovmf, "--vcpus", "4", "--vcpu-type", "EPYC-Milan", "--guest-features", "0x21"]);
    assert_ne!(features, milan);
}

#[test]
fn measured_direct_boot_agrees_with_sev_snp_measure() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let kernel = match cached_kernel() {
        Some(k) => k.to_str().unwrap().to_owned(),
        // 8 MiB of deterministic, kernel-sized bytes.
        None => write(
            "vmlinuz",
            &(0..8u32 << 20).map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[1]).collect::<Vec<_>>(),
        ),
    };
    let initrd = write("initrd.img", &vec![0x5a; 3 << 20]);
    let ovmf = fixture("ovmf_AmdSev_suffix.bin");
    let base = ["--ovmf", ovmf.as_str(), "--kernel", kernel.as_str()];
    let mut seen = std::collections::HashSet::new();
    for (vcpus, vcpu_type) in [("1", "EPYC-v4"), ("4", "EPYC-Milan"), ("16", "EPYC-Genoa")] {
        for extra in [
            vec!["--initrd", initrd.as_str(), "--append", "console=ttyS0 root=/dev/mapper/root ro quiet"],
            vec!["--initrd", initrd.as_str()],
            vec!["--append", "ip=dhcp cryptdevice=UUID=\"x y\" ünïcode"],
            vec![],
        ] {
            let mut args = base.to_vec();
            args.extend(["--vcpus", vcpus, "--vcpu-type", vcpu_type]);
            args.extend(extra.iter().copied());
            seen.insert(agree(&args));
        }
    }
    assert_eq!(seen.len(), 12, "kernel, initrd, command line and vCPUs each change the digest");
    // The same boot files with a firmware-only image: both tools refuse.
    let debian = &debian_ovmf()[0];
    let args = ["--ovmf", debian.as_str(), "--kernel", kernel.as_str(), "--vcpus", "1", "--vcpu-type", "EPYC-v4"];
    assert!(reference(&args).is_err());
    let run = ours(&args);
    assert_eq!(run.code, EXIT_BAD_INPUT);
    assert!(run.stderr.contains("AmdSev"), "{}", run.stderr);
}

/// Debian's 4 MiB build has no SEV metadata, so no secrets or CPUID page: it cannot
/// launch an SEV-SNP guest. The reference tool still prints a digest for it; a
/// digest no guest can ever report is refused here, with the reason.
#[test]
fn a_firmware_that_cannot_launch_snp_is_refused_with_the_reason() {
    let code_4m = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    assert!(Path::new(code_4m).exists(), "Debian's ovmf package");
    let args = ["--ovmf", code_4m, "--vcpus", "1", "--vcpu-type", "EPYC-v4"];
    assert!(reference(&args).is_ok(), "the reference measures it");
    let run = ours(&args);
    assert_eq!(run.code, EXIT_BAD_INPUT);
    assert!(run.stderr.contains("cannot launch an SEV-SNP guest"), "{}", run.stderr);
}

#[test]
fn json_says_what_is_covered_and_policy_out_writes_a_policy_that_pins_it() {
    let dir = tempfile::tempdir().unwrap();
    let ovmf = &debian_ovmf()[0];
    let run = ours(&["--ovmf", ovmf, "--vcpus", "2", "--vcpu-type", "EPYC-v4"]);
    assert!(run.stderr.contains("covers only the firmware"), "a firmware-only digest says so: {}", run.stderr);
    let policy = dir.path().join("policy.toml");
    let p = policy.to_str().unwrap();
    let run = ours(&["--ovmf", ovmf, "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--json", "--policy-out", p]);
    assert_eq!(run.code, EXIT_OK, "{}", run.stderr);
    let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let digest = j["measurement"].as_str().unwrap().to_owned();
    assert_eq!(digest, agree(&["--ovmf", ovmf, "--vcpus", "2", "--vcpu-type", "EPYC-v4"]));
    assert_eq!(
        (j["vcpus"].as_u64(), j["vcpu_type"].as_str(), j["vmm_type"].as_str()),
        (Some(2), Some("EPYC-v4"), Some("qemu"))
    );
    assert!(j["kernel"].is_null() && j["warnings"][0].as_str().unwrap().contains("only the firmware"));
    assert_eq!(j["ovmf"]["sha256"].as_str().map(str::len), Some(64));
    assert!(j["ovmf_facts"]["sections"].as_array().unwrap().iter().any(|s| s["kind"] == "secrets"), "{j}");
    // The policy loads and pins exactly this digest; it is never overwritten.
    let loaded = cvm_console::policy_file::load_policy(&policy).unwrap();
    assert_eq!(loaded.policy.measurements.len(), 1);
    assert_eq!(hex::encode(loaded.policy.measurements[0].0), digest);
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains("WARNING: this measurement covers only the firmware"), "{text}");
    let again = ours(&["--ovmf", ovmf, "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--policy-out", p]);
    assert_eq!(again.code, EXIT_BAD_INPUT);
    assert!(again.stderr.contains("never overwritten"), "{}", again.stderr);
    // Base64, as the reference's --output-format base64.
    let b64 = ours(&["--ovmf", ovmf, "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--output-format", "base64"]);
    let reference_b64 = Command::new("sev-snp-measure")
        .args(["--mode", "snp", "--ovmf", ovmf, "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--output-format", "base64"])
        .output()
        .unwrap();
    assert_eq!(b64.stdout.trim(), String::from_utf8(reference_b64.stdout).unwrap().trim());
}

#[test]
fn truncated_hostile_and_odd_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let real = std::fs::read(fixture("ovmf_AmdSev_suffix.bin")).unwrap();
    let mut cases: Vec<(String, &str)> = vec![
        (write("empty.fd", b""), "4 KiB pages"),
        (write("short.fd", &real[..4000]), "4 KiB pages"),
        (write("zeros.fd", &[0; 8192]), "footer"),
    ];
    // Every 4-byte field of the footer and metadata region set to extremes: errors
    // or digests, never a panic (the sev crate would index out of bounds on several).
    let mut bent = Vec::new();
    for at in (real.len() - 512..real.len() - 32).step_by(2) {
        for v in [0u8, 0xff, 0x7f] {
            let mut b = real.clone();
            b[at] = v;
            b[at + 1] = v;
            bent.push(b);
        }
    }
    for (i, b) in bent.iter().enumerate() {
        let path = write(&format!("bent{i}.fd"), b);
        let run = ours(&["--ovmf", &path, "--vcpus", "1", "--vcpu-type", "EPYC-v4"]);
        assert!(run.code == EXIT_OK || run.code == EXIT_BAD_INPUT, "{i}: {}", run.stderr);
    }
    let odd = write("odd\x1b[2J.fd", b"\x1b[2Jnot firmware");
    cases.push((odd, "4 KiB pages"));
    for (path, want) in &cases {
        let run = ours(&["--ovmf", path, "--vcpus", "1", "--vcpu-type", "EPYC-v4"]);
        assert_eq!(run.code, EXIT_BAD_INPUT, "{path}: {}", run.stdout);
        assert!(run.stderr.contains(want), "{path}: {}", run.stderr);
        assert!(!run.stderr.contains('\x1b'), "escaped: {:?}", run.stderr);
    }
    let ovmf = fixture("ovmf_OvmfX64_suffix.bin");
    for (args, want) in [
        (vec!["--vcpus", "0", "--vcpu-type", "EPYC-v4"], "--vcpus"),
        (vec!["--vcpus", "1", "--vcpu-type", "Pentium"], "--vcpu-type"),
        (vec!["--vcpus", "1", "--vcpu-sig", "0x1234"], "--vcpu-sig"),
        (vec!["--vcpus", "1", "--vcpu-type", "EPYC-v4", "--vmm-type", "gce"], "only QEMU"),
        // The sev crate's EC2 VMSA differs from the reference's: refused, not guessed.
        (vec!["--vcpus", "1", "--vcpu-type", "EPYC-v4", "--vmm-type", "ec2"], "only QEMU"),
        (vec!["--vcpus", "1", "--vcpu-type", "EPYC-v4", "--append", "x"], "--kernel"),
        (vec!["--vcpus", "1"], "--vcpu"),
        (vec!["--vcpus", "1", "--vcpu-type", "EPYC-v4", "--kernel", "/nonexistent/vmlinuz"], "AmdSev"),
        (vec!["--vcpus", "1", "--vcpu-type", "EPYC-v4", "--mode", "sev"], "sev"),
    ] {
        let mut all = vec!["--ovmf", ovmf.as_str()];
        all.extend(args.iter().copied());
        let run = ours(&all);
        assert_eq!(run.code, EXIT_BAD_INPUT, "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
}
