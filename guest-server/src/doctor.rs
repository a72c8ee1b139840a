//! `cvm-consoled doctor`: audit this guest for the ways in that bypass cvm-console —
//! consoles and devices the host can see, and host-supplied credentials.
//!
//! Every check reads files under a root directory (`/` normally, a fake tree in
//! tests) and never changes anything. Each finding says how to fix it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::display::source::fbdev::{Visibility, classify};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Weakens the guarantee.
    Warning,
    /// The host can see or do what cvm-console is meant to prevent.
    High,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier for scripts.
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// What was found.
    pub title: String,
    /// How to fix it.
    pub fix: String,
}

fn read(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel.trim_start_matches('/'))).ok()
}

fn exists(root: &Path, rel: &str) -> bool {
    root.join(rel.trim_start_matches('/')).exists()
}

fn list(root: &Path, rel: &str) -> Vec<(String, PathBuf)> {
    let Ok(dir) = std::fs::read_dir(root.join(rel.trim_start_matches('/'))) else { return Vec::new() };
    let mut out: Vec<_> = dir.flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())).collect();
    out.sort();
    out
}

/// Run every check against the tree at `root`.
pub fn audit(root: &Path) -> Vec<Finding> {
    let mut f = Vec::new();
    confidential_guest(root, &mut f);
    let visible_display = host_visible_framebuffers(root, &mut f);
    gettys(root, visible_display, &mut f);
    kernel_console(root, visible_display, &mut f);
    single_user_mode(root, visible_display, &mut f);
    kernel_loading(root, &mut f);
    hwrng(root, &mut f);
    cloud_init(root, &mut f);
    f.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
    f
}

fn confidential_guest(root: &Path, f: &mut Vec<Finding>) {
    if !confidential(root) {
        f.push(Finding {
            id: "not-confidential",
            severity: Severity::High,
            title: "no /dev/sev-guest, /dev/tdx_guest or configfs-tsm: this does not look like an SEV-SNP or TDX guest"
                .into(),
            fix: "run the guest as an SEV-SNP or TDX confidential VM with the sev-guest / tdx-guest driver loaded; \
                  without one the host can read all guest memory"
                .into(),
        });
    }
}

/// Host-visible framebuffers; returns whether any exists (a VT on one is visible).
fn host_visible_framebuffers(root: &Path, f: &mut Vec<Finding>) -> bool {
    let mut visible = false;
    for (fb, _) in list(root, "/sys/class/graphics").into_iter().filter(|(n, _)| n.starts_with("fb")) {
        let Some(name) = read(root, &format!("/sys/class/graphics/{fb}/name")) else { continue };
        if let Visibility::HostVisible(why) | Visibility::Unknown(why) = classify(&name) {
            visible = true;
            f.push(Finding {
                id: "host-visible-display",
                severity: Severity::Warning,
                title: format!("/dev/{fb}: {why}"),
                fix: "boot with no emulated display (QEMU -vga none / no virtio-gpu) and serve a guest-private vkms \
                      framebuffer with --display fbdev:/dev/fbN"
                    .into(),
            });
        }
    }
    visible
}

