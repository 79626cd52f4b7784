//! The output folder's integrity: files written whole and renamed into
//! place, a run's outputs replaced as one set (staging folder and journal),
//! the lock that keeps a second run out, and the manifest that lists what
//! was read and written with their hashes.

pub mod lock;
pub mod manifest;
pub mod set;

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Temporary files being written start with this; a run removes stale ones.
pub const TEMP_PREFIX: &str = ".suivi-tmp-";

/// Writes `path` atomically: a crash leaves the previous file or none, never half a file.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<PathBuf> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    // The mode of any new file, under the process's umask (tempfile's own
    // default, 0600, would keep colleagues out of a shared folder).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut temp = builder
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("creating a temporary file in {}", dir.display()), e))?;
    write(temp.as_file_mut())?;
    temp.as_file_mut()
        .flush()
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    temp.persist(path)
        .map_err(|e| Error::io(format!("renaming into {}", path.display()), e.error))?;
    Ok(path.to_owned())
}

/// `indicateurs` → `indicateurs_2020.csv`, or `indicateurs_2020_interne.csv`
/// in internal diffusion.
pub fn file_name(year: i32, internal: bool, stem: &str, extension: &str) -> String {
    let suffix = if internal { "_interne" } else { "" };
    format!("{stem}_{year}{suffix}.{extension}")
}
