//! [`VerifyError`]: why evidence was refused, one variant per failed check with its values.

use crate::error::Check;
use crate::snp::report::{ReportError, SigningKey};
use crate::snp::tcb::TcbComponent;
use crate::time::fmt_time;

/// Evidence that does not meet the trust policy. One variant per check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The report bytes are not a well-formed SEV-SNP report.
    #[error("{0}")]
    Report(#[from] ReportError),
    /// An Intel TDX quote or its collateral failed a check.
    #[error("{0}")]
    Tdx(#[from] crate::tdx::TdxError),
    /// Azure paravisor evidence (HCL report, runtime claims) failed a check.
    #[error("{0}")]
    Azure(#[from] crate::azure::AzureError),
    /// Evidence from a TEE this client cannot verify (it verifies SEV-SNP, Intel TDX
    /// and their simulated forms).
    #[error("tee: {tee} evidence cannot be verified by this client")]
    UnsupportedTee {
        /// The evidence's TEE label, e.g. `unknown(0x…)`.
        tee: String,
    },
    /// The evidence's TEE label disagrees with where its chain ends: `simulated`
    /// chaining to AMD, or `sev-snp` chaining to a policy root.
    #[error("tee: evidence labelled {label} but its chain ends in {anchor}")]
    TeeMismatch {
        /// The evidence's TEE label (`sev-snp` or `simulated`).
        label: String,
        /// Where the chain ends, as [`Anchor`](crate::snp::roots::Anchor) displays it.
        anchor: String,
    },
    /// The report's CPUID names another product than the signing certificate.
    #[error("product: report CPUID says {report}, the signing certificate is for {cert}")]
    ProductMismatch {
        /// The product the report's CPUID_FAM_ID and CPUID_MOD_ID name.
        report: String,
        /// The product the VCEK or VLEK names (its productName, else its issuer's CN).
        cert: String,
    },
    /// No product can be told: the report has no CPUID (version 2) and the signing
    /// certificate names none.
    #[error("product: cannot tell the product of a version {version} report: {reason}")]
    UnknownProduct {
        /// The report's VERSION.
        version: u32,
        /// Why no product is known.
        reason: String,
    },
    /// No signing certificate of the kind the report's KEY_INFO.SIGNING_KEY names.
    #[error("certificates: no {kind} certificate in the evidence or the local cache")]
    MissingCertificate {
        /// The kind needed: `VCEK` or `VLEK`.
        kind: String,
    },
    /// A certificate's DER or PEM does not decode as X.509.
    #[error("certificates: {kind} is not a valid certificate: {reason}")]
    CertificateDecode {
        /// The role it was presented in, e.g. `VCEK`, `ASK (built-in)`, `policy root LABEL`.
        kind: String,
        /// The decoder's message.
        reason: String,
    },
    /// The report names one signing key (KEY_INFO.SIGNING_KEY) and the certificate
    /// presented is for the other.
    #[error("signing key: the report says it is signed by the {report:?}, but the certificate presented is a {cert}")]
    SignerKind {
        /// The signing key the report names.
        report: SigningKey,
        /// The presented certificate's subject CN (`SEV-VCEK` or `SEV-VLEK`), escaped.
        cert: String,
    },
    /// The intermediate is issued by neither AMD's pinned ARK for the product nor a
    /// root in the trust policy.
    #[error(
        "root: {subject} is issued by \"{issuer}\", which is neither AMD's pinned {product} root nor a root in the trust policy"
    )]
    UntrustedRoot {
        /// The intermediate (ASK or ASVK), as `ROLE "CN"`.
        subject: String,
        /// The intermediate's issuer name (RFC 4514), escaped.
        issuer: String,
        /// The product whose ARK was tried: `Milan`, `Genoa` or `Turin`.
        product: String,
    },
    /// A certificate's issuer name is not the subject name of the certificate it is
    /// presented under.
    #[error("chain: {subject} names issuer \"{issuer}\" but is presented under \"{parent}\"")]
    ChainName {
        /// The certificate, as `ROLE "CN"`.
        subject: String,
        /// The issuer name it names (RFC 4514), escaped.
        issuer: String,
        /// The subject name of the certificate above it (RFC 4514), escaped.
        parent: String,
    },
    /// A certificate's subject CN is not the one its role requires.
    #[error("chain: {kind} has subject \"{actual}\", expected \"{expected}\"")]
    CertificateName {
        /// The role: `VCEK`, `VLEK`, `ASK` or `ASVK`.
        kind: String,
        /// The CN the role requires, e.g. `SEV-VCEK`, `SEV-Milan`, `SEV-VLEK-Genoa`.
        expected: String,
        /// The certificate's CN, escaped.
        actual: String,
    },
    /// A certificate's RSA-PSS signature by its issuer does not verify.
    #[error("chain: the signature of {subject} by {signer} does not verify: {reason}")]
    ChainSignature {
        /// The issuing certificate, as `ROLE "CN"`.
        signer: String,
        /// The signed certificate, as `ROLE "CN"`.
        subject: String,
        /// The `sev` crate's message.
        reason: String,
    },
    /// A certificate is not valid at the time of verification (not yet, or no longer).
    #[error("chain: {subject} is valid from {} to {}, and the time of verification is {}", fmt_time(*not_before), fmt_time(*not_after), fmt_time(*now))]
    CertificateExpired {
        /// The certificate, as `ROLE "CN"`.
        subject: String,
        /// Start of its validity (notBefore), unix seconds.
        not_before: u64,
        /// End of its validity (notAfter), unix seconds.
        not_after: u64,
        /// The time of verification, unix seconds.
        now: u64,
    },
    /// A certificate uses another algorithm than its role requires: RSASSA-PSS for
    /// chain signatures, an ECDSA P-384 key for the VCEK or VLEK.
    #[error("chain: {subject} uses {algorithm}, expected {expected}")]
    CertificateAlgorithm {
        /// The certificate, as `ROLE "CN"`.
        subject: String,
        /// The algorithm found: the signature OID, or the key OID and curve.
        algorithm: String,
        /// The algorithm required, with its OID.
        expected: String,
    },
    /// The report's signature does not verify with the VCEK or VLEK's key, or the report
    /// is unsigned (KEY_INFO.SIGNING_KEY 7).
    #[error("signature: the report signature does not verify with the {signer} key: {reason}")]
    ReportSignature {
        /// The signing certificate, as `ROLE "CN"`; `none` for an unsigned report.
        signer: String,
        /// Why it does not verify.
        reason: String,
    },
    /// The VCEK or VLEK lacks a required extension (AMD KDS spec pub. 57230).
    #[error("tcb: {cert} lacks the {name} extension ({oid})")]
    MissingExtension {
        /// The certificate, as `ROLE "CN"`.
        cert: String,
        /// The extension's name, e.g. `blSPL`, `hwID`, `csp_id`.
        name: &'static str,
        /// The extension's OID, dotted.
        oid: String,
    },
    /// A VCEK or VLEK extension is present twice or does not decode, or hwID has the wrong
    /// length for the product.
    #[error("tcb: {cert} extension {name} is malformed: {reason}")]
    BadExtension {
        /// The certificate, as `ROLE "CN"`.
        cert: String,
        /// The extension's name, e.g. `ucodeSPL`, `productName`, `hwID`.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The VCEK or VLEK is issued for another TCB than the report's REPORTED_TCB.
    #[error("tcb: {cert} is issued for {component} SPL {cert_value}, the report's REPORTED_TCB has {report_value}")]
    TcbMismatch {
        /// The certificate, as `ROLE "CN"`.
        cert: String,
        /// The first component that differs.
        component: TcbComponent,
        /// The SPL in the certificate's extension.
        cert_value: u8,
        /// The SPL in the report's REPORTED_TCB.
        report_value: u8,
    },
    /// A TCB_VERSION byte the product's layout reserves is not zero.
    #[error("tcb: {field} byte {index} is {value:#04x}, reserved for this product")]
    TcbReserved {
        /// Which TCB: `REPORTED_TCB`, `CURRENT_TCB`, `COMMITTED_TCB` or `LAUNCH_TCB`.
        field: &'static str,
        /// The byte's index within REPORTED_TCB (0..=7).
        index: usize,
        /// The byte's value.
        value: u8,
    },
    /// The VCEK's hwID is not the report's CHIP_ID.
    #[error("hwid: the VCEK is issued for chip {cert_hwid}, the report's CHIP_ID is {chip_id}")]
    HwidMismatch {
        /// The VCEK's hwID extension, hex (64 bytes; 8 on Turin).
        cert_hwid: String,
        /// The report's CHIP_ID, hex (all 64 bytes).
        chip_id: String,
    },
    /// The report's CHIP_ID is masked (KEY_INFO.MASK_CHIP_KEY set, or all zero), so
    /// it cannot be matched to the VCEK's hwID.
    #[error("hwid: the report's CHIP_ID is masked (MASK_CHIP_KEY), so it cannot be matched to the VCEK")]
    ChipIdMasked,
    /// KEY_INFO.MASK_CHIP_KEY is set: the host configured the firmware not to use the
    /// chip's key, so a VCEK cannot have signed this report.
    #[error("mask chip key: the report says MASK_CHIP_KEY (KEY_INFO bit 1), so no VCEK can have signed it")]
    ChipKeyMasked,
    /// REPORTED_TCB is above CURRENT_TCB in a component: the key is derived for a TCB
    /// the platform is not running.
    #[error("reported tcb: REPORTED_TCB {component} SPL {reported} is above CURRENT_TCB's {current}")]
    ReportedAboveCurrent {
        /// The first component above.
        component: TcbComponent,
        /// REPORTED_TCB's SPL.
        reported: u8,
        /// CURRENT_TCB's SPL.
        current: u8,
    },
    /// The running firmware is not the committed one (provisional firmware the host can
    /// roll back), or, with `allow_provisional_firmware`, the committed one is newer
    /// than the running one.
    #[error(
        "provisional firmware: committed {field} {committed} {relation} running {field} {current}{hint}",
        relation = if *allowed { "is above" } else { "differs from" },
        hint = if *allowed { "" } else { " (allow_provisional_firmware accepts provisional firmware)" }
    )]
    ProvisionalFirmware {
        /// `TCB`, `build` or `API version`.
        field: &'static str,
        /// The committed value.
        committed: String,
        /// The running (CURRENT) value.
        current: String,
        /// Whether the policy allows provisional firmware.
        allowed: bool,
    },
    /// The running firmware's build or API version is below the trust policy's
    /// `min_build` or `min_version`.
    #[error("{key}: the {which} firmware's {what} is {actual}, the trust policy's minimum is {min}")]
    FirmwareBelowMinimum {
        /// `min_build` or `min_version`.
        key: &'static str,
        /// `build` or `API version`.
        what: &'static str,
        /// `running` or `committed`.
        which: &'static str,
        /// The minimum.
        min: String,
        /// The report's value.
        actual: String,
    },
    /// The guest policy's reserved bits are wrong: bit 17 must be one, bits 63:26 zero.
    #[error("guest policy reserved: POLICY {policy:#x} is malformed: {reason}")]
    GuestPolicyReserved {
        /// The report's POLICY.
        policy: u64,
        /// Which reserved bits are wrong.
        reason: String,
    },
    /// The guest policy allows CXL (POLICY bit 21) and the trust policy does not
    /// (`allow_cxl`).
    #[error("cxl: the guest policy allows CXL memory and devices (POLICY bit 21)")]
    Cxl,
    /// The trust policy requires a guest policy bit that the report's POLICY lacks.
    #[error("{name}: the trust policy requires the guest policy's {label} (POLICY bit {bit})")]
    GuestPolicyBitMissing {
        /// The failed check's name, e.g. `mem_aes_256_xts`.
        name: &'static str,
        /// The ABI name, e.g. `MEM_AES_256_XTS`.
        label: &'static str,
        /// The bit.
        bit: u32,
    },
    /// PLATFORM_INFO has bits set that the ABI reserves.
    #[error("platform info reserved: PLATFORM_INFO {value:#x} sets reserved bits {reserved:#x}")]
    PlatformInfoReserved {
        /// The report's PLATFORM_INFO.
        value: u64,
        /// The reserved bits that are set.
        reserved: u64,
    },
    /// A PLATFORM_INFO flag is not what the trust policy's `platform_info` requires.
    #[error(
        "platform info: {flag} is {state} in PLATFORM_INFO {value:#x}, the trust policy {verb} it",
        state = if *required { "clear" } else { "set" },
        verb = if *required { "requires" } else { "forbids" }
    )]
    PlatformInfoFlag {
        /// The ABI name, e.g. `SMT_EN`.
        flag: &'static str,
        /// True when the policy requires it (and it is clear), false when it forbids it.
        required: bool,
        /// The report's PLATFORM_INFO.
        value: u64,
    },
    /// CURRENT_MIT_VECTOR lacks bits the trust policy's `required_mitigations` names.
    #[error("mitigation vector: {}", match actual {
        Some(a) => format!("CURRENT_MIT_VECTOR {a:#x} lacks the required bits {:#x}", required & !a),
        None => format!("the report (version {version}) has no mitigation vector and the trust policy requires {required:#x}"),
    })]
    MitigationVector {
        /// The trust policy's `required_mitigations`.
        required: u64,
        /// CURRENT_MIT_VECTOR, `None` before report version 5.
        actual: Option<u64>,
        /// The report version.
        version: u32,
    },
    /// No CRL for the product was available and the trust policy says
    /// `revocation = "require"`.
    #[error(
        "crl missing: no AMD CRL for {product} is available and the trust policy requires one (revocation = \"require\")"
    )]
    CrlMissing {
        /// The product line.
        product: String,
    },
    /// The CRL does not decode, is not issued or signed by the product's root.
    #[error("crl: {reason}")]
    Crl {
        /// What is wrong.
        reason: String,
    },
    /// The CRL is outside its thisUpdate..nextUpdate window and the trust policy
    /// requires a current one.
    #[error(
        "crl stale: the {product} CRL is valid from {} to {}, now is {}", fmt_time(*this_update), fmt_time(*next_update), fmt_time(*now)
    )]
    CrlStale {
        /// The product line.
        product: String,
        /// thisUpdate.
        this_update: u64,
        /// nextUpdate (0 when the CRL has none).
        next_update: u64,
        /// The time of verification.
        now: u64,
    },
    /// The CRL lists a certificate of the chain.
    #[error("revoked: {cert} (serial {serial}) is listed in AMD's {product} CRL")]
    Revoked {
        /// The certificate, as `ROLE "CN"`.
        cert: String,
        /// Its serial number, hex.
        serial: String,
        /// The product line.
        product: String,
    },
    /// REPORT_DATA is not the binding expected (this session's, or the one given
    /// for a stored report).
    #[error("binding: REPORT_DATA is {actual}, this session expects {expected}")]
    Binding {
        /// The REPORT_DATA expected, hex (64 bytes).
        expected: String,
        /// The report's REPORT_DATA, hex.
        actual: String,
    },
    /// A stored report was verified with no expected REPORT_DATA, and unbound
    /// reports were not accepted (`--no-binding`).
    #[error(
        "binding not checked: no expected REPORT_DATA was given, so a report replayed from another session would pass (give --report-data, or --no-binding to accept it unbound)"
    )]
    BindingNotChecked,
    /// The trust policy requires hardware (`require_hardware`) and the chain ends in
    /// a policy root.
    #[error("root: the evidence chains to {anchor}, not to the hardware vendor's root, and hardware is required")]
    HardwareRequired {
        /// Where the chain ends, as [`Anchor`](crate::snp::roots::Anchor) displays it.
        anchor: String,
    },
    /// The guest identity key is malformed, or its Ed25519 signature over this
    /// session (exporter and nonce) does not verify.
    #[error("identity: the guest identity signature over this session does not verify: {reason}")]
    IdentitySignature {
        /// What is wrong: the key's length, the key, the signature's encoding, or
        /// the verification.
        reason: String,
    },
    /// The guest policy allows debugging (POLICY bit 19) and the trust policy does
    /// not (`allow_debug`).
    #[error("debug: the guest policy allows debugging (POLICY bit 19); its memory is readable by the host")]
    Debug,
    /// The guest policy allows a migration agent (POLICY bit 18) and the trust policy
    /// does not (`allow_migration_agent`).
    #[error("migration agent: the guest policy allows a migration agent (POLICY bit 18)")]
    MigrationAgent,
    /// The guest policy allows SMT (POLICY bit 16) and the trust policy forbids it
    /// (`allow_smt = false`).
    #[error("smt: the guest policy allows SMT (POLICY bit 16) and the trust policy forbids it")]
    Smt,
    /// The trust policy requires SINGLE_SOCKET (`require_single_socket`) and the
    /// guest policy does not set it (POLICY bit 20).
    #[error("single socket: the trust policy requires SINGLE_SOCKET (POLICY bit 20)")]
    SingleSocket,
    /// The minimum firmware ABI the guest policy requires is below the trust
    /// policy's `min_abi`.
    #[error(
        "abi: the guest requires firmware ABI {actual_major}.{actual_minor}, the trust policy's minimum is {min_major}.{min_minor}"
    )]
    Abi {
        /// The trust policy's `min_abi.major`.
        min_major: u8,
        /// The trust policy's `min_abi.minor`.
        min_minor: u8,
        /// ABI_MAJOR in the report's POLICY (bits 15:8).
        actual_major: u8,
        /// ABI_MINOR in the report's POLICY (bits 7:0).
        actual_minor: u8,
    },
    /// The report was made at another VMPL than the trust policy requires.
    #[error("vmpl: the report was made at VMPL {actual}, the trust policy requires VMPL {expected}")]
    Vmpl {
        /// The value the trust policy requires (`vmpl`, 0..=3).
        expected: u32,
        /// The value in the report (VMPL).
        actual: u32,
    },
    /// A TCB component is below the trust policy's `min_tcb` (REPORTED_TCB),
    /// `min_launch_tcb` or `min_committed_tcb`.
    #[error("{}: {tcb} {component} SPL {actual} is below the trust policy's minimum {min}", min_tcb_key(tcb))]
    TcbBelowMinimum {
        /// Which TCB: `REPORTED_TCB`, `LAUNCH_TCB` or `COMMITTED_TCB`.
        tcb: &'static str,
        /// The first component below its minimum.
        component: TcbComponent,
        /// The trust policy's minimum SPL for it.
        min: u8,
        /// The SPL in the report's REPORTED_TCB.
        actual: u8,
    },
    /// GUEST_SVN is below the trust policy's `min_guest_svn`.
    #[error("guest svn: {actual} is below the trust policy's minimum {min}")]
    GuestSvn {
        /// The trust policy's minimum.
        min: u32,
        /// The value in the report (GUEST_SVN).
        actual: u32,
    },
    /// The trust policy pins no measurement (`measurements` is empty).
    #[error("measurement: the trust policy pins no measurement; the guest reports {actual}")]
    MeasurementNotPinned {
        /// The report's MEASUREMENT, hex (48 bytes), for the user to pin.
        actual: String,
    },
    /// MEASUREMENT is not one of the trust policy's `measurements`.
    #[error("measurement: {actual} is not one of the {allowed} allowed measurements")]
    MeasurementNotAllowed {
        /// The report's MEASUREMENT, hex (48 bytes).
        actual: String,
        /// How many measurements the trust policy allows.
        allowed: usize,
    },
    /// HOST_DATA is not the trust policy's `host_data`.
    #[error("host data: HOST_DATA is {actual}, the trust policy requires {expected}")]
    HostData {
        /// The value the trust policy requires, hex (32 bytes).
        expected: String,
        /// The value in the report, hex.
        actual: String,
    },
    /// A report field is not in the trust policy's (non-empty) allow-list for it.
    #[error("{field}: {actual} is not in the trust policy's allow-list")]
    NotAllowed {
        /// The field: `family_id`, `image_id`, `id_key_digest`, `author_key_digest`
        /// or `chip_id`.
        field: &'static str,
        /// The value in the report, hex.
        actual: String,
    },
}