fn gettys(root: &Path, visible_display: bool, f: &mut Vec<Finding>) {
    // (tty, what starts the getty, how to stop it): configured ones first.
    let mut found: Vec<(String, String, String)> = Vec::new();
    let mut units = Vec::new();
    for dir in ["/etc/systemd/system/getty.target.wants", "/etc/systemd/system/multi-user.target.wants"] {
        units.extend(list(root, dir).into_iter().map(|(n, _)| n));
    }
    if let Some(inittab) = read(root, "/etc/inittab") {
        units.extend(inittab.lines().filter_map(inittab_getty_tty));
    }
    for unit in units {
        let tty = unit.trim_end_matches(".service").rsplit('@').next().unwrap_or(&unit).to_owned();
        let fix = format!("systemctl disable --now {unit}; log in through cvm-console instead");
        found.push((tty, unit, fix));
    }
    // Then the ones running now that no configuration above names: e.g. the
    // serial-getty@ttyS0 that systemd's generator starts for console=ttyS0 without any
    // wants link, or one started by hand.
    for (tty, what) in running_gettys(root) {
        if found.iter().all(|(t, ..)| *t != tty) {
            let fix = format!(
                "stop it and what starts it (for a console= argument: remove it from the kernel command line, \
                 or systemctl mask serial-getty@{tty}.service); log in through cvm-console instead"
            );
            found.push((tty, what, fix));
        }
    }
    for (tty, what, fix) in found {
        let serial = tty.starts_with("ttyS") || tty.starts_with("hvc") || tty.starts_with("ttyAMA");
        let vt = tty.starts_with("tty") && tty[3..].chars().all(|c| c.is_ascii_digit()) && tty.len() > 3;
        if serial {
            f.push(Finding {
                id: "serial-getty",
                severity: Severity::High,
                title: format!("a login prompt on {tty} ({what}): the host reads and types on serial and hvc consoles"),
                fix,
            });
        } else if vt && visible_display {
            f.push(Finding {
                id: "vt-getty-on-visible-display",
                severity: Severity::High,
                title: format!("a login prompt on {tty} ({what}) is drawn on a framebuffer the host can see"),
                fix: format!("remove the emulated display, or {fix}"),
            });
        }
    }
}

/// Getty processes running now, from /proc/<pid>/cmdline: (tty, "running: NAME, pid N").
fn running_gettys(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (pid, path) in list(root, "/proc") {
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A process may exit between listing and reading: skip it.
        let Ok(raw) = std::fs::read(path.join("cmdline")) else { continue };
        let argv: Vec<String> =
            raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let Some((program, args)) = argv.split_first() else { continue };
        let name = program.rsplit('/').next().unwrap_or(program);
        if !name.contains("getty") {
            continue;
        }
        let tty =
            args.iter().map(|a| a.trim_start_matches("/dev/")).find(|a| a.starts_with("tty") || a.starts_with("hvc"));
        if let Some(tty) = tty {
            out.push((tty.to_owned(), format!("running: {name}, pid {pid}")));
        }
    }
    out
}

/// The terminal an inittab line runs a getty on, for sysvinit (`id:runlevels:action:process`)
/// and busybox (`tty::action:process`) alike: the getty's tty argument, else busybox's
/// id field (the terminal it runs the process on).
fn inittab_getty_tty(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let mut fields = line.splitn(4, ':');
    let (id, _runlevels, _action, process) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    if !process.contains("getty") {
        return None;
    }
    let is_tty = |w: &&str| w.starts_with("tty") || w.starts_with("hvc");
    let id = id.trim_start_matches("/dev/");
    process
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_start_matches("/dev/"))
        .find(is_tty)
        .or_else(|| Some(id).filter(is_tty))
        .map(String::from)
}

fn kernel_console(root: &Path, visible_display: bool, f: &mut Vec<Finding>) {
    let Some(cmdline) = read(root, "/proc/cmdline") else { return };
    for arg in cmdline.split_whitespace().filter_map(|a| a.strip_prefix("console=")) {
        let dev = arg.split(',').next().unwrap_or(arg);
        let serial = dev.starts_with("ttyS") || dev.starts_with("hvc") || dev.starts_with("ttyAMA");
        if serial || (dev.starts_with("tty") && visible_display) {
            f.push(Finding {
                id: "kernel-console",
                severity: Severity::Warning,
                title: format!("console={arg} on the kernel command line: kernel messages and emergency shells go where the host sees them"),
                fix: format!("remove console={arg} from the kernel command line (e.g. GRUB_CMDLINE_LINUX) and update the boot entry"),
            });
        }
    }
}

fn is_serial(dev: &str) -> bool {
    dev.starts_with("ttyS") || dev.starts_with("hvc") || dev.starts_with("ttyAMA")
}

