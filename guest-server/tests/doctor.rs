//! `cvm-consoled doctor` against fake /sys, /proc, /dev and /etc trees: a leaky
//! guest is flagged on every path, a clean one passes.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use cvm_consoled::doctor::{Severity, audit};

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A guest that leaks on every path doctor checks: (file under the root, contents).
const LEAKY: &[(&str, &str)] = &[
    ("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1 console=tty0 console=ttyS0,115200n8 quiet\n"),
    ("sys/class/graphics/fb0/name", "bochs-drmdrmfb\n"),
    ("sys/class/misc/hw_random/rng_current", "virtio_rng.0\n"),
    ("etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service", ""),
    ("etc/systemd/system/getty.target.wants/getty@tty1.service", ""),
    ("etc/cloud/cloud.cfg", "users:\n  - default\ndisable_root: true\n"),
    ("etc/cloud/cloud.cfg.d/50-pw.cfg", "ssh_pwauth: true\nchpasswd:\n  expire: false\n"),
];

/// A guest that does everything right; its kernel came by measured direct boot (the
/// VMM loaded it: no boot loader argument).
const CLEAN: &[(&str, &str)] = &[
    ("proc/cmdline", "root=/dev/vda1 quiet\n"),
    ("dev/sev-guest", ""),
    ("sys/class/graphics/fb0/name", "vkmsdrmfb\n"),
    ("sys/class/misc/hw_random/rng_current", "none\n"),
    ("etc/systemd/system/getty.target.wants/getty@tty1.service", ""),
    ("etc/cloud/cloud.cfg", "users: [default]\n"),
    ("etc/cloud/cloud-init.disabled", ""),
];

fn tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        put(root, rel, text);
    }
}

fn leaky_guest(root: &Path) {
    tree(root, LEAKY);
}

fn clean_guest(root: &Path) {
    tree(root, CLEAN);
}

#[test]
fn a_leaky_guest_is_flagged_on_every_path_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    leaky_guest(dir.path());
    let findings = audit(dir.path());
    let ids: Vec<&str> = findings.iter().map(|f| f.id).collect();
    for id in [
        "not-confidential",
        "host-visible-display",
        "serial-getty",
        "vt-getty-on-visible-display",
        "kernel-console",
        "virtio-rng",
        "cloud-init",
        "kernel-from-disk",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let console_args: Vec<_> = findings.iter().filter(|f| f.id == "kernel-console").collect();
    assert_eq!(console_args.len(), 2, "tty0 on a visible display and ttyS0");
    assert!(findings.iter().all(|f| !f.fix.is_empty()));
    assert!(
        findings.iter().any(|f| f.id == "cloud-init" && f.severity == Severity::High && f.title.contains("ssh_pwauth"))
    );
    assert!(findings.first().is_some_and(|f| f.severity == Severity::High), "worst first");
}

#[test]
fn a_running_serial_getty_is_flagged_even_when_no_configuration_names_it() {
    let dir = tempfile::tempdir().unwrap();
    clean_guest(dir.path());
    // What systemd's generator starts for console=ttyS0: no wants link, only the process.
    let argv = |args: &[&str]| args.iter().map(|a| format!("{a}\0")).collect::<String>();
    let agetty = argv(&["/sbin/agetty", "-o", "-p -- \\u", "--keep-baud", "115200,57600", "ttyS0", "vt220"]);
    put(dir.path(), "proc/812/cmdline", &agetty);
    put(dir.path(), "proc/813/cmdline", &argv(&["/sbin/agetty", "--noclear", "-", "linux"])); // no tty argument
    put(dir.path(), "proc/900/cmdline", &argv(&["bash", "ttyS0"])); // not a getty
    put(dir.path(), "proc/self/cmdline", &argv(&["/sbin/getty", "ttyS1"])); // not a pid
    let findings = audit(dir.path());
    let serial: Vec<_> = findings.iter().filter(|f| f.id == "serial-getty").collect();
    assert_eq!(serial.len(), 1, "{findings:?}");
    assert!(serial[0].title.contains("ttyS0") && serial[0].title.contains("agetty, pid 812"), "{}", serial[0].title);
    assert!(serial[0].fix.contains("serial-getty@ttyS0"), "{}", serial[0].fix);

    // Configured and running: one finding, naming the configuration.
    put(dir.path(), "etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service", "");
    let findings = audit(dir.path());
    let serial: Vec<_> = findings.iter().filter(|f| f.id == "serial-getty").collect();
    assert_eq!(serial.len(), 1, "{findings:?}");
    assert!(serial[0].title.contains("serial-getty@ttyS0.service"), "{}", serial[0].title);
}

