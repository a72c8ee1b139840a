//! The `azure-vtpm` provider: evidence from Azure's paravisor through the vTPM.
//!
//! For each report: write the 64-byte session binding to NV index 0x01400002 (the
//! paravisor's user-data index; defined, 64 bytes, owner read/write, when it is not
//! there yet, as Azure's own tooling does), then read the HCL report from NV index
//! 0x01400001 until it carries that user data, bounded by a deadline: the paravisor
//! refreshes the report asynchronously, and a read in the middle of its update shows
//! a report that does not parse or does not match, so it is read again. The HCL
//! report goes to the client as is (cut to its meaningful length); the client checks
//! the hash, the user data and the embedded SEV-SNP report.
//!
//! On a TDX CVM the HCL report holds a TD report, which is MAC'd for this CPU and
//! not signed: the provider asks Azure's quoting service, over IMDS
//! (`POST http://169.254.169.254/acc/tdquote`, `{"report": base64url}` answered by
//! `{"quote": base64url}`), for the quote of it, checks that the quote is of exactly
//! that TD report, and sends the HCL report with the quote after it. The client puts
//! the quote through the TDX verifier with collateral, as a bare TDX quote. The answer
//! is bounded (size, time) and checked before it is sent: a broken or hostile IMDS
//! answer is a clear error here, not a puzzling refusal at the client.
//!
//! The TPM is spoken to directly: [`cvmc_protocol::tpm`] builds the commands and
//! parses the responses; [`TpmPath`] writes a command and reads the whole response,
//! over /dev/tpmrm0 (the kernel's resource manager) or, for tests, a swtpm unix
//! socket. One connection per command, so a software TPM that serves one client at
//! a time is never held.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64ct::Encoding as _;
use cvmc_protocol::azure::claims::RuntimeClaims;
use cvmc_protocol::azure::hcl::{self, HclReport, HwReportType, VARIABLE_DATA_OFFSET};
use cvmc_protocol::azure::{NV_HCL_REPORT, NV_USER_DATA};
use cvmc_protocol::evidence::Tee;
use cvmc_protocol::tpm::{self, HEADER_LEN, MAX_NV_SIZE, MAX_RESPONSE, NV_CHUNK, TpmError};

use super::{EvidenceError, EvidenceProvider, RawEvidence, certs_from_dir};

/// The kernel's TPM resource manager device.
pub const TPM_DEVICE: &str = "/dev/tpmrm0";
/// How long to wait for the paravisor to refresh the HCL report.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between reads while waiting.
const REFRESH_POLL: Duration = Duration::from_millis(20);
/// Deadline of one TPM command on a socket.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

const NAME: &str = "azure-vtpm";

/// Azure's quoting service for TD reports, over IMDS (link-local, plain HTTP, only
/// reachable from inside the VM).
pub const IMDS_QUOTE_URL: &str = "http://169.254.169.254/acc/tdquote";
/// Deadline of one IMDS request.
pub const IMDS_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest IMDS answer read: a quote is 5-8 KiB, base64 and JSON add a third.
pub const MAX_IMDS_ANSWER: usize = 64 * 1024;

/// Where the TPM is: a character device, or a unix socket speaking raw TPM commands
/// (swtpm's `--server type=unixio`).
#[derive(Debug, Clone)]
pub struct TpmPath(pub PathBuf);

impl TpmPath {
    /// Send one command, return its whole response (bounded).
    pub fn transact(&self, command: &[u8]) -> Result<Vec<u8>, EvidenceError> {
        let io = |what: &str, e: std::io::Error| EvidenceError::Request {
            provider: NAME,
            reason: format!("{what} {}: {e}", self.0.display()),
        };
        let is_socket = std::fs::metadata(&self.0)
            .map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            .map_err(|e| EvidenceError::Unavailable {
            provider: NAME,
            path: self.0.display().to_string(),
            reason: e.to_string(),
        })?;
        if is_socket {
            // A software TPM serves one connection at a time and resets others: one
            // command at a time from this process (the kernel's resource manager
            // does this for /dev/tpmrm0).
            static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut s = std::os::unix::net::UnixStream::connect(&self.0).map_err(|e| io("connect", e))?;
            s.set_read_timeout(Some(SOCKET_TIMEOUT)).map_err(|e| io("timeout", e))?;
            s.set_write_timeout(Some(SOCKET_TIMEOUT)).map_err(|e| io("timeout", e))?;
            s.write_all(command).map_err(|e| io("write", e))?;
            read_response(&mut s).map_err(|e| io("read", e))
        } else {
            let mut f = std::fs::OpenOptions::new().read(true).write(true).open(&self.0).map_err(|e| io("open", e))?;
            f.write_all(command).map_err(|e| io("write", e))?;
            read_response(&mut f).map_err(|e| io("read", e))
        }
    }
}

