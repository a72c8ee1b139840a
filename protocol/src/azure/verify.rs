//! Verifying an HCL report: the full hardware verification of the report inside
//! (SEV-SNP, or TDX through the quote Azure's quoting service made of the TD
//! report), then what ties the runtime claims to it and to this session.
//!
//! 1. Format: the HCL report and its runtime claims parse. For TDX, a quote follows
//!    the HCL report and quotes exactly its TD report (every field of the TD report
//!    equal), since a TD report alone is only MAC'd for its CPU.
//! 2. Runtime claims: REPORT_DATA (the quote's REPORTDATA for TDX) begins with the
//!    claims' digest and is zero after it; so the claims are what the hardware
//!    signed. The AK is shown, and checked against the policy's pins.
//! 3. Every hardware check: [`verify_snp`] on the embedded SEV-SNP report, its
//!    certificates chosen by KEY_INFO from what is available as on bare SEV-SNP; or
//!    [`verify_tdx`] on the quote with its collateral, as on bare TDX.
//! 4. Policy: the `vm-configuration` claims `[azure]` requires.
//! 5. Binding: the claims' user-data equals this session's binding (the 64 bytes the
//!    guest wrote to NV 0x01400002 for this connection).

use subtle::ConstantTimeEq as _;

use super::claims::RuntimeClaims;
use super::error::AzureError;
use super::hcl::{HclReport, HwReportType, split_quote};
use crate::error::{Check, VerifyError};
use crate::policy::Policy;
use crate::snp::roots::TrustAnchors;
use crate::snp::verify::{AvailableCerts, ExpectedReportData, Passed, SnpCerts, Verified, verify_snp};
use crate::tdx::collateral::Collateral;
use crate::tdx::error::TdxError;
use crate::tdx::quote::Quote;
use crate::tdx::tdreport::TdReportStruct;
use crate::tdx::verify::{TdxVerified, verify_tdx};

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

/// An HCL report whose TD report, quoted by Azure's quoting service, and runtime
/// claims meet the policy.
#[derive(Debug, Clone)]
pub struct AzureTdxVerified {
    /// The quote's verdict, with the Azure rows in its check list.
    pub tdx: TdxVerified,
    /// The runtime claims.
    pub claims: RuntimeClaims,
    /// Their digest, hex, as REPORTDATA begins.
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

/// The runtime claims, found to be what the hardware report's REPORT_DATA binds.
struct BoundClaims {
    claims: RuntimeClaims,
    digest: Vec<u8>,
    hash: &'static str,
    /// REPORT_DATA as it must be: the digest, then zeros.
    report_data: [u8; 64],
}

/// Steps 1-2 (after the hardware report's own format): the claims parse, the
/// hardware's REPORT_DATA is their digest then zeros, and the AK is one the policy
/// pins.
fn bind_claims(hcl: &HclReport<'_>, report_data: &[u8; 64], policy: &Policy) -> Result<BoundClaims, VerifyError> {
    let claims = RuntimeClaims::parse(hcl.variable_data)?;
    let digest = hcl.claims_digest();
    let mut want = [0u8; 64];
    want[..digest.len()].copy_from_slice(&digest);
    if !bool::from(want.ct_eq(report_data)) {
        return Err(AzureError::ClaimsHash {
            report_data: short(&report_data[..digest.len()]),
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
    Ok(BoundClaims { claims, digest, hash: hcl.hash.name(), report_data: want })
}

/// Steps 4-5, after the hardware verification: the `vm-configuration` claims the
/// policy requires, the runtime-claims row in place of the hardware's binding row,
/// and the session binding through the claims' user-data. Returns whether the
/// binding was checked.
fn finish_claims(
    bound: &BoundClaims,
    expected: &ExpectedReportData,
    policy: &Policy,
    passed: &mut Vec<Passed>,
    warnings: &mut Vec<String>,
) -> Result<bool, VerifyError> {
    let claims = &bound.claims;
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
    passed.retain(|p| p.check != Check::Binding);
    let ak = claims.ak.as_ref().map_or_else(|| "no AK".to_owned(), |a| format!("AK {}", a.fingerprint_shown()));
    passed.push(Passed {
        check: Check::RuntimeClaims,
        detail: format!(
            "REPORT_DATA begins with the {} of the runtime claims ({}…); {ak}; {}",
            bound.hash,
            short(&bound.digest),
            claims.flags_shown()
        ),
    });
    let checked = match expected {
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
            passed.push(Passed {
                check: Check::Binding,
                detail: "the runtime claims' user-data equals this session's binding".into(),
            });
            true
        }
        ExpectedReportData::NotBound => {
            warnings.retain(|w| !w.starts_with("binding not checked"));
            warnings.push(
                "binding not checked: no session or --report-data to compare the runtime claims' user-data with".into(),
            );
            false
        }
    };
    if claims.flag("console-enabled") == Some(true) {
        warnings.push(CONSOLE_ENABLED_WARNING.into());
    }
    Ok(checked)
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
            reason: "it is verified as Azure TDX evidence, with the quote of its TD report".into(),
        }
        .into());
    }
    let report = crate::snp::report::Report::parse(hcl.hw_report)?;
    let bound = bind_claims(&hcl, &report.report_data, policy)?;
    let signer = SnpCerts::select(hcl.hw_report, certs);
    let mut snp =
        verify_snp(hcl.hw_report, signer, &ExpectedReportData::Exact(bound.report_data), policy, anchors, now)?;
    snp.binding_checked = finish_claims(&bound, expected, policy, &mut snp.passed, &mut snp.warnings)?;
    Ok(AzureVerified { snp, claims_digest: hex::encode(&bound.digest), claims_hash: bound.hash, claims: bound.claims })
}

