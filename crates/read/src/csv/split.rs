//! The split of a CSV file's bytes into records, and delimiter sniffing.
//! Files in UTF-8 or a single-byte encoding (Windows-1252
//! above all) are split as bytes and decoded field by field into each batch:
//! a copy of the whole file decoded would be as large as the file, and fresh
//! memory is what reading costs most (perf: a decoded copy of the messy CAF
//! file took a sixth of a run).

use super::Delimiter;
use super::grid::{CsvGrid, Decoding};
use crate::error::{Error, Result};
use crate::limits::{MARGIN, MAX_COLUMNS, MAX_LINES_IN_A_FIELD};
use encoding_rs::Encoding;
use std::borrow::Cow;

/// A CSV file's bytes, ready to split: in an encoding whose ASCII bytes are
/// ASCII characters, so that delimiters, quotes and line breaks can be
/// found before decoding.
#[derive(Debug)]
pub struct Text<'b> {
    bytes: Cow<'b, [u8]>,
    /// UTF-8 (checked valid) or a single-byte encoding.
    encoding: &'static Encoding,
}

impl<'b> Text<'b> {
    /// A block of a file whose encoding is known (UTF-8 checked valid, or
    /// Windows-1252), lone CRs made line feeds.
    pub fn block(bytes: &'b [u8], encoding: &'static Encoding) -> Self {
        Text::new(Cow::Borrowed(bytes), encoding)
    }

    /// `bytes` in `encoding` (UTF-8 checked valid, or a single-byte
    /// encoding), lone CRs made line feeds.
    pub fn new(bytes: Cow<'b, [u8]>, encoding: &'static Encoding) -> Self {
        Text {
            bytes: with_line_feeds(bytes),
            encoding,
        }
    }

    /// Its length in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The delimiter: the one declared, or the one its first lines use.
    pub fn delimiter(&self, declared: Delimiter) -> u8 {
        match declared {
            Delimiter::Auto => sniff_delimiter(&self.bytes),
            Delimiter::Byte(d) => d,
        }
    }

    /// Its bytes, decoded (for tests).
    #[cfg(test)]
    pub fn decoded(&self) -> String {
        self.encoding
            .decode_without_bom_handling(&self.bytes)
            .0
            .into_owned()
    }
}

/// Where a block of a file starts, and where the next one will: a block
/// is split up to the first record that starts at or after `limit`, which
/// the next block starts with.
#[derive(Clone, Copy, Default)]
pub struct Span {
    /// The line (0-based) of the block's first byte in the file.
    pub first_line: usize,
    /// None for the file's last block.
    pub limit: Option<usize>,
}

/// Splits decoded CSV text into grids of consecutive lines, one after the
/// other: a large file is parsed a batch at a time, never held as records.
///
/// A line with no quote (its end found with memchr2) is split at its
/// delimiters, found by a plain scan (for fields of a few bytes, faster
/// than a memchr call per delimiter): the csv reader's byte-by-byte state
/// machine was the first entry of the profile (9 % of a national run's
/// samples). A record with a quote, which may run over several lines and
/// hold delimiters and doubled quotes, is read by that state machine
/// (csv-core, the csv crate's own). Either way blank lines are skipped, as
/// the csv crate does.
pub struct Splitter<'t> {
    text: &'t [u8],
    decoding: Decoding,
    delimiter: u8,
    /// Reads the records that hold a quote.
    quoted: csv_core::Reader,
    /// The next byte to read.
    pos: usize,
    /// Where the record read ahead is.
    record: Record,
    /// What the csv reader writes a record with quotes into: its fields end
    /// to end, and where each ends.
    scratch: (Vec<u8>, Vec<usize>),
    /// Where each field of the line read ahead ends.
    ends: Vec<usize>,
    /// The line (0-based) of the record read ahead, if any.
    ahead: Option<usize>,
    /// Line breaks counted in `text[..scanned]`.
    scanned: usize,
    line_breaks: usize,
    /// The first line of the next grid.
    next_line: usize,
    done: bool,
    /// Records starting at or after this byte are left to the next block.
    limit: Option<usize>,
    /// The byte and line of the first record left to the next block.
    cut: Option<(usize, usize)>,
    /// A grid was not valid UTF-8: splitting stopped there.
    not_utf8: bool,
    /// The record read ahead holds quotes and its bytes are not valid
    /// UTF-8 (in a file read as UTF-8).
    ahead_not_utf8: bool,
}

