//! DCAP collateral: what Intel's PCS (or a PCCS) publishes to judge a quote — the
//! TCB info for the platform's FMSPC, the TD quoting enclave's identity, both signed
//! by the TCB signing key, and the two CRLs.
//!
//! The file form (`--collateral FILE`, a guest's evidence, the client's cache) is one
//! JSON object in the shape dcap-qvl and the shared vectors use:
//!
//! ```json
//! { "pck_crl_issuer_chain": "PEM", "root_ca_crl": "hex DER", "pck_crl": "hex DER",
//!   "tcb_info_issuer_chain": "PEM", "tcb_info": "<the signed JSON text>",
//!   "tcb_info_signature": "hex r||s", "qe_identity_issuer_chain": "PEM",
//!   "qe_identity": "<the signed JSON text>", "qe_identity_signature": "hex r||s" }
//! ```
//!
//! `tcb_info` and `qe_identity` are kept as the exact text Intel signed: the
//! signature covers those bytes, so they are verified before they are parsed.

use serde::{Deserialize, Serialize};

use crate::tdx::error::TdxError;
use crate::tdx::tcb::TcbStatus;

/// Largest collateral document accepted (the real ones are 15-40 KiB).
pub const MAX_COLLATERAL_LEN: usize = 256 * 1024;

/// The collateral for one quote, as stored and exchanged. The default is empty: it
/// verifies nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collateral {
    /// PEM chain of the PCK CRL's issuer (informational: the CRL is checked against
    /// the quote's own verified intermediate).
    #[serde(default)]
    pub pck_crl_issuer_chain: String,
    /// The root CA CRL, hex DER.
    pub root_ca_crl: String,
    /// The PCK CRL (of the Platform or Processor CA), hex DER.
    pub pck_crl: String,
    /// PEM chain of the TCB signing certificate (leaf first; the root is ignored and
    /// replaced by the pinned one).
    pub tcb_info_issuer_chain: String,
    /// The TCB info JSON text exactly as signed.
    pub tcb_info: String,
    /// Its ECDSA P-256 signature, hex r || s.
    pub tcb_info_signature: String,
    /// PEM chain of the QE identity's signer (the TCB signing certificate).
    pub qe_identity_issuer_chain: String,
    /// The QE identity JSON text exactly as signed.
    pub qe_identity: String,
    /// Its ECDSA P-256 signature, hex r || s.
    pub qe_identity_signature: String,
}

impl Collateral {
    /// Parse the JSON file form; bounded, unknown keys ignored (dcap-qvl writes
    /// `pck_certificate_chain` too).
    pub fn from_json(text: &[u8]) -> Result<Self, TdxError> {
        if text.len() > MAX_COLLATERAL_LEN {
            return Err(TdxError::CollateralFormat {
                what: "collateral",
                reason: format!("{} bytes, the limit is {MAX_COLLATERAL_LEN}", text.len()),
            });
        }
        serde_json::from_slice(text)
            .map_err(|e| TdxError::CollateralFormat { what: "collateral", reason: e.to_string() })
    }

    /// The JSON file form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The earliest nextUpdate of the TCB info, the QE identity and both CRLs (unix
    /// seconds): until then a cache may serve this collateral. Read without checking
    /// signatures (the verifier does that); unparseable parts are an error.
    pub fn valid_until(&self) -> Result<u64, TdxError> {
        #[derive(Deserialize)]
        struct Dates {
            #[serde(rename = "nextUpdate")]
            next_update: String,
        }
        let tcb: Dates = parse_signed("TCB info", &self.tcb_info)?;
        let qe: Dates = parse_signed("QE identity", &self.qe_identity)?;
        let mut until = parse_time("TCB info", &tcb.next_update)?.min(parse_time("QE identity", &qe.next_update)?);
        for (what, crl) in [("root CA CRL", &self.root_ca_crl), ("PCK CRL", &self.pck_crl)] {
            let crl = crate::tdx::certs::Crl::from_der(what, &hex_any(what, crl)?)?;
            until = until.min(crl.window().1.unwrap_or(0));
        }
        Ok(until)
    }
}

/// Decode hex of an exact length, naming the field.
pub(crate) fn hex_exact<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], TdxError> {
    let mut out = [0u8; N];
    if s.len() != 2 * N {
        return Err(TdxError::CollateralFormat {
            what,
            reason: format!("{} hex characters, expected {}", s.len(), 2 * N),
        });
    }
    hex::decode_to_slice(s, &mut out).map_err(|e| TdxError::CollateralFormat { what, reason: e.to_string() })?;
    Ok(out)
}

