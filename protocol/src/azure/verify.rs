//! Verifying an HCL report with an SEV-SNP report inside: the full SEV-SNP
//! verification of the embedded report, then what ties the runtime claims to it
//! and to this session.
//!
//! 1. Format: the HCL report and its runtime claims parse.
//! 2. Runtime claims: REPORT_DATA begins with the claims' digest and is zero after
//!    it; so the claims are what the hardware signed. The AK is shown, and checked
//!    against the policy's pins.
//! 3. Every SEV-SNP check on the embedded report ([`verify_snp`]), its certificates
//!    chosen by KEY_INFO from what is available, as on bare SEV-SNP.
//! 4. Policy: the `vm-configuration` claims `[azure]` requires.
//! 5. Binding: the claims' user-data equals this session's binding (the 64 bytes the
//!    guest wrote to NV 0x01400002 for this connection).

use subtle::ConstantTimeEq as _;

use super::claims::RuntimeClaims;
use super::error::AzureError;
use super::hcl::{HclReport, HwReportType};
use crate::error::{Check, VerifyError};
use crate::policy::Policy;
use crate::snp::roots::TrustAnchors;
use crate::snp::verify::{AvailableCerts, ExpectedReportData, Passed, SnpCerts, Verified, verify_snp};

/// An HCL report whose SEV-SNP report and runtime claims meet the policy.
#[derive(Debug, Clone)]
pub struct AzureVerified {
    /// The embedded SEV-SNP report's verdict, with the Azure rows in its check list.
    pub snp: Verified,
    /// The runtime claims.
    pub claims: RuntimeClaims,
    /// Their digest, hex, as REPORT_DATA begins.
    pub claims_digest: String,
    /// The hash used.
    pub claims_hash: &'static str,
}

/// The warning a person must see when the Azure serial console is enabled.
pub const CONSOLE_ENABLED_WARNING: &str = "the Azure serial console is enabled for this VM (vm-configuration \
     console-enabled): the host side can reach a console that bypasses this attested channel; disable it, and \
     require console-enabled = false under [azure] vm_configuration";

/// Short hex for messages.
fn short(bytes: &[u8]) -> String {
    hex::encode(&bytes[..bytes.len().min(16)])
}

/// Verify an HCL report holding an SEV-SNP report. `expected` is this session's
/// binding (the claims' user-data must equal it), or [`ExpectedReportData::NotBound`]
/// for a stored report, when the verdict says the binding was not checked.
pub fn verify_azure_snp(
    raw: &[u8],
    certs: AvailableCerts<'_>,
    expected: &ExpectedReportData,
    policy: &Policy,
    anchors: &TrustAnchors,
    now: u64,
) -> Result<AzureVerified, VerifyError> {
    let hcl = HclReport::parse(raw)?;
    if hcl.report_type != HwReportType::Snp {
        return Err(AzureError::HwReportType {
            found: hcl.report_type.name(),
            reason: "a TD report must first be quoted by Azure's quoting service; send the quote".into(),
        }
        .into());
    }
    let claims = RuntimeClaims::parse(hcl.variable_data)?;
    let digest = hcl.claims_digest();

    // The claims are what the hardware signed: REPORT_DATA = digest, then zeros.
    let report = crate::snp::report::Report::parse(hcl.hw_report)?;
    let mut want = [0u8; 64];
    want[..digest.len()].copy_from_slice(&digest);
    if !bool::from(want.ct_eq(&report.report_data)) {
        return Err(AzureError::ClaimsHash {
            report_data: short(&report.report_data[..digest.len()]),
            digest: short(&digest),
            hash: hcl.hash.name(),
        }
        .into());
    }
    if !policy.azure.ak_pub.is_empty() {
        let ak = claims.ak.as_ref().ok_or(AzureError::AkMissing)?;
        if !policy.azure.ak_pub.iter().any(|p| bool::from(p.0.ct_eq(&ak.fingerprint))) {
            return Err(AzureError::AkNotPinned { found: ak.fingerprint_shown() }.into());
        }
    }

    let signer = SnpCerts::select(hcl.hw_report, certs);
    let mut snp = verify_snp(hcl.hw_report, signer, &ExpectedReportData::Exact(want), policy, anchors, now)?;

    for (name, required) in &policy.azure.vm_configuration {
        let found = claims.flag(name);
        if found != Some(*required) {
            return Err(AzureError::VmConfiguration {
                claim: crate::text::escape(name).into_owned(),
                want: *required,
                found: found.map_or_else(|| "absent".to_owned(), |b| b.to_string()),
            }
            .into());
        }
    }

    // What ties the claims to the report, then the session: the claims' user-data is
    // this connection's binding.
    snp.passed.retain(|p| p.check != Check::Binding);
    let ak = claims.ak.as_ref().map_or_else(|| "no AK".to_owned(), |a| format!("AK {}", a.fingerprint_shown()));
    snp.passed.push(Passed {
        check: Check::RuntimeClaims,
        detail: format!(
            "REPORT_DATA begins with the {} of the runtime claims ({}…); {ak}; {}",
            hcl.hash.name(),
            short(&digest),
            claims.flags_shown()
        ),
    });
    snp.binding_checked = match expected {
        ExpectedReportData::Exact(binding) => {
            match &claims.user_data {
                Some(u) if bool::from(u.ct_eq(binding)) => {}
                other => {
                    return Err(AzureError::UserData {
                        found: other.as_ref().map_or_else(|| "absent".into(), |u| format!("{}…", short(u))),
                        expected: format!("{}…", short(binding)),
                    }
                    .into());
                }
            }
            snp.passed.push(Passed {
                check: Check::Binding,
                detail: "the runtime claims' user-data equals this session's binding".into(),
            });
            true
        }
        ExpectedReportData::NotBound => {
            snp.warnings.retain(|w| !w.starts_with("binding not checked"));
            snp.warnings.push(
                "binding not checked: no session or --report-data to compare the runtime claims' user-data with".into(),
            );
            false
        }
    };
    if claims.flag("console-enabled") == Some(true) {
        snp.warnings.push(CONSOLE_ENABLED_WARNING.into());
    }
    Ok(AzureVerified { snp, claims_digest: hex::encode(&digest), claims_hash: hcl.hash.name(), claims })
}
