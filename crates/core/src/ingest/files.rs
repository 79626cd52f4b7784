//! Which files a source reads: its pattern in the input folder, exactly one
//! match unless the source gathers several, and never a file that looks
//! like a copy of one of them left beside it in silence.

use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, Source};
use crate::text::fold;
use std::path::{Path, PathBuf};

/// Every input file of the pipeline's sources that exists, sorted, once.
pub fn input_files(pipeline: &Pipeline) -> Vec<PathBuf> {
    let files: std::collections::BTreeSet<PathBuf> = pipeline
        .sources
        .values()
        .filter_map(|s| resolve_files(pipeline, s).ok())
        .flatten()
        .collect();
    files.into_iter().collect()
}

/// A source whose files cannot be read: its label and what is wrong.
#[derive(Debug)]
pub struct MissingSource {
    /// The source's name in the pipeline.
    pub source: String,
    /// The source's label (its name without one).
    pub label: String,
    /// Its file pattern, relative to the input folder.
    pub pattern: String,
    pub error: Error,
}

impl MissingSource {
    /// `Finances - mandats (finances_2020.*): no input file matches this name`.
    pub fn describe(&self) -> String {
        let why = match &self.error {
            Error::Input { message, .. } => message.clone(),
            other => other.to_string(),
        };
        format!("{} ({}): {why}", self.label, self.pattern)
    }
}

/// What is wrong with the deliveries of `missing`, one line per problem:
/// sources that read the same file share their line.
pub fn describe_all(missing: &[MissingSource]) -> Vec<String> {
    let mut lines: Vec<(Vec<&str>, String)> = Vec::new();
    for source in missing {
        let described = source.describe();
        let why = described[source.label.len()..].to_owned();
        match lines.iter_mut().find(|(_, w)| *w == why) {
            Some((labels, _)) => labels.push(&source.label),
            None => lines.push((vec![&source.label], why)),
        }
    }
    lines
        .into_iter()
        .map(|(labels, why)| format!("{}{why}", labels.join(", ")))
        .collect()
}

/// The sources of the pipeline whose files are missing or ambiguous, in
/// source order.
pub fn missing_sources(pipeline: &Pipeline) -> Vec<MissingSource> {
    pipeline
        .sources
        .iter()
        .filter_map(|(name, source)| {
            let error = resolve_files(pipeline, source).err()?;
            Some(MissingSource {
                source: name.clone(),
                label: source.label.clone().unwrap_or_else(|| name.clone()),
                pattern: pipeline.file_pattern(source),
                error,
            })
        })
        .collect()
}

/// The years from `years` whose files are all in the input folder.
pub fn years_present(pipeline: &Pipeline, years: impl IntoIterator<Item = i32>) -> Vec<i32> {
    years
        .into_iter()
        .filter(|&year| {
            let mut other = pipeline.clone();
            other.year = year;
            missing_sources(&other).is_empty()
        })
        .collect()
}

/// Names the pipeline tells us to leave alone (`ignore_files`).
fn ignored(pipeline: &Pipeline, name: &str) -> Result<bool> {
    for pattern in &pipeline.settings.ignore_files {
        let compiled = glob::Pattern::new(pattern).map_err(|e| Error::Pipeline {
            path: pipeline.path.clone(),
            line: None,
            message: format!("bad pattern '{pattern}' in ignore_files: {e}"),
        })?;
        if compiled.matches(name) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Office programs' lock files, never data.
fn is_lock_file(name: &str) -> bool {
    name.starts_with("~$") || name.starts_with(".~lock")
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The files matching the source's pattern, sorted; lock files and names
/// the pipeline ignores left out. Fails when none matches, when several do
/// for a source that reads one, and when the folder holds a file that looks
/// like a copy of one of them (`(1)`, `Copie de`, `.old`, another case...).
pub(super) fn resolve_files(pipeline: &Pipeline, source: &Source) -> Result<Vec<PathBuf>> {
    let pattern = pipeline.file_pattern(source);
    let dir = &pipeline.inputs;
    if !dir.is_dir() {
        return Err(Error::input(dir, None, "the input folder does not exist"));
    }
    let bad_pattern = |e: glob::PatternError| Error::Pipeline {
        path: pipeline.path.clone(),
        line: None,
        message: format!("bad file pattern '{pattern}': {e}"),
    };
    let exact = glob::Pattern::new(&pattern).map_err(bad_pattern)?;
    let loose = glob::Pattern::new(&fold(&pattern)).map_err(bad_pattern)?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::input(dir, None, format!("cannot list the input folder: {e}")))?;
    let mut files = Vec::new();
    let mut copies = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = name_of(&path);
        if is_lock_file(&name) || !path.is_file() || ignored(pipeline, &name)? {
            continue;
        }
        let unmarked = without_copy_marks(&name);
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if is_link && !pipeline.settings.follow_links && loose.matches(&unmarked) {
            let target = std::fs::read_link(&path)
                .map(|t| format!(" (to {})", t.display()))
                .unwrap_or_default();
            return Err(Error::input(
                &path,
                None,
                format!(
                    "{name} is a symbolic link{target}, not a file: the input folder is read \
                     without following links, so that nothing put there makes a run read \
                     elsewhere. Copy the file into the folder, or set `follow_links = true` \
                     under [pipeline] if links there are trusted"
                ),
            ));
        }
        let marked = unmarked != fold(&name);
        if exact.matches(&name) && !marked {
            files.push(path);
        } else if loose.matches(&unmarked) {
            copies.push(path);
        }
    }
    files.sort();
    copies.sort();
    if let Some(copy) = copies.first() {
        return Err(copy_error(&pattern, &files, copy));
    }
    if files.is_empty() {
        return Err(Error::input(
            dir.join(&pattern),
            None,
            "no input file matches this name",
        ));
    }
    if files.len() > 1 && !source.several_files {
        return Err(several_files_error(dir, &pattern, &files));
    }
    // `x.*` matching both x.xlsx and x.xls would count every row twice.
    for pair in files.windows(2) {
        if pair[0].file_stem() == pair[1].file_stem() {
            return Err(Error::input(
                &pair[1],
                None,
                format!(
                    "two versions of one file match '{pattern}', {} ({}) and {} ({}): keep one",
                    name_of(&pair[0]),
                    modified(&pair[0]),
                    name_of(&pair[1]),
                    modified(&pair[1])
                ),
            ));
        }
    }
    Ok(files)
}

/// A file's modification time for a message, `modified 03/02/2021 14:05`.
fn modified(path: &Path) -> String {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            let local: chrono::DateTime<chrono::Local> = t.into();
            format!("modified {}", local.format("%d/%m/%Y %H:%M"))
        })
        .unwrap_or_else(|_| "modification date unknown".to_owned())
}

