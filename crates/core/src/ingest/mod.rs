//! Reading every source of a pipeline into typed tables, in parallel, with
//! every row accounted for: accepted, rejected (with its reason) or skipped.

mod columns;
mod format;
pub mod grid;
pub mod guess;
mod header;
pub mod pseudo;
mod rows;

use crate::error::{Error, Result};
use crate::file_hash::{self, FileHashes};
use crate::parse::Problem;
use crate::pipeline::{Pipeline, Source};
use crate::reference::Reference;

use columns::Context;
use grid::Grid;
use polars::prelude::*;
use pseudo::Pseudonymizer;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The column holding each accepted row's number in its file, as a user sees it.
pub const ROW_COLUMN: &str = "_ligne";

/// A source read into one table.
pub struct Table {
    pub name: String,
    pub frame: DataFrame,
    pub files: Vec<FileReport>,
}

/// What happened to the rows of one file (or one sheet of a workbook).
#[derive(Debug, Clone)]
pub struct FileReport {
    pub source: String,
    pub path: PathBuf,
    pub sheet: Option<String>,
    pub sha256: String,
    /// `windows-1252`, `UTF-8`... for CSV files.
    pub encoding: Option<&'static str>,
    /// 1-based.
    pub header_row: usize,
    pub rows_read: usize,
    pub accepted: usize,
    pub skipped: usize,
    pub rejects: Vec<Reject>,
    /// Rows without an identifier equal to an earlier row in every column:
    /// kept (they are events, such as two sessions of the same day and
    /// size) and listed as possible double entries.
    pub repeats: Vec<Repeat>,
    /// Accepted rows whose commune was written with the code of a commune
    /// merged since, per former code, in code order.
    pub mapped: Vec<Mapped>,
    /// Declared columns the file lacks, which the pipeline allows
    /// (`may_be_absent`): left empty.
    pub absent_columns: Vec<String>,
}

/// Accepted rows of a file mapped from one former commune code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub former: String,
    pub current: String,
    pub rows: usize,
}

/// Identical rows without an identifier, kept: a possible double entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// 1-based row of the first of them.
    pub first_row: usize,
    /// The file of the first of them, when it is another file of the source.
    pub first_file: Option<String>,
    /// 1-based rows that repeat it, in order.
    pub rows: Vec<usize>,
}

impl FileReport {
    pub fn rejected(&self) -> usize {
        self.rejects.len()
    }

    /// Rows kept that repeat an earlier row (possible double entries).
    pub fn repeated(&self) -> usize {
        self.repeats.iter().map(|r| r.rows.len()).sum()
    }

    /// Accepted rows mapped through the commune passage table.
    pub fn mapped_rows(&self) -> usize {
        self.mapped.iter().map(|m| m.rows).sum()
    }

    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Cell(Problem),
    /// An exact copy of an earlier data row (1-based row number), of
    /// another file of the source when `first_file` says so.
    Duplicate {
        first_row: usize,
        first_file: Option<String>,
    },
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Cell(p) => p.code(),
            Reason::Duplicate { .. } => "duplicate",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Reason::Cell(p) => p.message().to_owned(),
            Reason::Duplicate {
                first_row,
                first_file: None,
            } => format!("exact duplicate of row {first_row}"),
            Reason::Duplicate {
                first_row,
                first_file: Some(file),
            } => format!("exact duplicate of row {first_row} of {file}"),
        }
    }

    /// What to do about it, where that is not obvious.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Reason::Cell(p) => p.hint(),
            Reason::Duplicate { .. } => None,
        }
    }

    /// The message followed by its hint: one line for listings.
    pub fn explained(&self) -> String {
        match self.hint() {
            Some(hint) => format!("{}: {hint}", self.message()),
            None => self.message(),
        }
    }
}

/// A rejected row: where it is and why. Identifier values are masked.
#[derive(Debug, Clone)]
pub struct Reject {
    /// 1-based, counting title rows, as a spreadsheet program shows it.
    pub row: usize,
    /// The column's header as the file writes it; empty for duplicates.
    pub column: String,
    pub value: String,
    pub reason: Reason,
}

/// Reads every source of the pipeline in parallel. `known_hashes` are the
/// SHA-256 of input files already computed in this run (may be empty).
pub fn read_sources(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
    known_hashes: &FileHashes,
) -> Result<Vec<Table>> {
    let context = Context {
        reference,
        pseudonymizer,
        known_hashes,
    };
    pipeline
        .sources
        .par_iter()
        .map(|(name, source)| read_source(pipeline, name, source, &context))
        .collect()
}

