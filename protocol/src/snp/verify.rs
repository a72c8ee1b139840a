//! The SEV-SNP verifier: a pure function from report bytes, certificates, the
//! expected binding, the trust policy, the trust anchors and the time to a verdict.
//!
//! ```text
//! report bytes ─ parse (format) ─┐
//! VCEK or VLEK, ASK/ASVK ─ chain ─────┼─ root ─ revocation (CRL) ─ report signature ─ TCB/HWID/firmware ─ policy ─ measurement ─ binding
//! trust anchors, CRL, now ───────┘
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
use crate::snp::certs::AmdCert;
use crate::snp::checks::{
    Tcbs, check_chip_binding, check_firmware, check_policy, check_revocation, check_tcb_extensions, tcb_string,
};
use crate::snp::product::Product;
use crate::snp::report::{Report, SigningKey};
use crate::snp::roots::{Anchor, TrustAnchors};
use crate::snp::tcb::Tcb;

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
    /// CXL_ALLOW (bit 21): CXL memory and devices may be given to the guest.
    pub const CXL_ALLOW: u64 = 1 << 21;
    /// MEM_AES_256_XTS (bit 22): AES-256-XTS memory encryption is required.
    pub const MEM_AES_256_XTS: u64 = 1 << 22;
    /// RAPL_DIS (bit 23): RAPL must be disabled.
    pub const RAPL_DIS: u64 = 1 << 23;
    /// CIPHERTEXT_HIDING (bit 24): ciphertext hiding must be enabled.
    pub const CIPHERTEXT_HIDING: u64 = 1 << 24;
    /// PAGE_SWAP_DISABLE (bit 25): the guest's page move and swap commands are disabled.
    pub const PAGE_SWAP_DISABLE: u64 = 1 << 25;
    /// Bits 63:26: reserved, must be zero.
    pub const MUST_BE_ZERO: u64 = !((1 << 26) - 1);
}

/// PLATFORM_INFO bits (SNP ABI spec, ATTESTATION_REPORT).
pub mod platform_bits {
    /// SMT_EN (bit 0): SMT is enabled on the host.
    pub const SMT_EN: u64 = 1 << 0;
    /// TSME_EN (bit 1): transparent SME is enabled.
    pub const TSME_EN: u64 = 1 << 1;
    /// ECC_EN (bit 2): the platform uses ECC memory.
    pub const ECC_EN: u64 = 1 << 2;
    /// RAPL_DIS (bit 3): RAPL is disabled.
    pub const RAPL_DIS: u64 = 1 << 3;
    /// CIPHERTEXT_HIDING_EN (bit 4): ciphertext hiding is enabled.
    pub const CIPHERTEXT_HIDING_EN: u64 = 1 << 4;
    /// ALIAS_CHECK_COMPLETE (bit 5, report version 3 onwards).
    pub const ALIAS_CHECK_COMPLETE: u64 = 1 << 5;
    /// Bit 6: not named by the ABI revision this verifier follows, yet set by
    /// AMD-signed Turin reports (firmware 1.55.65, shared vectors); shown, not judged.
    pub const BIT_6: u64 = 1 << 6;
    /// TIO_EN (bit 7): SEV-TIO is enabled.
    pub const TIO_EN: u64 = 1 << 7;
    /// Bits 63:8: reserved, must be zero.
    pub const RESERVED: u64 = !0xFF;
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
    /// AMD's CRL for the product (DER), for the revocation check.
    pub crl: Option<&'a [u8]>,
}

impl<'a> SnpCerts<'a> {
    /// The certificates the report's KEY_INFO names, from whatever is available: the
    /// VCEK and ASK for a VCEK-signed report, the VLEK and ASVK for a VLEK-signed one.
    /// A stray certificate of the other kind is never chosen.
    pub fn select(raw_report: &[u8], available: AvailableCerts<'a>) -> Self {
        let vlek = crate::snp::report::signing_key_of(raw_report) == Some(SigningKey::Vlek);
        let (signer, intermediate) =
            if vlek { (available.vlek, available.asvk) } else { (available.vcek, available.ask) };
        Self { signer, intermediate, crl: available.crl }
    }
}

/// Certificates of every kind a verification may have at hand (from the evidence,
/// the cache or AMD's KDS), for [`SnpCerts::select`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AvailableCerts<'a> {
    /// VCEK DER.
    pub vcek: Option<&'a [u8]>,
    /// VLEK DER.
    pub vlek: Option<&'a [u8]>,
    /// ASK DER.
    pub ask: Option<&'a [u8]>,
    /// ASVK DER.
    pub asvk: Option<&'a [u8]>,
    /// CRL DER.
    pub crl: Option<&'a [u8]>,
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

    // Revocation.
    let mut warnings: Vec<String> = policy.warnings().into_iter().map(String::from).collect();
    let revocation = check_revocation(certs.crl, &root, &intermediate, &signer, product, policy, now, &mut warnings)?;
    pass(Check::Revocation, revocation);

    // Report signature.
    signer.check_report_signature(raw, &report)?;
    pass(Check::Signature, format!("ECDSA P-384/SHA-384 by the {signer_kind}"));

    // TCB and HWID extensions; the firmware's TCBs and versions against each other.
    let decode = |field: &'static str, raw: crate::snp::tcb::RawTcb| {
        raw.decode(product).map_err(|(index, value)| VerifyError::TcbReserved { field, index, value })
    };
    let tcbs = Tcbs {
        reported: decode("REPORTED_TCB", report.reported_tcb)?,
        current: decode("CURRENT_TCB", report.current_tcb)?,
        committed: decode("COMMITTED_TCB", report.committed_tcb)?,
        launch: decode("LAUNCH_TCB", report.launch_tcb)?,
    };
    let reported_tcb = tcbs.reported;
    check_tcb_extensions(&signer, &reported_tcb)?;
    let identity = check_chip_binding(&signer, &report, product)?;
    let firmware = check_firmware(&report, &tcbs, policy, &mut warnings)?;
    pass(
        Check::Tcb,
        format!("REPORTED_TCB {} matches the {signer_kind}; {identity}; {firmware}", tcb_string(&reported_tcb)),
    );

    // Guest policy, platform, and the trust policy's requirements.
    check_policy(&report, &tcbs, policy, &mut warnings)?;
    pass(
        Check::Policy,
        format!(
            "guest policy {:#x}, PLATFORM_INFO {:#x}{}, VMPL {}, SVN {}",
            report.policy,
            report.platform_info,
            match report.mit_vectors {
                Some((launch, current)) => format!(", mitigations launch {launch:#x} current {current:#x}"),
                None => String::new(),
            },
            report.vmpl,
            report.guest_svn
        ),
    );

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
