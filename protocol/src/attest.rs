//! Verifying a guest's evidence for one connection: the TEE label, the report or
//! quote (through the SEV-SNP or the TDX verifier), the session binding and the
//! identity signature.
//!
//! The caller supplies the TLS exporter value of its own connection and the nonce
//! it sent; everything else comes from the Evidence message, except TDX collateral,
//! which the caller may supply (a file, its cache, Intel's PCS) and which otherwise
//! comes with the evidence. The client's known_guests pin of the identity key is
//! checked by the caller afterwards.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::azure::{AzureTdxVerified, AzureVerified, verify_azure_snp, verify_azure_tdx};
use crate::binding::{EKM_LEN, identity_fingerprint, identity_message, report_data};
use crate::error::{Check, VerifyError};
use crate::evidence::{CertKind, Evidence, Tee};
use crate::handshake::NONCE_LEN;
use crate::policy::Policy;
use crate::snp::roots::{Anchor, TrustAnchors};
use crate::snp::verify::{AvailableCerts, ExpectedReportData, Passed, SnpCerts, Verified, verify_snp};
use crate::tdx::{Collateral, TdxError, TdxVerified, quote_fmspc, verify_tdx};

/// This connection's side of the binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBinding {
    /// TLS exporter value of this connection.
    pub ekm: [u8; EKM_LEN],
    /// The nonce this client sent in Hello.
    pub nonce: [u8; NONCE_LEN],
}

/// The verdict on a report or quote, whichever TEE produced it.
#[derive(Debug, Clone)]
pub enum GuestVerdict {
    /// An SEV-SNP report.
    Snp(Box<Verified>),
    /// An Intel TDX quote.
    Tdx(Box<TdxVerified>),
    /// An SEV-SNP report inside an HCL report from Azure's paravisor.
    AzureSnp(Box<AzureVerified>),
    /// A TD report inside an HCL report from Azure's paravisor, with its quote.
    AzureTdx(Box<AzureTdxVerified>),
}

impl GuestVerdict {
    /// The checks passed, in order.
    pub fn passed(&self) -> &[Passed] {
        match self {
            Self::Snp(v) => &v.passed,
            Self::Tdx(v) => &v.passed,
            Self::AzureSnp(v) => &v.snp.passed,
            Self::AzureTdx(v) => &v.tdx.passed,
        }
    }

    fn passed_mut(&mut self) -> &mut Vec<Passed> {
        match self {
            Self::Snp(v) => &mut v.passed,
            Self::Tdx(v) => &mut v.passed,
            Self::AzureSnp(v) => &mut v.snp.passed,
            Self::AzureTdx(v) => &mut v.tdx.passed,
        }
    }

    /// Relaxations a person must see.
    pub fn warnings(&self) -> &[String] {
        match self {
            Self::Snp(v) => &v.warnings,
            Self::Tdx(v) => &v.warnings,
            Self::AzureSnp(v) => &v.snp.warnings,
            Self::AzureTdx(v) => &v.tdx.warnings,
        }
    }

    fn warnings_mut(&mut self) -> &mut Vec<String> {
        match self {
            Self::Snp(v) => &mut v.warnings,
            Self::Tdx(v) => &mut v.warnings,
            Self::AzureSnp(v) => &mut v.snp.warnings,
            Self::AzureTdx(v) => &mut v.tdx.warnings,
        }
    }

    /// Where the chain ends.
    pub fn anchor(&self) -> &Anchor {
        match self {
            Self::Snp(v) => &v.anchor,
            Self::Tdx(v) => &v.anchor,
            Self::AzureSnp(v) => &v.snp.anchor,
            Self::AzureTdx(v) => &v.tdx.anchor,
        }
    }

    /// True when the chain ends in a policy root: nothing is confidential.
    pub fn simulated(&self) -> bool {
        !self.anchor().is_hardware()
    }

    /// Whether the report's data was compared with a binding.
    pub fn binding_checked(&self) -> bool {
        match self {
            Self::Snp(v) => v.binding_checked,
            Self::Tdx(v) => v.binding_checked,
            Self::AzureSnp(v) => v.snp.binding_checked,
            Self::AzureTdx(v) => v.tdx.binding_checked,
        }
    }

    /// `sev-snp`, `tdx`, `azure-sev-snp` or `azure-tdx`, as `--json` names it.
    pub fn tee(&self) -> &'static str {
        match self {
            Self::Snp(_) => "sev-snp",
            Self::Tdx(_) => "tdx",
            Self::AzureSnp(_) => "azure-sev-snp",
            Self::AzureTdx(_) => "azure-tdx",
        }
    }

    /// The check list this kind of verdict shows.
    pub fn checks(&self) -> &'static [Check] {
        match self {
            Self::Snp(_) => &Check::SNP,
            Self::Tdx(_) => &Check::TDX,
            Self::AzureSnp(_) => &Check::AZURE_SNP,
            Self::AzureTdx(_) => &Check::AZURE_TDX,
        }
    }

    /// The launch measurement a user pins: MEASUREMENT (SNP) or MRTD (TDX), hex.
    pub fn measurement(&self) -> String {
        match self {
            Self::Snp(v) => hex::encode(v.report.measurement),
            Self::Tdx(v) => hex::encode(v.quote.td.mr_td),
            Self::AzureSnp(v) => hex::encode(v.snp.report.measurement),
            Self::AzureTdx(v) => hex::encode(v.tdx.quote.td.mr_td),
        }
    }
}

