//! The TDX verifier against real Intel TDX quotes and Intel PCS collateral
//! (tests/data/tdx), with dcap-qvl as the oracle: on every real quote and every
//! tampered copy it must reach the same verdict, and on every accepted quote the same
//! TCB status and advisories.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use cvmc_protocol::policy::{Hex, Policy, TdxPolicy};
use cvmc_protocol::tdx::{Collateral, Quote, TcbStatus, verify_tdx};
use cvmc_protocol::{Anchor, Check, ExpectedReportData, TrustAnchors, VerifyError};
use cvmc_tests::data_dir;

fn tdx_file(name: &str) -> Vec<u8> {
    let p = data_dir().join("tdx").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// 2025-07-01, inside the dcap-qvl sample's collateral window.
const AT_SAMPLE: u64 = 1_751_328_000;
/// 2026-02-25, inside the outdated sample's collateral window.
const AT_OUTDATED: u64 = 1_772_000_000;
/// Today, for the session this was written in: both collaterals are stale.
const TODAY: u64 = 1_796_256_000;

struct Case {
    name: &'static str,
    quote: Vec<u8>,
    collateral_json: Vec<u8>,
    at: u64,
}

fn sample() -> Case {
    Case {
        name: "dcapqvl_tdx_quote",
        quote: tdx_file("dcapqvl_tdx_quote"),
        collateral_json: tdx_file("dcapqvl_tdx_quote_collateral.json"),
        at: AT_SAMPLE,
    }
}

fn outdated() -> Case {
    Case {
        name: "dcapqvl_tdx_quote_outdated",
        quote: tdx_file("dcapqvl_tdx_quote_outdated"),
        collateral_json: tdx_file("dcapqvl_tdx_quote_outdated_collateral.json"),
        at: AT_OUTDATED,
    }
}

/// A policy that pins exactly this quote's MRTD and accepts every non-revoked status,
/// so that the verdict is the cryptographic one dcap-qvl also reaches.
fn pinning(quote: &[u8], statuses: &[TcbStatus]) -> Policy {
    let q = Quote::parse(quote).unwrap();
    Policy {
        tdx: Some(TdxPolicy {
            mrtd: vec![Hex(q.td.mr_td)],
            accepted_tcb_status: statuses.iter().map(|s| s.name().to_owned()).collect(),
            ..TdxPolicy::default()
        }),
        ..Policy::default()
    }
}

fn every_status() -> Vec<TcbStatus> {
    TcbStatus::ALL.into_iter().filter(|s| *s != TcbStatus::Revoked).collect()
}

fn ours(
    quote: &[u8],
    collateral: &[u8],
    policy: &Policy,
    at: u64,
) -> Result<cvmc_protocol::tdx::TdxVerified, VerifyError> {
    let collateral = Collateral::from_json(collateral)?;
    verify_tdx(quote, &collateral, &ExpectedReportData::NotBound, policy, &TrustAnchors::amd(), at)
}

fn oracle(quote: &[u8], collateral: &[u8], at: u64) -> Result<dcap_qvl::verify::VerifiedReport, String> {
    let collateral: dcap_qvl::QuoteCollateralV3 = serde_json::from_slice(collateral).map_err(|e| e.to_string())?;
    dcap_qvl::verify::verify(quote, &collateral, at).map_err(|e| format!("{e:#}"))
}

fn oracle_status(r: &dcap_qvl::verify::VerifiedReport) -> String {
    r.status.clone()
}

#[test]
fn every_real_quote_parses_byte_exact() {
    for name in [
        "dcapqvl_tdx_quote",
        "dcapqvl_tdx_quote_outdated",
        "gotdx_tdx_prod_quote_SPR_E4.dat",
        "gotdx_quote_v5_sample.dat",
    ] {
        let raw = tdx_file(name);
        let q = Quote::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(q.to_bytes(), raw[..raw.len() - q.trailing], "{name}: fields encode back to the bytes");
        assert!(raw[raw.len() - q.trailing..].iter().all(|&b| b == 0) || name.starts_with("gotdx_tdx_prod"), "{name}");
        assert_eq!(&raw[q.qe_report_range.clone()], q.qe_report.to_bytes(), "{name}");
        assert_eq!(q.header.tee_type, 0x81, "{name}");
        assert_eq!(q.td.tee_tcb_svn2.is_some(), q.header.version == 5, "{name}");
    }
    // go-tdx-guest appends a text tail to its production quote: counted, never read.
    assert_eq!(Quote::parse(&tdx_file("gotdx_tdx_prod_quote_SPR_E4.dat")).unwrap().trailing, 39);
}

/// Our pinned root is Intel's: its fingerprint is the one Intel publishes, and
/// dcap-qvl, given our root instead of its own built-in one, verifies a real quote.
#[test]
fn the_pinned_root_is_intels() {
    let ours = cvmc_protocol::tdx::verify::intel_root().unwrap();
    assert_eq!(ours.subject_cn, "Intel SGX Root CA");
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&ours.der)),
        "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
    );
    let c = sample();
    let collateral: dcap_qvl::QuoteCollateralV3 = serde_json::from_slice(&c.collateral_json).unwrap();
    let with_ours = dcap_qvl::verify::QuoteVerifier::<dcap_qvl::configs::DefaultConfig>::new(ours.der.clone());
    with_ours.verify(&c.quote, &collateral, c.at).unwrap();
    // Another key in the same certificate: dcap-qvl then refuses the same quote.
    let key = ours.x509.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes().to_vec();
    let at = ours.der.windows(key.len()).position(|w| w == key.as_slice()).unwrap();
    let mut other = ours.der.clone();
    other[at + 20] ^= 1;
    let with_other = dcap_qvl::verify::QuoteVerifier::<dcap_qvl::configs::DefaultConfig>::new(other);
    assert!(with_other.verify(&c.quote, &collateral, c.at).is_err());
}

