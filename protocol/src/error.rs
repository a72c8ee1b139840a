//! One error type per concern, each variant one failed check with its values.

pub use crate::snp::report::ReportError;
use crate::snp::report::SigningKey;
use crate::snp::tcb::TcbComponent;
use crate::time::fmt_time;

/// Malformed bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Fewer bytes than the encoding needs.
    #[error("{what}: truncated: needed {needed} bytes, {available} available")]
    Truncated { what: &'static str, needed: usize, available: usize },
    /// A length over its named maximum.
    #[error("{field}: length {len} exceeds the maximum {max}")]
    TooLong { field: &'static str, len: usize, max: usize },
    /// Bytes after the end of a complete message.
    #[error("{what}: {extra} trailing bytes after the message")]
    TrailingData { what: &'static str, extra: usize },
    /// A type byte this phase does not know.
    #[error("{what}: unknown type {value:#04x}")]
    UnknownType { what: &'static str, value: u8 },
    /// A field with a value outside its domain.
    #[error("{field}: invalid value {value}")]
    BadValue { field: &'static str, value: String },
}

/// A trust policy file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// TOML syntax, an unknown key, a wrong type or bad hex (the message names the key).
    #[error("trust policy: {0}")]
    Parse(String),
    /// A semantically invalid value.
    #[error("trust policy: {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Which item of the client's visible check list a failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Report format: size, version, reserved bytes, algorithm, product.
    Format,
    /// Certificate chain: well-formed, kinds and names link, signatures, validity.
    Chain,
    /// The chain ends in a root the user trusts (pinned AMD ARK or a policy root).
    Root,
    /// The report's signature by the V[CL]EK.
    Signature,
    /// The V[CL]EK's TCB and HWID extensions match the report.
    Tcb,
    /// Guest policy bits, VMPL, minimum TCB and SVN, host data, ID allow-lists.
    Policy,
    /// MEASUREMENT is in the allowed set.
    Measurement,
    /// REPORT_DATA binds the report to this TLS session.
    Binding,
    /// The guest identity key signs this session and matches the pinned one.
    Identity,
}

impl Check {
    /// The checks in the order the verifier runs them and the client lists them.
    pub const ALL: [Self; 9] = [
        Self::Format,
        Self::Chain,
        Self::Root,
        Self::Signature,
        Self::Tcb,
        Self::Policy,
        Self::Measurement,
        Self::Binding,
        Self::Identity,
    ];
}

/// Evidence that does not meet the trust policy. One variant per check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("tee: {tee} evidence cannot be verified by this client")]
    UnsupportedTee { tee: String },
    #[error("tee: evidence labelled {label} but its chain ends in {anchor}")]
    TeeMismatch { label: String, anchor: String },
    #[error("product: report CPUID says {report}, the signing certificate is for {cert}")]
    ProductMismatch { report: String, cert: String },
    #[error("product: cannot tell the product of a version {version} report: {reason}")]
    UnknownProduct { version: u32, reason: String },
    #[error("certificates: no {kind} certificate in the evidence or the local cache")]
    MissingCertificate { kind: String },
    #[error("certificates: {kind} is not a valid certificate: {reason}")]
    CertificateDecode { kind: String, reason: String },
    #[error("signing key: the report says it is signed by the {report:?}, but the certificate presented is a {cert}")]
    SignerKind { report: SigningKey, cert: String },
    #[error(
        "root: {subject} is issued by \"{issuer}\", which is neither AMD's pinned {product} root nor a root in the trust policy"
    )]
    UntrustedRoot { subject: String, issuer: String, product: String },
    #[error("chain: {subject} names issuer \"{issuer}\" but is presented under \"{parent}\"")]
    ChainName { subject: String, issuer: String, parent: String },
    #[error("chain: {kind} has subject \"{actual}\", expected \"{expected}\"")]
    CertificateName { kind: String, expected: String, actual: String },
    #[error("chain: the signature of {subject} by {signer} does not verify: {reason}")]
    ChainSignature { signer: String, subject: String, reason: String },
    #[error("chain: {subject} is valid from {} to {}, and the time of verification is {}", fmt_time(*not_before), fmt_time(*not_after), fmt_time(*now))]
    CertificateExpired { subject: String, not_before: u64, not_after: u64, now: u64 },
    #[error("chain: {subject} uses {algorithm}, expected {expected}")]
    CertificateAlgorithm { subject: String, algorithm: String, expected: String },
    #[error("signature: the report signature does not verify with the {signer} key: {reason}")]
    ReportSignature { signer: String, reason: String },
    #[error("tcb: {cert} lacks the {name} extension ({oid})")]
    MissingExtension { cert: String, name: &'static str, oid: String },
    #[error("tcb: {cert} extension {name} is malformed: {reason}")]
    BadExtension { cert: String, name: &'static str, reason: String },
    #[error("tcb: {cert} is issued for {component} SPL {cert_value}, the report's REPORTED_TCB has {report_value}")]
    TcbMismatch { cert: String, component: TcbComponent, cert_value: u8, report_value: u8 },
    #[error("tcb: REPORTED_TCB byte {index} is {value:#04x}, reserved for this product")]
    TcbReserved { index: usize, value: u8 },
    #[error("hwid: the VCEK is issued for chip {cert_hwid}, the report's CHIP_ID is {chip_id}")]
    HwidMismatch { cert_hwid: String, chip_id: String },
    #[error("hwid: the report's CHIP_ID is masked (MASK_CHIP_KEY), so it cannot be matched to the VCEK")]
    ChipIdMasked,
    #[error("binding: REPORT_DATA is {actual}, this session expects {expected}")]
    Binding { expected: String, actual: String },
    #[error(
        "binding not checked: no expected REPORT_DATA was given, so a report replayed from another session would pass (give --report-data, or --no-binding to accept it unbound)"
    )]
    BindingNotChecked,
    #[error("root: the evidence chains to {anchor}, not to the hardware vendor's root, and hardware is required")]
    HardwareRequired { anchor: String },
    #[error("identity: the guest identity signature over this session does not verify: {reason}")]
    IdentitySignature { reason: String },
    #[error("debug: the guest policy allows debugging (POLICY bit 19); its memory is readable by the host")]
    Debug,
    #[error("migration agent: the guest policy allows a migration agent (POLICY bit 18)")]
    MigrationAgent,
    #[error("smt: the guest policy allows SMT (POLICY bit 16) and the trust policy forbids it")]
    Smt,
    #[error("single socket: the trust policy requires SINGLE_SOCKET (POLICY bit 20)")]
    SingleSocket,
    #[error(
        "abi: the guest requires firmware ABI {actual_major}.{actual_minor}, the trust policy's minimum is {min_major}.{min_minor}"
    )]
    Abi { min_major: u8, min_minor: u8, actual_major: u8, actual_minor: u8 },
    #[error("vmpl: the report was made at VMPL {actual}, the trust policy requires VMPL {expected}")]
    Vmpl { expected: u32, actual: u32 },
    #[error("min tcb: {component} SPL {actual} is below the trust policy's minimum {min}")]
    TcbBelowMinimum { component: TcbComponent, min: u8, actual: u8 },
    #[error("guest svn: {actual} is below the trust policy's minimum {min}")]
    GuestSvn { min: u32, actual: u32 },
    #[error("measurement: the trust policy pins no measurement; the guest reports {actual}")]
    MeasurementNotPinned { actual: String },
    #[error("measurement: {actual} is not one of the {allowed} allowed measurements")]
    MeasurementNotAllowed { actual: String, allowed: usize },
    #[error("host data: HOST_DATA is {actual}, the trust policy requires {expected}")]
    HostData { expected: String, actual: String },
    #[error("{field}: {actual} is not in the trust policy's allow-list")]
    NotAllowed { field: &'static str, actual: String },
}

