//! Azure TDX evidence: an HCL report holding a TD report, followed by the quote
//! Azure's quoting service made of it. The real TDX HCL report of
//! `tests/data/azure/` is read field by field as a TDREPORT_STRUCT and, having no
//! quote, is refused with a clear reason; the whole verification and each way of
//! bending the evidence run on HCL reports made the way the paravisor makes them,
//! around a TD report of the simulated TDX platform, quoted by its quoting enclave.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use cvm_console::cli::{EXIT_BAD_INPUT, EXIT_NOT_TRUSTED, EXIT_OK};
use cvm_console::policy_file::{LoadedPolicy, load_policy};
use cvm_consoled::sim_tdx::{CollateralSpec, SimTdxPlatform};
use cvmc_protocol::azure::hcl::{self, HclReport, HwReportType};
use cvmc_protocol::azure::{AzureTdxVerified, verify_azure_tdx};
use cvmc_protocol::policy::Hex;
use cvmc_protocol::tdx::Collateral;
use cvmc_protocol::tdx::tdreport::TdReportStruct;
use cvmc_protocol::{Check, ExpectedReportData, VerifyError};
use cvmc_tests::cli::cli;
use cvmc_tests::guest::sim_dir_tdx;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/data/azure/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

struct Tdx {
    platform: SimTdxPlatform,
    collateral: Collateral,
    loaded: LoadedPolicy,
    now: u64,
}

