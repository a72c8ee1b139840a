//! The TDX quote parser and the whole TDX verifier (`verify_tdx`) on mutated quotes.
//!
//! Input: the quote bytes (seeds: the real quotes of `tests/data/tdx/`), verified with
//! the dcap-qvl sample's real collateral at a time inside its validity, so a mutation
//! that keeps the structure gets through parsing and the chain to the signatures.
//!
//! Properties: nothing panics; a quote that parses encodes back to exactly its bytes
//! (minus the unsigned trailing bytes it counts); the QE report range lies inside it.
#![no_main]

use cvmc_fuzz::{TDX_AT, tdx_collateral};
use cvmc_protocol::tdx::{Quote, verify_tdx};
use cvmc_protocol::{ExpectedReportData, Policy, TrustAnchors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = Quote::parse(data) {
        assert_eq!(q.to_bytes(), data[..data.len() - q.trailing], "Quote::to_bytes is not the parsed bytes");
        assert!(q.qe_report_range.end <= data.len());
        assert_eq!(&data[q.qe_report_range.clone()], q.qe_report.to_bytes().as_slice());
    }
    let policy = Policy { tdx: Some(Default::default()), ..Policy::default() };
    let _ = verify_tdx(data, tdx_collateral(), &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), TDX_AT);
});
