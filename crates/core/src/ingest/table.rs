//! From a grid's rows to a table: which rows are data, their typed values,
//! then duplicates, rejects and the DataFrame. A large CSV file is parsed as
//! several [`Part`]s (one per batch of lines, in parallel), each of which
//! becomes a chunk of the table's columns.

use super::ROW_COLUMN;
use super::columns::{self, CellProblem, Reading, Values};
use super::header::Layout;
use super::outcome::{FileReport, Reason, Reject, Repeat, file_name};
use crate::error::{Error, Result};
use crate::parse::Cell;
use crate::pipeline::{Column as ColumnSpec, Duplicates, Source};
use hashbrown::hash_table::{Entry, HashTable};
use polars::prelude::*;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::hash::BuildHasher;
use std::ops::Range;
use std::path::{Path, PathBuf};
use suivi_read::Grid;

const HASH_SEED: u64 = 0x243f_6a88_85a3_08d3;
/// Another start, for the second hash over what the table does not hold.
const UNKEPT_SEED: u64 = 0x1319_8a2e_0370_7344;

/// Rows are numbered in 32 bits, in the table as in its bookkeeping.
const MAX_ROWS: usize = u32::MAX as usize - 1;

/// The data rows of consecutive lines, parsed.
pub struct Part {
    /// 0-based row of each data row in the sheet or file (a file has at
    /// most `u32::MAX` rows: see `parse_rows`).
    rows: Vec<u32>,
    /// One per declared column a query reads, every data row (rejected ones
    /// too): the part's chunk of the table. Typed values are held once, in polars.
    columns: Vec<Column>,
    /// A second hash of each data row, over what the table does not hold:
    /// the values of declared columns no query reads, and the undeclared
    /// cells (none when the file has neither). Rows equal in the table's
    /// columns are duplicates only if this is equal too, besides their hash.
    unkept: Option<Vec<u64>>,
    /// Each data row's hash over all its values, to find duplicates (taken
    /// by the search).
    hashes: Vec<u64>,
    /// The first problem of each rejected data row (index in `rows`), in order.
    problems: Vec<(usize, CellProblem)>,
    /// Whether each data row identifies a person or a household (one of its
    /// identifier columns is filled): only such rows can be duplicates.
    identified: Vec<bool>,
    /// Data rows whose commune was written with a former code (index in
    /// `rows`, index of the former code in the reference), in order.
    former: Vec<(usize, u32)>,
    /// 0-based rows of `Total` (and subtotal) rows, in order: skipped.
    totals: Vec<usize>,
}

