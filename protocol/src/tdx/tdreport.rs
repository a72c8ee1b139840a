//! TDREPORT_STRUCT: the 1024-byte report the TDX module writes for a TD (TDG.MR.REPORT).
//! It is MAC'd for the CPU it was made on, not signed: only a quoting enclave on that
//! platform can check it and turn it into a quote. Azure's paravisor puts one in the
//! HCL report of a TDX confidential VM, and Azure's quoting service (over IMDS) makes
//! the quote a verifier can check.
//!
//! ```text
//! 0    REPORTMACSTRUCT  REPORTTYPE (type 0x81 = TDX, subtype, version, reserved),
//!                       reserved 12, CPUSVN 16, TEE_TCB_INFO_HASH 48, TEE_INFO_HASH 48,
//!                       REPORTDATA 64 (at 128), reserved 32, MAC 32
//! 256  TEE_TCB_INFO     VALID 8, TEE_TCB_SVN 16, MRSEAM 48, MRSIGNERSEAM 48,
//!                       ATTRIBUTES 8, TEE_TCB_SVN2 16 (TDX 1.5), reserved 95
//! 495  reserved 17
//! 512  TDINFO           ATTRIBUTES 8, XFAM 8, MRTD 48, MRCONFIGID 48, MROWNER 48,
//!                       MROWNERCONFIG 48, RTMR0..3 4x48, SERVTD_HASH 48 (1.5), reserved 64
//! ```
//!
//! Sans-IO: a fixed-size parse and the mapping to the quote's TD body, which is what
//! a quoting enclave copies out of it.

use super::quote::TdReport;

/// Size of TDREPORT_STRUCT.
pub const LEN: usize = 1024;
/// REPORTTYPE.TYPE of a TDX report.
pub const REPORT_TYPE_TDX: u8 = 0x81;
/// Where REPORTDATA is.
pub const REPORT_DATA_OFFSET: usize = 128;

const TEE_TCB_INFO: usize = 256;
const TDINFO: usize = 512;

/// A parsed TDREPORT_STRUCT: the fields a quote carries, and the MAC struct's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdReportStruct {
    /// REPORTTYPE.VERSION: 0 for TDX 1.0, 1 for TDX 1.5 (TEE_TCB_SVN2 and
    /// SERVTD_HASH are meaningful).
    pub version: u8,
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// The fields as the quote's TD body holds them.
    pub body: TdReport,
}

fn take<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

impl TdReportStruct {
    /// Parse exactly [`LEN`] bytes.
    pub fn parse(b: &[u8]) -> Result<Self, String> {
        if b.len() != LEN {
            return Err(format!("a TD report is {LEN} bytes, this is {}", b.len()));
        }
        if b[0] != REPORT_TYPE_TDX {
            return Err(format!("report type {:#04x}, not {REPORT_TYPE_TDX:#04x} (TDX)", b[0]));
        }
        let version = b[2];
        if version > 1 {
            return Err(format!("report version {version}, this verifier knows 0 (TDX 1.0) and 1 (TDX 1.5)"));
        }
        let mut rtmr = [[0u8; 48]; 4];
        for (i, r) in rtmr.iter_mut().enumerate() {
            *r = take(b, TDINFO + 208 + 48 * i);
        }
        let v15 = version == 1;
        let body = TdReport {
            tee_tcb_svn: take(b, TEE_TCB_INFO + 8),
            mr_seam: take(b, TEE_TCB_INFO + 24),
            mr_signer_seam: take(b, TEE_TCB_INFO + 72),
            seam_attributes: take(b, TEE_TCB_INFO + 120),
            td_attributes: take(b, TDINFO),
            xfam: take(b, TDINFO + 8),
            mr_td: take(b, TDINFO + 16),
            mr_config_id: take(b, TDINFO + 64),
            mr_owner: take(b, TDINFO + 112),
            mr_owner_config: take(b, TDINFO + 160),
            rtmr,
            report_data: take(b, REPORT_DATA_OFFSET),
            tee_tcb_svn2: v15.then(|| take(b, TEE_TCB_INFO + 128)),
            mr_service_td: v15.then(|| take(b, TDINFO + 400)),
        };
        Ok(Self { version, cpu_svn: take(b, 16), body })
    }

    /// The first field in which `quoted` (a quote's TD body) differs from this report,
    /// or None when the quote is of this report. TDX 1.5 fields are compared only when
    /// both have them (a quote v4 of a TDX 1.5 report carries the 1.0 body).
    pub fn differs_from(&self, quoted: &TdReport) -> Option<&'static str> {
        let a = &self.body;
        let pairs: [(&'static str, &[u8], &[u8]); 12] = [
            ("TEE_TCB_SVN", &a.tee_tcb_svn, &quoted.tee_tcb_svn),
            ("MRSEAM", &a.mr_seam, &quoted.mr_seam),
            ("MRSIGNERSEAM", &a.mr_signer_seam, &quoted.mr_signer_seam),
            ("SEAMATTRIBUTES", &a.seam_attributes, &quoted.seam_attributes),
            ("TDATTRIBUTES", &a.td_attributes, &quoted.td_attributes),
            ("XFAM", &a.xfam, &quoted.xfam),
            ("MRTD", &a.mr_td, &quoted.mr_td),
            ("MRCONFIGID", &a.mr_config_id, &quoted.mr_config_id),
            ("MROWNER", &a.mr_owner, &quoted.mr_owner),
            ("MROWNERCONFIG", &a.mr_owner_config, &quoted.mr_owner_config),
            ("RTMR", a.rtmr.as_flattened(), quoted.rtmr.as_flattened()),
            ("REPORTDATA", &a.report_data, &quoted.report_data),
        ];
        if let Some((name, _, _)) = pairs.iter().find(|(_, x, y)| x != y) {
            return Some(name);
        }
        match (&a.tee_tcb_svn2, &quoted.tee_tcb_svn2) {
            (Some(x), Some(y)) if x != y => return Some("TEE_TCB_SVN2"),
            _ => {}
        }
        match (&a.mr_service_td, &quoted.mr_service_td) {
            (Some(x), Some(y)) if x != y => Some("SERVTD_HASH"),
            _ => None,
        }
    }
}

