//! The Intel TDX quote (DCAP quote format versions 4 and 5), parsed from untrusted
//! bytes.
//!
//! Layout: Intel "TDX DCAP Quoting Library API" (quote format v4 and v5), all
//! integers little-endian:
//!
//! ```text
//! header (48)        version u16 | att_key_type u16 | tee_type u32 | qe_svn u16 | pce_svn u16
//!                    | qe_vendor_id [16] | user_data [20]
//! v4 body (584)      the TD report (TD 1.0)
//! v5 body            body_type u16 (2: TD 1.0, 584 bytes; 3: TD 1.5, 648 bytes) | size u32 | body
//! signature data     length u32 | quote signature [64] | attestation key [64]
//!                    | certification data: type u16 (6: QE report) | size u32
//!                      | QE report [384] | QE report signature [64]
//!                      | QE auth data: size u16 | bytes
//!                      | PCK certification data: type u16 (5: PEM chain) | size u32 | PEM
//! ```
//!
//! The attestation key signs `header || body` (for v5 including the body's type and
//! size). Every length is checked against what is left, and the whole quote is bounded
//! by the wire's report limit, so hostile input costs at most one pass over it. Bytes
//! after the signature data are signed by nobody: the parser records how many there
//! are and never reads them (real quote buffers carry zero padding, and go-tdx-guest's
//! sample carries a text tail).

use crate::codec::Reader;
use crate::error::CodecError;

/// Quote format versions this parser knows.
pub const SUPPORTED_VERSIONS: [u16; 2] = [4, 5];
/// Attestation key type ECDSA-256 with P-256, the only one TDX quoting enclaves use.
pub const ATT_KEY_TYPE_ECDSA_P256: u16 = 2;
/// TEE type of a TDX quote (0 would be SGX).
pub const TEE_TYPE_TDX: u32 = 0x81;
/// QE_VENDOR_ID of Intel's quoting enclave.
pub const INTEL_QE_VENDOR_ID: [u8; 16] =
    [0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07];
/// Header bytes.
pub const HEADER_LEN: usize = 48;
/// A TD 1.0 report body.
pub const TD10_LEN: usize = 584;
/// A TD 1.5 report body (TD 1.0 plus TEE_TCB_SVN_2 and MRSERVICETD).
pub const TD15_LEN: usize = 648;
/// v5 body type of a TD 1.0 report.
pub const BODY_TD10: u16 = 2;
/// v5 body type of a TD 1.5 report.
pub const BODY_TD15: u16 = 3;
/// An SGX report body (the QE report).
pub const SGX_REPORT_LEN: usize = 384;
/// Certification data type 5: the PCK leaf, intermediate and root, PEM.
pub const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data type 6: the QE report with its own certification data.
pub const CERT_TYPE_QE_REPORT: u16 = 6;
/// Largest quote accepted (the wire's evidence report limit).
pub const MAX_QUOTE_LEN: usize = crate::handshake::MAX_REPORT_LEN;

/// A TDX quote that is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuoteError {
    /// Too short for a field, a length larger than what follows, or over the limit.
    #[error("quote: {0}")]
    Codec(#[from] CodecError),
    /// A header or body field with a value this verifier does not accept.
    #[error("quote: {field} is {value}, expected {expected}")]
    Field {
        /// The field, e.g. `version`, `tee_type`, `body_type`.
        field: &'static str,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: String,
    },
}

fn field(field: &'static str, value: impl std::fmt::Display, expected: impl Into<String>) -> QuoteError {
    QuoteError::Field { field, value: value.to_string(), expected: expected.into() }
}

fn le16(r: &mut Reader<'_>) -> Result<u16, CodecError> {
    Ok(u16::from_le_bytes(r.array()?))
}

fn le32(r: &mut Reader<'_>) -> Result<u32, CodecError> {
    Ok(u32::from_le_bytes(r.array()?))
}

fn len32(r: &mut Reader<'_>, field: &'static str) -> Result<usize, QuoteError> {
    let len = usize::try_from(le32(r)?).unwrap_or(usize::MAX);
    if len > r.remaining() {
        return Err(CodecError::TooLong { field, len, max: r.remaining() }.into());
    }
    Ok(len)
}

