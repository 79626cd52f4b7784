//! Reading every source of a pipeline into typed tables, in parallel, with
//! every row accounted for: accepted, rejected (with its reason) or skipped.

mod columns;
mod csv_text;
pub mod grid;
mod header;
pub mod pseudo;
mod rows;

use crate::error::{Error, Result};
use crate::file_hash::{self, FileHashes};
use crate::parse::Problem;
use crate::pipeline::{Pipeline, Source};
use crate::reference::Reference;
use calamine::{Reader, SheetType, SheetVisible};
use columns::Context;
use grid::{Grid, SheetGrid, SparseGrid};
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

fn is_csv(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("csv" | "txt" | "tsv")
    )
}

/// How many records of a CSV file are parsed together. The first batch must
/// hold the header; the others are parsed in parallel.
struct Batching {
    first: usize,
    rest: usize,
}

impl Batching {
    fn for_source(source: &Source) -> Self {
        const ROWS: usize = 1 << 16;
        let header = match source.header_row {
            crate::pipeline::HeaderRow::Row(n) => n as usize,
            crate::pipeline::HeaderRow::Auto => header::HEADER_SEARCH_ROWS,
        };
        Batching {
            first: ROWS.max(header),
            rest: ROWS,
        }
    }
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
            parse_file(source, path, &bytes, context),
        ),
        None => rayon::join(
            || hex::encode(Sha256::digest(&bytes)),
            || parse_file(source, path, &bytes, context),
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

/// One file's bytes parsed: a CSV file, or the source's sheet of a workbook.
fn parse_file(
    source: &Source,
    path: &Path,
    bytes: &[u8],
    context: &Context,
) -> Result<rows::FileRows> {
    if is_csv(path) {
        let (text, encoding) = csv_text::decode(path, bytes, &source.encoding)?;
        let batching = Batching::for_source(source);
        let (parts, layout, height) = read_csv(source, path, &text, context, &batching)?;
        Ok(rows::FileRows {
            parts,
            layout,
            path: path.to_owned(),
            height,
            sheet: None,
            encoding: Some(encoding),
        })
    } else {
        // The bytes hashed are the ones parsed: one read of the file.
        let (grid, sheet) = open_sheet(path, bytes, source.sheet.as_deref())?;
        let layout = header::locate(grid.as_ref(), source, path, Some(&sheet))?;
        let rows = layout.header_row + 1..grid.height();
        Ok(rows::FileRows {
            path: path.to_owned(),
            parts: vec![rows::parse_rows(
                grid.as_ref(),
                &layout,
                source,
                rows,
                context,
                path,
            )?],
            layout,
            height: grid.height(),
            sheet: Some(sheet),
            encoding: None,
        })
    }
}

/// A CSV file, split and parsed a batch of lines at a time: the header is
/// found in the first batch, the others are parsed in parallel.
fn read_csv(
    source: &Source,
    path: &Path,
    text: &str,
    context: &Context,
    batching: &Batching,
) -> Result<(Vec<rows::Part>, header::Layout, usize)> {
    let mut splitter = csv_text::Splitter::new(path, text, &source.delimiter)?;
    let first = splitter
        .next_grid(batching.first, None)?
        .unwrap_or_else(|| grid::CsvGrid::new(0));
    let layout = header::locate(&first, source, path, None)?;
    let first_part = rows::parse_rows(
        &first,
        &layout,
        source,
        layout.header_row + 1..first.height(),
        context,
        path,
    )?;
    let mut height = first.height();
    // Grids parsed go back to the splitter to be filled again.
    let spare = std::sync::Mutex::new(vec![first]);
    let take_spare = || spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let batches =
        std::iter::from_fn(|| splitter.next_grid(batching.rest, take_spare()).transpose());
    let mut rest: Vec<(usize, Result<(usize, rows::Part)>)> = batches
        .enumerate()
        .par_bridge()
        .map(|(i, grid)| {
            let parsed = grid.map(|grid| {
                let rows = grid.first_line()..grid.height();
                let part = rows::parse_rows(&grid, &layout, source, rows, context, path);
                let end = grid.height();
                spare.lock().unwrap_or_else(|e| e.into_inner()).push(grid);
                part.map(|part| (end, part))
            });
            (i, parsed.and_then(|p| p))
        })
        .collect();
    rest.sort_unstable_by_key(|(i, _)| *i);
    let mut parts = vec![first_part];
    for (_, parsed) in rest {
        let (end, next) = parsed?;
        height = end;
        parts.push(next);
    }
    Ok((parts, layout, height))
}

/// A file opened as a grid, whatever its format.
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
    if is_csv(path) {
        let (grid, encoding) = csv_text::read(path, &bytes, encoding, delimiter)?;
        return Ok(OpenedFile {
            grid: Box::new(grid),
            sheet: None,
            sha256,
            encoding: Some(encoding),
        });
    }
    // The bytes just hashed are the ones parsed: one read of the file.
    let (grid, sheet) = open_sheet(path, &bytes, sheet)?;
    Ok(OpenedFile {
        grid,
        sheet: Some(sheet),
        sha256,
        encoding: None,
    })
}

