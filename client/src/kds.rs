//! SEV-SNP certificates from AMD's Key Distribution Service (KDS), or from a mirror
//! the user names, cached on disk: the client has the network, the guest may not.
//!
//! ```text
//! GET {base}/vcek/v1/{product}/{hwid}?blSPL=B&teeSPL=T&snpSPL=S&ucodeSPL=U[&fmcSPL=F]   VCEK (DER)
//! GET {base}/vcek/v1/{product}/cert_chain      ASK, ARK (PEM)
//! GET {base}/vcek/v1/{product}/crl             CRL (DER, signed by the ARK)
//! GET {base}/vlek/v1/{product}/cert_chain      ASVK, ARK (PEM); the VLEK itself comes with the evidence
//! GET {base}/vlek/v1/{product}/crl
//! ```
//!
//! What is fetched is public and trusted only through AMD's signatures, which the
//! verifier checks exactly as for certificates from the evidence. This module refuses
//! what cannot be the answer (a bad status, an oversized or truncated body, a VCEK for
//! another chip or TCB) before it is cached, so a bad answer never sticks. A VCEK never
//! changes for its chip and TCB and is kept; a chain is kept until it expires; a CRL
//! until its nextUpdate. `offline` uses only the cache. KDS throttles repeated
//! requests: each request has a deadline and a short Retry-After is honoured a bounded
//! number of times ([`crate::http`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cvmc_protocol::policy::Revocation;
use cvmc_protocol::snp::certs::{AmdCert, ext};
use cvmc_protocol::snp::crl::{AmdCrl, MAX_CRL_LEN};
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::{Report, SigningKey};
use cvmc_protocol::text::escape;

use crate::http::{HttpError, REQUEST_TIMEOUT};

/// AMD's KDS.
pub const AMD_KDS: &str = "https://kdsintf.amd.com";
/// Largest certificate answer accepted (a VCEK is about 1.3 KiB, a chain about 4 KiB).
const MAX_CERT_LEN: usize = 64 * 1024;

/// Why certificates could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KdsError {
    /// The request failed or the answer is not what the path serves.
    #[error("kds: {0}")]
    Http(#[from] HttpError),
    /// `--offline` and nothing usable in the cache.
    #[error("kds: --offline and no cached {what} in {cache}")]
    NotCached {
        /// What was needed, e.g. `VCEK for Milan chip 0a1b… TCB …`.
        what: String,
        /// The cache directory.
        cache: String,
    },
    /// The report does not say enough to ask for its certificate.
    #[error("kds: cannot fetch the {kind} for this report: {reason}")]
    Unfetchable {
        /// `VCEK` or `VLEK`.
        kind: &'static str,
        /// Why not.
        reason: String,
    },
}

/// What was fetched or read from the cache for one report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The VCEK, DER.
    pub vcek: Option<Vec<u8>>,
    /// The ASK or ASVK, DER (the first certificate of KDS's cert_chain).
    pub intermediate: Option<Vec<u8>>,
    /// The product's CRL, DER.
    pub crl: Option<Vec<u8>>,
    /// What came from where, one line each, for the check list and `--json`.
    pub sources: Vec<String>,
}

impl Fetched {
    /// As the verifier takes it (the VLEK, if any, comes with the evidence).
    pub fn available(&self, signing_key: SigningKey) -> cvmc_protocol::AvailableCerts<'_> {
        let vlek = signing_key == SigningKey::Vlek;
        cvmc_protocol::AvailableCerts {
            vcek: self.vcek.as_deref(),
            vlek: None,
            ask: if vlek { None } else { self.intermediate.as_deref() },
            asvk: if vlek { self.intermediate.as_deref() } else { None },
            crl: self.crl.as_deref(),
        }
    }
}

/// What the evidence already brings, so that only the rest is fetched.
#[derive(Debug, Clone, Copy, Default)]
pub struct Have {
    /// A certificate of the kind KEY_INFO names.
    pub signer: bool,
    /// Its intermediate (ASK or ASVK).
    pub intermediate: bool,
}