/// Classifies the rows of `range` (data, blank, `Total`) and parses the
/// data rows' declared columns. A total row anywhere is skipped and reading
/// goes on; what follows the file's last total may be notes (see `finish`).
pub fn parse_rows(
    grid: &dyn Grid,
    layout: &Layout,
    source: &Source,
    range: Range<usize>,
    reading: &Reading,
    path: &Path,
) -> Result<Part> {
    if range.end > MAX_ROWS {
        return Err(Error::input(
            path,
            None,
            format!("more than {MAX_ROWS} rows: too many to read"),
        ));
    }
    let mut rows: Vec<u32> = Vec::with_capacity(range.len());
    let mut totals = Vec::new();
    for row in range {
        if grid.row_is_blank(row) {
            continue;
        }
        if is_total_row(grid, row) {
            totals.push(row);
        } else {
            rows.push(row as u32);
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
                reading,
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
    let mut hashes = vec![HASH_SEED; rows.len()];
    values.iter().for_each(|v: &Values| v.mix_into(&mut hashes));
    let built = |column: &ColumnSpec| !reading.unbuilt.contains(column.name.get_ref());
    let columns = source
        .columns
        .iter()
        .zip(&values)
        .filter(|(column, _)| built(column))
        .map(|(column, v)| v.to_column(column.name.get_ref()))
        .collect::<PolarsResult<_>>()
        .map_err(|e| Error::polars(format!("building the table of {}", path.display()), e))?;
    let mut unkept = (!reading.unbuilt.is_empty()).then(|| {
        let mut unkept = vec![UNKEPT_SEED; rows.len()];
        source
            .columns
            .iter()
            .zip(&values)
            .filter(|(column, _)| !built(column))
            .for_each(|(_, v)| v.mix_into(&mut unkept));
        unkept
    });
    mix_undeclared(grid, layout, &rows, &mut hashes, &mut unkept);
    values.into_iter().for_each(Values::recycle);
    Ok(Part {
        rows,
        columns,
        unkept,
        hashes,
        problems: problems.into_iter().collect(),
        identified,
        former,
        totals,
    })
}

/// Whether the row's first non-blank cell says `Total` (`TOTAL`, `Total général`...).
fn is_total_row(grid: &dyn Grid, row: usize) -> bool {
    let first = (0..grid.width())
        .map(|c| grid.cell(row, c))
        .find(|c| !c.is_blank());
    let Some(Cell::Text(text)) = first else {
        return false;
    };
    let text = text.trim_start();
    text.get(..5)
        .is_some_and(|w| w.eq_ignore_ascii_case("total"))
        && !text[5..].chars().next().is_some_and(char::is_alphanumeric)
}

/// Mixes each data row's non-blank undeclared cells, in column name order
/// (files of one source may order their columns differently) and each
/// hashed by hashers seeded with its column's name, into its hash and,
/// with another seed, into its second hash (made if need be): a duplicate
/// has "all columns equal", and the table does not hold these cells. A row
/// without any hashes as in a file without undeclared columns.
fn mix_undeclared(
    grid: &dyn Grid,
    layout: &Layout,
    rows: &[u32],
    hashes: &mut [u64],
    unkept: &mut Option<Vec<u64>>,
) {
    let declared: Vec<usize> = layout.positions.iter().flatten().copied().collect();
    let mut columns: Vec<(String, usize)> = (0..grid.width())
        .filter(|c| !declared.contains(c))
        .map(|c| (layout.undeclared_name(c).into_owned(), c))
        .collect();
    if columns.is_empty() {
        return;
    }
    columns.sort();
    let unkept = unkept.get_or_insert_with(|| vec![UNKEPT_SEED; rows.len()]);
    // Each column's name seeds its two hashers: hashed once, not per row.
    let seeded = |seed: u64, name: &str| {
        let seed = foldhash::fast::FixedState::with_seed(seed).hash_one(name);
        foldhash::fast::FixedState::with_seed(seed)
    };
    let columns: Vec<_> = columns
        .iter()
        .map(|(name, c)| (seeded(HASH_SEED, name), seeded(UNKEPT_SEED, name), *c))
        .collect();
    let mut shown = String::new();
    for (i, &row) in rows.iter().enumerate() {
        for (state, other, c) in &columns {
            let value = match grid.cell(row as usize, *c) {
                cell if cell.is_blank() => continue,
                Cell::Text(s) => s,
                cell => {
                    shown.clear();
                    // Writing to a String cannot fail.
                    let _ = write!(shown, "{cell}");
                    &shown
                }
            };
            hashes[i] = columns::mix(hashes[i], state.hash_one(value));
            unkept[i] = columns::mix(unkept[i], other.hash_one(value));
        }
    }
}

impl Part {
    /// Data row `i`'s second hash, over what the table does not hold.
    fn unkept_at(&self, i: usize) -> u64 {
        self.unkept.as_ref().map_or(UNKEPT_SEED, |u| u[i])
    }
}

/// A file's data rows, parsed, before duplicates are looked for.
pub struct FileRows {
    /// In file order.
    pub parts: Vec<Part>,
    pub layout: Layout,
    pub path: PathBuf,
    pub sheet: Option<String>,
    /// Rows read, blank ones included (a CSV record over several lines
    /// is one).
    pub height: usize,
    /// Cells that took their value from a merged range.
    pub merged_cells: usize,
    pub encoding: Option<&'static str>,
}

/// A file's accepted rows and its report.
pub struct Finished {
    pub frame: DataFrame,
    pub report: FileReport,
    /// Accepted rows mapped from each former commune code.
    pub former_rows: BTreeMap<u32, usize>,
}

/// How a row's file is named beside another's: its name, and its sheet
/// when the source reads several sheets of that file.
fn place(files: &[FileRows], f: usize) -> String {
    let file = &files[f];
    let name = file_name(&file.path);
    let several = files.iter().filter(|other| other.path == file.path).count() > 1;
    match &file.sheet {
        Some(sheet) if several => format!("{name} ({sheet})"),
        _ => name,
    }
}

/// Where a data row is: its file, its part, its index in the part.
#[derive(Clone, Copy)]
struct At {
    file: usize,
    part: usize,
    index: usize,
}

impl At {
    fn key(self) -> u64 {
        ((self.file as u64) << 48) | ((self.part as u64) << 32) | self.index as u64
    }

    fn of(key: u64) -> Self {
        At {
            file: (key >> 48) as usize,
            part: ((key >> 32) & 0xffff) as usize,
            index: (key & 0xffff_ffff) as usize,
        }
    }
}

/// Rejects (cell problems, duplicates), the table of accepted rows and the
/// report of each file, from the parts of the files of one source, in
/// order. Each part becomes a chunk of the table's columns: nothing is
/// appended into ever-growing vectors.
///
/// A row equal to an earlier one (of the same file or of an earlier file of
/// the source) in every column is a duplicate (rejected) when it identifies
/// a person or a household; otherwise it is an event (two sessions of the
/// same day and size), kept and listed as a possible double entry. `policy`
/// may force either way.
pub fn finish(mut files: Vec<FileRows>, policy: Duplicates) -> Result<Vec<Finished>> {
    if files.len() > 1 << 16 {
        return Err(Error::input(
            &files[0].path,
            None,
            format!("{} files for one source: at most 65,536", files.len()),
        ));
    }
    let notes: Vec<BTreeSet<(usize, usize)>> = files.iter().map(notes_below_last_total).collect();
    for file in &files {
        // Keys hold 16 bits of part and 32 of row: parts are batches of 65,536 lines.
        if file.parts.len() > 1 << 16 {
            return Err(Error::input(
                &file.path,
                file.sheet.as_deref(),
                "too many rows to read",
            ));
        }
    }
    let mut repeated = repeated_rows(&mut files).into_iter().peekable();
    let mut outcomes = Vec::with_capacity(files.len());
    for (f, file) in files.iter().enumerate() {
        let mut rejects = Vec::new();
        let mut repeats: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        let mut former_rows: BTreeMap<u32, usize> = BTreeMap::new();
        // Rows not kept are few: listed, rather than every row kept.
        let mut dropped: Vec<Vec<u32>> = Vec::with_capacity(file.parts.len());
        for (p, part) in file.parts.iter().enumerate() {
            let mut not_kept = Vec::new();
            let mut problems = part.problems.iter().peekable();
            for (i, &row) in part.rows.iter().enumerate() {
                let row = row as usize;
                if let Some((_, problem)) = problems.next_if(|(at, _)| *at == i) {
                    not_kept.push(i as u32);
                    // Notes are not data: skipped, not rejected.
                    if notes[f].contains(&(p, i)) {
                        continue;
                    }
                    rejects.push(Reject {
                        row: row + 1,
                        column: file.layout.written[problem.column].clone(),
                        value: truncate(&problem.value),
                        reason: Reason::Cell(problem.problem),
                    });
                    continue;
                }
                let here = At {
                    file: f,
                    part: p,
                    index: i,
                };
                if let Some((_, first)) = repeated.next_if(|(row, _)| *row == here.key()) {
                    let at = At::of(first);
                    let first_row = files[at.file].parts[at.part].rows[at.index] as usize + 1;
                    let duplicate = match policy {
                        Duplicates::Auto => part.identified[i],
                        Duplicates::Reject => true,
                        Duplicates::Keep => false,
                    };
                    if duplicate {
                        not_kept.push(i as u32);
                        rejects.push(Reject {
                            row: row + 1,
                            column: String::new(),
                            value: String::new(),
                            reason: Reason::Duplicate {
                                first_row,
                                first_file: (at.file != f).then(|| place(&files, at.file)),
                            },
                        });
                    } else {
                        repeats
                            .entry((at.file, first_row))
                            .or_default()
                            .push(row + 1);
                    }
                }
            }
            // Rows mapped through the passage table, among the rows kept.
            let mut gone = not_kept.iter().peekable();
            for &(i, code) in &part.former {
                while gone.next_if(|&&d| (d as usize) < i).is_some() {}
                if gone.peek() != Some(&&(i as u32)) {
                    *former_rows.entry(code).or_default() += 1;
                }
            }
            dropped.push(not_kept);
        }
        let repeats: Vec<Repeat> = repeats
            .into_iter()
            .map(|((first, first_row), rows)| Repeat {
                first_row,
                first_file: (first != f).then(|| place(&files, first)),
                rows,
            })
            .collect();
        outcomes.push((rejects, repeats, former_rows, dropped));
    }
    files
        .into_iter()
        .zip(outcomes)
        .zip(notes)
        .map(
            |((file, (rejects, repeats, former_rows, dropped)), notes)| {
                let last_data = file
                    .parts
                    .iter()
                    .enumerate()
                    .flat_map(|(p, part)| {
                        // The last row of the part that is not a note.
                        (0..part.rows.len())
                            .rev()
                            .find(|&i| !notes.contains(&(p, i)))
                            .map(|i| part.rows[i] as usize)
                    })
                    .max();
                let totals = file.parts.iter().map(|p| p.totals.len()).sum();
                let inner_totals = file
                    .parts
                    .iter()
                    .flat_map(|p| &p.totals)
                    .filter(|&&t| last_data.is_some_and(|last| t < last))
                    .count();
                let data_rows: usize =
                    file.parts.iter().map(|p| p.rows.len()).sum::<usize>() - notes.len();
                let accepted =
                    data_rows + notes.len() - dropped.iter().map(Vec::len).sum::<usize>();
                let report = FileReport {
                    source: String::new(),
                    path: file.path.clone(),
                    sheet: file.sheet.clone(),
                    merged_cells: file.merged_cells,
                    sha256: String::new(),
                    encoding: file.encoding,
                    header_row: file.layout.header_row + 1,
                    rows_read: file.height,
                    read_ms: 0.0,
                    accepted,
                    // Every row that is neither data nor the header: titles,
                    // blank rows, totals and notes.
                    skipped: (file.height - data_rows).saturating_sub(1),
                    totals,
                    inner_totals,
                    notes: notes.len(),
                    rejects,
                    repeats,
                    mapped: Vec::new(),
                    absent_columns: file.layout.absent.clone(),
                };
                Ok(Finished {
                    frame: accepted_frame(file.parts, &dropped, accepted, &file.path)?,
                    report,
                    former_rows,
                })
            },
        )
        .collect()
}

/// Rows a partition of the duplicate search holds, on average at most: its
/// hash table (16 bytes a row, half full at worst) stays in a core's cache.
const ROWS_PER_PARTITION: usize = 1 << 15;

/// Every row equal in all its columns (undeclared ones too) to an earlier
/// row of the source, rows with a cell problem aside, as (its key, the
/// first such row's key) in file order (keys as in [`At::key`]).
///
/// Equal rows have equal hashes, so the rows are split by bits of their
/// hash into partitions searched independently, in parallel, each in file
/// order: a table per partition small enough for a core's cache, where one
/// table of the whole source (hundreds of MB at national scale) cost a cache
/// miss per row.
fn repeated_rows(files: &mut [FileRows]) -> Vec<(u64, u64)> {
    let data_rows: usize = files
        .iter()
        .flat_map(|f| &f.parts)
        .map(|p| p.rows.len())
        .sum();
    let partitions = (data_rows / ROWS_PER_PARTITION)
        .next_power_of_two()
        .min(1 << 12);
    // Bits above those hashbrown uses for a bucket in a partition's table,
    // below the 7 it keeps as a tag.
    let partition_of = |hash: u64| (hash >> 40) as usize & (partitions - 1);
    let by_partition: Vec<Vec<Partitioned>> = files
        .par_iter_mut()
        .map(|file| {
            file.parts
                .par_iter_mut()
                .map(|part| Partitioned::of(part, partitions, partition_of))
                .collect()
        })
        .collect();
    let files: &[FileRows] = files;
    let part = |at: At| &files[at.file].parts[at.part];
    let equal = |a: At, b: At| {
        let (pa, pb) = (part(a), part(b));
        // Only rows with equal hashes get here: rarely other than duplicates.
        pa.columns
            .iter()
            .zip(&pb.columns)
            .all(|(x, y)| x.get(a.index).ok() == y.get(b.index).ok())
            && pa.unkept_at(a.index) == pb.unkept_at(b.index)
    };
    let mut repeated: Vec<(u64, u64)> = (0..partitions)
        .into_par_iter()
        .map_init(HashTable::<(u64, u64)>::new, |seen, k| {
            seen.clear();
            let mut repeated = Vec::new();
            for (f, parts) in by_partition.iter().enumerate() {
                for (p, partitioned) in parts.iter().enumerate() {
                    let (indices, hashes) = partitioned.rows(k);
                    for (&i, &hash) in indices.iter().zip(hashes) {
                        let here = At {
                            file: f,
                            part: p,
                            index: i as usize,
                        };
                        match seen.entry(
                            hash,
                            |&(h, key)| h == hash && equal(here, At::of(key)),
                            |&(h, _)| h,
                        ) {
                            Entry::Occupied(first) => repeated.push((here.key(), first.get().1)),
                            Entry::Vacant(slot) => {
                                slot.insert((hash, here.key()));
                            }
                        }
                    }
                }
            }
            repeated
        })
        .flatten()
        .collect();
    repeated.par_sort_unstable();
    repeated
}

/// A part's rows without cell problems (indices in the part, and hashes,
/// moved out of the part), grouped by partition of the duplicate search, in
/// order within each: a partition's search reads them in sequence.
struct Partitioned {
    indices: Vec<u32>,
    hashes: Vec<u64>,
    /// Where each partition's rows start in `indices`, and the end.
    starts: Vec<u32>,
}

impl Partitioned {
    fn of(part: &mut Part, partitions: usize, partition_of: impl Fn(u64) -> usize) -> Self {
        let all = std::mem::take(&mut part.hashes);
        let mut problems = part.problems.iter().map(|(i, _)| *i).peekable();
        let searched: Vec<u32> = (0..all.len() as u32)
            .filter(|&i| problems.next_if_eq(&(i as usize)).is_none())
            .collect();
        let mut starts = vec![0u32; partitions + 1];
        for &i in &searched {
            starts[partition_of(all[i as usize]) + 1] += 1;
        }
        for k in 0..partitions {
            starts[k + 1] += starts[k];
        }
        let mut next = starts.clone();
        let mut indices = vec![0u32; searched.len()];
        let mut hashes = vec![0u64; searched.len()];
        for i in searched {
            let hash = all[i as usize];
            let at = &mut next[partition_of(hash)];
            indices[*at as usize] = i;
            hashes[*at as usize] = hash;
            *at += 1;
        }
        Partitioned {
            indices,
            hashes,
            starts,
        }
    }

    fn rows(&self, partition: usize) -> (&[u32], &[u64]) {
        let range = self.starts[partition] as usize..self.starts[partition + 1] as usize;
        (&self.indices[range.clone()], &self.hashes[range])
    }
}

/// Most rows below the last total that can be notes: more than that are
/// data gone wrong, rejected and counted towards the reject rate.
const MAX_NOTES: usize = 10;

/// Which data rows are notes ("Source : CAF" under the table), as (part,
/// index in the part): the rows below the file's last total row, when
/// there are at most [`MAX_NOTES`] of them and none reads as a valid data
/// row. Anywhere else a row is data, accepted or rejected.
fn notes_below_last_total(file: &FileRows) -> BTreeSet<(usize, usize)> {
    let Some(last_total) = file
        .parts
        .iter()
        .flat_map(|p| p.totals.last())
        .max()
        .copied()
    else {
        return BTreeSet::new();
    };
    // Rows are in order in each part: those below the total end each part.
    let below: Vec<std::ops::Range<usize>> = file
        .parts
        .iter()
        .map(|p| p.rows.partition_point(|&r| (r as usize) < last_total)..p.rows.len())
        .collect();
    let count: usize = below.iter().map(|range| range.len()).sum();
    let all_invalid = file.parts.iter().zip(&below).all(|(p, range)| {
        range
            .clone()
            .all(|i| p.problems.binary_search_by_key(&i, |(at, _)| *at).is_ok())
    });
    if !all_invalid || count > MAX_NOTES {
        return BTreeSet::new();
    }
    below
        .into_iter()
        .enumerate()
        .flat_map(|(p, range)| range.map(move |i| (p, i)))
        .collect()
}

/// The table of a file's rows kept (all but the `dropped` ones of each
/// part, in order): its row numbers, then its columns. Each part's chunk is
/// moved in, and its bookkeeping freed, before the next.
fn accepted_frame(
    parts: Vec<Part>,
    dropped: &[Vec<u32>],
    accepted: usize,
    path: &Path,
) -> Result<DataFrame> {
    let to_polars = |e| Error::polars(format!("building the table of {}", path.display()), e);
    let mut row_numbers: Option<Column> = None;
    let mut columns: Vec<Column> = Vec::new();
    for (part, dropped) in parts.into_iter().zip(dropped) {
        // Row numbers as a user sees them: 1-based.
        let numbers = UInt32Chunked::from_vec(
            ROW_COLUMN.into(),
            part.rows.iter().map(|&r| r + 1).collect(),
        )
        .into_column();
        // Most parts have no row dropped: their chunk is kept as it is.
        let (numbers, chunks) = if dropped.is_empty() {
            (numbers, part.columns)
        } else {
            let mut kept = vec![true; part.rows.len()];
            dropped.iter().for_each(|&i| kept[i as usize] = false);
            let mask = BooleanChunked::from_slice(PlSmallStr::EMPTY, &kept);
            let chunks = part
                .columns
                .iter()
                .map(|c| c.filter(&mask))
                .collect::<PolarsResult<_>>()
                .map_err(to_polars)?;
            (numbers.filter(&mask).map_err(to_polars)?, chunks)
        };
        match &mut row_numbers {
            None => {
                row_numbers = Some(numbers);
                columns = chunks;
            }
            Some(all) => {
                all.append(&numbers).map_err(to_polars)?;
                for (column, chunk) in columns.iter_mut().zip(&chunks) {
                    column.append(chunk).map_err(to_polars)?;
                }
            }
        }
    }
    let mut frame_columns = vec![
        row_numbers.unwrap_or_else(|| Column::new_empty(ROW_COLUMN.into(), &DataType::UInt32)),
    ];
    frame_columns.extend(columns);
    DataFrame::new(accepted, frame_columns).map_err(to_polars)
}

/// Long values are cut in listings: a reject report is not a copy of the file.
fn truncate(value: &str) -> String {
    crate::text::shorten(value, 80)
}
