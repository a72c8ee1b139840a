//! Azure's paravisor evidence: the HCL report parser, the runtime-claims JSON, the
//! TD report and the quote after it, and the whole Azure verification of the report
//! (claims hash, AK pin, vm-configuration, user-data; for TDX the quote's match with
//! the TD report) over a simulated-chain-free path (AMD's and Intel's anchors, so
//! the signature always fails last).
//!
//! Input: any bytes (seeds: the real SNP and TDX HCL reports and claims, and the
//! TDX one with a real quote appended), parsed as an HCL report, split into HCL
//! report and quote, and separately as claims JSON.
//!
//! Properties: nothing panics; a report that parses has its parts inside the input;
//! no fuzzed report verifies against AMD's or Intel's roots.
#![no_main]

use cvmc_protocol::azure::claims::RuntimeClaims;
use cvmc_protocol::azure::hcl::{HclReport, split_quote};
use cvmc_protocol::tdx::tdreport::TdReportStruct;
use cvmc_protocol::{AvailableCerts, ExpectedReportData, Policy, TrustAnchors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = RuntimeClaims::parse(data).map(|c| (c.flags_shown(), c.flag("console-enabled")));
    if let Ok((hcl, quote)) = split_quote(data) {
        assert!(hcl.len() + quote.len() <= data.len());
        if let Ok(h) = HclReport::parse(hcl)
            && let Ok(td) = TdReportStruct::parse(h.hw_report)
            && let Ok(q) = cvmc_protocol::tdx::Quote::parse(quote)
        {
            let _ = td.differs_from(&q.td);
        }
        let verdict = cvmc_protocol::azure::verify_azure_tdx(
            data,
            &cvmc_protocol::tdx::Collateral::default(),
            &ExpectedReportData::NotBound,
            &Policy::default(),
            &TrustAnchors::amd(),
            cvmc_fuzz::NOW,
        );
        assert!(verdict.is_err(), "a fuzzed Azure TDX report verified");
    }
    let Ok(hcl) = HclReport::parse(data) else { return };
    assert!(hcl.hw_report.len() <= data.len() && hcl.variable_data.len() <= data.len());
    let _ = hcl.claims_digest();
    if let Ok(claims) = RuntimeClaims::parse(hcl.variable_data) {
        let _ = claims.ak.map(|a| a.fingerprint_shown());
    }
    let chain = &cvmc_fuzz::CHAINS[0];
    let certs = AvailableCerts { vcek: Some(&chain.signer), ask: Some(&chain.intermediate), ..Default::default() };
    let verdict = cvmc_protocol::azure::verify_azure_snp(
        data,
        certs,
        &ExpectedReportData::Exact([0; 64]),
        &Policy::default(),
        &TrustAnchors::amd(),
        cvmc_fuzz::NOW,
    );
    assert!(verdict.is_err(), "a fuzzed HCL report verified");
});