/// The device behind /dev/console: the last console= argument (the kernel's rule),
/// else the first VT.
fn dev_console(root: &Path) -> String {
    read(root, "/proc/cmdline")
        .and_then(|c| {
            c.split_whitespace()
                .rev()
                .find_map(|a| a.strip_prefix("console="))
                .map(|a| a.split(',').next().unwrap_or(a).to_owned())
        })
        .unwrap_or_else(|| "tty0".into())
}

/// Where a unit file is: an admin's copy under /etc first (a link to /dev/null masks
/// it), then the vendor's.
fn unit_file(root: &Path, unit: &str) -> Option<(PathBuf, bool)> {
    for dir in ["/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"] {
        let rel = format!("{dir}/{unit}");
        let path = root.join(rel.trim_start_matches('/'));
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            let masked =
                meta.file_type().is_symlink() && std::fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null"));
            return Some((path, masked));
        }
    }
    None
}

/// Single-user mode (rescue.target, emergency.target): the root password of a
/// recovery must not be typed where the host reads it. Flags a getty those targets
/// start on a serial console, systemd's own sulogin on a host-visible /dev/console
/// unless the admin replaced it, and single-user mode without the attested console.
fn single_user_mode(root: &Path, visible_display: bool, f: &mut Vec<Finding>) {
    for target in ["rescue.target", "emergency.target"] {
        for (unit, _) in list(root, &format!("/etc/systemd/system/{target}.wants")) {
            let tty = unit.trim_end_matches(".service").rsplit('@').next().unwrap_or(&unit).to_owned();
            if unit.contains("getty") && (is_serial(&tty) || visible_display) {
                f.push(Finding {
                    id: "single-user-getty",
                    severity: Severity::High,
                    title: format!(
                        "{target} starts a login prompt on {tty} ({unit}): the root password of a recovery is typed \
                         where the host reads and types"
                    ),
                    fix: format!(
                        "rm /etc/systemd/system/{target}.wants/{unit}; recover through cvm-console \
                         (cvm-consoled-rescue.service)"
                    ),
                });
            }
        }
    }
    let console = dev_console(root);
    let console_visible = is_serial(&console) || (console.starts_with("tty") && visible_display);
    for service in ["rescue.service", "emergency.service"] {
        let Some((path, masked)) = unit_file(root, service) else { continue };
        // The admin's drop-in replacing ExecStart takes sulogin off /dev/console.
        let dropins = list(root, &format!("/etc/systemd/system/{service}.d"));
        let replaced = dropins
            .iter()
            .any(|(_, p)| std::fs::read_to_string(p).is_ok_and(|t| t.lines().any(|l| l.trim() == "ExecStart=")));
        let sulogin = std::fs::read_to_string(&path).is_ok_and(|t| t.contains("sulogin"));
        if !masked && !replaced && sulogin && console_visible {
            f.push(Finding {
                id: "single-user-sulogin-on-host-console",
                severity: Severity::Warning,
                title: format!(
                    "{service} asks for the root password on /dev/console ({console}), which the host reads: a \
                     recovery typed there leaks the password"
                ),
                fix: format!(
                    "recover through cvm-console (cvm-consoled-rescue.service serves sulogin over the attested \
                     channel); remove console={console} from the kernel command line, or add a drop-in \
                     /etc/systemd/system/{service}.d/ with an empty ExecStart= and one that does not read a \
                     password on /dev/console"
                ),
            });
        }
    }
    let attested = ["rescue.target", "emergency.target"].iter().any(|t| {
        list(root, &format!("/etc/systemd/system/{t}.wants")).iter().any(|(u, _)| u == "cvm-consoled-rescue.service")
    });
    let has_rescue = unit_file(root, "rescue.target").is_some() || unit_file(root, "rescue.service").is_some();
    if has_rescue && !attested {
        f.push(Finding {
            id: "single-user-not-attested",
            severity: Severity::Warning,
            title: "single-user mode (rescue.target, emergency.target) starts no attested console: a recovery \
                    needs a console the host can reach"
                .into(),
            fix: "systemctl enable cvm-consoled-rescue.service (installed by the cvm-consoled package)".into(),
        });
    }
}

