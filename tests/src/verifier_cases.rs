//! The verifier's case table, shared by the library test and the command-line test
//! so that both refuse exactly the same inputs with the same check.

use cvm_consoled::sim::{LeafSpec, SimLeaf, now_unix};
use cvmc_protocol::policy::{Hex, Policy};
use cvmc_protocol::snp::certs::{AmdCert, ext};
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::{Report, SigningKey, offset};
use cvmc_protocol::snp::tcb::{RawTcb, Tcb};
use cvmc_protocol::snp::verify::policy_bits;
use cvmc_protocol::{ExpectedReportData, SnpCerts, TrustAnchors, Verified, VerifyError, verify_snp};

use crate::{Vector, cert_der, sim_ca, vector};

/// Everything one verification takes.
#[derive(Debug, Clone)]
pub struct Input {
    pub report: Vec<u8>,
    pub signer: Option<Vec<u8>>,
    pub intermediate: Option<Vec<u8>>,
    pub policy: Policy,
    /// PEM of the simulated root the policy's `trusted_roots` names, if any.
    pub sim_root_pem: Option<String>,
    pub expected: ExpectedReportData,
    pub now: u64,
}

impl Input {
    /// A real vector with a policy that accepts it.
    pub fn from_vector(v: &Vector) -> Self {
        Self {
            report: v.report.clone(),
            signer: Some(v.signer.clone()),
            intermediate: v.intermediate.clone(),
            policy: v.policy(),
            sim_root_pem: None,
            expected: ExpectedReportData::Exact(v.parsed().report_data),
            now: v.now(),
        }
    }

    /// The trust anchors: AMD's, plus the simulated root when the case has one.
    pub fn anchors(&self) -> TrustAnchors {
        match &self.sim_root_pem {
            Some(pem) => TrustAnchors::with_extra_roots([("sim/ark.pem", pem.as_bytes())]).expect("sim root"),
            None => TrustAnchors::amd(),
        }
    }

    /// Run the verifier.
    pub fn run(&self) -> Result<Verified, VerifyError> {
        let certs = SnpCerts { signer: self.signer.as_deref(), intermediate: self.intermediate.as_deref() };
        verify_snp(&self.report, certs, &self.expected, &self.policy, &self.anchors(), self.now)
    }
}

/// The real vector most cases start from.
pub const MILAN_V3: &str = "milan v3";

/// The Milan v3 vector, accepted as is.
pub fn milan() -> Input {
    Input::from_vector(&vector(MILAN_V3))
}

/// Flip the low bit of one byte.
pub fn flip(bytes: &mut [u8], at: usize) {
    bytes[at] ^= 0x01;
}

/// A simulated report, signed by a leaf issued with `leaf` changes and carrying
/// `report` changes, with a policy and anchors that otherwise accept it.
pub fn sim(
    product: Product,
    kind: SigningKey,
    leaf: impl FnOnce(&mut LeafSpec),
    report: impl FnOnce(&mut Report),
) -> Input {
    let ca = sim_ca(product);
    let mut spec = ca.default_leaf(kind);
    leaf(&mut spec);
    let signer: SimLeaf = ca.issue_leaf(&spec).expect("leaf");
    let mut r = signer.report_template([7; 64]);
    report(&mut r);
    let mut policy = Policy { measurements: vec![Hex(r.measurement)], ..Policy::default() };
    policy.trusted_roots = vec!["sim/ark.pem".into()];
    Input {
        report: signer.sign(&r),
        signer: Some(signer.cert_der()),
        intermediate: Some(if kind == SigningKey::Vlek { ca.asvk_der() } else { ca.ask_der() }),
        policy,
        sim_root_pem: Some(der::EncodePem::to_pem(&ca.ark, der::pem::LineEnding::LF).expect("pem")),
        expected: ExpectedReportData::Exact([7; 64]),
        now: now_unix(),
    }
}

/// The same input with the simulated root removed from the policy and anchors.
pub fn without_sim_root(mut input: Input) -> Input {
    input.sim_root_pem = None;
    input.policy.trusted_roots.clear();
    input
}

