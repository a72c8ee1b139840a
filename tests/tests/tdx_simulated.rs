//! The TDX verifier on the simulated TDX chain: valid signatures over chosen content.
//! Each refusal is named by its check, and dcap-qvl, given the simulated root as its
//! trust anchor, reaches the same verdict and the same TCB status and advisories on
//! every case where both verifiers judge the same thing (dcap-qvl has no trust
//! policy, so MRTD, RTMR and TCB-status acceptance are ours alone).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use cvm_consoled::sim_tdx::{CollateralSpec, LevelSpec, PlatformSpec, SimTdxCa, simulated_mrtd};
use cvmc_protocol::policy::{Hex, Policy, TdxPolicy};
use cvmc_protocol::tdx::quote::{TD_ATTR_DEBUG, TD_ATTR_MIGRATABLE, TD_ATTR_SEPT_VE_DISABLE, TdReport};
use cvmc_protocol::tdx::{Collateral, TcbStatus, verify_tdx};
use cvmc_protocol::{Anchor, Check, ExpectedReportData, TrustAnchors, VerifyError};

struct World {
    ca: SimTdxCa,
    anchors: TrustAnchors,
    root_der: Vec<u8>,
}

fn world() -> World {
    let ca = SimTdxCa::generate().unwrap();
    let root_pem = ca.root_pem();
    let anchors = TrustAnchors::with_extra_roots([("sim/tdx-root.pem", root_pem.as_bytes())]).unwrap();
    let root_der = der::Encode::to_der(&ca.root).unwrap();
    World { ca, anchors, root_der }
}

fn policy(statuses: &[TcbStatus]) -> Policy {
    Policy {
        tdx: Some(TdxPolicy {
            mrtd: vec![Hex(simulated_mrtd())],
            accepted_tcb_status: statuses.iter().map(|s| s.name().to_owned()).collect(),
            ..TdxPolicy::default()
        }),
        trusted_roots: vec!["sim/tdx-root.pem".into()],
        ..Policy::default()
    }
}

fn all_statuses() -> Vec<TcbStatus> {
    TcbStatus::ALL.into_iter().filter(|s| *s != TcbStatus::Revoked).collect()
}

struct Case {
    name: &'static str,
    platform: PlatformSpec,
    collateral: Box<dyn Fn(&PlatformSpec) -> CollateralSpec>,
    td: Box<dyn Fn(&mut TdReport)>,
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        platform: PlatformSpec::default(),
        collateral: Box::new(CollateralSpec::up_to_date),
        td: Box::new(|_| {}),
    }
}

fn level(p: &PlatformSpec, status: &'static str, advisories: &[&str]) -> LevelSpec {
    let mut tdx = [0u8; 16];
    tdx[2] = 2;
    LevelSpec {
        sgx: p.sgx_components,
        pce_svn: p.pce_svn,
        tdx,
        status,
        advisories: advisories.iter().map(|s| (*s).to_owned()).collect(),
    }
}

struct Run {
    quote: Vec<u8>,
    collateral: Collateral,
    ours: Result<cvmc_protocol::tdx::TdxVerified, VerifyError>,
    oracle: Result<dcap_qvl::verify::VerifiedReport, String>,
}

fn run(w: &World, c: &Case, p: &Policy) -> Run {
    let platform = w.ca.platform(&c.platform).unwrap();
    let mut td = platform.td_template([0x42; 64]);
    (c.td)(&mut td);
    let quote = platform.quote(&td);
    let collateral = w.ca.collateral(&(c.collateral)(&c.platform)).unwrap();
    let now = cvm_consoled::sim::now_unix();
    let ours = verify_tdx(&quote, &collateral, &ExpectedReportData::Exact([0x42; 64]), p, &w.anchors, now);
    let theirs: dcap_qvl::QuoteCollateralV3 = serde_json::from_str(&collateral.to_json()).unwrap();
    let verifier = dcap_qvl::verify::QuoteVerifier::<dcap_qvl::configs::DefaultConfig>::new(w.root_der.clone());
    let oracle = verifier.verify(&quote, &theirs, now).map_err(|e| format!("{e:#}"));
    Run { quote, collateral, ours, oracle }
}

#[test]
fn a_healthy_simulated_td_is_verified_and_marked_simulated() {
    let w = world();
    let r = run(&w, &case("healthy"), &policy(&[TcbStatus::UpToDate]));
    let v = r.ours.unwrap();
    assert_eq!(v.tcb.status, TcbStatus::UpToDate);
    assert!(matches!(v.anchor, Anchor::PolicyRoot { .. }) && v.simulated() && v.binding_checked);
    let checks: Vec<Check> = v.passed.iter().map(|p| p.check).collect();
    assert_eq!(checks, Check::TDX[..10].to_vec());
    assert_eq!(r.oracle.unwrap().status, "UpToDate");
    // The same quote without the policy root, or with hardware required, is refused.
    let e = verify_tdx(
        &r.quote,
        &r.collateral,
        &ExpectedReportData::NotBound,
        &policy(&[TcbStatus::UpToDate]),
        &TrustAnchors::amd(),
        cvm_consoled::sim::now_unix(),
    )
    .unwrap_err();
    assert_eq!((e.name(), e.check()), ("root", Check::Root), "{e}");
    let mut strict = policy(&[TcbStatus::UpToDate]);
    strict.require_hardware = true;
    let e = verify_tdx(
        &r.quote,
        &r.collateral,
        &ExpectedReportData::NotBound,
        &strict,
        &w.anchors,
        cvm_consoled::sim::now_unix(),
    )
    .unwrap_err();
    assert_eq!(e.name(), "hardware_required", "{e}");
}

