//! `known_guests`: the guest identity key pinned per address, like SSH's
//! known_hosts. The first verified connection pins it; a different identity later
//! is refused with a warning a person cannot miss.
//!
//! ```text
//! # address                identity
//! 10.0.0.5:7443            SHA256:3f1a…
//! ```

use std::path::{Path, PathBuf};

use crate::error::ClientError;

/// What the file says about an address and an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// Never seen: pin it.
    New,
    /// Matches the pin.
    Known,
    /// A different identity is pinned: refuse.
    Changed {
        /// The pinned fingerprint.
        pinned: String,
        /// Line of the pin in the file.
        line: usize,
    },
}

/// The known_guests file.
#[derive(Debug, Clone)]
pub struct KnownGuests {
    path: PathBuf,
}

impl KnownGuests {
    /// The file at `path` (it may not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Look an address and identity up.
    pub fn check(&self, address: &str, fingerprint: &str) -> Result<Pin, ClientError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Pin::New),
            Err(e) => return Err(ClientError::File { path: self.path.clone(), reason: e.to_string() }),
        };
        for (i, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            if let (Some(addr), Some(fp)) = (words.next(), words.next())
                && !addr.starts_with('#')
                && addr == address
            {
                return Ok(if fp.eq_ignore_ascii_case(fingerprint) {
                    Pin::Known
                } else {
                    Pin::Changed { pinned: fp.to_owned(), line: i + 1 }
                });
            }
        }
        Ok(Pin::New)
    }

    /// Pin an identity for an address (appends a line).
    pub fn add(&self, address: &str, fingerprint: &str) -> Result<(), ClientError> {
        use std::io::Write;
        let io = |e: std::io::Error| ClientError::File { path: self.path.clone(), reason: e.to_string() };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        writeln!(f, "{address} {fingerprint}").map_err(io)
    }
}

/// The warning for a changed identity, in the spirit of ssh's.
pub fn changed_identity_warning(address: &str, seen: &str, pinned: &str, file: &Path, line: usize) -> String {
    format!(
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         @    WARNING: GUEST IDENTITY HAS CHANGED!                  @\n\
         @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         The guest at {address} attested correctly, but with a different identity key\n\
         than the one pinned for it. Someone may be replacing the guest, or it was\n\
         rebuilt without its identity key.\n\
         Identity now:    {seen}\n\
         Identity pinned: {pinned} ({}:{line})\n\
         Refusing to connect. If the change is expected, remove line {line} of that file.",
        file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_then_match_then_change() {
        let dir = std::env::temp_dir().join(format!("cvmc-known-{}", std::process::id()));
        let kg = KnownGuests::new(dir.join("known_guests"));
        assert_eq!(kg.check("h:1", "SHA256:aa").unwrap(), Pin::New);
        kg.add("h:1", "SHA256:aa").unwrap();
        kg.add("h:2", "SHA256:bb").unwrap();
        assert_eq!(kg.check("h:1", "sha256:AA").unwrap(), Pin::Known);
        assert_eq!(kg.check("h:2", "SHA256:cc").unwrap(), Pin::Changed { pinned: "SHA256:bb".into(), line: 2 });
        std::fs::remove_dir_all(dir).ok();
    }
}
