//! `cvm-console measure`: the SEV-SNP launch MEASUREMENT a guest will report, computed
//! from what the VMM loads: the firmware (OVMF), for measured direct boot the kernel,
//! initrd and command line (the SEV hashes table), and the vCPUs' initial state.
//!
//! The digest is the `sev` crate's (virtee, the same project as the reference tool
//! `sev-snp-measure`, whose flag names this command takes): AMD's launch-digest rules
//! are exactly the part where a second implementation could only drift. What this
//! module adds is what a user needs around it: every input file bounded and the OVMF
//! image checked by [`cvmc_protocol::snp::ovmf`] first (the crate indexes the image's
//! tables unchecked, so a truncated or hostile image would panic it), measured from a
//! private copy so the image cannot change between the check and the digest, a clear
//! word on what the measurement covers, and a ready trust policy.

use std::path::{Path, PathBuf};

use sev::measurement::snp::{SnpMeasurementArgs, snp_calc_launch_digest};
use sev::measurement::vcpu_types::{CpuType, cpu_sig};
use sev::measurement::vmsa::{GuestFeatures, VMMType};
use sev::parser::Decoder as _;

use cvmc_protocol::snp::ovmf::{self, OvmfFacts};

use crate::error::ClientError;

/// Largest kernel or initrd measured (they are hashed whole, in memory).
pub const MAX_BOOT_FILE: u64 = 2 << 30;
/// Most vCPUs: one VMSA page each is measured.
pub const MAX_VCPUS: u32 = 4096;

/// How the vCPU type is named: by QEMU's model name, or its CPUID signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vcpu {
    /// `--vcpu-type EPYC-v4` etc.
    Type(String),
    /// `--vcpu-sig`, or `--vcpu-family/--vcpu-model/--vcpu-stepping`.
    Sig(i32),
}

/// The inputs of one measurement, named as `sev-snp-measure` names them.
#[derive(Debug, Clone)]
pub struct MeasureArgs {
    /// The firmware image (OVMF.fd).
    pub ovmf: PathBuf,
    /// Measured direct boot: the kernel.
    pub kernel: Option<PathBuf>,
    /// The initrd (with `kernel`).
    pub initrd: Option<PathBuf>,
    /// The kernel command line (with `kernel`).
    pub append: Option<String>,
    /// vCPU count.
    pub vcpus: u32,
    /// vCPU type.
    pub vcpu: Vcpu,
    /// `QEMU` (the only one measured here; see [`measure`]).
    pub vmm_type: String,
    /// SEV_FEATURES of the VMSAs (default 0x1, SNPActive).
    pub guest_features: u64,
    /// A precomputed digest of the OVMF pages, instead of hashing the image's.
    pub snp_ovmf_hash: Option<String>,
}

/// A measurement with what it was made of.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measured {
    /// The 48-byte launch digest, hex: what MEASUREMENT in the report will be.
    pub measurement: String,
    /// `snp`.
    pub mode: &'static str,
    /// The vCPU count.
    pub vcpus: u32,
    /// The vCPU type's name.
    pub vcpu_type: String,
    /// Its CPUID signature (the initial RDX), hex.
    pub vcpu_sig: String,
    /// The VMM.
    pub vmm_type: String,
    /// SEV_FEATURES, hex.
    pub guest_features: String,
    /// The firmware, and what the measurement covers of the boot.
    pub ovmf: FileFacts,
    /// The kernel, when measured.
    pub kernel: Option<FileFacts>,
    /// The initrd, when measured (an absent one is measured as empty).
    pub initrd: Option<FileFacts>,
    /// The command line, when measured.
    pub append: Option<String>,
    /// What the measurement proves, in words.
    pub covers: Vec<&'static str>,
    /// What it does not, when that is the point.
    pub warnings: Vec<String>,
    /// The OVMF image's facts (reset vector, metadata sections).
    pub ovmf_facts: OvmfFacts,
}

/// A file that went into the measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileFacts {
    /// As given.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// SHA-256 of its bytes, hex (for recognising the file; the digest has its own).
    pub sha256: String,
}

/// What a firmware-only measurement does not prove.
pub const FIRMWARE_ONLY: &str = "this measurement covers only the firmware: it proves nothing about the kernel, \
     the initrd, the command line or cvm-consoled, which the firmware loads from a disk the host can change. \
     Boot with measured direct boot (an OvmfPkg/AmdSev OVMF, QEMU -kernel/-initrd/-append with \
     kernel-hashes=on) and measure with --kernel, --initrd and --append";

