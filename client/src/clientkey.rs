//! The client's own key for mutual TLS: created on first use in the user's config
//! directory (`client-key.pem`, 0600, in a 0700 directory); guests authorize it by
//! its fingerprint (`cvm-console id`). The certificate around it is made fresh for
//! each run: only the key is the identity.
//!
//! Where the key lives is checked as ssh checks its keys: there must be a config
//! directory of this user's own (no fallback to a shared place such as /tmp, where
//! another local user could plant a key the victim then authenticates with), and a
//! key file that others can read, or that another user owns, is refused.

use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use cvmc_protocol::binding::{CLIENT_KEY_FILE, CONFIG_DIR_NAME, spki_fingerprint};

use cvmc_io::files::write_private;

use crate::error::ClientError;

/// The user's cvm-console config directory (not created here).
pub fn config_dir() -> Result<PathBuf, ClientError> {
    let base = dirs::config_dir().ok_or_else(|| {
        ClientError::NoConfigDir(
            "neither HOME nor XDG_CONFIG_HOME is set and this user has no home directory; cvm-console keeps its key \
             and pinned guest identities there and will not fall back to a shared directory"
                .into(),
        )
    })?;
    Ok(base.join(CONFIG_DIR_NAME))
}

/// Create `dir` (and its parents) if missing, new directories 0700, and refuse one
/// that another user owns or that others may write into.
pub fn private_dir(dir: &Path) -> Result<(), ClientError> {
    let io = |e: std::io::Error| ClientError::File { path: dir.to_path_buf(), reason: e.to_string() };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io)?;
    check_owner_and_mode(dir, 0o022, "others may write into it")
}

/// On Unix: `path` belongs to this user and has none of the `forbidden` mode bits.
#[cfg(unix)]
fn check_owner_and_mode(path: &Path, forbidden: u32, what: &str) -> Result<(), ClientError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| ClientError::File { path: path.into(), reason: e.to_string() })?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(ClientError::Unsafe {
            path: path.into(),
            reason: format!("belongs to user {}, not to you (user {me}): refusing to use it", meta.uid()),
        });
    }
    let mode = meta.mode() & 0o777;
    if mode & forbidden != 0 {
        return Err(ClientError::Unsafe {
            path: path.into(),
            reason: format!("permissions {mode:04o} are too open ({what}); run chmod go-rwx on it"),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(_path: &Path, _forbidden: u32, _what: &str) -> Result<(), ClientError> {
    // Windows: the per-user profile directory's ACLs protect it.
    Ok(())
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
    /// The key in `dir/client-key.pem`, created if missing. A key file that others may
    /// read or write, or that another user owns, is refused.
    pub fn load_or_create(dir: &Path) -> Result<Self, ClientError> {
        private_dir(dir)?;
        let path = dir.join(CLIENT_KEY_FILE);
        let bad = |reason: String| ClientError::BadInput { path: path.clone(), reason };
        let key = match std::fs::read_to_string(&path) {
            Ok(pem) => {
                check_owner_and_mode(&path, 0o077, "others may read or change your private key")?;
                rcgen::KeyPair::from_pem(&pem).map_err(|e| bad(e.to_string()))?
            }
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_key_is_private_in_a_private_directory() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("a/cvm-console");
        let key = ClientKey::load_or_create(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(key.path()), 0o600);
        assert_eq!(ClientKey::load_or_create(&dir).unwrap().fingerprint(), key.fingerprint());
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = ClientKey::load_or_create(dir.path()).unwrap();
        std::fs::set_permissions(key.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ClientKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(e, ClientError::Unsafe { .. }), "{e}");
        assert!(e.to_string().contains("0644 are too open"), "{e}");
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ClientKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(e, ClientError::Unsafe { .. }), "{e}");
    }

    #[test]
    fn a_key_planted_by_another_user_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: only root can give a file to another user (the suite runs as root)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let key = ClientKey::load_or_create(dir.path()).unwrap();
        nix::unistd::chown(key.path(), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let e = ClientKey::load_or_create(dir.path()).unwrap_err();
        assert!(e.to_string().contains("belongs to user 65534"), "{e}");
    }
}