/// Where the fields of the record read ahead are.
#[derive(Clone, Copy)]
enum Record {
    /// A line of `text`, its terminator left out.
    Line(usize, usize),
    /// In `scratch`: that many bytes of fields and of field ends, and the
    /// line breaks its fields hold.
    Quoted(usize, usize, usize),
}

impl<'t> Splitter<'t> {
    pub fn new(text: &'t Text<'_>, delimiter: u8, span: Span) -> Result<Self> {
        let mut splitter = Splitter {
            text: &text.bytes,
            decoding: Decoding::new(text.encoding),
            delimiter,
            quoted: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            scratch: (vec![0; 1024], vec![0; 64]),
            pos: 0,
            record: Record::Quoted(0, 0, 0),
            ends: Vec::new(),
            ahead: None,
            scanned: 0,
            line_breaks: span.first_line,
            next_line: span.first_line,
            done: false,
            limit: span.limit,
            cut: None,
            not_utf8: false,
            ahead_not_utf8: false,
        };
        // A blank line read first: the reader strips a byte order mark from
        // the first bytes it is given, and the file's own was left out by
        // the survey; bytes further on that look like one are data.
        splitter
            .quoted
            .read_record(b"\n", &mut splitter.scratch.0, &mut splitter.scratch.1);
        splitter.read_ahead()?;
        Ok(splitter)
    }

    /// Where the next block starts (byte in this block, line in the file),
    /// once every grid of this one is read; None after the file's last.
    pub fn cut(&self) -> Option<(usize, usize)> {
        self.cut
    }

    /// Whether splitting stopped on fields that are not valid UTF-8.
    pub fn not_utf8(&self) -> bool {
        self.not_utf8
    }

    /// The grid, sealed; `None`, and no more grids, if it is not valid
    /// UTF-8 or holds a record that is not (`not_utf8`).
    fn sealed(&mut self, mut grid: CsvGrid, not_utf8: bool) -> Option<CsvGrid> {
        if !not_utf8 && grid.seal() {
            return Some(grid);
        }
        self.not_utf8 = true;
        self.done = true;
        None
    }

    /// The next grid, of at most `records` records and the blank lines
    /// after them; `None` after the last. A `recycled` grid lends its
    /// buffers: batch after batch, no fresh memory.
    pub fn next_grid(
        &mut self,
        records: usize,
        recycled: Option<CsvGrid>,
    ) -> Result<Option<CsvGrid>> {
        if self.done {
            return Ok(None);
        }
        let mut grid = match recycled {
            Some(mut grid) => {
                grid.reset(self.next_line);
                grid
            }
            None => CsvGrid::new(self.next_line),
        };
        let mut not_utf8 = false;
        while let Some(line) = self.ahead {
            if grid.records() == records {
                grid.extend_to(line);
                self.next_line = line;
                return Ok(self.sealed(grid, not_utf8));
            }
            match self.record {
                Record::Line(start, end) => {
                    grid.push(line, &self.text[start..end], &self.ends, &self.decoding);
                }
                Record::Quoted(written, ended, spanned) => {
                    not_utf8 |= self.ahead_not_utf8;
                    grid.push_fields(
                        line,
                        spanned,
                        &self.scratch.0[..written],
                        &self.scratch.1[..ended],
                        &self.decoding,
                    );
                }
            }
            self.read_ahead()?;
        }
        let end = match self.cut {
            Some((_, line)) => line,
            None => self.total_lines(),
        };
        grid.extend_to(end);
        self.done = true;
        Ok(self.sealed(grid, not_utf8))
    }

