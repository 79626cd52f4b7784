//! SHA-256 of input files, computed once a run. With `--if-changed` the
//! fingerprint hashes every input before the run, and the readers reuse
//! those hashes for the files they read, as long as each file is still the
//! same version (same size, same modification time, unchanged while it was
//! read). Otherwise the readers hash what they read, beside the parsing,
//! and the fingerprint is made after the run from their hashes.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// A file's SHA-256 and the version of the file it is the hash of.
#[derive(Debug, Clone)]
pub struct FileHash {
    pub sha256: String,
    len: u64,
    /// `None` when the file changed while it was hashed: never reused.
    modified: Option<SystemTime>,
}

/// Hashes already computed in this run, by path: filled by the
/// fingerprint and by the readers, which may run in parallel.
#[derive(Debug, Default)]
pub struct HashBook(Mutex<BTreeMap<PathBuf, FileHash>>);

impl HashBook {
    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, FileHash>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hash of `path` if it was taken of the version `metadata` describes.
    pub fn known(&self, path: &Path, metadata: &Metadata) -> Option<String> {
        let entries = self.entries();
        let hash = entries.get(path).filter(|hash| hash.matches(metadata))?;
        Some(hash.sha256.clone())
    }

    /// The hash a reader took of `path`, read as the version `metadata`
    /// describes (`None` when it changed while it was read: never reused).
    pub fn record(&self, path: &Path, sha256: &str, metadata: Option<&Metadata>) {
        let hash = FileHash {
            sha256: sha256.to_owned(),
            len: metadata.map_or(0, Metadata::len),
            modified: metadata.and_then(|m| m.modified().ok()),
        };
        self.entries().insert(path.to_owned(), hash);
    }

    /// The hash of `path`: the one taken in this run if any, whatever the
    /// file became since (the version the run used), else taken now.
    pub fn hash(&self, path: &Path) -> Result<String> {
        if let Some(hash) = self.entries().get(path) {
            return Ok(hash.sha256.clone());
        }
        let hash = hash_file(path)?;
        let sha256 = hash.sha256.clone();
        self.entries().insert(path.to_owned(), hash);
        Ok(sha256)
    }
}

impl FileHash {
    /// Whether `metadata` describes the version of the file that was hashed.
    fn matches(&self, metadata: &Metadata) -> bool {
        self.modified.is_some()
            && self.len == metadata.len()
            && self.modified == metadata.modified().ok()
    }
}

/// The version of a file when it was opened, if it did not change until
/// `after` was taken.
fn stable(before: &Metadata, after: &Metadata) -> Option<SystemTime> {
    let modified = after.modified().ok()?;
    (before.len() == after.len() && before.modified().ok() == Some(modified)).then_some(modified)
}

/// Streams a file through SHA-256: a national-scale input is a gigabyte.
pub fn hash_file(path: &Path) -> Result<FileHash> {
    let fail = |e| Error::io(format!("reading {}", path.display()), e);
    let mut file = std::fs::File::open(path).map_err(fail)?;
    let before = file.metadata().map_err(fail)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(fail)?;
    let after = file.metadata().map_err(fail)?;
    Ok(FileHash {
        sha256: hex::encode(hasher.finalize()),
        len: after.len(),
        modified: stable(&before, &after),
    })
}

/// A whole file in memory, and its metadata when it did not change while it
/// was read (to be checked against a [`FileHash`]).
pub fn read_file(path: &Path) -> std::io::Result<(Vec<u8>, Option<Metadata>)> {
    let mut file = std::fs::File::open(path)?;
    let before = file.metadata()?;
    let mut bytes = Vec::with_capacity(before.len() as usize);
    file.read_to_end(&mut bytes)?;
    let after = file.metadata()?;
    let unchanged = stable(&before, &after).is_some().then_some(after);
    Ok((bytes, unchanged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_reused_only_for_the_same_version_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caf.csv");
        std::fs::write(&path, "MOISREF;NUMALLOC\n202001;0123456\n").unwrap();
        let hash = hash_file(&path).unwrap();
        // printf 'MOISREF;NUMALLOC\n202001;0123456\n' | sha256sum
        assert_eq!(
            hash.sha256,
            "27fa8ac35f7fbfd785d1472b3fcf297b81d47493e90c3fd80da9b3d88f81608f"
        );
        let (bytes, unchanged) = read_file(&path).unwrap();
        assert_eq!(bytes.len(), 32);
        assert!(hash.matches(&unchanged.unwrap()));

        // Rewritten, same length, a later modification time.
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::write(&path, "MOISREF;NUMALLOC\n202001;0999999\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let (_, unchanged) = read_file(&path).unwrap();
        assert!(!hash.matches(&unchanged.unwrap()));
    }
}