/// systemd's vendor GUID for the EFI variables its boot loader and stub set.
const SYSTEMD_EFI_VENDOR: &str = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

/// How the running kernel was loaded, as far as the guest can tell: the launch
/// measurement (what the client pins) covers the firmware, and covers the kernel,
/// initrd and command line only with measured direct boot. A kernel a boot loader read
/// from a disk is not in it, so the host could have booted any kernel and any
/// cvm-consoled (docs/DESIGN.md "What the measurement must cover").
fn kernel_loading(root: &Path, f: &mut Vec<Finding>) {
    let Some(cmdline) = read(root, "/proc/cmdline") else { return };
    let efivar = |name: &str| exists(root, &format!("/sys/firmware/efi/efivars/{name}-{SYSTEMD_EFI_VENDOR}"));
    let loader = if let Some(image) = cmdline.split_whitespace().find_map(|a| a.strip_prefix("BOOT_IMAGE=")) {
        Some(format!("GRUB loaded {image}"))
    } else if efivar("StubInfo") {
        Some("systemd-stub started a unified kernel image from the EFI system partition".to_owned())
    } else if efivar("LoaderImageIdentifier") {
        Some("systemd-boot loaded it from the EFI system partition".to_owned())
    } else {
        None
    };
    let fix = "boot with measured direct boot, so the launch measurement covers the kernel, initrd and command \
               line (QEMU -kernel/-initrd/-append with kernel hashes, an IGVM file, or a UKI the firmware \
               measures at launch), and pin that measurement (cvm-console measure)";
    match loader {
        Some(how) => f.push(Finding {
            id: "kernel-from-disk",
            severity: Severity::High,
            title: format!(
                "the kernel was loaded from a disk the host controls ({how}): the launch measurement covers only \
                 the firmware, so it proves nothing about this kernel, its initrd or cvm-consoled"
            ),
            fix: fix.into(),
        }),
        None if confidential(root) => f.push(Finding {
            id: "kernel-direct-boot",
            severity: Severity::Info,
            title: "no boot loader left a trace: the kernel was booted directly by the VMM. Whether its hashes are \
                    part of the launch measurement cannot be seen from inside the guest"
                .into(),
            fix: "compare the report's MEASUREMENT with `cvm-console measure --ovmf … --kernel … --initrd … \
                  --append …` for the files you booted"
                .into(),
        }),
        None => {}
    }
}