fn copy_error(pattern: &str, files: &[PathBuf], copy: &Path) -> Error {
    let original = match files {
        [] => format!("no file is named '{pattern}' itself"),
        [one] => format!("{} is ({})", name_of(one), modified(one)),
        many => format!(
            "{} are",
            many.iter()
                .map(|f| format!("{} ({})", name_of(f), modified(f)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Error::input(
        copy,
        None,
        format!(
            "{} ({}) looks like a copy of the file expected as '{pattern}', and {original}: \
             which one is the delivery is not clear. Keep the right one under the expected name \
             and move the other out of the input folder, or list such names in `ignore_files` \
             under [pipeline] to leave them alone",
            name_of(copy),
            modified(copy)
        ),
    )
}

fn several_files_error(dir: &Path, pattern: &str, files: &[PathBuf]) -> Error {
    let names: Vec<String> = files
        .iter()
        .map(|f| format!("{} ({})", name_of(f), modified(f)))
        .collect();
    let identical = files
        .windows(2)
        .all(|pair| same_bytes(&pair[0], &pair[1]).unwrap_or(false));
    let hint = if identical {
        "they are identical copies: keep one".to_owned()
    } else {
        "keep the one to read; only if each holds other rows (a file per month, say) declare \
         `several_files = true` for this source"
            .to_owned()
    };
    Error::input(
        dir.join(pattern),
        None,
        format!(
            "{} files match this name, where one is expected: {}. {hint}",
            files.len(),
            names.join(", ")
        ),
    )
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| Error::input(p, None, format!("cannot read the file: {e}")))
    };
    if size(a)? != size(b)? {
        return Ok(false);
    }
    Ok(crate::file_hash::hash_file(a)?.sha256 == crate::file_hash::hash_file(b)?.sha256)
}

/// Extensions that office users and tools append to a copy.
const COPY_EXTENSIONS: [&str; 5] = ["old", "bak", "orig", "backup", "sav"];

/// A file name, folded ([`fold`]), without the marks copies get: a
/// browser's ` (1)`, Windows' `Copie de ` and ` - Copie`, an added `.old`
/// or `.bak`, a trailing `~`.
fn without_copy_marks(name: &str) -> String {
    let mut name = fold(name);
    while let Some(stripped) = name.strip_suffix('~') {
        name = stripped.to_owned();
    }
    // `finances_2020.old.xlsx`, `finances_2020.xlsx.bak`.
    let parts: Vec<&str> = name.split('.').collect();
    let kept: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(i, part)| *i == 0 || !COPY_EXTENSIONS.contains(part))
        .map(|(_, part)| *part)
        .collect();
    let name = kept.join(".");
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name.as_str(), ""),
    };
    let mut stem = stem.trim().to_owned();
    for prefix in ["copie de ", "copy of "] {
        if let Some(rest) = stem.strip_prefix(prefix) {
            stem = rest.trim().to_owned();
        }
    }
    loop {
        let before = stem.clone();
        for suffix in [
            " - copie", " - copy", "(copie)", "(copy)", "_copie", "_copy",
        ] {
            if let Some(rest) = stem.strip_suffix(suffix) {
                stem = rest.trim_end().to_owned();
            }
        }
        // ` (1)`, `(2)`, ` - Copie (2)`.
        if let Some(open) = stem.rfind('(')
            && stem.ends_with(')')
            && stem[open + 1..stem.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit())
            && stem.len() > open + 2
        {
            stem = stem[..open].trim_end().to_owned();
        }
        if stem == before {
            break;
        }
    }
    format!("{stem}{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_marks_come_off() {
        for (copy, original) in [
            ("finances_2020 (1).xlsx", "finances_2020.xlsx"),
            ("Copie de finances_2020.xlsx", "finances_2020.xlsx"),
            ("finances_2020 - Copie.xlsx", "finances_2020.xlsx"),
            ("finances_2020 - Copie (2).xlsx", "finances_2020.xlsx"),
            ("finances_2020.old.xlsx", "finances_2020.xlsx"),
            ("finances_2020.xlsx.bak", "finances_2020.xlsx"),
            ("Finances_2020.XLSX", "finances_2020.xlsx"),
            ("départément_2020.xlsx~", "departement_2020.xlsx"),
            ("Copy of caf_rsa_2020(3).csv", "caf_rsa_2020.csv"),
        ] {
            assert_eq!(without_copy_marks(copy), original, "{copy}");
        }
        // Names that merely hold brackets or words stay as they are.
        assert_eq!(without_copy_marks("bilan (v2).xlsx"), "bilan (v2).xlsx");
        assert_eq!(without_copy_marks("copies_2020.csv"), "copies_2020.csv");
    }
}
