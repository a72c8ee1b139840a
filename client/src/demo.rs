//! `cvm-console demo`: a local SIMULATED guest to show the product without hardware.
//!
//! It creates (or reuses) a simulated chain with `sim-init` in the user's config
//! directory and verifies fresh simulated evidence with the policy that trusts
//! it, through the same verifier as hardware evidence. The in-process guest server
//! and the GUI session it opens come with the server and GUI work; until then the
//! demo shows the verification.

use std::path::PathBuf;

use cvm_consoled::siminit;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::{ExpectedReportData, SnpCerts, verify_snp};

use crate::error::ClientError;
use crate::outcome::Outcome;
use crate::policy_file::load_policy;

/// Where the demo's simulated chain lives.
pub fn demo_dir() -> PathBuf {
    dirs::config_dir().unwrap_or_else(std::env::temp_dir).join("cvm-console").join("demo-sim")
}

/// Make or reuse the chain, sign a fresh simulated report bound to random data, verify.
pub fn run_demo(now: u64) -> Result<(PathBuf, Outcome), ClientError> {
    let dir = demo_dir();
    let bad = |e: cvm_consoled::sim::SimError| ClientError::BadInput { path: dir.clone(), reason: e.to_string() };
    if !dir.join(siminit::files::ARK).exists() {
        let key = crate::clientkey::ClientKey::load_or_create(&crate::clientkey::config_dir())?;
        siminit::sim_init(&dir, Product::Milan, &[key.fingerprint()]).map_err(bad)?;
    }
    let files = siminit::load(&dir).map_err(bad)?;
    let mut binding = [0u8; 64];
    getrandom(&mut binding);
    let report = files.leaf.sign(&files.leaf.report_template(binding));
    let cert = files.leaf.cert_der();
    let loaded = load_policy(&dir.join(siminit::files::POLICY))?;
    let certs = SnpCerts { signer: Some(&cert), intermediate: Some(&files.ask_der) };
    let result = verify_snp(&report, certs, &ExpectedReportData::Exact(binding), &loaded.policy, &loaded.anchors, now);
    let parsed = cvmc_protocol::snp::report::Report::parse(&report).ok();
    Ok((dir, Outcome { result, report: parsed, identity: None }))
}

fn getrandom(buf: &mut [u8]) {
    use rand_core::RngCore;
    rand_core::OsRng.fill_bytes(buf);
}