/// A healthy simulated Milan report with `report` changes.
pub fn sim_milan(report: impl FnOnce(&mut Report)) -> Input {
    sim(Product::Milan, SigningKey::Vcek, |_| {}, report)
}

/// One refusal: its name, how to build the input, the expected `VerifyError::name()`.
#[derive(Debug)]
pub struct Case {
    /// What is wrong.
    pub name: &'static str,
    /// Builds the input.
    pub input: fn() -> Input,
    /// The expected `VerifyError::name()`.
    pub failed_check: &'static str,
}

/// The table: at least 25 refusals, each with its own check.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "flipped byte in MEASUREMENT (signed body)",
            failed_check: "report_signature",
            input: || {
                let mut i = milan();
                flip(&mut i.report, offset::MEASUREMENT);
                i
            },
        },
        Case {
            name: "flipped byte in REPORT_DATA (signed body)",
            failed_check: "report_signature",
            input: || {
                let mut i = milan();
                flip(&mut i.report, offset::REPORT_DATA + 5);
                i
            },
        },
        Case {
            name: "flipped byte in the last signed byte",
            failed_check: "report_signature",
            input: || {
                let mut i = milan();
                flip(&mut i.report, offset::CHIP_ID + 63);
                i
            },
        },
        Case {
            name: "flipped byte in signature r",
            failed_check: "report_signature",
            input: || {
                let mut i = milan();
                flip(&mut i.report, offset::SIGNATURE);
                i
            },
        },
        Case {
            name: "flipped byte in signature s",
            failed_check: "report_signature",
            input: || {
                let mut i = milan();
                flip(&mut i.report, offset::SIGNATURE + 72 + 10);
                i
            },
        },
        Case {
            name: "flipped byte in the VCEK's signature",
            failed_check: "chain_signature",
            input: || {
                let mut i = milan();
                let s = i.signer.as_mut().unwrap();
                let n = s.len();
                flip(s, n - 1);
                i
            },
        },
        Case {
            name: "flipped byte in the VCEK's public key",
            failed_check: "chain_signature",
            input: || {
                let mut i = milan();
                let s = i.signer.as_mut().unwrap();
                let at = find(s, &[0x00, 0x04]).expect("SEC1 point") + 20;
                flip(s, at);
                i
            },
        },
        Case {
            name: "flipped byte in the ASK's signature",
            failed_check: "root",
            input: || {
                let mut i = milan();
                let a = i.intermediate.as_mut().unwrap();
                let n = a.len();
                flip(a, n - 1);
                i
            },
        },
        Case {
            name: "flipped byte in the ASK's modulus",
            failed_check: "chain_signature",
            input: || {
                let mut i = milan();
                flip(i.intermediate.as_mut().unwrap(), 400);
                i
            },
        },
        Case {
            name: "garbage VCEK",
            failed_check: "certificate_decode",
            input: || {
                let mut i = milan();
                i.signer = Some(vec![0x30, 0x03, 1, 2, 3]);
                i
            },
        },
        Case {
            name: "no VCEK at all",
            failed_check: "missing_certificate",
            input: || {
                let mut i = milan();
                i.signer = None;
                i
            },
        },
        Case {
            name: "wrong product's intermediate (Genoa ASK under a Milan report)",
            failed_check: "certificate_name",
            input: || {
                let mut i = milan();
                i.intermediate = Some(cert_der("genoa_ask.pem"));
                i
            },
        },
        Case {
            name: "wrong product's certificates (Milan VCEK for a Genoa report)",
            failed_check: "product",
            input: || {
                let mut i = Input::from_vector(&vector("genoa v3"));
                i.signer = Some(cert_der("milan_vcek.pem"));
                i
            },
        },
        Case {
            name: "simulated root not in the policy",
            failed_check: "root",
            input: || without_sim_root(sim_milan(|_| {})),
        },
        Case {
            name: "VLEK presented as VCEK",
            failed_check: "signing_key",
            input: || {
                let mut i = milan();
                i.signer = Some(cert_der("trustee_test-vlek.der"));
                i
            },
        },
        Case {
            name: "VCEK presented as VLEK",
            failed_check: "signing_key",
            input: || {
                let mut i = Input::from_vector(&vector("milan v3 VLEK (trustee, built-in ASVK)"));
                i.signer = Some(cert_der("milan_vcek.pem"));
                i
            },
        },
        Case {
            name: "VCEK without ucodeSPL extension",
            failed_check: "missing_extension",
            input: || sim(Product::Milan, SigningKey::Vcek, |l| l.omit.push(ext::UCODE_SPL), |_| {}),
        },
        Case {
            name: "VCEK without hwID extension",
            failed_check: "missing_extension",
            input: || sim(Product::Milan, SigningKey::Vcek, |l| l.omit.push(ext::HWID), |_| {}),
        },
        Case {
            name: "Turin VCEK without fmcSPL extension",
            failed_check: "missing_extension",
            input: || sim(Product::Turin, SigningKey::Vcek, |l| l.omit.push(ext::FMC_SPL), |_| {}),
        },
        Case {
            name: "VLEK without CSP_ID extension",
            failed_check: "missing_extension",
            input: || sim(Product::Milan, SigningKey::Vlek, |l| l.omit.push(ext::CSP_ID), |_| {}),
        },
        Case {
            name: "VCEK issued for another SNP SPL",
            failed_check: "tcb_extension",
            input: || {
                sim(
                    Product::Milan,
                    SigningKey::Vcek,
                    |l| l.tcb.snp += 1,
                    |r| r.reported_tcb = retcb(r, Product::Milan, |t| t.snp -= 1),
                )
            },
        },
        Case {
            name: "Turin VCEK issued for another FMC SPL",
            failed_check: "tcb_extension",
            input: || {
                sim(
                    Product::Turin,
                    SigningKey::Vcek,
                    |l| l.tcb.fmc = Some(9),
                    |r| r.reported_tcb = retcb(r, Product::Turin, |t| t.fmc = Some(1)),
                )
            },
        },
        Case {
            name: "VCEK of another chip (HWID mismatch)",
            failed_check: "hwid",
            input: || sim_milan(|r| r.chip_id[0] ^= 0xff),
        },
        Case {
            name: "Turin: bytes after the 8-byte chip id",
            failed_check: "hwid",
            input: || sim(Product::Turin, SigningKey::Vcek, |_| {}, |r| r.chip_id[20] = 1),
        },
        Case {
            name: "masked CHIP_ID with a VCEK",
            failed_check: "hwid",
            input: || {
                sim_milan(|r| {
                    r.mask_chip_key = true;
                    r.chip_id = [0; 64];
                })
            },
        },
        Case { name: "debug guest", failed_check: "debug", input: || sim_milan(|r| r.policy |= policy_bits::DEBUG) },
        Case {
            name: "migration agent allowed",
            failed_check: "migration_agent",
            input: || sim_milan(|r| r.policy |= policy_bits::MIGRATE_MA),
        },
        Case {
            name: "SMT forbidden by the trust policy",
            failed_check: "smt",
            input: || {
                let mut i = milan();
                i.policy.allow_smt = false;
                i
            },
        },
        Case {
            name: "single socket required",
            failed_check: "single_socket",
            input: || {
                let mut i = milan();
                i.policy.require_single_socket = true;
                i
            },
        },
        Case {
            name: "ABI below minimum",
            failed_check: "abi",
            input: || {
                let mut i = milan();
                i.policy.min_abi.major = 1;
                i
            },
        },
        Case {
            name: "wrong VMPL",
            failed_check: "vmpl",
            input: || {
                let mut i = milan();
                i.policy.vmpl = 1;
                i
            },
        },
        Case {
            name: "TCB below minimum (snp)",
            failed_check: "min_tcb",
            input: || {
                let mut i = milan();
                i.policy.min_tcb.snp = 0x19;
                i
            },
        },
        Case {
            name: "TCB below minimum (microcode)",
            failed_check: "min_tcb",
            input: || {
                let mut i = milan();
                i.policy.min_tcb.microcode = 0xdc;
                i
            },
        },
        Case {
            name: "guest SVN below minimum",
            failed_check: "guest_svn",
            input: || {
                let mut i = milan();
                i.policy.min_guest_svn = 3;
                i
            },
        },
        Case {
            name: "measurement not allowed",
            failed_check: "measurement",
            input: || {
                let mut i = milan();
                i.policy.measurements = vec![Hex([0x11; 48])];
                i
            },
        },
        Case {
            name: "no measurement pinned",
            failed_check: "measurement_not_pinned",
            input: || {
                let mut i = milan();
                i.policy.measurements.clear();
                i
            },
        },
        Case {
            name: "host_data mismatch",
            failed_check: "host_data",
            input: || {
                let mut i = milan();
                i.policy.host_data = Some(Hex([1; 32]));
                i
            },
        },
        Case {
            name: "chip id not in the allow-list",
            failed_check: "chip_id",
            input: || {
                let mut i = milan();
                i.policy.chip_ids = vec![Hex([2; 64])];
                i
            },
        },
        Case {
            name: "REPORT_DATA mismatch (binding)",
            failed_check: "binding",
            input: || {
                let mut i = milan();
                i.expected = ExpectedReportData::Exact([0x5a; 64]);
                i
            },
        },
        Case {
            name: "truncated report",
            failed_check: "report_size",
            input: || {
                let mut i = milan();
                i.report.pop();
                i
            },
        },
        Case {
            name: "oversized report",
            failed_check: "report_size",
            input: || {
                let mut i = milan();
                i.report.push(0);
                i
            },
        },
        Case {
            name: "empty report",
            failed_check: "report_size",
            input: || {
                let mut i = milan();
                i.report.clear();
                i
            },
        },
        Case {
            name: "non-zero reserved byte (0x1F8, v3)",
            failed_check: "reserved_bytes",
            input: || {
                let mut i = milan();
                i.report[offset::LAUNCH_MIT_VECTOR] = 1;
                i
            },
        },
        Case {
            name: "non-zero reserved byte in the signature padding",
            failed_check: "reserved_bytes",
            input: || {
                let mut i = milan();
                let n = i.report.len();
                i.report[n - 1] = 1;
                i
            },
        },
        Case {
            name: "non-zero high byte of r",
            failed_check: "reserved_bytes",
            input: || {
                let mut i = milan();
                i.report[offset::SIGNATURE + 60] = 1;
                i
            },
        },
        Case {
            name: "unknown version 4",
            failed_check: "report_version",
            input: || {
                let mut i = milan();
                i.report[offset::VERSION] = 4;
                i
            },
        },
        Case {
            name: "signature algorithm 2",
            failed_check: "signature_algorithm",
            input: || {
                let mut i = milan();
                i.report[offset::SIGNATURE_ALGO] = 2;
                i
            },
        },
        Case {
            name: "VCEK expired (now after notAfter)",
            failed_check: "certificate_validity",
            input: || {
                let mut i = milan();
                let vcek = AmdCert::from_der("VCEK", i.signer.as_ref().unwrap()).unwrap();
                i.now = vcek.validity().1 + 1;
                i
            },
        },
        Case {
            name: "VCEK not yet valid",
            failed_check: "certificate_validity",
            input: || {
                let mut i = milan();
                let vcek = AmdCert::from_der("VCEK", i.signer.as_ref().unwrap()).unwrap();
                i.now = vcek.validity().0 - 1;
                i
            },
        },
        Case {
            name: "real VLEK at a date after it expired (2026-11-26)",
            failed_check: "certificate_validity",
            input: || {
                let mut i = Input::from_vector(&vector("milan v3 VLEK (trustee, built-in ASVK)"));
                i.now = 1_795_651_200;
                i
            },
        },
        Case {
            name: "simulated VCEK expired",
            failed_check: "certificate_validity",
            input: || sim(Product::Milan, SigningKey::Vcek, |l| l.validity = (1_600_000_000, 1_700_000_000), |_| {}),
        },
    ]
}

/// The report's REPORTED_TCB with one change, re-encoded for the product.
pub fn retcb(r: &Report, product: Product, change: impl FnOnce(&mut Tcb)) -> RawTcb {
    let mut t = r.reported_tcb.decode(product).expect("template TCB decodes");
    change(&mut t);
    t.encode(product)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