fn bad(path: &Path, reason: impl Into<String>) -> ClientError {
    ClientError::BadInput { path: path.to_path_buf(), reason: reason.into() }
}

fn bad_arg(flag: &'static str, reason: impl Into<String>) -> ClientError {
    ClientError::BadArgument { flag, reason: reason.into() }
}

/// Read `path` whole, refusing anything over `limit` bytes before reading it.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ClientError> {
    let meta = std::fs::metadata(path).map_err(|e| ClientError::File { path: path.into(), reason: e.to_string() })?;
    if !meta.is_file() {
        return Err(bad(path, "not a regular file"));
    }
    if meta.len() > limit {
        return Err(bad(path, format!("{} bytes, more than the {limit} measured", meta.len())));
    }
    crate::error::read_file(path)
}

fn file_facts(path: &Path, bytes: &[u8]) -> FileFacts {
    use sha2::Digest as _;
    FileFacts { path: path.to_path_buf(), size: bytes.len() as u64, sha256: hex::encode(sha2::Sha256::digest(bytes)) }
}

fn cpu_type(vcpu: &Vcpu) -> Result<CpuType, ClientError> {
    match vcpu {
        Vcpu::Type(name) => CpuType::try_from(name.as_str()).map_err(|_| {
            bad_arg(
                "--vcpu-type",
                format!(
                    "{} is not a vCPU type this measurement knows (EPYC, EPYC-v1..v4, EPYC-IBPB, EPYC-Rome[-v1..v3], \
                     EPYC-Milan[-v1,-v2], EPYC-Genoa[-v1], EPYC-Turin[-v1,-v2])",
                    cvmc_protocol::text::escape(name)
                ),
            )
        }),
        Vcpu::Sig(sig) => CpuType::try_from(*sig).map_err(|_| {
            bad_arg(
                "--vcpu-sig",
                format!("{sig:#x} is not the signature of an EPYC model this measurement knows (Naples, Rome, Milan, Genoa, Turin)"),
            )
        }),
    }
}

/// The signature for `--vcpu-family/--vcpu-model/--vcpu-stepping`.
pub fn sig_of(family: i32, model: i32, stepping: i32) -> i32 {
    cpu_sig(family, model, stepping)
}

/// Compute the measurement.
pub fn measure(args: &MeasureArgs) -> Result<Measured, ClientError> {
    if args.vcpus == 0 || args.vcpus > MAX_VCPUS {
        return Err(bad_arg("--vcpus", format!("{} vCPUs; 1 to {MAX_VCPUS}", args.vcpus)));
    }
    if args.kernel.is_none() && (args.initrd.is_some() || args.append.is_some()) {
        return Err(bad_arg(
            "--kernel",
            "--initrd and --append are measured only with --kernel (measured direct boot)",
        ));
    }
    let cpu = cpu_type(&args.vcpu)?;
    // QEMU only: it is the VMM whose digest agrees with the reference tool's. For
    // EC2 the sev crate's initial VMSA (RDX 0) differs from sev-snp-measure's (RDX
    // 0x600), GCE it does not know, and krun the reference does not.
    let vmm = match args.vmm_type.to_ascii_lowercase().as_str() {
        "qemu" => VMMType::QEMU,
        "ec2" | "gce" | "krun" => {
            return Err(bad_arg(
                "--vmm-type",
                format!(
                    "{}: only QEMU is measured here, the VMM for which this digest is tested to agree with \
                     sev-snp-measure's; use sev-snp-measure for it",
                    args.vmm_type
                ),
            ));
        }
        other => {
            return Err(bad_arg(
                "--vmm-type",
                format!("{}: not a VMM type (QEMU)", cvmc_protocol::text::escape(other)),
            ));
        }
    };
    let features = GuestFeatures::decode(&mut &args.guest_features.to_le_bytes()[..], ())
        .map_err(|e| bad_arg("--guest-features", e.to_string()))?;
    if let Some(h) = &args.snp_ovmf_hash
        && (h.len() != 96 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad_arg("--snp-ovmf-hash", "expected 96 hex characters (a 48-byte digest)"));
    }

    let image = read_bounded(&args.ovmf, ovmf::MAX_OVMF_LEN as u64)?;
    let facts = ovmf::parse(&image).map_err(|reason| bad(&args.ovmf, reason))?;
    if args.kernel.is_some() && !facts.measured_direct_boot() {
        return Err(bad(
            &args.ovmf,
            "this OVMF has no SEV hashes table (SNP_KERNEL_HASHES metadata section): it is not an OvmfPkg/AmdSev \
             build, and cannot measure a kernel, initrd or command line",
        ));
    }
    // The kernel and initrd are checked and hashed here for the output; the digest
    // reads them again (the crate takes paths).
    let mut boot = Vec::new();
    for path in [&args.kernel, &args.initrd].into_iter().flatten() {
        let bytes = read_bounded(path, MAX_BOOT_FILE)?;
        boot.push(file_facts(path, &bytes));
    }
    let private = tempfile::tempdir().map_err(|e| bad(&args.ovmf, format!("private copy: {e}")))?;
    let copy = private.path().join("ovmf.fd");
    std::fs::write(&copy, &image).map_err(|e| bad(&args.ovmf, format!("private copy: {e}")))?;

    let digest = snp_calc_launch_digest(SnpMeasurementArgs {
        vcpus: args.vcpus,
        vcpu_type: cpu,
        ovmf_file: copy,
        guest_features: features,
        kernel_file: args.kernel.clone(),
        initrd_file: args.initrd.clone(),
        append: args.append.as_deref(),
        ovmf_hash_str: args.snp_ovmf_hash.as_deref(),
        vmm_type: Some(vmm),
    })
    .map_err(|e| bad(&args.ovmf, format!("measurement: {e}")))?;

    let mut covers = vec!["firmware (OVMF)", "initial vCPU state (VMSAs)"];
    let mut warnings = Vec::new();
    if args.kernel.is_some() {
        covers.extend(["kernel", "initrd", "kernel command line"]);
    } else {
        warnings.push(FIRMWARE_ONLY.to_owned());
    }
    if args.snp_ovmf_hash.is_some() {
        warnings.push("the OVMF pages were not hashed: --snp-ovmf-hash was taken as their digest".into());
    }
    let mut boot = boot.into_iter();
    Ok(Measured {
        measurement: digest.get_hex_ld(),
        mode: "snp",
        vcpus: args.vcpus,
        vcpu_type: cpu.to_string(),
        vcpu_sig: format!("{:#x}", cpu.sig()),
        vmm_type: format!("{vmm:?}"),
        guest_features: format!("{:#x}", args.guest_features),
        ovmf: file_facts(&args.ovmf, &image),
        kernel: args.kernel.as_ref().and_then(|_| boot.next()),
        initrd: args.initrd.as_ref().and_then(|_| boot.next()),
        append: args.kernel.as_ref().map(|_| args.append.clone().unwrap_or_default()),
        covers,
        warnings,
        ovmf_facts: facts,
    })
}

