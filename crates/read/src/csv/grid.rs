//! A batch of CSV records, decoded to UTF-8 into one buffer.

use crate::Cell;
use crate::grid::Grid;

/// CSV records of consecutive lines of a file, decoded to UTF-8, placed on
/// the line they start on: the csv reader skips blank lines, but users count
/// them (row numbers are line numbers). Rows count from the file's first
/// line; the grid holds `first_line..height()` (a whole file or one batch).
/// Fields are stored in one string, a line's with its delimiters (see
/// [`SEPARATED`]): no allocation per record.
/// They are pushed as bytes and checked to be UTF-8 once, when the grid is
/// sealed (perf: checking each field on its own was 4 % of a national run).
pub struct CsvGrid {
    first_line: usize,
    /// The fields once sealed.
    text: String,
    /// The fields pushed, until sealed.
    pending: Vec<u8>,
    /// Where each field ends in `text`, record after record.
    field_ends: Vec<usize>,
    /// Each record's first index in `field_ends`, plus the end.
    record_starts: Vec<usize>,
    /// For each line from `first_line`, the record starting on it.
    record_at_line: Vec<Option<u32>>,
    /// Lines inside records, after the line each starts on.
    continued: usize,
    width: usize,
}

impl CsvGrid {
    /// An empty grid covering lines from `first_line` (0-based).
    pub fn new(first_line: usize) -> Self {
        CsvGrid {
            first_line,
            text: String::new(),
            pending: Vec::new(),
            field_ends: Vec::new(),
            record_starts: vec![0],
            record_at_line: Vec::new(),
            continued: 0,
            width: 0,
        }
    }

    /// Empties the grid to cover lines from `first_line`, keeping its buffers.
    pub fn reset(&mut self, first_line: usize) {
        self.first_line = first_line;
        self.pending = std::mem::take(&mut self.text).into_bytes();
        self.pending.clear();
        self.field_ends.clear();
        self.record_starts.clear();
        self.record_starts.push(0);
        self.record_at_line.clear();
        self.continued = 0;
        self.width = 0;
    }

    /// Adds a record starting on `line` (0-based, after the previous
    /// records'): `bytes` holds its fields with one byte between each (a
    /// line's delimiters), `ends` where each field ends in `bytes`, and they
    /// are decoded as `decoding` says.
    pub fn push(&mut self, line: usize, bytes: &[u8], ends: &[usize], decoding: &Decoding) {
        self.push_record(line, bytes, ends, SEPARATED, decoding);
        // The byte after the last field.
        self.pending.push(b'\n');
    }

    /// Adds a record starting on `line` and going on over `spanned` more,
    /// whose fields are end to end in `fields` (a record's, its quotes
    /// taken out), each ending where `ends` says, decoded as `decoding`
    /// says.
    pub fn push_fields(
        &mut self,
        line: usize,
        spanned: usize,
        fields: &[u8],
        ends: &[usize],
        decoding: &Decoding,
    ) {
        self.continued += spanned;
        self.push_record(line, fields, ends, 0, decoding);
    }

    /// Adds a record's `bytes`, its fields ending where `ends` says, each
    /// marked with `gap` (whether a byte follows it). A record in ASCII
    /// (nearly every one, whatever the encoding) is copied whole: a check
    /// and a copy per field were a tenth of reading a Windows-1252 file.
    fn push_record(
        &mut self,
        line: usize,
        bytes: &[u8],
        ends: &[usize],
        gap: usize,
        decoding: &Decoding,
    ) {
        let (base, first) = (self.pending.len(), self.field_ends.len());
        self.field_ends
            .extend(ends.iter().map(|end| (base + end) | gap));
        match decoding {
            Decoding::Single(upper) if !bytes.is_ascii() => {
                // Copied whole but for its upper bytes (about one a record),
                // each widened to its character: the fields from the one
                // holding it on end that much further.
                let moved = &mut self.field_ends[first..];
                let (mut copied, mut grown, mut field) = (0, 0, 0);
                while let Some(i) = first_upper(&bytes[copied..]) {
                    let at = copied + i;
                    while field < ends.len() && ends[field] <= at {
                        moved[field] += grown;
                        field += 1;
                    }
                    let utf8 = upper.char(bytes[at]);
                    self.pending.extend_from_slice(&bytes[copied..at]);
                    self.pending.extend_from_slice(utf8);
                    grown += utf8.len() - 1;
                    copied = at + 1;
                }
                moved[field..].iter_mut().for_each(|end| *end += grown);
                self.pending.extend_from_slice(&bytes[copied..]);
            }
            _ => self.pending.extend_from_slice(bytes),
        }
        self.end_record(line);
    }

