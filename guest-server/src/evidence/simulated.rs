//! The SIMULATED provider: reports or quotes signed by the `sim-init` TEST chain.
//! NOT CONFIDENTIAL — the client accepts them only with a policy naming that root.

use std::path::Path;

use cvmc_protocol::evidence::{CertEntry, CertKind, Tee};

use super::{EvidenceError, EvidenceProvider, RawEvidence};
use crate::sim_tdx::CollateralSpec;
use crate::siminit::{self, SimProviderFiles, SimTdxFiles};

/// Signs simulated reports (SEV-SNP) or quotes (TDX) with the chain in a sim-init
/// directory.
#[derive(Debug)]
pub struct SimulatedProvider {
    chain: Chain,
}

#[derive(Debug)]
enum Chain {
    Snp(Box<SimProviderFiles>),
    Tdx(Box<SimTdxFiles>),
}

impl SimulatedProvider {
    /// Load a `sim-init` directory (either kind).
    pub fn load(dir: &Path) -> Result<Self, EvidenceError> {
        let files = |e: crate::sim::SimError| EvidenceError::Files(e.to_string());
        let chain = if siminit::is_tdx(dir) {
            Chain::Tdx(Box::new(siminit::load_tdx(dir).map_err(files)?))
        } else {
            Chain::Snp(Box::new(siminit::load(dir).map_err(files)?))
        };
        Ok(Self { chain })
    }
}

impl EvidenceProvider for SimulatedProvider {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        match &self.chain {
            Chain::Snp(files) => {
                let leaf = &files.leaf;
                let report = leaf.sign(&leaf.report_template(*report_data));
                Ok(RawEvidence {
                    tee: Tee::SIMULATED_SNP,
                    report,
                    certs: vec![
                        CertEntry { kind: CertKind::VCEK, der: leaf.cert_der() },
                        CertEntry { kind: CertKind::ASK, der: files.ask_der.clone() },
                    ],
                    collateral: Vec::new(),
                })
            }
            Chain::Tdx(files) => {
                let quote = files.platform.quote(&files.platform.td_template(*report_data));
                // Fresh collateral with each quote: nobody else can serve it (Intel's
                // PCS knows no simulated platform), and it never goes stale.
                let collateral = files
                    .ca
                    .collateral(&CollateralSpec::up_to_date(&files.platform.spec))
                    .map_err(|e| EvidenceError::Files(e.to_string()))?;
                Ok(RawEvidence {
                    tee: Tee::SIMULATED_TDX,
                    report: quote,
                    certs: Vec::new(),
                    collateral: collateral.to_json().into_bytes(),
                })
            }
        }
    }
}
