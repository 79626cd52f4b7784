//! Every limit a partner file is held to. A file that breaks one was not
//! written by a spreadsheet program, or would make a reader take memory out
//! of proportion to its size: it is refused before what the limit guards
//! is allocated.

/// Excel's last row: a cell beyond it is not from a real spreadsheet.
pub const MAX_ROWS: u32 = 1_048_576;
/// Excel's last column (XFD).
pub const MAX_COLUMNS: u32 = 16_384;

/// The rows and columns an `.xls` sheet holds: a DIMENSIONS record
/// announcing more is refused, as a file no spreadsheet program wrote.
pub const XLS_MAX_ROWS: u32 = 65_536;
pub const XLS_MAX_COLUMNS: u16 = 256;

/// Largest a member of a workbook's archive may be once decompressed.
pub const MAX_MEMBER_BYTES: u64 = 1 << 30;

/// More line breaks than this in one CSV field is not an answer written
/// over many lines (a form's free text runs to tens of lines): it is a quote
/// left open, taking the lines after it into one field.
pub const MAX_LINES_IN_A_FIELD: usize = 500;

/// Bytes of a CSV file split together. A block is read up to this plus
/// [`MARGIN`]; its records starting before this are its own, the others the
/// next block's.
pub const BLOCK: usize = 64 << 20;
/// The longest CSV record a block can end on: longer ones are a quote left open.
pub const MARGIN: usize = 16 << 20;

/// Most times an .ods row with content may be repeated (`number-rows-repeated`):
/// each repetition is stored.
pub const MAX_ROW_REPEATS: u64 = 100_000;
/// Most cells with content an .ods sheet may expand to (40 bytes each:
/// 1 GB), a million rows of 25 columns: about what the largest `content.xml`
/// accepted (1 GiB) holds without repeats, at 40 bytes or more a cell.
pub const MAX_CELLS: u64 = 25_000_000;
/// Most bytes of text an .ods sheet's repeated cells and rows may copy
/// (`number-columns-repeated`, `number-rows-repeated`): each copy is
/// stored, and one long text repeated over a row's 16,384 cells is a file
/// of kilobytes taking hundreds of megabytes. A spreadsheet program
/// repeats equal neighbours, in real sheets short texts or none.
pub const MAX_REPEATED_TEXT_BYTES: u64 = 64 << 20;
/// Most bytes an .ods sheet's cells may take in memory once its repeated
/// and merged cells are written out: each cell's entry (40 bytes) and its
/// text's allocation, in one budget, since one long text repeated over many
/// cells is as hostile as many cells, and many cells with text as either.
/// The reader then takes about 1 GiB at most (measured: 1.0 GB for 24
/// million numbers and 50 MB of text). A sheet of a million rows of 20
/// columns, a quarter of them short texts, takes 960 MB of it; a million
/// rows of 20 short texts (1.4 GB) are refused: read as CSV, they take a
/// fraction of that.
pub const MAX_SHEET_BYTES: u64 = 1 << 30;
/// Most bytes of text one .ods cell may hold: Excel holds 32,767
/// characters (at most 128 KiB in UTF-8), LibreOffice more. A cell of
/// hundreds of megabytes was held twice, as the parser reads it and as the
/// cell stores it (1.85 GB for a cell of 900 MB).
pub const MAX_CELL_TEXT_BYTES: u64 = 1 << 20;
/// Most spaces a cell's `text:s` elements may stand for: Excel's limit on a cell's text.
pub const MAX_SPACES: u64 = 32_767;
