//! Why a TDX quote was refused: one variant per check, each naming its values, each
//! with a check-list row ([`TdxError::check`]) and a stable `failed_check` name
//! ([`TdxError::name`]).

use crate::error::Check;
use crate::tdx::quote::QuoteError;
use crate::time::fmt_time;

/// A TDX quote or its collateral that does not meet the trust policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TdxError {
    /// The quote is not well formed.
    #[error("{0}")]
    Quote(#[from] QuoteError),
    /// The quote carries no PCK certificate chain (certification data type 5), so it
    /// cannot be verified offline.
    #[error("certificates: the quote's certification data is type {cert_type}, not a PCK certificate chain (5)")]
    NoPckChain {
        /// The inner certification data type found.
        cert_type: u16,
    },
    /// A certificate or chain does not decode.
    #[error("certificates: {role} is not a valid certificate: {reason}")]
    CertificateDecode {
        /// The role, e.g. `PCK certificate`, `TCB signing certificate`.
        role: String,
        /// The decoder's message.
        reason: String,
    },
    /// A certificate's common name is not the one its role requires.
    #[error("chain: {role} has subject \"{actual}\", expected \"{expected}\"")]
    CertificateName {
        /// The role.
        role: String,
        /// The name(s) the role requires.
        expected: String,
        /// The certificate's CN, escaped.
        actual: String,
    },
    /// A certificate's issuer is not the certificate it is presented under.
    #[error("chain: {subject} names issuer \"{issuer}\" but is presented under \"{parent}\"")]
    ChainName {
        /// The certificate, `ROLE "CN"`.
        subject: String,
        /// Its issuer name, escaped.
        issuer: String,
        /// The subject of the certificate above it, escaped.
        parent: String,
    },
    /// A certificate's signature by its issuer does not verify, or the issuer is no CA.
    #[error("chain: the signature of {subject} by {signer} does not verify: {reason}")]
    ChainSignature {
        /// The issuer, `ROLE "CN"`.
        signer: String,
        /// The certificate, `ROLE "CN"`.
        subject: String,
        /// Why.
        reason: String,
    },
    /// A certificate is outside its validity window at the time of verification.
    #[error("chain: {subject} is valid from {} to {}, and the time of verification is {}", fmt_time(*not_before), fmt_time(*not_after), fmt_time(*now))]
    CertificateExpired {
        /// The certificate, `ROLE "CN"`.
        subject: String,
        /// notBefore, unix seconds.
        not_before: u64,
        /// notAfter, unix seconds.
        not_after: u64,
        /// The time of verification, unix seconds.
        now: u64,
    },
    /// A certificate uses another algorithm than ECDSA P-256 with SHA-256.
    #[error("chain: {subject} uses {algorithm}, expected {expected}")]
    CertificateAlgorithm {
        /// The certificate, `ROLE "CN"`.
        subject: String,
        /// What was found.
        algorithm: String,
        /// What is required.
        expected: String,
    },
    /// The chain's intermediate is issued by neither Intel's pinned root nor a root
    /// the trust policy names.
    #[error(
        "root: {subject} is issued by \"{issuer}\", which is neither Intel's pinned SGX Root CA nor a root in the trust policy"
    )]
    UntrustedRoot {
        /// The intermediate, `ROLE "CN"`.
        subject: String,
        /// Its issuer name, escaped.
        issuer: String,
    },
    /// A collateral signer is not issued by the root the quote's PCK chain ends in.
    #[error("root: {subject} is not issued by {root}, the root of the quote's PCK chain: {reason}")]
    CollateralRoot {
        /// The collateral signer, `ROLE "CN"`.
        subject: String,
        /// The PCK chain's root, `ROLE "CN"`.
        root: String,
        /// What failed: the names or the signature.
        reason: String,
    },
    /// The PCK certificate's SGX extension is missing or malformed.
    #[error("chain: {cert}: {reason}")]
    PckExtension {
        /// The certificate, `ROLE "CN"`.
        cert: String,
        /// What is wrong.
        reason: String,
    },
    /// A CRL does not decode, is issued by another CA or its signature fails.
    #[error("revocation: the {crl} {reason}")]
    Crl {
        /// `root CA CRL` or `PCK CRL`.
        crl: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A CRL is not current at the time of verification.
    #[error("revocation: the {crl} covers {} to {}, and the time of verification is {}", fmt_time(*this_update), fmt_time(*next_update), fmt_time(*now))]
    CrlStale {
        /// Which CRL.
        crl: &'static str,
        /// thisUpdate, unix seconds.
        this_update: u64,
        /// nextUpdate, unix seconds (0: none given).
        next_update: u64,
        /// The time of verification.
        now: u64,
    },
    /// A certificate of the chain is revoked.
    #[error("revocation: {cert} (serial {serial}) is listed in the {crl}")]
    Revoked {
        /// The certificate, `ROLE "CN"`.
        cert: String,
        /// Its serial number, hex.
        serial: String,
        /// Which CRL lists it.
        crl: &'static str,
    },
    /// No collateral for the quote: none with the evidence, none given, none cached.
    #[error("collateral: no TCB info and QE identity for FMSPC {fmspc} ({reason})")]
    MissingCollateral {
        /// The PCK certificate's FMSPC, hex.
        fmspc: String,
        /// Where it was looked for.
        reason: String,
    },
    /// A collateral document does not parse.
    #[error("collateral: {what}: {reason}")]
    CollateralFormat {
        /// Which document.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A collateral document's signature by the TCB signing key does not verify.
    #[error("collateral: the {what} signature by the TCB signing key does not verify: {reason}")]
    CollateralSignature {
        /// `TCB info` or `QE identity`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A collateral document is not current at the time of verification.
    #[error("collateral: the {what} was issued {} and is due for renewal {}; the time of verification is {}", fmt_time(*issued), fmt_time(*next_update), fmt_time(*now))]
    CollateralStale {
        /// `TCB info` or `QE identity`.
        what: &'static str,
        /// issueDate, unix seconds.
        issued: u64,
        /// nextUpdate, unix seconds.
        next_update: u64,
        /// The time of verification.
        now: u64,
    },
    /// A collateral document is for another platform, TEE or structure version.
    #[error("collateral: the {what} {field} is {actual}, the quote needs {expected}")]
    CollateralMismatch {
        /// Which document.
        what: &'static str,
        /// The field: `fmspc`, `pceId`, `id`, `version`.
        field: &'static str,
        /// What the quote needs.
        expected: String,
        /// What the document says.
        actual: String,
    },
    /// The PCK key's signature over the QE report does not verify.
    #[error("signature: the QE report's signature by the PCK certificate does not verify: {reason}")]
    QeReportSignature {
        /// Why.
        reason: String,
    },
    /// The QE report does not vouch for this attestation key.
    #[error("signature: the QE report data is not SHA-256(attestation key || QE auth data): {reason}")]
    QeReportData {
        /// What differs.
        reason: String,
    },
    /// The attestation key's signature over the quote does not verify.
    #[error("signature: the quote's signature by its attestation key does not verify: {reason}")]
    QuoteSignature {
        /// Why.
        reason: String,
    },
    /// The QE report does not match Intel's QE identity.
    #[error("qe identity: QE {field} is {actual}, Intel's identity requires {expected}")]
    QeIdentity {
        /// `MRSIGNER`, `ISVPRODID`, `MISCSELECT`, `ATTRIBUTES`, `DEBUG`.
        field: &'static str,
        /// What the identity requires.
        expected: String,
        /// What the QE report says.
        actual: String,
    },
    /// An ISVSVN below every level of its identity.
    #[error("tcb: the {what} SVN {svn} is below every level Intel lists")]
    SvnBelowLevels {
        /// `QE` or `TDX module`.
        what: &'static str,
        /// The SVN.
        svn: u16,
    },
    /// No TCB info level is met by the platform.
    #[error("tcb: no TCB level is met by SGX components {sgx}, PCESVN {pce_svn} and TEE_TCB_SVN {tee_tcb_svn}")]
    NoTcbLevel {
        /// The PCK certificate's components, hex.
        sgx: String,
        /// The PCK certificate's PCESVN.
        pce_svn: u16,
        /// The quote's TEE_TCB_SVN, hex.
        tee_tcb_svn: String,
    },
    /// The TCB info has no identity for the quote's TDX module version.
    #[error("tdx module: the TCB info has no module identity {id}")]
    NoModuleIdentity {
        /// `TDX_NN`.
        id: String,
    },
    /// The TDX module's signer or attributes are not the TCB info's.
    #[error("tdx module: {field} is {actual}, the TCB info requires {expected}")]
    ModuleIdentity {
        /// `MRSIGNERSEAM` or `SEAMATTRIBUTES`.
        field: &'static str,
        /// Required.
        expected: String,
        /// Found.
        actual: String,
    },
    /// The platform's TCB status is not one the trust policy accepts.
    #[error(
        "tcb status: the platform is {status}{}, the trust policy accepts {accepted}",
        advisories_shown(advisories)
    )]
    TcbStatus {
        /// Intel's status name.
        status: String,
        /// Advisory IDs.
        advisories: Vec<String>,
        /// The accepted statuses, comma-separated.
        accepted: String,
    },
    /// An advisory applies that the trust policy does not allow.
    #[error("tcb status: advisory {id} applies and is not in the trust policy's allowed_advisories")]
    Advisory {
        /// The advisory ID.
        id: String,
    },
    /// The trust policy has no `[tdx]` section.
    #[error("policy: the evidence is a TDX quote and the trust policy has no [tdx] section")]
    NoPolicySection,
    /// The TD is a debug TD (TDATTRIBUTES bit 0) and the policy does not allow it.
    #[error("debug: the TD runs in debug mode (TDATTRIBUTES.DEBUG); the host can read its memory")]
    Debug,
    /// TDATTRIBUTES has a bit the policy refuses.
    #[error("td attributes: TDATTRIBUTES {attributes:#018x}: {reason}")]
    TdAttributes {
        /// TDATTRIBUTES.
        attributes: u64,
        /// Which bit and why.
        reason: String,
    },
    /// SEPT_VE_DISABLE is clear and the policy requires it.
    #[error(
        "td attributes: SEPT_VE_DISABLE (TDATTRIBUTES bit 28) is clear; the host can inject #VE on private-page faults (require_sept_ve_disable)"
    )]
    SeptVeDisable,
    /// TEE_TCB_SVN below the policy's `min_tee_tcb_svn`.
    #[error("tee tcb svn: TEE_TCB_SVN {actual} is below the trust policy's minimum {min} at byte {index}")]
    TeeTcbSvn {
        /// The byte that is below.
        index: usize,
        /// The policy's minimum, hex.
        min: String,
        /// The quote's, hex.
        actual: String,
    },
    /// The policy's `[tdx] mrtd` is empty.
    #[error("mrtd not pinned: the trust policy allows no MRTD; this TD's is {actual}")]
    MrtdNotPinned {
        /// The quote's MRTD, hex.
        actual: String,
    },
    /// A register is not in its (non-empty) allow-list.
    #[error("{field}: {actual} is not in the trust policy's allow-list")]
    NotAllowed {
        /// `mrtd`, `rtmr0`..`rtmr3`, `mrconfigid`, `mrowner`, `mrownerconfig`, `mrsignerseam`.
        field: &'static str,
        /// The quote's value, hex.
        actual: String,
    },
}

