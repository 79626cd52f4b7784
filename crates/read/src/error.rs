//! Why a file cannot be read: one variant per refusal, its wording in one
//! place (the `Display` below), in plain words that say what to do. The
//! caller adds which file and sheet.

use crate::limits::{
    MAX_CELL_TEXT_BYTES, MAX_CELLS, MAX_COLUMNS, MAX_MEMBER_BYTES, MAX_REPEATED_TEXT_BYTES,
    MAX_ROW_REPEATS, MAX_ROWS, MAX_SHEET_BYTES, MAX_SPACES, XLS_MAX_COLUMNS, XLS_MAX_ROWS,
};
use std::sync::Arc;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("cannot read the file: {0}")]
    Io(Arc<std::io::Error>),

    #[error("the file is empty")]
    Empty,

    /// A file read as CSV that holds NUL bytes.
    #[error("this looks like a binary file, not CSV text (is it a spreadsheet with a .csv name?)")]
    Binary,

    /// Text in UTF-16 without the byte order mark that says so (and in
    /// which byte order): read as bytes it would be NULs between letters.
    #[error(
        "this looks like UTF-16 text without a byte order mark: save it again as CSV in UTF-8 \
         (LibreOffice: character set \"Unicode (UTF-8)\"; Excel: \"CSV UTF-8\")"
    )]
    Utf16WithoutBom,

    /// Text not in its encoding (declared, marked or guessed); `line` is 1-based.
    #[error("not valid {encoding} text (first bad byte on line {line})")]
    NotInEncoding { encoding: &'static str, line: usize },

    #[error(
        "line {line} has {fields} fields, more than the {MAX_COLUMNS} columns a spreadsheet holds"
    )]
    TooManyFields { line: usize, fields: usize },

    /// A quoted field over more lines than a note takes: `line` (1-based)
    /// is where it starts, `lines` how many it runs over.
    #[error(
        "line {line}: a quoted field starts on this line and runs over {lines} lines: a closing \
         quote (\") is probably missing"
    )]
    UnclosedQuote { line: usize, lines: usize },

    /// A record longer than a block's margin: a quote left open near a block's end.
    #[error(
        "line {line}: a record starts on this line and runs over more than {mib} MiB: a closing \
         quote (\") is probably missing"
    )]
    RecordTooLong { line: usize, mib: usize },

    #[error("the workbook is protected by a password: save it again without one")]
    Encrypted,

    /// A workbook from Excel 2.x to 5.0/95 (BIFF2 to BIFF5), whose records
    /// are not read.
    #[error(
        "the workbook was saved by an old version of Excel ({version}), which is not read: \
         save it again as .xlsx from Excel or LibreOffice"
    )]
    OldExcel { version: &'static str },

    /// Not a workbook any reader opens; `why` is the reader's word, for logs only.
    #[error("cannot open the workbook: it is damaged, truncated or not a spreadsheet")]
    Damaged { why: String },

    /// The file's container (compound file, archive) does not hold together,
    /// or a reader met a structure it does not expect.
    #[error(
        "the file's structure is broken and it cannot be read (damaged, truncated or not \
         written by a spreadsheet program)"
    )]
    Broken,

    /// A sheet whose content a reader refused; `why` is for logs only.
    #[error(
        "cannot read the sheet: its content is damaged or not what a spreadsheet program writes"
    )]
    DamagedSheet { why: String },

    /// A sheet the workbook lists whose content (its part, or the
    /// relationship that leads to it) the archive lacks.
    #[error(
        "the workbook lists a sheet '{sheet}' but holds no content for it: open it in Excel or \
         LibreOffice and save it again as .xlsx"
    )]
    SheetPartMissing { sheet: String },

    /// An archive holding two members of one name: which one a program
    /// reads is not defined.
    #[error(
        "the workbook holds two parts named '{name}', and which one a program reads is not \
         defined: open it in Excel or LibreOffice, check its content, and save it again as .xlsx"
    )]
    DuplicatePart { name: String },

    #[error("the file is an OpenDocument file but not a spreadsheet")]
    NotASpreadsheet,

    /// A chart, dialog or macro sheet asked for by name.
    #[error(
        "the sheet '{name}' is not a worksheet (a chart, dialog or macro sheet): name a \
         worksheet of the workbook"
    )]
    NotAWorksheet { name: String },

    #[error("no such sheet: {name}")]
    NoSuchSheet { name: String },

    /// A cell past Excel's last row or column (1-based).
    #[error(
        "the sheet has a cell at row {row}, column {col}, beyond a spreadsheet's limits \
         ({MAX_ROWS} rows, {MAX_COLUMNS} columns): the file is damaged or was not written by a \
         spreadsheet program"
    )]
    BeyondSheetLimits { row: u64, col: u64 },

    #[error(
        "a sheet announces {rows} rows and {columns} columns, more than an .xls sheet holds \
         ({XLS_MAX_ROWS} rows, {XLS_MAX_COLUMNS} columns): the file is damaged or hostile"
    )]
    XlsTooLarge { rows: u32, columns: u16 },

    #[error(
        "the workbook's part '{name}' would take {} MB once decompressed, more than the {} MB \
         limit: the file is damaged or hostile",
        bytes >> 20,
        MAX_MEMBER_BYTES >> 20
    )]
    MemberTooLarge { name: String, bytes: u64 },

    #[error(
        "the workbook's shared strings announce {count} strings, more than its {bytes} bytes \
         can hold: the file is damaged or hostile"
    )]
    TooManyStrings { count: u64, bytes: u64 },

    /// An .ods row repeated too often; `row` is 1-based.
    #[error(
        "row {row} of the sheet repeats its content {repeats} times (number-rows-repeated): more \
         than {MAX_ROW_REPEATS}, the file is damaged or hostile"
    )]
    TooManyRepeats { row: u64, repeats: u64 },

    #[error(
        "the sheet expands to more than {MAX_CELLS} cells with content: the file is damaged or hostile"
    )]
    TooManyCells,

    /// An .ods sheet whose repeated cells and rows copy more than
    /// [`MAX_REPEATED_TEXT_BYTES`] of text.
    #[error(
        "the sheet's repeated cells copy more than {} MB of text once written out: the file is \
         damaged or hostile",
        MAX_REPEATED_TEXT_BYTES >> 20
    )]
    TooMuchText,

    /// A sheet whose cells and their text would take more memory than
    /// [`MAX_SHEET_BYTES`] once its repeated and merged cells are written out.
    #[error(
        "the sheet would take more than {} MB of memory once its repeated and merged cells are \
         written out: the file is damaged or hostile (to read a sheet this large, save it as CSV)",
        MAX_SHEET_BYTES >> 20
    )]
    SheetTooLarge,

    /// A cell whose value is not one (1-based row and column).
    #[error("row {row}, column {col}: {problem}")]
    BadCell {
        row: u64,
        col: u64,
        problem: CellProblem,
    },
}

/// What is wrong with one cell of a workbook.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CellProblem {
    #[error("the cell's value '{0}' is not a number")]
    NotANumber(String),
    #[error(
        "the cell's text announces {0} spaces (text:s), more than a cell holds ({MAX_SPACES} \
         characters)"
    )]
    TooManySpaces(u64),
    /// An .ods cell's text longer than [`MAX_CELL_TEXT_BYTES`]: how long
    /// it is, at least.
    #[error(
        "the cell holds {0} bytes of text or more, more than a cell holds ({kib} KiB)",
        kib = MAX_CELL_TEXT_BYTES >> 10
    )]
    TextTooLong(u64),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}