#[test]
fn the_sample_is_up_to_date_and_both_verifiers_agree() {
    let c = sample();
    let policy = pinning(&c.quote, &[TcbStatus::UpToDate]);
    let v = ours(&c.quote, &c.collateral_json, &policy, c.at).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    assert_eq!(v.tcb.status, TcbStatus::UpToDate);
    assert!(v.tcb.advisory_ids.is_empty(), "{:?}", v.tcb.advisory_ids);
    assert_eq!(v.anchor, Anchor::IntelSgxRoot);
    assert!(!v.simulated() && !v.binding_checked);
    let checks: Vec<Check> = v.passed.iter().map(|p| p.check).collect();
    assert_eq!(checks, Check::TDX[..9].to_vec(), "every check but binding and identity ran");
    let o = oracle(&c.quote, &c.collateral_json, c.at).unwrap();
    assert_eq!(oracle_status(&o), v.tcb.status.name());
    assert_eq!(o.advisory_ids, v.tcb.advisory_ids);
}

/// The outdated sample's platform is below every TCB level its TCB info lists (PCK
/// SGX components and PCESVN older than the oldest level): Intel's QVL calls that
/// "TCB not supported", dcap-qvl "no matching TCB level", and ours `tcb_level`; with
/// the default policy as with one that accepts every status, it is refused.
#[test]
fn the_outdated_sample_is_below_every_level_and_refused() {
    let c = outdated();
    let o = oracle(&c.quote, &c.collateral_json, c.at).unwrap_err();
    assert!(o.contains("No matching TCB level"), "{o}");
    for statuses in [every_status(), vec![TcbStatus::UpToDate]] {
        let e = ours(&c.quote, &c.collateral_json, &pinning(&c.quote, &statuses), c.at).unwrap_err();
        assert_eq!((e.name(), e.check()), ("tcb_level", Check::Tcb), "{e}");
    }
}

/// Why the outdated sample is refused: every level of its TCB info requires more than
/// its PCK certificate's SGX components and PCESVN. (Statuses below UpToDate on a
/// level that is met are compared with dcap-qvl on simulated collateral, which the
/// test root can sign.)
#[test]
fn the_outdated_samples_levels_are_all_above_its_platform() {
    let c = outdated();
    let q = Quote::parse(&c.quote).unwrap();
    let chain = cvmc_protocol::tdx::certs::IntelCert::chain_from_pem("chain", &q.pck_cert_data, &["PCK"]).unwrap();
    let facts = cvmc_protocol::tdx::certs::pck_facts(&chain[0]).unwrap();
    let collateral = Collateral::from_json(&c.collateral_json).unwrap();
    let info: cvmc_protocol::tdx::collateral::TcbInfo = serde_json::from_str(&collateral.tcb_info).unwrap();
    for level in &info.tcb_levels {
        let sgx_met = facts.sgx_components.iter().zip(&level.tcb.sgxtcbcomponents).all(|(h, n)| *h >= n.svn);
        assert!(!(sgx_met && facts.pce_svn >= level.tcb.pcesvn), "level {} is met: {facts:?}", level.tcb_date);
    }
}