/// A trust policy pinning `m`, with a comment saying what it was made of.
pub fn policy_text(m: &Measured) -> Result<String, ClientError> {
    let digest: [u8; 48] = hex::decode(&m.measurement)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad_arg("--policy-out", "the digest is not 48 bytes"))?;
    let policy = cvmc_protocol::Policy {
        measurements: vec![cvmc_protocol::policy::Hex(digest)],
        ..cvmc_protocol::Policy::default()
    };
    let body = policy.to_toml().map_err(|e| bad_arg("--policy-out", e.to_string()))?;
    let line = |s: &str| format!("# {}\n", cvmc_protocol::text::escape(s));
    let mut out = String::from("# Trust policy made by `cvm-console measure`: SEV-SNP guests launched from\n");
    out.push_str(&line(&format!("OVMF {} (sha256 {})", m.ovmf.path.display(), m.ovmf.sha256)));
    for (what, f) in [("kernel", &m.kernel), ("initrd", &m.initrd)] {
        if let Some(f) = f {
            out.push_str(&line(&format!("{what} {} (sha256 {})", f.path.display(), f.sha256)));
        }
    }
    if let Some(a) = &m.append {
        out.push_str(&line(&format!("command line \"{a}\"")));
    }
    out.push_str(&line(&format!(
        "{} vCPUs {} (signature {}), VMM {}, guest features {}",
        m.vcpus, m.vcpu_type, m.vcpu_sig, m.vmm_type, m.guest_features
    )));
    for w in &m.warnings {
        out.push_str(&line(&format!("WARNING: {w}")));
    }
    out.push_str(&body);
    Ok(out)
}

/// Write the policy to `path`, which must not exist yet (a policy someone edited is
/// never overwritten).
pub fn write_policy(path: &Path, m: &Measured) -> Result<(), ClientError> {
    use std::io::Write as _;
    let text = policy_text(m)?;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "exists; remove it or choose another path (a policy is never overwritten)".to_owned()
        } else {
            e.to_string()
        };
        ClientError::File { path: path.to_path_buf(), reason }
    })?;
    f.write_all(text.as_bytes()).map_err(|e| ClientError::File { path: path.to_path_buf(), reason: e.to_string() })
}