/// What this guest's own evidence says about how it was launched: a debug guest (SEV-SNP
/// POLICY.DEBUG, TDX TDATTRIBUTES.DEBUG) or one that allows a migration agent has memory
/// the host can read or export. Pure: the caller asks the provider for the evidence
/// ([`self_evidence_findings`] on a live system).
pub fn launch_findings(tee: cvmc_protocol::evidence::Tee, report: &[u8]) -> Vec<Finding> {
    use cvmc_protocol::evidence::Tee;
    use cvmc_protocol::snp::verify::policy_bits;
    let mut f = Vec::new();
    let debug = |what: &str| Finding {
        id: "debug-guest",
        severity: Severity::High,
        title: format!("{what}: the host can read and change this guest's memory, so nothing in it is confidential"),
        fix: "relaunch without debugging (SEV-SNP: clear POLICY bit 19; TDX: clear TDATTRIBUTES.DEBUG, e.g. no \
              debug=on on the tdx-guest object); clients refuse such a guest unless their policy allows debug"
            .into(),
    };
    if [Tee::AZURE_SNP, Tee::SIMULATED_AZURE_SNP, Tee::AZURE_TDX, Tee::SIMULATED_AZURE_TDX].contains(&tee) {
        let hcl = match cvmc_protocol::azure::hcl::HclReport::parse(report) {
            Ok(h) => h,
            Err(e) => return vec![unreadable(&e.to_string())],
        };
        if let Ok(claims) = cvmc_protocol::azure::claims::RuntimeClaims::parse(hcl.variable_data)
            && claims.flag("console-enabled") == Some(true)
        {
            f.push(Finding {
                id: "azure-serial-console",
                severity: Severity::High,
                title: "Azure's serial console is enabled for this VM (runtime claim vm-configuration \
                        console-enabled): the host side can reach a console that bypasses cvm-consoled"
                    .into(),
                fix: "disable the serial console for this VM (az vm boot-diagnostics disable, or the portal's \
                      Serial console setting), run no getty on ttyS0, and require \"console-enabled\" = false under \
                      [azure] vm_configuration in the clients' policy"
                    .into(),
            });
        }
        match hcl.report_type {
            cvmc_protocol::azure::hcl::HwReportType::Snp => f.extend(launch_findings(Tee::SEV_SNP, hcl.hw_report)),
            cvmc_protocol::azure::hcl::HwReportType::Tdx => {
                match cvmc_protocol::tdx::tdreport::TdReportStruct::parse(hcl.hw_report) {
                    Ok(r) if r.body.attributes() & 1 != 0 => {
                        f.push(debug("this is a debug TD (TDATTRIBUTES.DEBUG is set)"));
                    }
                    Ok(_) => {}
                    Err(e) => f.push(unreadable(&e)),
                }
            }
        }
        return f;
    }
    if tee == Tee::TDX || tee == Tee::SIMULATED_TDX {
        match cvmc_protocol::tdx::Quote::parse(report) {
            Ok(q) if q.td.attributes() & 1 != 0 => f.push(debug("this is a debug TD (TDATTRIBUTES.DEBUG is set)")),
            Ok(_) => {}
            Err(e) => f.push(unreadable(&e.to_string())),
        }
    } else {
        match cvmc_protocol::snp::report::Report::parse(report) {
            Ok(r) => {
                if r.policy & policy_bits::DEBUG != 0 {
                    f.push(debug("the guest policy allows debugging (POLICY bit 19)"));
                }
                if r.policy & policy_bits::MIGRATE_MA != 0 {
                    f.push(Finding {
                        id: "migration-agent",
                        severity: Severity::Warning,
                        title: "the guest policy allows a migration agent (POLICY bit 18), which can export this \
                                guest's memory"
                            .into(),
                        fix: "relaunch with POLICY bit 18 clear unless live migration through a trusted agent is \
                              intended"
                            .into(),
                    });
                }
            }
            Err(e) => f.push(unreadable(&e.to_string())),
        }
    }
    f
}

fn unreadable(reason: &str) -> Finding {
    Finding {
        id: "own-evidence-unreadable",
        severity: Severity::Warning,
        title: format!("this guest's own report does not parse: {}", cvmc_protocol::text::escape(reason)),
        fix: "check the sev-guest / tdx-guest driver and the firmware; clients will refuse this evidence".into(),
    }
}

/// On the running system (root `/`): ask configfs-tsm (or /dev/sev-guest) for a report
/// of this guest and judge how it was launched. Creating a configfs report entry is the
/// one thing doctor writes; the entry is removed again.
pub fn self_evidence_findings() -> Vec<Finding> {
    use crate::evidence::EvidenceProvider;
    let provider: Box<dyn EvidenceProvider> = match crate::evidence::tsm::TsmProvider::system(None) {
        Ok(p) => Box::new(p),
        Err(_) => match crate::evidence::sevguest::SevGuestProvider::new(0, None) {
            Ok(p) => Box::new(p),
            // Azure: read the paravisor's last HCL report (read only: no user data is
            // written, so no fresh report is asked for).
            Err(_) if Path::new(crate::evidence::azure::TPM_DEVICE).exists() => {
                let vtpm = crate::evidence::azure::Vtpm::new(crate::evidence::azure::TPM_DEVICE);
                return match vtpm.nv_read_if_written(cvmc_protocol::azure::NV_HCL_REPORT) {
                    // The same HCL findings for either kind of hardware report inside.
                    Ok(Some(hcl)) => launch_findings(cvmc_protocol::evidence::Tee::AZURE_SNP, &hcl),
                    _ => Vec::new(),
                };
            }
            Err(_) => return Vec::new(),
        },
    };
    match provider.evidence(&[0; 64]) {
        Ok(ev) => launch_findings(ev.tee, &ev.report),
        Err(e) => vec![Finding {
            id: "no-own-evidence",
            severity: Severity::Warning,
            title: format!("this guest could not get its own report: {}", cvmc_protocol::text::escape(&e.to_string())),
            fix: "cvm-consoled will fail the same way for every client: check the driver and the host's quoting \
                  service (TDX) or the firmware (SEV-SNP)"
                .into(),
        }],
    }
}