impl VerifyError {
    /// The client check-list item this failure belongs to.
    pub fn check(&self) -> Check {
        use VerifyError as E;
        match self {
            E::Report(_) | E::UnsupportedTee { .. } | E::UnknownProduct { .. } => Check::Format,
            E::UntrustedRoot { .. } | E::TeeMismatch { .. } | E::HardwareRequired { .. } => Check::Root,
            E::ProductMismatch { .. }
            | E::MissingCertificate { .. }
            | E::CertificateDecode { .. }
            | E::SignerKind { .. }
            | E::ChainName { .. }
            | E::CertificateName { .. }
            | E::ChainSignature { .. }
            | E::CertificateExpired { .. }
            | E::CertificateAlgorithm { .. } => Check::Chain,
            E::ReportSignature { .. } => Check::Signature,
            E::MissingExtension { .. }
            | E::BadExtension { .. }
            | E::TcbMismatch { .. }
            | E::TcbReserved { .. }
            | E::HwidMismatch { .. }
            | E::ChipIdMasked => Check::Tcb,
            E::Binding { .. } | E::BindingNotChecked => Check::Binding,
            E::IdentitySignature { .. } => Check::Identity,
            E::MeasurementNotPinned { .. } | E::MeasurementNotAllowed { .. } => Check::Measurement,
            E::Debug
            | E::MigrationAgent
            | E::Smt
            | E::SingleSocket
            | E::Abi { .. }
            | E::Vmpl { .. }
            | E::TcbBelowMinimum { .. }
            | E::GuestSvn { .. }
            | E::HostData { .. }
            | E::NotAllowed { .. } => Check::Policy,
        }
    }

