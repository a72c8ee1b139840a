//! Files that hold private keys: readable by their owner only, and never seen half
//! written.

use std::path::Path;

/// Create a file readable by its owner only (0600 on Unix), whole or not at all: the
/// contents go to a private temporary file in the same directory, which is then
/// linked to `path`; `AlreadyExists` if `path` exists (so two processes creating the
/// same key at once end up with one).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    private_temp(path, contents)?.persist_noclobber(path).map(|_| ()).map_err(|e| e.error)
}

/// Like [`write_private`], but an existing `path` is replaced (atomically: a reader
/// sees the old file or the new one), as a cache refreshes an entry.
pub fn replace_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    private_temp(path, contents)?.persist(path).map(|_| ()).map_err(|e| e.error)
}

fn private_temp(path: &Path, contents: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_private_refreshes_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/entry");
        replace_private(&path, b"old").unwrap();
        assert!(write_private(&path, b"new").is_err(), "write_private never clobbers");
        replace_private(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn a_private_file_is_written_once_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/key.pem");
        write_private(&path, b"secret").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let again = write_private(&path, b"other").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }
}