/// Read one response: the header, then as many bytes as it announces (at most
/// [`MAX_RESPONSE`]). A device returns it in one read; a socket may take several.
fn read_response(from: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; MAX_RESPONSE];
    let mut have = 0;
    let mut want = HEADER_LEN;
    while have < want {
        let n = from.read(&mut buf[have..])?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the TPM closed mid-response"));
        }
        have += n;
        if have >= HEADER_LEN {
            want = tpm::response_len(&buf[..HEADER_LEN])
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        }
    }
    if have > want {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "more bytes than the response announces"));
    }
    buf.truncate(want);
    Ok(buf)
}

fn tpm_err(e: TpmError) -> EvidenceError {
    match e {
        TpmError::Malformed(reason) => EvidenceError::Malformed { provider: NAME, reason },
        refused @ TpmError::Refused { .. } => EvidenceError::Request { provider: NAME, reason: refused.to_string() },
    }
}

/// The NV operations the provider (and the tests' stand-ins) need.
#[derive(Debug, Clone)]
pub struct Vtpm {
    path: TpmPath,
}

impl Vtpm {
    /// The TPM at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: TpmPath(path.into()) }
    }

    /// The size of NV index `index`, or None when it is not defined.
    pub fn nv_size(&self, index: u32) -> Result<Option<u16>, EvidenceError> {
        let resp = self.path.transact(&tpm::nv_read_public(index))?;
        match tpm::parse_nv_read_public(&resp) {
            Ok(p) if p.index == index => Ok(Some(p.size)),
            Ok(p) => Err(EvidenceError::Malformed {
                provider: NAME,
                reason: format!("asked for NV index {index:#x}, the TPM described {:#x}", p.index),
            }),
            Err(TpmError::Refused { code, .. }) if code == tpm::RC_HANDLE_1 => Ok(None),
            Err(e) => Err(tpm_err(e)),
        }
    }

    /// Define NV index `index` of `size` bytes, owner read/write.
    pub fn nv_define(&self, index: u32, size: u16) -> Result<(), EvidenceError> {
        tpm::parse_nv_define_space(&self.path.transact(&tpm::nv_define_space(index, size))?).map_err(tpm_err)
    }

    /// Write `data` at offset 0 of `index`, in chunks.
    pub fn nv_write(&self, index: u32, data: &[u8]) -> Result<(), EvidenceError> {
        for (i, chunk) in data.chunks(NV_CHUNK).enumerate() {
            let offset = u16::try_from(i * NV_CHUNK).map_err(|_| EvidenceError::Request {
                provider: NAME,
                reason: format!("{} bytes do not fit an NV index", data.len()),
            })?;
            tpm::parse_nv_write(&self.path.transact(&tpm::nv_write(index, chunk, offset))?).map_err(tpm_err)?;
        }
        Ok(())
    }

    /// Read all of `index` (at most [`MAX_NV_SIZE`] bytes), in chunks.
    pub fn nv_read_all(&self, index: u32) -> Result<Vec<u8>, EvidenceError> {
        self.nv_read_if_written(index)?.ok_or_else(|| EvidenceError::Request {
            provider: NAME,
            reason: format!("NV index {index:#010x} was never written"),
        })
    }

    /// Read all of `index`, or None when it is defined but was never written (a
    /// paravisor that has not made its first report yet).
    pub fn nv_read_if_written(&self, index: u32) -> Result<Option<Vec<u8>>, EvidenceError> {
        let size = self.nv_size(index)?.ok_or_else(|| EvidenceError::Unavailable {
            provider: NAME,
            path: format!("NV index {index:#010x}"),
            reason: "not defined (not an Azure confidential VM, or no paravisor)".into(),
        })?;
        let size = usize::from(size);
        if size > MAX_NV_SIZE {
            return Err(EvidenceError::Malformed {
                provider: NAME,
                reason: format!("NV index {index:#x} is {size} bytes, more than {MAX_NV_SIZE}"),
            });
        }
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            let n = (size - out.len()).min(NV_CHUNK);
            // Both fit u16: size is at most MAX_NV_SIZE (16 KiB).
            let (n16, at16) = (u16::try_from(n).unwrap_or(u16::MAX), u16::try_from(out.len()).unwrap_or(u16::MAX));
            let resp = self.path.transact(&tpm::nv_read(index, n16, at16))?;
            match tpm::parse_nv_read(&resp, n) {
                Ok(data) => out.extend_from_slice(data),
                Err(TpmError::Refused { code: tpm::RC_NV_UNINITIALIZED, .. }) => return Ok(None),
                Err(e) => return Err(tpm_err(e)),
            }
        }
        Ok(Some(out))
    }
}

