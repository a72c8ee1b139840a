//! Verifying a guest's evidence for one connection: the TEE label, the report
//! (through the SNP verifier), the session binding and the identity signature.
//!
//! The caller supplies the TLS exporter value of its own connection and the nonce
//! it sent; everything else comes from the Evidence message. The client's
//! known_guests pin of the identity key is checked by the caller afterwards.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::binding::{EKM_LEN, identity_fingerprint, identity_message, report_data};
use crate::error::{Check, VerifyError};
use crate::evidence::{CertKind, Evidence, Tee};
use crate::handshake::NONCE_LEN;
use crate::policy::Policy;
use crate::snp::roots::{Anchor, TrustAnchors};
use crate::snp::verify::{ExpectedReportData, Passed, SnpCerts, Verified, verify_snp};

/// This connection's side of the binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBinding {
    /// TLS exporter value of this connection.
    pub ekm: [u8; EKM_LEN],
    /// The nonce this client sent in Hello.
    pub nonce: [u8; NONCE_LEN],
}

/// A guest whose evidence met the policy on this connection.
#[derive(Debug, Clone)]
pub struct AttestedGuest {
    /// The report's verdict.
    pub verified: Verified,
    /// The guest identity key (Ed25519, 32 bytes).
    pub identity_key: [u8; 32],
    /// `SHA256:<hex>` of the identity key.
    pub identity_fingerprint: String,
}

/// Verify evidence against this session. `now` is unix seconds.
pub fn verify_evidence(
    evidence: &Evidence,
    session: &SessionBinding,
    policy: &Policy,
    anchors: &TrustAnchors,
    now: u64,
) -> Result<AttestedGuest, VerifyError> {
    if evidence.tee != Tee::SEV_SNP && evidence.tee != Tee::SIMULATED_SNP {
        return Err(VerifyError::UnsupportedTee { tee: evidence.tee.name() });
    }
    let certs = SnpCerts {
        signer: evidence.cert(CertKind::VCEK).or_else(|| evidence.cert(CertKind::VLEK)),
        intermediate: evidence.cert(CertKind::ASK).or_else(|| evidence.cert(CertKind::ASVK)),
    };
    let expected = ExpectedReportData::Exact(report_data(&session.ekm, &session.nonce, &evidence.identity_key));
    let mut verified = verify_snp(&evidence.report, certs, &expected, policy, anchors, now)?;

    // The label must agree with where the chain ends, so that a simulated guest can
    // never pass itself off as hardware and the reverse.
    let label_simulated = evidence.tee == Tee::SIMULATED_SNP;
    if label_simulated == verified.anchor.is_amd() {
        return Err(VerifyError::TeeMismatch { label: evidence.tee.name(), anchor: verified.anchor.to_string() });
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
    verified.passed.push(Passed { check: Check::Identity, detail: format!("guest identity {identity_fingerprint}") });
    if let Anchor::PolicyRoot { label, .. } = &verified.anchor {
        verified.warnings.push(format!("SIMULATED - NOT CONFIDENTIAL: the chain ends in the policy root {label}"));
    }
    Ok(AttestedGuest { verified, identity_key, identity_fingerprint })
}
