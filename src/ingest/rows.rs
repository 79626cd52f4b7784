//! From a grid's rows to a table: which rows are data, their typed values,
//! then duplicates, rejects and the DataFrame. A large CSV file is parsed as
//! several [`Part`]s (one per batch of lines, in parallel), each of which
//! becomes a chunk of the table's columns.

use super::columns::{self, CellProblem, Context, Values};
use super::grid::Grid;
use super::header::Layout;
use super::{FileReport, ROW_COLUMN, Reason, Reject, Repeat};
use crate::error::{Error, Result};
use crate::spec::{Duplicates, Source};
use hashbrown::hash_table::{Entry, HashTable};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::hash::BuildHasher;
use std::ops::Range;
use std::path::Path;

const HASH_SEED: u64 = 0x243f_6a88_85a3_08d3;

/// The data rows of consecutive lines, parsed.
pub struct Part {
    /// 0-based row of each data row in the sheet or file.
    rows: Vec<usize>,
    /// One per declared column, every data row (rejected ones too): the
    /// part's chunk of the table. Typed values are held once, in polars.
    columns: Vec<Column>,
    /// Each data row's hash over all its values, to find duplicates.
    hashes: Vec<u64>,
    /// The first problem of each rejected data row (index in `rows`), in order.
    problems: Vec<(usize, CellProblem)>,
    /// The cells of undeclared columns, per data row, when the sheet has any:
    /// a duplicate has "all columns equal".
    undeclared: Option<Vec<Box<str>>>,
    /// Whether each data row identifies a person or a household (one of its
    /// identifier columns is filled): only such rows can be duplicates.
    identified: Vec<bool>,
    /// Data rows whose commune was written with a former code (index in
    /// `rows`, index of the former code in the reference), in order.
    former: Vec<(usize, u32)>,
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
    path: &Path,
) -> Result<Part> {
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
    let mut noted = columns::Notes::default();
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
                &mut noted,
            )
        })
        .collect();
    let columns::Notes {
        problems,
        mut former,
    } = noted;
    former.sort_unstable();
    let mut identified = vec![false; rows.len()];
    for v in &values {
        if let Values::Id(ids) = v {
            identified
                .iter_mut()
                .zip(ids)
                .for_each(|(known, id)| *known |= id.is_some());
        }
    }
    let declared: Vec<usize> = layout.positions.iter().flatten().copied().collect();
    let undeclared: Option<Vec<Box<str>>> =
        (0..grid.width()).any(|c| !declared.contains(&c)).then(|| {
            rows.iter()
                .map(|&row| {
                    let mut cells = String::new();
                    for (c, cell) in grid.row_cells(row) {
                        if !declared.contains(&c) {
                            // Writing to a String cannot fail.
                            let _ = write!(cells, "{c}\u{1f}{}\u{1e}", cell.display());
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
        // A row without undeclared cells hashes as in a part without undeclared columns.
        for (h, cells) in hashes.iter_mut().zip(cells.iter()) {
            if !cells.is_empty() {
                *h = columns::mix(*h, state.hash_one(cells));
            }
        }
    }
    let columns = source
        .columns
        .iter()
        .zip(values)
        .map(|(column, v)| v.into_column(column.name.get_ref()))
        .collect::<PolarsResult<_>>()
        .map_err(|e| Error::polars(format!("building the table of {}", path.display()), e))?;
    Ok(Part {
        rows,
        columns,
        hashes,
        problems: problems.into_iter().collect(),
        identified,
        former,
        undeclared,
        total,
        notes,
    })
}

impl Part {
    fn undeclared_at(&self, i: usize) -> &str {
        self.undeclared.as_ref().map_or("", |cells| &cells[i])
    }
}

/// Where a data row is: its part, its index in the part.
fn split(key: u64) -> (usize, usize) {
    ((key >> 32) as usize, (key & 0xffff_ffff) as usize)
}

/// Rejects (cell problems, duplicates), the table of accepted rows and the
/// file's report, from the parts of a file in order. `height` is the number
/// of rows read, blank ones included. Each part becomes a chunk of the
/// table's columns: nothing is appended into ever-growing vectors.
///
/// A row equal to an earlier one in every column is a duplicate (rejected)
/// when it identifies a person or a household; otherwise it is an event
/// (two sessions of the same day and size), kept and listed as a possible
/// double entry. `policy` may force either way. Also returns how many
/// accepted rows were mapped from each former commune code.
pub fn finish(
    mut parts: Vec<Part>,
    layout: &Layout,
    path: &Path,
    sheet: Option<&str>,
    height: usize,
    policy: Duplicates,
) -> Result<(DataFrame, FileReport, BTreeMap<u32, usize>)> {
    // Nothing below the first Total row is data.
    let mut notes = 0;
    if let Some(first_total) = parts.iter().position(|p| p.total) {
        notes += parts[first_total].notes;
        for p in parts.drain(first_total + 1..) {
            notes += p.rows.len() + usize::from(p.total) + p.notes;
        }
    }
    if notes > 0 {
        tracing::warn!(
            file = %path.display(),
            sheet = sheet.unwrap_or(""),
            "{notes} non-empty rows below the Total row skipped as notes"
        );
    }
    let data_rows: usize = parts.iter().map(|p| p.rows.len()).sum();
    let equal = |(a, i): (usize, usize), (b, j): (usize, usize)| {
        let (pa, pb) = (&parts[a], &parts[b]);
        // Only rows with equal hashes get here: rarely other than duplicates.
        pa.columns
            .iter()
            .zip(&pb.columns)
            .all(|(x, y)| x.get(i).ok() == y.get(j).ok())
            && pa.undeclared_at(i) == pb.undeclared_at(j)
    };

    let mut rejects = Vec::new();
    let mut repeats: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut former_rows: BTreeMap<u32, usize> = BTreeMap::new();
    let mut keeps: Vec<Vec<usize>> = Vec::with_capacity(parts.len());
    let mut seen: HashTable<u64> = HashTable::with_capacity(data_rows);
    for (a, part) in parts.iter().enumerate() {
        let mut keep = Vec::with_capacity(part.rows.len());
        let mut problems = part.problems.iter().peekable();
        for (i, &row) in part.rows.iter().enumerate() {
            if let Some((_, p)) = problems.next_if(|(at, _)| *at == i) {
                rejects.push(Reject {
                    row: row + 1,
                    column: layout.written[p.column].clone(),
                    value: truncate(&p.value),
                    reason: Reason::Cell(p.problem),
                });
                continue;
            }
            let entry = seen.entry(
                part.hashes[i],
                |&key| equal((a, i), split(key)),
                |&key| {
                    let (b, j) = split(key);
                    parts[b].hashes[j]
                },
            );
            match entry {
                Entry::Occupied(first) => {
                    let (b, j) = split(*first.get());
                    let first_row = parts[b].rows[j] + 1;
                    let duplicate = match policy {
                        Duplicates::Auto => part.identified[i],
                        Duplicates::Reject => true,
                        Duplicates::Keep => false,
                    };
                    if duplicate {
                        rejects.push(Reject {
                            row: row + 1,
                            column: String::new(),
                            value: String::new(),
                            reason: Reason::Duplicate { first_row },
                        });
                    } else {
                        repeats.entry(first_row).or_default().push(row + 1);
                        keep.push(i);
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(((a as u64) << 32) | i as u64);
                    keep.push(i);
                }
            }
        }
        // Rows mapped through the passage table, among the rows kept.
        let mut kept = keep.iter().peekable();
        for &(i, code) in &part.former {
            while kept.next_if(|&&k| k < i).is_some() {}
            if kept.peek() == Some(&&i) {
                *former_rows.entry(code).or_default() += 1;
            }
        }
        keeps.push(keep);
    }
    drop(seen);

    let to_polars = |e| Error::polars(format!("building the table of {}", path.display()), e);
    let accepted: usize = keeps.iter().map(Vec::len).sum();
    let row_numbers: Vec<i64> = parts
        .iter()
        .zip(&keeps)
        .flat_map(|(p, keep)| keep.iter().map(|&i| p.rows[i] as i64 + 1))
        .collect();
    let mut columns: Vec<Column> = Vec::new();
    for (part, keep) in parts.into_iter().zip(&keeps) {
        // Most parts have no rejected row: their chunk is kept as it is.
        let chunks = if keep.len() == part.rows.len() {
            part.columns
        } else {
            let mut kept = vec![false; part.rows.len()];
            keep.iter().for_each(|&i| kept[i] = true);
            let mask = BooleanChunked::from_slice(PlSmallStr::EMPTY, &kept);
            part.columns
                .iter()
                .map(|c| c.filter(&mask))
                .collect::<PolarsResult<_>>()
                .map_err(to_polars)?
        };
        if columns.is_empty() {
            columns = chunks;
        } else {
            for (column, chunk) in columns.iter_mut().zip(&chunks) {
                column.append(chunk).map_err(to_polars)?;
            }
        }
    }
    let mut frame_columns = vec![Series::new(ROW_COLUMN.into(), row_numbers).into_column()];
    frame_columns.extend(columns);
    let frame = DataFrame::new(accepted, frame_columns).map_err(to_polars)?;
    let report = FileReport {
        source: String::new(),
        path: path.to_owned(),
        sheet: sheet.map(str::to_owned),
        sha256: String::new(),
        encoding: None,
        header_row: layout.header_row + 1,
        rows_read: height,
        accepted,
        // Every row that is not data: titles, header, blank, Total and notes.
        skipped: height - data_rows,
        rejects,
        repeats: repeats
            .into_iter()
            .map(|(first_row, rows)| Repeat { first_row, rows })
            .collect(),
        mapped: Vec::new(),
        absent_columns: Vec::new(),
    };
    Ok((frame, report, former_rows))
}

/// Long values are cut in listings: a reject report is not a copy of the file.
fn truncate(value: &str) -> String {
    shorten(value, 80)
}

/// `value` cut to `max` characters, with an ellipsis when it was longer.
pub fn shorten(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(max).collect::<String>())
    }
}
