//! A run's outputs as one set: every file is first written into a staging
//! folder inside the output folder, then a journal naming them is written,
//! then each file is renamed into place, and the journal and staging folder
//! are removed. A reader therefore finds either the previous set, the new
//! one, or a journal saying that a set is being replaced; a run killed half
//! way is completed (journal present: every file was written) or rolled
//! back (no journal: the previous set was never touched) by the next run on
//! that folder, which logs what it did. Renames within one folder are
//! atomic, which a swap of whole folders would not be for files that other
//! years and diffusions share with this one.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const STAGING_PREFIX: &str = ".suivi-staging-";
const JOURNAL_PREFIX: &str = ".suivi-commit-";

/// The staging folder of one set of outputs (one year and diffusion).
pub struct Staging {
    out: PathBuf,
    tag: String,
    dir: PathBuf,
}

impl Staging {
    /// A fresh staging folder in `out` for the set named `tag` (`2020`, `2020_interne`).
    pub fn begin(out: &Path, tag: &str) -> Result<Staging> {
        let dir = out.join(format!("{STAGING_PREFIX}{tag}"));
        remove_if_present(&dir)?;
        std::fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Staging {
            out: out.to_owned(),
            tag: tag.to_owned(),
            dir,
        })
    }

    /// The folder writers write into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves the staged files `names` into the output folder, in order (the
    /// manifest last); returns their final paths.
    pub fn commit(self, names: &[String]) -> Result<Vec<PathBuf>> {
        let journal = self.out.join(format!("{JOURNAL_PREFIX}{}", self.tag));
        crate::output::write_atomic(&journal, |file| {
            std::io::Write::write_all(file, names.join("\n").as_bytes())
                .map_err(|e| Error::io(format!("writing {}", journal.display()), e))
        })?;
        let moved = move_staged(&self.dir, &self.out, names)?;
        finish(&journal, &self.dir)?;
        Ok(moved)
    }
}

fn move_staged(dir: &Path, out: &Path, names: &[String]) -> Result<Vec<PathBuf>> {
    let mut moved = Vec::with_capacity(names.len());
    for name in names {
        let (from, to) = (dir.join(name), out.join(name));
        // Renaming replaces a link planted under an output's name; it never
        // writes through it.
        if std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_file()) {
            std::fs::rename(&from, &to)
                .map_err(|e| Error::io(format!("renaming into {}", to.display()), e))?;
        }
        moved.push(to);
    }
    Ok(moved)
}

fn finish(journal: &Path, dir: &Path) -> Result<()> {
    std::fs::remove_file(journal)
        .map_err(|e| Error::io(format!("removing {}", journal.display()), e))?;
    remove_if_present(dir)
}

/// Removes a folder, or a link planted in its place (never what the link
/// points at: `remove_dir_all` does not follow a link it is given).
fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Ok(meta) if !meta.is_dir() => std::fs::remove_file(path),
        _ => std::fs::remove_dir_all(path),
    }
    .map_err(|e| Error::io(format!("removing {}", path.display()), e))
}

/// A name a journal may list: a plain file name of this folder, as the
/// writers name outputs (no separator, no `..`, no hidden file).
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name))
}

/// The files a journal lists, when the journal and its staging folder are
/// what a run of ours leaves: a regular file listing plain names, beside a
/// real folder (or none). Anything else was not written by us.
fn trusted_journal(journal: &Path, dir: &Path) -> Option<Vec<String>> {
    let meta = std::fs::symlink_metadata(journal).ok()?;
    if !meta.is_file() {
        return None;
    }
    match std::fs::symlink_metadata(dir) {
        Ok(staged) if !staged.is_dir() => return None,
        _ => {}
    }
    let listed = std::fs::read_to_string(journal).ok()?;
    let files: Vec<String> = listed.lines().map(str::to_owned).collect();
    files.iter().all(|f| plain_name(f)).then_some(files)
}

/// Completes or rolls back the sets an interrupted run left in `out`. The
/// caller holds the folder's lock: no run is writing them.
pub fn recover(out: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for name in &names {
        if let Some(tag) = name.strip_prefix(JOURNAL_PREFIX) {
            let journal = out.join(name);
            let dir = out.join(format!("{STAGING_PREFIX}{tag}"));
            let Some(files) = trusted_journal(&journal, &dir) else {
                // Planted, not ours: it moves nothing. Removing it (a link
                // itself, never its target) keeps it from blocking runs.
                tracing::warn!(
                    folder = %out.display(),
                    "ignored and removed {name}: it is not a journal a run of suivi writes \
                     (a link, or names outside the folder); check who can write into this folder"
                );
                std::fs::remove_file(&journal)
                    .map_err(|e| Error::io(format!("removing {}", journal.display()), e))?;
                remove_if_present(&dir)?;
                continue;
            };
            move_staged(&dir, out, &files)?;
            finish(&journal, &dir)?;
            tracing::warn!(
                folder = %out.display(),
                "completed the outputs {tag} of an interrupted run ({} files)",
                files.len()
            );
        }
    }
    for name in &names {
        if let Some(tag) = name.strip_prefix(STAGING_PREFIX) {
            let dir = out.join(name);
            if std::fs::symlink_metadata(&dir).is_ok() {
                remove_if_present(&dir)?;
                tracing::warn!(
                    folder = %out.display(),
                    "rolled back the outputs {tag} of an interrupted run: the previous ones stay"
                );
            }
        }
    }
    Ok(())
}
