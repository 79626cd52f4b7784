//! One view of a sheet, whatever the file format: rows and columns of
//! [`Cell`]s, row 0 being the sheet's first row as a user sees it.

use crate::Cell;
use crate::error::{Error, Result};
use crate::limits::{MAX_CELLS, MAX_SHEET_BYTES};
use calamine::Data;

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

    /// The cells that show the value of a merged range they belong to (its
    /// first cell aside): to a reader of the sheet, that value is theirs.
    fn merged_cells(&self) -> usize {
        0
    }
}

/// A merged range of a sheet, 0-based, its last row and column included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    pub first_row: u32,
    pub first_col: u32,
    pub last_row: u32,
    pub last_col: u32,
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

    fn merged_cells(&self) -> usize {
        self.0.merged_cells()
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

    fn merged_cells(&self) -> usize {
        (**self).merged_cells()
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

/// The bytes a cell stored in a [`SparseGrid`] takes: its entry, and its
/// text's allocation as the allocator rounds it (16-byte steps, 32 bytes
/// at least: a short text costs about as much as its entry).
pub fn cell_bytes(value: &Data) -> u64 {
    const ENTRY: u64 = std::mem::size_of::<(u32, Data)>() as u64;
    let text = match value {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.len() as u64,
        _ => 0,
    };
    match text {
        0 => ENTRY,
        _ => ENTRY + (text + 8).next_multiple_of(16).max(32),
    }
}

/// An xlsx/xlsb/xls/ods sheet read cell by cell, stored by row: a stray
/// cell in XFD1048576 costs one entry, not a dense 17-billion-cell range.
pub struct SparseGrid {
    rows: Vec<Vec<(u32, Data)>>,
    width: usize,
    merged: usize,
    /// The merged ranges filled, for tests that compare a grid's cells
    /// with a reader that leaves them as the file holds them.
    #[cfg(test)]
    ranges: Vec<Merged>,
}

impl SparseGrid {
    /// `cells` in any order: (row, column, value).
    pub fn new(cells: Vec<(u32, u32, Data)>) -> Self {
        let height = cells
            .iter()
            .map(|(r, _, _)| *r as usize + 1)
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
        Self::from_rows(rows)
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
        SparseGrid {
            rows,
            width,
            merged: 0,
            #[cfg(test)]
            ranges: Vec::new(),
        }
    }

    /// Gives every cell of each merged range the value of its first cell,
    /// as a spreadsheet program shows it (what a covered cell may still
    /// hold is hidden there, so it gives way). Ranges are cut to the sheet's
    /// used rows and columns: a range merged down past the last row adds no
    /// row. Refused when the cells filled would pass [`MAX_CELLS`], or
    /// take more than [`MAX_SHEET_BYTES`] (copies of a long text).
    pub fn fill_merged(&mut self, ranges: &[Merged]) -> Result<()> {
        self.fill_merged_within(ranges, MAX_SHEET_BYTES)
    }

    /// [`Self::fill_merged`], the cells filled taking at most `budget`
    /// bytes (see [`cell_bytes`]).
    pub fn fill_merged_within(&mut self, ranges: &[Merged], budget: u64) -> Result<()> {
        let (height, width) = (self.rows.len() as u32, self.width as u32);
        let (mut filled, mut bytes) = (0u64, 0u64);
        for range in ranges {
            if range.first_row >= height
                || range.first_col >= width
                || range.last_row < range.first_row
                || range.last_col < range.first_col
            {
                continue;
            }
            let last_row = range.last_row.min(height - 1);
            let last_col = range.last_col.min(width - 1);
            let anchor = self.rows[range.first_row as usize]
                .binary_search_by_key(&range.first_col, |(c, _)| *c)
                .ok()
                .map(|i| self.rows[range.first_row as usize][i].1.clone())
                .filter(|value| !cell_of(value).is_blank());
            let area = u64::from(last_row - range.first_row + 1)
                * u64::from(last_col - range.first_col + 1);
            if let Some(anchor) = &anchor {
                filled += area - 1;
                if filled > MAX_CELLS {
                    return Err(Error::TooManyCells);
                }
                bytes = bytes.saturating_add((area - 1).saturating_mul(cell_bytes(anchor)));
                if bytes > budget {
                    return Err(Error::SheetTooLarge);
                }
            }
            let covered = range.first_col..=last_col;
            for r in range.first_row..=last_row {
                let cells = &mut self.rows[r as usize];
                let is_anchor_row = r == range.first_row;
                cells.retain(|(c, _)| {
                    !covered.contains(c) || (is_anchor_row && *c == range.first_col)
                });
                if let Some(anchor) = &anchor {
                    let skip = u32::from(is_anchor_row);
                    cells.extend((range.first_col + skip..=last_col).map(|c| (c, anchor.clone())));
                    cells.sort_by_key(|(c, _)| *c);
                }
            }
        }
        self.merged = filled as usize;
        #[cfg(test)]
        self.ranges.extend_from_slice(ranges);
        Ok(())
    }

    /// Whether a merged range covers the cell (its first cell aside).
    #[cfg(test)]
    pub fn covers(&self, row: usize, col: usize) -> bool {
        let (row, col) = (row as u32, col as u32);
        self.ranges.iter().any(|m| {
            (m.first_row..=m.last_row).contains(&row)
                && (m.first_col..=m.last_col).contains(&col)
                && (row, col) != (m.first_row, m.first_col)
        })
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
    fn merged_cells(&self) -> usize {
        self.merged
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_takes_its_entry_and_its_texts_allocation() {
        assert_eq!(cell_bytes(&Data::Float(1.0)), 40);
        assert_eq!(cell_bytes(&Data::String(String::new())), 40);
        assert_eq!(cell_bytes(&Data::String("42218".into())), 72);
        assert_eq!(cell_bytes(&Data::String("x".repeat(100))), 40 + 112);
    }
}