/// Verify Azure TDX evidence: an HCL report holding a TD report, followed by the
/// quote Azure's quoting service made of that TD report ([`split_quote`]). The quote
/// must be of exactly this TD report, and then goes through every TDX check with
/// `collateral`, as a bare TDX quote does. `expected` as for [`verify_azure_snp`].
pub fn verify_azure_tdx(
    raw: &[u8],
    collateral: &Collateral,
    expected: &ExpectedReportData,
    policy: &Policy,
    anchors: &TrustAnchors,
    now: u64,
) -> Result<AzureTdxVerified, VerifyError> {
    let (hcl_raw, quote_raw) = split_quote(raw)?;
    let hcl = HclReport::parse(hcl_raw)?;
    if hcl.report_type != HwReportType::Tdx {
        return Err(AzureError::HwReportType {
            found: hcl.report_type.name(),
            reason: "it is verified as Azure SEV-SNP evidence".into(),
        }
        .into());
    }
    if quote_raw.is_empty() {
        return Err(AzureError::NoQuote.into());
    }
    let td_report = TdReportStruct::parse(hcl.hw_report)
        .map_err(|reason| AzureError::Hcl { reason: format!("TD report: {reason}") })?;
    let quote = Quote::parse(quote_raw).map_err(TdxError::from)?;
    if let Some(field) = td_report.differs_from(&quote.td) {
        return Err(AzureError::QuoteMismatch { field }.into());
    }
    let bound = bind_claims(&hcl, &quote.td.report_data, policy)?;
    let mut tdx =
        verify_tdx(quote_raw, collateral, &ExpectedReportData::Exact(bound.report_data), policy, anchors, now)?;
    if let Some(row) = tdx.passed.iter_mut().find(|p| p.check == Check::Format) {
        row.detail =
            format!("HCL report v{} with a TD report (v{}), quoted: {}", hcl.version, td_report.version, row.detail);
    }
    tdx.binding_checked = finish_claims(&bound, expected, policy, &mut tdx.passed, &mut tdx.warnings)?;
    Ok(AzureTdxVerified {
        tdx,
        claims_digest: hex::encode(&bound.digest),
        claims_hash: bound.hash,
        claims: bound.claims,
    })
}
