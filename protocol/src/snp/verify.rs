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
use crate::policy::{Policy, Revocation};
use crate::snp::certs::{AmdCert, ext};
use crate::snp::crl::AmdCrl;
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

/// The four TCBs of a report, decoded with the product's layout.
struct Tcbs {
    reported: Tcb,
    current: Tcb,
    committed: Tcb,
    launch: Tcb,
}

/// Each component of `a` is at most `b`'s: the first one above, if any.
fn first_above(a: &Tcb, b: &Tcb) -> Option<(TcbComponent, u8, u8)> {
    a.components().into_iter().zip(b.components()).find(|((_, x), (_, y))| x > y).map(|((c, x), (_, y))| (c, x, y))
}

fn version_string((major, minor, build): (u8, u8, u8)) -> String {
    format!("{major}.{minor} build {build}")
}

/// The firmware's own state: REPORTED ≤ CURRENT, COMMITTED = CURRENT (TCB, build,
/// API version) unless provisional firmware is allowed, and then COMMITTED ≤ CURRENT.
/// Returns the comparisons made, for the check list.
fn check_firmware(
    report: &Report,
    tcbs: &Tcbs,
    policy: &Policy,
    warnings: &mut Vec<String>,
) -> Result<String, VerifyError> {
    if let Some((component, reported, current)) = first_above(&tcbs.reported, &tcbs.current) {
        return Err(VerifyError::ReportedAboveCurrent { component, reported, current });
    }
    let (cur_ver, com_ver) = (report.current_version, report.committed_version);
    let allowed = policy.allow_provisional_firmware;
    let tcb_differs =
        if allowed { first_above(&tcbs.committed, &tcbs.current).is_some() } else { tcbs.committed != tcbs.current };
    if tcb_differs {
        return Err(VerifyError::ProvisionalFirmware {
            field: "TCB",
            committed: tcb_string(&tcbs.committed),
            current: tcb_string(&tcbs.current),
            allowed,
        });
    }
    // (major, minor) is the API version, build the firmware build within it.
    let (cur_api, com_api) = ((cur_ver.0, cur_ver.1), (com_ver.0, com_ver.1));
    let api_differs = if allowed { com_api > cur_api } else { com_api != cur_api };
    if api_differs {
        return Err(VerifyError::ProvisionalFirmware {
            field: "API version",
            committed: format!("{}.{}", com_api.0, com_api.1),
            current: format!("{}.{}", cur_api.0, cur_api.1),
            allowed,
        });
    }
    let build_differs = if allowed { com_api == cur_api && com_ver.2 > cur_ver.2 } else { com_ver.2 != cur_ver.2 };
    if build_differs {
        return Err(VerifyError::ProvisionalFirmware {
            field: "build",
            committed: com_ver.2.to_string(),
            current: cur_ver.2.to_string(),
            allowed,
        });
    }
    let committed = if tcbs.committed == tcbs.current && com_ver == cur_ver {
        format!("COMMITTED = CURRENT_TCB {}, firmware {}", tcb_string(&tcbs.current), version_string(cur_ver))
    } else {
        warnings.push(format!(
            "provisional firmware: running {} ({}) is newer than the committed {} ({}); the host can roll it back",
            version_string(cur_ver),
            tcb_string(&tcbs.current),
            version_string(com_ver),
            tcb_string(&tcbs.committed)
        ));
        format!(
            "COMMITTED_TCB {} \u{2264} CURRENT_TCB {} (provisional firmware allowed), firmware {} committed {}",
            tcb_string(&tcbs.committed),
            tcb_string(&tcbs.current),
            version_string(cur_ver),
            version_string(com_ver)
        )
    };
    Ok(format!("REPORTED_TCB \u{2264} CURRENT_TCB; {committed}; LAUNCH_TCB {}", tcb_string(&tcbs.launch)))
}

