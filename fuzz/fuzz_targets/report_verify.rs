//! The SEV-SNP report parser and the whole verifier (`verify_snp`).
//!
//! Input: `[mode u8][rest]`.
//! - mode even: `rest` is the report only (cut or zero-padded to 1184 bytes), checked
//!   against a real AMD chain from `tests/data/snp/` chosen by bits 1..=3 of `mode`, so the
//!   mutated report gets through the chain checks to the signature and beyond.
//!   Bit 4 of `mode` passes the intermediate (ASK/ASVK) explicitly instead of
//!   leaving the verifier to use its built-in one.
//! - mode odd: the first 1184 bytes of `rest` (all of it if shorter) are the report,
//!   the remainder the signer certificate (DER).
//!
//! Properties: nothing panics; a report that parses encodes back to exactly its
//! bytes (the parser refuses reserved bytes, so the encoding is unique).
#![no_main]

use cvmc_fuzz::{CHAINS, NOW};
use cvmc_protocol::snp::report::{REPORT_LEN, Report, SIGNED_LEN};
use cvmc_protocol::{ExpectedReportData, Policy, SnpCerts, TrustAnchors, verify_snp};
use libfuzzer_sys::fuzz_target;

fn check(report: &[u8], certs: SnpCerts<'_>) {
    if let Ok(parsed) = Report::parse(report) {
        assert_eq!(parsed.encode(), report, "Report::encode is not the parsed bytes");
        assert_eq!(parsed.encode_body()[..], report[..SIGNED_LEN]);
    }
    let policy = Policy::default();
    let _ = verify_snp(report, certs, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), NOW);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let chain = &CHAINS[usize::from((mode >> 1) & 0x7) % CHAINS.len()];
        let mut report = [0u8; REPORT_LEN];
        let n = rest.len().min(REPORT_LEN);
        report[..n].copy_from_slice(&rest[..n]);
        let intermediate = (mode & 0x10 != 0).then_some(chain.intermediate.as_slice());
        check(&report, SnpCerts { signer: Some(&chain.signer), intermediate, crl: None });
    } else {
        let (report, cert) = rest.split_at(rest.len().min(REPORT_LEN));
        check(report, SnpCerts { signer: Some(cert), intermediate: None, crl: None });
    }
});
