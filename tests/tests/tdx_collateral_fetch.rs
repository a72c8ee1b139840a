//! TDX collateral from a PCS: a loopback HTTP server in the shape of Intel's PCS and a
//! PCCS, serving the real collateral of `tests/data/tdx/`; the client's fetcher, its
//! cache, and every bad answer (404, 429 with Retry-After, truncated JSON, a short
//! body, another FMSPC, no answer at all), each a clear error, never a hang.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cvm_console::pcs::{FetchError, PcsSource};
use cvmc_protocol::policy::{Hex, Policy, TdxPolicy};
use cvmc_protocol::tdx::{Collateral, Quote, TcbStatus, quote_platform, verify_tdx};
use cvmc_protocol::{ExpectedReportData, TrustAnchors};
use cvmc_tests::data_dir;
use cvmc_tests::pcs_server::{Behaviour, PcsServer};

const AT: u64 = 1_751_328_000;

fn quote() -> Vec<u8> {
    std::fs::read(data_dir().join("tdx").join("dcapqvl_tdx_quote")).unwrap()
}

fn collateral() -> Collateral {
    Collateral::from_json(&std::fs::read(data_dir().join("tdx").join("dcapqvl_tdx_quote_collateral.json")).unwrap())
        .unwrap()
}

fn source(url: &str, cache: &std::path::Path) -> PcsSource {
    PcsSource {
        base: url.to_owned(),
        offline: false,
        cache: Some(cache.to_path_buf()),
        timeout: Duration::from_secs(2),
    }
}

fn platform() -> ([u8; 6], &'static str) {
    quote_platform(&quote()).unwrap()
}

#[test]
fn fetched_collateral_verifies_and_the_second_run_needs_no_server() {
    let cache = tempfile::tempdir().unwrap();
    let (fmspc, ca) = platform();
    assert_eq!((hex::encode(fmspc).as_str(), ca), ("b0c06f000000", "platform"));
    let server = PcsServer::start(collateral(), Behaviour::Normal);
    let fetched = source(&server.url(), cache.path()).collateral(&fmspc, ca, AT).unwrap();
    assert_eq!(fetched, collateral(), "what the PCS serves is the collateral, byte for byte");
    let paths = server.paths.lock().unwrap().clone();
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert!(paths[0].contains("fmspc=b0c06f000000") && paths[2].contains("ca=platform"), "{paths:?}");
    let q = Quote::parse(&quote()).unwrap();
    let policy =
        Policy { tdx: Some(TdxPolicy { mrtd: vec![Hex(q.td.mr_td)], ..TdxPolicy::default() }), ..Policy::default() };
    let v = verify_tdx(&quote(), &fetched, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), AT).unwrap();
    assert_eq!(v.tcb.status, TcbStatus::UpToDate);

    let url = server.url();
    drop(server);
    let again = source(&url, cache.path()).collateral(&fmspc, ca, AT).unwrap();
    assert_eq!(again, fetched, "served from the cache with the server down");
    let offline = PcsSource { offline: true, ..source(&url, cache.path()) };
    assert_eq!(offline.collateral(&fmspc, ca, AT).unwrap(), fetched);
    // Past its nextUpdate the cache is not used: offline then has nothing.
    let e = offline.collateral(&fmspc, ca, AT + 60 * 86_400).unwrap_err();
    assert!(matches!(e, FetchError::NotCached { .. }), "{e}");
}

/// An unusable cache entry is replaced by the fetched collateral on disk (the cache
/// once could not overwrite an entry, so a stale one was fetched around forever).
#[test]
fn a_stale_cache_entry_is_replaced_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let (fmspc, ca) = platform();
    let entry = cache.path().join(format!("collateral-{}-{ca}.json", hex::encode(fmspc)));
    std::fs::write(&entry, b"{\"stale\": true}").unwrap();
    let server = PcsServer::start(collateral(), Behaviour::Normal);
    let fetched = source(&server.url(), cache.path()).collateral(&fmspc, ca, AT).unwrap();
    let on_disk = Collateral::from_json(&std::fs::read(&entry).unwrap()).unwrap();
    assert_eq!(on_disk, fetched);
}

