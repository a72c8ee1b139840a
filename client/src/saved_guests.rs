//! Saved guests: name, address and trust policy, in `config_dir()/guests.toml`.
//!
//! ```toml
//! [[guest]]
//! name = "db-1"
//! address = "10.0.0.5:7443"
//! policy = "/home/me/policies/db.toml"
//! ```
//! Unknown keys are an error naming the key, as in trust policies.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ClientError;

/// The file name in the config directory.
pub const GUESTS_FILE: &str = "guests.toml";

/// One saved guest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedGuest {
    /// A name for people.
    pub name: String,
    /// HOST:PORT.
    pub address: String,
    /// The trust policy file.
    pub policy: PathBuf,
    /// Open the screen in view-only mode (no keyboard or pointer is sent until the
    /// user turns it off): for watching a guest, as support staff do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub view_only: bool,
}

/// The list and where it is stored.
#[derive(Debug, Clone, Default)]
pub struct SavedGuests {
    /// The file.
    pub path: PathBuf,
    /// The guests, in file order.
    pub guests: Vec<SavedGuest>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuestsFile {
    #[serde(default)]
    guest: Vec<SavedGuest>,
}

/// Parse the file's text.
pub fn parse(text: &str) -> Result<Vec<SavedGuest>, String> {
    toml::from_str::<GuestsFile>(text).map(|f| f.guest).map_err(|e| e.message().to_owned())
}

/// The file's text for `guests`.
pub fn render(guests: &[SavedGuest]) -> String {
    let body = toml::to_string(&GuestsFile { guest: guests.to_vec() }).unwrap_or_default();
    format!("# cvm-console saved guests\n\n{body}")
}

impl SavedGuests {
    /// Load `dir/guests.toml` (missing: an empty list).
    pub fn load(dir: &Path) -> Result<Self, ClientError> {
        let path = dir.join(GUESTS_FILE);
        let guests = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).map_err(|reason| ClientError::BadInput { path: path.clone(), reason })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(ClientError::File { path, reason: e.to_string() }),
        };
        Ok(Self { path, guests })
    }

    /// Write the list back.
    pub fn save(&self) -> Result<(), ClientError> {
        let io = |e: std::io::Error| ClientError::File { path: self.path.clone(), reason: e.to_string() };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&self.path, render(&self.guests)).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let guests = vec![
            SavedGuest {
                name: "db \"1\"".into(),
                address: "10.0.0.5:7443".into(),
                policy: "C:\\p\\db.toml".into(),
                view_only: false,
            },
            SavedGuest { name: "web".into(), address: "h:1".into(), policy: "/p.toml".into(), view_only: true },
        ];
        assert_eq!(parse(&render(&guests)).unwrap(), guests);
        assert!(parse("name = \"x\"").unwrap_err().contains("unknown field `name`"));
        assert!(
            parse("[[guest]]\nname = \"a\"\naddress = \"h:1\"\npolicy = \"p\"\ncolour = \"red\"")
                .unwrap_err()
                .contains("colour")
        );
    }

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut list = SavedGuests::load(dir.path()).unwrap();
        assert!(list.guests.is_empty());
        list.guests.push(SavedGuest {
            name: "a".into(),
            address: "h:1".into(),
            policy: "p.toml".into(),
            view_only: false,
        });
        list.save().unwrap();
        assert_eq!(SavedGuests::load(dir.path()).unwrap().guests, list.guests);
    }
}
