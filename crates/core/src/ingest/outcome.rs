//! What happened to every row of every file: accepted, rejected with its
//! reason, repeated, mapped from a former commune code, or skipped.

use crate::parse::Problem;
use std::path::PathBuf;

/// What happened to the rows of one file (or one sheet of a workbook).
#[derive(Debug, Clone)]
pub struct FileReport {
    pub source: String,
    pub path: PathBuf,
    pub sheet: Option<String>,
    /// Cells of the sheet that took their value from a merged range (a
    /// commune merged down over the rows it applies to).
    pub merged_cells: usize,
    pub sha256: String,
    /// `windows-1252`, `UTF-8`... for CSV files.
    pub encoding: Option<&'static str>,
    /// 1-based.
    pub header_row: usize,
    pub rows_read: usize,
    /// Milliseconds spent reading and parsing the file (rejects and
    /// duplicates aside), for the benchmark.
    pub read_ms: f64,
    pub accepted: usize,
    /// Rows that are neither data nor the header: titles, blank rows,
    /// totals and notes. `rows_read` = header + accepted + rejected + skipped.
    pub skipped: usize,
    /// Of the rows skipped, `Total` and subtotal rows, wherever they are.
    pub totals: usize,
    /// Of those, the ones with data rows below them (subtotals): a grand
    /// total at the end is expected, many subtotals may be data misread.
    pub inner_totals: usize,
    /// Of the rows skipped, notes below the last total row (none of them a
    /// valid data row).
    pub notes: usize,
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
    /// The codes with the communes' names, for readers (`42004 Amions`).
    pub former_named: String,
    pub current_named: String,
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
        file_name(&self.path)
    }
}

/// A path's last component, as listings show a file.
pub(super) fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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