    fn read_ahead(&mut self) -> Result<()> {
        self.ahead = None;
        let text = self.text;
        let start = text[self.pos..]
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .map_or(text.len(), |i| self.pos + i);
        self.pos = start;
        if start == text.len() {
            if self.limit.is_some() {
                // Blank lines to the end of the block: the next one goes on from here.
                self.cut = Some((start, self.line_of(start)));
            }
            return Ok(());
        }
        let line = self.line_of(start);
        if self.limit.is_some_and(|limit| start >= limit) {
            self.cut = Some((start, line));
            return Ok(());
        }
        let spanned = match memchr::memchr2(b'\n', b'"', &text[start..]) {
            Some(i) if text[start + i] == b'\n' => {
                let end = start + i - usize::from(i > 0 && text[start + i - 1] == b'\r');
                self.split_line(start, end);
                self.pos = start + i + 1;
                // The line and its break are counted.
                (self.scanned, self.line_breaks) = (self.pos, self.line_breaks + 1);
                0
            }
            None => {
                self.split_line(start, text.len());
                self.pos = text.len();
                0
            }
            Some(_) => {
                let spanned = self.read_quoted(start);
                // Its fields are stored end to end, its quotes taken out:
                // they can be valid UTF-8 together when its bytes are not
                // ("\xC3;\xA9" is two fields, "\xC3\xA9" an "é" once
                // stored), and a field would end inside a character. Its
                // bytes are checked as the whole file's are; a line's are
                // stored as they are, delimiters (ASCII) between its fields,
                // and checked with its grid.
                self.ahead_not_utf8 = matches!(self.decoding, Decoding::Utf8)
                    && std::str::from_utf8(&text[start..self.pos]).is_err();
                spanned
            }
        };
        let widest = match self.record {
            Record::Quoted(_, ended, _) if spanned > MAX_LINES_IN_A_FIELD => {
                widest_field(&self.scratch.0, &self.scratch.1[..ended])
            }
            _ => spanned,
        };
        self.check_record(start, line, spanned, widest)?;
        self.ahead = Some(line);
        Ok(())
    }

    /// The fields of the line `text[start..end]`, which holds no quote.
    fn split_line(&mut self, start: usize, end: usize) {
        let line = &self.text[start..end];
        self.ends.clear();
        delimiters(line, self.delimiter, &mut self.ends);
        self.ends.push(line.len());
        self.record = Record::Line(start, end);
    }

    /// Reads the record starting at `start`, which holds a quote, into
    /// `scratch`; returns the line breaks its fields hold.
    fn read_quoted(&mut self, start: usize) -> usize {
        use csv_core::ReadRecordResult::{End, InputEmpty, OutputEndsFull, OutputFull};
        let mut input = &self.text[start..];
        let (mut written, mut ended) = (0, 0);
        loop {
            let at_end = input.is_empty();
            let (fields, ends) = (&mut self.scratch.0, &mut self.scratch.1);
            let (result, read, wrote, ends_written) =
                self.quoted
                    .read_record(input, &mut fields[written..], &mut ends[ended..]);
            input = &input[read..];
            self.pos += read;
            (written, ended) = (written + wrote, ended + ends_written);
            match result {
                OutputFull => fields.resize(fields.len() * 2, 0),
                OutputEndsFull => ends.resize(ends.len() * 2, 0),
                // The end of the text: an empty input tells the reader so.
                InputEmpty if !at_end => {}
                InputEmpty | csv_core::ReadRecordResult::Record | End => break,
            }
        }
        let spanned = line_breaks(&self.scratch.0[..written]);
        self.record = Record::Quoted(written, ended, spanned);
        spanned
    }