/// The quote header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Quote format version (4 or 5).
    pub version: u16,
    /// Attestation key type (2: ECDSA-256 with P-256).
    pub att_key_type: u16,
    /// TEE type (0x81: TDX).
    pub tee_type: u32,
    /// QE SVN (reserved in v4).
    pub qe_svn: u16,
    /// PCE SVN at the time of quoting.
    pub pce_svn: u16,
    /// The quoting enclave's vendor (Intel's for every real quote).
    pub qe_vendor_id: [u8; 16],
    /// Vendor-defined user data (the first 16 bytes are the QE's platform id).
    pub user_data: [u8; 20],
}

/// TD attributes bit 0: the TD runs in debug mode; the host can read its memory
/// and registers.
pub const TD_ATTR_DEBUG: u64 = 1 << 0;
/// TD attributes bits 4..6 (TUD): performance monitoring and other debug facilities.
pub const TD_ATTR_TUD_OTHER: u64 = 0x70;
/// TD attributes bit 17: SERVTD_EXT (service TD extensions bound into the report).
pub const TD_ATTR_SERVTD_EXT: u64 = 1 << 17;
/// TD attributes bit 28: SEPT_VE_DISABLE (the host cannot turn EPT violations into #VE
/// in the guest, closing a class of host-driven attacks).
pub const TD_ATTR_SEPT_VE_DISABLE: u64 = 1 << 28;
/// TD attributes bit 29: MIGRATABLE (a migration TD can export the TD).
pub const TD_ATTR_MIGRATABLE: u64 = 1 << 29;
/// TD attributes bits the TDX module ABI (348551-008US, table 3.23) reserves: a
/// report with any set is refused.
pub const TD_ATTR_RESERVED: u64 = ones(1, 3) | ones(7, 15) | ones(23, 26) | ones(32, 61);

const fn ones(from: u32, to: u32) -> u64 {
    (u64::MAX << from) & (u64::MAX >> (63 - to))
}

/// The TD report in the quote body: what the TDX module measured and the TD asked
/// to be bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdReport {
    /// TEE_TCB_SVN: the TDX module's SVNs (byte 0 its minor SVN, byte 1 its major
    /// version), compared with the TCB info's `tdxtcbcomponents`.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM: measurement of the TDX module.
    pub mr_seam: [u8; 48],
    /// MRSIGNERSEAM: signer of the TDX module (zero for Intel's).
    pub mr_signer_seam: [u8; 48],
    /// SEAMATTRIBUTES (zero for a production module).
    pub seam_attributes: [u8; 8],
    /// TDATTRIBUTES (little-endian u64; see the `TD_ATTR_*` bits).
    pub td_attributes: [u8; 8],
    /// XFAM: the extended CPU features the TD may use.
    pub xfam: [u8; 8],
    /// MRTD: the TD's build-time measurement (firmware), what a user pins.
    pub mr_td: [u8; 48],
    /// MRCONFIGID: software-defined configuration id set by the host at launch.
    pub mr_config_id: [u8; 48],
    /// MROWNER: software-defined id of the TD's owner set at launch.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG: software-defined owner configuration set at launch.
    pub mr_owner_config: [u8; 48],
    /// RTMR0..RTMR3: run-time measurement registers (firmware, boot loader, kernel, OS).
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA: the 64 bytes the TD asked to be bound (our session binding).
    pub report_data: [u8; 64],
    /// TD 1.5 only: TEE_TCB_SVN_2, the module's current SVNs after a TD-preserving update.
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// TD 1.5 only: MRSERVICETD, the measurement of bound service TDs.
    pub mr_service_td: Option<[u8; 48]>,
}

impl TdReport {
    /// TDATTRIBUTES as a number.
    pub fn attributes(&self) -> u64 {
        u64::from_le_bytes(self.td_attributes)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for part in [&self.tee_tcb_svn[..], &self.mr_seam, &self.mr_signer_seam, &self.seam_attributes] {
            out.extend_from_slice(part);
        }
        for part in [&self.td_attributes[..], &self.xfam, &self.mr_td, &self.mr_config_id, &self.mr_owner] {
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.mr_owner_config);
        self.rtmr.iter().for_each(|r| out.extend_from_slice(r));
        out.extend_from_slice(&self.report_data);
        if let (Some(svn2), Some(service)) = (&self.tee_tcb_svn2, &self.mr_service_td) {
            out.extend_from_slice(svn2);
            out.extend_from_slice(service);
        }
    }