    /// Closes the record whose fields were just pushed, on `line`.
    fn end_record(&mut self, line: usize) {
        let index = self.record_starts.len() - 1;
        self.record_starts.push(self.field_ends.len());
        self.width = self
            .width
            .max(self.field_ends.len() - self.record_starts[index]);
        self.extend_to(line + 1);
        self.record_at_line[line - self.first_line] = Some(index as u32);
    }

    /// Makes the fields pushed readable; false, and nothing readable, when
    /// they are not valid UTF-8 (a file read as UTF-8 from its first block
    /// only, whose later bytes are in another encoding).
    pub fn seal(&mut self) -> bool {
        match String::from_utf8(std::mem::take(&mut self.pending)) {
            Ok(text) => {
                self.text = text;
                true
            }
            Err(e) => {
                self.pending = e.into_bytes();
                false
            }
        }
    }

    /// Makes the grid cover lines up to `end` (exclusive), blank lines included.
    pub fn extend_to(&mut self, end: usize) {
        if end > self.height() {
            self.record_at_line.resize(end - self.first_line, None);
        }
    }

    pub fn records(&self) -> usize {
        self.record_starts.len() - 1
    }

    /// The grid's lines that go on a record started on an earlier line:
    /// lines, not rows.
    pub fn continued(&self) -> usize {
        self.continued
    }

    /// The first line of the grid (0-based).
    pub fn first_line(&self) -> usize {
        self.first_line
    }

    /// The indexes in `field_ends` of the fields of the record on `row`.
    fn record(&self, row: usize) -> Option<std::ops::Range<usize>> {
        let line = row.checked_sub(self.first_line)?;
        let record = self.record_at_line.get(line).copied().flatten()? as usize;
        Some(self.record_starts[record]..self.record_starts[record + 1])
    }

    fn field(&self, index: usize) -> &str {
        let start = match index {
            0 => 0,
            _ => {
                let before = self.field_ends[index - 1];
                (before & !SEPARATED) + usize::from(before & SEPARATED != 0)
            }
        };
        &self.text[start..self.field_ends[index] & !SEPARATED]
    }
}

/// Marks a field end in `CsvGrid::field_ends` followed by a byte that is
/// not the next field's (a line's delimiter): a line is copied whole, its
/// delimiters with it, and a quoted record's fields end to end.
const SEPARATED: usize = 1 << (usize::BITS - 1);

/// How a CSV file's fields become UTF-8: as they are (UTF-8, checked
/// when the grid is sealed), or from a single-byte encoding.
pub enum Decoding {
    Utf8,
    Single(Box<UpperHalf>),
}

impl Decoding {
    /// For UTF-8 or a single-byte encoding.
    pub fn new(encoding: &'static encoding_rs::Encoding) -> Self {
        debug_assert!(encoding == encoding_rs::UTF_8 || encoding.is_single_byte());
        match encoding == encoding_rs::UTF_8 {
            true => Decoding::Utf8,
            false => Decoding::Single(Box::new(UpperHalf::of(encoding))),
        }
    }
}

/// Where the first byte of `bytes` outside ASCII is, eight bytes at a time
/// (the byte-by-byte search was half of decoding a Windows-1252 record).
fn first_upper(bytes: &[u8]) -> Option<usize> {
    const TOP: u64 = 0x8080_8080_8080_8080;
    let (words, tail) = bytes.as_chunks::<8>();
    for (w, word) in words.iter().enumerate() {
        let top = u64::from_le_bytes(*word) & TOP;
        if top != 0 {
            return Some(w * 8 + top.trailing_zeros() as usize / 8);
        }
    }
    let base = bytes.len() - tail.len();
    tail.iter().position(|&b| b >= 0x80).map(|i| base + i)
}

/// The UTF-8 of the characters a single-byte encoding gives its bytes
/// 0x80 to 0xFF, as encoding_rs decodes each (U+FFFD for a byte it does
/// not map): an accented record is copied run by run of ASCII, with the
/// table's characters between. Setting up an encoding_rs decoder for every
/// accented field was most of the cost of reading a Windows-1252 file's
/// accented column.
pub struct UpperHalf([([u8; 3], u8); 128]);

