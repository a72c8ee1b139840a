//! SEV-SNP certificates from AMD's KDS, against a loopback server in the KDS shape
//! that serves the real AMD VCEKs and ASK chains of `tests/data/snp/` (and, for
//! revocation, a CRL made by the simulated ARK): every fetchable real vector verifies
//! with its certificates fetched instead of given; bad answers (404, 429, truncated
//! DER, another chip's VCEK, no answer) are clear errors and never cached; a second
//! run is served from the cache with the server gone.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use cvm_console::kds::{Have, KdsError, KdsSource};
use cvmc_protocol::policy::Revocation;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::{SnpCerts, verify_snp};
use cvmc_tests::kds_server::{Behaviour, Content, KdsServer};
use cvmc_tests::verifier_cases::{Input, sim_milan};
use cvmc_tests::{sim_ca, vector, vectors};

fn source(url: &str, cache: &Path) -> KdsSource {
    KdsSource { base: url.into(), offline: false, cache: Some(cache.to_path_buf()), timeout: Duration::from_secs(5) }
}

/// The vectors KDS can serve: VCEK-signed, with a CPUID naming the product.
fn fetchable() -> Vec<cvmc_tests::Vector> {
    vectors()
        .into_iter()
        .filter(|v| v.parsed().cpuid.is_some() && v.name != "milan v3 VLEK (trustee, built-in ASVK)")
        .collect()
}

fn verify_fetched(input: &Input, fetched: &cvm_console::kds::Fetched) -> Result<(), cvmc_protocol::VerifyError> {
    let certs = SnpCerts {
        signer: fetched.vcek.as_deref(),
        intermediate: fetched.intermediate.as_deref(),
        crl: fetched.crl.as_deref(),
    };
    verify_snp(&input.report, certs, &input.expected, &input.policy, &input.anchors(), input.now).map(|_| ())
}

#[test]
fn every_fetchable_real_vector_verifies_with_certificates_from_kds_then_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let server = KdsServer::start(Content::real(), Behaviour::Normal);
    let vs = fetchable();
    assert_eq!(vs.len(), 3, "milan v3, genoa v3, turin v5");
    for v in &vs {
        let input = Input::from_vector(v);
        let f = source(&server.url(), cache.path()).fetch_for(
            &v.report,
            Have::default(),
            Revocation::IfAvailable,
            input.now,
        );
        let f = f.unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(f.vcek.as_deref(), Some(&v.signer[..]), "{}: the VCEK KDS serves for this chip and TCB", v.name);
        assert!(f.intermediate.is_some(), "{}: the ASK from cert_chain", v.name);
        assert!(f.crl.is_none() && f.sources.iter().any(|s| s.contains("CRL") && s.contains("404")), "{:?}", f.sources);
        verify_fetched(&input, &f).unwrap_or_else(|e| panic!("{}: {e}", v.name));
    }
    let paths = server.requested();
    let turin = paths.iter().find(|p| p.starts_with("/vcek/v1/Turin/")).unwrap();
    assert!(turin.contains("&fmcSPL="), "Turin asks with fmcSPL: {turin}");
    let hwid = turin.trim_start_matches("/vcek/v1/Turin/").split('?').next().unwrap();
    assert_eq!(hwid.len(), 16, "Turin's hwid is 8 bytes: {turin}");
    let milan = paths.iter().find(|p| p.starts_with("/vcek/v1/Milan/")).unwrap();
    assert!(milan.contains("?blSPL=") && milan.contains("&ucodeSPL=") && !milan.contains("fmcSPL"), "{milan}");
    drop(server);
    // The server is gone: the same requests are answered by the cache, online or not.
    for offline in [false, true] {
        for v in &vs {
            let input = Input::from_vector(v);
            let src = KdsSource { offline, ..source("http://127.0.0.1:9", cache.path()) };
            let f = src.fetch_for(&v.report, Have::default(), Revocation::Skip, input.now).unwrap();
            assert!(f.sources.iter().all(|s| s.contains("from the cache")), "{:?}", f.sources);
            verify_fetched(&input, &f).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        }
    }
}

