//! Benchmark (not a test): time to verify one real SEV-SNP report end to end,
//! next to the bare signature checks that verification needs, measured in the same
//! run: two RSA-4096 PSS verifications (ARK -> ASK, ASK -> VCEK) and one ECDSA
//! P-384 verification (the report). Reported as a ratio, since the machines are noisy.
//!
//! The same for one real Intel TDX quote (dcap-qvl's sample, at a time inside its
//! collateral's validity): nine ECDSA P-256 verifications (root -> PCK CA -> PCK
//! certificate, root -> TCB signing certificate, the root CA CRL and the PCK CRL, the
//! QE report, the quote, the TCB info, the QE identity).
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
    snp();
    println!();
    tdx();
}

struct Labels<'a> {
    title: &'a str,
    bare: &'a str,
    full: &'a str,
    ratio: &'a str,
}

fn report_rows(l: &Labels<'_>, rounds: usize, iters: u32, bare: &Stats, full: &Stats) {
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("## {}\n", l.title);
    println!("{rounds} rounds x {iters} calls per side, release build, interleaved; times per call.\n");
    println!("| metric (ms) | p50 | p99 | min–max |");
    println!("|---|---|---|---|");
    println!("| {} | {} | {} | {}–{} |", l.bare, ms(bare.p50), ms(bare.p99), ms(bare.min), ms(bare.max));
    println!("| {} | {} | {} | {}–{} |", l.full, ms(full.p50), ms(full.p99), ms(full.min), ms(full.max));
    println!("| {} | **{:.2}** | **{:.2}** | |", l.ratio, ratio(full.p50, bare.p50), ratio(full.p99, bare.p99));
}

/// Interleave two measurements in halves, so a noisy stretch hits both alike.
fn interleaved(rounds: usize, iters: u32, mut bare: impl FnMut(), mut full: impl FnMut()) -> (Stats, Stats) {
    let mut bare_rounds = Vec::new();
    let mut full_rounds = Vec::new();
    for _ in 0..2 {
        bare_rounds.push(measure(rounds.div_ceil(2), iters, &mut bare));
        full_rounds.push(measure(rounds.div_ceil(2), iters, &mut full));
    }
    let merge = |s: &[Stats]| Stats {
        p50: (s[0].p50 + s[1].p50) / 2,
        p99: s[0].p99.max(s[1].p99),
        min: s[0].min.min(s[1].min),
        max: s[0].max.max(s[1].max),
    };
    (merge(&bare_rounds), merge(&full_rounds))
}