    fn parse(r: &mut Reader<'_>, td15: bool) -> Result<Self, CodecError> {
        Ok(Self {
            tee_tcb_svn: r.array()?,
            mr_seam: r.array()?,
            mr_signer_seam: r.array()?,
            seam_attributes: r.array()?,
            td_attributes: r.array()?,
            xfam: r.array()?,
            mr_td: r.array()?,
            mr_config_id: r.array()?,
            mr_owner: r.array()?,
            mr_owner_config: r.array()?,
            rtmr: [r.array()?, r.array()?, r.array()?, r.array()?],
            report_data: r.array()?,
            tee_tcb_svn2: if td15 { Some(r.array()?) } else { None },
            mr_service_td: if td15 { Some(r.array()?) } else { None },
        })
    }
}

/// An SGX enclave report body: here the quoting enclave's own report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgxReport {
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// MISCSELECT.
    pub misc_select: u32,
    /// ATTRIBUTES (byte 0 bit 1: DEBUG).
    pub attributes: [u8; 16],
    /// MRENCLAVE.
    pub mr_enclave: [u8; 32],
    /// MRSIGNER: SHA-256 of the enclave signer's key (Intel's for the QE).
    pub mr_signer: [u8; 32],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN: the QE's security version.
    pub isv_svn: u16,
    /// REPORTDATA: SHA-256(attestation key || QE auth data) then 32 zero bytes.
    pub report_data: [u8; 64],
}

impl SgxReport {
    /// Parse the 384 bytes of an SGX report body; reserved bytes must be zero.
    pub fn parse(raw: &[u8]) -> Result<Self, QuoteError> {
        let mut r = Reader::new("QE report", raw);
        let cpu_svn = r.array()?;
        let misc_select = le32(&mut r)?;
        reserved(&mut r, 28)?;
        let attributes = r.array()?;
        let mr_enclave = r.array()?;
        reserved(&mut r, 32)?;
        let mr_signer = r.array()?;
        reserved(&mut r, 96)?;
        let isv_prod_id = le16(&mut r)?;
        let isv_svn = le16(&mut r)?;
        reserved(&mut r, 60)?;
        let report_data = r.array()?;
        r.finish()?;
        Ok(Self { cpu_svn, misc_select, attributes, mr_enclave, mr_signer, isv_prod_id, isv_svn, report_data })
    }

    /// The 384 bytes of the report body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SGX_REPORT_LEN);
        out.extend_from_slice(&self.cpu_svn);
        out.extend_from_slice(&self.misc_select.to_le_bytes());
        out.extend_from_slice(&[0; 28]);
        out.extend_from_slice(&self.attributes);
        out.extend_from_slice(&self.mr_enclave);
        out.extend_from_slice(&[0; 32]);
        out.extend_from_slice(&self.mr_signer);
        out.extend_from_slice(&[0; 96]);
        out.extend_from_slice(&self.isv_prod_id.to_le_bytes());
        out.extend_from_slice(&self.isv_svn.to_le_bytes());
        out.extend_from_slice(&[0; 60]);
        out.extend_from_slice(&self.report_data);
        out
    }

    /// ATTRIBUTES.DEBUG: a debug enclave, whose secrets (here: the attestation key)
    /// are readable.
    pub fn debug(&self) -> bool {
        self.attributes[0] & 0x02 != 0
    }
}

fn reserved(r: &mut Reader<'_>, n: usize) -> Result<(), QuoteError> {
    if r.take(n)?.iter().any(|&b| b != 0) {
        return Err(field("QE report reserved bytes", "not zero", "zero"));
    }
    Ok(())
}

