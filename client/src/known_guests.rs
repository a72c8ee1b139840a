//! `known_guests`: the guest identity key pinned per address, like SSH's
//! known_hosts. The first verified connection pins it (`console`, `bridge`, the GUI
//! and `verify`, unless `--no-pin`); a different identity later is refused with a
//! warning a person cannot miss.
//!
//! ```text
//! # address                identity
//! 10.0.0.5:7443            SHA256:3f1a…
//! ```
//!
//! Pins are per address as typed: `guest:7443` and `10.0.0.5:7443` are two pins.
//! When an identity first seen under one name is already pinned under another, the
//! message names the other pin, so an alias is recognised instead of trusted blindly
//! (docs/DESIGN.md "known_guests"). The file is locked while it is read and appended to, so
//! two clients pinning at once cannot both decide "new".

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use crate::error::ClientError;

/// Longest known_guests file read (a pin is ~90 bytes: this is ~100,000 pins).
pub const MAX_FILE: u64 = 8 << 20;

/// One pin line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The address as typed when it was pinned.
    pub address: String,
    /// `SHA256:<hex>` of the guest identity.
    pub fingerprint: String,
}

/// The pins in a known_guests file's text; comments, blank and malformed lines skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let mut words = line.split_whitespace();
            let (address, fingerprint) = (words.next()?, words.next()?);
            (!address.starts_with('#')).then(|| Entry {
                line: i + 1,
                address: address.to_owned(),
                fingerprint: fingerprint.to_owned(),
            })
        })
        .collect()
}

/// What the file says about an address and an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// Never seen under this address (pinned now if asked to).
    New {
        /// Whether it was written to the file now.
        pinned: bool,
        /// Other addresses that pin this same identity (an alias of a known guest).
        also_pinned_as: Vec<Entry>,
    },
    /// Matches the pin.
    Known,
    /// A different identity is pinned: refuse.
    Changed {
        /// The pinned fingerprint.
        pinned: String,
        /// Line of the pin in the file.
        line: usize,
        /// Other addresses that pin the identity seen now.
        also_pinned_as: Vec<Entry>,
    },
}

/// Decide, from the pins, what `address` presenting `fingerprint` means.
pub fn decide(entries: &[Entry], address: &str, fingerprint: &str) -> Pin {
    let also_pinned_as: Vec<Entry> = entries
        .iter()
        .filter(|e| e.address != address && e.fingerprint.eq_ignore_ascii_case(fingerprint))
        .cloned()
        .collect();
    match entries.iter().find(|e| e.address == address) {
        Some(e) if e.fingerprint.eq_ignore_ascii_case(fingerprint) => Pin::Known,
        Some(e) => Pin::Changed { pinned: e.fingerprint.clone(), line: e.line, also_pinned_as },
        None => Pin::New { pinned: false, also_pinned_as },
    }
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

    fn io(&self) -> impl Fn(std::io::Error) -> ClientError + '_ {
        |e| ClientError::File { path: self.path.clone(), reason: e.to_string() }
    }

    /// Look an address and identity up, without changing the file.
    pub fn check(&self, address: &str, fingerprint: &str) -> Result<Pin, ClientError> {
        match File::open(&self.path) {
            Ok(mut f) => {
                f.lock_shared().map_err(self.io())?;
                Ok(decide(&parse(&self.read(&mut f)?), address, fingerprint))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(decide(&[], address, fingerprint)),
            Err(e) => Err(self.io()(e)),
        }
    }

    /// Look up and, if the address is new, pin the identity, all under one exclusive
    /// lock of the file.
    pub fn check_and_pin(&self, address: &str, fingerprint: &str) -> Result<Pin, ClientError> {
        if let Some(dir) = self.path.parent() {
            crate::clientkey::private_dir(dir)?;
        }
        let mut f =
            std::fs::OpenOptions::new().read(true).append(true).create(true).open(&self.path).map_err(self.io())?;
        f.lock().map_err(self.io())?;
        let text = self.read(&mut f)?;
        let pin = decide(&parse(&text), address, fingerprint);
        let Pin::New { also_pinned_as, .. } = pin else { return Ok(pin) };
        // Append mode writes at the end whatever the position; a file that lacks its
        // last newline gets one first, so the pin is a line of its own.
        let separator = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
        writeln!(f, "{separator}{address} {fingerprint}").and_then(|()| f.sync_data()).map_err(self.io())?;
        Ok(Pin::New { pinned: true, also_pinned_as })
    }

    /// Pin an identity for an address (appends a line, under the lock).
    pub fn add(&self, address: &str, fingerprint: &str) -> Result<(), ClientError> {
        self.check_and_pin(address, fingerprint).map(|_| ())
    }

    fn read(&self, f: &mut File) -> Result<String, ClientError> {
        f.rewind().map_err(self.io())?;
        let mut bytes = Vec::new();
        f.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(self.io())?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE {
            return Err(ClientError::BadInput {
                path: self.path.clone(),
                reason: format!("larger than {} MiB: not a known_guests file", MAX_FILE >> 20),
            });
        }
        String::from_utf8(bytes)
            .map_err(|_| ClientError::BadInput { path: self.path.clone(), reason: "not UTF-8 text".into() })
    }
}

