//! What AMD's KDS (or a hostile stand-in for it) answers: a CRL, a cert_chain PEM, a
//! VCEK DER; and the verifier's use of a CRL under `revocation = "require"`.
//!
//! Input: any bytes (seeds: a CRL made by a test ARK, the real VCEKs and ASK chains),
//! given to the CRL parser and its checks against Milan's ARK, to the cert_chain and
//! VCEK answer checks against the real Milan report, and to the verifier as the CRL
//! of the real Milan report and chain.
//!
//! Properties: nothing panics; a CRL that AMD's ARK did not sign is never accepted.
#![no_main]

use cvmc_fuzz::{CHAINS, NOW};
use cvmc_protocol::policy::{Hex, Revocation};
use cvmc_protocol::snp::crl::AmdCrl;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::Report;
use cvmc_protocol::{ExpectedReportData, Policy, SnpCerts, TrustAnchors, verify_snp};
use libfuzzer_sys::fuzz_target;

const MILAN: &[u8] = include_bytes!("../../tests/data/snp/milan_attestation_report.bin");

fuzz_target!(|data: &[u8]| {
    let Ok(ark) = TrustAnchors::amd_ark(Product::Milan) else { return };
    if let Ok(crl) = AmdCrl::from_der(data) {
        let signed = crl.check_signed_by(&ark).is_ok();
        let _ = crl.check_not_listed(&ark, "Milan");
        let _ = (crl.window(), crl.is_current(NOW), crl.len());
        // Nobody but AMD holds the ARK's key: a mutated CRL never verifies.
        assert!(!signed, "a fuzzed CRL verified under AMD's Milan ARK");
    }
    let _ = cvm_console::kds::first_pem_certificate(data);
    let Ok(report) = Report::parse(MILAN) else { return };
    let _ = cvm_console::kds::check_vcek_answer(data, &report);
    let chain = &CHAINS[0];
    let certs = SnpCerts { signer: Some(&chain.signer), intermediate: Some(&chain.intermediate), crl: Some(data) };
    let policy = Policy { revocation: Revocation::Require, measurements: vec![Hex(report.measurement)], ..Policy::default() };
    let verdict = verify_snp(MILAN, certs, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), NOW);
    assert!(verdict.is_err(), "a fuzzed CRL passed revocation = require");
});
