//! Azure paravisor evidence as the tests make it: runtime claims JSON, and HCL
//! reports around SEV-SNP reports of the test CA, the way the paravisor builds them.

use cvm_consoled::sim::SimLeaf;
use cvmc_protocol::azure::hcl::{self, ClaimsHash, HwReportType};

/// The AK modulus (base64url) of the real claims in `tests/data/azure/azcvm_var-data.bin`.
pub const AK_N: &str = "tegZ0wABCCWLhBK-LqnHoHW16fe3IN9MHs9bvdN9BpMnva_OqvqoFw4lp0lrZoMTi51C1jzjkRIpo2ICUhEUZdwIbXSUb1gb8UnSb73IDUYldyWSIF9uG--o9N1iBPAkfHzA3Fy3IA0yJ1fI8AYG-k3JJ4I-4itXEcjlAxtm3UcCNaf2moil_sWJXkw9K9o8_uflPmssBpNZT6i5kH09JiYamTA1eCVoUhc2zCwnP_NWScm7ViZA-vj9YUzAa7ek0iBRwFo5EPyiMiOroxJ79Fl27ftWq8EUOs8qo241G6fj7k8VbbivhRb0uImr2LXvyJOAQwX0FpAdXlvWG8jwmQ";

/// Runtime claims as the paravisor writes them for `user_data`, on VM `vm_id`, with
/// the AK [`AK_N`] and the serial console off. Compact, so that an HCL report with
/// them fits swtpm's 2048-byte NV indices.
pub fn claims(user_data: &[u8], vm_id: &str) -> Vec<u8> {
    format!(
        r#"{{"keys":[{{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"{AK_N}"}}],"vm-configuration":{{"console-enabled":false,"secure-boot":true,"tpm-enabled":true,"vmUniqueId":"{vm_id}"}},"user-data":"{}"}}"#,
        hex::encode_upper(user_data)
    )
    .into_bytes()
}

/// REPORT_DATA for claims: their SHA-256, then zeros.
pub fn report_data(claims: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&ClaimsHash::Sha256.digest(claims));
    out
}

/// An HCL report carrying `claims` around a report by `leaf` whose REPORT_DATA hashes
/// `signed_claims` (the same claims for an honest report), padded to 2048 bytes.
pub fn hcl_report(leaf: &SimLeaf, claims: &[u8], signed_claims: &[u8]) -> Vec<u8> {
    let report = leaf.sign(&leaf.report_template(report_data(signed_claims)));
    hcl::encode(HwReportType::Snp, &report, claims, 2048)
}

/// SHA-256 of the SPKI DER of `tests/data/azure/azcvm_akpub.pem`: an AK that is not
/// the one in [`claims`].
pub fn other_ak_fingerprint() -> [u8; 32] {
    let pem = std::fs::read_to_string(format!("{}/data/azure/azcvm_akpub.pem", env!("CARGO_MANIFEST_DIR")))
        .expect("azcvm_akpub.pem");
    cvmc_protocol::azure::claims::AkPub::from_pem(&pem).expect("an RSA key").fingerprint
}

/// A TDX HCL report carrying `claims` around a TD report of `platform` whose
/// REPORTDATA hashes `signed_claims`, padded to 2048 bytes; and that TD report's
/// quote body, for the quoting service to quote.
pub fn tdx_hcl_report(
    platform: &cvm_consoled::sim_tdx::SimTdxPlatform,
    claims: &[u8],
    signed_claims: &[u8],
) -> (Vec<u8>, cvmc_protocol::tdx::quote::TdReport) {
    let td = platform.td_template(report_data(signed_claims));
    (hcl::encode(HwReportType::Tdx, &cvmc_protocol::tdx::tdreport::encode(&td), claims, 2048), td)
}

/// What the stand-in for Azure's quoting service (IMDS `/acc/tdquote`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imds {
    /// Quote the TD report it is sent, as Azure's does.
    Honest,
    /// Quote another TD report (another MRTD): a quote that is not of this one.
    OtherTd,
    /// Answer 200 with JSON that is not `{"quote": ...}`.
    BadJson,
    /// Answer 200 with a `quote` that is not base64.
    BadBase64,
    /// Answer 200 with a body far over any quote's size.
    Huge,
    /// Answer 500 with a message holding terminal control bytes.
    Error,
    /// Accept, read the request, never answer.
    Silent,
}

/// A loopback stand-in for Azure's quoting service, quoting with `platform`.
pub fn imds_server(
    platform: std::sync::Arc<cvm_consoled::sim_tdx::SimTdxPlatform>,
    behaviour: Imds,
) -> crate::loopback_http::Loopback {
    use base64ct::Encoding as _;
    crate::loopback_http::Loopback::start_with_body(move |_, path, body| {
        let ok = |body: Vec<u8>| Some(("200 OK", vec![("Content-Type", "application/json".to_owned())], body, None));
        if path != "/acc/tdquote" {
            return Some(("404 Not Found", vec![], Vec::new(), None));
        }
        match behaviour {
            Imds::Silent => return None,
            Imds::BadJson => return ok(br#"{"quote": 5}"#.to_vec()),
            Imds::BadBase64 => return ok(br#"{"quote": "not base64 at all!"}"#.to_vec()),
            Imds::Huge => return ok(vec![b' '; 4 << 20]),
            Imds::Error => {
                return Some(("500 Internal Server Error", vec![], b"quote failed \x1b[2J\x07".to_vec(), None));
            }
            Imds::Honest | Imds::OtherTd => {}
        }
        #[derive(serde::Deserialize)]
        struct Request {
            report: String,
        }
        let request: Request = serde_json::from_slice(body).expect("the provider sends {\"report\": base64url}");
        let report = base64ct::Base64UrlUnpadded::decode_vec(&request.report).expect("base64url without padding");
        let mut td = cvmc_protocol::tdx::tdreport::TdReportStruct::parse(&report).expect("a TD report").body;
        if behaviour == Imds::OtherTd {
            td.mr_td[0] ^= 1;
        }
        let quote = platform.quote(&td);
        ok(format!(r#"{{"quote":"{}"}}"#, base64ct::Base64UrlUnpadded::encode_string(&quote)).into_bytes())
    })
}
