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

/// Per-call times of the rounds: median, p99 and the spread.
struct Stats {
    p50: Duration,
    p99: Duration,
    min: Duration,
    max: Duration,
}

/// Time `f` over `rounds` rounds of `iters` calls each.
fn measure(rounds: usize, iters: u32, mut f: impl FnMut()) -> Stats {
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
    let (min, max) = (per_call[0], per_call[per_call.len() - 1]);
    Stats { p50: median(per_call), p99, min, max }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
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

    let (rounds, iters): (usize, u32) = (32, 20);
    // Interleave the two measurements in halves, so a noisy stretch hits both alike.
    let mut bare_rounds = Vec::new();
    let mut full_rounds = Vec::new();
    for _ in 0..2 {
        bare_rounds.push(measure(rounds.div_ceil(2), iters, || {
            ark_key.verify(&ask_tbs, &ask_sig).unwrap();
            ask_key.verify(&vcek_tbs, &vcek_sig).unwrap();
            ec_key.verify(&v.report[..SIGNED_LEN], &ec_sig).unwrap();
        }));
        full_rounds.push(measure(rounds.div_ceil(2), iters, || {
            let certs = v.certs();
            verify_snp(&v.report, certs, &expected, &policy, &anchors, now).unwrap();
        }));
    }
    let merge = |s: &[Stats]| Stats {
        p50: (s[0].p50 + s[1].p50) / 2,
        p99: s[0].p99.max(s[1].p99),
        min: s[0].min.min(s[1].min),
        max: s[0].max.max(s[1].max),
    };
    let (bare, full) = (merge(&bare_rounds), merge(&full_rounds));
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("## Verify one real SEV-SNP report (Milan, AMD-signed) next to its bare signature checks\n");
    println!("{rounds} rounds x {iters} calls per side, release build, interleaved; times per call.\n");
    println!("| metric (ms) | p50 | p99 | min–max |");
    println!("|---|---|---|---|");
    println!(
        "| bare signature checks (2x RSA-4096 PSS, 1x ECDSA P-384) | {} | {} | {}–{} |",
        ms(bare.p50),
        ms(bare.p99),
        ms(bare.min),
        ms(bare.max)
    );
    println!(
        "| `verify_snp` end to end (parse, chain, names, dates, TCB, policy, binding) | {} | {} | {}–{} |",
        ms(full.p50),
        ms(full.p99),
        ms(full.min),
        ms(full.max)
    );
    println!(
        "| ratio: verify a report / its bare signature checks | **{:.2}** | **{:.2}** | |",
        ratio(full.p50, bare.p50),
        ratio(full.p99, bare.p99)
    );
    println!(
        "\nThe verifier performs exactly these three signature checks plus parsing and policy, so \
         its ratio cannot be below 1.00; the goal is the overhead around them (under 5 ms, within 3x)."
    );
}