fn read_source(
    pipeline: &Pipeline,
    name: &str,
    source: &Source,
    context: &Context,
) -> Result<Table> {
    let files = resolve_files(pipeline, source)?;
    let read: Vec<(rows::FileRows, String)> = files
        .par_iter()
        .map(|path| read_file(source, path, context))
        .collect::<Result<_>>()?;
    let (read, hashes): (Vec<_>, Vec<_>) = read.into_iter().unzip();
    // Duplicates are looked for across the files of the source too.
    let finished = rows::finish(read, source.duplicates)?;
    let mut frame: Option<DataFrame> = None;
    let mut reports = Vec::with_capacity(finished.len());
    for (file, sha256) in finished.into_iter().zip(hashes) {
        let mut report = file.report;
        report.source = name.to_owned();
        report.sha256 = sha256;
        report.mapped = file
            .former_rows
            .into_iter()
            .map(|(code, rows)| {
                let (former, current) = context.reference.former(code);
                Mapped {
                    former: former.to_owned(),
                    current: current.to_owned(),
                    rows,
                }
            })
            .collect();
        reports.push(report);
        match &mut frame {
            None => frame = Some(file.frame),
            Some(frame) => {
                frame.vstack_mut_owned(file.frame).map_err(|e| {
                    Error::polars(format!("stacking the files of source {name}"), e)
                })?;
            }
        }
    }
    Ok(Table {
        name: name.to_owned(),
        frame: frame.expect("resolve_files returns at least one file"),
        files: reports,
    })
}

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

/// The files matching the source's pattern, sorted; Excel lock files ignored.
fn resolve_files(pipeline: &Pipeline, source: &Source) -> Result<Vec<PathBuf>> {
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

/// A file's rows parsed, and its SHA-256.
fn read_file(source: &Source, path: &Path, context: &Context) -> Result<(rows::FileRows, String)> {
    let started = std::time::Instant::now();
    let (bytes, unchanged) = read_bytes(path)?;
    let known = context
        .known_hashes
        .get(path)
        .filter(|hash| unchanged.as_ref().is_some_and(|m| hash.matches(m)));
    let (sha256, parsed) = match known {
        Some(hash) => (
            hash.sha256.clone(),
            format::of(path).parse(source, path, &bytes, context),
        ),
        None => rayon::join(
            || hex::encode(Sha256::digest(&bytes)),
            || format::of(path).parse(source, path, &bytes, context),
        ),
    };
    // The file can be as large as its table: not both at once.
    drop(bytes);
    let parsed = parsed?;
    tracing::debug!(
        file = %path.display(),
        rows = parsed.height,
        ms = started.elapsed().as_millis() as u64,
        "file parsed"
    );
    Ok((parsed, sha256))
}

/// A file opened as a grid, whatever its format, for `inspect`.
pub struct OpenedFile {
    pub grid: Box<dyn Grid>,
    /// The sheet read, for workbooks.
    pub sheet: Option<String>,
    pub sha256: String,
    /// The detected or declared text encoding, for CSV files.
    pub encoding: Option<&'static str>,
}

/// Opens a CSV file or one sheet of a workbook (the first visible worksheet
/// when `sheet` is None). `encoding` and `delimiter` apply to CSV only.
pub fn open_grid(
    path: &Path,
    sheet: Option<&str>,
    encoding: &str,
    delimiter: &str,
) -> Result<OpenedFile> {
    let (bytes, _) = read_bytes(path)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let opened = format::of(path).open(path, &bytes, sheet, encoding, delimiter)?;
    Ok(OpenedFile {
        grid: opened.grid,
        sheet: opened.sheet,
        sha256,
        encoding: opened.encoding,
    })
}

/// A workbook's sheets with their visibility; a CSV file has none.
pub fn list_sheets(path: &Path) -> Result<Vec<calamine::Sheet>> {
    let (bytes, _) = read_bytes(path)?;
    format::of(path).sheets(path, &bytes)
}

/// A file's bytes, and its metadata if it did not change while it was read.
fn read_bytes(path: &Path) -> Result<(Vec<u8>, Option<std::fs::Metadata>)> {
    if !path.is_file() {
        return Err(Error::input(path, None, "no such file"));
    }
    file_hash::read_file(path)
        .map_err(|e| Error::input(path, None, format!("cannot read the file: {e}")))
}

/// Fails on the first file whose share of rejected data rows is above the pipeline's limit.
pub fn enforce_reject_limit(pipeline: &Pipeline, tables: &[Table]) -> Result<()> {
    let limit = pipeline.settings.max_reject_rate;
    for report in tables.iter().flat_map(|t| &t.files) {
        let data_rows = report.accepted + report.rejected();
        if data_rows > 0 && report.rejected() as f64 / data_rows as f64 > limit {
            return Err(Error::RejectRate {
                file: report.path.clone(),
                sheet: report.sheet.clone(),
                rejected: report.rejected(),
                data_rows,
                limit,
            });
        }
    }
    Ok(())
}
