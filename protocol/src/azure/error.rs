//! Why Azure paravisor evidence was refused: one variant per reason, each with the
//! check it belongs to and a stable name for `--json`.

use crate::error::Check;

/// Evidence from Azure's paravisor that does not meet the trust policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AzureError {
    /// The HCL report is malformed.
    #[error("format: HCL report: {reason}")]
    Hcl {
        /// What is wrong.
        reason: String,
    },
    /// The runtime claims are malformed.
    #[error("format: runtime claims: {reason}")]
    Claims {
        /// What is wrong.
        reason: String,
    },
    /// The HCL report holds a hardware report this verification cannot take (a TD
    /// report needs Azure's quoting service to become a quote).
    #[error("format: the HCL report holds a {found} report; {reason}")]
    HwReportType {
        /// `sev-snp` or `tdx`.
        found: &'static str,
        /// Why it cannot be verified here.
        reason: String,
    },
    /// REPORT_DATA does not begin with the hash of the runtime claims (they were
    /// edited, or the hardware report is another VM's), or its rest is not zero.
    #[error(
        "runtime claims: REPORT_DATA is {report_data}…, not the {hash} of the runtime claims {digest}… (the claims were edited, or the hardware report belongs to other claims)"
    )]
    ClaimsHash {
        /// REPORT_DATA, hex (the digest's length).
        report_data: String,
        /// The claims' digest, hex.
        digest: String,
        /// Hash name.
        hash: &'static str,
    },
    /// The claims' user data is not this session's binding (relay or replay).
    #[error(
        "binding: the runtime claims' user-data {found} is not this session's binding {expected} (a relay, or a replay of another session's report)"
    )]
    UserData {
        /// What the claims hold (hex, shortened), or "absent".
        found: String,
        /// The binding (hex, shortened).
        expected: String,
    },
    /// The policy pins AKs and the claims carry none.
    #[error("runtime claims: the policy pins the vTPM attestation key, and the claims carry none")]
    AkMissing,
    /// The claims' AK is not one the policy pins.
    #[error("runtime claims: the vTPM attestation key {found} is not one the policy pins")]
    AkNotPinned {
        /// `SHA256:<hex>` of the AK.
        found: String,
    },
    /// A `vm-configuration` claim the policy requires has another value or is absent.
    #[error("policy: vm-configuration {claim} is {found}, the policy requires {want}")]
    VmConfiguration {
        /// The claim's name (escaped).
        claim: String,
        /// Required value.
        want: bool,
        /// What the claims say ("absent" when missing).
        found: String,
    },
    /// Azure TDX evidence without the quote of its TD report.
    #[error(
        "format: the HCL report holds a TD report and no quote follows it; a TD report is MAC'd for its CPU, not signed: it is verified through the quote Azure's quoting service makes of it (IMDS /acc/tdquote)"
    )]
    NoQuote,
    /// The quote is not of the TD report in the HCL report.
    #[error("format: the quote's {field} is not the HCL report's TD report's (a quote of another TD report)")]
    QuoteMismatch {
        /// The first field that differs.
        field: &'static str,
    },
    /// A vTPM quote does not verify.
    #[error("signature: vTPM quote: {reason}")]
    Quote {
        /// What is wrong.
        reason: String,
    },
}

impl AzureError {
    /// The check this failure belongs to.
    pub fn check(&self) -> Check {
        match self {
            Self::Hcl { .. }
            | Self::Claims { .. }
            | Self::HwReportType { .. }
            | Self::NoQuote
            | Self::QuoteMismatch { .. } => Check::Format,
            Self::ClaimsHash { .. } | Self::AkMissing | Self::AkNotPinned { .. } => Check::RuntimeClaims,
            Self::UserData { .. } => Check::Binding,
            Self::VmConfiguration { .. } => Check::Policy,
            Self::Quote { .. } => Check::Signature,
        }
    }

    /// A stable snake_case name for `--json` (`failed_check`) and scripts.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hcl { .. } => "hcl_report",
            Self::Claims { .. } => "runtime_claims",
            Self::HwReportType { .. } => "hcl_report_type",
            Self::ClaimsHash { .. } => "runtime_claims_hash",
            Self::UserData { .. } => "runtime_claims_user_data",
            Self::AkMissing => "ak_missing",
            Self::AkNotPinned { .. } => "ak_pin",
            Self::VmConfiguration { .. } => "azure_vm_configuration",
            Self::NoQuote => "hcl_quote_missing",
            Self::QuoteMismatch { .. } => "hcl_quote_mismatch",
            Self::Quote { .. } => "vtpm_quote",
        }
    }
}
