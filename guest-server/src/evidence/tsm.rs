//! The `tsm` provider: Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm),
//! which serves SEV-SNP (`sev_guest`) and TDX (`tdx_guest`) reports alike.
//!
//! ```text
//! mkdir  report/<fresh name>          one directory per request: no sharing
//! read   provider                     sev_guest or tdx_guest
//! write  inblob      <- report_data   bumps `generation`
//! write  privlevel   <- VMPL          (SNP only)
//! read   generation  = g1
//! read   outblob, auxblob (SNP only)
//! read   generation  = g2             g1 != g2: someone else wrote; retry
//! rmdir
//! ```
//!
//! The file operations go through [`ConfigFs`] so the same logic runs against a
//! fake configfs in tests. Everything read is bounded and the certificate table
//! (auxblob, filled by the host) is parsed with the bounds-checked parser in
//! `cvmc_protocol::snp::certtable`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cvmc_protocol::evidence::Tee;
use cvmc_protocol::snp::certtable::{MAX_TABLE_LEN, parse_cert_table};

use super::{EvidenceError, EvidenceProvider, RawEvidence};

/// Where configfs-tsm reports live.
pub const TSM_REPORT_DIR: &str = "/sys/kernel/config/tsm/report";
/// Largest outblob read (an SNP report is 1184 bytes; a TDX quote a few KiB).
pub const MAX_OUTBLOB: usize = cvmc_protocol::handshake::MAX_REPORT_LEN;
/// Retries when the generation changed under us.
pub const MAX_ATTEMPTS: usize = 3;

/// The file operations the provider needs.
pub trait ConfigFs: Send + Sync + std::fmt::Debug {
    /// Create a report directory.
    fn mkdir(&self, path: &Path) -> std::io::Result<()>;
    /// Write an attribute.
    fn write(&self, path: &Path, data: &[u8]) -> std::io::Result<()>;
    /// Read an attribute, at most `limit` bytes (more is an error).
    fn read(&self, path: &Path, limit: usize) -> std::io::Result<Vec<u8>>;
    /// Remove a report directory.
    fn rmdir(&self, path: &Path) -> std::io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl ConfigFs for RealFs {
    fn mkdir(&self, path: &Path) -> std::io::Result<()> {
        std::fs::create_dir(path)
    }
    fn write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        std::fs::write(path, data)
    }
    fn read(&self, path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        std::fs::File::open(path)?.take(limit as u64 + 1).read_to_end(&mut out)?;
        if out.len() > limit {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("more than {limit} bytes")));
        }
        Ok(out)
    }
    fn rmdir(&self, path: &Path) -> std::io::Result<()> {
        std::fs::remove_dir(path)
    }
}

/// Reports through configfs-tsm.
#[derive(Debug)]
pub struct TsmProvider<F: ConfigFs = RealFs> {
    root: PathBuf,
    fs: F,
    privlevel: Option<u32>,
    counter: AtomicU64,
}

impl TsmProvider<RealFs> {
    /// The system's configfs-tsm; fails when it is absent.
    pub fn system(privlevel: Option<u32>) -> Result<Self, EvidenceError> {
        let root = PathBuf::from(TSM_REPORT_DIR);
        if !root.is_dir() {
            return Err(EvidenceError::Unavailable {
                provider: "tsm",
                path: TSM_REPORT_DIR.into(),
                reason: "not a directory (configfs not mounted, or no TSM provider in this kernel)".into(),
            });
        }
        Ok(Self::with_fs(root, RealFs, privlevel))
    }
}

impl<F: ConfigFs> TsmProvider<F> {
    /// A provider over any filesystem (tests use a fake one).
    pub fn with_fs(root: PathBuf, fs: F, privlevel: Option<u32>) -> Self {
        Self { root, fs, privlevel, counter: AtomicU64::new(0) }
    }

