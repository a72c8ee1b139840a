//! The CRL parser alone (cheap: no report verification), so that it gets many more
//! executions than `snp_kds_crl`, which also runs the verifier.
//!
//! Input: any bytes (seeds: the CRL corpus of `snp_kds_crl`), parsed as an AMD CRL
//! and checked against each product's real ARK, and for listing of the ARK itself.
//!
//! Properties: nothing panics; a CRL that AMD's ARK did not sign is never accepted;
//! the validity window is ordered as the parser reports it.
#![no_main]

use cvmc_protocol::TrustAnchors;
use cvmc_protocol::snp::crl::AmdCrl;
use cvmc_protocol::snp::product::Product;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(crl) = AmdCrl::from_der(data) else { return };
    let _ = (crl.window(), crl.is_current(cvmc_fuzz::NOW), crl.len());
    for product in [Product::Milan, Product::Genoa, Product::Turin] {
        let Ok(ark) = TrustAnchors::amd_ark(product) else { continue };
        // Nobody but AMD holds the ARK's key: a mutated CRL never verifies.
        assert!(crl.check_signed_by(&ark).is_err(), "a fuzzed CRL verified under AMD's {product:?} ARK");
        let _ = crl.check_not_listed(&ark, "ARK");
    }
});
