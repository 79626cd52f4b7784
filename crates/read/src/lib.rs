//! Partner files in, sheets of cells out: CSV (`.csv`, `.txt`, `.tsv`) and
//! workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`), read as a
//! spreadsheet program shows them. Rows and columns count from A1 (a CSV
//! file's rows are its lines), so that a row number is the one the partner
//! sees. A file a spreadsheet program would not write, or that would make a
//! reader take memory out of proportion, is refused before it is trusted
//! (every limit is in [`limits`]), with an [`Error`] that says what to do.
//!
//! - [`open`] a file whole (any format), or read a large CSV file a block
//!   at a time into a [`csv::Sink`] ([`csv::read_batches`]);
//! - a workbook's [`Workbook::sheets`] with their visibility, and each
//!   sheet's [`Workbook::grid`];
//! - a [`Grid`]'s cells, row by row.

mod cell;
pub mod csv;
mod error;
mod grid;
pub mod limits;
mod ods;
mod ooxml;
mod workbook;
mod xls;

pub use cell::{Cell, trim};
pub use error::{CellProblem, Error, Result};
pub use grid::{Grid, Merged};
pub use workbook::{Sheet, Visibility, Workbook};

use std::path::Path;

/// How a file is read, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.csv`, `.txt`, `.tsv`.
    Csv,
    /// Any other file: xlsx, xlsm, xlsb, xls and ods are told apart from
    /// their content, and anything else is refused as no workbook.
    Workbook,
}

impl Format {
    pub fn of(path: &Path) -> Self {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv" | "txt" | "tsv") => Format::Csv,
            _ => Format::Workbook,
        }
    }
}

/// A file opened whole.
pub enum Opened<B: AsRef<[u8]>> {
    /// A CSV file as one grid, and the name of the encoding it was read in.
    Csv {
        grid: csv::CsvGrid,
        encoding: &'static str,
    },
    Workbook(Workbook<B>),
}

/// Opens the file named `path` (its name tells its [`Format`]) from its
/// `bytes`; `options` apply to CSV files.
pub fn open<B: AsRef<[u8]> + Clone>(
    path: &Path,
    bytes: B,
    options: csv::Options,
) -> Result<Opened<B>> {
    match Format::of(path) {
        Format::Csv => {
            let (grid, encoding) = csv::read(bytes.as_ref(), options)?;
            Ok(Opened::Csv { grid, encoding })
        }
        Format::Workbook => Workbook::open(bytes).map(Opened::Workbook),
    }
}

/// A small seeded generator for tests (SplitMix64): random texts without
/// a dependency on `rand` to build.
#[cfg(test)]
pub(crate) struct TestRng(u64);

#[cfg(test)]
impl TestRng {
    pub(crate) fn new(seed: u64) -> Self {
        TestRng(seed)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}