    fn attempt(&self, dir: &Path, report_data: &[u8; 64]) -> Result<Option<RawEvidence>, EvidenceError> {
        let io =
            |what: &str, e: std::io::Error| EvidenceError::Request { provider: "tsm", reason: format!("{what}: {e}") };
        let malformed = |reason: String| EvidenceError::Malformed { provider: "tsm", reason };
        // Which TEE answers decides what the other attributes mean: privlevel (the
        // VMPL) and auxblob (the host's certificate table) are SEV-SNP's.
        let provider = self.fs.read(&dir.join("provider"), 64).map_err(|e| io("provider", e))?;
        let tee = match String::from_utf8_lossy(&provider).trim() {
            "sev_guest" => Tee::SEV_SNP,
            "tdx_guest" => Tee::TDX,
            other => return Err(malformed(format!("unknown provider {:?}", cvmc_protocol::text::escape(other)))),
        };
        self.fs.write(&dir.join("inblob"), report_data).map_err(|e| io("inblob", e))?;
        if let Some(level) = self.privlevel.filter(|_| tee == Tee::SEV_SNP) {
            self.fs.write(&dir.join("privlevel"), level.to_string().as_bytes()).map_err(|e| io("privlevel", e))?;
        }
        let generation = |fs: &F| -> Result<u64, EvidenceError> {
            let raw = fs.read(&dir.join("generation"), 32).map_err(|e| io("generation", e))?;
            String::from_utf8_lossy(&raw).trim().parse().map_err(|_| EvidenceError::Malformed {
                provider: "tsm",
                reason: format!("generation {:?} is not a number", String::from_utf8_lossy(&raw)),
            })
        };
        let before = generation(&self.fs)?;
        let report = self.fs.read(&dir.join("outblob"), MAX_OUTBLOB).map_err(|e| io("outblob", e))?;
        let aux = match self.fs.read(&dir.join("auxblob"), MAX_TABLE_LEN) {
            Ok(aux) if tee == Tee::SEV_SNP => aux,
            Ok(_) => Vec::new(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("auxblob", e)),
        };
        if generation(&self.fs)? != before {
            return Ok(None);
        }
        if tee == Tee::TDX {
            // The quote must be one and must carry what was asked: a TD that quotes
            // something else would be refused by every client anyway; say so here.
            let quote = cvmc_protocol::tdx::Quote::parse(&report).map_err(|e| malformed(format!("outblob: {e}")))?;
            if &quote.td.report_data != report_data {
                return Err(malformed("outblob: the quote's REPORTDATA is not the inblob written".into()));
            }
            return Ok(Some(RawEvidence { tee, report, certs: Vec::new(), collateral: Vec::new() }));
        }
        let certs = if aux.is_empty() {
            Vec::new()
        } else {
            parse_cert_table(&aux).map_err(|e| malformed(format!("auxblob: {e}")))?
        };
        Ok(Some(RawEvidence { tee, report, certs, collateral: Vec::new() }))
    }
}

impl<F: ConfigFs> EvidenceProvider for TsmProvider<F> {
    fn name(&self) -> &'static str {
        "tsm"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        for _ in 0..MAX_ATTEMPTS {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let dir = self.root.join(format!("cvm-consoled-{}-{n}", std::process::id()));
            self.fs.mkdir(&dir).map_err(|e| EvidenceError::Request {
                provider: "tsm",
                reason: format!("mkdir {}: {e}", dir.display()),
            })?;
            let result = self.attempt(&dir, report_data);
            if let Err(e) = self.fs.rmdir(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove the configfs-tsm report directory");
            }
            if let Some(evidence) = result? {
                return Ok(evidence);
            }
            tracing::info!("configfs-tsm generation changed during the request; retrying");
        }
        Err(EvidenceError::Request {
            provider: "tsm",
            reason: format!("the report generation kept changing ({MAX_ATTEMPTS} attempts): another writer?"),
        })
    }
}
