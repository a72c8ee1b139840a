//! The HCL report: what Azure's paravisor (the HCL, below the guest) stores in the
//! vTPM's NV index 0x01400001. Layout (little-endian), as the paravisor writes it:
//!
//! ```text
//! 0     header:   signature "HCLA" u32, version u32, report_size u32,
//!                 request_type u32, status u32, reserved u32 x 3
//! 32    hardware report, 1184 bytes: the SEV-SNP report, or the TDX TD report
//!       (1024 bytes, then zeros)
//! 1216  HCL data: data_size u32, version u32, report_type u32 (2 SNP, 4 TDX),
//!                 report_data_hash_type u32 (1 SHA-256, 2 SHA-384, 3 SHA-512),
//!                 variable_data_size u32
//! 1236  variable data: the runtime claims (JSON), variable_data_size bytes
//!       then zeros up to the end of the NV index
//! ```
//!
//! The hardware report's REPORT_DATA holds the hash of the variable data (then
//! zeros), which is how the runtime claims, and the user data in them, are bound to
//! the hardware. Sans-IO and bounded: every size is checked against the buffer, the
//! buffer against [`MAX_HCL_LEN`].

use sha2::Digest as _;

use super::error::AzureError;

/// "HCLA", little-endian.
pub const SIGNATURE: u32 = u32::from_le_bytes(*b"HCLA");
/// Where the hardware report starts.
pub const HW_REPORT_OFFSET: usize = 32;
/// Room for the hardware report (the larger of an SNP report and a TD report).
pub const HW_REPORT_LEN: usize = 1184;
/// A TDX TD report (TDREPORT_STRUCT).
pub const TD_REPORT_LEN: usize = 1024;
/// Where the HCL data starts.
pub const HCL_DATA_OFFSET: usize = HW_REPORT_OFFSET + HW_REPORT_LEN;
/// The fixed part of the HCL data, before the variable data.
pub const HCL_DATA_HEADER_LEN: usize = 20;
/// Where the variable data (runtime claims) starts.
pub const VARIABLE_DATA_OFFSET: usize = HCL_DATA_OFFSET + HCL_DATA_HEADER_LEN;
/// Largest HCL report accepted (the real ones are 2-3 KiB; a vTPM NV index holds a
/// few KiB at most).
pub const MAX_HCL_LEN: usize = 16 * 1024;

/// The hardware report inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HwReportType {
    /// An SEV-SNP attestation report.
    Snp,
    /// An Intel TDX TD report (to be quoted by Azure's quoting service).
    Tdx,
}

impl HwReportType {
    /// As `--json` and the check list name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Snp => "sev-snp",
            Self::Tdx => "tdx",
        }
    }
}

/// How the variable data is hashed into REPORT_DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsHash {
    /// SHA-256 (what Azure uses).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ClaimsHash {
    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }
}

/// A parsed HCL report, borrowing the bytes.
#[derive(Debug, Clone, Copy)]
pub struct HclReport<'a> {
    /// The header's version.
    pub version: u32,
    /// The hardware report's kind.
    pub report_type: HwReportType,
    /// How the runtime claims are hashed into REPORT_DATA.
    pub hash: ClaimsHash,
    /// The hardware report: 1184 bytes for SNP, 1024 for TDX.
    pub hw_report: &'a [u8],
    /// The variable data: the runtime claims JSON, exactly as hashed.
    pub variable_data: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    // Callers check `at + 4 <= b.len()` (the buffer is at least VARIABLE_DATA_OFFSET).
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// True when `bytes` starts like an HCL report (for `verify-report` to tell it from a
/// bare SNP report or a TDX quote).
pub fn looks_like_hcl(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && u32_at(bytes, 0) == SIGNATURE
}

/// The kind of hardware report an HCL report says it holds, read from its type
/// field without the rest of the parse (for naming what a refused report was).
/// None when `bytes` is no HCL report; SEV-SNP when the type is unreadable.
pub fn report_type_hint(bytes: &[u8]) -> Option<HwReportType> {
    if !looks_like_hcl(bytes) {
        return None;
    }
    let tdx = bytes.len() >= HCL_DATA_OFFSET + 12 && u32_at(bytes, HCL_DATA_OFFSET + 8) == 4;
    Some(if tdx { HwReportType::Tdx } else { HwReportType::Snp })
}

