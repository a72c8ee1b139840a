//! The guest identity key (Ed25519): pinned by clients like an SSH host key.
//!
//! Kept at a configured path on the guest's own (encrypted) disk with mode 0600,
//! created on first start; ephemeral (a new identity each start) when no path is
//! configured, as for a stateless image.

use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey};
use rand_core::OsRng;

use cvmc_io::files::write_private;
use cvmc_protocol::binding::{identity_fingerprint, identity_message};

/// The identity key file cannot be read, parsed or created.
#[derive(Debug, thiserror::Error)]
#[error("identity key {}: {reason}", path.display())]
pub struct IdentityError {
    /// The key file.
    pub path: std::path::PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// The guest's identity.
pub struct GuestIdentity {
    key: SigningKey,
    persistent: bool,
}

impl std::fmt::Debug for GuestIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GuestIdentity({}, persistent: {})", self.fingerprint(), self.persistent)
    }
}

impl GuestIdentity {
    /// A fresh identity that lives as long as this process.
    pub fn ephemeral() -> Self {
        Self { key: SigningKey::generate(&mut OsRng), persistent: false }
    }

    /// Load the key at `path`, or create it there (0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, IdentityError> {
        let err = |reason: String| IdentityError { path: path.to_path_buf(), reason };
        match std::fs::read_to_string(path) {
            Ok(pem) => {
                let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| err(e.to_string()))?;
                Ok(Self { key, persistent: true })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate(&mut OsRng);
                let pem = key
                    .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                    .map_err(|e| err(e.to_string()))?;
                match write_private(path, pem.as_bytes()) {
                    Ok(()) => {}
                    // Another process made it first: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Self::load_or_create(path),
                    Err(e) => return Err(err(e.to_string())),
                }
                tracing::info!(path = %path.display(), "created a new guest identity key");
                Ok(Self { key, persistent: true })
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// Whether the key outlives this process (it was loaded from or written to a file).
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// The public key (32 bytes), as sent in Evidence.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// `SHA256:<hex>` of the public key.
    pub fn fingerprint(&self) -> String {
        identity_fingerprint(&self.public_key())
    }

    /// Sign this session (`ekm`, `nonce`).
    pub fn sign_session(&self, ekm: &[u8; 32], nonce: &[u8; 32]) -> [u8; 64] {
        self.key.sign(&identity_message(ekm, nonce)).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistent_identity_survives_a_restart_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/identity.pem");
        let a = GuestIdentity::load_or_create(&path).unwrap();
        let b = GuestIdentity::load_or_create(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_ne!(GuestIdentity::ephemeral().public_key(), a.public_key());
    }
}
