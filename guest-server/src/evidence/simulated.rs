//! The SIMULATED provider: reports signed by the `sim-init` TEST chain.
//! NOT CONFIDENTIAL — the client accepts them only with a policy naming that root.

use std::path::Path;

use cvmc_protocol::evidence::{CertEntry, CertKind, Tee};

use super::{EvidenceError, EvidenceProvider, RawEvidence};
use crate::siminit::{self, SimProviderFiles};

/// Signs simulated reports with the chain in a sim-init directory.
#[derive(Debug)]
pub struct SimulatedProvider {
    files: SimProviderFiles,
}

impl SimulatedProvider {
    /// Load a `sim-init` directory.
    pub fn load(dir: &Path) -> Result<Self, EvidenceError> {
        Ok(Self { files: siminit::load(dir).map_err(|e| EvidenceError::Files(e.to_string()))? })
    }
}

impl EvidenceProvider for SimulatedProvider {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<RawEvidence, EvidenceError> {
        let leaf = &self.files.leaf;
        let report = leaf.sign(&leaf.report_template(*report_data));
        Ok(RawEvidence {
            tee: Tee::SIMULATED_SNP,
            report,
            certs: vec![
                CertEntry { kind: CertKind::VCEK, der: leaf.cert_der() },
                CertEntry { kind: CertKind::ASK, der: self.files.ask_der.clone() },
            ],
        })
    }
}
