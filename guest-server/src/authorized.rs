//! `authorized_clients`: which client keys may open a console or a screen.
//!
//! Read from the guest's own disk (never from host-supplied metadata such as
//! cloud-init), re-read on every connection so adding a key needs no restart.
//!
//! ```text
//! # one key per line, as `cvm-console id` prints it; the rest of the line is a comment
//! SHA256:3f1a…64 hex…  alice@laptop
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use der::{Decode, Encode};

/// `SHA256:<hex>` of a certificate's SubjectPublicKeyInfo: the client's key id.
pub fn spki_fingerprint(cert_der: &[u8]) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(cert_der).ok()?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
    Some(cvmc_protocol::binding::spki_fingerprint(&spki))
}

/// The fingerprint of this user's cvm-console client key, if it has one
/// (`~/.config/cvm-console/client-key.pem`), so `sim-init` can authorize it.
pub fn local_client_fingerprint() -> Option<String> {
    use cvmc_protocol::binding::{CLIENT_KEY_FILE, CONFIG_DIR_NAME};
    let path = dirs::config_dir()?.join(CONFIG_DIR_NAME).join(CLIENT_KEY_FILE);
    let pem = std::fs::read_to_string(path).ok()?;
    let key = rcgen::KeyPair::from_pem(&pem).ok()?;
    Some(cvmc_protocol::binding::spki_fingerprint(&rcgen::PublicKeyData::subject_public_key_info(&key)))
}

/// The authorized key fingerprints, from a file.
#[derive(Debug, Clone)]
pub struct AuthorizedClients {
    path: Option<PathBuf>,
}

impl AuthorizedClients {
    /// Keys listed in `path` (None: no key is authorized).
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Read the current set. A missing file is an empty set (logged by the caller).
    pub fn load(&self) -> std::io::Result<HashSet<String>> {
        let Some(path) = &self.path else { return Ok(HashSet::new()) };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
            Err(e) => return Err(e),
        };
        Ok(parse(&text))
    }

    /// Whether this fingerprint is authorized now.
    pub fn allows(&self, fingerprint: &str) -> bool {
        match self.load() {
            Ok(set) => set.contains(&fingerprint.to_ascii_lowercase()),
            Err(e) => {
                tracing::warn!(path = ?self.path, error = %e, "cannot read authorized_clients; refusing");
                false
            }
        }
    }
}

/// Who a connection is, once its TLS handshake is done.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientAuth {
    /// A client key listed in authorized_clients (`sha256:<hex>`, lowercase).
    Key(String),
    /// No authorized key (only where the console may be opened without one).
    Unauthenticated {
        /// The address it connected from.
        source: std::net::IpAddr,
    },
}

/// A fingerprint as the file writes it, lowercase: `sha256:` and 64 hex digits. `None`
/// for anything else (other text, other lengths, non-ASCII).
pub fn parse_fingerprint(word: &str) -> Option<String> {
    let (scheme, digest) = word.split_once(':')?;
    (scheme.eq_ignore_ascii_case("sha256") && digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", digest.to_ascii_lowercase()))
}

/// Parse the file's text into lowercase `sha256:<hex>` fingerprints; lines that are
/// not one (comments, blank lines, anything else) are skipped.
pub fn parse(text: &str) -> HashSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(parse_fingerprint)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fingerprints_and_ignores_the_rest() {
        let fp = format!("SHA256:{}", "Ab".repeat(32));
        let text = format!("# comment\n\n{fp} alice@laptop\nSHA256:short bob\nnot-a-key\n");
        let set = parse(&text);
        assert_eq!(set.len(), 1);
        assert!(set.contains(&fp.to_ascii_lowercase()));
    }

    #[test]
    fn lines_that_are_not_fingerprints_never_panic() {
        // A multi-byte character where the prefix ends made the old slicing panic.
        let hostile = format!(
            "SHA256é{}\nSHA25é:{}\n\x1b[2J\nsha256:{}é\n:\n\0\n",
            "a".repeat(63),
            "a".repeat(64),
            "b".repeat(63)
        );
        assert!(parse(&hostile).is_empty());
        assert_eq!(
            parse_fingerprint(&format!("Sha256:{}", "AB".repeat(32))),
            Some(format!("sha256:{}", "ab".repeat(32)))
        );
    }
}
