//! One view of a sheet, whatever the file format: rows and columns of
//! [`Cell`]s, row 0 being the sheet's first row as a user sees it.

use crate::parse::Cell;
use calamine::{Data, Range};

pub trait Grid: Sync {
    /// Rows from the sheet's first row to its last used one.
    fn height(&self) -> usize;
    fn width(&self) -> usize;
    fn cell(&self, row: usize, col: usize) -> Cell<'_>;

    /// The non-blank cells of a row with their column, left to right.
    fn row_cells(&self, row: usize) -> Vec<(usize, Cell<'_>)> {
        (0..self.width())
            .map(|c| (c, self.cell(row, c)))
            .filter(|(_, cell)| !cell.is_blank())
            .collect()
    }

    fn row_is_blank(&self, row: usize) -> bool {
        self.row_cells(row).is_empty()
    }

    /// Whether the row's first non-blank cell says `Total` (`TOTAL`, `Total général`...).
    fn is_total_row(&self, row: usize) -> bool {
        let first = (0..self.width())
            .map(|c| self.cell(row, c))
            .find(|c| !c.is_blank());
        let Some(Cell::Text(text)) = first else {
            return false;
        };
        let text = text.trim_start();
        text.get(..5)
            .is_some_and(|w| w.eq_ignore_ascii_case("total"))
            && !text[5..].chars().next().is_some_and(char::is_alphanumeric)
    }
}

fn cell_of(data: &Data) -> Cell<'_> {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) if dt.is_datetime() => {
            dt.as_datetime().map_or(Cell::Error, Cell::DateTime)
        }
        // A duration-formatted number: keep the number.
        Data::DateTime(dt) => Cell::Float(dt.as_f64()),
        // .ods dates come as ISO text; the date parser reads them.
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s),
        Data::Error(_) => Cell::Error,
    }
}

/// An xlsx/xlsb sheet read cell by cell, stored by row: a stray cell in
/// XFD1048576 costs one entry, not a dense 17-billion-cell range.
pub struct SparseGrid {
    rows: Vec<Vec<(u32, Data)>>,
    width: usize,
}

impl SparseGrid {
    /// `cells` in any order: (row, column, value).
    pub fn new(cells: Vec<(u32, u32, Data)>) -> Self {
        let height = cells
            .iter()
            .map(|(r, _, _)| *r as usize + 1)
            .max()
            .unwrap_or(0);
        let width = cells
            .iter()
            .map(|(_, c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        let mut rows: Vec<Vec<(u32, Data)>> = Vec::new();
        rows.resize_with(height, Vec::new);
        for (r, c, value) in cells {
            rows[r as usize].push((c, value));
        }
        for row in &mut rows {
            row.sort_by_key(|(c, _)| *c);
        }
        SparseGrid { rows, width }
    }
}

impl Grid for SparseGrid {
    fn row_is_blank(&self, row: usize) -> bool {
        self.rows
            .get(row)
            .is_none_or(|cells| cells.iter().all(|(_, d)| cell_of(d).is_blank()))
    }

    fn height(&self) -> usize {
        self.rows.len()
    }

    fn width(&self) -> usize {
        self.width
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        let Some(cells) = self.rows.get(row) else {
            return Cell::Empty;
        };
        match cells.binary_search_by_key(&(col as u32), |(c, _)| *c) {
            Ok(i) => cell_of(&cells[i].1),
            Err(_) => Cell::Empty,
        }
    }

    fn row_cells(&self, row: usize) -> Vec<(usize, Cell<'_>)> {
        self.rows
            .get(row)
            .map(|cells| {
                cells
                    .iter()
                    .map(|(c, d)| (*c as usize, cell_of(d)))
                    .filter(|(_, cell)| !cell.is_blank())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A calamine range, offset so that rows and columns count from A1.
pub struct SheetGrid {
    range: Range<Data>,
    row0: usize,
    col0: usize,
}

impl SheetGrid {
    pub fn new(range: Range<Data>) -> Self {
        let (row0, col0) = range
            .start()
            .map(|(r, c)| (r as usize, c as usize))
            .unwrap_or((0, 0));
        SheetGrid { range, row0, col0 }
    }
}

impl Grid for SheetGrid {
    fn height(&self) -> usize {
        if self.range.is_empty() {
            0
        } else {
            self.row0 + self.range.height()
        }
    }

    fn width(&self) -> usize {
        if self.range.is_empty() {
            0
        } else {
            self.col0 + self.range.width()
        }
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        if row < self.row0 || col < self.col0 {
            return Cell::Empty;
        }
        self.range
            .get((row - self.row0, col - self.col0))
            .map_or(Cell::Empty, cell_of)
    }
}

/// CSV records, decoded to UTF-8, placed on the line they start on: the csv
/// reader skips blank lines, but users count them (row numbers are line numbers).
pub struct CsvGrid {
    records: Vec<csv::StringRecord>,
    /// For each line (0-based), the record starting on it.
    record_at_line: Vec<Option<u32>>,
    width: usize,
}

impl CsvGrid {
    /// `records` with the 1-based line each starts on, in order.
    pub fn new(records: Vec<(u64, csv::StringRecord)>, lines: usize) -> Self {
        let width = records.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        let mut record_at_line =
            vec![None; lines.max(records.last().map_or(0, |(l, _)| *l as usize))];
        for (i, (line, _)) in records.iter().enumerate() {
            record_at_line[*line as usize - 1] = Some(i as u32);
        }
        CsvGrid {
            records: records.into_iter().map(|(_, r)| r).collect(),
            record_at_line,
            width,
        }
    }
}

impl CsvGrid {
    fn record(&self, row: usize) -> Option<&csv::StringRecord> {
        let index = self.record_at_line.get(row).copied().flatten()?;
        Some(&self.records[index as usize])
    }
}

impl Grid for CsvGrid {
    fn height(&self) -> usize {
        self.record_at_line.len()
    }

    fn width(&self) -> usize {
        self.width
    }

    fn row_is_blank(&self, row: usize) -> bool {
        self.record(row)
            .is_none_or(|r| r.iter().all(|f| f.trim().is_empty()))
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        match self.record(row).and_then(|r| r.get(col)) {
            None | Some("") => Cell::Empty,
            Some(s) => Cell::Text(s),
        }
    }
}
