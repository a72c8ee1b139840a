//! Binding the attestation report to one TLS session (docs/DESIGN.md "Wire protocol v1").
//!
//! ```text
//! ekm         = TLS-Exporter("EXPORTER-cvm-console-attest-v1", context = nonce, 32)
//! REPORT_DATA = SHA-512("cvm-console attest v1\0" || ekm || nonce || SHA-256(identity_key))
//! identity_sig = Ed25519(identity key, "cvm-console identity v1\0" || ekm || nonce)
//! ```
//!
//! A relay holds two TLS sessions with two different exporter values, so the report
//! the guest made for its session can never match the client's: that is what defeats
//! relaying and replay. The identity signature carries its own context string so it
//! can never be mistaken for a signature made for another purpose.

use sha2::{Digest, Sha256, Sha512};

use crate::handshake::NONCE_LEN;

/// TLS exporter label (RFC 8446 section 7.5).
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-cvm-console-attest-v1";
/// Length of the exported keying material.
pub const EKM_LEN: usize = 32;
/// Domain separator hashed in front of REPORT_DATA.
pub const REPORT_DATA_CONTEXT: &[u8] = b"cvm-console attest v1\0";
/// Domain separator signed in front of the identity signature.
pub const IDENTITY_SIG_CONTEXT: &[u8] = b"cvm-console identity v1\0";
/// REPORT_DATA length in an SEV-SNP report.
pub const REPORT_DATA_LEN: usize = 64;

/// The 64 bytes the guest must place in REPORT_DATA for this session.
pub fn report_data(ekm: &[u8; EKM_LEN], nonce: &[u8; NONCE_LEN], identity_key: &[u8]) -> [u8; REPORT_DATA_LEN] {
    let mut h = Sha512::new();
    h.update(REPORT_DATA_CONTEXT);
    h.update(ekm);
    h.update(nonce);
    h.update(Sha256::digest(identity_key));
    h.finalize().into()
}

/// The message the guest identity key signs for this session.
pub fn identity_message(ekm: &[u8; EKM_LEN], nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut m = Vec::with_capacity(IDENTITY_SIG_CONTEXT.len() + EKM_LEN + NONCE_LEN);
    m.extend_from_slice(IDENTITY_SIG_CONTEXT);
    m.extend_from_slice(ekm);
    m.extend_from_slice(nonce);
    m
}

/// ssh-style fingerprint of a guest identity key: `SHA256:<hex>`.
pub fn identity_fingerprint(identity_key: &[u8]) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(identity_key)))
}

/// `SHA256:<hex>` of a SubjectPublicKeyInfo (DER): how client keys are named in
/// `authorized_clients` and by `cvm-console id`.
pub fn spki_fingerprint(spki_der: &[u8]) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(spki_der)))
}

/// Name of the user's cvm-console directory inside the platform config directory.
pub const CONFIG_DIR_NAME: &str = "cvm-console";
/// The client's own key (PKCS#8 PEM) in that directory.
pub const CLIENT_KEY_FILE: &str = "client-key.pem";

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values computed independently with Python's hashlib:
    /// `sha512(b"cvm-console attest v1\0" + bytes(range(32)) + b"\xa5"*32 + sha256(b"\x42"*32))`.
    #[test]
    fn known_answer_report_data() {
        let ekm: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap());
        let rd = report_data(&ekm, &[0xA5; 32], &[0x42; 32]);
        assert_eq!(
            hex::encode(rd),
            "f2dababb3900af077a17da1aeea5a31f27a3c574c484de6eed9f2509fbda3561\
             8716716d7bdcfcbbbc4d3354c99b04f6b19b636a8b4fcda3fd0b89299c2f68cc"
        );
        assert_eq!(
            identity_fingerprint(&[0x42; 32]),
            "SHA256:425ed4e4a36b30ea21b90e21c712c649e8214c29b7eaf68089d1039c6e55384c"
        );
    }

    #[test]
    fn every_input_changes_the_binding() {
        let base = report_data(&[1; 32], &[2; 32], &[3; 32]);
        assert_ne!(base, report_data(&[9; 32], &[2; 32], &[3; 32]));
        assert_ne!(base, report_data(&[1; 32], &[9; 32], &[3; 32]));
        assert_ne!(base, report_data(&[1; 32], &[2; 32], &[9; 32]));
    }

    #[test]
    fn identity_message_layout() {
        let m = identity_message(&[1; 32], &[2; 32]);
        assert!(m.starts_with(IDENTITY_SIG_CONTEXT));
        assert_eq!(m.len(), IDENTITY_SIG_CONTEXT.len() + 64);
    }
}
