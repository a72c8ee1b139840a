//! `cvm-consoled sim-init DIR`, run as a user would: the files it promises, their
//! modes, and that evidence signed with the chain passes the client's verifier
//! with the policy it wrote — and only with it.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use cvmc_protocol::policy::Policy;
use cvmc_protocol::{ExpectedReportData, SnpCerts, TrustAnchors, verify_snp};

#[test]
fn sim_init_writes_a_chain_a_server_config_and_a_policy_that_trusts_it() {
    let dir = std::env::temp_dir().join(format!("cvmc-siminit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_cvm-consoled")).arg("sim-init").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT CONFIDENTIAL"));
    for f in ["ark.pem", "ask.pem", "asvk.pem", "vcek.pem", "vcek-TEST-KEY.pem", "server.toml", "policy.toml"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("vcek-TEST-KEY.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let server =
        cvm_consoled::config::ServerConfig::from_toml(&std::fs::read_to_string(dir.join("server.toml")).unwrap())
            .unwrap();
    assert_eq!(server.evidence, cvm_consoled::config::EvidenceKind::Simulated);

    let policy = Policy::from_toml(&std::fs::read_to_string(dir.join("policy.toml")).unwrap()).unwrap();
    assert_eq!(policy.trusted_roots, vec!["ark.pem".to_owned()]);
    let ark = std::fs::read(dir.join("ark.pem")).unwrap();
    let anchors = TrustAnchors::with_extra_roots([("ark.pem", ark.as_slice())]).unwrap();

    let files = cvm_consoled::siminit::load(&dir).unwrap();
    let report = files.leaf.sign(&files.leaf.report_template([0x42; 64]));
    let cert = files.leaf.cert_der();
    let certs = SnpCerts { signer: Some(&cert), intermediate: Some(&files.ask_der), crl: None };
    let now = cvm_consoled::sim::now_unix();
    let v = verify_snp(&report, certs, &ExpectedReportData::Exact([0x42; 64]), &policy, &anchors, now).unwrap();
    assert!(v.simulated());
    let refused =
        verify_snp(&report, certs, &ExpectedReportData::Exact([0x42; 64]), &policy, &TrustAnchors::amd(), now);
    assert_eq!(refused.unwrap_err().name(), "root");

    // A second sim-init into the same directory refuses to overwrite the chain.
    let again = Command::new(env!("CARGO_BIN_EXE_cvm-consoled")).arg("sim-init").arg(&dir).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    std::fs::remove_dir_all(&dir).ok();
}
