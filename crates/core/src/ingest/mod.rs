//! Reading every source of a pipeline into typed tables, in parallel, with
//! every row accounted for: accepted, rejected (with its reason) or skipped.

mod columns;
mod file;
mod files;
pub mod guess;
mod header;
mod outcome;
pub mod pseudo;
mod table;
mod workbooks;

use crate::error::{Error, Result};
use crate::file_hash::{self, HashBook};
use crate::pipeline::{Pipeline, Source};
use crate::reference::Reference;

use columns::Reading;
use polars::prelude::*;
use pseudo::Pseudonymizer;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use suivi_read::{Format, Grid, Sheet};

pub use files::{MissingSource, describe_all, input_files, missing_sources, years_present};
pub use outcome::{FileReport, Mapped, Reason, Reject, Repeat};

/// The column holding each accepted row's number in its file, as a user sees it.
pub const ROW_COLUMN: &str = "_ligne";

/// A source read into one table.
pub struct SourceTable {
    pub name: String,
    pub frame: DataFrame,
    pub files: Vec<FileReport>,
}

/// Reads every source of the pipeline in parallel. `known_hashes` holds the
/// SHA-256 of input files already computed in this run (maybe none); the
/// readers add the ones they compute. The columns of `unbuilt` (by source)
/// are checked but left out of the tables.
pub fn read_sources(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
    known_hashes: &HashBook,
    unbuilt: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<SourceTable>> {
    static NONE: BTreeSet<String> = BTreeSet::new();
    let missing = missing_sources(pipeline);
    if !missing.is_empty() {
        let year = pipeline.year;
        return Err(Error::Deliveries {
            folder: pipeline.inputs.clone(),
            year,
            problems: files::describe_all(&missing),
            years_present: years_present(pipeline, year - 10..=year + 1),
        });
    }
    let workbooks = workbooks::SharedWorkbooks::new(files_read_twice(pipeline));
    let tables = pipeline
        .sources
        .par_iter()
        .map(|(name, source)| {
            let reading = Reading {
                reference,
                pseudonymizer,
                known_hashes,
                unbuilt: unbuilt.get(name).unwrap_or(&NONE),
                workbooks: &workbooks,
            };
            read_source(pipeline, name, source, &reading)
        })
        .collect::<Vec<_>>();
    // The tables are built: batch buffers kept for reuse are freed.
    rayon::broadcast(|_| columns::Spare::release());
    columns::Spare::release();
    // Every file that cannot be read is named at once.
    let (tables, errors): (Vec<_>, Vec<_>) = tables.into_iter().partition(Result::is_ok);
    match Error::all(errors.into_iter().filter_map(Result::err).collect()) {
        Some(error) => Err(error),
        None => Ok(tables.into_iter().filter_map(Result::ok).collect()),
    }
}

/// The files more than one source reads (sheets of one workbook); a source
/// whose files cannot be listed is left to fail when it is read.
fn files_read_twice(pipeline: &Pipeline) -> std::collections::HashSet<std::path::PathBuf> {
    let mut seen = std::collections::HashSet::new();
    pipeline
        .sources
        .values()
        .filter_map(|source| files::resolve_files(pipeline, source).ok())
        .flatten()
        .filter(|path| !seen.insert(path.clone()))
        .collect()
}

fn read_source(
    pipeline: &Pipeline,
    name: &str,
    source: &Source,
    reading: &Reading,
) -> Result<SourceTable> {
    let files = files::resolve_files(pipeline, source)?;
    let read: Vec<(Vec<table::FileRows>, String, f64)> = files
        .par_iter()
        .map(|path| read_file(source, path, reading))
        .collect::<Result<_>>()?;
    // A workbook's sheets share its hash; its reading time is told once.
    let (read, hashes): (Vec<_>, Vec<_>) = read
        .into_iter()
        .flat_map(|(sheets, sha256, ms)| {
            sheets
                .into_iter()
                .enumerate()
                .map(move |(i, sheet)| (sheet, (sha256.clone(), if i == 0 { ms } else { 0.0 })))
        })
        .unzip();
    // Duplicates are looked for across the files and sheets of the source too.
    let finished = table::finish(read, source.duplicates)?;
    refuse_copies(finished.iter().map(|f| &f.report))?;
    let mut frame: Option<DataFrame> = None;
    let mut reports = Vec::with_capacity(finished.len());
    for (file, (sha256, read_ms)) in finished.into_iter().zip(hashes) {
        let mut report = file.report;
        report.read_ms = read_ms;
        report.source = name.to_owned();
        report.sha256 = sha256;
        report.mapped = file
            .former_rows
            .into_iter()
            .map(|(code, rows)| {
                let (former, current) = reading.reference.former(code);
                Mapped {
                    former: former.to_owned(),
                    current: current.to_owned(),
                    former_named: reading.reference.named(former),
                    current_named: reading.reference.named(current),
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
    let frame = frame.expect("resolve_files returns at least one file");
    let mib = frame.estimated_size() as f64 / (1 << 20) as f64;
    tracing::debug!(
        source = name,
        rows = frame.height(),
        mib,
        "source table built"
    );
    Ok(SourceTable {
        name: name.to_owned(),
        frame,
        files: reports,
    })
}

/// Two files of one source that share most of their rows are two copies
/// of one delivery, whatever their names and the pipeline say: read
/// together, every amount would count twice (or every row be rejected as a
/// duplicate). `reports` are in reading order.
fn refuse_copies<'a>(reports: impl Iterator<Item = &'a FileReport>) -> Result<()> {
    for report in reports {
        let mut shared: BTreeMap<&str, usize> = BTreeMap::new();
        for reject in &report.rejects {
            if let Reason::Duplicate {
                first_file: Some(other),
                ..
            } = &reject.reason
            {
                *shared.entry(other).or_default() += 1;
            }
        }
        for repeat in &report.repeats {
            if let Some(other) = &repeat.first_file {
                *shared.entry(other).or_default() += repeat.rows.len();
            }
        }
        let data_rows = report.accepted + report.rejected();
        if let Some((other, &rows)) = shared.iter().max_by_key(|(_, rows)| **rows)
            && rows * 2 > data_rows
        {
            return Err(Error::input(
                &report.path,
                report.sheet.as_deref(),
                format!(
                    "{rows} of its {data_rows} data rows are also in {other}: the two look like \
                     copies of one delivery, and reading both would count those rows twice. \
                     Keep one of them"
                ),
            ));
        }
    }
    Ok(())
}

/// A file's rows parsed (one part per sheet read), its SHA-256 and the
/// milliseconds it took.
fn read_file(
    source: &Source,
    path: &Path,
    reading: &Reading,
) -> Result<(Vec<table::FileRows>, String, f64)> {
    let started = std::time::Instant::now();
    if !path.is_file() {
        return Err(Error::input(path, None, "no such file"));
    }
    let (parsed, sha256) = match read_streamed(source, path, reading)? {
        Some((read, sha256)) => (vec![read], sha256),
        None => read_whole(source, path, reading)?,
    };
    // Rounded to the microsecond: small sources read in well under a millisecond.
    let ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    let rows: usize = parsed.iter().map(|p| p.height).sum();
    tracing::debug!(file = %path.display(), sheets = parsed.len(), rows, ms, "file parsed");
    Ok((parsed, sha256, ms))
}

/// A file read whole into memory and parsed, hashed meanwhile unless its
/// hash is known.
fn read_whole(
    source: &Source,
    path: &Path,
    reading: &Reading,
) -> Result<(Vec<table::FileRows>, String)> {
    let (bytes, unchanged) = read_bytes(path)?;
    let known = unchanged
        .as_ref()
        .and_then(|m| reading.known_hashes.known(path, m));
    let parse = || guarded(path, || file::read_workbook(source, path, &bytes, reading));
    let (sha256, parsed) = match known {
        Some(sha256) => (sha256, parse()),
        None => {
            let (sha256, parsed) = rayon::join(|| hex::encode(Sha256::digest(&bytes)), parse);
            reading
                .known_hashes
                .record(path, &sha256, unchanged.as_ref());
            (sha256, parsed)
        }
    };
    // The file can be as large as its table: not both at once.
    drop(bytes);
    Ok((parsed?, sha256))
}

/// A file opened as a grid, whatever its format, for `inspect`.
pub struct OpenedFile {
    pub grid: Box<dyn Grid + Send>,
    /// The sheet read, for workbooks.
    pub sheet: Option<String>,
    pub sha256: String,
    /// The detected or declared text encoding, for CSV files.
    pub encoding: Option<&'static str>,
}

/// Opens a CSV file (its encoding and delimiter detected) or one sheet of a
/// workbook (the first visible worksheet when `sheet` is None).
pub fn open_grid(path: &Path, sheet: Option<&str>) -> Result<OpenedFile> {
    let (bytes, _) = read_bytes(path)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let options = suivi_read::csv::Options::default();
    let opened = guarded(path, || {
        suivi_read::open(path, &bytes[..], options).map_err(|e| Error::unreadable(path, None, e))
    })?;
    Ok(match opened {
        suivi_read::Opened::Csv { grid, encoding } => OpenedFile {
            grid: Box::new(grid),
            sheet: None,
            sha256,
            encoding: Some(encoding),
        },
        suivi_read::Opened::Workbook(mut workbook) => {
            let (grid, sheet) =
                guarded(path, || workbooks::open_sheet(path, &mut workbook, sheet))?;
            OpenedFile {
                grid,
                sheet: Some(sheet),
                sha256,
                encoding: None,
            }
        }
    })
}

/// A workbook's sheets with their visibility; a CSV file has none.
pub fn list_sheets(path: &Path) -> Result<Vec<Sheet>> {
    if Format::of(path) == Format::Csv {
        return Ok(Vec::new());
    }
    let (bytes, _) = read_bytes(path)?;
    guarded(path, || {
        suivi_read::Workbook::open(&bytes[..])
            .map(|workbook| workbook.sheets())
            .map_err(|e| Error::unreadable(path, None, e))
    })
}

/// Readers running now: a panic meanwhile is most likely theirs (see [`reading`]).
static READERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a file reader is running: the binary's panic hook keeps quiet
/// then, as [`guarded`] turns the panic into an error naming the file.
pub fn reading() -> bool {
    READERS.load(std::sync::atomic::Ordering::Relaxed) > 0
}

/// Runs a reader on one file. A panic inside it (a dependency meeting a
/// structure it does not expect) becomes an input error naming the file:
/// the last line of defence, behind the checks where data enters.
fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::sync::atomic::Ordering;
    READERS.fetch_add(1, Ordering::Relaxed);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    READERS.fetch_sub(1, Ordering::Relaxed);
    outcome.unwrap_or_else(|_| {
        Err(Error::input(
            path,
            None,
            suivi_read::Error::Broken.to_string(),
        ))
    })
}

/// A file read by a format that does not hold it whole, and its SHA-256;
/// `None` for the other formats.
fn read_streamed(
    source: &Source,
    path: &Path,
    reading: &Reading,
) -> Result<Option<(table::FileRows, String)>> {
    let metadata = |path: &Path| {
        std::fs::metadata(path)
            .map_err(|e| Error::input(path, None, format!("cannot read the file: {e}")))
    };
    let before = metadata(path)?;
    let known = reading.known_hashes.known(path, &before);
    if Format::of(path) != Format::Csv {
        return Ok(None);
    }
    let (rows, sha256) = guarded(path, || {
        file::read_csv_file(source, path, reading, known.is_none())
    })?;
    let after = metadata(path)?;
    if before.len() != after.len() || before.modified().ok() != after.modified().ok() {
        return Err(Error::input(
            path,
            None,
            "the file changed while it was read: run again once it is complete",
        ));
    }
    let sha256 = match known {
        Some(sha256) => sha256,
        None => {
            let sha256 =
                sha256.ok_or_else(|| Error::input(path, None, "the file could not be hashed"))?;
            reading.known_hashes.record(path, &sha256, Some(&after));
            sha256
        }
    };
    Ok(Some((rows, sha256)))
}

/// A file's bytes, and its metadata if it did not change while it was read.
fn read_bytes(path: &Path) -> Result<(Vec<u8>, Option<std::fs::Metadata>)> {
    if !path.is_file() {
        return Err(Error::input(path, None, "no such file"));
    }
    file_hash::read_file(path)
        .map_err(|e| Error::input(path, None, format!("cannot read the file: {e}")))
}

/// Fails on the first file whose share of rejected data rows, or of rows
/// skipped as totals with data below them, is above the pipeline's limit.
pub fn enforce_reject_limit(pipeline: &Pipeline, tables: &[SourceTable]) -> Result<()> {
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
        let skipped = report.inner_totals;
        let rows = data_rows + skipped;
        if skipped > 0 && skipped as f64 / rows as f64 > limit {
            return Err(Error::SkipRate {
                file: report.path.clone(),
                sheet: report.sheet.clone(),
                skipped,
                rows,
                limit,
            });
        }
    }
    Ok(())
}