/// A parsed TDX quote. The raw bytes stay with the caller; ranges into them are
/// kept for the signature checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The header.
    pub header: Header,
    /// v5 body type ([`BODY_TD10`] for every v4 quote).
    pub body_type: u16,
    /// The TD report.
    pub td: TdReport,
    /// Bytes `0..signed_len` are what the attestation key signs.
    pub signed_len: usize,
    /// The attestation key's ECDSA P-256 signature over them (r || s, big-endian).
    pub signature: [u8; 64],
    /// The attestation key (P-256 x || y).
    pub attestation_key: [u8; 64],
    /// Where the raw QE report lies in the quote (the PCK key signs these 384 bytes).
    pub qe_report_range: std::ops::Range<usize>,
    /// The QE report, parsed.
    pub qe_report: SgxReport,
    /// The PCK key's signature over the QE report (r || s).
    pub qe_report_signature: [u8; 64],
    /// QE authentication data (hashed with the attestation key into the QE report).
    pub qe_auth_data: Vec<u8>,
    /// Type of the inner certification data ([`CERT_TYPE_PCK_CHAIN`] in every quote
    /// a verifier can check offline).
    pub pck_cert_type: u16,
    /// The inner certification data: for type 5, the PEM chain (leaf first).
    pub pck_cert_data: Vec<u8>,
    /// Unsigned bytes after the signature data, never interpreted.
    pub trailing: usize,
}

impl Quote {
    /// Parse a quote. Header values other than version 4/5, ECDSA P-256, TDX and
    /// Intel's QE are refused here, so every later check runs on a known layout.
    pub fn parse(raw: &[u8]) -> Result<Self, QuoteError> {
        if raw.len() > MAX_QUOTE_LEN {
            return Err(CodecError::TooLong { field: "quote", len: raw.len(), max: MAX_QUOTE_LEN }.into());
        }
        let mut r = Reader::new("TDX quote", raw);
        let header = Header {
            version: le16(&mut r)?,
            att_key_type: le16(&mut r)?,
            tee_type: le32(&mut r)?,
            qe_svn: le16(&mut r)?,
            pce_svn: le16(&mut r)?,
            qe_vendor_id: r.array()?,
            user_data: r.array()?,
        };
        if !SUPPORTED_VERSIONS.contains(&header.version) {
            return Err(field("version", header.version, "4 or 5"));
        }
        if header.tee_type != TEE_TYPE_TDX {
            return Err(field("tee_type", format!("{:#x}", header.tee_type), "0x81 (TDX)"));
        }
        if header.att_key_type != ATT_KEY_TYPE_ECDSA_P256 {
            return Err(field("attestation key type", header.att_key_type, "2 (ECDSA-256 with P-256)"));
        }
        if header.qe_vendor_id != INTEL_QE_VENDOR_ID {
            return Err(field("qe_vendor_id", hex::encode(header.qe_vendor_id), hex::encode(INTEL_QE_VENDOR_ID)));
        }
        let (body_type, td) = if header.version == 4 {
            (BODY_TD10, TdReport::parse(&mut r, false)?)
        } else {
            let body_type = le16(&mut r)?;
            let size = len32(&mut r, "body size")?;
            let (want, td15) = match body_type {
                BODY_TD10 => (TD10_LEN, false),
                BODY_TD15 => (TD15_LEN, true),
                other => return Err(field("body_type", other, "2 (TD 1.0) or 3 (TD 1.5)")),
            };
            if size != want {
                return Err(field("body size", size, format!("{want} for body type {body_type}")));
            }
            (body_type, TdReport::parse(&mut r, td15)?)
        };
        let signed_len = raw.len() - r.remaining();

        let sig_len = len32(&mut r, "signature data length")?;
        let mut s = Reader::new("quote signature data", r.take(sig_len)?);
        let trailing = r.remaining();
        let signature = s.array()?;
        let attestation_key = s.array()?;
        let cert_type = le16(&mut s)?;
        if cert_type != CERT_TYPE_QE_REPORT {
            return Err(field("certification data type", cert_type, "6 (QE report certification data)"));
        }
        let cert_len = len32(&mut s, "certification data size")?;
        let qe_start = raw.len() - trailing - s.remaining();
        let mut c = Reader::new("QE report certification data", s.take(cert_len)?);
        s.finish()?;
        let qe_raw = c.take(SGX_REPORT_LEN)?;
        let qe_report = SgxReport::parse(qe_raw)?;
        let qe_report_signature = c.array()?;
        let auth_len = usize::from(le16(&mut c)?);
        let qe_auth_data = c.take(auth_len)?.to_vec();
        let pck_cert_type = le16(&mut c)?;
        let pck_len = len32(&mut c, "PCK certification data size")?;
        let pck_cert_data = c.take(pck_len)?.to_vec();
        c.finish()?;

        Ok(Self {
            header,
            body_type,
            td,
            signed_len,
            signature,
            attestation_key,
            qe_report_range: qe_start..qe_start + SGX_REPORT_LEN,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            pck_cert_type,
            pck_cert_data,
            trailing,
        })
    }
}