#[test]
fn offline_without_a_cache_is_a_clear_error() {
    let cache = tempfile::tempdir().unwrap();
    let src = PcsSource { offline: true, ..source("http://127.0.0.1:9", cache.path()) };
    let (fmspc, ca) = platform();
    let e = src.collateral(&fmspc, ca, AT).unwrap_err().to_string();
    assert!(e.contains("--offline") && e.contains("b0c06f000000"), "{e}");
}

#[test]
fn bad_answers_are_clear_errors_and_nothing_is_cached() {
    let (fmspc, ca) = platform();
    let cases: [(Behaviour, &str); 5] = [
        (Behaviour::NotFound("/qe/identity"), "HTTP 404"),
        (Behaviour::Throttle { retry_after: 3600, times: 100 }, "Retry-After 3600"),
        (Behaviour::TruncatedJson, "TCB info"),
        (Behaviour::ShortBody, "body"),
        (Behaviour::WrongFmspc, "TCB info for FMSPC 50806f000000, not b0c06f000000"),
    ];
    for (behaviour, needle) in cases {
        let cache = tempfile::tempdir().unwrap();
        let server = PcsServer::start(collateral(), behaviour.clone());
        let e = source(&server.url(), cache.path()).collateral(&fmspc, ca, AT).unwrap_err().to_string();
        assert!(e.contains(needle), "{behaviour:?}: {e}");
        assert!(e.contains(&server.url()), "{behaviour:?}: the URL is named: {e}");
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0, "{behaviour:?}: nothing cached");
        if matches!(behaviour, Behaviour::Throttle { .. }) {
            // A long Retry-After is reported at once, not waited for or retried.
            assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 1, "never hammer");
        }
    }
}

#[test]
fn a_short_retry_after_is_waited_for_then_the_fetch_goes_on() {
    let cache = tempfile::tempdir().unwrap();
    let server = PcsServer::start(collateral(), Behaviour::Throttle { retry_after: 1, times: 1 });
    let (fmspc, ca) = platform();
    assert_eq!(source(&server.url(), cache.path()).collateral(&fmspc, ca, AT).unwrap(), collateral());
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 5, "one 429, then the four documents");
}

#[test]
fn a_server_that_never_answers_times_out_with_a_clear_error() {
    let cache = tempfile::tempdir().unwrap();
    let server = PcsServer::start(collateral(), Behaviour::Silent);
    let src = PcsSource { timeout: Duration::from_secs(1), ..source(&server.url(), cache.path()) };
    let (fmspc, ca) = platform();
    let e = src.collateral(&fmspc, ca, AT).unwrap_err();
    assert!(matches!(e, FetchError::Network { .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("timeout") || e.to_string().contains("timed out"), "{e}");
}

/// The real binary: `verify-report` without `--collateral` fetches from `--pcs-url`,
/// caches under XDG_CACHE_HOME, and `--offline` later uses the cache alone.
#[test]
fn verify_report_fetches_then_works_offline() {
    let home = tempfile::tempdir().unwrap();
    let q = Quote::parse(&quote()).unwrap();
    let policy = home.path().join("policy.toml");
    std::fs::write(&policy, format!("[tdx]\nmrtd = [\"{}\"]\n", hex::encode(q.td.mr_td))).unwrap();
    let quote_path = data_dir().join("tdx").join("dcapqvl_tdx_quote");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "verify-report".to_owned(),
            "--report".into(),
            quote_path.display().to_string(),
            "--policy".into(),
            policy.display().to_string(),
            "--at".into(),
            AT.to_string(),
            "--no-binding".into(),
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
    assert!(err.contains("--offline"), "{err}");
    let server = PcsServer::start(collateral(), Behaviour::Normal);
    let url = server.url();
    let (code, out, err) = run(&["--pcs-url", &url]);
    assert_eq!(code, 0, "{out} {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["tee"].as_str(), v["tcb_status"].as_str()), (Some("tdx"), Some("UpToDate")));
    drop(server);
    let (code, out, err) = run(&["--pcs-url", &url, "--offline"]);
    assert_eq!(code, 0, "from the cache: {out} {err}");
}