/// Decode hex of any length (bounded by the document's size).
pub(crate) fn hex_any(what: &'static str, s: &str) -> Result<Vec<u8>, TdxError> {
    hex::decode(s.trim()).map_err(|e| TdxError::CollateralFormat { what, reason: e.to_string() })
}

/// An RFC 3339 UTC time as Intel writes it (`2025-06-19T10:16:03Z`, optionally with
/// fractional seconds), in unix seconds.
pub fn parse_time(what: &'static str, s: &str) -> Result<u64, TdxError> {
    let bad = || TdxError::CollateralFormat { what, reason: format!("time {:?} is not YYYY-MM-DDTHH:MM:SSZ", s) };
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let tail = s.get(19..).ok_or_else(bad)?;
    let frac_ok = match tail.strip_prefix('.') {
        Some(f) => f.strip_suffix('Z').is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())),
        None => tail == "Z",
    };
    if !frac_ok {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?.parse().ok();
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) =
        (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19))
    else {
        return Err(bad());
    };
    let mo = u8::try_from(mo).map_err(|_| bad())?;
    let [d, h, mi, se] = [d, h, mi, se].map(|v: u16| u8::try_from(v).unwrap_or(u8::MAX));
    der::DateTime::new(y, mo, d, h, mi, se).map(|t| t.unix_duration().as_secs()).map_err(|_| bad())
}

/// One SVN of a TCB component list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Component {
    /// The security version number.
    pub svn: u8,
}

/// The SVNs a TCB level requires.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LevelTcb {
    /// The 16 SGX TCB components (compared with the PCK certificate's).
    pub sgxtcbcomponents: Vec<Component>,
    /// The PCE SVN.
    pub pcesvn: u16,
    /// The 16 TDX TCB components (compared with TEE_TCB_SVN).
    #[serde(default)]
    pub tdxtcbcomponents: Vec<Component>,
}

/// One TCB level of the TCB info.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbLevel {
    /// The SVNs of this level.
    pub tcb: LevelTcb,
    /// When Intel published this level.
    pub tcb_date: String,
    /// The platform's status at this level.
    pub tcb_status: TcbStatus,
    /// Intel security advisories that apply.
    #[serde(rename = "advisoryIDs", default)]
    pub advisory_ids: Vec<String>,
}

/// An ISVSVN-keyed level (QE identity, TDX module identity).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsvLevel {
    /// The ISVSVN the level requires.
    pub tcb: IsvSvn,
    /// When Intel published this level.
    pub tcb_date: String,
    /// The status at this level.
    pub tcb_status: TcbStatus,
    /// Intel security advisories that apply.
    #[serde(rename = "advisoryIDs", default)]
    pub advisory_ids: Vec<String>,
}

/// `{ "isvsvn": N }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct IsvSvn {
    /// The ISV security version.
    pub isvsvn: u16,
}

/// The TDX module's expected signer and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModule {
    /// Expected MRSIGNERSEAM, hex (48 bytes).
    pub mrsigner: String,
    /// Expected SEAMATTRIBUTES, hex (8 bytes).
    pub attributes: String,
    /// Mask applied to SEAMATTRIBUTES before comparing, hex (8 bytes).
    pub attributes_mask: String,
}

/// A TDX module identity (TCB info v3): per major module version, `TDX_NN`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModuleIdentity {
    /// `TDX_` and the module's major version in two hex digits.
    pub id: String,
    /// Expected MRSIGNERSEAM, hex.
    pub mrsigner: String,
    /// Expected SEAMATTRIBUTES, hex.
    pub attributes: String,
    /// Mask for SEAMATTRIBUTES, hex.
    pub attributes_mask: String,
    /// Levels keyed by the module's minor SVN (TEE_TCB_SVN byte 0).
    pub tcb_levels: Vec<IsvLevel>,
}

