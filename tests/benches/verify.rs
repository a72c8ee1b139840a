//! Benchmark (not a test): time to verify one real SEV-SNP report end to end,
//! next to the bare signature checks that verification needs, measured in the same
//! run: two RSA-4096 PSS verifications (ARK -> ASK, ASK -> VCEK) and one ECDSA
//! P-384 verification (the report). Reported as a ratio, since the machines are noisy.
//!
//! Run: `cargo bench -p cvmc-tests --bench verify`

// Benchmark code: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cvmc_protocol::snp::certs::AmdCert;
use cvmc_protocol::snp::report::{Report, SIGNED_LEN};
use cvmc_protocol::{ExpectedReportData, TrustAnchors, verify_snp};
use cvmc_tests::vector;
use der::Encode;
use p384::ecdsa::signature::Verifier;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Time `f` over `rounds` rounds of `iters` calls; per-call median and p99 of rounds.
fn measure(rounds: usize, iters: u32, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..iters {
        f(); // warm up
    }
    let mut per_call: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed() / iters
        })
        .collect();
    per_call.sort();
    let p99 = per_call[(per_call.len() * 99 / 100).min(per_call.len() - 1)];
    (median(per_call), p99)
}

fn rsa_pss_verifier(issuer: &AmdCert) -> rsa::pss::VerifyingKey<sha2::Sha384> {
    let spki = issuer.x509.tbs_certificate.subject_public_key_info.to_der().unwrap();
    let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    rsa::pss::VerifyingKey::new(key)
}

fn main() {
    let v = vector("milan v3");
    let policy = v.policy();
    let anchors = TrustAnchors::amd();
    let expected = ExpectedReportData::Exact(v.parsed().report_data);
    let now = v.now();

    // The pieces of the bare signature checks, prepared outside the timed loop.
    let ark = TrustAnchors::amd_ark(cvmc_protocol::snp::product::Product::Milan).unwrap();
    let ask = AmdCert::from_der("ASK", v.intermediate.as_ref().unwrap()).unwrap();
    let vcek = AmdCert::from_der("VCEK", &v.signer).unwrap();
    let (ark_key, ask_key) = (rsa_pss_verifier(&ark), rsa_pss_verifier(&ask));
    let ask_tbs = ask.x509.tbs_certificate.to_der().unwrap();
    let vcek_tbs = vcek.x509.tbs_certificate.to_der().unwrap();
    let ask_sig = rsa::pss::Signature::try_from(ask.x509.signature.raw_bytes()).unwrap();
    let vcek_sig = rsa::pss::Signature::try_from(vcek.x509.signature.raw_bytes()).unwrap();
    let ec_key = p384::ecdsa::VerifyingKey::from_sec1_bytes(
        vcek.x509.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes(),
    )
    .unwrap();
    let report = Report::parse(&v.report).unwrap();
    let ec_sig = p384::ecdsa::Signature::from_slice(&report.signature.to_be_fixed()).unwrap();

    let (rounds, iters) = (31, 20);
    let (bare_p50, bare_p99) = measure(rounds, iters, || {
        ark_key.verify(&ask_tbs, &ask_sig).unwrap();
        ask_key.verify(&vcek_tbs, &vcek_sig).unwrap();
        ec_key.verify(&v.report[..SIGNED_LEN], &ec_sig).unwrap();
    });
    let (full_p50, full_p99) = measure(rounds, iters, || {
        let certs = v.certs();
        verify_snp(&v.report, certs, &expected, &policy, &anchors, now).unwrap();
    });
    let ratio = full_p50.as_secs_f64() / bare_p50.as_secs_f64();
    println!("verify one real Milan report ({rounds} rounds x {iters} calls, release build)");
    println!("  bare signature checks (2x RSA-4096 PSS + 1x ECDSA P-384): p50 {bare_p50:?}  p99 {bare_p99:?}");
    println!("  verify_snp end to end (parse, chain, names, dates, TCB, policy): p50 {full_p50:?}  p99 {full_p99:?}");
    println!("  ratio verify_snp / bare checks: {ratio:.2}x   (goal: under 5 ms and within 3x)");
}