fn tdx() {
    use cvmc_protocol::tdx::certs::{Crl, IntelCert};
    use cvmc_protocol::tdx::{Collateral, Quote, verify_tdx};
    let dir = cvmc_tests::data_dir().join("tdx");
    let raw = std::fs::read(dir.join("dcapqvl_tdx_quote")).unwrap();
    let collateral =
        Collateral::from_json(&std::fs::read(dir.join("dcapqvl_tdx_quote_collateral.json")).unwrap()).unwrap();
    let quote = Quote::parse(&raw).unwrap();
    let at = 1_751_328_000;
    let policy = cvmc_protocol::Policy {
        tdx: Some(cvmc_protocol::policy::TdxPolicy {
            mrtd: vec![cvmc_protocol::policy::Hex(quote.td.mr_td)],
            ..Default::default()
        }),
        ..Default::default()
    };
    let expected = ExpectedReportData::Exact(quote.td.report_data);
    let anchors = TrustAnchors::amd();

    // The bare checks, with every key and message prepared outside the timed loop.
    type Check = (p256::ecdsa::VerifyingKey, Vec<u8>, p256::ecdsa::Signature);
    let der_sig = |b: &[u8]| p256::ecdsa::Signature::from_der(b).unwrap();
    let raw_sig = |b: &[u8]| p256::ecdsa::Signature::from_slice(b).unwrap();
    let chain = IntelCert::chain_from_pem("PCK chain", &quote.pck_cert_data, &["PCK", "CA", "root"]).unwrap();
    let root = cvmc_protocol::tdx::verify::intel_root().unwrap();
    let tcb_signer = IntelCert::chain_from_pem("TCB", collateral.tcb_info_issuer_chain.as_bytes(), &["TCB"]).unwrap();
    let cert_check = |issuer: &IntelCert, child: &IntelCert| -> Check {
        (
            issuer.p256_key().unwrap(),
            child.x509.tbs_certificate.to_der().unwrap(),
            der_sig(child.x509.signature.raw_bytes()),
        )
    };
    let crl_check = |issuer: &IntelCert, hex_der: &str| -> Check {
        let crl = Crl::from_der("CRL", &hex::decode(hex_der).unwrap()).unwrap();
        (issuer.p256_key().unwrap(), crl.list.tbs_cert_list.to_der().unwrap(), der_sig(crl.list.signature.raw_bytes()))
    };
    let ak = {
        let mut sec1 = vec![4u8];
        sec1.extend_from_slice(&quote.attestation_key);
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap()
    };
    let tcb_key = tcb_signer[0].p256_key().unwrap();
    let checks: Vec<Check> = vec![
        cert_check(&root, &chain[1]),
        cert_check(&chain[1], &chain[0]),
        cert_check(&root, &tcb_signer[0]),
        crl_check(&root, &collateral.root_ca_crl),
        crl_check(&chain[1], &collateral.pck_crl),
        (
            chain[0].p256_key().unwrap(),
            raw[quote.qe_report_range.clone()].to_vec(),
            raw_sig(&quote.qe_report_signature),
        ),
        (ak, raw[..quote.signed_len].to_vec(), raw_sig(&quote.signature)),
        (
            tcb_key,
            collateral.tcb_info.as_bytes().to_vec(),
            raw_sig(&hex::decode(&collateral.tcb_info_signature).unwrap()),
        ),
        (
            tcb_key,
            collateral.qe_identity.as_bytes().to_vec(),
            raw_sig(&hex::decode(&collateral.qe_identity_signature).unwrap()),
        ),
    ];
    for (key, msg, sig) in &checks {
        key.verify(msg, sig).unwrap();
    }
    let (rounds, iters): (usize, u32) = (32, 20);
    let (bare, full) = interleaved(
        rounds,
        iters,
        || {
            for (key, msg, sig) in &checks {
                key.verify(msg, sig).unwrap();
            }
        },
        || {
            verify_tdx(&raw, &collateral, &expected, &policy, &anchors, at).unwrap();
        },
    );
    report_rows(
        &Labels {
            title: "Verify one real Intel TDX quote (dcap-qvl sample, Intel-signed) next to its bare signature checks",
            bare: "bare signature checks (9x ECDSA P-256: PCK chain, TCB signing key, 2 CRLs, QE report, quote, \
                   TCB info, QE identity)",
            full: "`verify_tdx` end to end (parse, chain, names, dates, CRLs, collateral, TCB level, policy, binding)",
            ratio: "ratio: verify a TDX quote / its bare signature checks",
        },
        rounds,
        iters,
        &bare,
        &full,
    );
    println!(
        "\nThe verifier performs exactly these nine signature checks plus parsing (PEM, DER, JSON) and policy; the \
         goal is the overhead around them (under 5 ms, within 2x)."
    );
}

fn snp() {
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
    let (bare, full) = interleaved(
        rounds,
        iters,
        || {
            ark_key.verify(&ask_tbs, &ask_sig).unwrap();
            ask_key.verify(&vcek_tbs, &vcek_sig).unwrap();
            ec_key.verify(&v.report[..SIGNED_LEN], &ec_sig).unwrap();
        },
        || {
            verify_snp(&v.report, v.certs(), &expected, &policy, &anchors, now).unwrap();
        },
    );
    report_rows(
        &Labels {
            title: "Verify one real SEV-SNP report (Milan, AMD-signed) next to its bare signature checks",
            bare: "bare signature checks (2x RSA-4096 PSS, 1x ECDSA P-384)",
            full: "`verify_snp` end to end (parse, chain, names, dates, TCB, policy, binding)",
            ratio: "ratio: verify an SEV-SNP report / its bare signature checks",
        },
        rounds,
        iters,
        &bare,
        &full,
    );
    println!(
        "\nThe verifier performs exactly these three signature checks plus parsing and policy, so \
         its ratio cannot be below 1.00; the goal is the overhead around them (under 5 ms, within 3x)."
    );
}
