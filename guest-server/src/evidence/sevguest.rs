//! The `sev-snp` provider: SNP_GET_REPORT through /dev/sev-guest (the `sev` crate).
//!
//! Why not SNP_GET_EXT_REPORT, which also returns the host's certificate table:
//! sev 8 walks that host-supplied table with raw pointers and no bounds checks
//! (`CertTableEntry::parse_table`), so a hostile host could make the guest read
//! out of bounds. The plain report request has no such input. Certificates come
//! from a directory on the guest's disk instead (`certs_dir`: vcek.pem, ask.pem,
//! as fetched from AMD's KDS), or the client supplies them from its cache. The
//! `tsm` provider gets the table through configfs and parses it safely.

use std::path::PathBuf;

use cvmc_protocol::evidence::Tee;

use super::{EvidenceError, EvidenceProvider, RawEvidence, certs_from_dir};

/// /dev/sev-guest.
pub const SEV_GUEST_DEVICE: &str = "/dev/sev-guest";

/// Reports from the SEV-SNP firmware.
#[derive(Debug)]
pub struct SevGuestProvider {
    vmpl: u32,
    certs_dir: Option<PathBuf>,
}

impl SevGuestProvider {
    /// Check the device exists; `vmpl` is the VMPL to request the report at.
    pub fn new(vmpl: u32, certs_dir: Option<PathBuf>) -> Result<Self, EvidenceError> {
        if !std::path::Path::new(SEV_GUEST_DEVICE).exists() {
            return Err(EvidenceError::Unavailable {
                provider: "sev-snp",
                path: SEV_GUEST_DEVICE.into(),
                reason: "no such device (not an SEV-SNP guest, or the sev-guest driver is not loaded)".into(),
            });
        }
        Ok(Self { vmpl, certs_dir })
    }

    /// Turn the firmware's answer into evidence (pure; tested with recorded bytes).
    pub fn assemble(report: Vec<u8>, certs_dir: Option<&std::path::Path>) -> Result<RawEvidence, EvidenceError> {
        if report.len() != cvmc_protocol::snp::report::REPORT_LEN {
            return Err(EvidenceError::Malformed {
                provider: "sev-snp",
                reason: format!(
                    "report is {} bytes, expected {}",
                    report.len(),
                    cvmc_protocol::snp::report::REPORT_LEN
                ),
            });
        }
        let certs = match certs_dir {
            Some(dir) => certs_from_dir(dir)?,
            None => Vec::new(),
        };
        Ok(RawEvidence { tee: Tee::SEV_SNP, report, certs, collateral: Vec::new() })
    }
}

impl EvidenceProvider for SevGuestProvider {
    fn name(&self) -> &'static str {
        "sev-snp"
    }

    #[cfg(target_os = "linux")]
    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        let mut fw = sev::firmware::guest::Firmware::open().map_err(|e| EvidenceError::Unavailable {
            provider: "sev-snp",
            path: SEV_GUEST_DEVICE.into(),
            reason: e.to_string(),
        })?;
        let report = fw
            .get_report(None, Some(*report_data), Some(self.vmpl))
            .map_err(|e| EvidenceError::Request { provider: "sev-snp", reason: e.to_string() })?;
        Self::assemble(report, self.certs_dir.as_deref())
    }

    #[cfg(not(target_os = "linux"))]
    fn evidence(&self, _report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        Err(EvidenceError::Unavailable {
            provider: "sev-snp",
            path: SEV_GUEST_DEVICE.into(),
            reason: "Linux only".into(),
        })
    }
}
