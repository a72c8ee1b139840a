//! The verifier's case table, shared by the library test and the command-line test
//! so that both refuse exactly the same inputs with the same check.

use cvm_consoled::sim::{LeafSpec, SimLeaf, now_unix};
use cvmc_protocol::policy::{Hex, Policy, Revocation};
use cvmc_protocol::snp::certs::{AmdCert, ext};
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::{Report, SigningKey, offset};
use cvmc_protocol::snp::tcb::{RawTcb, Tcb};
use cvmc_protocol::snp::verify::{platform_bits, policy_bits};
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
    /// AMD's CRL for the product, DER.
    pub crl: Option<Vec<u8>>,
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
            crl: None,
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
        let certs = SnpCerts {
            signer: self.signer.as_deref(),
            intermediate: self.intermediate.as_deref(),
            crl: self.crl.as_deref(),
        };
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
        crl: None,
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
            name: "masked CHIP_ID (all zero, MASK_CHIP_ID) with a VCEK",
            failed_check: "hwid",
            input: || sim_milan(|r| r.chip_id = [0; 64]),
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
        Case {
            name: "LAUNCH, COMMITTED and CURRENT TCB all zero (REPORTED above CURRENT)",
            failed_check: "reported_tcb",
            input: || {
                sim_milan(|r| {
                    r.launch_tcb = RawTcb([0; 8]);
                    r.committed_tcb = RawTcb([0; 8]);
                    r.current_tcb = RawTcb([0; 8]);
                })
            },
        },
        Case {
            name: "committed firmware 1.51.3 running as 1.58.10",
            failed_check: "provisional_firmware",
            input: || {
                sim_milan(|r| {
                    r.committed_version = (1, 51, 3);
                    r.current_version = (1, 58, 10);
                })
            },
        },
        Case {
            name: "COMMITTED_TCB below CURRENT_TCB (provisional microcode)",
            failed_check: "provisional_firmware",
            input: || sim_milan(|r| r.committed_tcb = retcb(r, Product::Milan, |t| t.microcode -= 1)),
        },
        Case {
            name: "COMMITTED_TCB above CURRENT_TCB even with provisional firmware allowed",
            failed_check: "provisional_firmware",
            input: || {
                let mut i = sim_milan(|r| r.committed_tcb = retcb(r, Product::Milan, |t| t.snp += 1));
                i.policy.allow_provisional_firmware = true;
                i
            },
        },
        Case {
            name: "LAUNCH_TCB below min_launch_tcb",
            failed_check: "min_launch_tcb",
            input: || {
                let mut i = sim_milan(|r| r.launch_tcb = retcb(r, Product::Milan, |t| t.snp = 0x10));
                i.policy.min_launch_tcb.snp = 0x18;
                i
            },
        },
        Case {
            name: "COMMITTED_TCB below min_committed_tcb",
            failed_check: "min_committed_tcb",
            input: || {
                let mut i = sim_milan(|_| {});
                i.policy.min_committed_tcb.microcode = 0xdc;
                i
            },
        },
        Case {
            name: "running firmware build below min_build",
            failed_check: "min_build",
            input: || {
                let mut i = sim_milan(|_| {});
                i.policy.min_build = 30;
                i
            },
        },
        Case {
            name: "running firmware API version below min_version",
            failed_check: "min_version",
            input: || {
                let mut i = sim_milan(|_| {});
                i.policy.min_version = cvmc_protocol::policy::MinAbi { major: 1, minor: 56 };
                i
            },
        },
        Case {
            name: "guest policy bit 17 clear",
            failed_check: "guest_policy_reserved",
            input: || sim_milan(|r| r.policy &= !policy_bits::RESERVED_MUST_BE_ONE),
        },
        Case {
            name: "guest policy must-be-zero bit 40 set",
            failed_check: "guest_policy_reserved",
            input: || sim_milan(|r| r.policy |= 1 << 40),
        },
        Case {
            name: "guest policy CXL_ALLOW",
            failed_check: "cxl",
            input: || sim_milan(|r| r.policy |= policy_bits::CXL_ALLOW),
        },
        Case {
            name: "MEM_AES_256_XTS required, guest policy lacks it",
            failed_check: "mem_aes_256_xts",
            input: || {
                let mut i = sim_milan(|_| {});
                i.policy.require_mem_aes_256_xts = true;
                i
            },
        },
        Case {
            name: "PAGE_SWAP_DISABLE required, guest policy lacks it",
            failed_check: "page_swap_disable",
            input: || {
                let mut i = sim_milan(|_| {});
                i.policy.require_page_swap_disable = true;
                i
            },
        },
        Case {
            name: "PLATFORM_INFO all ones",
            failed_check: "platform_info_reserved",
            input: || sim_milan(|r| r.platform_info = u64::MAX),
        },
        Case {
            name: "SMT_EN set, the trust policy forbids it",
            failed_check: "platform_info",
            input: || {
                let mut i = sim_milan(|r| r.platform_info |= platform_bits::SMT_EN);
                i.policy.platform_info.smt_en = Some(false);
                i
            },
        },
        Case {
            name: "TSME_EN clear, the trust policy requires it",
            failed_check: "platform_info",
            input: || {
                let mut i = sim_milan(|r| r.platform_info &= !platform_bits::TSME_EN);
                i.policy.platform_info.tsme_en = Some(true);
                i
            },
        },
        Case {
            name: "required mitigations on a version 3 report (no mitigation vector)",
            failed_check: "mitigation_vector",
            input: || {
                let mut i = sim_milan(|_| {});
                i.policy.required_mitigations = 1;
                i
            },
        },
        Case {
            name: "required mitigation bit missing from CURRENT_MIT_VECTOR (Turin v5)",
            failed_check: "mitigation_vector",
            input: || {
                let mut i = sim(Product::Turin, SigningKey::Vcek, |_| {}, |_| {});
                i.policy.required_mitigations = 1 << 8;
                i
            },
        },
        Case {
            name: "KEY_INFO.MASK_CHIP_KEY set on a VCEK report",
            failed_check: "mask_chip_key",
            input: || sim_milan(|r| r.mask_chip_key = true),
        },
        Case {
            name: "CRL lists the ASK",
            failed_check: "revoked",
            input: || with_crl(sim_milan(|_| {}), Listed::Intermediate, CrlTime::Current, Revocation::IfAvailable),
        },
        Case {
            name: "CRL lists the VCEK",
            failed_check: "revoked",
            input: || with_crl(sim_milan(|_| {}), Listed::Signer, CrlTime::Current, Revocation::IfAvailable),
        },
        Case {
            name: "stale CRL listing the ASK still revokes under if-available",
            failed_check: "revoked",
            input: || with_crl(sim_milan(|_| {}), Listed::Intermediate, CrlTime::Stale, Revocation::IfAvailable),
        },
        Case {
            name: "stale CRL under revocation = require",
            failed_check: "crl_stale",
            input: || with_crl(sim_milan(|_| {}), Listed::Nothing, CrlTime::Stale, Revocation::Require),
        },
        Case {
            name: "no CRL under revocation = require",
            failed_check: "crl_missing",
            input: || {
                let mut i = sim_milan(|_| {});
                i.policy.revocation = Revocation::Require;
                i
            },
        },
        Case {
            name: "CRL signed by another product's test root",
            failed_check: "crl",
            input: || {
                let mut i = sim_milan(|_| {});
                let now = now_unix();
                i.crl = Some(sim_ca(Product::Turin).crl(&[], (now - 3600, now + 3600)).expect("crl"));
                i
            },
        },
        Case {
            name: "CRL with a flipped signature byte",
            failed_check: "crl",
            input: || {
                let mut i = with_crl(sim_milan(|_| {}), Listed::Nothing, CrlTime::Current, Revocation::Require);
                let crl = i.crl.as_mut().expect("crl");
                let last = crl.len() - 1;
                crl[last] ^= 1;
                i
            },
        },
        Case {
            name: "truncated CRL",
            failed_check: "crl",
            input: || {
                let mut i = with_crl(sim_milan(|_| {}), Listed::Nothing, CrlTime::Current, Revocation::Require);
                i.crl.as_mut().expect("crl").truncate(100);
                i
            },
        },
    ]
}