/// The CRL check under the policy's `revocation` mode. A CRL that lists the chain
/// refuses in every mode but `skip`; a missing or stale one refuses only under
/// `require`.
#[allow(clippy::too_many_arguments)]
fn check_revocation(
    crl: Option<&[u8]>,
    root: &AmdCert,
    intermediate: &AmdCert,
    signer: &AmdCert,
    product: Product,
    policy: &Policy,
    now: u64,
    warnings: &mut Vec<String>,
) -> Result<String, VerifyError> {
    let mode = policy.revocation;
    if mode == Revocation::Skip {
        return Ok("not checked: revocation = \"skip\"".into());
    }
    let Some(der) = crl else {
        if mode == Revocation::Require {
            return Err(VerifyError::CrlMissing { product: product.to_string() });
        }
        warnings
            .push(format!("revocation not checked: no {product} CRL was available (revocation = \"if-available\")"));
        return Ok(format!("not checked: no {product} CRL available (revocation = \"if-available\")"));
    };
    let crl = AmdCrl::from_der(der)?;
    crl.check_signed_by(root)?;
    crl.check_not_listed(intermediate, product.name())?;
    crl.check_not_listed(signer, product.name())?;
    let (this_update, next_update) = crl.window();
    let window = format!(
        "{} to {}",
        crate::time::fmt_time(this_update),
        next_update.map_or_else(|| "no nextUpdate".into(), crate::time::fmt_time)
    );
    if !crl.is_current(now) {
        if mode == Revocation::Require {
            return Err(VerifyError::CrlStale {
                product: product.to_string(),
                this_update,
                next_update: next_update.unwrap_or(0),
                now,
            });
        }
        warnings.push(format!("the {product} CRL is not current ({window}); it lists neither certificate"));
    }
    Ok(format!(
        "{product} CRL signed by {} ({window}), {} entries: neither the {} nor the {} is listed",
        root.subject_shown(),
        crl.len(),
        intermediate.role,
        signer.role
    ))
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
            if report.mask_chip_key {
                return Err(VerifyError::ChipKeyMasked);
            }
            if report.chip_id.iter().all(|&b| b == 0) {
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

fn check_policy(report: &Report, tcbs: &Tcbs, policy: &Policy, warnings: &mut Vec<String>) -> Result<(), VerifyError> {
    use policy_bits::*;
    let bits = report.policy;
    if bits & RESERVED_MUST_BE_ONE == 0 {
        return Err(VerifyError::GuestPolicyReserved { policy: bits, reason: "bit 17 must be one".into() });
    }
    if bits & MUST_BE_ZERO != 0 {
        return Err(VerifyError::GuestPolicyReserved {
            policy: bits,
            reason: format!("bits 63:26 must be zero ({:#x} set)", bits & MUST_BE_ZERO),
        });
    }
    if bits & CXL_ALLOW != 0 {
        if !policy.allow_cxl {
            return Err(VerifyError::Cxl);
        }
        warnings.push("the guest allows CXL memory and devices".into());
    }
    let required_bits = [
        (policy.require_mem_aes_256_xts, MEM_AES_256_XTS, "mem_aes_256_xts", "MEM_AES_256_XTS", 22),
        (policy.require_rapl_dis, RAPL_DIS, "rapl_dis", "RAPL_DIS", 23),
        (policy.require_ciphertext_hiding, CIPHERTEXT_HIDING, "ciphertext_hiding", "CIPHERTEXT_HIDING", 24),
        (policy.require_page_swap_disable, PAGE_SWAP_DISABLE, "page_swap_disable", "PAGE_SWAP_DISABLE", 25),
    ];
    for (required, mask, name, label, bit) in required_bits {
        if required && bits & mask == 0 {
            return Err(VerifyError::GuestPolicyBitMissing { name, label, bit });
        }
    }
    check_platform_info(report, policy)?;
    if policy.required_mitigations != 0 {
        let actual = report.mit_vectors.map(|(_, current)| current);
        if actual.is_none_or(|a| a & policy.required_mitigations != policy.required_mitigations) {
            return Err(VerifyError::MitigationVector {
                required: policy.required_mitigations,
                actual,
                version: report.version,
            });
        }
    }
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
    for (tcb_name, min, tcb) in [
        ("REPORTED_TCB", &policy.min_tcb, &tcbs.reported),
        ("LAUNCH_TCB", &policy.min_launch_tcb, &tcbs.launch),
        ("COMMITTED_TCB", &policy.min_committed_tcb, &tcbs.committed),
    ] {
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
                return Err(VerifyError::TcbBelowMinimum { tcb: tcb_name, component, min, actual });
            }
        }
    }
    for (which, (major, minor, build)) in [("running", report.current_version), ("committed", report.committed_version)]
    {
        if build < policy.min_build {
            return Err(VerifyError::FirmwareBelowMinimum {
                key: "min_build",
                what: "build",
                which,
                min: policy.min_build.to_string(),
                actual: build.to_string(),
            });
        }
        let min = (policy.min_version.major, policy.min_version.minor);
        if (major, minor) < min {
            return Err(VerifyError::FirmwareBelowMinimum {
                key: "min_version",
                what: "API version",
                which,
                min: format!("{}.{}", min.0, min.1),
                actual: format!("{major}.{minor}"),
            });
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

/// PLATFORM_INFO: no reserved bit, and each flag as the policy's `platform_info` says.
fn check_platform_info(report: &Report, policy: &Policy) -> Result<(), VerifyError> {
    use platform_bits::*;
    let value = report.platform_info;
    if value & RESERVED != 0 {
        return Err(VerifyError::PlatformInfoReserved { value, reserved: value & RESERVED });
    }
    let p = &policy.platform_info;
    // ALIAS_CHECK_COMPLETE exists from report version 3; before, it reads as clear.
    let alias = if report.version >= 3 { value & ALIAS_CHECK_COMPLETE != 0 } else { false };
    let flags = [
        ("SMT_EN", p.smt_en, value & SMT_EN != 0),
        ("TSME_EN", p.tsme_en, value & TSME_EN != 0),
        ("ECC_EN", p.ecc_en, value & ECC_EN != 0),
        ("RAPL_DIS", p.rapl_dis, value & RAPL_DIS != 0),
        ("CIPHERTEXT_HIDING_EN", p.ciphertext_hiding_en, value & CIPHERTEXT_HIDING_EN != 0),
        ("ALIAS_CHECK_COMPLETE", p.alias_check_complete, alias),
    ];
    for (flag, want, actual) in flags {
        if let Some(want) = want
            && want != actual
        {
            return Err(VerifyError::PlatformInfoFlag { flag, required: want, value });
        }
    }
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
