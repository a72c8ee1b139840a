//! The SEV-SNP verifier: a pure function from report bytes, certificates, the
//! expected binding, the trust policy, the trust anchors and the time to a verdict.
//!
//! ```text
//! report bytes ─ parse (format) ─┐
//! VCEK or VLEK, ASK/ASVK ─ chain ─────┼─ root ─ report signature ─ TCB/HWID ─ policy ─ measurement ─ binding
//! trust anchors, now ────────────┘
//! ```
//!
//! Every check always runs in this order; the first failure is returned as its own
//! `VerifyError` variant naming the values. There is no option that skips a check:
//! the only relaxations are the ones a trust policy states (and the client warns
//! about), and offline verification without a session, which is recorded in the
//! verdict as `binding: not checked`.

use subtle::ConstantTimeEq;

use crate::error::{Check, VerifyError};
use crate::policy::Policy;
use crate::snp::certs::{AmdCert, ext};
use crate::snp::product::Product;
use crate::snp::report::{Report, SigningKey};
use crate::snp::roots::{Anchor, TrustAnchors};
use crate::snp::tcb::{Tcb, TcbComponent};

/// Guest policy bits (SNP ABI spec, GUEST_POLICY).
pub mod policy_bits {
    /// ABI_MINOR (bits 7:0): the minimum firmware ABI minor version the guest requires.
    pub const ABI_MINOR_MASK: u64 = 0xFF;
    /// ABI_MAJOR (bits 15:8), the minimum ABI major version, starts at this bit.
    pub const ABI_MAJOR_SHIFT: u32 = 8;
    /// SMT (bit 16): SMT is allowed.
    pub const SMT: u64 = 1 << 16;
    /// Bit 17: reserved, must be one.
    pub const RESERVED_MUST_BE_ONE: u64 = 1 << 17;
    /// MIGRATE_MA (bit 18): association with a migration agent is allowed.
    pub const MIGRATE_MA: u64 = 1 << 18;
    /// DEBUG (bit 19): debugging is allowed.
    pub const DEBUG: u64 = 1 << 19;
    /// SINGLE_SOCKET (bit 20): the guest may be activated on one socket only.
    pub const SINGLE_SOCKET: u64 = 1 << 20;
}

/// What REPORT_DATA must equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedReportData {
    /// The binding of a live session (or a value the user gave for a stored report).
    Exact([u8; 64]),
    /// A stored report checked offline with no session to bind it to. The verdict
    /// says the binding was not checked; a live connection never uses this.
    NotBound,
}

/// The certificates for one report, as DER.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnpCerts<'a> {
    /// VCEK or VLEK.
    pub signer: Option<&'a [u8]>,
    /// ASK (for a VCEK) or ASVK (for a VLEK). AMD's built-in one is used when absent.
    pub intermediate: Option<&'a [u8]>,
}

/// One passed check and what it established.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Passed {
    /// Which check.
    pub check: Check,
    /// What it established, for the check list.
    pub detail: String,
}

/// A report that meets the policy.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The parsed report.
    pub report: Report,
    /// Its product line.
    pub product: Product,
    /// REPORTED_TCB decoded with the product's layout.
    pub reported_tcb: Tcb,
    /// Where the chain ends: AMD (real hardware) or a policy root (simulated).
    pub anchor: Anchor,
    /// The checks passed, in order, with details.
    pub passed: Vec<Passed>,
    /// Whether REPORT_DATA was compared with a binding.
    pub binding_checked: bool,
    /// Relaxations in force that a person must see.
    pub warnings: Vec<String>,
}

impl Verified {
    /// True when the chain ends in a policy root instead of AMD's.
    pub fn simulated(&self) -> bool {
        !self.anchor.is_amd()
    }
}

