//! Shared helpers for cvm-console's cross-crate tests: the real AMD vectors under
//! `tests/data/snp/`, policies that match them, and cached simulated chains (RSA-4096
//! key generation takes seconds, so each test binary makes one chain per product).

// Test-support code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

pub mod azure;
pub mod bent;
pub mod cli;
pub mod console_driver;
pub mod guest;
pub mod hostile;
pub mod kds_server;
pub mod loopback_http;
pub mod pcs_server;
pub mod proxy;
pub mod relay;
pub mod server_process;
pub mod verifier_cases;
pub mod vnc_view;
pub mod xvnc;

use std::path::PathBuf;
use std::sync::OnceLock;

use cvm_consoled::sim::SimCa;
use cvmc_protocol::policy::{Hex, Policy};
use cvmc_protocol::snp::certs::AmdCert;
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::Report;

/// `tests/data`.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Read a file under `tests/data/snp`.
pub fn snp_file(name: &str) -> Vec<u8> {
    let p = data_dir().join("snp").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// DER of the first certificate in a PEM file, or the file itself if it is DER.
pub fn cert_der(name: &str) -> Vec<u8> {
    let bytes = snp_file(name);
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => first_pem_der(text),
        _ => bytes,
    }
}

/// DER of the first PEM certificate block in `text`.
pub fn first_pem_der(text: &str) -> Vec<u8> {
    let start = text.find("-----BEGIN CERTIFICATE-----").expect("PEM block");
    let end = text[start..].find("-----END CERTIFICATE-----").expect("PEM end") + start + 25;
    let (_, der) = der::pem::decode_vec(&text.as_bytes()[start..end]).expect("PEM decodes");
    der
}

/// One real report with the certificates that sign it.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Short name for messages.
    pub name: &'static str,
    /// The 1184 report bytes.
    pub report: Vec<u8>,
    /// VCEK or VLEK DER.
    pub signer: Vec<u8>,
    /// ASK DER if the vector ships one (else AMD's built-in one is used).
    pub intermediate: Option<Vec<u8>>,
    /// Product line.
    pub product: Product,
    /// The report comes from provisional firmware (COMMITTED_TCB below CURRENT_TCB):
    /// it is accepted only with `allow_provisional_firmware`.
    pub provisional_firmware: bool,
}

impl Vector {
    /// The parsed report.
    pub fn parsed(&self) -> Report {
        Report::parse(&self.report).expect("vector parses")
    }

    /// A policy that pins exactly this report's measurement and VMPL.
    pub fn policy(&self) -> Policy {
        let r = self.parsed();
        Policy {
            measurements: vec![Hex(r.measurement)],
            vmpl: r.vmpl,
            allow_provisional_firmware: self.provisional_firmware,
            ..Policy::default()
        }
    }

    /// A time inside every certificate's validity: a day after the signer's notBefore.
    pub fn now(&self) -> u64 {
        AmdCert::from_der("signer", &self.signer).expect("signer parses").validity().0 + 86_400
    }

    /// The certificates as the verifier takes them.
    pub fn certs(&self) -> cvmc_protocol::SnpCerts<'_> {
        cvmc_protocol::SnpCerts { signer: Some(&self.signer), intermediate: self.intermediate.as_deref(), crl: None }
    }
}

/// Every real report vector in `tests/data/snp` (see its README).
pub fn vectors() -> Vec<Vector> {
    let hex_report = hex::decode(String::from_utf8(snp_file("report_milan.hex")).expect("utf8").trim()).expect("hex");
    vec![
        Vector {
            name: "milan v2 (virtee)",
            report: hex_report,
            signer: cert_der("vcek_milan.der"),
            intermediate: Some(cert_der("cert_chain_milan")),
            product: Product::Milan,
            provisional_firmware: false,
        },
        Vector {
            name: "milan v3",
            report: snp_file("milan_attestation_report.bin"),
            signer: cert_der("milan_vcek.pem"),
            intermediate: Some(cert_der("milan_ask.pem")),
            product: Product::Milan,
            provisional_firmware: false,
        },
        Vector {
            name: "genoa v3",
            report: snp_file("genoa_attestation_report.bin"),
            signer: cert_der("genoa_vcek.pem"),
            intermediate: Some(cert_der("genoa_ask.pem")),
            product: Product::Genoa,
            provisional_firmware: false,
        },
        Vector {
            name: "turin v5",
            report: snp_file("turin_attestation_report.bin"),
            signer: cert_der("turin_vcek.pem"),
            intermediate: Some(cert_der("turin_ask.pem")),
            product: Product::Turin,
            provisional_firmware: false,
        },
        Vector {
            name: "milan v2 (trustee, built-in ASK)",
            report: snp_file("trustee_test-report.bin"),
            signer: cert_der("trustee_test-vcek.der"),
            intermediate: None,
            product: Product::Milan,
            provisional_firmware: true,
        },
        Vector {
            name: "milan v3 VLEK (trustee, built-in ASVK)",
            report: snp_file("trustee_test-vlek-report.bin"),
            signer: cert_der("trustee_test-vlek.der"),
            intermediate: None,
            product: Product::Milan,
            provisional_firmware: true,
        },
    ]
}

/// The vector with this name.
pub fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no vector {name}"))
}

/// A simulated CA per product, made once per test binary.
pub fn sim_ca(product: Product) -> &'static SimCa {
    static MILAN: OnceLock<SimCa> = OnceLock::new();
    static TURIN: OnceLock<SimCa> = OnceLock::new();
    let cell = match product {
        Product::Turin => &TURIN,
        _ => &MILAN,
    };
    cell.get_or_init(|| SimCa::generate(product).expect("simulated CA"))
}

/// Trust anchors that include a simulated CA's root.
pub fn sim_anchors(ca: &SimCa) -> cvmc_protocol::TrustAnchors {
    let pem = der::EncodePem::to_pem(&ca.ark, der::pem::LineEnding::LF).expect("pem");
    cvmc_protocol::TrustAnchors::with_extra_roots([("sim/ark.pem", pem.as_bytes())]).expect("sim root")
}