fn sim() -> Tdx {
    let files = cvm_consoled::siminit::load_tdx(sim_dir_tdx()).unwrap();
    let collateral = files.ca.collateral(&CollateralSpec::up_to_date(&files.platform.spec)).unwrap();
    let loaded = load_policy(&sim_dir_tdx().join("policy.toml")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    Tdx { platform: files.platform, collateral, loaded, now }
}

const BINDING: [u8; 64] = [0x5a; 64];

impl Tdx {
    fn claims(&self, user_data: &[u8]) -> Vec<u8> {
        cvmc_tests::azure::claims(user_data, "VM-TDX")
    }

    /// The evidence the provider sends: the HCL report around a TD report whose
    /// REPORTDATA hashes `signed_claims`, carrying `claims`, then the quote of `td`
    /// (the TD report's own unless a test bends it).
    fn evidence(
        &self,
        claims: &[u8],
        signed_claims: &[u8],
        bend: impl Fn(&mut cvmc_protocol::tdx::quote::TdReport),
    ) -> Vec<u8> {
        let (hcl, mut td) = cvmc_tests::azure::tdx_hcl_report(&self.platform, claims, signed_claims);
        bend(&mut td);
        hcl::with_quote(&hcl, &self.platform.quote(&td))
    }

    fn honest(&self) -> Vec<u8> {
        let claims = self.claims(&BINDING);
        self.evidence(&claims, &claims, |_| {})
    }

    fn verify(&self, raw: &[u8], expected: &ExpectedReportData) -> Result<AzureTdxVerified, VerifyError> {
        verify_azure_tdx(raw, &self.collateral, expected, &self.loaded.policy, &self.loaded.anchors, self.now)
    }
}

#[test]
fn the_real_tdx_hcl_report_is_a_td_report_and_without_its_quote_is_refused_clearly() {
    let raw = data("azcvm_hcl-report-tdx.bin");
    let h = HclReport::parse(&raw).unwrap();
    let td = TdReportStruct::parse(h.hw_report).unwrap();
    assert_eq!(td.body.report_data[..32], h.claims_digest()[..], "REPORTDATA = SHA-256(claims), then zeros");
    assert_eq!(td.body.report_data[32..], [0; 32]);
    assert_eq!(hex::encode(&td.body.mr_td[..4]), "75f3acc2", "the vector's MRTD");
    assert_eq!(
        td.body.attributes() & cvmc_protocol::tdx::quote::TD_ATTR_SEPT_VE_DISABLE,
        0,
        "Azure's TDs leave SEPT_VE_DISABLE clear"
    );
    // The NV read pads with zeros: no quote follows.
    assert_eq!(hcl::split_quote(&raw).unwrap().1, &[] as &[u8]);
    let t = sim();
    let e = t.verify(&raw, &ExpectedReportData::NotBound).unwrap_err();
    assert_eq!(e.name(), "hcl_quote_missing", "{e}");
    assert!(e.to_string().contains("/acc/tdquote"), "the message says where the quote comes from: {e}");
}

#[test]
fn an_hcl_report_quoted_as_azure_does_verifies_with_the_claims_row() {
    let t = sim();
    let v = t.verify(&t.honest(), &ExpectedReportData::Exact(BINDING)).unwrap();
    let checks: Vec<Check> = v.tdx.passed.iter().map(|p| p.check).collect();
    // Identity is the live session's row (verify_evidence adds it).
    assert_eq!(checks, Check::AZURE_TDX[..Check::AZURE_TDX.len() - 1].to_vec());
    assert!(v.tdx.binding_checked && v.tdx.simulated());
    assert!(v.tdx.passed[0].detail.starts_with("HCL report v"), "{}", v.tdx.passed[0].detail);
    assert_eq!(v.claims.user_data, Some(BINDING));
    assert_eq!(v.claims_hash, "SHA-256");
    // A stored report without the session: verified, the binding not checked, and said so.
    let v = t.verify(&t.honest(), &ExpectedReportData::NotBound).unwrap();
    assert!(!v.tdx.binding_checked);
    assert!(v.tdx.warnings.iter().any(|w| w.contains("runtime claims' user-data")), "{:?}", v.tdx.warnings);
}

#[test]
fn bent_azure_tdx_evidence_is_refused_by_its_named_check() {
    let t = sim();
    let claims = t.claims(&BINDING);
    let expected = ExpectedReportData::Exact(BINDING);
    let refused = |raw: Vec<u8>| t.verify(&raw, &expected).unwrap_err().name();

    // Claims edited after the TD report was made: the hash no longer matches.
    let edited = String::from_utf8(claims.clone()).unwrap().replace("\"secure-boot\":true", "\"secure-boot\":false");
    assert_eq!(refused(t.evidence(edited.as_bytes(), &claims, |_| {})), "runtime_claims_hash");
    // Another session's user data (relay or replay).
    let other = t.claims(&[0x5b; 64]);
    assert_eq!(refused(t.evidence(&other, &other, |_| {})), "runtime_claims_user_data");
    // A quote of another TD report (another TD's MRTD, or other REPORTDATA): refused
    // before its signature is even looked at.
    assert_eq!(refused(t.evidence(&claims, &claims, |td| td.mr_td[0] ^= 1)), "hcl_quote_mismatch");
    assert_eq!(refused(t.evidence(&claims, &claims, |td| td.report_data[0] ^= 1)), "hcl_quote_mismatch");
    // Another TD's HCL report and quote, consistent with each other, around this
    // session's claims: the hash names it.
    assert_eq!(refused(t.evidence(&claims, &other, |_| {})), "runtime_claims_hash");
    // A quote whose signature is broken: the TDX verifier's own check.
    let mut forged = t.honest();
    let (hcl_len, _) = hcl::split_quote(&forged).map(|(h, q)| (h.len(), q.len())).unwrap();
    forged[hcl_len + 48 + 400] ^= 1; // in the TD body's REPORTDATA region of the quote
    assert!(matches!(t.verify(&forged, &expected).unwrap_err(), VerifyError::Azure(_) | VerifyError::Tdx(_)));
    // The hardware checks apply: an MRTD the policy does not pin.
    let mut loaded = load_policy(&sim_dir_tdx().join("policy.toml")).unwrap();
    loaded.policy.tdx.get_or_insert_with(Default::default).mrtd = vec![Hex([7; 48])];
    let e =
        verify_azure_tdx(&t.honest(), &t.collateral, &expected, &loaded.policy, &loaded.anchors, t.now).unwrap_err();
    assert_eq!(e.check(), Check::Measurement, "{e}");
    // [azure] vm_configuration applies to the claims.
    let mut loaded = load_policy(&sim_dir_tdx().join("policy.toml")).unwrap();
    loaded.policy.azure.vm_configuration.insert("secure-boot".into(), false);
    let e =
        verify_azure_tdx(&t.honest(), &t.collateral, &expected, &loaded.policy, &loaded.anchors, t.now).unwrap_err();
    assert_eq!(e.name(), "azure_vm_configuration", "{e}");
    // An SNP-typed HCL report is not Azure TDX evidence.
    let snp = data("azcvm_hcl-report-snp.bin");
    assert_eq!(t.verify(&snp, &expected).unwrap_err().name(), "hcl_report_type");
    // Garbage after the HCL report is no quote.
    let hcl_only = hcl::split_quote(&t.honest()).unwrap().0.to_vec();
    assert_eq!(refused(hcl::with_quote(&hcl_only, b"not a quote")), "quote_format");
}

/// Azure runs its TDs with SEPT_VE_DISABLE clear (the real vector): the TDX policy's
/// default refuses that by name, and `require_sept_ve_disable = false` accepts it.
#[test]
fn an_azure_td_without_sept_ve_disable_needs_the_policy_to_say_so() {
    let t = sim();
    let claims = t.claims(&BINDING);
    let (hcl, mut td) = cvmc_tests::azure::tdx_hcl_report(&t.platform, &claims, &claims);
    td.td_attributes = [0; 8];
    let td_report = cvmc_protocol::tdx::tdreport::encode(&td);
    let hw = HclReport::parse(&hcl).unwrap();
    let hcl = hcl::encode(HwReportType::Tdx, &td_report, hw.variable_data, 2048);
    let evidence = hcl::with_quote(&hcl, &t.platform.quote(&td));
    let expected = ExpectedReportData::Exact(BINDING);
    assert_eq!(t.verify(&evidence, &expected).unwrap_err().name(), "sept_ve_disable");
    let mut loaded = load_policy(&sim_dir_tdx().join("policy.toml")).unwrap();
    loaded.policy.tdx.get_or_insert_with(Default::default).require_sept_ve_disable = false;
    verify_azure_tdx(&evidence, &t.collateral, &expected, &loaded.policy, &loaded.anchors, t.now).unwrap();
}

#[test]
fn verify_report_takes_an_azure_tdx_report_with_its_quote_appended_or_given() {
    let t = sim();
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    // The sim-init policy names its root relative to its own directory.
    let policy = sim_dir_tdx().join("policy.toml").to_str().unwrap().to_owned();
    let collateral = w("collateral.json", t.collateral.to_json().as_bytes());
    let evidence = t.honest();
    let (hcl_part, quote) = hcl::split_quote(&evidence).unwrap();
    let joined = w("evidence.bin", &evidence);
    let padded = w(
        "hcl.bin",
        &hcl::encode(
            HwReportType::Tdx,
            HclReport::parse(hcl_part).unwrap().hw_report,
            HclReport::parse(hcl_part).unwrap().variable_data,
            2048,
        ),
    );
    let quote = w("quote.bin", quote);
    let user_data = hex::encode(BINDING);
    let at = t.now.to_string();
    let base = ["verify-report", "--policy", &policy, "--collateral", &collateral, "--at", &at, "--offline", "--json"];

    for extra in [vec!["--report", &joined], vec!["--report", &padded, "--quote", &quote]] {
        let mut args = base.to_vec();
        args.extend(extra.iter().copied());
        args.extend(["--report-data", &user_data]);
        let run = cli(&args);
        assert_eq!(run.code, EXIT_OK, "{}{}", run.stdout, run.stderr);
        let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(j["tee"], "azure-tdx");
        assert_eq!(j["runtime_claims"]["user_data"], user_data);
        assert!(j["runtime_claims"]["ak_pub"].as_str().unwrap().starts_with("SHA256:"));
        assert_eq!(j["quote"]["mrtd"].as_str().map(str::len), Some(96), "{j}");
        assert!(j["checks"].as_array().unwrap().iter().any(|c| c["check"] == "runtime_claims"), "{j}");
        assert!(j["tcb_status"].is_string(), "{j}");
    }
    // The padded HCL report alone: no quote, refused with the reason, as azure-tdx.
    let mut args = base.to_vec();
    args.extend(["--report", &padded, "--no-binding"]);
    let run = cli(&args);
    assert_eq!(run.code, EXIT_NOT_TRUSTED, "{}{}", run.stdout, run.stderr);
    let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((j["failed_check"].as_str(), j["tee"].as_str()), (Some("hcl_quote_missing"), Some("azure-tdx")));
    // A second quote, or SEV-SNP certificates, are usage errors.
    let mut args = base.to_vec();
    args.extend(["--report", &joined, "--quote", &quote]);
    assert_eq!(cli(&args).code, EXIT_BAD_INPUT);
    let mut args = base.to_vec();
    args.extend(["--report", &padded, "--quote", &quote, "--vcek", &quote]);
    assert_eq!(cli(&args).code, EXIT_BAD_INPUT);
    // The human check list shows the runtime claims row, and that this is simulated.
    let run = cli(&[
        "verify-report",
        "--policy",
        &policy,
        "--collateral",
        &collateral,
        "--at",
        &at,
        "--offline",
        "--report",
        &joined,
        "--report-data",
        &user_data,
    ]);
    assert_eq!(run.code, EXIT_OK, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("SIMULATED - NOT CONFIDENTIAL") && run.stdout.contains("ok   runtime_claims "),
        "{}",
        run.stdout
    );
}
