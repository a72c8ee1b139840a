//! Evidence providers: where attestation reports come from, behind one trait.
//!
//! ```text
//! report_data (64 B, the session binding)
//!      │
//!      ├─ sev-snp   /dev/sev-guest SNP_GET_EXT_REPORT + the host's certificate table
//!      ├─ azure-vtpm  vTPM NV 0x01400002 <- binding; NV 0x01400001 -> HCL report
//!      │            (the paravisor's SNP report + runtime claims carrying the binding)
//!      ├─ tsm       /sys/kernel/config/tsm/report/<fresh dir>: inblob -> outblob, auxblob
//!      │            (sev_guest: SNP report + certificates; tdx_guest: TDX quote)
//!      └─ simulated the sim-init TEST chain, SEV-SNP or TDX (NOT CONFIDENTIAL)
//!      ▼
//! (Tee, report bytes, certificates)
//! ```
//!
//! Providers are blocking (an ioctl, configfs file IO, or an ECDSA signature): the
//! server calls them on tokio's blocking pool.

pub mod azure;
pub mod sevguest;
pub mod simulated;
pub mod tsm;

use cvmc_protocol::evidence::{CertEntry, Tee};

/// A report and the certificates that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvidence {
    /// Report format.
    pub tee: Tee,
    /// The raw report.
    pub report: Vec<u8>,
    /// Certificates (VCEK/VLEK, ASK/ASVK), possibly none.
    pub certs: Vec<CertEntry>,
    /// TDX collateral JSON to send along (the simulated provider's), or empty.
    pub collateral: Vec<u8>,
}

/// Failure to produce a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The device or interface is not there (not a confidential guest, or no driver).
    #[error("{provider}: {path} is not available: {reason}")]
    Unavailable { provider: &'static str, path: String, reason: String },
    /// The firmware or kernel refused the request.
    #[error("{provider}: the report request failed: {reason}")]
    Request { provider: &'static str, reason: String },
    /// What came back is malformed.
    #[error("{provider}: malformed response: {reason}")]
    Malformed { provider: &'static str, reason: String },
    /// Files of the simulated chain or of stored certificates.
    #[error("{0}")]
    Files(String),
}

/// A source of attestation reports.
pub trait EvidenceProvider: Send + Sync + std::fmt::Debug {
    /// Short name for logs.
    fn name(&self) -> &'static str;
    /// A fresh report whose REPORT_DATA is `report_data`, with certificates.
    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError>;
}

/// Read PEM or DER certificates for providers that do not get them from the
/// firmware: `vcek.pem` (or `vlek.pem`) and `ask.pem` (or `asvk.pem`) in `dir`.
pub fn certs_from_dir(dir: &std::path::Path) -> Result<Vec<CertEntry>, EvidenceError> {
    use cvmc_protocol::evidence::CertKind;
    let mut out = Vec::new();
    for (name, kind) in [
        ("vcek.pem", CertKind::VCEK),
        ("vlek.pem", CertKind::VLEK),
        ("ask.pem", CertKind::ASK),
        ("asvk.pem", CertKind::ASVK),
    ] {
        let path = dir.join(name);
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let der = match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => der::pem::decode_vec(text.trim().as_bytes())
                .map(|(_, d)| d)
                .map_err(|e| EvidenceError::Files(format!("{}: {e}", path.display())))?,
            _ => bytes,
        };
        out.push(CertEntry { kind, der });
    }
    Ok(out)
}