/// Single-user mode: a serial getty rescue.target starts, and systemd's sulogin on a
/// /dev/console the host reads, are flagged; the attested rescue console and a
/// drop-in taking sulogin off /dev/console clear them.
#[test]
fn single_user_mode_on_a_host_visible_console_is_flagged() {
    let sulogin = "[Service]\nExecStart=-/usr/lib/systemd/systemd-sulogin-shell rescue\nStandardInput=tty-force\n";
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clean_guest(root);
    put(root, "proc/cmdline", "root=/dev/vda1 console=ttyS0,115200\n");
    put(root, "lib/systemd/system/rescue.target", "[Unit]\n");
    put(root, "lib/systemd/system/rescue.service", sulogin);
    put(root, "lib/systemd/system/emergency.service", &sulogin.replace("rescue", "emergency"));
    put(root, "etc/systemd/system/rescue.target.wants/serial-getty@ttyS0.service", "");
    let ids = |root: &Path| audit(root).iter().map(|f| f.id).collect::<Vec<_>>();
    let found = ids(root);
    assert!(found.contains(&"single-user-getty"), "{found:?}");
    assert!(found.contains(&"single-user-sulogin-on-host-console"), "{found:?}");
    assert!(found.contains(&"single-user-not-attested"), "{found:?}");
    let high = audit(root);
    let getty = high.iter().find(|f| f.id == "single-user-getty").unwrap();
    assert_eq!(getty.severity, Severity::High);
    assert!(getty.title.contains("ttyS0") && getty.fix.contains("cvm-consoled-rescue"), "{}", getty.fix);

    // The fix: the getty gone, the attested rescue console enabled, sulogin taken off
    // /dev/console by a drop-in for rescue.service and emergency.service masked.
    std::fs::remove_file(root.join("etc/systemd/system/rescue.target.wants/serial-getty@ttyS0.service")).unwrap();
    put(root, "etc/systemd/system/rescue.target.wants/cvm-consoled-rescue.service", "");
    put(root, "etc/systemd/system/rescue.service.d/no-console.conf", "[Service]\nExecStart=\nExecStart=/bin/true\n");
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    std::os::unix::fs::symlink("/dev/null", root.join("etc/systemd/system/emergency.service")).unwrap();
    let found = ids(root);
    assert!(!found.iter().any(|id| id.starts_with("single-user")), "{found:?}");

    // With no console= at all, /dev/console is tty0: visible only with an emulated display.
    put(root, "proc/cmdline", "root=/dev/vda1\n");
    std::fs::remove_file(root.join("etc/systemd/system/rescue.service.d/no-console.conf")).unwrap();
    assert!(!ids(root).contains(&"single-user-sulogin-on-host-console"), "vkms only: tty0 is private");
    put(root, "sys/class/graphics/fb0/name", "bochs-drmdrmfb\n");
    assert!(ids(root).contains(&"single-user-sulogin-on-host-console"));
}

#[test]
fn a_clean_guest_passes() {
    let dir = tempfile::tempdir().unwrap();
    clean_guest(dir.path());
    let findings = audit(dir.path());
    let ids: Vec<_> = findings.iter().map(|f| (f.id, f.severity)).collect();
    // All that is left to say: a direct boot's hashes cannot be seen from inside.
    assert_eq!(ids, vec![("kernel-direct-boot", Severity::Info)], "{findings:?}");
}

