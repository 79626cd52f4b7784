//! One view of a sheet, whatever the file format: rows and columns of
//! [`Cell`]s, row 0 being the sheet's first row as a user sees it.

use crate::Cell;
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

    /// Whether the workbook counts its dates from 1904 (Excel for Mac's
    /// option, kept when the file moves): a plain number in a date column
    /// is then a 1904 serial, 1,462 days off the 1900 ones.
    fn dates_from_1904(&self) -> bool {
        false
    }
}

/// A sheet of a workbook in the 1904 date system.
pub struct Dates1904(pub Box<dyn Grid + Send>);

impl Grid for Dates1904 {
    fn height(&self) -> usize {
        self.0.height()
    }

    fn width(&self) -> usize {
        self.0.width()
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        self.0.cell(row, col)
    }

    fn row_cells(&self, row: usize) -> Vec<(usize, Cell<'_>)> {
        self.0.row_cells(row)
    }

    fn row_is_blank(&self, row: usize) -> bool {
        self.0.row_is_blank(row)
    }

    fn dates_from_1904(&self) -> bool {
        true
    }
}

/// A grid a workbook keeps for the sources that read the same sheet.
impl<G: Grid + Send> Grid for std::sync::Arc<G> {
    fn height(&self) -> usize {
        (**self).height()
    }

    fn width(&self) -> usize {
        (**self).width()
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        (**self).cell(row, col)
    }

    fn row_cells(&self, row: usize) -> Vec<(usize, Cell<'_>)> {
        (**self).row_cells(row)
    }

    fn row_is_blank(&self, row: usize) -> bool {
        (**self).row_is_blank(row)
    }

    fn dates_from_1904(&self) -> bool {
        (**self).dates_from_1904()
    }
}

/// Excel's date serials: 1 (1 January 1900) to 2,958,465 (31 December 9999).
const EXCEL_SERIALS: std::ops::RangeInclusive<f64> = 1.0..=2_958_465.0;

fn cell_of(data: &Data) -> Cell<'_> {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::Bool(b) => Cell::Bool(*b),
        // Only serials Excel can show are converted (chrono panics far outside
        // them); any other date-formatted number stays a number, which no date
        // column accepts.
        Data::DateTime(dt) if dt.is_datetime() && EXCEL_SERIALS.contains(&dt.as_f64()) => {
            dt.as_datetime().map_or(Cell::Error, Cell::DateTime)
        }
        Data::DateTime(dt) if dt.is_datetime() => Cell::Float(dt.as_f64()),
        // A duration-formatted number: keep the number.
        Data::DateTime(dt) => Cell::Float(dt.as_f64()),
        // .ods dates come as ISO text; the date parser reads them.
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s),
        Data::Error(_) => Cell::Error,
    }
}

/// An xlsx/xlsb/xls/ods sheet read cell by cell, stored by row: a stray
/// cell in XFD1048576 costs one entry, not a dense 17-billion-cell range.
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

    /// `rows` of (column, value), each in column order.
    pub fn from_rows(rows: Vec<Vec<(u32, Data)>>) -> Self {
        debug_assert!(rows.iter().all(|r| r.is_sorted_by_key(|(c, _)| *c)));
        let width = rows
            .iter()
            .filter_map(|r| r.last())
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        SparseGrid { rows, width }
    }

    /// Every stored value with its row and column, row by row.
    #[cfg(test)]
    pub fn values(&self) -> Vec<(usize, usize, &Data)> {
        self.rows
            .iter()
            .enumerate()
            .flat_map(|(r, cells)| cells.iter().map(move |(c, d)| (r, *c as usize, d)))
            .collect()
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
