//! The key directory: the generated key-encryption key, and PEM keys of earlier versions.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::crypto::{Kek, SigningKey};

use super::KeyringError;

/// Name of the generated key-encryption key file in the key directory.
pub const KEK_FILE: &str = "kek";

/// The key-encryption key from the `kek` file in `dir`, when there is one.
pub fn read_kek(dir: &Path) -> Result<Option<Kek>, KeyringError> {
    let path = dir.join(KEK_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            Kek::from_base64(&text)
                .map(Some)
                .map_err(|e| KeyringError::Kek(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeyringError::Kek(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Generates the `kek` file in `dir` (mode 0600). Should another process create it at the same
/// moment, its key is the one used.
pub fn create_kek(dir: &Path) -> Result<Kek, KeyringError> {
    let path = dir.join(KEK_FILE);
    let io = |e: std::io::Error| KeyringError::Kek(format!("cannot write {}: {e}", path.display()));
    create_private_dir(dir).map_err(io)?;
    let text = Kek::generate_base64();
    match write_private_file(&path, &format!("{text}\n")) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated the key-encryption key: keep it (and share it with every instance)");
            Kek::from_base64(&text).map_err(KeyringError::Kek)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_kek(dir)?.ok_or_else(|| io(e)),
        Err(e) => Err(io(e)),
    }
}

/// Every `*.pem` key in `dir`, by file name (the last one was the signing key of earlier
/// versions).
pub fn legacy_keys(dir: &Path) -> Result<Vec<(PathBuf, SigningKey)>, KeyringError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(KeyringError::File {
                path: dir.to_path_buf(),
                reason: source.to_string(),
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    paths.sort();
    let mut keys = Vec::with_capacity(paths.len());
    for path in paths {
        let key = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| SigningKey::from_pem(&text, None))
            .map_err(|reason| KeyringError::File {
                path: path.clone(),
                reason,
            })?;
        keys.push((path, key));
    }
    Ok(keys)
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the key-encryption key file is readable by others: chmod 600 it");
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `contents` to a new file `path` with mode 0600, through a temporary file and a hard
/// link, so that a crash never leaves half a key behind and an existing file is never replaced.
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp-{}", crate::crypto::random_token()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = file
        .write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kek_file_is_created_once_with_mode_0600_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        assert!(read_kek(&keys).unwrap().is_none());
        let kek = create_kek(&keys).unwrap();
        let path = keys.join(KEK_FILE);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = kek.seal(b"secret", b"aad").unwrap();
        let again = read_kek(&keys).unwrap().unwrap();
        assert_eq!(again.open(&sealed, b"aad").unwrap(), b"secret");
        // A second creation (another process racing) keeps the first key.
        let raced = create_kek(&keys).unwrap();
        assert_eq!(raced.open(&sealed, b"aad").unwrap(), b"secret");
        let files: Vec<_> = std::fs::read_dir(&keys).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file left");
    }

    #[test]
    fn a_broken_pem_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
        let err = legacy_keys(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.pem"), "{err}");
        assert!(legacy_keys(&dir.path().join("missing")).unwrap().is_empty());
    }
}