/// A TDREPORT_STRUCT holding `body` (for the tests' paravisor stand-in: its MAC and
/// hashes are zero, which only the CPU's quoting enclave would check).
pub fn encode(body: &TdReport) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    let v15 = body.tee_tcb_svn2.is_some() || body.mr_service_td.is_some();
    b[0] = REPORT_TYPE_TDX;
    b[2] = u8::from(v15);
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(REPORT_DATA_OFFSET, &body.report_data);
    put(TEE_TCB_INFO, &[0xff, 0x01, 0x03, 0, 0, 0, 0, 0]);
    put(TEE_TCB_INFO + 8, &body.tee_tcb_svn);
    put(TEE_TCB_INFO + 24, &body.mr_seam);
    put(TEE_TCB_INFO + 72, &body.mr_signer_seam);
    put(TEE_TCB_INFO + 120, &body.seam_attributes);
    if let Some(svn2) = &body.tee_tcb_svn2 {
        put(TEE_TCB_INFO + 128, svn2);
    }
    put(TDINFO, &body.td_attributes);
    put(TDINFO + 8, &body.xfam);
    put(TDINFO + 16, &body.mr_td);
    put(TDINFO + 64, &body.mr_config_id);
    put(TDINFO + 112, &body.mr_owner);
    put(TDINFO + 160, &body.mr_owner_config);
    put(TDINFO + 208, body.rtmr.as_flattened());
    if let Some(servtd) = &body.mr_service_td {
        put(TDINFO + 400, servtd);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> TdReport {
        TdReport {
            tee_tcb_svn: [3; 16],
            mr_seam: [4; 48],
            mr_signer_seam: [0; 48],
            seam_attributes: [0; 8],
            td_attributes: [0x10, 0, 0, 0, 0, 0, 0, 0],
            xfam: [0xe7, 0x18, 6, 0, 0, 0, 0, 0],
            mr_td: [5; 48],
            mr_config_id: [6; 48],
            mr_owner: [7; 48],
            mr_owner_config: [8; 48],
            rtmr: [[9; 48], [10; 48], [11; 48], [12; 48]],
            report_data: [13; 64],
            tee_tcb_svn2: None,
            mr_service_td: None,
        }
    }

    #[test]
    fn encode_and_parse_agree_and_every_field_lands_where_a_quote_reads_it() {
        let td = body();
        let parsed = TdReportStruct::parse(&encode(&td)).unwrap();
        assert_eq!((parsed.version, &parsed.body), (0, &td));
        assert_eq!(parsed.differs_from(&td), None);
        let v15 = TdReport { tee_tcb_svn2: Some([1; 16]), mr_service_td: Some([2; 48]), ..td.clone() };
        let parsed = TdReportStruct::parse(&encode(&v15)).unwrap();
        assert_eq!((parsed.version, &parsed.body), (1, &v15));
        // A v4 quote of a 1.5 report has no 1.5 fields: still the same report.
        assert_eq!(parsed.differs_from(&td), None);
        assert_eq!(parsed.differs_from(&TdReport { mr_service_td: Some([3; 48]), ..v15 }), Some("SERVTD_HASH"));
    }

    #[test]
    fn each_differing_field_is_named() {
        let td = body();
        let r = TdReportStruct::parse(&encode(&td)).unwrap();
        assert_eq!(r.differs_from(&TdReport { mr_td: [0; 48], ..td.clone() }), Some("MRTD"));
        assert_eq!(r.differs_from(&TdReport { report_data: [0; 64], ..td.clone() }), Some("REPORTDATA"));
        let mut rtmr = td.rtmr;
        rtmr[3][47] ^= 1;
        assert_eq!(r.differs_from(&TdReport { rtmr, ..td }), Some("RTMR"));
    }

    #[test]
    fn wrong_sizes_types_and_versions_are_refused() {
        let good = encode(&body());
        assert!(TdReportStruct::parse(&good[..1023]).unwrap_err().contains("1024 bytes"));
        let mut bad = good;
        bad[0] = 0x00;
        assert!(TdReportStruct::parse(&bad).unwrap_err().contains("report type 0x00"));
        let mut bad = good;
        bad[2] = 2;
        assert!(TdReportStruct::parse(&bad).unwrap_err().contains("version 2"));
    }
}
