//! Reading every source of a pipeline into typed tables, in parallel, with
//! every row accounted for: accepted, rejected (with its reason) or skipped.

mod columns;
mod csv_text;
pub mod grid;
mod header;
pub mod pseudo;

use crate::error::{Error, Result};
use crate::parse::Problem;
use crate::reference::Reference;
use crate::spec::{Pipeline, Source};
use calamine::{Reader, SheetType, SheetVisible};
use columns::{CellProblem, Context, Values};
use grid::{Grid, SheetGrid, SparseGrid};
use polars::prelude::*;
use pseudo::Pseudonymizer;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
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
}

impl FileReport {
    pub fn rejected(&self) -> usize {
        self.rejects.len()
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
    /// An exact copy of an earlier data row (1-based row number).
    Duplicate {
        first_row: usize,
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
            Reason::Duplicate { first_row } => format!("exact duplicate of row {first_row}"),
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

/// Reads every source of the pipeline in parallel.
pub fn read_sources(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
) -> Result<Vec<Table>> {
    let context = Context {
        reference,
        pseudonymizer,
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
    let parts: Vec<(DataFrame, FileReport)> = files
        .par_iter()
        .map(|path| read_file(name, source, path, context))
        .collect::<Result<_>>()?;
    let mut parts = parts.into_iter();
    let (mut frame, report) = parts
        .next()
        .expect("resolve_files returns at least one file");
    let mut reports = vec![report];
    for (part, report) in parts {
        frame
            .vstack_mut_owned(part)
            .map_err(|e| Error::polars(format!("stacking the files of source {name}"), e))?;
        reports.push(report);
    }
    Ok(Table {
        name: name.to_owned(),
        frame,
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
    let paths = glob::glob(&full).map_err(|e| Error::Spec {
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

fn read_file(
    name: &str,
    source: &Source,
    path: &Path,
    context: &Context,
) -> Result<(DataFrame, FileReport)> {
    let opened = open_grid(
        path,
        source.sheet.as_deref(),
        &source.encoding,
        &source.delimiter,
    )?;
    let (frame, mut report) = table_from_grid(
        opened.grid.as_ref(),
        source,
        path,
        opened.sheet.as_deref(),
        context,
    )?;
    report.source = name.to_owned();
    report.sha256 = opened.sha256;
    report.encoding = opened.encoding;
    Ok((frame, report))
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
    let bytes = read_bytes(path)?;
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
    let bytes = read_bytes(path)?;
    let workbook = open_workbook(path, &bytes)?;
    Ok(workbook.sheets_metadata().to_vec())
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    if !path.is_file() {
        return Err(Error::input(path, None, "no such file"));
    }
    std::fs::read(path).map_err(|e| Error::input(path, None, format!("cannot read the file: {e}")))
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

/// Header detection, row classification, typed parsing, duplicates: one sheet
/// or CSV file into a DataFrame and its report.
fn table_from_grid(
    grid: &dyn Grid,
    source: &Source,
    path: &Path,
    sheet: Option<&str>,
    context: &Context,
) -> Result<(DataFrame, FileReport)> {
    let layout = header::locate(grid, source, path, sheet)?;
    let height = grid.height();
    let mut skipped = layout.header_row + 1;
    let mut data_rows = Vec::with_capacity(height.saturating_sub(layout.header_row + 1));
    // Rows below a `Total` row are footnotes ("Source : ..."), not data.
    let mut after_total = 0;
    for row in layout.header_row + 1..height {
        let is_total = || grid.is_total_row(row);
        if grid.row_is_blank(row) {
            skipped += 1;
        } else if after_total > 0 || is_total() {
            skipped += 1;
            after_total += 1;
        } else {
            data_rows.push(row);
        }
    }
    if after_total > 1 {
        tracing::warn!(
            file = %path.display(),
            sheet = sheet.unwrap_or(""),
            "{} non-empty rows below the Total row skipped as notes",
            after_total - 1
        );
    }

    let declared: std::collections::HashSet<usize> =
        layout.positions.iter().flatten().copied().collect();
    let all_declared = declared.len() >= grid.width();
    let undeclared = |row: usize| -> Vec<(usize, crate::parse::Cell)> {
        if all_declared {
            return Vec::new();
        }
        grid.row_cells(row)
            .into_iter()
            .filter(|(c, _)| !declared.contains(c))
            .collect()
    };
    let mut problems: Vec<Option<CellProblem>> = vec![None; data_rows.len()];
    let values: Vec<Values> = source
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            columns::parse_column(
                grid,
                layout.positions[i],
                i,
                column,
                &data_rows,
                context,
                &mut problems,
            )
        })
        .collect();

    let mut rejects = Vec::new();
    let mut keep = Vec::with_capacity(data_rows.len());
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, problem) in problems.into_iter().enumerate() {
        let row = data_rows[i] + 1;
        if let Some(p) = problem {
            rejects.push(Reject {
                row,
                column: layout.written[p.column].clone(),
                value: truncate(&p.value),
                reason: Reason::Cell(p.problem),
            });
            continue;
        }
        // A duplicate has the same values in the declared columns and the
        // same cells in the others ("all columns equal").
        let mut hasher = DefaultHasher::new();
        values.iter().for_each(|v| v.hash_row(i, &mut hasher));
        let others = undeclared(data_rows[i]);
        others.iter().for_each(|(c, cell)| {
            c.hash(&mut hasher);
            cell.display().hash(&mut hasher);
        });
        let same = seen.entry(hasher.finish()).or_default();
        if let Some(&first) = same
            .iter()
            .find(|&&j| values.iter().all(|v| v.row_eq(i, j)) && undeclared(data_rows[j]) == others)
        {
            rejects.push(Reject {
                row,
                column: String::new(),
                value: String::new(),
                reason: Reason::Duplicate {
                    first_row: data_rows[first] + 1,
                },
            });
            continue;
        }
        same.push(i);
        keep.push(i);
    }

    let to_polars = |e| Error::polars(format!("building the table of {}", path.display()), e);
    let mut frame_columns = Vec::with_capacity(values.len() + 1);
    let row_numbers: Vec<i64> = keep.iter().map(|&i| data_rows[i] as i64 + 1).collect();
    frame_columns.push(Series::new(ROW_COLUMN.into(), row_numbers).into_column());
    for (column, v) in source.columns.iter().zip(values) {
        frame_columns.push(
            v.into_column(column.name.get_ref(), &keep)
                .map_err(to_polars)?,
        );
    }
    let frame = DataFrame::new(keep.len(), frame_columns).map_err(to_polars)?;
    let report = FileReport {
        source: String::new(),
        path: path.to_owned(),
        sheet: sheet.map(str::to_owned),
        sha256: String::new(),
        encoding: None,
        header_row: layout.header_row + 1,
        rows_read: height,
        accepted: keep.len(),
        skipped,
        rejects,
    };
    debug_assert_eq!(
        report.rows_read,
        report.accepted + report.rejected() + report.skipped
    );
    Ok((frame, report))
}

/// Long values are cut in listings: a reject report is not a copy of the file.
fn truncate(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
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
