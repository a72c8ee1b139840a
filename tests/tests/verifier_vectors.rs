//! The SEV-SNP verifier against real AMD-signed reports (tests/data/snp) and a
//! table of refusals, each with its own typed error. Cases whose content cannot be
//! changed without breaking AMD's signatures (a missing extension, another TCB,
//! another chip, debug on) are made with the simulated chain, so the signatures are
//! valid and the verifier must find the content itself.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use cvmc_protocol::policy::{Hex, Policy};
use cvmc_protocol::snp::certs::ext;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::SigningKey;
use cvmc_protocol::snp::verify::policy_bits;
use cvmc_protocol::{Anchor, Check, ExpectedReportData, TrustAnchors, VerifyError};
use cvmc_tests::verifier_cases::{Input, MILAN_V3, cases, milan, retcb, sim, sim_milan, without_sim_root};
use cvmc_tests::{cert_der, vector, vectors};

#[test]
fn every_real_vector_is_accepted() {
    for v in vectors() {
        let verified = Input::from_vector(&v).run().unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(verified.product, v.product, "{}", v.name);
        assert_eq!(verified.anchor, Anchor::AmdArk { product: v.product }, "{}", v.name);
        assert!(!verified.simulated() && verified.binding_checked, "{}", v.name);
        let checks: Vec<Check> = verified.passed.iter().map(|p| p.check).collect();
        assert_eq!(checks, Check::SNP[..9].to_vec(), "{}: every check but identity ran", v.name);
        // The parser is byte-exact: the fields encode back to the signed bytes.
        assert_eq!(verified.report.encode(), v.report, "{}", v.name);
    }
}

#[test]
fn real_turin_vcek_chains_to_the_turin_root_with_short_hwid_and_fmc() {
    use cvmc_protocol::snp::certs::AmdCert;
    let vcek = AmdCert::from_der("VCEK", &cert_der("vcek_turin.der")).unwrap();
    let ask = AmdCert::from_der(
        "ASK",
        &cvmc_tests::first_pem_der(std::str::from_utf8(&cvmc_tests::snp_file("cert_chain_turin")).unwrap()),
    )
    .unwrap();
    ask.check_issued(&vcek).unwrap();
    let now = vcek.validity().0 + 86_400;
    let (anchor, _) = TrustAnchors::amd().anchor(Product::Turin, &ask, now).unwrap();
    assert_eq!(anchor, Anchor::AmdArk { product: Product::Turin });
    assert_eq!(vcek.require_extension(&ext::HWID, "hwID").unwrap().len(), 8);
    assert_eq!(vcek.spl(&ext::FMC_SPL, "fmcSPL").unwrap(), 0, "as openssl asn1parse shows for this file");
}

#[test]
fn offline_verification_without_report_data_is_recorded_as_unbound() {
    let mut input = milan();
    input.expected = ExpectedReportData::NotBound;
    let v = input.run().unwrap();
    assert!(!v.binding_checked);
    assert!(v.warnings.iter().any(|w| w.contains("binding not checked")));
    assert!(!v.passed.iter().any(|p| p.check == Check::Binding));
}

#[test]
fn simulated_chain_passes_the_same_verifier_only_with_its_root_in_the_policy() {
    for product in [Product::Milan, Product::Turin] {
        let input = sim(product, SigningKey::Vcek, |_| {}, |_| {});
        let v = input.run().unwrap_or_else(|e| panic!("{product}: {e}"));
        assert!(v.simulated(), "{product}");
        assert!(matches!(v.anchor, Anchor::PolicyRoot { .. }));
        let refused = without_sim_root(input).run().unwrap_err();
        assert_eq!(refused.name(), "root", "{product}: {refused}");
    }
    let vlek = sim(Product::Milan, SigningKey::Vlek, |_| {}, |_| {});
    assert!(vlek.run().unwrap().simulated());
}

