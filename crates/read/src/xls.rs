//! Our `.xls` reader (BIFF8, Excel 97 to 2003), cell by cell into a sparse
//! grid: calamine's reader parses every sheet at open into a dense range, so a
//! stray cell in IV65536 cost every cell up to it. It reads what a partner
//! file holds (the sheet list with its visibility, shared strings, number
//! formats for dates, the 1904 date system, values and formulas' cached
//! values, merged regions) and nothing else. Every count and offset read
//! from the file is checked before it is used: nothing is allocated from an
//! announced size. Older Excel files (BIFF2 to BIFF5) are refused with the
//! advice to save them again; a workbook encrypted with Excel's default
//! password (what Excel does to an `.xls` whose structure is protected) is
//! decrypted, any other password refused. Tested against calamine.

use crate::error::{Error, Result};
use crate::grid::SparseGrid;
use crate::limits::{MAX_CELLS, MAX_COLUMNS, MAX_SHEET_BYTES, XLS_MAX_COLUMNS, XLS_MAX_ROWS};
use crate::workbook::{Sheet, Visibility};
use calamine::{CellErrorType, Data, ExcelDateTime, ExcelDateTimeType};

// Record types (MS-XLS 2.3).
const FORMULA: u16 = 0x0006;
/// FORMULA as Excel 3.0 and 4.0 numbered it: the same cell and cached value
/// first, which some writers still put in BIFF8 sheets.
const FORMULA_BIFF3: u16 = 0x0206;
const FORMULA_BIFF4: u16 = 0x0406;
/// Excel 2.x's cell records (INTEGER, NUMBER, LABEL, BOOLERR), laid out
/// differently: met in a BIFF8 sheet, the sheet is refused rather than
/// read without them.
const BIFF2_CELLS: [u16; 4] = [0x0002, 0x0003, 0x0004, 0x0005];
const EOF: u16 = 0x000A;
const DATEMODE: u16 = 0x0022;
const FILEPASS: u16 = 0x002F;
const CONTINUE: u16 = 0x003C;
const CODEPAGE: u16 = 0x0042;
const BOUNDSHEET: u16 = 0x0085;
const MULRK: u16 = 0x00BD;
const RSTRING: u16 = 0x00D6;
const XF: u16 = 0x00E0;
const INTERFACEHDR: u16 = 0x00E1;
const MERGEDCELLS: u16 = 0x00E5;
const SST: u16 = 0x00FC;
const LABELSST: u16 = 0x00FD;
const RRDHEAD: u16 = 0x0138;
const USREXCL: u16 = 0x0194;
const FILELOCK: u16 = 0x0195;
const RRDINFO: u16 = 0x0196;
const DIMENSIONS: u16 = 0x0200;
const NUMBER: u16 = 0x0203;
const LABEL: u16 = 0x0204;
const BOOLERR: u16 = 0x0205;
const STRING: u16 = 0x0207;
const RK: u16 = 0x027E;
const FORMAT: u16 = 0x041E;
const BOF: u16 = 0x0809;
/// The BOF records of Excel 2.x, 3.0 and 4.0 (a bare stream, no compound file).
const OLD_BOFS: [(u16, &str); 3] = [
    (0x0009, "Excel 2.x"),
    (0x0209, "Excel 3.0"),
    (0x0409, "Excel 4.0"),
];

/// The version of Excel that wrote `bytes`, when it is a bare BIFF2, 3 or
/// 4 stream (Excel 2.x to 4.0 wrote no compound file).
pub fn old_excel(bytes: &[u8]) -> Option<&'static str> {
    let kind = u16::from_le_bytes([*bytes.first()?, *bytes.get(1)?]);
    let len = u16::from_le_bytes([*bytes.get(2)?, *bytes.get(3)?]);
    let (_, version) = OLD_BOFS.iter().find(|(bof, _)| *bof == kind)?;
    // A BOF is 4 to 16 bytes long: anything else is not this record.
    (4..=16).contains(&len).then_some(*version)
}

/// How a number is shown: as a date or a duration, or as a number.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NumberFormat {
    Other,
    DateTime,
    TimeDelta,
}

/// An open `.xls` workbook: its globals read, its sheets read on demand.
pub struct Xls {
    /// The Workbook stream, decrypted when it was encrypted.
    stream: Vec<u8>,
    sheets: Vec<(Sheet, usize)>,
    strings: Vec<String>,
    /// Each XF's number format, by XF index.
    formats: Vec<NumberFormat>,
    pub dates_from_1904: bool,
}

impl Xls {
    /// Reads the compound file's Workbook stream and its globals.
    pub fn open(bytes: &[u8]) -> Result<Self> {
        Self::open_with(bytes, DEFAULT_PASSWORD)
    }