impl<'a> HclReport<'a> {
    /// Parse and bound-check an HCL report.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, AzureError> {
        let bad = |reason: String| AzureError::Hcl { reason };
        if bytes.len() > MAX_HCL_LEN {
            return Err(bad(format!("{} bytes, more than the {MAX_HCL_LEN} accepted", bytes.len())));
        }
        if bytes.len() < VARIABLE_DATA_OFFSET {
            return Err(bad(format!("{} bytes, shorter than its {VARIABLE_DATA_OFFSET}-byte fixed part", bytes.len())));
        }
        let signature = u32_at(bytes, 0);
        if signature != SIGNATURE {
            return Err(bad(format!("signature {signature:#010x}, not \"HCLA\"")));
        }
        let version = u32_at(bytes, 4);
        if !(1..=2).contains(&version) {
            return Err(bad(format!("header version {version}, this client knows 1 and 2")));
        }
        let status = u32_at(bytes, 16);
        if status != 0 {
            return Err(bad(format!("the paravisor reports status {status:#x}")));
        }
        let data_size = u32_at(bytes, HCL_DATA_OFFSET) as usize;
        let report_type = match u32_at(bytes, HCL_DATA_OFFSET + 8) {
            2 => HwReportType::Snp,
            4 => HwReportType::Tdx,
            other => return Err(bad(format!("hardware report type {other}, not 2 (SEV-SNP) or 4 (TDX)"))),
        };
        let hash = match u32_at(bytes, HCL_DATA_OFFSET + 12) {
            1 => ClaimsHash::Sha256,
            2 => ClaimsHash::Sha384,
            3 => ClaimsHash::Sha512,
            other => return Err(bad(format!("report data hash type {other}, not 1-3"))),
        };
        let var_len = u32_at(bytes, HCL_DATA_OFFSET + 16) as usize;
        if data_size != HCL_DATA_HEADER_LEN + var_len {
            return Err(bad(format!(
                "HCL data size {data_size} is not its {HCL_DATA_HEADER_LEN}-byte header plus {var_len} bytes of variable data"
            )));
        }
        let variable_data = bytes.get(VARIABLE_DATA_OFFSET..VARIABLE_DATA_OFFSET + var_len).ok_or_else(|| {
            bad(format!("variable data of {var_len} bytes runs past the {}-byte report", bytes.len()))
        })?;
        let report_size = u32_at(bytes, 8) as usize;
        if report_size != VARIABLE_DATA_OFFSET + var_len {
            return Err(bad(format!(
                "header report size {report_size}, but its parts end at {}",
                VARIABLE_DATA_OFFSET + var_len
            )));
        }
        let hw_len = match report_type {
            HwReportType::Snp => HW_REPORT_LEN,
            HwReportType::Tdx => TD_REPORT_LEN,
        };
        let hw_report = &bytes[HW_REPORT_OFFSET..HW_REPORT_OFFSET + hw_len];
        Ok(Self { version, report_type, hash, hw_report, variable_data })
    }

    /// The digest of the runtime claims, as REPORT_DATA must begin.
    pub fn claims_digest(&self) -> Vec<u8> {
        self.hash.digest(self.variable_data)
    }
}

/// Split Azure TDX evidence into its HCL report (exactly the header's report size)
/// and the TDX quote after it. What follows the report is the quote; all zeros (the
/// rest of an NV index read whole) or nothing means there is no quote, and the
/// quote part is then empty.
pub fn split_quote(raw: &[u8]) -> Result<(&[u8], &[u8]), AzureError> {
    let bad = |reason: String| AzureError::Hcl { reason };
    if raw.len() < VARIABLE_DATA_OFFSET || !looks_like_hcl(raw) {
        return Err(bad(format!("{} bytes that do not begin with an HCL report", raw.len())));
    }
    let size = u32_at(raw, 8) as usize;
    if !(VARIABLE_DATA_OFFSET..=raw.len()).contains(&size) {
        return Err(bad(format!("header report size {size} outside the {}-byte evidence", raw.len())));
    }
    let (report, rest) = raw.split_at(size);
    Ok((report, if rest.iter().all(|&b| b == 0) { &[] } else { rest }))
}

/// Azure TDX evidence: the HCL report cut to its size, then the quote.
pub fn with_quote(hcl: &[u8], quote: &[u8]) -> Vec<u8> {
    let size = if looks_like_hcl(hcl) && hcl.len() >= 12 { u32_at(hcl, 8) as usize } else { hcl.len() };
    let mut out = hcl[..size.min(hcl.len())].to_vec();
    out.extend_from_slice(quote);
    out
}

/// Build an HCL report (for the test paravisor stand-in and tests): `hw_report` of at
/// most 1184 bytes, `claims` as the variable data, padded with zeros to `total`.
pub fn encode(report_type: HwReportType, hw_report: &[u8], claims: &[u8], total: usize) -> Vec<u8> {
    let var_len = u32::try_from(claims.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(total.max(VARIABLE_DATA_OFFSET + claims.len()));
    let report_size = u32::try_from(VARIABLE_DATA_OFFSET + claims.len()).unwrap_or(u32::MAX);
    for word in [SIGNATURE, 2, report_size, 2, 0, 0, 0, 0] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&hw_report[..hw_report.len().min(HW_REPORT_LEN)]);
    out.resize(HCL_DATA_OFFSET, 0);
    let kind = match report_type {
        HwReportType::Snp => 2u32,
        HwReportType::Tdx => 4,
    };
    let data_size = var_len.saturating_add(20);
    for word in [data_size, 1, kind, 1, var_len] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(claims);
    if out.len() < total {
        out.resize(total, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quote_after_an_hcl_report_is_split_off_and_zero_padding_is_no_quote() {
        let claims = br#"{"user-data":"00"}"#;
        let report = encode(HwReportType::Tdx, &[0x81; TD_REPORT_LEN], claims, 0);
        let padded = encode(HwReportType::Tdx, &[0x81; TD_REPORT_LEN], claims, 2048);
        assert_eq!(split_quote(&padded).unwrap(), (&report[..], &[][..]));
        let joined = with_quote(&padded, b"QUOTE");
        assert_eq!(joined.len(), report.len() + 5, "the padding is cut before the quote");
        assert_eq!(split_quote(&joined).unwrap(), (&report[..], &b"QUOTE"[..]));
        assert_eq!(HclReport::parse(split_quote(&joined).unwrap().0).unwrap().variable_data, claims);
        // A report size past the evidence, or bytes that are no HCL report: refused.
        assert!(split_quote(&report[..report.len() - 1]).is_err());
        assert!(split_quote(&[0u8; 4096]).is_err());
        assert!(split_quote(b"HCLA").is_err());
    }
}
