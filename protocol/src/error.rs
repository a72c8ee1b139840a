//! One error type per concern, each variant one failed check with its values.

pub use crate::snp::report::ReportError;
pub use crate::verify_error::VerifyError;

/// Malformed bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Fewer bytes than the encoding needs.
    #[error("{what}: truncated: needed {needed} bytes, {available} available")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes needed, counted from where the short read started.
        needed: usize,
        /// Bytes there were, counted from the same point.
        available: usize,
    },
    /// A length over its named maximum.
    #[error("{field}: length {len} exceeds the maximum {max}")]
    TooLong {
        /// The field, message or list whose length it is.
        field: &'static str,
        /// The length declared or given (bytes, or items for a count).
        len: usize,
        /// Its named maximum, in the same unit.
        max: usize,
    },
    /// Bytes after the end of a complete message.
    #[error("{what}: {extra} trailing bytes after the message")]
    TrailingData {
        /// What was decoded.
        what: &'static str,
        /// Bytes left over after it.
        extra: usize,
    },
    /// A type byte this phase does not know.
    #[error("{what}: unknown type {value:#04x}")]
    UnknownType {
        /// The message family, e.g. `handshake message`, `console message`.
        what: &'static str,
        /// The type byte received.
        value: u8,
    },
    /// A field with a value outside its domain.
    #[error("{field}: invalid value {value}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// The value, or what is wrong with it (e.g. `not UTF-8`), as text.
        value: String,
    },
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
    Invalid {
        /// The policy key.
        field: &'static str,
        /// Why its value is invalid.
        reason: String,
    },
}

/// Which item of the client's visible check list a failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Report format: size, version, reserved bytes, algorithm, product.
    Format,
    /// Certificate chain: well-formed, kinds and names link, signatures, validity.
    Chain,
    /// The chain ends in a root the user trusts (pinned AMD ARK, Intel SGX Root CA, or
    /// a policy root).
    Root,
    /// No certificate of the chain is revoked; the CRLs are signed and current.
    Revocation,
    /// The report's signature by the VCEK or VLEK (TDX: the quote's by its attestation
    /// key, the QE report's by the PCK key).
    Signature,
    /// The collateral judging the report (TDX: TCB info, QE identity) is signed by the
    /// vendor, current and for this platform.
    Collateral,
    /// The VCEK or VLEK's TCB and HWID extensions match the report.
    Tcb,
    /// Guest policy bits, VMPL, minimum TCB and SVN, host data, ID allow-lists.
    Policy,
    /// MEASUREMENT is in the allowed set.
    Measurement,
    /// Azure's paravisor: REPORT_DATA is the hash of the runtime claims, whose AK is
    /// shown (and pinned when the policy says so).
    #[serde(rename = "runtime_claims")]
    RuntimeClaims,
    /// REPORT_DATA binds the report to this TLS session (Azure: the runtime claims'
    /// user-data does).
    Binding,
    /// The guest identity key signs this session and matches the pinned one.
    Identity,
}

impl Check {
    /// Every check, in the order the verifiers run them and the client lists them.
    pub const ALL: [Self; 12] = [
        Self::Format,
        Self::Chain,
        Self::Root,
        Self::Revocation,
        Self::Signature,
        Self::Collateral,
        Self::Tcb,
        Self::Policy,
        Self::Measurement,
        Self::RuntimeClaims,
        Self::Binding,
        Self::Identity,
    ];

    /// The checks a SEV-SNP verdict lists.
    pub const SNP: [Self; 10] = [
        Self::Format,
        Self::Chain,
        Self::Root,
        Self::Revocation,
        Self::Signature,
        Self::Tcb,
        Self::Policy,
        Self::Measurement,
        Self::Binding,
        Self::Identity,
    ];

    /// The checks an SEV-SNP report behind Azure's paravisor lists: SEV-SNP's and the
    /// runtime claims.
    pub const AZURE_SNP: [Self; 11] = [
        Self::Format,
        Self::Chain,
        Self::Root,
        Self::Revocation,
        Self::Signature,
        Self::Tcb,
        Self::Policy,
        Self::Measurement,
        Self::RuntimeClaims,
        Self::Binding,
        Self::Identity,
    ];

    /// The checks an Intel TDX verdict lists.
    pub const TDX: [Self; 11] = [
        Self::Format,
        Self::Chain,
        Self::Root,
        Self::Revocation,
        Self::Signature,
        Self::Collateral,
        Self::Tcb,
        Self::Policy,
        Self::Measurement,
        Self::Binding,
        Self::Identity,
    ];

    /// The checks a TDX quote behind Azure's paravisor lists: TDX's and the runtime
    /// claims.
    pub const AZURE_TDX: [Self; 12] = [
        Self::Format,
        Self::Chain,
        Self::Root,
        Self::Revocation,
        Self::Signature,
        Self::Collateral,
        Self::Tcb,
        Self::Policy,
        Self::Measurement,
        Self::RuntimeClaims,
        Self::Binding,
        Self::Identity,
    ];

    /// The lowercase name used in `--json` and the GUI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::Chain => "chain",
            Self::Root => "root",
            Self::Revocation => "revocation",
            Self::Signature => "signature",
            Self::Collateral => "collateral",
            Self::Tcb => "tcb",
            Self::Policy => "policy",
            Self::Measurement => "measurement",
            Self::RuntimeClaims => "runtime_claims",
            Self::Binding => "binding",
            Self::Identity => "identity",
        }
    }
}