    /// As [`Self::open`], an encrypted stream decrypted with `password`.
    fn open_with(bytes: &[u8], password: &str) -> Result<Self> {
        let broken = |_| Error::Broken;
        let mut file = match cfb::CompoundFile::open(std::io::Cursor::new(bytes)) {
            Ok(file) => file,
            // A container the cfb crate refuses may still be Excel's
            // encrypted .xlsx, whose stream name tells what to do.
            Err(_) if names_encryption_info(bytes) => return Err(Error::Encrypted),
            Err(_) => return Err(Error::Broken),
        };
        // What Excel writes for an .xlsx saved with a password: a compound
        // file holding the encrypted package and how it was encrypted.
        if file.is_stream("/EncryptionInfo") {
            return Err(Error::Encrypted);
        }
        if !file.is_stream("/Workbook") {
            if file.is_stream("/Book") {
                return Err(Error::OldExcel {
                    version: "Excel 5.0/95",
                });
            }
            return Err(Error::Damaged {
                why: "a compound file without a Workbook stream".into(),
            });
        }
        let mut stream = Vec::new();
        std::io::Read::read_to_end(
            &mut file.open_stream("/Workbook").map_err(broken)?,
            &mut stream,
        )
        .map_err(broken)?;
        // An older version's BOF is refused before its FILEPASS (laid out
        // otherwise) is read: its words say what to do with either.
        if let Some(Ok((BOF, bof))) = Records::new(&stream).next() {
            check_version(bof)?;
        }
        let (stream, decrypted) = decrypt(stream, password)?;
        check_dimensions(&stream)?;
        let mut xls = Xls {
            stream: Vec::new(),
            sheets: Vec::new(),
            strings: Vec::new(),
            formats: Vec::new(),
            dates_from_1904: false,
        };
        xls.read_globals(&stream, decrypted)?;
        xls.stream = stream;
        Ok(xls)
    }

    fn read_globals(&mut self, stream: &[u8], decrypted: bool) -> Result<()> {
        let damaged = |why: &str| Error::Damaged { why: why.into() };
        let mut records = Records::new(stream);
        let (kind, bof) = records.next().ok_or_else(|| damaged("an empty stream"))??;
        if kind != BOF || bof.len() < 4 {
            return Err(damaged("the stream does not start with a BOF record"));
        }
        // By id: a format defined twice keeps its last definition.
        let mut formats = std::collections::HashMap::new();
        let mut xfs: Vec<u16> = Vec::new();
        while let Some(record) = records.next() {
            let (kind, data) = record?;
            match kind {
                FILEPASS if !decrypted => return Err(Error::Encrypted),
                // BIFF8 strings are UTF-16 (compressed or not) whatever the
                // code page, which only older versions use.
                CODEPAGE => {}
                DATEMODE if u16_at(data, 0) == Some(1) => self.dates_from_1904 = true,
                FORMAT => {
                    let Some(id) = u16_at(data, 0) else {
                        return Err(damaged("a FORMAT record too short"));
                    };
                    // The ids Excel lets a file define (others are built in).
                    if matches!(id, 5..=8 | 23..=26 | 41..=44 | 63..=66 | 164..=382) {
                        let code = short_string(data.get(2..).unwrap_or_default(), 2);
                        formats.insert(id, format_of_code(&code));
                    }
                }
                XF => {
                    let Some(format) = u16_at(data, 2) else {
                        return Err(damaged("an XF record too short"));
                    };
                    xfs.push(format);
                }
                BOUNDSHEET => self.sheets.push(bound_sheet(data, stream.len())?),
                SST => {
                    let mut pieces = vec![data.get(8..).unwrap_or_default()];
                    pieces.extend(records.continues());
                    self.strings = shared_strings(&pieces)?;
                }
                EOF => break,
                _ => {}
            }
        }
        self.formats = xfs
            .into_iter()
            .map(|id| {
                formats
                    .get(&id)
                    .copied()
                    .unwrap_or_else(|| builtin_format(id))
            })
            .collect();
        Ok(())
    }

    /// The sheets in the workbook's order, with their visibility.
    pub fn sheets(&self) -> Vec<Sheet> {
        self.sheets.iter().map(|(sheet, _)| sheet.clone()).collect()
    }

    fn offset(&self, name: &str) -> Result<usize> {
        self.sheets
            .iter()
            .find(|(sheet, _)| sheet.name == name)
            .map(|(_, offset)| *offset)
            .ok_or_else(|| Error::NoSuchSheet { name: name.into() })
    }

    /// The sheet named `name`, its cells with content stored by row.
    pub fn grid(&self, name: &str) -> Result<SparseGrid> {
        let mut cells = Cells::default();
        self.walk_sheet(self.offset(name)?, |kind, data| match kind {
            STRING => cells.string(data),
            CONTINUE => cells.string_continues(data),
            _ => {
                cells.end_string()?;
                cells.record(kind, data, self)
            }
        })?;
        cells.end_string()?;
        cells.into_grid()
    }