/// Ask Azure's quoting service at `url` for the quote of `td_report` (a
/// TDREPORT_STRUCT), and check that what comes back is a TDX quote of exactly that
/// report. Bounded by `timeout` and [`MAX_IMDS_ANSWER`].
pub fn imds_quote(url: &str, td_report: &[u8], timeout: Duration) -> Result<Vec<u8>, EvidenceError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        quote: String,
    }
    let bad = |reason: String| EvidenceError::Malformed { provider: NAME, reason: format!("IMDS {url}: {reason}") };
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build(),
    );
    let body = serde_json::json!({ "report": base64ct::Base64UrlUnpadded::encode_string(td_report) }).to_string();
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .map_err(|e| EvidenceError::Request { provider: NAME, reason: format!("IMDS {url}: {e}") })?;
    let status = response.status().as_u16();
    let answer = response
        .body_mut()
        .with_config()
        .limit(MAX_IMDS_ANSWER as u64)
        .read_to_vec()
        .map_err(|e| bad(format!("answer: {e}")))?;
    if status != 200 {
        let shown = String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned();
        return Err(EvidenceError::Request {
            provider: NAME,
            reason: format!("IMDS {url} answered {status}: {}", cvmc_protocol::text::escape(&shown)),
        });
    }
    let answer: Answer =
        serde_json::from_slice(&answer).map_err(|e| bad(format!("answer is not {{\"quote\": ...}}: {e}")))?;
    let b64 = answer.quote.trim_end_matches('=');
    let quote = base64ct::Base64UrlUnpadded::decode_vec(b64)
        .or_else(|_| base64ct::Base64Unpadded::decode_vec(b64))
        .map_err(|e| bad(format!("quote is not base64: {e}")))?;
    let parsed = cvmc_protocol::tdx::Quote::parse(&quote).map_err(|e| bad(format!("not a TDX quote: {e}")))?;
    let mine = cvmc_protocol::tdx::tdreport::TdReportStruct::parse(td_report)
        .map_err(|reason| EvidenceError::Malformed { provider: NAME, reason: format!("TD report: {reason}") })?;
    if let Some(field) = mine.differs_from(&parsed.td) {
        return Err(bad(format!("the quote's {field} is not this TD report's: a quote of another TD report")));
    }
    Ok(quote)
}

/// Reports from Azure's paravisor.
#[derive(Debug)]
pub struct AzureVtpmProvider {
    vtpm: Vtpm,
    certs_dir: Option<PathBuf>,
    simulated_paravisor: bool,
    refresh_timeout: Duration,
    imds_url: String,
    imds_timeout: Duration,
}

impl AzureVtpmProvider {
    /// The vTPM at `device`; `simulated_paravisor` labels the evidence as made by the
    /// tests' paravisor stand-in (its SNP report is signed by the TEST chain).
    pub fn new(device: &Path, certs_dir: Option<PathBuf>, simulated_paravisor: bool) -> Result<Self, EvidenceError> {
        if !device.exists() {
            return Err(EvidenceError::Unavailable {
                provider: NAME,
                path: device.display().to_string(),
                reason: "no such TPM (not an Azure confidential VM, or the tpm_tis/tpm_crb driver is not loaded)"
                    .into(),
            });
        }
        Ok(Self {
            vtpm: Vtpm::new(device),
            certs_dir,
            simulated_paravisor,
            refresh_timeout: REFRESH_TIMEOUT,
            imds_url: IMDS_QUOTE_URL.into(),
            imds_timeout: IMDS_TIMEOUT,
        })
    }

