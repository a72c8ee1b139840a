//! The `sev-snp` provider: a report from the SEV-SNP firmware through /dev/sev-guest,
//! with the certificates the host supplies.
//!
//! It asks with SNP_GET_EXT_REPORT (our own ioctl in `crate::sys`), which also
//! returns the certificate table the hypervisor holds for this chip (VCEK or VLEK,
//! ASK, ARK). The table is host input: it is parsed by the bounded parser in
//! `cvmc_protocol::snp::certtable`, never by sev 8's `CertTableEntry::parse_table`,
//! which walks it with raw pointers and no bounds checks. Whatever the host puts
//! there only matters once it chains to the client's pinned AMD root.
//!
//! The certificate buffer starts at the kernel's maximum (4 pages); when the host
//! says it needs more (`SNP_GUEST_VMM_ERR_INVALID_LEN`, the kernel writes back the
//! length), the request is retried once with that length if it is within
//! [`MAX_TABLE_LEN`]. When the host supplies no table, or the kernel or host refuse
//! extended requests, the plain SNP_GET_REPORT (the `sev` crate) is used, as before.
//!
//! Certificates from `certs_dir` on the guest's disk (vcek.pem, ask.pem, as fetched
//! from AMD's KDS) fill in kinds the host did not supply; otherwise the client
//! fetches them from KDS or its cache.

use std::path::PathBuf;

use cvmc_protocol::evidence::Tee;

use cvmc_protocol::evidence::CertEntry;
use cvmc_protocol::snp::certtable::{MAX_TABLE_LEN, parse_cert_table};
use cvmc_protocol::snp::report::REPORT_LEN;

use super::{EvidenceError, EvidenceProvider, RawEvidence, certs_from_dir};

/// The first certificate buffer: the kernel's SEV_FW_BLOB_MAX_SIZE (4 pages).
pub const FIRST_CERTS_LEN: usize = 4 * 4096;
/// Offset of the report in MSG_REPORT_RSP (status, size, 24 reserved bytes).
const REPORT_OFFSET: usize = 32;

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

    /// Turn the firmware's answer into evidence (pure; tested with recorded bytes):
    /// the report, the host's certificates, then those of `certs_dir` of kinds the
    /// host did not supply.
    pub fn assemble(
        report: Vec<u8>,
        host_certs: Vec<CertEntry>,
        certs_dir: Option<&std::path::Path>,
    ) -> Result<RawEvidence, EvidenceError> {
        if report.len() != REPORT_LEN {
            return Err(EvidenceError::Malformed {
                provider: "sev-snp",
                reason: format!("report is {} bytes, expected {REPORT_LEN}", report.len()),
            });
        }
        let mut certs = host_certs;
        if let Some(dir) = certs_dir {
            for entry in certs_from_dir(dir)? {
                if !certs.iter().any(|c| c.kind == entry.kind) {
                    certs.push(entry);
                }
            }
        }
        Ok(RawEvidence { tee: Tee::SEV_SNP, report, certs, collateral: Vec::new() })
    }

    /// The report in the firmware's MSG_REPORT_RSP (pure): status 0, a report size
    /// of exactly one report, and the report inside the response.
    pub fn report_from_response(resp: &[u8]) -> Result<Vec<u8>, EvidenceError> {
        let malformed = |reason: String| EvidenceError::Malformed { provider: "sev-snp", reason };
        let word = |at: usize| resp.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let (Some(status), Some(size)) = (word(0), word(4)) else {
            return Err(malformed(format!("the response is {} bytes", resp.len())));
        };
        if status != 0 {
            return Err(EvidenceError::Request {
                provider: "sev-snp",
                reason: format!("the firmware answered status {status:#x}"),
            });
        }
        if size as usize != REPORT_LEN {
            return Err(malformed(format!("the firmware says its report is {size} bytes, expected {REPORT_LEN}")));
        }
        resp.get(REPORT_OFFSET..REPORT_OFFSET + REPORT_LEN)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| malformed(format!("the response is {} bytes, too short for a report", resp.len())))
    }

    /// The host's certificate table (pure): an untouched (all-zero) buffer means the
    /// host supplied none.
    pub fn host_certs(table: &[u8]) -> Result<Vec<CertEntry>, EvidenceError> {
        if table.iter().all(|&b| b == 0) {
            return Ok(Vec::new());
        }
        parse_cert_table(table).map_err(|e| EvidenceError::Malformed {
            provider: "sev-snp",
            reason: format!("host certificate table: {e}"),
        })
    }

    /// The buffer to retry with after the host asked for `needed` bytes with a
    /// buffer of `tried` (pure): one larger, page-sized, within [`MAX_TABLE_LEN`].
    pub fn retry_len(tried: usize, needed: u32) -> Option<usize> {
        let needed = usize::try_from(needed).ok()?;
        (needed > tried && needed <= MAX_TABLE_LEN).then(|| needed.next_multiple_of(4096))
    }
}

