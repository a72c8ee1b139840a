//! DCAP collateral for Intel TDX quotes from Intel's Provisioning Certification Service
//! (PCS), or from a PCCS the user names, cached on disk until its nextUpdate.
//!
//! ```text
//! GET {base}/tdx/certification/v4/tcb?fmspc=F          TCB info      + TCB-Info-Issuer-Chain
//! GET {base}/tdx/certification/v4/qe/identity          QE identity   + SGX-Enclave-Identity-Issuer-Chain
//! GET {base}/sgx/certification/v4/pckcrl?ca=C&encoding=der  PCK CRL  + SGX-PCK-CRL-Issuer-Chain
//! GET Intel's IntelSGXRootCA.der, or {base}/sgx/certification/v4/rootcacrl (a PCCS)
//! ```
//!
//! Everything fetched is public and trusted only through Intel's signatures, which
//! the verifier checks; this module only refuses what cannot be collateral at all
//! (bad status, oversized or truncated bodies, another FMSPC) with a clear error, and
//! never waits long ([`crate::http`]). A cached document
//! set is used until the earliest nextUpdate of its parts; `offline` uses only the cache.

use std::path::PathBuf;
use std::time::Duration;

use cvmc_protocol::tdx::Collateral;
use cvmc_protocol::tdx::collateral::{MAX_COLLATERAL_LEN, split_pcs_body};

/// Intel's PCS.
pub const INTEL_PCS: &str = "https://api.trustedservices.intel.com";
/// Where Intel publishes the SGX Root CA's CRL.
pub const INTEL_ROOT_CRL: &str = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
use crate::http::HttpError;
pub use crate::http::{MAX_ATTEMPTS, MAX_RETRY_WAIT, REQUEST_TIMEOUT};

/// Why collateral could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("collateral: {url} answered HTTP {status}{}", retry_after.map(|s| format!(" (Retry-After {s} s; try again later)")).unwrap_or_default())]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// Its Retry-After, seconds, when it sent one.
        retry_after: Option<u64>,
    },
    /// No answer: connection refused, TLS, DNS, or the deadline passed.
    #[error("collateral: {url}: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// An answer that is not what the path serves.
    #[error("collateral: {url}: {reason}")]
    Malformed {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// `--offline` and nothing usable in the cache.
    #[error("collateral: --offline and no current collateral for FMSPC {fmspc} in {cache}")]
    NotCached {
        /// The FMSPC, hex.
        fmspc: String,
        /// The cache directory.
        cache: String,
    },
}

/// Where collateral comes from.
#[derive(Debug, Clone)]
pub struct PcsSource {
    /// The PCS or PCCS base URL (no trailing slash).
    pub base: String,
    /// Use only the cache.
    pub offline: bool,
    /// The cache directory (None: no cache).
    pub cache: Option<PathBuf>,
    /// Deadline of one request.
    pub timeout: Duration,
}

impl PcsSource {
    /// Intel's PCS, or `url`, with the user's cache directory.
    pub fn new(url: Option<&str>, offline: bool) -> Self {
        Self {
            base: url.unwrap_or(INTEL_PCS).trim_end_matches('/').to_owned(),
            offline,
            cache: dirs::cache_dir().map(|d| d.join("cvm-console").join("tdx")),
            timeout: REQUEST_TIMEOUT,
        }
    }

    fn cache_file(&self, fmspc: &[u8; 6], ca: &str) -> Option<PathBuf> {
        self.cache.as_ref().map(|d| d.join(format!("collateral-{}-{ca}.json", hex::encode(fmspc))))
    }

    /// Collateral for a platform (FMSPC and PCK CA, from
    /// [`cvmc_protocol::tdx::quote_platform`]), current at `now`.
    pub fn collateral(&self, fmspc: &[u8; 6], ca: &str, now: u64) -> Result<Collateral, FetchError> {
        let cached = self.cache_file(fmspc, ca).and_then(|p| std::fs::read(p).ok());
        if let Some(c) = cached.and_then(|b| Collateral::from_json(&b).ok())
            && c.valid_until().is_ok_and(|until| until >= now)
        {
            return Ok(c);
        }
        if self.offline {
            return Err(FetchError::NotCached {
                fmspc: hex::encode(fmspc),
                cache: self.cache.as_ref().map_or_else(|| "(no cache directory)".into(), |d| d.display().to_string()),
            });
        }
        let c = self.fetch(fmspc, ca)?;
        if let Some(path) = self.cache_file(fmspc, ca) {
            // A failure to cache costs a fetch next time, nothing else.
            let _ = path.parent().map(std::fs::create_dir_all);
            if let Err(e) = cvmc_io::files::replace_private(&path, c.to_json().as_bytes()) {
                tracing::warn!(path = %path.display(), error = %e, "could not cache the collateral");
            }
        }
        Ok(c)
    }