/// Where SEV-SNP certificates come from.
#[derive(Debug, Clone)]
pub struct KdsSource {
    /// The KDS base URL (no trailing slash).
    pub base: String,
    /// Use only the cache.
    pub offline: bool,
    /// The cache directory (None: no cache).
    pub cache: Option<PathBuf>,
    /// Deadline of one request.
    pub timeout: Duration,
}

impl KdsSource {
    /// AMD's KDS, or `url`, with the user's cache directory.
    pub fn new(url: Option<&str>, offline: bool) -> Self {
        Self {
            base: url.unwrap_or(AMD_KDS).trim_end_matches('/').to_owned(),
            offline,
            cache: dirs::cache_dir().map(|d| d.join("cvm-console").join("snp")),
            timeout: REQUEST_TIMEOUT,
        }
    }

    fn cache_dir_shown(&self) -> String {
        self.cache.as_ref().map_or_else(|| "(no cache directory)".into(), |d| d.display().to_string())
    }

    /// Fetch (or read from the cache) what `raw_report` needs beyond `have`: the VCEK,
    /// the intermediate, and, unless the policy skips revocation, the CRL. A missing
    /// CRL is not an error here: the verifier reports the outcome (and refuses under
    /// `revocation = "require"`). `now` is unix seconds.
    pub fn fetch_for(
        &self,
        raw_report: &[u8],
        have: Have,
        revocation: Revocation,
        now: u64,
    ) -> Result<Fetched, KdsError> {
        let report = Report::parse(raw_report)
            .map_err(|e| KdsError::Unfetchable { kind: "VCEK", reason: format!("the report does not parse: {e}") })?;
        let (kind, path_kind) = match report.signing_key {
            SigningKey::Vlek => ("VLEK", "vlek"),
            _ => ("VCEK", "vcek"),
        };
        let product = match report.cpuid_product() {
            Some(Ok(p)) => p,
            _ => {
                return Err(KdsError::Unfetchable {
                    kind,
                    reason: format!(
                        "a version {} report names no product (no CPUID); give the certificates with the evidence or --vcek",
                        report.version
                    ),
                });
            }
        };
        let agent = crate::http::agent(self.timeout);
        let mut fetched = Fetched::default();
        if !have.signer {
            if report.signing_key == SigningKey::Vlek {
                return Err(KdsError::Unfetchable {
                    kind,
                    reason: "a VLEK is the cloud provider's and must come with the evidence; KDS does not serve it"
                        .into(),
                });
            }
            fetched.vcek = Some(self.vcek(&agent, &report, product, &mut fetched.sources)?);
        }
        if !have.intermediate {
            fetched.intermediate = self.chain(&agent, product, path_kind, now, &mut fetched.sources)?;
        }
        if revocation != Revocation::Skip {
            // Without a CRL the verifier decides: refused under `require`, a warning
            // under `if-available`. Why there is none goes to the log and the sources.
            match self.crl(&agent, product, path_kind, now, &mut fetched.sources) {
                Ok(crl) => fetched.crl = Some(crl),
                Err(e) => {
                    tracing::warn!(error = %e, "no CRL");
                    fetched.sources.push(format!("no {product} CRL: {e}"));
                }
            }
        }
        Ok(fetched)
    }