/// A workbook's sheets with their visibility; a CSV file has none.
pub fn list_sheets(path: &Path) -> Result<Vec<calamine::Sheet>> {
    if is_csv(path) {
        return Ok(Vec::new());
    }
    let (bytes, _) = read_bytes(path)?;
    let workbook = open_workbook(path, &bytes)?;
    Ok(workbook.sheets_metadata().to_vec())
}

/// A file's bytes, and its metadata if it did not change while it was read.
fn read_bytes(path: &Path) -> Result<(Vec<u8>, Option<std::fs::Metadata>)> {
    if !path.is_file() {
        return Err(Error::input(path, None, "no such file"));
    }
    file_hash::read_file(path)
        .map_err(|e| Error::input(path, None, format!("cannot read the file: {e}")))
}

/// A workbook in memory; its format (xlsx, xlsm, xlsb, xls, ods) is detected from its content.
fn open_workbook<'b>(
    path: &Path,
    bytes: &'b [u8],
) -> Result<calamine::Sheets<std::io::Cursor<&'b [u8]>>> {
    calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| {
        Error::input(
            path,
            None,
            format!("cannot open the workbook (corrupt, truncated or not a spreadsheet): {e}"),
        )
    })
}

/// Opens the named sheet (or the first visible worksheet) of a workbook.
fn open_sheet(path: &Path, bytes: &[u8], wanted: Option<&str>) -> Result<(Box<dyn Grid>, String)> {
    let mut workbook = open_workbook(path, bytes)?;
    let sheets = workbook.sheets_metadata().to_vec();
    let name = match wanted {
        Some(w) => sheets
            .iter()
            .find(|s| s.name == w)
            .or_else(|| {
                sheets
                    .iter()
                    .find(|s| crate::text::normalize(&s.name) == crate::text::normalize(w))
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                let names: Vec<String> = sheets.iter().map(|s| format!("'{}'", s.name)).collect();
                Error::input(
                    path,
                    Some(w),
                    format!("no such sheet; the workbook has {}", names.join(", ")),
                )
            })?,
        None => sheets
            .iter()
            .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
            .map(|s| s.name.clone())
            .ok_or_else(|| Error::input(path, None, "the workbook has no visible worksheet"))?,
    };
    let fail = |e: String| Error::input(path, Some(&name), format!("cannot read the sheet: {e}"));
    // xlsx and xlsb are read cell by cell into a sparse grid: a dense range
    // would allocate every cell up to a stray one in the sheet's far corner.
    macro_rules! sparse {
        ($reader:expr) => {{
            let mut reader = $reader.map_err(|e| fail(e.to_string()))?;
            let mut cells = Vec::new();
            while let Some(cell) = reader.next_cell().map_err(|e| fail(e.to_string()))? {
                let value = calamine::Data::from(cell.get_value().clone());
                if value != calamine::Data::Empty {
                    let (row, col) = cell.get_position();
                    cells.push((row, col, value));
                }
            }
            Box::new(SparseGrid::new(cells)) as Box<dyn Grid>
        }};
    }
    let grid = match &mut workbook {
        calamine::Sheets::Xlsx(xlsx) => sparse!(xlsx.worksheet_cells_reader(&name)),
        calamine::Sheets::Xlsb(xlsb) => sparse!(xlsb.worksheet_cells_reader(&name)),
        other => Box::new(SheetGrid::new(
            other
                .worksheet_range(&name)
                .map_err(|e| fail(e.to_string()))?,
        )),
    };
    Ok((grid, name))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Batch boundaries fall on blank lines, between a row and its
    /// duplicate, and before the Total row; only some batches have an
    /// undeclared column: the result never changes.
    #[test]
    fn csv_batches_give_the_same_table_as_one_pass() {
        let dir = crate::repository().join("tests/fixtures/ingest");
        let pipeline = crate::pipeline::load(&dir.join("csv_files.toml"), None, None).unwrap();
        let reference = Reference::load(&pipeline).unwrap();
        let pseudonymizer = Pseudonymizer::with_key(b"0123456789abcdef");
        let context = Context {
            reference: &reference,
            pseudonymizer: &pseudonymizer,
            known_hashes: &FileHashes::new(),
        };
        let source = &pipeline.sources["caf_comma"];
        let lines = [
            "Extraction CAF 2020",
            "",
            "MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "",
            "202003,0234567,2019-09-01,42005,B,0,2,3,20,a note in an undeclared column",
            "202003,0345678,2019-31-12,42005,C,1,2,2,30",
            "",
            "",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "202004,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "202004,0999999,2018-03-15,99999,Z,1,2,1,1",
            "Total,,,,,,,,61",
            "Source : CAF",
        ];
        let text = lines.join("\r\n") + "\r\n";
        let path = Path::new("batches.csv");
        let read = |first, rest| {
            let batching = Batching { first, rest };
            let (parts, layout, height) =
                read_csv(source, path, &text, &context, &batching).unwrap();
            let file = rows::FileRows {
                parts,
                layout,
                path: path.to_owned(),
                sheet: None,
                height,
                encoding: None,
            };
            let finished = rows::finish(vec![file], source.duplicates)
                .unwrap()
                .remove(0);
            (finished.frame, finished.report)
        };
        let (whole, report) = read(usize::MAX, usize::MAX);
        let accepted: Vec<Option<i64>> = whole
            .column(ROW_COLUMN)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(accepted, [Some(4), Some(6), Some(11)]);
        let rejects: Vec<(usize, &str, &str)> = report
            .rejects
            .iter()
            .map(|r| (r.row, r.column.as_str(), r.reason.code()))
            .collect();
        assert_eq!(
            rejects,
            [
                (7, "DTOUVDRT", "date"),
                (10, "", "duplicate"),
                (12, "CODCOM", "commune")
            ]
        );
        assert_eq!(
            report.rejects[1].reason,
            Reason::Duplicate {
                first_row: 4,
                first_file: None
            }
        );
        assert_eq!((report.rows_read, report.skipped), (14, 8));
        for (first, rest) in [(4, 1), (4, 2), (3, 3), (5, 4)] {
            let (frame, batched) = read(first, rest);
            assert!(
                frame.equals_missing(&whole),
                "batches of {first} then {rest}"
            );
            assert_eq!(
                format!("{:?}", batched.rejects),
                format!("{:?}", report.rejects)
            );
            assert_eq!((batched.rows_read, batched.skipped), (14, 8));
        }
    }
}
