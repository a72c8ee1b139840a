//! The SEV-SNP verifier's checks past the signature, each a function of the parsed
//! report, the certificates and the policy: the firmware's TCBs against each other,
//! revocation, the VCEK or VLEK's TCB and chip, the guest policy and platform bits.
//! [`super::verify::verify_snp`] runs them in order.

use subtle::ConstantTimeEq;

use crate::error::VerifyError;
use crate::policy::{Policy, Revocation};
use crate::snp::certs::{AmdCert, ext};
use crate::snp::crl::AmdCrl;
use crate::snp::product::Product;
use crate::snp::report::{Report, SigningKey};
use crate::snp::tcb::{Tcb, TcbComponent};
use crate::snp::verify::{platform_bits, policy_bits};

/// The four TCBs of a report, decoded with the product's layout.
pub(super) struct Tcbs {
    pub(super) reported: Tcb,
    pub(super) current: Tcb,
    pub(super) committed: Tcb,
    pub(super) launch: Tcb,
}

/// Each component of `a` is at most `b`'s: the first one above, if any.
pub(super) fn first_above(a: &Tcb, b: &Tcb) -> Option<(TcbComponent, u8, u8)> {
    a.components().into_iter().zip(b.components()).find(|((_, x), (_, y))| x > y).map(|((c, x), (_, y))| (c, x, y))
}

pub(super) fn version_string((major, minor, build): (u8, u8, u8)) -> String {
    format!("{major}.{minor} build {build}")
}

/// The firmware's own state: REPORTED ≤ CURRENT, COMMITTED = CURRENT (TCB, build,
/// API version) unless provisional firmware is allowed, and then COMMITTED ≤ CURRENT.
/// Returns the comparisons made, for the check list.
pub(super) fn check_firmware(
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
pub(super) fn check_revocation(
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

pub(super) fn tcb_string(t: &Tcb) -> String {
    t.components().iter().map(|(c, v)| format!("{c}={v}")).collect::<Vec<_>>().join(" ")
}

/// The VCEK or VLEK is issued for one TCB: each SPL extension must equal REPORTED_TCB.
pub(super) fn check_tcb_extensions(signer: &AmdCert, reported: &Tcb) -> Result<(), VerifyError> {
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
pub(super) fn check_chip_binding(signer: &AmdCert, report: &Report, product: Product) -> Result<String, VerifyError> {
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

pub(super) fn check_policy(
    report: &Report,
    tcbs: &Tcbs,
    policy: &Policy,
    warnings: &mut Vec<String>,
) -> Result<(), VerifyError> {
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
pub(super) fn check_platform_info(report: &Report, policy: &Policy) -> Result<(), VerifyError> {
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

pub(super) fn allow_list<const N: usize>(
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