    fn vcek(
        &self,
        agent: &ureq::Agent,
        report: &Report,
        product: Product,
        sources: &mut Vec<String>,
    ) -> Result<Vec<u8>, KdsError> {
        if report.mask_chip_key || report.chip_id.iter().all(|&b| b == 0) {
            return Err(KdsError::Unfetchable {
                kind: "VCEK",
                reason: "the report's CHIP_ID is masked, so KDS cannot be asked for its VCEK".into(),
            });
        }
        let tcb = report.reported_tcb.decode(product).map_err(|(i, v)| KdsError::Unfetchable {
            kind: "VCEK",
            reason: format!("REPORTED_TCB byte {i} is {v:#04x}"),
        })?;
        let hwid_len = if product.short_hwid() { 8 } else { 64 };
        let hwid = hex::encode(&report.chip_id[..hwid_len]);
        let mut query =
            format!("blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}", tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode);
        if let Some(fmc) = tcb.fmc {
            query.push_str(&format!("&fmcSPL={fmc}"));
        }
        let tcb_hex = hex::encode(report.reported_tcb.0);
        let file = format!("vcek-{product}-{hwid}-{tcb_hex}.der");
        let what = format!("VCEK for {product} chip {}… TCB {tcb_hex}", &hwid[..16]);
        let check = |der: &[u8]| check_vcek(der, &report.chip_id[..hwid_len], &tcb);
        if let Some(der) = self.cached(&file, |d| check(d).is_ok()) {
            sources.push(format!("{what}: from the cache"));
            return Ok(der);
        }
        if self.offline {
            return Err(KdsError::NotCached { what, cache: self.cache_dir_shown() });
        }
        let url = format!("{}/vcek/v1/{product}/{hwid}?{query}", self.base);
        let (der, _) = crate::http::get(agent, &url, MAX_CERT_LEN, None, "kds")?;
        check(&der).map_err(|reason| HttpError::Malformed { url: url.clone(), reason })?;
        self.write_cache(&file, &der);
        sources.push(format!("{what}: fetched from {}", self.base));
        Ok(der)
    }

    /// The intermediate from KDS's cert_chain (ASK or ASVK, then ARK, PEM). A failure
    /// leaves the verifier AMD's built-in intermediate, so it is not an error.
    fn chain(
        &self,
        agent: &ureq::Agent,
        product: Product,
        path_kind: &str,
        now: u64,
        sources: &mut Vec<String>,
    ) -> Result<Option<Vec<u8>>, KdsError> {
        let file = format!("chain-{path_kind}-{product}.der");
        let current = |der: &[u8]| {
            AmdCert::from_der("intermediate", der).is_ok_and(|c| {
                let (from, until) = c.validity();
                from <= now && now <= until
            })
        };
        if let Some(der) = self.cached(&file, current) {
            sources.push(format!("{product} {path_kind} intermediate: from the cache"));
            return Ok(Some(der));
        }
        if self.offline {
            sources.push(format!("{product} {path_kind} intermediate: AMD's built-in one (offline, none cached)"));
            return Ok(None);
        }
        let url = format!("{}/{path_kind}/v1/{product}/cert_chain", self.base);
        let first = crate::http::get(agent, &url, MAX_CERT_LEN, None, "kds").and_then(|(pem, _)| {
            first_pem_certificate(&pem)
                .ok_or_else(|| HttpError::Malformed { url: url.clone(), reason: "not a PEM certificate chain".into() })
        });
        match first {
            Ok(der) if current(&der) => {
                self.write_cache(&file, &der);
                sources.push(format!("{product} {path_kind} intermediate: fetched from {}", self.base));
                Ok(Some(der))
            }
            Ok(_) => {
                sources.push(format!(
                    "{product} {path_kind} intermediate: AMD's built-in one ({url} served none current)"
                ));
                Ok(None)
            }
            Err(e) => {
                sources.push(format!("{product} {path_kind} intermediate: AMD's built-in one ({e})"));
                Ok(None)
            }
        }
    }

    fn crl(
        &self,
        agent: &ureq::Agent,
        product: Product,
        path_kind: &str,
        now: u64,
        sources: &mut Vec<String>,
    ) -> Result<Vec<u8>, KdsError> {
        let file = format!("crl-{path_kind}-{product}.der");
        let current = |der: &[u8]| AmdCrl::from_der(der).is_ok_and(|c| c.is_current(now));
        if let Some(der) = self.cached(&file, current) {
            sources.push(format!("{product} CRL: from the cache"));
            return Ok(der);
        }
        if self.offline {
            return Err(KdsError::NotCached { what: format!("current {product} CRL"), cache: self.cache_dir_shown() });
        }
        let url = format!("{}/{path_kind}/v1/{product}/crl", self.base);
        let (der, _) = crate::http::get(agent, &url, MAX_CRL_LEN, None, "kds")?;
        let crl =
            AmdCrl::from_der(&der).map_err(|e| HttpError::Malformed { url: url.clone(), reason: e.to_string() })?;
        // Only a current CRL is cached; a stale one still goes to the verifier, which
        // says so (and refuses it under `require`).
        if crl.is_current(now) {
            self.write_cache(&file, &der);
        }
        sources.push(format!("{product} CRL: fetched from {}", self.base));
        Ok(der)
    }