#[test]
fn reports_kds_cannot_serve_are_clear_errors() {
    let cache = tempfile::tempdir().unwrap();
    let src = source("http://127.0.0.1:9", cache.path());
    let vlek = vector("milan v3 VLEK (trustee, built-in ASVK)");
    let e = src.fetch_for(&vlek.report, Have::default(), Revocation::Skip, vlek.now()).unwrap_err();
    assert!(e.to_string().contains("VLEK is the cloud provider's and must come with the evidence"), "{e}");
    let v2 = vector("milan v2 (trustee, built-in ASK)");
    let e = src.fetch_for(&v2.report, Have::default(), Revocation::Skip, v2.now()).unwrap_err();
    assert!(e.to_string().contains("names no product"), "{e}");
    let e = KdsSource { offline: true, ..src }
        .fetch_for(&vector("milan v3").report, Have::default(), Revocation::Skip, 0)
        .unwrap_err();
    assert!(matches!(e, KdsError::NotCached { .. }), "{e}");
}

#[test]
fn bad_answers_are_clear_errors_and_never_cached() {
    let v = vector("milan v3");
    let other_chip = vector("genoa v3").signer;
    let cases: Vec<(Behaviour, &str)> = vec![
        (Behaviour::NotFound("/vcek/v1/Milan/"), "HTTP 404"),
        (Behaviour::Throttle { retry_after: 3600, times: 10 }, "Retry-After 3600"),
        (Behaviour::TruncatedDer, "not a VCEK"),
        (Behaviour::VcekOverride(other_chip), "a VCEK for chip"),
    ];
    for (behaviour, needle) in cases {
        let cache = tempfile::tempdir().unwrap();
        let server = KdsServer::start(Content::real(), behaviour.clone());
        let e = source(&server.url(), cache.path())
            .fetch_for(&v.report, Have::default(), Revocation::Skip, v.now())
            .unwrap_err();
        assert!(e.to_string().starts_with("kds: ") && e.to_string().contains(needle), "{behaviour:?}: {e}");
        let cached = std::fs::read_dir(cache.path()).map(|d| d.count()).unwrap_or(0);
        assert_eq!(cached, 0, "{behaviour:?}: nothing is cached from a bad answer");
    }
}

#[test]
fn a_short_retry_after_is_honoured_and_a_silent_server_times_out() {
    let v = vector("milan v3");
    let cache = tempfile::tempdir().unwrap();
    let server = KdsServer::start(Content::real(), Behaviour::Throttle { retry_after: 1, times: 1 });
    let f =
        source(&server.url(), cache.path()).fetch_for(&v.report, Have::default(), Revocation::Skip, v.now()).unwrap();
    assert_eq!(f.vcek.as_deref(), Some(&v.signer[..]));
    let vcek_requests =
        server.requested().iter().filter(|p| p.starts_with("/vcek/v1/Milan/0") || p.contains("SPL")).count();
    assert_eq!(vcek_requests, 2, "one 429, one retry: {:?}", server.requested());

    let cache = tempfile::tempdir().unwrap();
    let silent = KdsServer::start(Content::real(), Behaviour::Silent);
    let src = KdsSource { timeout: Duration::from_secs(1), ..source(&silent.url(), cache.path()) };
    let e = src.fetch_for(&v.report, Have::default(), Revocation::Skip, v.now()).unwrap_err();
    let msg = e.to_string().to_lowercase();
    assert!(msg.contains("timeout") || msg.contains("timed out"), "{e}");
}

/// Revocation through KDS: the simulated ARK's CRL served at `vcek/v1/Milan/crl`.
/// Listing the ASK refuses; listing nothing passes; the CRL is cached until its
/// nextUpdate.
#[test]
fn a_crl_from_kds_revokes_a_listed_ask() {
    let ca = sim_ca(Product::Milan);
    let input = sim_milan(|_| {});
    let report = cvmc_protocol::snp::report::Report::parse(&input.report).unwrap();
    let now = input.now;
    for (listed, revoked) in [(false, false), (true, true)] {
        let ask = <x509_cert::Certificate as der::Decode>::from_der(&ca.ask_der()).unwrap();
        let list: Vec<&x509_cert::Certificate> = if listed { vec![&ask] } else { vec![] };
        let mut content = Content::default();
        content.add_vcek(Product::Milan, &report.chip_id, input.signer.clone().unwrap());
        content.crls.insert(("vcek".into(), "Milan".into()), ca.crl(&list, (now - 60, now + 3600)).unwrap());
        let server = KdsServer::start(content, Behaviour::Normal);
        let cache = tempfile::tempdir().unwrap();
        let have = Have { signer: false, intermediate: true };
        let f = source(&server.url(), cache.path()).fetch_for(&input.report, have, Revocation::Require, now).unwrap();
        assert!(f.crl.is_some(), "{:?}", f.sources);
        let certs =
            SnpCerts { signer: f.vcek.as_deref(), intermediate: input.intermediate.as_deref(), crl: f.crl.as_deref() };
        let mut policy = input.policy.clone();
        policy.revocation = Revocation::Require;
        let result = verify_snp(&input.report, certs, &input.expected, &policy, &input.anchors(), now);
        match (revoked, result) {
            (false, Ok(v)) => assert!(v.passed.iter().any(|p| p.check == cvmc_protocol::Check::Revocation)),
            (true, Err(e)) => assert_eq!(e.name(), "revoked", "{e}"),
            (_, other) => panic!("listed {listed}: {other:?}"),
        }
        drop(server);
        let again = source("http://127.0.0.1:9", cache.path())
            .fetch_for(&input.report, have, Revocation::Require, now)
            .unwrap();
        assert_eq!(again.crl, f.crl, "the current CRL is served from the cache");
    }
}