/// A line naming the other pins of the same identity, or nothing.
pub fn alias_note(also_pinned_as: &[Entry], file: &Path) -> Option<String> {
    if also_pinned_as.is_empty() {
        return None;
    }
    let names: Vec<String> =
        also_pinned_as.iter().map(|e| format!("{} ({}:{})", e.address, file.display(), e.line)).collect();
    Some(format!("this guest identity is already pinned as {}", names.join(", ")))
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
        let dir = tempfile::tempdir().unwrap();
        let kg = KnownGuests::new(dir.path().join("known_guests"));
        assert_eq!(kg.check("h:1", "SHA256:aa").unwrap(), Pin::New { pinned: false, also_pinned_as: vec![] });
        assert!(matches!(kg.check_and_pin("h:1", "SHA256:aa").unwrap(), Pin::New { pinned: true, .. }));
        kg.add("h:2", "SHA256:bb").unwrap();
        assert_eq!(kg.check("h:1", "sha256:AA").unwrap(), Pin::Known);
        assert!(matches!(kg.check("h:2", "SHA256:cc").unwrap(), Pin::Changed { line: 2, .. }));
        assert_eq!(kg.check_and_pin("h:1", "SHA256:aa").unwrap(), Pin::Known, "a known pin is not written twice");
        assert_eq!(std::fs::read_to_string(kg.path()).unwrap().lines().count(), 2);
    }

    #[test]
    fn an_alias_of_a_pinned_guest_is_named() {
        let entries = parse("# c\nguest:7443 SHA256:aa\n10.0.0.5:7443 SHA256:bb\n");
        let Pin::New { also_pinned_as, .. } = decide(&entries, "10.0.0.9:7443", "sha256:AA") else { panic!() };
        assert_eq!(also_pinned_as.len(), 1);
        let note = alias_note(&also_pinned_as, Path::new("kg")).unwrap();
        assert_eq!(note, "this guest identity is already pinned as guest:7443 (kg:2)");
        let Pin::Changed { also_pinned_as, .. } = decide(&entries, "10.0.0.5:7443", "SHA256:aa") else { panic!() };
        assert_eq!(also_pinned_as[0].address, "guest:7443");
    }

    #[test]
    fn concurrent_pins_of_one_address_write_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_guests");
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let kg = KnownGuests::new(path.clone());
                std::thread::spawn(move || kg.check_and_pin("g:1", &format!("SHA256:{i:02x}")).unwrap())
            })
            .collect();
        let outcomes: Vec<Pin> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(outcomes.iter().filter(|p| matches!(p, Pin::New { pinned: true, .. })).count(), 1);
        assert_eq!(outcomes.iter().filter(|p| matches!(p, Pin::Changed { .. })).count(), 15);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_file_without_its_last_newline_gets_one_before_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_guests");
        std::fs::write(&path, "a:1 SHA256:aa").unwrap();
        KnownGuests::new(path.clone()).add("b:2", "SHA256:bb").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a:1 SHA256:aa\nb:2 SHA256:bb\n");
    }

    #[test]
    fn odd_bytes_and_huge_files_are_refused_not_panicked_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_guests");
        std::fs::write(&path, b"\xff\xfe g\n").unwrap();
        assert!(matches!(KnownGuests::new(path.clone()).check("g", "x"), Err(ClientError::BadInput { .. })));
        assert!(parse("é\u{1b}[2J\n\n  \n#x y\n\u{202e} z w\n").len() == 1);
    }
}
