//! Evidence as a hostile host or a non-compliant guest bends it: an evidence provider
//! that signs reports with the test CA of [`crate::sim_ca`] and then forges, replays or
//! mislabels them, or sets policy bits the client's trust policy forbids; and, for
//! Azure, HCL reports made the paravisor's way and then bent.

use std::sync::{Mutex, OnceLock};

use cvm_consoled::evidence::{EvidenceError, EvidenceProvider, RawEvidence};
use cvm_consoled::sim::SimLeaf;
use cvmc_protocol::evidence::{CertEntry, CertKind, Tee};
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::{Report, SigningKey, offset};
use cvmc_protocol::snp::tcb::RawTcb;
use cvmc_protocol::snp::verify::policy_bits;

use crate::sim_ca;

/// How the guest's evidence is bent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bend {
    /// An honest report (the policy, or the path to the guest, does the attacking).
    Honest,
    /// Flip a byte of the signed report after signing.
    Forged,
    /// Serve the report made for the guest's first session to every later one.
    OtherSession,
    /// A VCEK-signed report presented with a VLEK.
    VlekForVcek,
    /// The guest policy allows debugging.
    Debug,
    /// The guest policy allows a migration agent.
    MigrationAgent,
    /// LAUNCH, COMMITTED and CURRENT TCB all zero (REPORTED untouched).
    ZeroTcbs,
    /// Committed firmware 1.51 build 3 running as 1.58 build 10.
    ProvisionalFirmware,
    /// Guest policy bit 17 (must be one) clear.
    PolicyBit17Clear,
    /// A must-be-zero guest policy bit (40) set.
    PolicyMbz,
    /// Guest policy CXL_ALLOW.
    Cxl,
    /// PLATFORM_INFO all ones.
    PlatformInfoAllOnes,
    /// Azure: an honest HCL report whose runtime claims were edited afterwards.
    AzureEditedClaims,
    /// Azure: the HCL report made for the guest's first session, served to every later one.
    AzureOtherSession,
    /// Azure: this session's claims around another VM's SNP report (which hashes that
    /// VM's claims).
    AzureOtherVm,
    /// Azure: an honest HCL report (the policy pins another AK).
    AzureHonest,
}

/// The test CA's report signers, with the ASK that issued the VCEK.
#[derive(Debug)]
pub struct Keys {
    /// A VCEK.
    pub vcek: SimLeaf,
    /// A VLEK.
    pub vlek: SimLeaf,
    /// The ASK that issued the VCEK.
    pub ask: Vec<u8>,
}

/// The leaves of [`crate::sim_ca`]`(Milan)`, made once (RSA-4096 key generation takes seconds).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ca = sim_ca(Product::Milan);
        Keys {
            vcek: ca.issue_leaf(&ca.default_leaf(SigningKey::Vcek)).unwrap(),
            vlek: ca.issue_leaf(&ca.default_leaf(SigningKey::Vlek)).unwrap(),
            ask: ca.ask_der(),
        }
    })
}

/// An evidence provider that bends its reports the way a compromised or non-compliant
/// guest (or a hostile host feeding it) would.
#[derive(Debug)]
pub struct BentProvider {
    bend: Bend,
    earlier: Mutex<Option<Vec<u8>>>,
}

impl BentProvider {
    /// A provider that bends every report the same way.
    pub fn new(bend: Bend) -> Self {
        Self { bend, earlier: Mutex::default() }
    }
}