fn advisories_shown(ids: &[String]) -> String {
    if ids.is_empty() { String::new() } else { format!(" (advisories {})", ids.join(", ")) }
}

impl TdxError {
    /// The check-list row.
    pub fn check(&self) -> Check {
        use TdxError as E;
        match self {
            E::Quote(_) => Check::Format,
            E::NoPckChain { .. }
            | E::CertificateDecode { .. }
            | E::CertificateName { .. }
            | E::ChainName { .. }
            | E::ChainSignature { .. }
            | E::CertificateExpired { .. }
            | E::CertificateAlgorithm { .. }
            | E::PckExtension { .. } => Check::Chain,
            E::UntrustedRoot { .. } | E::CollateralRoot { .. } => Check::Root,
            E::Crl { .. } | E::CrlStale { .. } | E::Revoked { .. } => Check::Revocation,
            E::MissingCollateral { .. }
            | E::CollateralFormat { .. }
            | E::CollateralSignature { .. }
            | E::CollateralStale { .. }
            | E::CollateralMismatch { .. } => Check::Collateral,
            E::QeReportSignature { .. } | E::QeReportData { .. } | E::QuoteSignature { .. } => Check::Signature,
            E::QeIdentity { .. }
            | E::SvnBelowLevels { .. }
            | E::NoTcbLevel { .. }
            | E::NoModuleIdentity { .. }
            | E::ModuleIdentity { .. }
            | E::TcbStatus { .. }
            | E::Advisory { .. } => Check::Tcb,
            E::NoPolicySection | E::Debug | E::TdAttributes { .. } | E::SeptVeDisable | E::TeeTcbSvn { .. } => {
                Check::Policy
            }
            E::MrtdNotPinned { .. } => Check::Measurement,
            E::NotAllowed { field, .. } => {
                if field.starts_with("mrtd") || field.starts_with("rtmr") {
                    Check::Measurement
                } else {
                    Check::Policy
                }
            }
        }
    }