    /// Refuses a record no spreadsheet program would write: wider than a
    /// sheet, or with a quoted field that swallows many lines (a quote left
    /// open takes every line after it into one field). `spanned` is the
    /// line breaks its fields hold, `widest` the most one of them holds: a
    /// form's export can hold many answers of many lines each.
    fn check_record(
        &mut self,
        start: usize,
        line: usize,
        spanned: usize,
        widest: usize,
    ) -> Result<()> {
        let width = match self.record {
            Record::Line(..) => self.ends.len(),
            Record::Quoted(_, ended, _) => ended,
        };
        let line = line + 1;
        let at_end = self.pos >= self.text.len();
        let unclosed = spanned > 0
            && at_end
            && memchr::memchr_iter(b'"', &self.text[start..]).count() % 2 == 1;
        let refusal = if width > MAX_COLUMNS as usize {
            Some(Error::TooManyFields {
                line,
                fields: width,
            })
        } else if at_end && self.limit.is_some() {
            // A quote left open in the last lines takes them to the end of the block.
            Some(Error::RecordTooLong {
                line,
                mib: MARGIN >> 20,
            })
        } else if widest > MAX_LINES_IN_A_FIELD || unclosed {
            Some(Error::UnclosedQuote {
                line,
                lines: spanned + 1,
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.done = true;
            return Err(refusal);
        }
        Ok(())
    }

    /// The line (0-based) of a record starting at `byte`. Line numbers come
    /// from byte offsets, records in order: the count goes on from the
    /// previous one.
    fn line_of(&mut self, byte: usize) -> usize {
        let bytes = self.text;
        let byte = byte.min(bytes.len()).max(self.scanned);
        self.line_breaks += line_breaks(&bytes[self.scanned..byte]);
        self.scanned = byte;
        self.line_breaks
    }

    /// Lines in the whole text: a final line break does not start a line of its own.
    fn total_lines(&mut self) -> usize {
        let end = self.text.len();
        let breaks = self.line_of(end);
        breaks + usize::from(!self.text.is_empty() && !self.text.ends_with(b"\n"))
    }
}

/// Line breaks in `bytes`: the blank lines before a record, or a quoted
/// record's fields and bytes. For such short slices memchr's call
/// cost 4 % of a national run, and a plain filter and count is compiled
/// into 64-bit lanes four bytes at a time (perf: most of `read_ahead`):
/// sixteen bytes at a time into one byte each, then added up.
#[inline]
/// The most line breaks one field holds, the fields' bytes ending at `ends`.
fn widest_field(fields: &[u8], ends: &[usize]) -> usize {
    let mut start = 0;
    let mut widest = 0;
    for &end in ends {
        widest = widest.max(line_breaks(&fields[start..end]));
        start = end;
    }
    widest
}

fn line_breaks(bytes: &[u8]) -> usize {
    if bytes.len() > 256 {
        return memchr::memchr_iter(b'\n', bytes).count();
    }
    let mut chunks = bytes.chunks_exact(16);
    let mut count = 0;
    for chunk in &mut chunks {
        let in_chunk: u8 = chunk.iter().map(|&b| u8::from(b == b'\n')).sum();
        count += usize::from(in_chunk);
    }
    count + chunks.remainder().iter().filter(|&&b| b == b'\n').count()
}

/// Old Mac exports end lines with a lone CR: such CRs become line feeds, so
/// that every line is counted where a spreadsheet program shows it (a byte
/// for a byte: in these encodings a CR byte is a CR).
fn with_line_feeds(bytes: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    let lone = |b: &[u8], i: usize| b.get(i + 1) != Some(&b'\n');
    if !memchr::memchr_iter(b'\r', &bytes).any(|i| lone(&bytes, i)) {
        return bytes;
    }
    let lone_crs: Vec<usize> = memchr::memchr_iter(b'\r', &bytes)
        .filter(|&i| lone(&bytes, i))
        .collect();
    let mut fixed = bytes.into_owned();
    for i in lone_crs {
        fixed[i] = b'\n';
    }
    Cow::Owned(fixed)
}

/// The candidate that splits the most records into the same number of
/// fields. Records, not lines: a quoted note over several lines is one
/// field, whatever commas it holds.
fn sniff_delimiter(text: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b';', b',', b'\t', b'|'];
    let records = records_outside_quotes(text, 50);
    let mut best = (0usize, b';');
    for &d in &CANDIDATES {
        let mut counts: Vec<usize> = records
            .iter()
            .map(|l| count_outside_quotes(l, d))
            .filter(|&n| n > 0)
            .collect();
        counts.sort_unstable();
        // The most frequent field count, weighted by how many fields it gives.
        let mut score = 0;
        for group in counts.chunk_by(|a, b| a == b) {
            score = score.max(group.len() * group[0]);
        }
        if score > best.0 {
            best = (score, d);
        }
    }
    best.1
}

/// The first `most` non-blank records of `text`: lines, except that a line
/// break inside quotes does not end one.
fn records_outside_quotes(text: &[u8], most: usize) -> Vec<&[u8]> {
    let mut records = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => {
                let record = &text[start..i];
                if !record.trim_ascii().is_empty() {
                    records.push(record);
                    if records.len() == most {
                        return records;
                    }
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if !text[start..].trim_ascii().is_empty() {
        records.push(&text[start..]);
    }
    records
}

fn count_outside_quotes(line: &[u8], d: u8) -> usize {
    let mut quoted = false;
    line.iter()
        .filter(|&&b| {
            if b == b'"' {
                quoted = !quoted;
            }
            b == d && !quoted
        })
        .count()
}

/// Pushes to `ends` where each `delimiter` is in `line`, eight bytes at a
/// time: a byte-by-byte scan was the splitter's largest cost, and memchr's
/// setup per call costs more than a field of a few bytes.
fn delimiters(line: &[u8], delimiter: u8, ends: &mut Vec<usize>) {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = u64::from_ne_bytes([delimiter; 8]);
    let (words, tail) = line.as_chunks::<8>();
    for (w, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word) ^ pattern;
        // The top bit of each byte of `x` that is zero, and no other: the
        // sum cannot carry from one byte to the next.
        let mut found = !(((x & LOW) + LOW) | x | LOW);
        while found != 0 {
            ends.push(w * 8 + found.trailing_zeros() as usize / 8);
            found &= found - 1;
        }
    }
    let base = line.len() - tail.len();
    ends.extend(
        tail.iter()
            .enumerate()
            .filter_map(|(i, &b)| (b == delimiter).then_some(base + i)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn line_breaks_are_counted_in_slices_of_any_length() {
        for len in [0, 1, 15, 16, 17, 40, 255, 256, 257, 1000] {
            let bytes: Vec<u8> = (0..len)
                .map(|i| if i % 7 == 3 { b'\n' } else { b'x' })
                .collect();
            let expected = (0..len).filter(|i| i % 7 == 3).count();
            assert_eq!(line_breaks(&bytes), expected, "{len} bytes");
        }
    }

    #[test]
    fn sniffs_semicolons_despite_notes_over_lines_full_of_commas() {
        let mut text = b"id;note;montant\n".to_vec();
        for i in 0..10 {
            text.extend_from_slice(format!("{i};\"a, b, c,\nd, e, f,\ng, h\";1,5\n").as_bytes());
        }
        assert_eq!(sniff_delimiter(&text), b';');
    }

    #[test]
    fn sniffs_semicolons_despite_decimal_commas() {
        let text = "Extraction CAF, année 2019\n\nA;B;C\n1;2,5;3\n4;5,5;6\n";
        assert_eq!(sniff_delimiter(text.as_bytes()), b';');
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
    }

    /// Every position of the delimiter, as a byte-by-byte scan finds them,
    /// in random lines of every length over bytes next to it in value
    /// (where a word-wide comparison could borrow) and upper bytes.
    #[test]
    fn delimiters_are_found_where_a_byte_scan_finds_them() {
        let mut rng = crate::TestRng::new(8);
        for delimiter in [b';', b',', b'\t', b'|'] {
            let near = [
                delimiter - 1,
                delimiter,
                delimiter + 1,
                delimiter ^ 0x80,
                0x80,
                0xFF,
                b'a',
            ];
            for len in 0..70 {
                let line: Vec<u8> = (0..len).map(|_| near[rng.below(near.len())]).collect();
                let mut found = vec![];
                delimiters(&line, delimiter, &mut found);
                let expected: Vec<usize> = (0..len).filter(|&i| line[i] == delimiter).collect();
                assert_eq!(found, expected, "{line:?}");
            }
        }
    }
}