/// The policy key a minimum-TCB refusal names, by the TCB field compared.
fn min_tcb_key(tcb: &str) -> &'static str {
    match tcb {
        "LAUNCH_TCB" => "min_launch_tcb",
        "COMMITTED_TCB" => "min_committed_tcb",
        _ => "min_tcb",
    }
}

impl VerifyError {
    /// The client check-list item this failure belongs to.
    pub fn check(&self) -> Check {
        use VerifyError as E;
        match self {
            E::Tdx(t) => t.check(),
            E::Azure(a) => a.check(),
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
            | E::ChipIdMasked
            | E::ChipKeyMasked
            | E::ReportedAboveCurrent { .. }
            | E::ProvisionalFirmware { .. } => Check::Tcb,
            E::CrlMissing { .. } | E::Crl { .. } | E::CrlStale { .. } | E::Revoked { .. } => Check::Revocation,
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
            | E::FirmwareBelowMinimum { .. }
            | E::GuestPolicyReserved { .. }
            | E::Cxl
            | E::GuestPolicyBitMissing { .. }
            | E::PlatformInfoReserved { .. }
            | E::PlatformInfoFlag { .. }
            | E::MitigationVector { .. }
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
            E::Tdx(t) => t.name(),
            E::Azure(a) => a.name(),
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
            E::TcbBelowMinimum { tcb, .. } => min_tcb_key(tcb),
            E::ChipKeyMasked => "mask_chip_key",
            E::ReportedAboveCurrent { .. } => "reported_tcb",
            E::ProvisionalFirmware { .. } => "provisional_firmware",
            E::FirmwareBelowMinimum { key, .. } => key,
            E::GuestPolicyReserved { .. } => "guest_policy_reserved",
            E::Cxl => "cxl",
            E::GuestPolicyBitMissing { name, .. } => name,
            E::PlatformInfoReserved { .. } => "platform_info_reserved",
            E::PlatformInfoFlag { .. } => "platform_info",
            E::MitigationVector { .. } => "mitigation_vector",
            E::CrlMissing { .. } => "crl_missing",
            E::Crl { .. } => "crl",
            E::CrlStale { .. } => "crl_stale",
            E::Revoked { .. } => "revoked",
            E::GuestSvn { .. } => "guest_svn",
            E::MeasurementNotPinned { .. } => "measurement_not_pinned",
            E::MeasurementNotAllowed { .. } => "measurement",
            E::HostData { .. } => "host_data",
            E::NotAllowed { field, .. } => field,
        }
    }
}
