//! Which files a source reads: its pattern in the input folder, exactly one
//! match unless the source gathers several.

use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, Source};
use std::path::PathBuf;

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

/// Whether every source of the pipeline has at least one input file.
pub fn all_sources_present(pipeline: &Pipeline) -> bool {
    pipeline
        .sources
        .values()
        .all(|s| resolve_files(pipeline, s).is_ok())
}

/// The file patterns of the sources that have no input file, in source order.
pub fn missing_files(pipeline: &Pipeline) -> Vec<String> {
    let mut missing: Vec<String> = pipeline
        .sources
        .values()
        .filter(|s| resolve_files(pipeline, s).is_err())
        .map(|s| pipeline.file_pattern(s))
        .collect();
    missing.dedup();
    missing
}

/// The files matching the source's pattern, sorted; Excel lock files ignored.
pub(super) fn resolve_files(pipeline: &Pipeline, source: &Source) -> Result<Vec<PathBuf>> {
    let pattern = pipeline.file_pattern(source);
    let dir = &pipeline.inputs;
    if !dir.is_dir() {
        return Err(Error::input(dir, None, "the input folder does not exist"));
    }
    let full = format!(
        "{}/{}",
        glob::Pattern::escape(&dir.to_string_lossy()),
        pattern
    );
    let paths = glob::glob(&full).map_err(|e| Error::Pipeline {
        path: pipeline.path.clone(),
        line: None,
        message: format!("bad file pattern '{pattern}': {e}"),
    })?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            !(name.starts_with("~$") || name.starts_with(".~lock"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::input(
            dir.join(&pattern),
            None,
            "no input file matches this name",
        ));
    }
    // A stray copy (`finances_2020.old.xlsx`) would count every row twice.
    if files.len() > 1 && !source.several_files {
        let names: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
        return Err(Error::input(
            dir.join(&pattern),
            None,
            format!(
                "{} files match this name, where one is expected: {}. Keep one, or declare \
                 `several_files = true` if the source gathers them all",
                files.len(),
                names.join(", ")
            ),
        ));
    }
    // `x.*` matching both x.xlsx and x.xls would count every row twice.
    for pair in files.windows(2) {
        if pair[0].file_stem() == pair[1].file_stem() {
            return Err(Error::input(
                &pair[1],
                None,
                format!(
                    "two versions of the same file match '{pattern}' (also {}): keep one",
                    pair[0].display()
                ),
            ));
        }
    }
    Ok(files)
}