fn confidential(root: &Path) -> bool {
    exists(root, "/dev/sev-guest") || exists(root, "/dev/tdx_guest") || exists(root, "/sys/kernel/config/tsm/report")
}

fn hwrng(root: &Path, f: &mut Vec<Finding>) {
    let Some(current) = read(root, "/sys/class/misc/hw_random/rng_current") else { return };
    if current.contains("virtio") {
        f.push(Finding {
            id: "virtio-rng",
            severity: Severity::Warning,
            title: format!("the current hardware RNG is {}, which the host supplies", current.trim()),
            fix: "blacklist virtio_rng (echo 'blacklist virtio_rng' > /etc/modprobe.d/no-virtio-rng.conf) and rely on \
                  RDRAND/RDSEED inside the guest"
                .into(),
        });
    }
}

fn cloud_init(root: &Path, f: &mut Vec<Finding>) {
    if !exists(root, "/etc/cloud/cloud.cfg") || exists(root, "/etc/cloud/cloud-init.disabled") {
        return;
    }
    let mut text = read(root, "/etc/cloud/cloud.cfg").unwrap_or_default();
    for (_, path) in list(root, "/etc/cloud/cloud.cfg.d") {
        text.push('\n');
        text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
    }
    let risky: Vec<&str> = [
        "ssh_pwauth: true",
        "ssh_pwauth: yes",
        "chpasswd",
        "ssh_authorized_keys",
        "set-passwords",
        "users-groups",
        "ssh",
    ]
    .into_iter()
    .filter(|k| text.contains(k))
    .collect();
    f.push(Finding {
        id: "cloud-init",
        severity: if risky.is_empty() { Severity::Warning } else { Severity::High },
        title: format!(
            "cloud-init is enabled: it creates users and installs SSH keys and passwords from host-supplied metadata{}",
            if risky.is_empty() { String::new() } else { format!(" (configured: {})", risky.join(", ")) }
        ),
        fix: "touch /etc/cloud/cloud-init.disabled after first boot, or remove the users-groups, ssh and \
              set-passwords modules; keep authorized_clients on the guest's own disk"
            .into(),
    });
}

/// Human-readable report.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    if findings.iter().all(|f| f.severity == Severity::Info) {
        out.push_str("doctor: no host-visible console, display or credential path found\n");
    }
    for f in findings {
        let tag = match f.severity {
            Severity::High => "HIGH",
            Severity::Warning => "WARN",
            Severity::Info => "INFO",
        };
        out.push_str(&format!("{tag}  [{}] {}\n      fix: {}\n", f.id, f.title, f.fix));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::inittab_getty_tty;

    #[test]
    fn inittab_gettys_are_found_in_sysvinit_and_busybox_syntax() {
        let tty = |l: &str| inittab_getty_tty(l);
        assert_eq!(tty("1:2345:respawn:/sbin/getty --noclear 38400 tty1").as_deref(), Some("tty1"));
        assert_eq!(tty("T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100").as_deref(), Some("ttyS0"));
        assert_eq!(tty("ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100").as_deref(), Some("ttyS0"));
        assert_eq!(tty("::respawn:/sbin/getty 38400 /dev/hvc0").as_deref(), Some("hvc0"));
        assert_eq!(tty("ttyS1::respawn:/sbin/getty -L 0 -").as_deref(), Some("ttyS1"));
        assert_eq!(tty("#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100"), None);
        assert_eq!(tty("::sysinit:/etc/init.d/rcS"), None);
        assert_eq!(tty("tty2::askfirst:-/bin/sh"), None);
    }
}