/// Verify one SEV-SNP report. `now` is unix seconds (the caller reads the clock).
pub fn verify_snp(
    raw: &[u8],
    certs: SnpCerts<'_>,
    expected: &ExpectedReportData,
    policy: &Policy,
    anchors: &TrustAnchors,
    now: u64,
) -> Result<Verified, VerifyError> {
    let mut passed = Vec::new();
    let mut pass = |check, detail: String| passed.push(Passed { check, detail });

    // Format.
    let report = Report::parse(raw)?;
    let cpuid_product = report.cpuid_product().transpose()?;
    pass(Check::Format, format!("SEV-SNP report version {}, {} bytes", report.version, raw.len()));

    // Chain: the signer certificate of the kind the report names, its product,
    // its intermediate, names, signature and validity.
    let signer_kind = match report.signing_key {
        SigningKey::Vcek => "VCEK",
        SigningKey::Vlek => "VLEK",
        SigningKey::None => {
            return Err(VerifyError::ReportSignature {
                signer: "none".into(),
                reason: "KEY_INFO.SIGNING_KEY is 7: the report is unsigned".into(),
            });
        }
    };
    let signer_der = certs.signer.ok_or_else(|| VerifyError::MissingCertificate { kind: signer_kind.into() })?;
    let signer = AmdCert::from_der(signer_kind, signer_der)?;
    let presented = match signer.subject_cn.as_str() {
        "SEV-VCEK" => SigningKey::Vcek,
        "SEV-VLEK" => SigningKey::Vlek,
        other => {
            return Err(VerifyError::CertificateName {
                kind: signer_kind.into(),
                expected: format!("SEV-{signer_kind}"),
                actual: crate::text::escape(other).into_owned(),
            });
        }
    };
    if presented != report.signing_key {
        return Err(VerifyError::SignerKind { report: report.signing_key, cert: signer.subject_shown() });
    }
    let cert_product = match signer.product_name()? {
        Some(name) => Product::from_product_name(&name),
        None => Product::from_ca_common_name(&signer.issuer_cn),
    };
    let product = match (cpuid_product, cert_product) {
        (Some(cpu), Some(cert)) if cpu != cert => {
            return Err(VerifyError::ProductMismatch { report: cpu.to_string(), cert: cert.to_string() });
        }
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => {
            return Err(VerifyError::UnknownProduct {
                version: report.version,
                reason: format!("no CPUID in the report and the {} names no product", signer.label()),
            });
        }
    };
    let (intermediate_role, intermediate_cn) = match report.signing_key {
        SigningKey::Vlek => ("ASVK", format!("SEV-VLEK-{product}")),
        _ => ("ASK", format!("SEV-{product}")),
    };
    let intermediate = match certs.intermediate {
        Some(der) => AmdCert::from_der(intermediate_role, der)?,
        None if report.signing_key == SigningKey::Vlek => TrustAnchors::amd_asvk(product)?,
        None => TrustAnchors::amd_ask(product)?,
    };
    if intermediate.subject_cn != intermediate_cn {
        return Err(VerifyError::CertificateName {
            kind: intermediate_role.into(),
            expected: intermediate_cn,
            actual: intermediate.subject_shown(),
        });
    }
    intermediate.check_issued(&signer)?;
    intermediate.check_validity(now)?;
    signer.check_validity(now)?;
    pass(
        Check::Chain,
        format!(
            "{product}: {} \u{2192} {}, valid at {}",
            intermediate.subject_cn,
            signer.subject_cn,
            crate::time::fmt_time(now)
        ),
    );

    // Root.
    let (anchor, root) = anchors.anchor(product, &intermediate, now)?;
    if policy.require_hardware && !anchor.is_amd() {
        return Err(VerifyError::HardwareRequired { anchor: anchor.to_string() });
    }
    pass(Check::Root, format!("{} ({})", root.subject_shown(), anchor));

    // Report signature.
    signer.check_report_signature(raw, &report)?;
    pass(Check::Signature, format!("ECDSA P-384/SHA-384 by the {signer_kind}"));

    // TCB and HWID extensions.
    let reported_tcb =
        report.reported_tcb.decode(product).map_err(|(index, value)| VerifyError::TcbReserved { index, value })?;
    check_tcb_extensions(&signer, &reported_tcb)?;
    let identity = check_chip_binding(&signer, &report, product)?;
    pass(Check::Tcb, format!("REPORTED_TCB {} matches the {signer_kind}; {identity}", tcb_string(&reported_tcb)));

    // Guest policy and the trust policy's requirements.
    let mut warnings: Vec<String> = policy.warnings().into_iter().map(String::from).collect();
    check_policy(&report, &reported_tcb, policy, &mut warnings)?;
    pass(Check::Policy, format!("guest policy {:#x}, VMPL {}, SVN {}", report.policy, report.vmpl, report.guest_svn));

    // Measurement.
    let measurement = hex::encode(report.measurement);
    if policy.measurements.is_empty() {
        return Err(VerifyError::MeasurementNotPinned { actual: measurement });
    }
    if !policy.measurements.iter().any(|m| bool::from(m.0.ct_eq(&report.measurement))) {
        return Err(VerifyError::MeasurementNotAllowed { actual: measurement, allowed: policy.measurements.len() });
    }
    pass(Check::Measurement, measurement);

    // Binding.
    let binding_checked = match expected {
        ExpectedReportData::Exact(want) => {
            if !bool::from(want.ct_eq(&report.report_data)) {
                return Err(VerifyError::Binding {
                    expected: hex::encode(want),
                    actual: hex::encode(report.report_data),
                });
            }
            pass(Check::Binding, "REPORT_DATA equals this session's binding".into());
            true
        }
        ExpectedReportData::NotBound => {
            warnings.push("binding not checked: no session or --report-data to compare REPORT_DATA with".into());
            false
        }
    };

    Ok(Verified { report, product, reported_tcb, anchor, passed, binding_checked, warnings })
}

