//! The client's own key for mutual TLS: created on first use in the user's config
//! directory (`client-key.pem`, 0600); guests authorize it by its fingerprint
//! (`cvm-console id`). The certificate around it is made fresh for each run: only
//! the key is the identity.

use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use cvmc_protocol::binding::{CLIENT_KEY_FILE, CONFIG_DIR_NAME, spki_fingerprint};

use crate::error::ClientError;

/// The user's cvm-console config directory.
pub fn config_dir() -> PathBuf {
    dirs::config_dir().unwrap_or_else(std::env::temp_dir).join(CONFIG_DIR_NAME)
}

/// A client key with a self-signed certificate for TLS.
pub struct ClientKey {
    key: rcgen::KeyPair,
    path: PathBuf,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey({}, {})", self.fingerprint(), self.path.display())
    }
}

impl ClientKey {
    /// The key in `dir/client-key.pem`, created if missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, ClientError> {
        let path = dir.join(CLIENT_KEY_FILE);
        let bad = |reason: String| ClientError::BadInput { path: path.clone(), reason };
        let key = match std::fs::read_to_string(&path) {
            Ok(pem) => rcgen::KeyPair::from_pem(&pem).map_err(|e| bad(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = rcgen::KeyPair::generate().map_err(|e| bad(e.to_string()))?;
                write_private(&path, key.serialize_pem().as_bytes())
                    .map_err(|e| ClientError::File { path: path.clone(), reason: e.to_string() })?;
                key
            }
            Err(e) => return Err(ClientError::File { path, reason: e.to_string() }),
        };
        Ok(Self { key, path })
    }

    /// `SHA256:<hex>` of the public key, as `authorized_clients` lists it.
    pub fn fingerprint(&self) -> String {
        spki_fingerprint(&rcgen::PublicKeyData::subject_public_key_info(&self.key))
    }

    /// Where the key is stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A self-signed certificate and the private key, for rustls.
    pub fn tls_identity(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ClientError> {
        let params = rcgen::CertificateParams::new(vec!["cvm-console-client".to_owned()])
            .map_err(|e| ClientError::BadInput { path: self.path.clone(), reason: e.to_string() })?;
        let cert = params
            .self_signed(&self.key)
            .map_err(|e| ClientError::BadInput { path: self.path.clone(), reason: e.to_string() })?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        Ok((vec![cert.der().clone()], key))
    }
}

/// Create a file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(contents)
}