impl UpperHalf {
    fn of(encoding: &'static encoding_rs::Encoding) -> Self {
        let mut table = [([0u8; 3], 0u8); 128];
        for (byte, entry) in (0x80..=0xFF_u8).zip(&mut table) {
            let byte = [byte];
            let (text, _) = encoding.decode_without_bom_handling(&byte);
            // One character of at most three bytes: a code point below U+10000.
            let utf8 = text.as_bytes();
            let n = utf8.len().min(3);
            entry.0[..n].copy_from_slice(&utf8[..n]);
            entry.1 = n as u8;
        }
        UpperHalf(table)
    }

    /// The UTF-8 of an upper byte's character.
    fn char(&self, byte: u8) -> &[u8] {
        let (utf8, n) = &self.0[usize::from(byte - 0x80)];
        &utf8[..usize::from(*n)]
    }
}

impl Grid for CsvGrid {
    fn height(&self) -> usize {
        self.first_line + self.record_at_line.len()
    }

    fn width(&self) -> usize {
        self.width
    }

    fn row_is_blank(&self, row: usize) -> bool {
        self.record(row).is_none_or(|fields| {
            fields
                .into_iter()
                .all(|f| crate::trim(self.field(f)).is_empty())
        })
    }

    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        let Some(fields) = self.record(row) else {
            return Cell::Empty;
        };
        let index = fields.start + col;
        if index >= fields.end {
            return Cell::Empty;
        }
        match self.field(index) {
            "" => Cell::Empty,
            s => Cell::Text(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first upper byte where a byte-by-byte search finds it, in every
    /// length of text around a word's eight bytes and at every offset.
    #[test]
    fn the_first_upper_byte_is_found_where_a_byte_search_finds_it() {
        for len in 0..40 {
            for at in 0..=len {
                for upper in [0x80, 0xC9, 0xFF] {
                    let mut bytes = vec![b'a'; len];
                    if at < len {
                        bytes[at] = upper;
                        // A later upper byte is not the first.
                        if at + 3 < len {
                            bytes[at + 3] = 0xE9;
                        }
                    }
                    let expected = bytes.iter().position(|&b| b >= 0x80);
                    assert_eq!(first_upper(&bytes), expected, "{bytes:?}");
                }
            }
        }
    }

    /// Every byte, in records with ASCII fields around accented ones,
    /// comes out of a grid as encoding_rs decodes each field, in several
    /// single-byte encodings (Windows-1252's five unmapped bytes included).
    #[test]
    fn accented_records_are_decoded_field_by_field_as_encoding_rs_does() {
        let every_byte: Vec<u8> = (0..=255).collect();
        let records: [Vec<&[u8]>; 4] = [
            vec![b"42218", b"Saint-\xC9tienne", b"", b"\xE9t\xE9", b"x"],
            vec![&every_byte, b"abc", &every_byte],
            vec![b"\xC9", b"\xE9\xE8", b"", b"plain"],
            vec![b"ascii", b"only"],
        ];
        for encoding in [
            encoding_rs::WINDOWS_1252,
            encoding_rs::WINDOWS_1250,
            encoding_rs::ISO_8859_7,
            encoding_rs::IBM866,
        ] {
            // As a line (one byte between fields), and as a quoted record's
            // fields end to end.
            let (mut lines, mut quoted) = (CsvGrid::new(0), CsvGrid::new(0));
            for (line, fields) in records.iter().enumerate() {
                let ends_after = |gap: usize| -> Vec<usize> {
                    fields
                        .iter()
                        .scan(0, |start, field| {
                            let end = *start + field.len();
                            *start = end + gap;
                            Some(end)
                        })
                        .collect()
                };
                let decoding = Decoding::new(encoding);
                lines.push(line, &fields.join(&b';'), &ends_after(1), &decoding);
                quoted.push_fields(line, 0, &fields.concat(), &ends_after(0), &decoding);
            }
            for mut grid in [lines, quoted] {
                assert!(grid.seal());
                for (row, fields) in records.iter().enumerate() {
                    for (col, field) in fields.iter().enumerate() {
                        let (expected, _) = encoding.decode_without_bom_handling(field);
                        assert_eq!(
                            grid.cell(row, col).display(),
                            expected,
                            "{} row {row} column {col}",
                            encoding.name()
                        );
                    }
                }
            }
        }
    }
}
