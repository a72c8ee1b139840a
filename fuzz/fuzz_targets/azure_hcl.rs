//! Azure's paravisor evidence: the HCL report parser, the runtime-claims JSON and the
//! whole Azure verification of the report (claims hash, AK pin, vm-configuration,
//! user-data) over a simulated-chain-free path (AMD's anchors, so the signature
//! always fails last).
//!
//! Input: any bytes (seeds: the real SNP and TDX HCL reports and claims), parsed as
//! an HCL report, and separately as claims JSON.
//!
//! Properties: nothing panics; a report that parses has its parts inside the input;
//! no fuzzed report verifies against AMD's roots.
#![no_main]

use cvmc_protocol::azure::claims::RuntimeClaims;
use cvmc_protocol::azure::hcl::HclReport;
use cvmc_protocol::{AvailableCerts, ExpectedReportData, Policy, TrustAnchors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = RuntimeClaims::parse(data).map(|c| (c.flags_shown(), c.flag("console-enabled")));
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