    /// The stable `failed_check` name.
    pub fn name(&self) -> &'static str {
        use TdxError as E;
        match self {
            E::Quote(_) => "quote_format",
            E::NoPckChain { .. } => "missing_certificate",
            E::CertificateDecode { .. } => "certificate_decode",
            E::CertificateName { .. } | E::ChainName { .. } => "certificate_name",
            E::ChainSignature { .. } => "chain_signature",
            E::CertificateExpired { .. } => "certificate_validity",
            E::CertificateAlgorithm { .. } => "certificate_algorithm",
            E::PckExtension { .. } => "pck_extension",
            E::UntrustedRoot { .. } | E::CollateralRoot { .. } => "root",
            E::Crl { .. } => "crl",
            E::CrlStale { .. } => "crl_stale",
            E::Revoked { .. } => "revoked",
            E::MissingCollateral { .. } => "missing_collateral",
            E::CollateralFormat { .. } => "collateral_format",
            E::CollateralSignature { .. } => "collateral_signature",
            E::CollateralStale { .. } => "collateral_stale",
            E::CollateralMismatch { field: "fmspc", .. } => "fmspc",
            E::CollateralMismatch { .. } => "collateral_mismatch",
            E::QeReportSignature { .. } => "qe_report_signature",
            E::QeReportData { .. } => "qe_report_data",
            E::QuoteSignature { .. } => "quote_signature",
            E::QeIdentity { .. } => "qe_identity",
            E::SvnBelowLevels { .. } | E::NoTcbLevel { .. } => "tcb_level",
            E::NoModuleIdentity { .. } | E::ModuleIdentity { .. } => "tdx_module",
            E::TcbStatus { .. } => "tcb_status",
            E::Advisory { .. } => "advisory",
            E::NoPolicySection => "policy_tee",
            E::Debug => "debug",
            E::TdAttributes { .. } => "td_attributes",
            E::SeptVeDisable => "sept_ve_disable",
            E::TeeTcbSvn { .. } => "min_tee_tcb_svn",
            E::MrtdNotPinned { .. } => "mrtd_not_pinned",
            E::NotAllowed { field, .. } => field,
        }
    }
}