#[test]
fn negative_table_each_refused_with_its_own_check() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for case in &cases {
        match (case.input)().run() {
            Ok(_) => failures.push(format!("{}: ACCEPTED", case.name)),
            Err(e) if e.name() != case.failed_check => {
                failures.push(format!("{}: expected {}, got {} ({e})", case.name, case.failed_check, e.name()))
            }
            Err(e) => {
                // Every message names the check first and carries values.
                let msg = e.to_string();
                assert!(!msg.is_empty() && !msg.contains('\n'), "{}: {msg}", case.name);
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn refusals_name_their_values() {
    let e = Input { policy: Policy { vmpl: 2, ..milan().policy }, ..milan() }.run().unwrap_err();
    assert_eq!(e.to_string(), "vmpl: the report was made at VMPL 0, the trust policy requires VMPL 2");
    let mut i = milan();
    i.policy.measurements = vec![Hex([0x11; 48])];
    let e = i.run().unwrap_err().to_string();
    assert!(e.contains(&hex::encode(vector(MILAN_V3).parsed().measurement)), "{e}");
    let e = sim(
        Product::Milan,
        SigningKey::Vcek,
        |l| l.tcb.snp = 0x17,
        |r| r.reported_tcb = retcb(r, Product::Milan, |t| t.snp = 0x18),
    )
    .run()
    .unwrap_err();
    assert!(matches!(e, VerifyError::TcbMismatch { cert_value: 0x17, report_value: 0x18, .. }), "{e}");
}

#[test]
fn allowed_relaxations_are_warned_about() {
    let mut i = sim_milan(|r| r.policy |= policy_bits::DEBUG | policy_bits::MIGRATE_MA);
    i.policy.allow_debug = true;
    i.policy.allow_migration_agent = true;
    let v = i.run().unwrap();
    assert!(v.warnings.iter().any(|w| w.contains("DEBUG")), "{:?}", v.warnings);
    assert!(v.warnings.iter().any(|w| w.contains("migration agent")), "{:?}", v.warnings);
}

#[test]
fn provisional_firmware_vectors_are_refused_by_default_and_accepted_with_a_warning_when_allowed() {
    let provisional: Vec<_> = vectors().into_iter().filter(|v| v.provisional_firmware).collect();
    assert_eq!(provisional.len(), 2, "the two trustee reports run newer microcode than they committed");
    for v in provisional {
        let mut strict = Input::from_vector(&v);
        strict.policy.allow_provisional_firmware = false;
        let e = strict.run().unwrap_err();
        assert_eq!(e.name(), "provisional_firmware", "{}: {e}", v.name);
        let verified = Input::from_vector(&v).run().unwrap();
        assert!(verified.warnings.iter().any(|w| w.starts_with("provisional firmware")), "{:?}", verified.warnings);
    }
}

#[test]
fn the_tcb_row_shows_each_comparison_with_its_values() {
    let v = milan().run().unwrap();
    let tcb = &v.passed.iter().find(|p| p.check == Check::Tcb).unwrap().detail;
    for part in ["REPORTED_TCB \u{2264} CURRENT_TCB", "COMMITTED = CURRENT_TCB", "firmware 1.55 build 29", "LAUNCH_TCB"]
    {
        assert!(tcb.contains(part), "{part:?} missing from {tcb:?}");
    }
}

#[test]
fn revocation_outcome_is_listed_in_every_mode() {
    use cvmc_protocol::policy::Revocation;
    use cvmc_tests::verifier_cases::{CrlTime, Listed, with_crl};
    let detail = |i: Input| {
        let v = i.run().unwrap();
        (v.passed.iter().find(|p| p.check == Check::Revocation).unwrap().detail.clone(), v.warnings)
    };
    let (d, w) = detail(with_crl(sim_milan(|_| {}), Listed::Nothing, CrlTime::Current, Revocation::Require));
    assert!(d.contains("neither the ASK nor the VCEK is listed"), "{d}");
    assert!(!w.iter().any(|w| w.contains("CRL")), "{w:?}");
    let (d, w) = detail(with_crl(sim_milan(|_| {}), Listed::Nothing, CrlTime::Stale, Revocation::IfAvailable));
    assert!(d.contains("neither"), "{d}");
    assert!(w.iter().any(|w| w.contains("CRL is not current")), "{w:?}");
    let (d, w) = detail(sim_milan(|_| {}));
    assert!(d.starts_with("not checked: no Milan CRL available"), "{d}");
    assert!(w.iter().any(|w| w.starts_with("revocation not checked")), "{w:?}");
    let (d, w) = detail(with_crl(sim_milan(|_| {}), Listed::Intermediate, CrlTime::Current, Revocation::Skip));
    assert!(d.contains("\"skip\""), "{d}");
    assert!(w.iter().any(|w| w.contains("revocation = \"skip\"")), "{w:?}");
}

#[test]
fn certificates_are_chosen_by_key_info_so_a_stray_vcek_cannot_stop_a_vlek_report() {
    use cvmc_protocol::AvailableCerts;
    let vlek = sim(Product::Milan, SigningKey::Vlek, |_| {}, |_| {});
    let stray = sim_milan(|_| {});
    let certs = cvmc_protocol::SnpCerts::select(
        &vlek.report,
        AvailableCerts {
            vcek: stray.signer.as_deref(),
            vlek: vlek.signer.as_deref(),
            ask: stray.intermediate.as_deref(),
            asvk: vlek.intermediate.as_deref(),
            crl: None,
        },
    );
    assert_eq!(certs.signer, vlek.signer.as_deref());
    assert_eq!(certs.intermediate, vlek.intermediate.as_deref());
    cvmc_protocol::verify_snp(&vlek.report, certs, &vlek.expected, &vlek.policy, &vlek.anchors(), vlek.now).unwrap();
}