impl EvidenceProvider for BentProvider {
    fn name(&self) -> &'static str {
        "bent (test)"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        let k = keys();
        let certs = |leaf: &SimLeaf, ask: &[u8]| {
            vec![
                CertEntry { kind: CertKind::VCEK, der: leaf.cert_der() },
                CertEntry { kind: CertKind::ASK, der: ask.to_vec() },
            ]
        };
        let signed = |leaf: &SimLeaf, change: &dyn Fn(&mut Report)| {
            let mut r = leaf.report_template(*report_data);
            change(&mut r);
            leaf.sign(&r)
        };
        let azure = |claims: &[u8], signed: &[u8]| crate::azure::hcl_report(&k.vcek, claims, signed);
        let own = crate::azure::claims(report_data, "3404EF27-32A2-4A07-A4C7-1A1171624C5D");
        let hcl = match self.bend {
            Bend::AzureHonest => Some(azure(&own, &own)),
            Bend::AzureEditedClaims => {
                let mut h = azure(&own, &own);
                let at = h.windows(8).position(|w| w == b"3404EF27").unwrap_or(0);
                h[at] = b'4';
                Some(h)
            }
            Bend::AzureOtherSession => {
                let mut earlier = self.earlier.lock().unwrap();
                Some(earlier.get_or_insert_with(|| azure(&own, &own)).clone())
            }
            Bend::AzureOtherVm => {
                let theirs = crate::azure::claims(report_data, "BAEFD3E1-184B-4C4C-AB88-0BDAD260505F");
                Some(azure(&own, &theirs))
            }
            _ => None,
        };
        if let Some(report) = hcl {
            return Ok(RawEvidence {
                tee: Tee::SIMULATED_AZURE_SNP,
                report,
                certs: certs(&k.vcek, &k.ask),
                collateral: Vec::new(),
            });
        }
        let (report, certs) = match self.bend {
            Bend::Honest => (signed(&k.vcek, &|_| {}), certs(&k.vcek, &k.ask)),
            Bend::Forged => {
                let mut report = signed(&k.vcek, &|_| {});
                report[offset::MEASUREMENT] ^= 1;
                (report, certs(&k.vcek, &k.ask))
            }
            Bend::OtherSession => {
                let mut earlier = self.earlier.lock().unwrap();
                let report = earlier.get_or_insert_with(|| signed(&k.vcek, &|_| {})).clone();
                (report, certs(&k.vcek, &k.ask))
            }
            Bend::VlekForVcek => (signed(&k.vcek, &|_| {}), certs(&k.vlek, &k.ask)),
            Bend::Debug => (signed(&k.vcek, &|r| r.policy |= policy_bits::DEBUG), certs(&k.vcek, &k.ask)),
            Bend::MigrationAgent => (signed(&k.vcek, &|r| r.policy |= policy_bits::MIGRATE_MA), certs(&k.vcek, &k.ask)),
            Bend::ZeroTcbs => {
                let zero = |r: &mut Report| {
                    r.launch_tcb = RawTcb([0; 8]);
                    r.committed_tcb = RawTcb([0; 8]);
                    r.current_tcb = RawTcb([0; 8]);
                };
                (signed(&k.vcek, &zero), certs(&k.vcek, &k.ask))
            }
            Bend::ProvisionalFirmware => {
                let versions = |r: &mut Report| {
                    r.committed_version = (1, 51, 3);
                    r.current_version = (1, 58, 10);
                };
                (signed(&k.vcek, &versions), certs(&k.vcek, &k.ask))
            }
            Bend::PolicyBit17Clear => {
                (signed(&k.vcek, &|r| r.policy &= !policy_bits::RESERVED_MUST_BE_ONE), certs(&k.vcek, &k.ask))
            }
            Bend::PolicyMbz => (signed(&k.vcek, &|r| r.policy |= 1 << 40), certs(&k.vcek, &k.ask)),
            Bend::Cxl => (signed(&k.vcek, &|r| r.policy |= policy_bits::CXL_ALLOW), certs(&k.vcek, &k.ask)),
            Bend::PlatformInfoAllOnes => (signed(&k.vcek, &|r| r.platform_info = u64::MAX), certs(&k.vcek, &k.ask)),
            // Made above as HCL reports; an honest report if ever reached.
            Bend::AzureEditedClaims | Bend::AzureOtherSession | Bend::AzureOtherVm | Bend::AzureHonest => {
                (signed(&k.vcek, &|_| {}), certs(&k.vcek, &k.ask))
            }
        };
        Ok(RawEvidence { tee: Tee::SIMULATED_SNP, report, certs, collateral: Vec::new() })
    }
}