#[test]
fn stale_collateral_is_refused_today() {
    for c in [sample(), outdated()] {
        let e = ours(&c.quote, &c.collateral_json, &pinning(&c.quote, &every_status()), TODAY).unwrap_err();
        assert!(matches!(e.name(), "crl_stale" | "collateral_stale"), "{}: {e}", c.name);
        assert!(oracle(&c.quote, &c.collateral_json, TODAY).is_err() || e.name() == "collateral_stale", "{}", c.name);
    }
}

#[test]
fn a_policy_without_a_tdx_section_names_it() {
    let c = sample();
    let e = ours(&c.quote, &c.collateral_json, &Policy::default(), c.at).unwrap_err();
    assert_eq!(e.name(), "policy_tee", "{e}");
    assert!(e.to_string().contains("[tdx]"), "{e}");
}

#[test]
fn mrtd_rtmr_and_binding_are_enforced() {
    let c = sample();
    let q = Quote::parse(&c.quote).unwrap();
    let mut policy = pinning(&c.quote, &[TcbStatus::UpToDate]);
    let tdx = policy.tdx.as_mut().unwrap();
    tdx.mrtd = vec![Hex([7; 48])];
    let e = ours(&c.quote, &c.collateral_json, &policy, c.at).unwrap_err();
    assert_eq!((e.name(), e.check()), ("mrtd", Check::Measurement), "{e}");
    policy.tdx.as_mut().unwrap().mrtd = vec![];
    let e = ours(&c.quote, &c.collateral_json, &policy, c.at).unwrap_err();
    assert_eq!(e.name(), "mrtd_not_pinned", "{e}");
    let mut policy = pinning(&c.quote, &[TcbStatus::UpToDate]);
    policy.tdx.as_mut().unwrap().rtmr2 = vec![Hex([0; 48])];
    let e = ours(&c.quote, &c.collateral_json, &policy, c.at).unwrap_err();
    assert_eq!((e.name(), e.check()), ("rtmr2", Check::Measurement), "{e}");
    policy.tdx.as_mut().unwrap().rtmr2 = vec![Hex([0; 48]), Hex(q.td.rtmr[2])];
    ours(&c.quote, &c.collateral_json, &policy, c.at).unwrap();

    let collateral = Collateral::from_json(&c.collateral_json).unwrap();
    let bound = ExpectedReportData::Exact(q.td.report_data);
    let v = verify_tdx(&c.quote, &collateral, &bound, &policy, &TrustAnchors::amd(), c.at).unwrap();
    assert!(v.binding_checked);
    let other = ExpectedReportData::Exact([0; 64]);
    let e = verify_tdx(&c.quote, &collateral, &other, &policy, &TrustAnchors::amd(), c.at).unwrap_err();
    assert_eq!((e.name(), e.check()), ("binding", Check::Binding), "{e}");

    let mut policy = pinning(&c.quote, &[TcbStatus::UpToDate]);
    policy.tdx.as_mut().unwrap().min_tee_tcb_svn = Some(Hex([0xff; 16]));
    let e = ours(&c.quote, &c.collateral_json, &policy, c.at).unwrap_err();
    assert_eq!(e.name(), "min_tee_tcb_svn", "{e}");
}

/// Collateral for another platform (go-tdx-guest's TCB info, FMSPC 50806f000000) is
/// refused even though Intel signed it.
#[test]
fn collateral_for_another_fmspc_is_refused() {
    let c = sample();
    let mut collateral = Collateral::from_json(&c.collateral_json).unwrap();
    let body = tdx_file("gotdx_sample_tcbInfo_response");
    let (text, sig) = cvmc_protocol::tdx::collateral::split_pcs_body("TCB info", "tcbInfo", &body).unwrap();
    collateral.tcb_info = text;
    collateral.tcb_info_signature = sig;
    let policy = pinning(&c.quote, &every_status());
    let at = cvmc_protocol::tdx::collateral::parse_time("t", "2023-06-20T00:00:00Z").unwrap();
    let e = verify_tdx(&c.quote, &collateral, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), at)
        .unwrap_err();
    // At 2023-06-20 the sample's CRLs are not yet issued: the revocation check comes
    // first. Inside the sample's window, the TCB info itself is stale or foreign.
    assert!(matches!(e.name(), "crl_stale" | "certificate_validity"), "{e}");
    let e = verify_tdx(&c.quote, &collateral, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), c.at)
        .unwrap_err();
    assert_eq!((e.name(), e.check()), ("fmspc", Check::Collateral), "{e}");
}