    /// The merged regions of the sheet named `name`: (first row, first
    /// column, last row, last column), counted from 0, each within an
    /// `.xls` sheet and the right way up.
    pub fn merged_regions(&self, name: &str) -> Result<Vec<(u32, u32, u32, u32)>> {
        let mut regions = Vec::new();
        self.walk_sheet(self.offset(name)?, |kind, data| {
            if kind != MERGEDCELLS {
                return Ok(());
            }
            let count = usize::from(u16_at(data, 0).unwrap_or(0));
            // The count is checked against the record's length, not trusted.
            let Some(refs) = data.get(2..2 + 8 * count) else {
                return Err(damaged_sheet("a MERGEDCELLS record shorter than its count"));
            };
            for r in refs.chunks_exact(8) {
                let at = |i: usize| u32::from(u16::from_le_bytes([r[i], r[i + 1]]));
                let (first_row, last_row, first_col, last_col) = (at(0), at(2), at(4), at(6));
                // Whoever fills a region's cells is told only of regions a
                // sheet holds, the right way up.
                if first_row > last_row
                    || first_col > last_col
                    || last_col >= u32::from(XLS_MAX_COLUMNS)
                {
                    return Err(damaged_sheet(
                        "a merged region upside down or past the last column",
                    ));
                }
                regions.push((first_row, first_col, last_row, last_col));
            }
            Ok(())
        })?;
        Ok(regions)
    }

    /// Calls `each` with every record of the sheet substream at `offset`,
    /// except those of the substreams nested in it (an embedded chart's).
    fn walk_sheet(
        &self,
        offset: usize,
        mut each: impl FnMut(u16, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let stream = self.stream.get(offset..).ok_or(Error::Broken)?;
        let mut seen_bof = false;
        let mut depth = 0usize;
        for record in Records::new(stream) {
            let (kind, data) =
                record.map_err(|_| damaged_sheet("a record past the stream's end"))?;
            match kind {
                BOF if !seen_bof => seen_bof = true,
                BOF => depth += 1,
                EOF if depth == 0 => break,
                EOF => depth -= 1,
                _ if depth > 0 => {}
                _ => each(kind, data)?,
            }
        }
        Ok(())
    }
}

fn damaged_sheet(why: &str) -> Error {
    Error::DamagedSheet { why: why.into() }
}

/// Whether `bytes` hold the name of an `EncryptionInfo` stream anywhere.
fn names_encryption_info(bytes: &[u8]) -> bool {
    let name: Vec<u8> = "EncryptionInfo"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    memchr::memmem::find(bytes, &name).is_some()
}

/// Refuses the versions before BIFF8, from the globals' BOF: their
/// records differ (calamine skips some of BIFF4's formulas, losing rows).
fn check_version(bof: &[u8]) -> Result<()> {
    let version = match u16_at(bof, 0) {
        Some(0x0500) => "Excel 5.0/95",
        Some(0x0400) => "Excel 4.0",
        Some(0x0300) => "Excel 3.0",
        Some(0x0200 | 0x0002 | 0x0007) => "Excel 2.x",
        _ => return Ok(()),
    };
    Err(Error::OldExcel { version })
}

/// Refuses a DIMENSIONS record announcing more than an `.xls` sheet holds,
/// anywhere in the stream: the sheet is damaged or hostile.
fn check_dimensions(stream: &[u8]) -> Result<()> {
    for (kind, data) in Records::new(stream).map_while(Result::ok) {
        // BIFF8's DIMENSIONS: first row, last row + 1 (u32), first column, last column + 1 (u16).
        if kind == DIMENSIONS && data.len() >= 12 {
            let rows = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
            let columns = u16::from_le_bytes([data[10], data[11]]);
            if rows > XLS_MAX_ROWS || columns > XLS_MAX_COLUMNS {
                return Err(Error::XlsTooLarge { rows, columns });
            }
        }
    }
    Ok(())
}

/// A BOUNDSHEET8 record: the sheet, and where its substream starts.
fn bound_sheet(data: &[u8], stream_len: usize) -> Result<(Sheet, usize)> {
    let (Some(offset), Some(&state), Some(&kind)) = (u32_at(data, 0), data.get(4), data.get(5))
    else {
        return Err(Error::Damaged {
            why: "a BOUNDSHEET record too short".into(),
        });
    };
    let offset = offset as usize;
    if offset >= stream_len {
        return Err(Error::Broken);
    }
    let visibility = match state & 0x3F {
        0 => Visibility::Visible,
        1 => Visibility::Hidden,
        2 => Visibility::VeryHidden,
        _ => {
            return Err(Error::Damaged {
                why: "a sheet of unknown visibility".into(),
            });
        }
    };
    // ShortXLUnicodeString: a count of characters on one byte, then as XLUnicodeString.
    let name_bytes = data.get(6..).unwrap_or_default();
    let mut name = short_string(name_bytes, 1);
    name.retain(|c| c != '\0');
    Ok((
        Sheet {
            name,
            visibility,
            is_worksheet: kind == 0,
        },
        offset,
    ))
}

/// An XLUnicodeString (`count_bytes` = 2) or a ShortXLUnicodeString (1) in
/// one record: its characters, as many as the record holds of those it
/// announces.
fn short_string(data: &[u8], count_bytes: usize) -> String {
    let count = match count_bytes {
        1 => data.first().map_or(0, |&c| usize::from(c)),
        _ => usize::from(u16_at(data, 0).unwrap_or(0)),
    };
    let Some(&flags) = data.get(count_bytes) else {
        return String::new();
    };
    let chars = data.get(count_bytes + 1..).unwrap_or_default();
    let wide = flags & 1 != 0;
    let width = if wide { 2 } else { 1 };
    let mut text = String::new();
    push_chars(
        &mut text,
        &chars[..chars.len().min(count * width) / width * width],
        wide,
    );
    text
}

/// Appends characters stored one byte each (the low byte of a UTF-16
/// unit: Latin-1) or two (UTF-16LE).
fn push_chars(text: &mut String, bytes: &[u8], wide: bool) {
    if wide {
        let units = bytes
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]));
        text.extend(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')));
    } else {
        text.extend(bytes.iter().map(|&b| char::from(b)));
    }
}

