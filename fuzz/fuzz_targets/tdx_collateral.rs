//! DCAP collateral from a peer or a file: the JSON file form, the PCS response bodies,
//! and the verifier's use of every part (issuer chains, CRLs, TCB info, QE identity).
//!
//! Input: collateral JSON (seeds: the real collateral of `tests/data/tdx/`), used to
//! verify the real dcap-qvl sample quote at a time inside its validity, so mutations
//! of the signed documents reach the signature checks and mutations of the chains and
//! CRLs reach the certificate code. The same bytes also go to the PCS body splitter.
//!
//! Properties: nothing panics; a document that parses writes back to JSON that parses
//! to the same value.
#![no_main]

use cvmc_fuzz::{TDX_AT, TDX_QUOTE};
use cvmc_protocol::tdx::collateral::split_pcs_body;
use cvmc_protocol::tdx::{Collateral, verify_tdx};
use cvmc_protocol::{ExpectedReportData, Policy, TrustAnchors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = split_pcs_body("TCB info", "tcbInfo", data);
    let _ = split_pcs_body("QE identity", "enclaveIdentity", data);
    let Ok(collateral) = Collateral::from_json(data) else { return };
    assert_eq!(Collateral::from_json(collateral.to_json().as_bytes()).ok().as_ref(), Some(&collateral));
    let policy = Policy { tdx: Some(Default::default()), ..Policy::default() };
    let _ = verify_tdx(TDX_QUOTE, &collateral, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), TDX_AT);
});