#[test]
fn forged_collateral_is_refused() {
    let c = sample();
    let policy = pinning(&c.quote, &every_status());
    let base = Collateral::from_json(&c.collateral_json).unwrap();
    let run = |col: &Collateral| {
        verify_tdx(&c.quote, col, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), c.at).unwrap_err()
    };
    let mut col = base.clone();
    col.tcb_info = col.tcb_info.replace("\"OutOfDate\"", "\"UpToDate\"");
    assert_ne!(col.tcb_info, base.tcb_info);
    assert_eq!(run(&col).name(), "collateral_signature");
    let mut col = base.clone();
    col.qe_identity = col.qe_identity.replace("\"isvprodid\":2", "\"isvprodid\":3");
    assert_eq!(run(&col).name(), "collateral_signature");
    let mut col = base.clone();
    col.tcb_info_signature = col.tcb_info_signature.replace('0', "1");
    assert_eq!(run(&col).name(), "collateral_signature");
    let mut col = base.clone();
    col.tcb_info_issuer_chain = col.pck_crl_issuer_chain.clone();
    let e = run(&col);
    assert_eq!((e.name(), e.check()), ("certificate_name", Check::Chain), "{e}");
    let mut col = base.clone();
    col.pck_crl = col.root_ca_crl.clone();
    let e = run(&col);
    assert_eq!((e.name(), e.check()), ("crl", Check::Revocation), "{e}");
    let mut col = base;
    col.root_ca_crl.truncate(100);
    assert_eq!(run(&col).name(), "crl");
}

/// Flip one bit of every byte of the signed region, the QE report, its signature,
/// the attestation key and the PCK leaf and CA certificates: each copy is refused by
/// its named check, and dcap-qvl refuses it too.
#[test]
fn every_tampered_byte_is_refused_by_its_check_and_by_the_oracle() {
    let c = sample();
    let q = Quote::parse(&c.quote).unwrap();
    let policy = pinning(&c.quote, &every_status());
    let collateral = Collateral::from_json(&c.collateral_json).unwrap();
    let sig_start = q.signed_len + 4;
    let pem_start = q.qe_report_range.end + 64 + 2 + q.qe_auth_data.len() + 6;
    let pem = &c.quote[pem_start..];
    // The third certificate is the root the guest sends, which neither verifier
    // trusts; stop at its BEGIN line.
    let third = pem.windows(5).enumerate().filter(|(_, w)| w == b"BEGIN").nth(2).unwrap().0;
    let regions: [(&str, std::ops::Range<usize>, &[&str]); 5] = [
        ("header", 0..48, &["quote_format", "quote_signature", "qe_report_data"]),
        ("TD report", 48..q.signed_len, &["quote_signature"]),
        ("quote signature and attestation key", sig_start..sig_start + 128, &["quote_signature", "qe_report_data"]),
        (
            "QE report and signature",
            q.qe_report_range.start..q.qe_report_range.end + 64,
            &["qe_report_signature", "quote_format"],
        ),
        (
            "PCK leaf and CA",
            pem_start..pem_start + third,
            &[
                "certificate_decode",
                "chain_signature",
                "certificate_name",
                "pck_extension",
                "qe_report_signature",
                "certificate_validity",
                "certificate_algorithm",
                "root",
                "crl",
                "revoked",
            ],
        ),
    ];
    let mut tried = 0;
    for (region, range, allowed) in regions {
        for i in range {
            let mut t = c.quote.clone();
            t[i] ^= 0x01;
            // Base64 letters whose flipped bit gives another letter of the same
            // 6-bit value do not exist, but PEM whitespace can stay whitespace.
            if region == "PCK leaf and CA" && matches!(c.quote[i], b'\n' | b'-') {
                continue;
            }
            let e =
                match verify_tdx(&t, &collateral, &ExpectedReportData::NotBound, &policy, &TrustAnchors::amd(), c.at) {
                    Ok(_) => panic!("{region} byte {i}: accepted"),
                    Err(e) => e,
                };
            assert!(allowed.contains(&e.name()), "{region} byte {i}: refused by {} ({e})", e.name());
            assert!(oracle(&t, &c.collateral_json, c.at).is_err(), "{region} byte {i}: dcap-qvl accepts it");
            tried += 1;
        }
    }
    assert!(tried > 2000, "{tried}");
}
