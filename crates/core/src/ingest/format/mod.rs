//! Input formats. Each reads one kind of file into a source's parsed rows
//! (`parse`) or into one grid for `inspect` (`open`). Adding a format is one
//! module implementing [`Format`] and one entry in [`FORMATS`].

mod delimited;
mod ods;
mod spreadsheet;

pub use spreadsheet::Workbooks;

use super::columns::Context;
use super::grid::Grid;
use super::rows::FileRows;
use crate::error::Result;
use crate::pipeline::Source;
use std::path::Path;

/// One kind of input file.
pub trait Format: Sync {
    /// Whether this format reads `path`, from its name.
    fn reads(&self, path: &Path) -> bool;

    /// The file's data rows (of the source's sheet, for a workbook), parsed
    /// for the source.
    fn parse(
        &self,
        source: &Source,
        path: &Path,
        bytes: &[u8],
        context: &Context,
    ) -> Result<FileRows>;

    /// The file's data rows parsed straight from disk, where the format
    /// can do without holding the whole file (CSV), with its SHA-256 when
    /// `hash`; `None`: the format needs the file's bytes (`parse`).
    fn parse_file(
        &self,
        _source: &Source,
        _path: &Path,
        _context: &Context,
        _hash: bool,
    ) -> Option<Result<(FileRows, Option<String>)>> {
        None
    }

    /// The file (or one sheet: the first visible worksheet when `sheet` is
    /// None) as one grid. `encoding` and `delimiter` apply to text formats.
    fn open(
        &self,
        path: &Path,
        bytes: &[u8],
        sheet: Option<&str>,
        encoding: &str,
        delimiter: &str,
    ) -> Result<Opened>;

    /// The file's sheets with their visibility; a text file has none.
    fn sheets(&self, path: &Path, bytes: &[u8]) -> Result<Vec<calamine::Sheet>>;
}

/// What a file whose structure does not hold together is told.
pub const BROKEN: &str = "the file's structure is broken and it cannot be read (damaged, \
                          truncated or not written by a spreadsheet program)";

/// A file opened as one grid.
pub struct Opened {
    pub grid: Box<dyn Grid>,
    /// The sheet read, for workbooks.
    pub sheet: Option<String>,
    /// The detected or declared text encoding, for text files.
    pub encoding: Option<&'static str>,
}

/// Every format, in the order they are tried. Spreadsheets come last and
/// take every other file: xlsx, xlsm, xlsb, xls and ods are told apart
/// from their content, and refuses what is none of them.
const FORMATS: [&dyn Format; 2] = [&delimited::Delimited, &spreadsheet::Spreadsheet];

/// The format that reads `path`.
pub fn of(path: &Path) -> &'static dyn Format {
    FORMATS
        .into_iter()
        .find(|format| format.reads(path))
        .unwrap_or(&spreadsheet::Spreadsheet)
}
