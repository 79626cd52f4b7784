//! CSV files: encoding detection, delimiter sniffing, and the split of a
//! file into records. Files in UTF-8 or a single-byte encoding (Windows-1252
//! above all) are split as bytes and decoded field by field into each batch:
//! a copy of the whole file decoded would be as large as the file, and fresh
//! memory is what reading costs most (perf: a decoded copy of the messy CAF
//! file took a sixth of a run).

use crate::error::{Error, Result};
use crate::ingest::grid::{CsvGrid, Decoding, MAX_COLUMNS};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use std::borrow::Cow;
use std::path::Path;

/// More line breaks than this in one field is not a note written over a
/// few lines: it is a quote left open.
const MAX_LINES_IN_A_FIELD: usize = 20;

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
        Text {
            bytes: with_line_feeds(Cow::Borrowed(bytes)),
            encoding,
        }
    }

    /// Its length in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The delimiter: the pipeline's, or the one its first lines use.
    pub fn delimiter(&self, declared: &str) -> u8 {
        match declared {
            "auto" => sniff_delimiter(&self.bytes),
            d => d.as_bytes()[0],
        }
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

/// Decodes and splits a whole CSV file into one grid. `encoding` and
/// `delimiter` are the pipeline's options (`auto` or a value). Returns the
/// grid and the encoding used.
pub fn read(
    path: &Path,
    bytes: &[u8],
    encoding: &str,
    delimiter: &str,
) -> Result<(CsvGrid, &'static str)> {
    let (text, used) = decode(path, bytes, encoding)?;
    let delimiter = text.delimiter(delimiter);
    let mut splitter = Splitter::new(path, &text, delimiter, Span::default())?;
    let grid = splitter.next_grid(usize::MAX, None)?;
    if splitter.not_utf8() {
        // Surveyed whole above: never, unless the survey is wrong.
        return Err(not_valid(path, UTF_8, 1));
    }
    Ok((grid.unwrap_or_else(|| CsvGrid::new(0)), used))
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
    path: &'t Path,
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
    pub fn new(path: &'t Path, text: &'t Text<'_>, delimiter: u8, span: Span) -> Result<Self> {
        let mut splitter = Splitter {
            path,
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

    /// The grid, sealed; `None`, and no more grids, if it is not valid UTF-8.
    fn sealed(&mut self, mut grid: CsvGrid) -> Option<CsvGrid> {
        if grid.seal() {
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
        while let Some(line) = self.ahead {
            if grid.records() == records {
                grid.extend_to(line);
                self.next_line = line;
                return Ok(self.sealed(grid));
            }
            match self.record {
                Record::Line(start, end) => {
                    grid.push(line, &self.text[start..end], &self.ends, &self.decoding);
                }
                Record::Quoted(written, ended, spanned) => grid.push_fields(
                    line,
                    spanned,
                    &self.scratch.0[..written],
                    &self.scratch.1[..ended],
                    &self.decoding,
                ),
            }
            self.read_ahead()?;
        }
        let end = match self.cut {
            Some((_, line)) => line,
            None => self.total_lines(),
        };
        grid.extend_to(end);
        self.done = true;
        Ok(self.sealed(grid))
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
            Some(_) => self.read_quoted(start),
        };
        self.check_record(start, line, spanned)?;
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
    /// line breaks its fields hold.
    fn check_record(&mut self, start: usize, line: usize, spanned: usize) -> Result<()> {
        let fail = |message: String| Err(Error::input(self.path, None, message));
        let width = match self.record {
            Record::Line(..) => self.ends.len(),
            Record::Quoted(_, ended, _) => ended,
        };
        if width > MAX_COLUMNS as usize {
            self.done = true;
            return fail(format!(
                "line {} has {} fields, more than the {MAX_COLUMNS} columns a spreadsheet holds",
                line + 1,
                width
            ));
        }
        let at_end = self.pos >= self.text.len();
        // A quote left open in the last lines takes them to the end of the file.
        if at_end && self.limit.is_some() {
            self.done = true;
            return fail(format!(
                "line {}: a record starts on this line and runs over more than {} MiB: a \
                 closing quote (\") is probably missing",
                line + 1,
                super::blocks::MARGIN >> 20
            ));
        }
        let unclosed = spanned > 0
            && at_end
            && memchr::memchr_iter(b'"', &self.text[start..]).count() % 2 == 1;
        if spanned > MAX_LINES_IN_A_FIELD || unclosed {
            self.done = true;
            return fail(format!(
                "line {}: a quoted field starts on this line and runs over {} lines: a closing \
                 quote (\") is probably missing",
                line + 1,
                spanned + 1
            ));
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

/// A whole CSV file's text and the name of the encoding it is in.
pub fn decode<'b>(
    path: &Path,
    bytes: &'b [u8],
    declared: &str,
) -> Result<(Text<'b>, &'static str)> {
    let mut blocks = super::blocks::Blocks::new(bytes, super::blocks::BLOCK, 0, false);
    let survey = super::blocks::survey(path, &mut blocks, declared, false)?;
    whole(path, bytes, &survey)
}

/// A whole CSV file's text, in the encoding its survey found (UTF-8 is
/// checked valid there).
pub fn whole<'b>(
    path: &Path,
    bytes: &'b [u8],
    survey: &super::blocks::Survey,
) -> Result<(Text<'b>, &'static str)> {
    let (encoding, body) = (survey.encoding, &bytes[survey.bom.min(bytes.len())..]);
    let invalid = |line: usize| not_valid(path, encoding, line);
    let text = if encoding == UTF_8 || encoding.is_single_byte() {
        // Windows-1252 maps every byte: only the others can fail.
        let check = encoding != UTF_8 && encoding != WINDOWS_1252;
        if let Some(at) = first_undecodable(body, encoding).filter(|_| check) {
            return Err(invalid(line_at(body, at)));
        }
        Text {
            bytes: with_line_feeds(Cow::Borrowed(body)),
            encoding,
        }
    } else {
        // UTF-16 and the multi-byte Asian encodings: their bytes are not
        // split as ASCII, the file is decoded whole.
        let (decoded, had_errors) = encoding.decode_without_bom_handling(body);
        if had_errors {
            return Err(invalid(line_at(body, body.len())));
        }
        Text {
            bytes: with_line_feeds(Cow::Owned(decoded.into_owned().into_bytes())),
            encoding: UTF_8,
        }
    };
    Ok((text, encoding.name()))
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

/// Where the first byte that a single-byte encoding does not map is, if
/// any, decoded a block at a time (never the whole file at once).
fn first_undecodable(body: &[u8], encoding: &'static Encoding) -> Option<usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut buffer = String::with_capacity(1 << 16);
    let mut read = 0;
    loop {
        buffer.clear();
        let (result, consumed) =
            decoder.decode_to_string_without_replacement(&body[read..], &mut buffer, true);
        read += consumed;
        match result {
            encoding_rs::DecoderResult::InputEmpty => return None,
            encoding_rs::DecoderResult::OutputFull => {}
            encoding_rs::DecoderResult::Malformed(..) => return Some(read.saturating_sub(1)),
        }
    }
}

/// The line (1-based) of a byte.
pub fn line_at(body: &[u8], byte: usize) -> usize {
    memchr::memchr_iter(b'\n', &body[..byte.min(body.len())]).count() + 1
}

/// Bytes of non-ASCII lines the encoding detector is given: a few hundred
/// accented lines, plenty to tell Windows-1252 from the other encodings
/// (unit tests below). Feeding it a whole large file took most of the time
/// of reading it, and 64 KiB still 3 % of reading the messy Loire CAF file.
const DETECTION_SAMPLE: usize = 1 << 14;

/// An encoding guessed from at most [`DETECTION_SAMPLE`] bytes of the
/// non-ASCII lines of the text it is fed, in order.
pub struct EncodingGuess {
    detector: chardetng::EncodingDetector,
    fed: usize,
}

impl Default for EncodingGuess {
    fn default() -> Self {
        EncodingGuess {
            detector: chardetng::EncodingDetector::new(),
            fed: 0,
        }
    }
}

impl EncodingGuess {
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.fed >= DETECTION_SAMPLE || bytes.is_ascii() {
            return;
        }
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
        for end in ends {
            let line = &bytes[start..(end + 1).min(bytes.len())];
            start = end + 1;
            if !line.is_ascii() {
                self.detector.feed(line, false);
                self.fed += line.len();
                if self.fed >= DETECTION_SAMPLE {
                    break;
                }
            }
        }
    }

    /// Whether the guess has read all it ever reads: more text cannot change it.
    pub fn saturated(&self) -> bool {
        self.fed >= DETECTION_SAMPLE
    }

    pub fn finish(mut self) -> &'static Encoding {
        self.detector.feed(b"", true);
        self.detector.guess(Some(b"fr"), true)
    }
}

/// What a file not in its encoding is told.
pub fn not_valid(path: &Path, encoding: &'static Encoding, line: usize) -> Error {
    Error::input(
        path,
        None,
        format!(
            "not valid {} text (first bad byte on line {line}); set `encoding` in the pipeline (\"utf-8\" or \"windows-1252\")",
            encoding.name()
        ),
    )
}

/// The candidate that splits the most lines into the same number of fields.
fn sniff_delimiter(text: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b';', b',', b'\t', b'|'];
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .take(50)
        .collect();
    let mut best = (0usize, b';');
    for &d in &CANDIDATES {
        let mut counts: Vec<usize> = lines
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

    fn guess(bytes: &[u8]) -> &'static Encoding {
        let mut guess = EncodingGuess::default();
        guess.feed(bytes);
        guess.finish()
    }

    fn decoded(text: &Text) -> String {
        text.encoding
            .decode_without_bom_handling(&text.bytes)
            .0
            .into_owned()
    }

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
    fn sniffs_semicolons_despite_decimal_commas() {
        let text = "Extraction CAF, année 2019\n\nA;B;C\n1;2,5;3\n4;5,5;6\n";
        assert_eq!(sniff_delimiter(text.as_bytes()), b';');
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
    }

    #[test]
    fn rows_are_line_numbers_with_crlf_and_blank_lines() {
        use crate::ingest::grid::Grid;
        let text = "Title\r\n\r\nA;B\r\n1;2\r\n\r\n3;4\r\n";
        let (grid, _) = read(Path::new("x.csv"), text.as_bytes(), "auto", "auto").unwrap();
        let first: Vec<String> = (0..grid.height())
            .map(|r| grid.cell(r, 0).display())
            .collect();
        assert_eq!(first, ["Title", "", "A", "1", "", "3"]);
    }

    /// Records with quoted fields over several lines, doubled quotes and
    /// empty quoted fields, among plain ones: each is placed on the line it
    /// starts on, whichever way its line breaks were counted.
    #[test]
    fn rows_are_line_numbers_around_quoted_fields_over_several_lines() {
        use crate::ingest::grid::Grid;
        let text = "A;B\n1;\"x\ny\"\n\"q\"\"r\";2\n\n3;\"\"\n\"m\nn\no\";4\r\n\"k\n\";7\n5;6\n";
        let (grid, _) = read(Path::new("x.csv"), text.as_bytes(), "auto", ";").unwrap();
        let first: Vec<String> = (0..grid.height())
            .map(|r| grid.cell(r, 0).display())
            .collect();
        let expected = [
            "A", "1", "", "q\"r", "", "3", "m\nn\no", "", "", "k\n", "", "5",
        ];
        assert_eq!(first, expected);
        assert_eq!(grid.cell(11, 1).display(), "6");
        assert_eq!(grid.cell(9, 1).display(), "7");
    }

    /// Every position of the delimiter, as a byte-by-byte scan finds them,
    /// in random lines of every length over bytes next to it in value
    /// (where a word-wide comparison could borrow) and upper bytes.
    #[test]
    fn delimiters_are_found_where_a_byte_scan_finds_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
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
                let line: Vec<u8> = (0..len)
                    .map(|_| near[rng.random_range(0..near.len())])
                    .collect();
                let mut found = vec![];
                delimiters(&line, delimiter, &mut found);
                let expected: Vec<usize> = (0..len).filter(|&i| line[i] == delimiter).collect();
                assert_eq!(found, expected, "{line:?}");
            }
        }
    }

    /// Random texts of delimiters, quotes, line breaks (LF, CRLF), blank
    /// lines and accented letters, in UTF-8 and Windows-1252, split as the
    /// csv crate splits them in UTF-8: the same records, each on the line it
    /// starts on.
    #[test]
    fn records_are_those_the_csv_crate_reads() {
        use crate::ingest::grid::Grid;
        use rand::{Rng, SeedableRng};
        let pieces = [
            "a", "bc", "é", ";", ";", "\"", "\"\"", "\n", "\r\n", " ", "1",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        let mut compared = 0;
        for case in 0..3000 {
            let text: String = (0..rng.random_range(1..40))
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            let mut expected = Vec::new();
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(b';')
                .from_reader(text.as_bytes());
            let mut record = csv::StringRecord::new();
            // Every other text in Windows-1252, decoded as it is split.
            let (bytes, encoding) = match case % 2 {
                0 => (WINDOWS_1252.encode(&text).0, "windows-1252"),
                _ => (Cow::Borrowed(text.as_bytes()), "utf-8"),
            };
            let grid = match read(Path::new("x.csv"), &bytes, encoding, ";") {
                Ok((grid, _)) => grid,
                // Refused: a quote left open takes the last lines into its field.
                Err(e) => {
                    assert!(e.to_string().contains("closing quote"), "case {case}: {e}");
                    let mut last = None;
                    while reader.read_record(&mut record).unwrap() {
                        last = Some(record.clone());
                    }
                    let last = last.expect("a record");
                    assert!(
                        last.iter().any(|f| f.contains('\n')),
                        "case {case}: {text:?}"
                    );
                    continue;
                }
            };
            while reader.read_record(&mut record).unwrap() {
                let mut start = record.position().unwrap().byte() as usize;
                while matches!(text.as_bytes().get(start), Some(b'\r' | b'\n')) {
                    start += 1;
                }
                let line = text.as_bytes()[..start]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                let fields: Vec<String> = record.iter().map(str::to_owned).collect();
                expected.push((line, fields));
            }
            let got: Vec<(usize, Vec<String>)> = expected
                .iter()
                .map(|(line, fields)| {
                    let cells = (0..fields.len()).map(|c| grid.cell(*line, c).display());
                    (*line, cells.collect())
                })
                .collect();
            assert_eq!(got, expected, "case {case}: {text:?}");
            let filled = (0..grid.height())
                .filter(|&r| !grid.row_is_blank(r))
                .count();
            let filled_expected = expected
                .iter()
                .filter(|(_, f)| f.iter().any(|f| !crate::text::trim(f).is_empty()))
                .count();
            assert_eq!(filled, filled_expected, "case {case}: {text:?}");
            compared += 1;
        }
        assert!(compared > 2000, "{compared} texts compared");
    }

    /// Bytes that look like a byte order mark, at the start of a quoted
    /// record past the first line, are data, as the csv crate reads them.
    #[test]
    fn a_byte_order_mark_past_the_start_is_data() {
        use crate::ingest::grid::Grid;
        let text = "A;B\n\u{feff}\"x\";1\n";
        let (grid, _) = read(Path::new("x.csv"), text.as_bytes(), "utf-8", ";").unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(b';')
            .from_reader(text.as_bytes());
        let second = reader.records().nth(1).unwrap().unwrap();
        assert_eq!(&second[0], "\u{feff}\"x\"");
        assert_eq!(grid.cell(1, 0).display(), &second[0]);
    }

    #[test]
    fn windows_1252_is_detected() {
        let (bytes, _, _) = WINDOWS_1252.encode("Commune;Libellé\n42218;Saint-Étienne\n");
        let (text, used) = decode(Path::new("x.csv"), &bytes, "auto").unwrap();
        assert_eq!(used, "windows-1252");
        assert!(decoded(&text).contains("Saint-Étienne"));
    }

    /// A sample's worth of the Loire's commune names, the accented column
    /// of a messy CAF export, is enough to tell Windows-1252.
    #[test]
    fn the_sample_tells_windows_1252_from_commune_names() {
        let reference = crate::repository().join("inputs/referentiel/territoires_loire.csv");
        let names = std::fs::read_to_string(reference).unwrap();
        let accented: Vec<&str> = names.lines().filter(|l| !l.is_ascii()).collect();
        let mut guess = EncodingGuess::default();
        let mut fed = 0;
        for line in accented.iter().cycle() {
            let (bytes, _, _) = WINDOWS_1252.encode(line);
            guess.feed(&[&bytes[..], b"\n"].concat());
            fed += bytes.len() + 1;
            if guess.saturated() {
                break;
            }
        }
        assert!(fed <= DETECTION_SAMPLE + 100, "{fed}");
        assert_eq!(guess.finish(), WINDOWS_1252);
    }

    /// Accented lines far apart in a large file: the guess looks at them only.
    #[test]
    fn the_encoding_is_guessed_from_the_accented_lines_of_a_large_file() {
        let mut text = String::from("Commune;Libellé\n");
        for i in 0..200_000 {
            text.push_str(&format!(
                "{:05};{}\n",
                i,
                if i % 1000 == 7 {
                    "Saint-Étienne"
                } else {
                    "Roanne"
                }
            ));
        }
        let (bytes, _, _) = WINDOWS_1252.encode(&text);
        assert_eq!(guess(&bytes), WINDOWS_1252);
        let (read, used) = decode(Path::new("x.csv"), &bytes, "auto").unwrap();
        assert_eq!(
            (used, decoded(&read).as_str()),
            ("windows-1252", text.as_str())
        );
        let (bytes, _, _) = encoding_rs::ISO_8859_7.encode("Όνομα;Πόλη\nΑθήνα;Ελλάδα\n");
        assert_ne!(guess(&bytes), WINDOWS_1252);
    }

    /// Split as bytes, decoded per field: accented fields come out whole in
    /// Windows-1252 and UTF-8; UTF-16 is decoded first.
    #[test]
    fn fields_are_decoded_from_the_files_encoding() {
        use crate::ingest::grid::Grid;
        let text = "Commune;Libellé\r\n42218;Saint-Étienne\r\n42187;Roanne\r\n";
        let (cp1252, _, _) = WINDOWS_1252.encode(text);
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        for (bytes, encoding) in [
            (cp1252.to_vec(), "windows-1252"),
            (text.as_bytes().to_vec(), "UTF-8"),
            (utf16, "UTF-16LE"),
        ] {
            let (grid, used) = read(Path::new("x.csv"), &bytes, "auto", "auto").unwrap();
            assert_eq!(used, encoding);
            let cells: Vec<String> = (0..3).map(|r| grid.cell(r, 1).display()).collect();
            assert_eq!(cells, ["Libellé", "Saint-Étienne", "Roanne"], "{encoding}");
        }
        // A long accented field comes out whole.
        let long = "é".repeat(300) + "x";
        let text = format!("a;b\n1;{long}\n");
        let (bytes, _, _) = WINDOWS_1252.encode(&text);
        let (grid, _) = read(Path::new("x.csv"), &bytes, "windows-1252", "auto").unwrap();
        assert_eq!(grid.cell(1, 1).display(), long);
    }

    #[test]
    fn a_byte_its_encoding_does_not_map_is_found_on_its_line() {
        // 0xAE has no character in ISO-8859-7.
        let bytes = b"a;b\n1;2\n3;\xAE\n";
        let at = first_undecodable(bytes, encoding_rs::ISO_8859_7).unwrap();
        assert_eq!(line_at(bytes, at), 3);
        assert_eq!(first_undecodable(b"a;b\n", encoding_rs::ISO_8859_7), None);
    }

    #[test]
    fn declared_utf8_with_latin1_bytes_fails() {
        let (bytes, _, _) = WINDOWS_1252.encode("a;b\nété;1\n");
        let err = decode(Path::new("x.csv"), &bytes, "utf-8").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