/// Status matrix: ours and dcap-qvl's statuses and advisories agree.
#[test]
fn tcb_statuses_and_advisories_agree_with_the_oracle() {
    let w = world();
    let mut cases = Vec::new();
    for status in [
        "UpToDate",
        "SWHardeningNeeded",
        "ConfigurationNeeded",
        "ConfigurationAndSWHardeningNeeded",
        "OutOfDate",
        "OutOfDateConfigurationNeeded",
    ] {
        let mut c = case(status);
        c.collateral = Box::new(move |p| CollateralSpec {
            levels: vec![level(p, status, &["INTEL-SA-00001"])],
            ..CollateralSpec::up_to_date(p)
        });
        cases.push(c);
    }
    let mut c = case("module out of date");
    c.collateral = Box::new(|p| CollateralSpec {
        module_levels: vec![(4, "UpToDate"), (2, "OutOfDate")],
        ..CollateralSpec::up_to_date(p)
    });
    cases.push(c);
    let mut c = case("QE out of date, platform needs configuration");
    c.collateral = Box::new(|p| CollateralSpec {
        levels: vec![level(p, "ConfigurationNeeded", &["INTEL-SA-00002"])],
        qe_levels: vec![(5, "UpToDate"), (3, "OutOfDate")],
        ..CollateralSpec::up_to_date(p)
    });
    cases.push(c);
    let mut c = case("second level met");
    c.collateral = Box::new(|p| {
        let mut higher = level(p, "UpToDate", &[]);
        higher.pce_svn += 1;
        CollateralSpec {
            levels: vec![higher, level(p, "OutOfDate", &["INTEL-SA-00003", "INTEL-SA-00004"])],
            ..CollateralSpec::up_to_date(p)
        }
    });
    cases.push(c);
    let mut c = case("TD 1.5, relaunch advised");
    c.collateral = Box::new(|p| {
        let mut up = level(p, "UpToDate", &[]);
        up.tdx[2] = 4;
        CollateralSpec { levels: vec![up, level(p, "OutOfDate", &["INTEL-SA-00005"])], ..CollateralSpec::up_to_date(p) }
    });
    c.td = Box::new(|td| {
        let mut current = td.tee_tcb_svn;
        current[2] = 4;
        td.tee_tcb_svn2 = Some(current);
        td.mr_service_td = Some([0; 48]);
    });
    cases.push(c);
    let p = policy(&all_statuses());
    for c in &cases {
        let r = run(&w, c, &p);
        let v = r.ours.unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let o = r.oracle.unwrap_or_else(|e| panic!("{}: dcap-qvl: {e}", c.name));
        assert_eq!(v.tcb.status.name(), o.status, "{}", c.name);
        assert_eq!(v.tcb.advisory_ids, o.advisory_ids, "{}", c.name);
        // The default policy accepts UpToDate only.
        let strict = run(&w, c, &policy(&[TcbStatus::UpToDate])).ours;
        assert_eq!(strict.is_ok(), v.tcb.status == TcbStatus::UpToDate, "{}", c.name);
    }
}