#[test]
fn a_kernel_a_boot_loader_read_from_disk_is_flagged() {
    const VENDOR: &str = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
    for (file, text, says) in [
        ("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=x ro quiet\n", "GRUB loaded"),
        (&format!("sys/firmware/efi/efivars/LoaderImageIdentifier-{VENDOR}") as &str, "x", "systemd-boot"),
        (&format!("sys/firmware/efi/efivars/StubInfo-{VENDOR}") as &str, "x", "systemd-stub"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        clean_guest(dir.path());
        put(dir.path(), file, text);
        let findings = audit(dir.path());
        let disk: Vec<_> = findings.iter().filter(|f| f.id == "kernel-from-disk").collect();
        assert_eq!(disk.len(), 1, "{file}: {findings:?}");
        assert_eq!(disk[0].severity, Severity::High);
        assert!(disk[0].title.contains(says) && disk[0].fix.contains("measured direct boot"), "{}", disk[0].title);
        assert!(findings.iter().all(|f| f.id != "kernel-direct-boot"));
    }
}

#[test]
fn the_command_prints_json_and_exits_non_zero_on_high_findings() {
    let dir = tempfile::tempdir().unwrap();
    leaky_guest(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_cvm-consoled"))
        .args(["doctor", "--json", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert!(j["findings"].as_array().unwrap().iter().any(|f| f["id"] == "serial-getty" && f["severity"] == "high"));

    let clean = tempfile::tempdir().unwrap();
    clean_guest(clean.path());
    let out =
        Command::new(env!("CARGO_BIN_EXE_cvm-consoled")).args(["doctor", "--root"]).arg(clean.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no host-visible console"));
}

fn test_data(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The guest's own evidence: a debug TD (TDATTRIBUTES bit 0), an SEV-SNP guest whose
/// policy allows debugging or a migration agent; the real quote and report as they are
/// raise nothing.
#[test]
fn a_debug_td_and_a_debug_snp_guest_are_flagged_from_their_own_evidence() {
    use cvm_consoled::doctor::launch_findings;
    use cvmc_protocol::evidence::Tee;
    let quote = test_data("tdx/dcapqvl_tdx_quote");
    assert!(launch_findings(Tee::TDX, &quote).is_empty());
    let mut debug_td = quote.clone();
    // Quote header (48 bytes), then TEE_TCB_SVN 16, MRSEAM 48, MRSIGNERSEAM 48,
    // SEAMATTRIBUTES 8: TDATTRIBUTES starts at 168.
    debug_td[168] |= 1;
    let f = launch_findings(Tee::TDX, &debug_td);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].id, f[0].severity), ("debug-guest", Severity::High));
    assert!(f[0].title.contains("debug TD"), "{}", f[0].title);

    let report = test_data("snp/milan_attestation_report.bin");
    assert!(launch_findings(Tee::SEV_SNP, &report).is_empty());
    let mut debug = report.clone();
    debug[8 + 2] |= 1 << 3; // POLICY bit 19
    let f = launch_findings(Tee::SEV_SNP, &debug);
    assert_eq!(f.iter().map(|f| f.id).collect::<Vec<_>>(), ["debug-guest"]);
    let mut ma = report.clone();
    ma[8 + 2] |= 1 << 2; // POLICY bit 18
    let f = launch_findings(Tee::SEV_SNP, &ma);
    assert_eq!(f.iter().map(|f| (f.id, f.severity)).collect::<Vec<_>>(), [("migration-agent", Severity::Warning)]);
    let f = launch_findings(Tee::SEV_SNP, &report[..100]);
    assert_eq!(f[0].id, "own-evidence-unreadable");
}

/// Azure: the real HCL report's claims say console-enabled: true, which doctor flags
/// as high (the serial console is the host-side path this product replaces); with the
/// claim false nothing is raised, and the embedded report is judged like any other.
#[test]
fn an_enabled_azure_serial_console_is_flagged_from_the_hcl_reports_claims() {
    use cvm_consoled::doctor::launch_findings;
    use cvmc_protocol::azure::hcl::{self, HclReport, HwReportType};
    use cvmc_protocol::evidence::Tee;
    let raw = test_data("azure/azcvm_hcl-report-snp.bin");
    let f = launch_findings(Tee::AZURE_SNP, &raw);
    assert_eq!(f.iter().map(|f| (f.id, f.severity)).collect::<Vec<_>>(), [("azure-serial-console", Severity::High)]);
    let h = HclReport::parse(&raw).unwrap();
    let off = String::from_utf8(h.variable_data.to_vec())
        .unwrap()
        .replace("\"console-enabled\":true", "\"console-enabled\":false");
    let quiet = hcl::encode(HwReportType::Snp, h.hw_report, off.as_bytes(), 2048);
    assert!(launch_findings(Tee::AZURE_SNP, &quiet).is_empty());
    let mut debug = h.hw_report.to_vec();
    debug[8 + 2] |= 1 << 3; // POLICY bit 19
    let bent = hcl::encode(HwReportType::Snp, &debug, off.as_bytes(), 2048);
    assert_eq!(launch_findings(Tee::AZURE_SNP, &bent).iter().map(|f| f.id).collect::<Vec<_>>(), ["debug-guest"]);
    assert_eq!(launch_findings(Tee::AZURE_SNP, &raw[..100])[0].id, "own-evidence-unreadable");
}
