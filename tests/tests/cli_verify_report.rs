//! `cvm-console verify-report` accepts and refuses the same cases as the library,
//! through the real command-line code (argument parsing, file reading, `--json`,
//! exit status): 0 trusted, 1 not trusted, 2 unusable input. A report whose binding is
//! not checked is not trusted unless `--no-binding` says so.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use cvm_console::cli::{EXIT_BAD_INPUT, EXIT_NOT_TRUSTED, EXIT_OK};
use cvmc_protocol::ExpectedReportData;
use cvmc_tests::cli::{Run, cli};
use cvmc_tests::vectors;
use cvmc_tests::verifier_cases::{Input, cases, milan};

/// Write the case's files into `dir` and run `verify-report --json` on them.
fn run_case(dir: &Path, input: &Input) -> Run {
    let w = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let report = w("report.bin", &input.report);
    let vcek = w("vcek.der", input.signer.as_deref().unwrap_or_default());
    let policy = w("policy.toml", input.policy.to_toml().unwrap().as_bytes());
    if let Some(pem) = &input.sim_root_pem {
        w("sim/ark.pem", pem.as_bytes());
    }
    let at = input.now.to_string();
    // Every file the case has is given; --offline keeps a case that lacks a CRL from
    // asking AMD's KDS for one.
    let mut args = vec![
        "verify-report",
        "--report",
        &report,
        "--vcek",
        &vcek,
        "--policy",
        &policy,
        "--at",
        &at,
        "--json",
        "--offline",
    ];
    let crl;
    if let Some(c) = &input.crl {
        crl = w("crl.der", c);
        args.extend(["--crl", &crl]);
    }
    let ask;
    if let Some(i) = &input.intermediate {
        ask = w("ask.der", i);
        args.extend(["--ask", &ask]);
    }
    let rd;
    match input.expected {
        ExpectedReportData::Exact(data) => {
            rd = hex::encode(data);
            args.extend(["--report-data", &rd]);
        }
        // The library's NotBound is the caller accepting an unbound report: --no-binding.
        ExpectedReportData::NotBound => args.push("--no-binding"),
    }
    cli(&args)
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {}{}", run.stdout, run.stderr))
}

#[test]
fn real_vectors_are_trusted_from_the_command_line() {
    for v in vectors() {
        let dir = tempfile::tempdir().unwrap();
        let run = run_case(dir.path(), &Input::from_vector(&v));
        assert_eq!(run.code, EXIT_OK, "{}: {}{}", v.name, run.stdout, run.stderr);
        let j = json(&run);
        assert_eq!(j["trusted"], true, "{}", v.name);
        assert!(j["failed_check"].is_null());
        assert_eq!(j["report"]["measurement"], hex::encode(v.parsed().measurement), "{}", v.name);
        assert_eq!(j["report"]["vmpl"], v.parsed().vmpl, "{}", v.name);
    }
}