/// A guest whose evidence met the policy on this connection.
#[derive(Debug, Clone)]
pub struct AttestedGuest {
    /// The report's or quote's verdict.
    pub verified: GuestVerdict,
    /// The guest identity key (Ed25519, 32 bytes).
    pub identity_key: [u8; 32],
    /// `SHA256:<hex>` of the identity key.
    pub identity_fingerprint: String,
    /// The boot stage that serves the connection, as the guest says over the bound
    /// channel.
    pub stage: crate::evidence::GuestStage,
}

/// The collateral for a TDX quote: the caller's if it has one, else the evidence's.
fn tdx_collateral(evidence: &Evidence, supplied: Option<&Collateral>) -> Result<Collateral, VerifyError> {
    if let Some(c) = supplied {
        return Ok(c.clone());
    }
    if !evidence.collateral.is_empty() {
        return Ok(Collateral::from_json(&evidence.collateral)?);
    }
    let quote = evidence.tdx_quote().ok_or(crate::azure::AzureError::NoQuote)?;
    let fmspc = quote_fmspc(quote)?;
    Err(TdxError::MissingCollateral {
        fmspc: hex::encode(fmspc),
        reason: "the guest sent none and none was given or cached".into(),
    }
    .into())
}

/// What the verifying side has besides the evidence: TDX collateral, and SEV-SNP
/// certificates and CRLs from its cache or AMD's KDS. The evidence's own certificates
/// are preferred; everything goes through the same checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supplied<'a> {
    /// TDX collateral (replaces the guest's, which may be stale).
    pub tdx_collateral: Option<&'a Collateral>,
    /// SEV-SNP certificates and the product's CRL.
    pub snp: AvailableCerts<'a>,
}

/// Verify evidence against this session with what the caller has `supplied`.
/// `now` is unix seconds.
pub fn verify_evidence(
    evidence: &Evidence,
    session: &SessionBinding,
    policy: &Policy,
    anchors: &TrustAnchors,
    supplied: &Supplied<'_>,
    now: u64,
) -> Result<AttestedGuest, VerifyError> {
    let collateral = supplied.tdx_collateral;
    let extra = supplied.snp;
    let expected = ExpectedReportData::Exact(report_data(&session.ekm, &session.nonce, &evidence.identity_key));
    // SEV-SNP certificates: the evidence's own first, then what the caller has.
    let available = AvailableCerts {
        vcek: evidence.cert(CertKind::VCEK).or(extra.vcek),
        vlek: evidence.cert(CertKind::VLEK).or(extra.vlek),
        ask: evidence.cert(CertKind::ASK).or(extra.ask),
        asvk: evidence.cert(CertKind::ASVK).or(extra.asvk),
        crl: extra.crl,
    };
    let (mut verified, label_simulated) = match evidence.tee {
        Tee::SEV_SNP | Tee::SIMULATED_SNP => {
            let certs = SnpCerts::select(&evidence.report, available);
            let v = verify_snp(&evidence.report, certs, &expected, policy, anchors, now)?;
            (GuestVerdict::Snp(Box::new(v)), evidence.tee == Tee::SIMULATED_SNP)
        }
        Tee::AZURE_SNP | Tee::SIMULATED_AZURE_SNP => {
            let v = verify_azure_snp(&evidence.report, available, &expected, policy, anchors, now)?;
            (GuestVerdict::AzureSnp(Box::new(v)), evidence.tee == Tee::SIMULATED_AZURE_SNP)
        }
        Tee::TDX | Tee::SIMULATED_TDX => {
            let collateral = tdx_collateral(evidence, collateral)?;
            let v = verify_tdx(&evidence.report, &collateral, &expected, policy, anchors, now)?;
            (GuestVerdict::Tdx(Box::new(v)), evidence.tee == Tee::SIMULATED_TDX)
        }
        Tee::AZURE_TDX | Tee::SIMULATED_AZURE_TDX => {
            let collateral = tdx_collateral(evidence, collateral)?;
            let v = verify_azure_tdx(&evidence.report, &collateral, &expected, policy, anchors, now)?;
            (GuestVerdict::AzureTdx(Box::new(v)), evidence.tee == Tee::SIMULATED_AZURE_TDX)
        }
        other => return Err(VerifyError::UnsupportedTee { tee: other.name() }),
    };

    // The label must agree with where the chain ends, so that a simulated guest can
    // never pass itself off as hardware and the reverse.
    if label_simulated != verified.simulated() {
        return Err(VerifyError::TeeMismatch { label: evidence.tee.name(), anchor: verified.anchor().to_string() });
    }

    let identity_key: [u8; 32] =
        evidence.identity_key.as_slice().try_into().map_err(|_| VerifyError::IdentitySignature {
            reason: format!("identity key is {} bytes, expected 32", evidence.identity_key.len()),
        })?;
    let key = VerifyingKey::from_bytes(&identity_key)
        .map_err(|e| VerifyError::IdentitySignature { reason: format!("invalid Ed25519 key: {e}") })?;
    let sig = Signature::from_slice(&evidence.identity_sig)
        .map_err(|e| VerifyError::IdentitySignature { reason: format!("malformed signature: {e}") })?;
    key.verify_strict(&identity_message(&session.ekm, &session.nonce), &sig)
        .map_err(|e| VerifyError::IdentitySignature { reason: e.to_string() })?;
    let identity_fingerprint = identity_fingerprint(&identity_key);
    verified
        .passed_mut()
        .push(Passed { check: Check::Identity, detail: format!("guest identity {identity_fingerprint}") });
    if let Anchor::PolicyRoot { label, .. } = verified.anchor().clone() {
        verified
            .warnings_mut()
            .push(format!("SIMULATED - NOT CONFIDENTIAL: the chain ends in the policy root {label}"));
    }
    Ok(AttestedGuest { verified, identity_key, identity_fingerprint, stage: evidence.stage })
}
