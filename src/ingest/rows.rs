//! From a grid's rows to a table: which rows are data, their typed values,
//! then duplicates, rejects and the DataFrame. A large CSV file is parsed as
//! several [`Part`]s (one per batch of lines, in parallel) appended in order.

use super::columns::{self, CellProblem, Context, Values};
use super::grid::Grid;
use super::header::Layout;
use super::{FileReport, ROW_COLUMN, Reason, Reject};
use crate::error::{Error, Result};
use crate::spec::Source;
use hashbrown::hash_table::{Entry, HashTable};
use polars::prelude::*;
use rayon::prelude::*;
use std::hash::BuildHasher;
use std::ops::Range;
use std::path::Path;

const HASH_SEED: u64 = 0x243f_6a88_85a3_08d3;

/// The data rows of consecutive lines, parsed.
pub struct Part {
    /// 0-based row of each data row in the sheet or file.
    rows: Vec<usize>,
    /// One per declared column.
    values: Vec<Values>,
    /// Each data row's hash over all its values, to find duplicates.
    hashes: Vec<u64>,
    /// The first problem of each rejected data row (index in `rows`), in order.
    problems: Vec<(usize, CellProblem)>,
    /// The cells of undeclared columns, per data row, when the sheet has any:
    /// a duplicate has "all columns equal".
    undeclared: Option<Vec<Box<str>>>,
    /// A `Total` row was met: what follows it are notes, not data.
    total: bool,
    /// Non-blank rows below the `Total` row.
    notes: usize,
}

/// Classifies the rows of `range` (data, blank, `Total` and notes below it)
/// and parses the data rows' declared columns.
pub fn parse_rows(
    grid: &dyn Grid,
    layout: &Layout,
    source: &Source,
    range: Range<usize>,
    context: &Context,
) -> Part {
    let mut rows = Vec::with_capacity(range.len());
    let (mut total, mut notes) = (false, 0);
    for row in range {
        if grid.row_is_blank(row) {
            continue;
        }
        if total {
            notes += 1;
        } else if grid.is_total_row(row) {
            total = true;
        } else {
            rows.push(row);
        }
    }
    let mut problems: Vec<Option<CellProblem>> = vec![None; rows.len()];
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
                &rows,
                context,
                &mut problems,
            )
        })
        .collect();
    let declared: Vec<usize> = layout.positions.iter().flatten().copied().collect();
    let undeclared = (0..grid.width()).any(|c| !declared.contains(&c)).then(|| {
        rows.iter()
            .map(|&row| {
                let mut cells = String::new();
                for (c, cell) in grid.row_cells(row) {
                    if !declared.contains(&c) {
                        cells.push_str(&format!("{c}\u{1f}{}\u{1e}", cell.display()));
                    }
                }
                cells.into_boxed_str()
            })
            .collect()
    });
    let mut hashes = vec![HASH_SEED; rows.len()];
    values.iter().for_each(|v: &Values| v.mix_into(&mut hashes));
    if let Some(cells) = &undeclared {
        let state = foldhash::fast::FixedState::default();
        for (h, cells) in hashes.iter_mut().zip(cells) {
            *h = columns::mix(*h, state.hash_one(cells));
        }
    }
    Part {
        rows,
        values,
        hashes,
        problems: problems
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p?)))
            .collect(),
        undeclared,
        total,
        notes,
    }
}

impl Part {
    /// Appends the part that follows; nothing after a `Total` row is data.
    pub fn append(&mut self, next: Part) {
        if self.total {
            self.notes += next.rows.len() + usize::from(next.total) + next.notes;
            return;
        }
        let offset = self.rows.len();
        self.rows.extend(next.rows);
        self.hashes.extend(next.hashes);
        for (values, more) in self.values.iter_mut().zip(next.values) {
            values.append(more);
        }
        self.problems
            .extend(next.problems.into_iter().map(|(i, p)| (i + offset, p)));
        match (&mut self.undeclared, next.undeclared) {
            (Some(cells), Some(more)) => cells.extend(more),
            (None, None) => {}
            // One batch of a CSV file has more columns than another.
            (mine, theirs) => {
                let blank = |n: usize| vec![Box::<str>::from(""); n];
                let mut cells = mine.take().unwrap_or_else(|| blank(offset));
                cells.extend(theirs.unwrap_or_else(|| blank(self.rows.len() - offset)));
                self.undeclared = Some(cells);
            }
        }
        self.total = next.total;
        self.notes = next.notes;
    }
}

/// Rejects (cell problems, exact duplicates), the table of accepted rows and
/// the file's report. `height` is the number of rows read, blank ones included.
pub fn finish(
    part: Part,
    layout: &Layout,
    source: &Source,
    path: &Path,
    sheet: Option<&str>,
    height: usize,
) -> Result<(DataFrame, FileReport)> {
    if part.notes > 0 {
        tracing::warn!(
            file = %path.display(),
            sheet = sheet.unwrap_or(""),
            "{} non-empty rows below the Total row skipped as notes",
            part.notes
        );
    }
    let Part {
        rows,
        values,
        hashes,
        problems,
        undeclared,
        ..
    } = part;
    let equal = |i: usize, j: usize| {
        values.iter().all(|v| v.row_eq(i, j))
            && undeclared.as_ref().is_none_or(|cells| cells[i] == cells[j])
    };

    let mut rejects = Vec::new();
    let mut keep = Vec::with_capacity(rows.len());
    let mut seen: HashTable<usize> = HashTable::with_capacity(rows.len());
    let mut problems = problems.into_iter().peekable();
    for (i, &row) in rows.iter().enumerate() {
        if let Some((_, p)) = problems.next_if(|(at, _)| *at == i) {
            rejects.push(Reject {
                row: row + 1,
                column: layout.written[p.column].clone(),
                value: truncate(&p.value),
                reason: Reason::Cell(p.problem),
            });
            continue;
        }
        match seen.entry(hashes[i], |&j| equal(i, j), |&j| hashes[j]) {
            Entry::Occupied(first) => rejects.push(Reject {
                row: row + 1,
                column: String::new(),
                value: String::new(),
                reason: Reason::Duplicate {
                    first_row: rows[*first.get()] + 1,
                },
            }),
            Entry::Vacant(slot) => {
                slot.insert(i);
                keep.push(i);
            }
        }
    }
    drop((seen, hashes, undeclared));

    let to_polars = |e| Error::polars(format!("building the table of {}", path.display()), e);
    let row_numbers: Vec<i64> = keep.iter().map(|&i| rows[i] as i64 + 1).collect();
    let typed: Vec<Column> = source
        .columns
        .par_iter()
        .zip(values)
        .map(|(column, v)| v.into_column(column.name.get_ref(), &keep))
        .collect::<PolarsResult<_>>()
        .map_err(to_polars)?;
    let mut frame_columns = vec![Series::new(ROW_COLUMN.into(), row_numbers).into_column()];
    frame_columns.extend(typed);
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
        // Every row that is not data: titles, header, blank, Total and notes.
        skipped: height - rows.len(),
        rejects,
    };
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