/// Intel's TCB info for one FMSPC (PCS API v4, TDX, version 3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbInfo {
    /// `TDX` for a TDX TCB info.
    pub id: String,
    /// Structure version (3 for TDX).
    pub version: u32,
    /// When it was issued.
    pub issue_date: String,
    /// When the next one is due: after it, this one is stale.
    pub next_update: String,
    /// The platform family it applies to, hex (6 bytes).
    pub fmspc: String,
    /// The PCE it applies to, hex (2 bytes).
    pub pce_id: String,
    /// TCB type (0).
    #[serde(default)]
    pub tcb_type: u32,
    /// Intel's TCB recovery event counter.
    pub tcb_evaluation_data_number: u32,
    /// The expected TDX module signer.
    pub tdx_module: Option<TdxModule>,
    /// Per-major-version module identities.
    #[serde(default)]
    pub tdx_module_identities: Vec<TdxModuleIdentity>,
    /// The TCB levels, highest first.
    pub tcb_levels: Vec<TcbLevel>,
}

/// Intel's identity of the TD quoting enclave (`TD_QE`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QeIdentity {
    /// `TD_QE` for TDX.
    pub id: String,
    /// Structure version (2).
    pub version: u32,
    /// When it was issued.
    pub issue_date: String,
    /// When the next one is due.
    pub next_update: String,
    /// Intel's TCB recovery event counter.
    pub tcb_evaluation_data_number: u32,
    /// Expected MISCSELECT, hex (4 bytes, little-endian as in the report).
    pub miscselect: String,
    /// Mask for MISCSELECT.
    pub miscselect_mask: String,
    /// Expected ATTRIBUTES, hex (16 bytes).
    pub attributes: String,
    /// Mask for ATTRIBUTES.
    pub attributes_mask: String,
    /// Expected MRSIGNER, hex (32 bytes).
    pub mrsigner: String,
    /// Expected ISVPRODID.
    pub isvprodid: u16,
    /// Levels keyed by the QE's ISVSVN.
    pub tcb_levels: Vec<IsvLevel>,
}

/// Parse signed JSON text (after its signature verified).
pub(crate) fn parse_signed<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, TdxError> {
    serde_json::from_str(text).map_err(|e| TdxError::CollateralFormat { what, reason: e.to_string() })
}

/// Split a PCS API response body (`{"tcbInfo": {...}, "signature": "hex"}` or
/// `{"enclaveIdentity": {...}, "signature": "hex"}`) into the signed text, byte for
/// byte as served, and the signature.
pub fn split_pcs_body(what: &'static str, key: &str, body: &[u8]) -> Result<(String, String), TdxError> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow, rename = "tcbInfo")]
        tcb_info: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, rename = "enclaveIdentity")]
        enclave_identity: Option<&'a serde_json::value::RawValue>,
        signature: String,
    }
    if body.len() > MAX_COLLATERAL_LEN {
        return Err(TdxError::CollateralFormat {
            what,
            reason: format!("{} bytes, the limit is {MAX_COLLATERAL_LEN}", body.len()),
        });
    }
    let parsed: Body<'_> =
        serde_json::from_slice(body).map_err(|e| TdxError::CollateralFormat { what, reason: e.to_string() })?;
    let raw = match key {
        "tcbInfo" => parsed.tcb_info,
        _ => parsed.enclave_identity,
    }
    .ok_or_else(|| TdxError::CollateralFormat { what, reason: format!("no \"{key}\" member") })?;
    Ok((raw.get().to_owned(), parsed.signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_intel_writes_them() {
        assert_eq!(parse_time("t", "1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_time("t", "2025-07-19T10:16:03Z").unwrap(), 1_752_920_163);
        assert_eq!(parse_time("t", "2025-07-19T10:16:03.250Z").unwrap(), 1_752_920_163);
        for bad in ["", "2025-07-19", "2025-07-19T10:16:03", "2025-07-19T10:16:03+01:00", "2025-13-19T10:16:03Z"] {
            assert!(parse_time("t", bad).is_err(), "{bad}");
        }
        assert!(parse_time("t", "२०२५-07-19T10:16:03Z").is_err());
        assert!(parse_time("t", "2025-07-19T10:16:0\u{e9}Z").is_err());
    }

    #[test]
    fn pcs_bodies_keep_the_signed_bytes() {
        let body = br#"{"tcbInfo":{"id":"TDX", "version":3},"signature":"abcd"}"#;
        let (text, sig) = split_pcs_body("TCB info", "tcbInfo", body).unwrap();
        assert_eq!(text, r#"{"id":"TDX", "version":3}"#);
        assert_eq!(sig, "abcd");
        assert!(split_pcs_body("TCB info", "tcbInfo", br#"{"signature":"ab"}"#).is_err());
        assert!(split_pcs_body("TCB info", "tcbInfo", br#"{"tcbInfo":{"#).is_err());
    }
}