/// A record's data and its CONTINUE records' read as one, as strings run
/// over them.
struct Continued<'a, 'b> {
    pieces: &'b [&'a [u8]],
    data: &'a [u8],
}

impl<'a, 'b> Continued<'a, 'b> {
    fn new(pieces: &'b [&'a [u8]]) -> Self {
        Continued {
            pieces: pieces.get(1..).unwrap_or_default(),
            data: pieces.first().copied().unwrap_or_default(),
        }
    }

    /// Moves to the next CONTINUE record: false when there is none.
    fn next_piece(&mut self) -> bool {
        match self.pieces.split_first() {
            Some((first, rest)) => {
                self.data = first;
                self.pieces = rest;
                true
            }
            None => false,
        }
    }

    fn is_done(&mut self) -> bool {
        while self.data.is_empty() {
            if !self.next_piece() {
                return true;
            }
        }
        false
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        for byte in &mut out {
            if self.is_done() {
                return Err(damaged_string());
            }
            *byte = self.data[0];
            self.data = &self.data[1..];
        }
        Ok(out)
    }

    fn skip(&mut self, mut n: usize) -> Result<()> {
        while n > 0 {
            if self.is_done() {
                return Err(damaged_string());
            }
            let here = n.min(self.data.len());
            self.data = &self.data[here..];
            n -= here;
        }
        Ok(())
    }

    /// An XLUnicodeRichExtendedString (MS-XLS 2.5.293): its characters,
    /// which may run over CONTINUE records (each starting with its own
    /// one-byte flag of their width).
    fn rich_string(&mut self) -> Result<String> {
        let [c0, c1, flags] = self.bytes::<3>()?;
        let mut count = usize::from(u16::from_le_bytes([c0, c1]));
        let runs = if flags & 0x08 != 0 {
            usize::from(u16::from_le_bytes(self.bytes::<2>()?))
        } else {
            0
        };
        let extended = if flags & 0x04 != 0 {
            u32::from_le_bytes(self.bytes::<4>()?) as usize
        } else {
            0
        };
        let mut wide = flags & 1 != 0;
        let mut text = String::new();
        loop {
            let width = if wide { 2 } else { 1 };
            let here = count.min(self.data.len() / width);
            push_chars(&mut text, &self.data[..here * width], wide);
            self.data = &self.data[here * width..];
            count -= here;
            if count == 0 {
                break;
            }
            if !self.next_piece() {
                return Err(damaged_string());
            }
            let [flag] = self.bytes::<1>()?;
            wide = flag & 1 != 0;
        }
        // Formatting runs (4 bytes each) and phonetic data: skipped, checked.
        self.skip(runs * 4)?;
        self.skip(extended)?;
        Ok(text)
    }
}

fn damaged_string() -> Error {
    Error::Damaged {
        why: "a string runs past its record".into(),
    }
}

/// The shared strings (SST): every string the record and its CONTINUE
/// records hold. The count it announces is not trusted: each string takes
/// at least three bytes of the file.
fn shared_strings(pieces: &[&[u8]]) -> Result<Vec<String>> {
    let mut strings = Vec::new();
    let mut reader = Continued::new(pieces);
    while !reader.is_done() {
        strings.push(reader.rich_string()?);
    }
    Ok(strings)
}