impl EvidenceProvider for SevGuestProvider {
    fn name(&self) -> &'static str {
        "sev-snp"
    }

    #[cfg(target_os = "linux")]
    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        match self.extended(report_data)? {
            Some((report, host)) => Self::assemble(report, host, self.certs_dir.as_deref()),
            None => {
                let mut fw = sev::firmware::guest::Firmware::open().map_err(|e| EvidenceError::Unavailable {
                    provider: "sev-snp",
                    path: SEV_GUEST_DEVICE.into(),
                    reason: e.to_string(),
                })?;
                let report = fw
                    .get_report(None, Some(*report_data), Some(self.vmpl))
                    .map_err(|e| EvidenceError::Request { provider: "sev-snp", reason: e.to_string() })?;
                Self::assemble(report, Vec::new(), self.certs_dir.as_deref())
            }
        }
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

/// A report and the host's certificates.
#[cfg(target_os = "linux")]
type ExtendedReport = (Vec<u8>, Vec<CertEntry>);

#[cfg(target_os = "linux")]
impl SevGuestProvider {
    /// SNP_GET_EXT_REPORT: `Some` with the report and the host's certificates, or
    /// `None` when the host supplies no table or refuses extended requests (the
    /// caller falls back to the plain report). A malformed answer is an error.
    fn extended(&self, report_data: &[u8; 64]) -> Result<Option<ExtendedReport>, EvidenceError> {
        use crate::sys::{SNP_GUEST_VMM_ERR_INVALID_LEN, snp_get_ext_report};
        let dev = std::fs::OpenOptions::new().read(true).write(true).open(SEV_GUEST_DEVICE).map_err(|e| {
            EvidenceError::Unavailable { provider: "sev-snp", path: SEV_GUEST_DEVICE.into(), reason: e.to_string() }
        })?;
        let mut len = FIRST_CERTS_LEN;
        // At most two requests: the first, and one with the length the host asked for.
        for _ in 0..2 {
            let mut certs = vec![0u8; len];
            match snp_get_ext_report(&dev, report_data, self.vmpl, &mut certs) {
                Ok(resp) => {
                    let report = Self::report_from_response(&resp[..])?;
                    let host = Self::host_certs(&certs)?;
                    if host.is_empty() {
                        tracing::debug!("the host supplied no certificate table");
                    }
                    return Ok(Some((report, host)));
                }
                Err(e) if e.vmm_error == SNP_GUEST_VMM_ERR_INVALID_LEN => match Self::retry_len(len, e.certs_len) {
                    Some(next) => len = next,
                    None => {
                        tracing::warn!(
                            needed = e.certs_len,
                            "the host's certificate table does not fit; using the plain report"
                        );
                        return Ok(None);
                    }
                },
                Err(e) => {
                    tracing::info!(
                        error = %e.errno,
                        fw_error = format_args!("{:#x}", e.fw_error),
                        vmm_error = e.vmm_error,
                        "SNP_GET_EXT_REPORT refused; using the plain report"
                    );
                    return Ok(None);
                }
            }
        }
        tracing::warn!("the host's certificate table kept growing; using the plain report");
        Ok(None)
    }
}