/// The real binary: `verify-report` without `--vcek` fetches from `--kds-url`,
/// caches under XDG_CACHE_HOME, and `--offline` later uses the cache alone.
#[test]
fn verify_report_without_vcek_fetches_then_works_offline() {
    let home = tempfile::tempdir().unwrap();
    let v = vector("milan v3");
    let r = v.parsed();
    let policy = home.path().join("policy.toml");
    std::fs::write(&policy, v.policy().to_toml().unwrap()).unwrap();
    let report = home.path().join("report.bin");
    std::fs::write(&report, &v.report).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "verify-report".to_owned(),
            "--report".into(),
            report.display().to_string(),
            "--policy".into(),
            policy.display().to_string(),
            "--at".into(),
            v.now().to_string(),
            "--report-data".into(),
            hex::encode(r.report_data),
            "--json".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let out = std::process::Command::new(cvmc_tests::server_process::client_binary())
            .args(&args)
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("HOME", home.path())
            .output()
            .unwrap();
        (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, _, err) = run(&["--offline"]);
    assert_eq!(code, 3, "no cache yet: no verdict reached: {err}");
    assert!(err.contains("--offline and no cached VCEK"), "{err}");
    let server = KdsServer::start(Content::real(), Behaviour::Normal);
    let url = server.url();
    let (code, out, err) = run(&["--kds-url", &url]);
    assert_eq!(code, 0, "{out} {err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["trusted"], true);
    drop(server);
    let (code, out, err) = run(&["--kds-url", &url, "--offline"]);
    assert_eq!(code, 0, "from the cache: {out} {err}");
}

/// A VLEK report brings its VLEK; KDS supplies the ASVK from `vlek/v1/{product}/cert_chain`
/// and the CRL from `vlek/v1/{product}/crl`, and nothing is asked at the VCEK paths.
#[test]
fn a_vlek_report_gets_its_asvk_and_crl_from_the_vlek_paths() {
    use cvmc_protocol::snp::report::SigningKey;
    let ca = sim_ca(Product::Milan);
    let input = cvmc_tests::verifier_cases::sim(Product::Milan, SigningKey::Vlek, |_| {}, |_| {});
    let now = input.now;
    let asvk = <x509_cert::Certificate as der::Decode>::from_der(&ca.asvk_der()).unwrap();
    let asvk_pem = der::EncodePem::to_pem(&asvk, der::pem::LineEnding::LF).unwrap();
    let mut content = Content::default();
    content.chains.insert(("vlek".into(), "Milan".into()), asvk_pem.into_bytes());
    content.crls.insert(("vlek".into(), "Milan".into()), ca.crl(&[], (now - 60, now + 3600)).unwrap());
    let server = KdsServer::start(content, Behaviour::Normal);
    let cache = tempfile::tempdir().unwrap();
    let have = Have { signer: true, intermediate: false };
    let f = source(&server.url(), cache.path()).fetch_for(&input.report, have, Revocation::Require, now).unwrap();
    assert_eq!(f.intermediate.as_deref(), Some(&ca.asvk_der()[..]), "{:?}", f.sources);
    assert!(f.vcek.is_none() && f.crl.is_some());
    assert!(server.requested().iter().all(|p| p.starts_with("/vlek/v1/Milan/")), "{:?}", server.requested());
    let available = f.available(SigningKey::Vlek);
    let certs =
        SnpCerts::select(&input.report, cvmc_protocol::AvailableCerts { vlek: input.signer.as_deref(), ..available });
    let mut policy = input.policy.clone();
    policy.revocation = Revocation::Require;
    verify_snp(&input.report, certs, &input.expected, &policy, &input.anchors(), now).unwrap();
}