    /// A stable snake_case name of the failed check, for `--json` (`failed_check`)
    /// and scripts.
    pub fn name(&self) -> &'static str {
        use VerifyError as E;
        match self {
            E::Report(r) => match r {
                ReportError::Size { .. } => "report_size",
                ReportError::UnknownVersion { .. } => "report_version",
                ReportError::ReservedNonZero { .. } => "reserved_bytes",
                ReportError::UnknownSigningKey { .. } => "signing_key",
                ReportError::SignatureAlgorithm { .. } => "signature_algorithm",
                ReportError::UnknownCpuid { .. } => "product",
            },
            E::UnsupportedTee { .. } => "tee",
            E::TeeMismatch { .. } => "tee",
            E::ProductMismatch { .. } | E::UnknownProduct { .. } => "product",
            E::MissingCertificate { .. } => "missing_certificate",
            E::CertificateDecode { .. } => "certificate_decode",
            E::SignerKind { .. } => "signing_key",
            E::UntrustedRoot { .. } => "root",
            E::ChainName { .. } | E::CertificateName { .. } => "certificate_name",
            E::ChainSignature { .. } => "chain_signature",
            E::CertificateExpired { .. } => "certificate_validity",
            E::CertificateAlgorithm { .. } => "certificate_algorithm",
            E::ReportSignature { .. } => "report_signature",
            E::MissingExtension { .. } => "missing_extension",
            E::BadExtension { .. } => "bad_extension",
            E::TcbMismatch { .. } | E::TcbReserved { .. } => "tcb_extension",
            E::HwidMismatch { .. } | E::ChipIdMasked => "hwid",
            E::Binding { .. } => "binding",
            E::BindingNotChecked => "binding_not_checked",
            E::HardwareRequired { .. } => "hardware_required",
            E::IdentitySignature { .. } => "identity",
            E::Debug => "debug",
            E::MigrationAgent => "migration_agent",
            E::Smt => "smt",
            E::SingleSocket => "single_socket",
            E::Abi { .. } => "abi",
            E::Vmpl { .. } => "vmpl",
            E::TcbBelowMinimum { .. } => "min_tcb",
            E::GuestSvn { .. } => "guest_svn",
            E::MeasurementNotPinned { .. } => "measurement_not_pinned",
            E::MeasurementNotAllowed { .. } => "measurement",
            E::HostData { .. } => "host_data",
            E::NotAllowed { field, .. } => field,
        }
    }
}