impl Quote {
    /// The signed part, `header || body` (for v5 with the body's type and size): what
    /// the attestation key signs. The simulated quoting enclave builds quotes with it.
    pub fn encode_signed(header: &Header, body_type: u16, td: &TdReport) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 6 + TD15_LEN);
        out.extend_from_slice(&header.version.to_le_bytes());
        out.extend_from_slice(&header.att_key_type.to_le_bytes());
        out.extend_from_slice(&header.tee_type.to_le_bytes());
        out.extend_from_slice(&header.qe_svn.to_le_bytes());
        out.extend_from_slice(&header.pce_svn.to_le_bytes());
        out.extend_from_slice(&header.qe_vendor_id);
        out.extend_from_slice(&header.user_data);
        let mut body = Vec::with_capacity(TD15_LEN);
        td.encode(&mut body);
        if header.version >= 5 {
            out.extend_from_slice(&body_type.to_le_bytes());
            out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
        }
        out.extend_from_slice(&body);
        out
    }

    /// The quote's bytes, without the unsigned trailing bytes (which the parser
    /// counts but does not keep).
    pub fn to_bytes(&self) -> Vec<u8> {
        let le32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
        let mut out = Self::encode_signed(&self.header, self.body_type, &self.td);
        let mut cert = self.qe_report.to_bytes();
        cert.extend_from_slice(&self.qe_report_signature);
        cert.extend_from_slice(&u16::try_from(self.qe_auth_data.len()).unwrap_or(u16::MAX).to_le_bytes());
        cert.extend_from_slice(&self.qe_auth_data);
        cert.extend_from_slice(&self.pck_cert_type.to_le_bytes());
        cert.extend_from_slice(&le32(self.pck_cert_data.len()));
        cert.extend_from_slice(&self.pck_cert_data);
        let mut sig = Vec::with_capacity(134 + cert.len());
        sig.extend_from_slice(&self.signature);
        sig.extend_from_slice(&self.attestation_key);
        sig.extend_from_slice(&CERT_TYPE_QE_REPORT.to_le_bytes());
        sig.extend_from_slice(&le32(cert.len()));
        sig.extend_from_slice(&cert);
        out.extend_from_slice(&le32(sig.len()));
        out.extend_from_slice(&sig);
        out
    }
}

/// Whether bytes look like a TDX quote (version 4 or 5 header with TEE type TDX), for
/// telling a quote from an SEV-SNP report without being told.
pub fn looks_like_quote(raw: &[u8]) -> bool {
    raw.len() >= HEADER_LEN
        && SUPPORTED_VERSIONS.contains(&u16::from_le_bytes([raw[0], raw[1]]))
        && u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]) == TEE_TYPE_TDX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_attribute_mask_is_the_abi_table() {
        // Defined bits (ABI 348551-008US): 0, 4-6, 16-22, 27-31, 62, 63.
        let defined = [0u32, 4, 5, 6, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 62, 63];
        for bit in 0..64 {
            assert_eq!(TD_ATTR_RESERVED & (1 << bit) == 0, defined.contains(&bit), "bit {bit}");
        }
    }

    #[test]
    fn short_and_hostile_lengths_are_errors() {
        assert!(Quote::parse(&[]).is_err());
        let mut q = vec![0u8; HEADER_LEN + TD10_LEN + 4];
        q[0] = 4;
        q[2] = 2;
        q[4] = 0x81;
        q[12..28].copy_from_slice(&INTEL_QE_VENDOR_ID);
        let n = q.len();
        q[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = Quote::parse(&q).unwrap_err();
        assert!(matches!(e, QuoteError::Codec(CodecError::TooLong { .. })), "{e}");
        assert!(Quote::parse(&vec![0u8; MAX_QUOTE_LEN + 1]).is_err());
    }
}