/// Refusals both verifiers make, each by its named check.
#[test]
fn refusals_agree_with_the_oracle() {
    let w = world();
    let mut cases: Vec<(Case, &str)> = Vec::new();
    let mut c = case("revoked PCK");
    c.collateral = Box::new(|p| CollateralSpec { revoked_pcks: vec![p.pck_serial], ..CollateralSpec::up_to_date(p) });
    cases.push((c, "revoked"));
    let mut c = case("stale collateral");
    c.collateral = Box::new(|p| {
        let now = cvm_consoled::sim::now_unix();
        CollateralSpec { window: (now - 60 * 86_400, now - 30 * 86_400), ..CollateralSpec::up_to_date(p) }
    });
    cases.push((c, "crl_stale"));
    let mut c = case("FMSPC mismatch");
    c.collateral = Box::new(|p| CollateralSpec { fmspc: [1, 2, 3, 4, 5, 6], ..CollateralSpec::up_to_date(p) });
    cases.push((c, "fmspc"));
    let mut c = case("no level met");
    c.collateral = Box::new(|p| {
        let mut l = level(p, "UpToDate", &[]);
        l.sgx[0] += 1;
        CollateralSpec { levels: vec![l], ..CollateralSpec::up_to_date(p) }
    });
    cases.push((c, "tcb_level"));
    let mut c = case("revoked level");
    c.collateral =
        Box::new(|p| CollateralSpec { levels: vec![level(p, "Revoked", &[])], ..CollateralSpec::up_to_date(p) });
    cases.push((c, "tcb_status"));
    let mut c = case("expired PCK");
    c.platform.validity = (1_600_000_000, 1_700_000_000);
    cases.push((c, "certificate_validity"));
    let mut c = case("debug TD");
    c.td = Box::new(|td| td.td_attributes = (TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_DEBUG).to_le_bytes());
    cases.push((c, "debug"));
    let mut c = case("no SEPT_VE_DISABLE");
    c.td = Box::new(|td| td.td_attributes = 0u64.to_le_bytes());
    cases.push((c, "sept_ve_disable"));
    let mut c = case("migratable");
    c.td = Box::new(|td| td.td_attributes = (TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_MIGRATABLE).to_le_bytes());
    cases.push((c, "td_attributes"));
    let mut c = case("reserved attribute");
    c.td = Box::new(|td| td.td_attributes = (TD_ATTR_SEPT_VE_DISABLE | 1 << 40).to_le_bytes());
    cases.push((c, "td_attributes"));
    let mut c = case("foreign module signer");
    c.td = Box::new(|td| td.mr_signer_seam = [9; 48]);
    cases.push((c, "tdx_module"));
    let p = policy(&all_statuses());
    for (c, want) in &cases {
        let r = run(&w, c, &p);
        let e = match r.ours {
            Ok(_) => panic!("{}: accepted", c.name),
            Err(e) => e,
        };
        assert_eq!(e.name(), *want, "{}: {e}", c.name);
        assert!(r.oracle.is_err(), "{}: dcap-qvl accepts it", c.name);
    }
}

/// Our policy alone: MRTD, RTMRs, advisories, the binding.
#[test]
fn policy_refusals_are_named() {
    let w = world();
    let mut p = policy(&all_statuses());
    p.tdx.as_mut().unwrap().mrtd = vec![Hex([1; 48])];
    assert_eq!(run(&w, &case("mrtd"), &p).ours.unwrap_err().name(), "mrtd");
    let mut p = policy(&all_statuses());
    p.tdx.as_mut().unwrap().rtmr3 = vec![Hex([1; 48])];
    assert_eq!(run(&w, &case("rtmr"), &p).ours.unwrap_err().name(), "rtmr3");
    let mut p = policy(&all_statuses());
    p.tdx.as_mut().unwrap().allowed_advisories = vec!["INTEL-SA-00001".into()];
    let mut c = case("advisory");
    c.collateral = Box::new(|p| CollateralSpec {
        levels: vec![level(p, "SWHardeningNeeded", &["INTEL-SA-00001", "INTEL-SA-09999"])],
        ..CollateralSpec::up_to_date(p)
    });
    let e = run(&w, &c, &p).ours.unwrap_err();
    assert_eq!(e.name(), "advisory", "{e}");
    assert!(e.to_string().contains("INTEL-SA-09999"), "{e}");
    let mut c = case("binding");
    c.td = Box::new(|td| td.report_data = [0x43; 64]);
    assert_eq!(run(&w, &c, &policy(&all_statuses())).ours.unwrap_err().name(), "binding");
    let mut p = policy(&all_statuses());
    p.tdx.as_mut().unwrap().allow_debug = true;
    let mut c = case("debug allowed");
    c.td = Box::new(|td| td.td_attributes = (TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_DEBUG).to_le_bytes());
    let v = run(&w, &c, &p).ours.unwrap();
    assert!(v.warnings.iter().any(|w| w.contains("debug")), "{:?}", v.warnings);
}

/// A chain from another root: a second simulated CA's quote is refused by a policy
/// naming only the first root, and collateral signed under another root than the
/// quote's chain is refused even when both roots are trusted.
#[test]
fn another_roots_chain_and_mixed_roots_are_refused() {
    let w = world();
    let other = SimTdxCa::generate().unwrap();
    let platform = other.platform(&PlatformSpec::default()).unwrap();
    let quote = platform.quote(&platform.td_template([0; 64]));
    let collateral = other.collateral(&CollateralSpec::up_to_date(&PlatformSpec::default())).unwrap();
    let now = cvm_consoled::sim::now_unix();
    let p = policy(&all_statuses());
    let e = verify_tdx(&quote, &collateral, &ExpectedReportData::NotBound, &p, &w.anchors, now).unwrap_err();
    assert_eq!(e.name(), "root", "{e}");
    let both = TrustAnchors::with_extra_roots([("a", w.ca.root_pem().as_bytes()), ("b", other.root_pem().as_bytes())])
        .unwrap();
    let mine = w.ca.collateral(&CollateralSpec::up_to_date(&PlatformSpec::default())).unwrap();
    let e = verify_tdx(&quote, &mine, &ExpectedReportData::NotBound, &p, &both, now).unwrap_err();
    assert_eq!((e.name(), e.check()), ("root", Check::Root), "{e}");
    verify_tdx(&quote, &collateral, &ExpectedReportData::NotBound, &p, &both, now).unwrap();
}