/// Whether a number format's code shows a date, a duration or a number:
/// calamine's rule, so that both readers agree on which cells are dates.
fn format_of_code(code: &str) -> NumberFormat {
    let mut escaped = false;
    let mut is_quote = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ap = false;
    for s in code.chars() {
        match (s, escaped, is_quote, ap, brackets) {
            (_, true, ..) => escaped = false,
            // `\` escapes, `_` skips a width, `*` fills: the next character is a literal.
            ('_' | '\\' | '*', ..) => escaped = true,
            ('"', _, true, _, _) => is_quote = false,
            (_, _, true, _, _) => (),
            ('"', _, _, _, _) => is_quote = true,
            // The first section only.
            (';', ..) => return NumberFormat::Other,
            ('[', ..) => brackets += 1,
            (']', .., 1) if hms => return NumberFormat::TimeDelta,
            (']', ..) => brackets = brackets.saturating_sub(1),
            ('a' | 'A', _, _, false, 0) => ap = true,
            ('p' | 'm' | '/' | 'P' | 'M', _, _, true, 0) => return NumberFormat::DateTime,
            ('d' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S', _, _, false, 0) => {
                return NumberFormat::DateTime;
            }
            _ => {
                if !(hms && s.eq_ignore_ascii_case(&prev)) {
                    hms = prev == '[' && matches!(s, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                }
            }
        }
        prev = s;
    }
    NumberFormat::Other
}

/// The built-in number formats that show dates and durations.
fn builtin_format(id: u16) -> NumberFormat {
    match id {
        14..=22 | 27..=36 | 45 | 47 | 50..=58 => NumberFormat::DateTime,
        46 => NumberFormat::TimeDelta,
        _ => NumberFormat::Other,
    }
}

/// The records of a stream: (type, data). A record running past the
/// stream's end is an error; CONTINUE records come as records of their own.
#[derive(Clone)]
struct Records<'a> {
    stream: &'a [u8],
}

impl<'a> Records<'a> {
    fn new(stream: &'a [u8]) -> Self {
        Records { stream }
    }