/// Which certificate a test CRL lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// None of the chain.
    Nothing,
    /// The ASK or ASVK.
    Intermediate,
    /// The VCEK or VLEK.
    Signer,
}

/// Whether a test CRL is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlTime {
    /// thisUpdate an hour ago, nextUpdate in an hour.
    Current,
    /// nextUpdate a day ago.
    Stale,
}

/// A simulated input with a CRL from its simulated ARK and the given policy mode.
pub fn with_crl(mut input: Input, listed: Listed, time: CrlTime, mode: Revocation) -> Input {
    use der::Decode;
    let ca = sim_ca(Product::Milan);
    let signer = x509_cert::Certificate::from_der(input.signer.as_deref().expect("signer")).expect("signer DER");
    let intermediate =
        x509_cert::Certificate::from_der(input.intermediate.as_deref().expect("intermediate")).expect("DER");
    let revoked: Vec<&x509_cert::Certificate> = match listed {
        Listed::Nothing => vec![],
        Listed::Intermediate => vec![&intermediate],
        Listed::Signer => vec![&signer],
    };
    let now = now_unix();
    let window = match time {
        CrlTime::Current => (now - 3600, now + 3600),
        CrlTime::Stale => (now - 3 * 86_400, now - 86_400),
    };
    input.crl = Some(ca.crl(&revoked, window).expect("crl"));
    input.policy.revocation = mode;
    input
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