    fn fetch(&self, fmspc: &[u8; 6], ca: &str) -> Result<Collateral, FetchError> {
        let fmspc_hex = hex::encode(fmspc);
        let agent = crate::http::agent(self.timeout);
        let tcb_url = format!("{}/tdx/certification/v4/tcb?fmspc={fmspc_hex}", self.base);
        let (tcb_body, tcb_chain) = get(&agent, &tcb_url, Some("TCB-Info-Issuer-Chain"))?;
        let (tcb_info, tcb_info_signature) = split_pcs_body("TCB info", "tcbInfo", &tcb_body)
            .map_err(|e| FetchError::Malformed { url: tcb_url.clone(), reason: e.to_string() })?;
        // Refuse (and never cache) another platform's TCB info; the verifier would too.
        let served = serde_json::from_str::<serde_json::Value>(&tcb_info)
            .ok()
            .and_then(|v| v.get("fmspc").and_then(|f| f.as_str()).map(str::to_ascii_lowercase));
        if served.as_deref() != Some(fmspc_hex.as_str()) {
            return Err(FetchError::Malformed {
                url: tcb_url,
                reason: format!(
                    "TCB info for FMSPC {}, not {fmspc_hex}",
                    cvmc_protocol::text::escape(served.as_deref().unwrap_or("(none)"))
                ),
            });
        }
        let qe_url = format!("{}/tdx/certification/v4/qe/identity", self.base);
        let (qe_body, qe_chain) = get(&agent, &qe_url, Some("SGX-Enclave-Identity-Issuer-Chain"))?;
        let (qe_identity, qe_identity_signature) = split_pcs_body("QE identity", "enclaveIdentity", &qe_body)
            .map_err(|e| FetchError::Malformed { url: qe_url.clone(), reason: e.to_string() })?;
        let crl_url = format!("{}/sgx/certification/v4/pckcrl?ca={ca}&encoding=der", self.base);
        let (pck_crl, crl_chain) = get(&agent, &crl_url, Some("SGX-PCK-CRL-Issuer-Chain"))?;
        let root_url = if self.base == INTEL_PCS {
            INTEL_ROOT_CRL.to_owned()
        } else {
            format!("{}/sgx/certification/v4/rootcacrl", self.base)
        };
        let (root_crl, _) = get(&agent, &root_url, None)?;
        Ok(Collateral {
            pck_crl_issuer_chain: crl_chain,
            root_ca_crl: crl_hex(&root_url, &root_crl)?,
            pck_crl: crl_hex(&crl_url, &pck_crl)?,
            tcb_info_issuer_chain: tcb_chain,
            tcb_info,
            tcb_info_signature,
            qe_identity_issuer_chain: qe_chain,
            qe_identity,
            qe_identity_signature,
        })
    }
}

/// A CRL as the collateral's hex: DER as served, or a PCCS's hex text of it.
fn crl_hex(url: &str, body: &[u8]) -> Result<String, FetchError> {
    let bad = |reason: &str| FetchError::Malformed { url: url.to_owned(), reason: reason.to_owned() };
    match body.first() {
        Some(0x30) => Ok(hex::encode(body)),
        Some(_) => {
            let text = std::str::from_utf8(body).map_err(|_| bad("neither a DER CRL nor its hex"))?.trim();
            hex::decode(text).map_err(|_| bad("neither a DER CRL nor its hex"))?;
            Ok(text.to_ascii_lowercase())
        }
        None => Err(bad("empty body")),
    }
}

/// GET through [`crate::http::get`], with the collateral's body limit.
fn get(agent: &ureq::Agent, url: &str, chain_header: Option<&str>) -> Result<(Vec<u8>, String), FetchError> {
    crate::http::get(agent, url, MAX_COLLATERAL_LEN, chain_header, "collateral").map_err(FetchError::from)
}

impl From<HttpError> for FetchError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Status { url, status, retry_after } => Self::Status { url, status, retry_after },
            HttpError::Network { url, reason } => Self::Network { url, reason },
            HttpError::Malformed { url, reason } => Self::Malformed { url, reason },
        }
    }
}