    /// Ask the quoting service at `url` instead of Azure's IMDS (a TDX CVM's TD
    /// reports; tests run a stand-in on loopback).
    pub fn with_imds_url(mut self, url: impl Into<String>) -> Self {
        self.imds_url = url.into();
        self
    }

    /// Wait at most `timeout` for the quoting service's answer.
    pub fn with_imds_timeout(mut self, timeout: Duration) -> Self {
        self.imds_timeout = timeout;
        self
    }

    /// Wait at most `timeout` for the paravisor's refresh.
    pub fn with_refresh_timeout(mut self, timeout: Duration) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    /// Whether `raw` is a well-formed HCL report whose claims carry `user_data` and
    /// are what its REPORT_DATA hashes; the report cut to its meaningful length.
    pub fn fresh(raw: &[u8], user_data: &[u8; 64]) -> Option<(Vec<u8>, HwReportType)> {
        let hcl = HclReport::parse(raw).ok()?;
        let claims = RuntimeClaims::parse(hcl.variable_data).ok()?;
        if claims.user_data.as_ref() != Some(user_data) {
            return None;
        }
        let digest = hcl.claims_digest();
        let report_data = match hcl.report_type {
            HwReportType::Snp => hcl.hw_report.get(cvmc_protocol::snp::report::offset::REPORT_DATA..),
            HwReportType::Tdx => hcl.hw_report.get(cvmc_protocol::tdx::tdreport::REPORT_DATA_OFFSET..),
        };
        if report_data.and_then(|r| r.get(..digest.len())) != Some(&digest[..]) {
            return None;
        }
        let end = VARIABLE_DATA_OFFSET + hcl.variable_data.len();
        Some((raw[..end].to_vec(), hcl.report_type))
    }
}

impl EvidenceProvider for AzureVtpmProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        match self.vtpm.nv_size(NV_USER_DATA)? {
            Some(64) => {}
            None => self.vtpm.nv_define(NV_USER_DATA, 64)?,
            Some(other) => {
                return Err(EvidenceError::Request {
                    provider: NAME,
                    reason: format!("NV index {NV_USER_DATA:#x} is {other} bytes, not the 64 the paravisor reads"),
                });
            }
        }
        self.vtpm.nv_write(NV_USER_DATA, report_data)?;
        let deadline = Instant::now() + self.refresh_timeout;
        let (report, kind) = loop {
            let raw = self.vtpm.nv_read_if_written(NV_HCL_REPORT)?;
            if let Some(found) = raw.as_deref().and_then(|r| Self::fresh(r, report_data)) {
                break found;
            }
            if Instant::now() >= deadline {
                return Err(EvidenceError::Request {
                    provider: NAME,
                    reason: format!(
                        "the paravisor did not refresh the HCL report (NV {NV_HCL_REPORT:#x}) with this session's \
                         user data within {} ms",
                        self.refresh_timeout.as_millis()
                    ),
                });
            }
            std::thread::sleep(REFRESH_POLL);
        };
        if kind == HwReportType::Tdx {
            // The TD report is at the hardware report's place (`fresh` parsed it).
            let td_report =
                report.get(hcl::HW_REPORT_OFFSET..hcl::HW_REPORT_OFFSET + hcl::TD_REPORT_LEN).unwrap_or_default();
            let quote = imds_quote(&self.imds_url, td_report, self.imds_timeout)?;
            let tee = if self.simulated_paravisor { Tee::SIMULATED_AZURE_TDX } else { Tee::AZURE_TDX };
            return Ok(RawEvidence {
                tee,
                report: hcl::with_quote(&report, &quote),
                certs: Vec::new(),
                collateral: Vec::new(),
            });
        }
        let certs = match &self.certs_dir {
            Some(dir) => certs_from_dir(dir)?,
            None => Vec::new(),
        };
        let tee = if self.simulated_paravisor { Tee::SIMULATED_AZURE_SNP } else { Tee::AZURE_SNP };
        Ok(RawEvidence { tee, report, certs, collateral: Vec::new() })
    }
}