#[test]
fn every_refusal_case_is_refused_with_the_same_check_from_the_command_line() {
    let mut wrong = Vec::new();
    let mut ran = 0;
    for case in cases() {
        let input = (case.input)();
        if input.signer.is_none() {
            continue; // Without --vcek the CLI asks KDS: see tests/tests/snp_kds.rs.
        }
        ran += 1;
        let dir = tempfile::tempdir().unwrap();
        let run = run_case(dir.path(), &input);
        let j = json(&run);
        if run.code != EXIT_NOT_TRUSTED || j["trusted"] != false || j["failed_check"] != case.failed_check {
            wrong.push(format!("{}: exit {}, {}", case.name, run.code, run.stdout.trim()));
        }
        assert!(j["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", case.name);
    }
    assert!(ran >= 25, "{ran}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn human_output_lists_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let input = milan();
    let _ = run_case(dir.path(), &input);
    let d = dir.path().to_str().unwrap();
    let at = input.now.to_string();
    let (report, vcek, policy) = (format!("{d}/report.bin"), format!("{d}/vcek.der"), format!("{d}/policy.toml"));
    let run = |extra: &[&str]| {
        let mut args = vec!["verify-report", "--report", &report, "--vcek", &vcek, "--policy", &policy, "--at", &at];
        args.extend_from_slice(extra);
        cli(&args)
    };
    // Without --report-data a replayed report would pass: not trusted, and said first.
    let ok = run(&[]);
    assert_eq!(ok.code, EXIT_NOT_TRUSTED, "{}", ok.stderr);
    let first = ok.stdout.lines().next().unwrap();
    assert!(first.contains("binding not checked"), "{}", ok.stdout);
    assert!(ok.stdout.contains("FAIL binding"), "{}", ok.stdout);
    let unbound = run(&["--no-binding"]);
    assert_eq!(unbound.code, EXIT_OK, "{}", unbound.stderr);
    let mut lines = unbound.stdout.lines();
    assert!(lines.next().unwrap().starts_with("BINDING NOT CHECKED"), "{}", unbound.stdout);
    assert!(lines.next().unwrap().starts_with("TRUSTED (SEV-SNP, Milan, AMD ARK-Milan)"), "{}", unbound.stdout);
    std::fs::write(dir.path().join("policy.toml"), "vmpl = 2\nmeasurements = []\n").unwrap();
    let refused = run(&[]);
    assert_eq!(refused.code, EXIT_NOT_TRUSTED);
    assert!(refused.stdout.contains("FAIL policy"), "{}", refused.stdout);
}

#[test]
fn missing_files_and_bad_flags_are_bad_input_with_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let _ = run_case(dir.path(), &milan());
    let d = dir.path().to_str().unwrap();
    let base = |report: &str, policy: &str, extra: &[&str]| {
        let mut a = vec![
            "verify-report".to_owned(),
            "--report".into(),
            report.into(),
            "--vcek".into(),
            format!("{d}/vcek.der"),
            "--policy".into(),
            policy.into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        cli(&refs)
    };
    let cases = [
        (base(&format!("{d}/nope.bin"), &format!("{d}/policy.toml"), &[]), "nope.bin"),
        (base(&format!("{d}/report.bin"), &format!("{d}/nope.toml"), &[]), "nope.toml"),
        (base(&format!("{d}/report.bin"), &format!("{d}/policy.toml"), &["--report-data", "abc"]), "--report-data"),
    ];
    for (args, needle) in cases {
        let r = run(args);
        assert_eq!(r.code, EXIT_BAD_INPUT, "{needle}");
        assert!(r.stderr.contains(needle) && r.stderr.trim().lines().count() == 1, "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    std::fs::write(dir.path().join("policy.toml"), "measurments = []\n").unwrap();
    let r = run(base(&format!("{d}/report.bin"), &format!("{d}/policy.toml"), &[]));
    assert_eq!(r.code, EXIT_BAD_INPUT);
    assert!(r.stderr.contains("unknown field `measurments`"), "{}", r.stderr);
    let r = cli(&["verify-report", "--report", "x"]);
    assert_eq!(r.code, EXIT_BAD_INPUT);
    assert!(r.stderr.contains("--policy"), "{}", r.stderr);
    // Without --vcek the VCEK comes from KDS or the cache: offline, with nothing
    // cached, there is no verdict (3), said in one line.
    std::fs::write(dir.path().join("policy.toml"), "").unwrap();
    let (report, policy) = (format!("{d}/report.bin"), format!("{d}/policy.toml"));
    let r = cli(&["verify-report", "--report", &report, "--policy", &policy, "--no-binding", "--offline"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("--offline and no cached VCEK") && r.stderr.trim().lines().count() == 1, "{}", r.stderr);
}

/// A stored Intel TDX quote: told from an SEV-SNP report by its header, verified with
/// `--collateral` as of `--at`; `--json` names the TEE, the TCB status and the quote's
/// fields; the same quote today (stale collateral) is not trusted; without
/// `--collateral` and no PCS reachable there is no verdict (3); a VCEK is unusable input.
#[test]
fn a_stored_tdx_quote_is_verified_with_its_collateral_as_of_at() {
    let dir = tempfile::tempdir().unwrap();
    let data = cvmc_tests::data_dir().join("tdx");
    let quote = data.join("dcapqvl_tdx_quote");
    let collateral = data.join("dcapqvl_tdx_quote_collateral.json");
    let raw = std::fs::read(&quote).unwrap();
    let q = cvmc_protocol::tdx::Quote::parse(&raw).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, format!("[tdx]\nmrtd = [\"{}\"]\n", hex::encode(q.td.mr_td))).unwrap();
    let (quote, collateral, policy) = (quote.to_str().unwrap(), collateral.to_str().unwrap(), policy.to_str().unwrap());
    let rd = hex::encode(q.td.report_data);
    let base = ["verify-report", "--report", quote, "--collateral", collateral, "--policy", policy, "--json"];

    let mut args = base.to_vec();
    args.extend(["--at", "1751328000", "--report-data", &rd]);
    let r = cli(&args);
    assert_eq!(r.code, EXIT_OK, "{} {}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["tee"], "tdx");
    assert_eq!(v["tcb_status"], "UpToDate");
    assert_eq!(v["advisory_ids"], serde_json::json!([]));
    assert_eq!(v["quote"]["mrtd"], hex::encode(q.td.mr_td));
    assert_eq!(v["quote"]["td_attributes"]["sept_ve_disable"], true);
    assert_eq!(v["binding_checked"], true);

    let zeros = "00".repeat(64);
    let mut args = base.to_vec();
    args.extend(["--at", "1751328000", "--report-data", &zeros]);
    let r = cli(&args);
    assert_eq!(r.code, EXIT_NOT_TRUSTED, "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((v["failed_check"].as_str(), v["tee"].as_str()), (Some("binding"), Some("tdx")));
    assert_eq!(v["quote"]["mrtd"], hex::encode(q.td.mr_td), "a refusal still shows the quote");

    let mut args = base.to_vec();
    args.extend(["--report-data", &rd]);
    let r = cli(&args);
    assert_eq!(r.code, EXIT_NOT_TRUSTED, "today the collateral is stale: {}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(matches!(v["failed_check"].as_str(), Some("crl_stale" | "collateral_stale")), "{v}");

    // Without --collateral it is fetched; a PCS that cannot be reached means no verdict.
    let r = cli(&[
        "verify-report",
        "--report",
        quote,
        "--policy",
        policy,
        "--no-binding",
        "--pcs-url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("127.0.0.1:9") && r.stderr.trim().lines().count() == 1, "{}", r.stderr);
    let vcek = cvmc_tests::data_dir().join("snp").join("milan_vcek.pem");
    let r = cli(&[
        "verify-report",
        "--report",
        quote,
        "--policy",
        policy,
        "--no-binding",
        "--vcek",
        vcek.to_str().unwrap(),
    ]);
    assert_eq!(r.code, EXIT_BAD_INPUT, "a VCEK for a TDX quote: {}", r.stderr);
}

/// An Azure HCL report is told apart by its "HCLA" header. Made the paravisor's way
/// around a simulated report (with the test root in the policy), it is trusted with
/// `--report-data` equal to its user-data, and `--json` says `azure-sev-snp` and
/// shows the runtime claims; without `--report-data` the binding is not checked and
/// it is not trusted. The real Azure vector with the vector's certificates is refused
/// at its signature (they are another chip's), still labelled `azure-sev-snp`.
#[test]
fn a_stored_azure_hcl_report_is_verified_with_its_runtime_claims() {
    use cvmc_protocol::snp::product::Product;
    use cvmc_protocol::snp::report::SigningKey;
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let ca = cvmc_tests::sim_ca(Product::Milan);
    let leaf = ca.issue_leaf(&ca.default_leaf(SigningKey::Vcek)).unwrap();
    let claims = cvmc_tests::azure::claims(&[0x5a; 64], "VM-1");
    let hcl = w("hcl.bin", &cvmc_tests::azure::hcl_report(&leaf, &claims, &claims));
    let vcek = w("vcek.der", &leaf.cert_der());
    let ask = w("ask.der", &ca.ask_der());
    w("sim/ark.pem", der::EncodePem::to_pem(&ca.ark, der::pem::LineEnding::LF).unwrap().as_bytes());
    let measurement = leaf.report_template([0; 64]).measurement;
    let policy = format!("measurements = [\"{}\"]\ntrusted_roots = [\"sim/ark.pem\"]\n", hex::encode(measurement));
    let policy = w("policy.toml", policy.as_bytes());
    let user_data = hex::encode([0x5a; 64]);
    let base = ["verify-report", "--report", &hcl, "--vcek", &vcek, "--ask", &ask, "--policy", &policy, "--offline"];

    let mut args = base.to_vec();
    args.extend(["--json", "--report-data", &user_data]);
    let run = cli(&args);
    assert_eq!(run.code, EXIT_OK, "{}{}", run.stdout, run.stderr);
    let j = json(&run);
    assert_eq!(j["tee"], "azure-sev-snp");
    assert_eq!(j["runtime_claims"]["user_data"], user_data);
    assert_eq!(j["runtime_claims"]["vm_configuration"]["console-enabled"], false);
    assert!(j["runtime_claims"]["ak_pub"].as_str().unwrap().starts_with("SHA256:"));
    assert!(j["checks"].as_array().unwrap().iter().any(|c| c["check"] == "runtime_claims"), "{j}");

    // Another session's binding: refused by the user-data check.
    let other = hex::encode([0x5b; 64]);
    let mut args = base.to_vec();
    args.extend(["--json", "--report-data", &other]);
    let run = cli(&args);
    assert_eq!(run.code, EXIT_NOT_TRUSTED);
    assert_eq!(json(&run)["failed_check"], "runtime_claims_user_data");

    // No --report-data: the binding is not checked, so not trusted; the text says so.
    let run = cli(&base);
    assert_eq!(run.code, EXIT_NOT_TRUSTED, "{}", run.stdout);
    assert!(run.stdout.contains("binding"), "{}", run.stdout);
    let mut args = base.to_vec();
    args.push("--no-binding");
    let run = cli(&args);
    assert_eq!(run.code, EXIT_OK, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ok   runtime_claims"), "{}", run.stdout);

    // The real vector: refused at its signature, labelled azure-sev-snp.
    let data = |n: &str| format!("{}/data/azure/{n}", env!("CARGO_MANIFEST_DIR"));
    let real_policy = w("real.toml", b"measurements = []\n");
    let run = cli(&[
        "verify-report",
        "--report",
        &data("azcvm_hcl-report-snp.bin"),
        "--vcek",
        &data("azcvm_vcek.pem"),
        "--ask",
        &data("azcvm_ask.pem"),
        "--policy",
        &real_policy,
        "--at",
        "1700000000",
        "--json",
        "--offline",
        "--no-binding",
    ]);
    assert_eq!(run.code, EXIT_NOT_TRUSTED, "{}{}", run.stdout, run.stderr);
    let j = json(&run);
    assert_eq!((j["tee"].as_str(), j["check_group"].as_str()), (Some("azure-sev-snp"), Some("signature")), "{j}");
}