    /// The CONTINUE records right after the current one.
    fn continues(&mut self) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        while let Some(Ok((CONTINUE, data))) = self.clone().next() {
            pieces.push(data);
            self.next();
        }
        pieces
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(u16, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stream.is_empty() {
            return None;
        }
        let (Some(kind), Some(len)) = (u16_at(self.stream, 0), u16_at(self.stream, 2)) else {
            self.stream = &[];
            return Some(Err(Error::Broken));
        };
        let Some(data) = self.stream.get(4..4 + usize::from(len)) else {
            self.stream = &[];
            return Some(Err(Error::Broken));
        };
        self.stream = &self.stream[4 + usize::from(len)..];
        Some(Ok((kind, data)))
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn f64_at(data: &[u8], at: usize) -> Option<f64> {
    Some(f64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// The cells of a sheet as its records give them.
#[derive(Default)]
struct Cells {
    cells: Vec<(u32, u32, Data)>,
    /// What the cells so far take in memory (see `cell_bytes`).
    bytes: u64,
    /// The cell of the last formula whose value is a string, which the
    /// STRING record after it holds.
    string_of: Option<(u32, u32)>,
    /// The text of a STRING record that runs on in CONTINUE records: its
    /// cell, the characters still to come, the text so far.
    string_rest: Option<(u32, u32, usize, String)>,
}

impl Cells {
    fn push(&mut self, row: u32, col: u32, value: Data) -> Result<()> {
        if col >= MAX_COLUMNS {
            return Err(Error::BeyondSheetLimits {
                row: u64::from(row) + 1,
                col: u64::from(col) + 1,
            });
        }
        // One shared string may fill many cells: each copy counts.
        self.bytes += crate::grid::cell_bytes(&value);
        if self.bytes > MAX_SHEET_BYTES {
            return Err(Error::SheetTooLarge);
        }
        if self.cells.len() as u64 >= MAX_CELLS {
            return Err(Error::TooManyCells);
        }
        self.cells.push((row, col, value));
        Ok(())
    }

    fn record(&mut self, kind: u16, data: &[u8], xls: &Xls) -> Result<()> {
        if BIFF2_CELLS.contains(&kind) {
            return Err(damaged_sheet(
                "a cell record of Excel 2.x in an Excel 97 sheet",
            ));
        }
        let short = |what: &str| damaged_sheet(&format!("a {what} record too short"));
        let (Some(row), Some(col)) = (u16_at(data, 0), u16_at(data, 2)) else {
            return match kind {
                NUMBER | RK | MULRK | LABEL | RSTRING | LABELSST | BOOLERR | FORMULA
                | FORMULA_BIFF3 | FORMULA_BIFF4 => Err(short("cell")),
                _ => Ok(()),
            };
        };
        let number = |value: f64, xf: u16| xls.number(value, xf);
        let first_col = col;
        let (row, col) = (u32::from(row), u32::from(col));
        match kind {
            NUMBER => {
                let (Some(xf), Some(value)) = (u16_at(data, 4), f64_at(data, 6)) else {
                    return Err(short("NUMBER"));
                };
                self.push(row, col, number(value, xf))?;
            }
            RK => {
                let Some(rk) = data.get(4..10) else {
                    return Err(short("RK"));
                };
                self.push(row, col, xls.rk(rk))?;
            }
            MULRK => {
                // Columns first..=last, 6 bytes each, then the last column.
                let Some(last) = data.len().checked_sub(2).and_then(|at| u16_at(data, at)) else {
                    return Err(short("MULRK"));
                };
                let count =
                    usize::from(last.checked_sub(first_col).ok_or_else(|| short("MULRK"))?) + 1;
                if data.len() != 6 + 6 * count {
                    return Err(short("MULRK"));
                }
                for (i, rk) in data[4..data.len() - 2].chunks_exact(6).enumerate() {
                    self.push(row, col + i as u32, xls.rk(rk))?;
                }
            }
            LABEL | RSTRING => {
                let text = data.get(6..).ok_or_else(|| short("LABEL"))?;
                if text.len() < 3 {
                    return Err(short("LABEL"));
                }
                self.push(row, col, Data::String(short_string(text, 2)))?;
            }
            LABELSST => {
                let Some(index) = u32_at(data, 6) else {
                    return Err(short("LABELSST"));
                };
                let Some(text) = xls.strings.get(index as usize) else {
                    return Err(damaged_sheet(
                        "a cell refers to a shared string not in the file",
                    ));
                };
                self.push(row, col, Data::String(text.clone()))?;
            }
            BOOLERR => {
                let (Some(&value), Some(&is_error)) = (data.get(6), data.get(7)) else {
                    return Err(short("BOOLERR"));
                };
                let value = match is_error {
                    0 => Data::Bool(value != 0),
                    1 => Data::Error(error_of(value)),
                    _ => {
                        return Err(damaged_sheet(
                            "a BOOLERR cell neither a boolean nor an error",
                        ));
                    }
                };
                self.push(row, col, value)?;
            }
            FORMULA | FORMULA_BIFF3 | FORMULA_BIFF4 => {
                let (Some(xf), Some(result)) = (u16_at(data, 4), data.get(6..14)) else {
                    return Err(short("FORMULA"));
                };
                // FormulaValue (MS-XLS 2.5.133): a number, or a typed value
                // marked by 0xFFFF in its last two bytes.
                self.string_of = None;
                if result[6..8] != [0xFF, 0xFF] {
                    let value = f64::from_le_bytes(result.try_into().unwrap_or_default());
                    self.push(row, col, number(value, xf))?;
                    return Ok(());
                }
                match result[0] {
                    // The string is in the STRING record that follows.
                    0 => self.string_of = Some((row, col)),
                    1 => self.push(row, col, Data::Bool(result[2] != 0))?,
                    2 => self.push(row, col, Data::Error(error_of(result[2])))?,
                    3 => self.push(row, col, Data::String(String::new()))?,
                    _ => return Err(damaged_sheet("a formula's value of unknown type")),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A STRING record: the value of the formula before it. Its data
    /// starts where a cell's row would be, so it is read apart. A text too
    /// long for one record runs on in CONTINUE records.
    fn string(&mut self, data: &[u8]) -> Result<()> {
        let Some((row, col)) = self.string_of.take() else {
            return Ok(());
        };
        let (Some(count), Some(&flags)) = (u16_at(data, 0), data.get(2)) else {
            return self.push(row, col, Data::String(String::new()));
        };
        self.string_rest = Some((row, col, usize::from(count), String::new()));
        self.string_continues(&[&[flags], &data[3..]].concat())
    }

    /// A CONTINUE record: the rest of the text of the STRING before it
    /// (its first byte tells the width of its characters), if any.
    fn string_continues(&mut self, data: &[u8]) -> Result<()> {
        let Some((_, _, rest, text)) = &mut self.string_rest else {
            return Ok(());
        };
        let Some((&flags, chars)) = data.split_first() else {
            return Ok(());
        };
        let wide = flags & 1 != 0;
        let width = if wide { 2 } else { 1 };
        let here = (*rest).min(chars.len() / width);
        push_chars(text, &chars[..here * width], wide);
        *rest -= here;
        if *rest == 0 {
            self.end_string()?;
        }
        Ok(())
    }

    /// The formula's text as far as the file holds it, once its records end.
    fn end_string(&mut self) -> Result<()> {
        match self.string_rest.take() {
            Some((row, col, _, text)) => self.push(row, col, Data::String(text)),
            None => Ok(()),
        }
    }

    /// The grid, each cell given once (the last record for it wins).
    fn into_grid(self) -> Result<SparseGrid> {
        let height = self.cells.iter().map(|(r, ..)| *r as usize + 1).max();
        let mut rows: Vec<Vec<(u32, Data)>> = Vec::new();
        rows.resize_with(height.unwrap_or(0), Vec::new);
        for (row, col, value) in self.cells {
            rows[row as usize].push((col, value));
        }
        for row in &mut rows {
            row.sort_by_key(|(c, _)| *c);
            // Stable sort: of the records for one cell, the last comes last.
            let mut kept: Vec<(u32, Data)> = Vec::with_capacity(row.len());
            for cell in row.drain(..) {
                match kept.last_mut() {
                    Some(last) if last.0 == cell.0 => *last = cell,
                    _ => kept.push(cell),
                }
            }
            *row = kept;
        }
        Ok(SparseGrid::from_rows(rows))
    }
}

impl Xls {
    /// A number as its cell's format shows it: a date, a duration or a number.
    fn number(&self, value: f64, xf: u16) -> Data {
        let datetime = |kind| Data::DateTime(ExcelDateTime::new(value, kind, self.dates_from_1904));
        match self.formats.get(usize::from(xf)) {
            Some(NumberFormat::DateTime) => datetime(ExcelDateTimeType::DateTime),
            Some(NumberFormat::TimeDelta) => datetime(ExcelDateTimeType::TimeDelta),
            _ => Data::Float(value),
        }
    }

    /// An RkRec (MS-XLS 2.5.219): an XF index, then a number packed in 30
    /// bits (an integer or a float's high bits, perhaps divided by 100).
    fn rk(&self, rk: &[u8]) -> Data {
        let xf = u16::from_le_bytes([rk[0], rk[1]]);
        let raw = u32::from_le_bytes([rk[2], rk[3], rk[4], rk[5]]);
        let by_100 = raw & 1 != 0;
        if raw & 2 != 0 {
            let int = i64::from((raw as i32) >> 2);
            if by_100 && int % 100 != 0 {
                self.number(int as f64 / 100.0, xf)
            } else {
                let int = if by_100 { int / 100 } else { int };
                match self.formats.get(usize::from(xf)) {
                    Some(NumberFormat::DateTime | NumberFormat::TimeDelta) => {
                        self.number(int as f64, xf)
                    }
                    _ => Data::Int(int),
                }
            }
        } else {
            let value = f64::from_bits(u64::from(raw & !3) << 32);
            self.number(if by_100 { value / 100.0 } else { value }, xf)
        }
    }
}

/// A BErr value (MS-XLS 2.5.10); an unknown one is shown as `#VALUE!`.
fn error_of(code: u8) -> CellErrorType {
    match code {
        0x00 => CellErrorType::Null,
        0x07 => CellErrorType::Div0,
        0x17 => CellErrorType::Ref,
        0x1D => CellErrorType::Name,
        0x24 => CellErrorType::Num,
        0x2A => CellErrorType::NA,
        0x2B => CellErrorType::GettingData,
        _ => CellErrorType::Value,
    }
}

/// The Workbook stream as written, or decrypted when a FILEPASS record
/// follows its first BOF and `password` opens it; the second value tells
/// whether it was decrypted.
fn decrypt(stream: Vec<u8>, password: &str) -> Result<(Vec<u8>, bool)> {
    let mut records = Records::new(&stream);
    let _bof = records.next();
    let Some(Ok((FILEPASS, filepass))) = records.next() else {
        return Ok((stream, false));
    };
    let key = rc4_key(filepass, password).ok_or(Error::Encrypted)?;
    let decrypted = key.decrypt(&stream)?;
    Ok((decrypted, true))
}

/// The password Excel encrypts an `.xls` with when the workbook's structure
/// is protected but no password to open it was given (MS-XLS 2.2.10).
const DEFAULT_PASSWORD: &str = "VelvetSweatshop";

/// The RC4 keys of an encrypted workbook, one per block of 1024 bytes of
/// the stream, derived from its password and salt.
enum Rc4Key {
    /// RC4 (MS-OFFCRYPTO 2.3.6, Excel 97 to 2003): a block's key is the MD5
    /// of this truncated hash and the block's number.
    Standard { base: [u8; 5] },
    /// RC4 CryptoAPI (MS-OFFCRYPTO 2.3.5, Excel 2002 and later): the SHA-1
    /// of this hash and the block's number, cut to the key's size (a 40-bit
    /// key padded with zeros to 128 bits).
    CryptoApi { base: [u8; 20], key_bytes: usize },
}

/// The key of a FILEPASS record (RC4 or RC4 CryptoAPI) when `password`
/// opens it: its verifier checks out. `None` for a password that does not,
/// and for XOR obfuscation.
fn rc4_key(filepass: &[u8], password: &str) -> Option<Rc4Key> {
    use md5::{Digest, Md5};
    use sha1::Sha1;
    let password: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    // wEncryptionType 1 (RC4), then the header's version.
    let (key, verifier, verifier_hash) = match filepass.get(..6)? {
        [1, 0, 1, 0, 1, 0] => {
            let salt = filepass.get(6..22)?;
            let h0 = Md5::digest(&password);
            let mut buffer = Vec::with_capacity(16 * 21);
            for _ in 0..16 {
                buffer.extend_from_slice(&h0[..5]);
                buffer.extend_from_slice(salt);
            }
            let base = Md5::digest(&buffer)[..5].try_into().ok()?;
            let key = Rc4Key::Standard { base };
            (key, filepass.get(22..38)?, filepass.get(38..54)?)
        }
        [1, 0, 2..=4, 0, 2, 0] => {
            // Flags, the header's size, the header (its key size at 16),
            // then the verifier: salt size, salt, verifier, hash size, hash.
            let header_size = u32_at(filepass, 10)? as usize;
            let header = filepass.get(14..14usize.checked_add(header_size)?)?;
            let key_bits = match u32_at(header, 16)? {
                0 => 40,
                bits => bits,
            };
            let key_bytes = match key_bits {
                40 => 5,
                128 => 16,
                _ => return None,
            };
            let verifier_at = 14 + header_size;
            let salt = filepass.get(verifier_at + 4..verifier_at + 20)?;
            let h0 = Sha1::new()
                .chain_update(salt)
                .chain_update(&password)
                .finalize();
            let key = Rc4Key::CryptoApi {
                base: h0.into(),
                key_bytes,
            };
            let verifier = filepass.get(verifier_at + 20..verifier_at + 36)?;
            let hash = filepass.get(verifier_at + 40..verifier_at + 60)?;
            (key, verifier, hash)
        }
        _ => return None,
    };
    let mut check = [verifier, verifier_hash].concat();
    key.apply_keystream(0, &mut check);
    let (verifier, hash) = check.split_at(16);
    let expected: Vec<u8> = match key {
        Rc4Key::Standard { .. } => Md5::digest(verifier).to_vec(),
        Rc4Key::CryptoApi { .. } => Sha1::digest(verifier).to_vec(),
    };
    (expected == hash).then_some(key)
}

impl Rc4Key {
    /// XORs `data` with the keystream of `block` (1024 bytes each) from its start.
    fn apply_keystream(&self, block: u32, data: &mut [u8]) {
        use md5::{Digest, Md5};
        use rc4::{KeyInit, Rc4, StreamCipher, consts::U16};
        use sha1::Sha1;
        // A 128-bit RC4 key; a 40-bit CryptoAPI key is padded with zeros.
        let mut key = [0u8; 16];
        match self {
            Rc4Key::Standard { base } => {
                key.copy_from_slice(
                    &Md5::new()
                        .chain_update(base)
                        .chain_update(block.to_le_bytes())
                        .finalize(),
                );
            }
            Rc4Key::CryptoApi { base, key_bytes } => {
                let hash = Sha1::new()
                    .chain_update(base)
                    .chain_update(block.to_le_bytes())
                    .finalize();
                key[..*key_bytes].copy_from_slice(&hash[..*key_bytes]);
            }
        }
        let mut cipher = Rc4::<U16>::new(&key.into());
        cipher.apply_keystream(data);
    }

    /// The stream with every record's data decrypted. The keystream runs
    /// by the byte's place in the stream (a new key every 1024 bytes), over
    /// record headers too, which are not encrypted, nor are a few records
    /// and a sheet's offset in BOUNDSHEET (MS-XLS 2.2.10).
    fn decrypt(&self, stream: &[u8]) -> Result<Vec<u8>> {
        let mut keystream = vec![0u8; stream.len()];
        for (block, chunk) in keystream.chunks_mut(1024).enumerate() {
            let block = u32::try_from(block).map_err(|_| Error::Broken)?;
            self.apply_keystream(block, chunk);
        }
        let mut out = stream.to_vec();
        let mut at = 0;
        // Bytes after the last whole record are no record's: left as they are.
        for (kind, data) in Records::new(stream).map_while(Result::ok) {
            let start = at + 4;
            at = start + data.len();
            let skip = match kind {
                BOF | FILEPASS | USREXCL | FILELOCK | INTERFACEHDR | RRDINFO | RRDHEAD => {
                    data.len()
                }
                BOUNDSHEET => 4.min(data.len()),
                _ => 0,
            };
            for i in start + skip..at {
                out[i] ^= keystream[i];
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