    /// A cache entry that is still good by `usable` (a VCEK for this chip and TCB, a
    /// current chain or CRL).
    fn cached(&self, file: &str, usable: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        let path = self.cache.as_ref()?.join(file);
        let meta = std::fs::metadata(&path).ok()?;
        // A cache entry is small; anything else is not ours.
        if !meta.is_file() || meta.len() > u64::try_from(MAX_CRL_LEN).unwrap_or(u64::MAX) {
            return None;
        }
        std::fs::read(path).ok().filter(|d| usable(d))
    }

    fn write_cache(&self, file: &str, contents: &[u8]) {
        let Some(dir) = &self.cache else { return };
        let path: &Path = &dir.join(file);
        // A failure to cache costs a fetch next time, nothing else.
        if let Err(e) = cvmc_io::files::replace_private(path, contents) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache a KDS answer");
        }
    }
}

/// Check a KDS VCEK answer against the report it was asked for: a certificate named
/// SEV-VCEK for the report's chip and REPORTED_TCB. An answer that fails this is
/// neither used nor cached.
pub fn check_vcek_answer(der: &[u8], report: &Report) -> Result<(), String> {
    let product = match report.cpuid_product() {
        Some(Ok(p)) => p,
        _ => return Err("the report names no product".into()),
    };
    let tcb = report.reported_tcb.decode(product).map_err(|(i, v)| format!("REPORTED_TCB byte {i} is {v:#04x}"))?;
    let hwid_len = if product.short_hwid() { 8 } else { 64 };
    check_vcek(der, &report.chip_id[..hwid_len], &tcb)
}

/// A VCEK answer must be a certificate for this chip and TCB before it is kept.
fn check_vcek(der: &[u8], hwid: &[u8], tcb: &cvmc_protocol::snp::tcb::Tcb) -> Result<(), String> {
    let cert = AmdCert::from_der("VCEK", der).map_err(|e| format!("not a VCEK: {e}"))?;
    let cert_hwid = cert.require_extension(&ext::HWID, "hwID").map_err(|e| e.to_string())?;
    if cert_hwid != hwid {
        return Err(format!(
            "a VCEK for chip {}…, not {}…",
            hex::encode(&cert_hwid[..cert_hwid.len().min(8)]),
            hex::encode(&hwid[..8])
        ));
    }
    let spls = [
        (ext::BL_SPL, "blSPL", Some(tcb.bootloader)),
        (ext::TEE_SPL, "teeSPL", Some(tcb.tee)),
        (ext::SNP_SPL, "snpSPL", Some(tcb.snp)),
        (ext::UCODE_SPL, "ucodeSPL", Some(tcb.microcode)),
        (ext::FMC_SPL, "fmcSPL", tcb.fmc),
    ];
    for (oid, name, want) in spls {
        if let Some(want) = want {
            let got = cert.spl(&oid, name).map_err(|e| e.to_string())?;
            if got != want {
                return Err(format!("a VCEK for {name} {got}, not {want}"));
            }
        }
    }
    if cert.subject_cn != "SEV-VCEK" {
        return Err(format!("subject \"{}\", not SEV-VCEK", escape(&cert.subject_cn)));
    }
    Ok(())
}

/// The DER of the first certificate in a PEM text (KDS's cert_chain answer).
pub fn first_pem_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    use der::DecodePem;
    let text = std::str::from_utf8(pem).ok()?;
    let (begin, end) = ("-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----");
    let start = text.find(begin)?;
    let stop = text[start..].find(end)? + start + end.len();
    let cert = x509_cert::Certificate::from_pem(&text.as_bytes()[start..stop]).ok()?;
    der::Encode::to_der(&cert).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_pem_certificate_takes_the_first_and_refuses_garbage() {
        assert_eq!(first_pem_certificate(b"no pem here"), None);
        assert_eq!(first_pem_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), None);
        assert_eq!(first_pem_certificate(&[0xff, 0xfe]), None);
    }
}