fn tcb_string(t: &Tcb) -> String {
    t.components().iter().map(|(c, v)| format!("{c}={v}")).collect::<Vec<_>>().join(" ")
}

/// The VCEK or VLEK is issued for one TCB: each SPL extension must equal REPORTED_TCB.
fn check_tcb_extensions(signer: &AmdCert, reported: &Tcb) -> Result<(), VerifyError> {
    for (component, report_value) in reported.components() {
        let (oid, name) = match component {
            TcbComponent::Bootloader => (ext::BL_SPL, "blSPL"),
            TcbComponent::Tee => (ext::TEE_SPL, "teeSPL"),
            TcbComponent::Snp => (ext::SNP_SPL, "snpSPL"),
            TcbComponent::Microcode => (ext::UCODE_SPL, "ucodeSPL"),
            TcbComponent::Fmc => (ext::FMC_SPL, "fmcSPL"),
        };
        let cert_value = signer.spl(&oid, name)?;
        if cert_value != report_value {
            return Err(VerifyError::TcbMismatch { cert: signer.label(), component, cert_value, report_value });
        }
    }
    Ok(())
}

/// A VCEK names one chip (hwID = CHIP_ID; 8 bytes on Turin). A VLEK names a cloud
/// provider instead (CSP_ID) and no chip.
fn check_chip_binding(signer: &AmdCert, report: &Report, product: Product) -> Result<String, VerifyError> {
    match report.signing_key {
        SigningKey::Vlek => {
            let csp = signer.require_extension(&ext::CSP_ID, "csp_id")?;
            let name = <der::asn1::Ia5StringRef<'_> as der::Decode<'_>>::from_der(csp)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| hex::encode(csp));
            Ok(format!("VLEK for CSP {name}"))
        }
        _ => {
            let hwid = signer.require_extension(&ext::HWID, "hwID")?;
            let want_len = if product.short_hwid() { 8 } else { 64 };
            if hwid.len() != want_len {
                return Err(VerifyError::BadExtension {
                    cert: signer.label(),
                    name: "hwID",
                    reason: format!("{} bytes, {product} uses {want_len}", hwid.len()),
                });
            }
            if report.mask_chip_key || report.chip_id.iter().all(|&b| b == 0) {
                return Err(VerifyError::ChipIdMasked);
            }
            let (id, rest) = report.chip_id.split_at(want_len);
            if !bool::from(id.ct_eq(hwid)) || rest.iter().any(|&b| b != 0) {
                return Err(VerifyError::HwidMismatch {
                    cert_hwid: hex::encode(hwid),
                    chip_id: hex::encode(report.chip_id),
                });
            }
            Ok(format!("chip {}", hex::encode(&hwid[..8])))
        }
    }
}

