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
/// Most bytes of text an .ods sheet's cells may expand to once repeated:
/// one long text repeated over many cells is as hostile as many cells.
pub const MAX_TEXT_BYTES: u64 = 1 << 30;
/// Most spaces a cell's `text:s` elements may stand for: Excel's limit on a cell's text.
pub const MAX_SPACES: u64 = 32_767;