fn check_policy(report: &Report, tcb: &Tcb, policy: &Policy, warnings: &mut Vec<String>) -> Result<(), VerifyError> {
    use policy_bits::*;
    let bits = report.policy;
    if bits & DEBUG != 0 {
        if !policy.allow_debug {
            return Err(VerifyError::Debug);
        }
        warnings.push("the guest allows DEBUG: the host can read its memory".into());
    }
    if bits & MIGRATE_MA != 0 {
        if !policy.allow_migration_agent {
            return Err(VerifyError::MigrationAgent);
        }
        warnings.push("the guest allows a migration agent".into());
    }
    if bits & SMT != 0 && !policy.allow_smt {
        return Err(VerifyError::Smt);
    }
    if bits & SINGLE_SOCKET == 0 && policy.require_single_socket {
        return Err(VerifyError::SingleSocket);
    }
    let (major, minor) = (((bits >> ABI_MAJOR_SHIFT) & 0xFF) as u8, (bits & ABI_MINOR_MASK) as u8);
    if (major, minor) < (policy.min_abi.major, policy.min_abi.minor) {
        return Err(VerifyError::Abi {
            min_major: policy.min_abi.major,
            min_minor: policy.min_abi.minor,
            actual_major: major,
            actual_minor: minor,
        });
    }
    if report.vmpl != policy.vmpl {
        return Err(VerifyError::Vmpl { expected: policy.vmpl, actual: report.vmpl });
    }
    let min = &policy.min_tcb;
    let mins = [
        (TcbComponent::Bootloader, min.bootloader, Some(tcb.bootloader)),
        (TcbComponent::Tee, min.tee, Some(tcb.tee)),
        (TcbComponent::Snp, min.snp, Some(tcb.snp)),
        (TcbComponent::Microcode, min.microcode, Some(tcb.microcode)),
        (TcbComponent::Fmc, min.fmc, tcb.fmc),
    ];
    for (component, min, actual) in mins {
        if let Some(actual) = actual
            && actual < min
        {
            return Err(VerifyError::TcbBelowMinimum { component, min, actual });
        }
    }
    if report.guest_svn < policy.min_guest_svn {
        return Err(VerifyError::GuestSvn { min: policy.min_guest_svn, actual: report.guest_svn });
    }
    if let Some(want) = &policy.host_data
        && want.0 != report.host_data
    {
        return Err(VerifyError::HostData { expected: want.to_string(), actual: hex::encode(report.host_data) });
    }
    allow_list("family_id", &policy.family_ids, &report.family_id)?;
    allow_list("image_id", &policy.image_ids, &report.image_id)?;
    allow_list("id_key_digest", &policy.id_key_digests, &report.id_key_digest)?;
    allow_list("author_key_digest", &policy.author_key_digests, &report.author_key_digest)?;
    allow_list("chip_id", &policy.chip_ids, &report.chip_id)?;
    Ok(())
}

fn allow_list<const N: usize>(
    field: &'static str,
    allowed: &[crate::policy::Hex<N>],
    actual: &[u8; N],
) -> Result<(), VerifyError> {
    if allowed.is_empty() || allowed.iter().any(|a| &a.0 == actual) {
        Ok(())
    } else {
        Err(VerifyError::NotAllowed { field, actual: hex::encode(actual) })
    }
}
