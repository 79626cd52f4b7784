//! Measures our CSV reader against csv-core and simd-csv, and encoding_rs's
//! Windows-1252 decoder against our table's way of decoding (issue 37).
//! Each variant prints the records and fields it read, the bytes of UTF-8
//! they gave, and the threads it used, so that two runs can be checked to
//! have done the same work before they are timed against each other
//! (whole-process, e.g. `/usr/bin/time -v`):
//!
//! ```text
//! csv_compare ours   FILE ENC          read_batches (rayon pool, RAYON_NUM_THREADS)
//! csv_compare whole  FILE ENC          csv::read, the whole file in one grid (one thread)
//! csv_compare core   FILE ENC THREADS  csv-core
//! csv_compare simd   FILE ENC THREADS  simd-csv (ZeroCopyReader, fields unescaped)
//! csv_compare decode FILE rs|table     the whole file, Windows-1252 to UTF-8
//! csv_compare read   FILE              the file read into memory, nothing else
//! ```
//!
//! ENC is `utf-8` or `windows-1252` (`ours` and `whole` also take `auto`);
//! for `core` and `simd` it may be `windows-1252-table`: each field is then
//! decoded the way our reader decodes (a copy of its `UpperHalf` loop, which
//! is not reachable from outside the crate) instead of by encoding_rs.
//! The crates' variants read the file a MiB at a time (on one thread) or
//! whole into memory (on more), split it as delimited by `;`, decode each
//! field to UTF-8 (Windows-1252: ASCII copied, others by an encoding_rs
//! decoder reused from field to field; UTF-8: checked once a batch, as our
//! grid is) and append it to a batch of 65,536 records, as our
//! grids hold them, then touch each field of the batch. With THREADS > 1
//! the file is cut into that many pieces at line breaks, split in parallel
//! on rayon's pool: right only for files with no line break inside quotes,
//! which the record counts printed show.

use encoding_rs::{Decoder, WINDOWS_1252};
use rayon::prelude::*;
use std::fs::File;
use std::io::Read;
use suivi_read::csv::{self, Batching, CsvGrid, Delimiter, Encoding, Options, Sink};
use suivi_read::{Cell, Grid};

/// Records, non-empty fields, and bytes of UTF-8 read, plus a sum of first bytes
/// (each field touched).
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    records: usize,
    fields: usize,
    bytes: usize,
    touch: u64,
}

impl Count {
    fn add(mut self, other: Count) -> Count {
        self.records += other.records;
        self.fields += other.fields;
        self.bytes += other.bytes;
        self.touch = self.touch.wrapping_add(other.touch);
        self
    }

    /// A field, counted when not empty (our grid's cells are empty then).
    fn field(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.fields += 1;
        self.bytes += s.len();
        self.touch = self
            .touch
            .wrapping_add(u64::from(s.as_bytes().first().copied().unwrap_or(0)));
    }
}

const BATCH: usize = 1 << 16;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let (mode, path) = (arg(0), arg(1));
    let threads = arg(3).parse::<usize>().unwrap_or(1);
    let (count, used) = match mode {
        "ours" => ours(path, encoding(arg(2))),
        "whole" => whole(path, encoding(arg(2))),
        "core" | "simd" => {
            let decode = Decode::of(arg(2));
            let count = match threads {
                // Streamed from the file, as our reader reads it by blocks.
                1 => {
                    let file = File::open(path).expect("a readable file");
                    match mode {
                        "core" => with_csv_core(file, decode),
                        _ => with_simd_csv(file, decode),
                    }
                }
                n => {
                    let bytes = std::fs::read(path).expect("a readable file");
                    pieces(&bytes, n)
                        .par_iter()
                        .map(|&piece| match mode {
                            "core" => with_csv_core(piece, decode),
                            _ => with_simd_csv(piece, decode),
                        })
                        .reduce(Count::default, Count::add)
                }
            };
            let used = match threads {
                1 => 1,
                n => n.min(rayon::current_num_threads()),
            };
            (count, used)
        }
        "decode" => (decode_whole(path, arg(2)), 1),
        // What reading the file into memory costs the crates' variants.
        "read" => {
            let bytes = std::fs::read(path).expect("a readable file");
            let count = Count {
                bytes: bytes.len(),
                touch: bytes.iter().step_by(4096).map(|&b| u64::from(b)).sum(),
                ..Count::default()
            };
            (count, 1)
        }
        _ => panic!("mode: ours, whole, core, simd, decode or read"),
    };
    println!(
        "{mode} {}: {} records, {} fields, {} bytes of UTF-8, touch {}, {used} thread(s)",
        arg(2),
        count.records,
        count.fields,
        count.bytes,
        count.touch
    );
}

fn encoding(name: &str) -> Encoding {
    Encoding::from_name(name).expect("auto, utf-8 or windows-1252")
}

fn options(encoding: Encoding) -> Options {
    Options {
        encoding,
        delimiter: Delimiter::Byte(b';'),
    }
}

/// Every field of a grid, touched.
fn touch(grid: &CsvGrid) -> Count {
    let mut count = Count {
        records: grid.records(),
        ..Count::default()
    };
    for row in grid.first_line()..grid.height() {
        for col in 0..grid.width() {
            if let Cell::Text(s) = grid.cell(row, col) {
                count.field(s);
            }
        }
    }
    count
}

struct Touch;

impl Sink for Touch {
    type Part = Count;
    type Error = ();

    fn first(&mut self, grid: &CsvGrid) -> Result<Count, ()> {
        self.batch(grid)
    }

    fn batch(&self, grid: &CsvGrid) -> Result<Count, ()> {
        Ok(touch(grid))
    }
}

/// Our reader by blocks, batches handed in parallel, with the batching the
/// pipeline gives a source whose header is searched for (50 lines first).
fn ours(path: &str, encoding: Encoding) -> (Count, usize) {
    let file = File::open(path).expect("a readable file");
    let batching = Batching::new(50);
    let read = csv::read_batches(file, options(encoding), &batching, false, &mut Touch)
        .unwrap_or_else(|e| panic!("refused: {e:?}"));
    eprintln!("read as {}", read.encoding);
    let count = read.parts.into_iter().fold(Count::default(), Count::add);
    (count, rayon::current_num_threads())
}

/// Our whole-file read: one grid, one thread.
fn whole(path: &str, encoding: Encoding) -> (Count, usize) {
    let bytes = std::fs::read(path).expect("a readable file");
    let (grid, used) = csv::read(&bytes, options(encoding)).expect("a readable CSV file");
    eprintln!("read as {used}");
    (touch(&grid), 1)
}

/// `n` pieces of `bytes`, each ending after a line feed (the last at the end).
fn pieces(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..n {
        let mut end = (bytes.len() * i / n).max(start);
        match memchr::memchr(b'\n', &bytes[end..]) {
            Some(at) => end += at + 1,
            None => end = bytes.len(),
        }
        out.push(&bytes[start..end]);
        start = end;
    }
    out.push(&bytes[start..]);
    out
}

/// How the crates' fields become UTF-8.
#[derive(Clone, Copy)]
enum Decode {
    Utf8,
    /// By an encoding_rs decoder.
    Windows1252,
    /// By a copy of our reader's table.
    Table,
}

impl Decode {
    fn of(name: &str) -> Self {
        match name {
            "utf-8" => Decode::Utf8,
            "windows-1252" => Decode::Windows1252,
            "windows-1252-table" => Decode::Table,
            _ => panic!("utf-8, windows-1252 or windows-1252-table"),
        }
    }
}

/// A batch of records decoded to UTF-8 end to end, as our grids hold them.
struct Batch {
    decode: Decode,
    decoder: Decoder,
    table: UpperHalf,
    /// UTF-8 once decoded (checked when the batch is full when `Utf8`).
    text: Vec<u8>,
    field_ends: Vec<usize>,
    record_ends: Vec<usize>,
    count: Count,
}

impl Batch {
    fn new(decode: Decode) -> Self {
        Batch {
            decode,
            decoder: WINDOWS_1252.new_decoder_without_bom_handling(),
            table: UpperHalf::of(WINDOWS_1252),
            text: Vec::new(),
            field_ends: Vec::new(),
            record_ends: Vec::new(),
            count: Count::default(),
        }
    }

    fn field(&mut self, bytes: &[u8]) {
        match self.decode {
            Decode::Utf8 => self.text.extend_from_slice(bytes),
            // ASCII copied as it is, as our reader copies an ASCII record.
            Decode::Windows1252 if bytes.is_ascii() => self.text.extend_from_slice(bytes),
            Decode::Windows1252 => {
                let need = self
                    .decoder
                    .max_utf8_buffer_length_without_replacement(bytes.len())
                    .expect("a field shorter than memory");
                // Not `decode_to_string_without_replacement` into the
                // batch: it touches every page of the string's spare room
                // at each call (200 s instead of 2 on a national file).
                let start = self.text.len();
                self.text.resize(start + need, 0);
                let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                    bytes,
                    &mut self.text[start..],
                    false,
                );
                debug_assert!(read == bytes.len());
                debug_assert!(matches!(result, encoding_rs::DecoderResult::InputEmpty));
                self.text.truncate(start + written);
            }
            Decode::Table => self.table.decode(bytes, &mut self.text),
        }
        self.field_ends.push(self.text.len());
    }

    fn end_record(&mut self) {
        self.record_ends.push(self.field_ends.len());
        if self.record_ends.len() == BATCH {
            self.flush();
        }
    }

    /// Checks the batch is UTF-8 and touches its fields.
    fn flush(&mut self) {
        let text = std::str::from_utf8(&self.text).expect("UTF-8");
        let mut count = Count {
            records: self.record_ends.len(),
            ..Count::default()
        };
        let mut start = 0;
        for &end in &self.field_ends {
            count.field(&text[start..end]);
            start = end;
        }
        self.count = self.count.add(count);
        self.text.clear();
        self.field_ends.clear();
        self.record_ends.clear();
    }

    fn finish(mut self) -> Count {
        self.flush();
        self.count
    }
}

/// Bytes read at a time by the crates' variants.
const BUFFER: usize = 1 << 20;

/// csv-core's state machine over `source`, `;`-delimited.
fn with_csv_core<R: Read>(mut source: R, decode: Decode) -> Count {
    let mut reader = csv_core::ReaderBuilder::new().delimiter(b';').build();
    let mut batch = Batch::new(decode);
    let mut buffer = vec![0u8; BUFFER];
    let (mut low, mut high) = (0, 0);
    let mut output = vec![0u8; 1 << 16];
    let mut ends = vec![0usize; 256];
    let (mut out_len, mut n_ends) = (0, 0);
    loop {
        if low == high {
            // Empty at the end of the file: csv-core's end of input.
            high = source.read(&mut buffer).expect("a readable file");
            low = 0;
        }
        let (result, read, written, n) = reader.read_record(
            &buffer[low..high],
            &mut output[out_len..],
            &mut ends[n_ends..],
        );
        low += read;
        out_len += written;
        n_ends += n;
        match result {
            csv_core::ReadRecordResult::InputEmpty => {}
            csv_core::ReadRecordResult::OutputFull => output.resize(output.len() * 2, 0),
            csv_core::ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            csv_core::ReadRecordResult::Record => {
                let mut start = 0;
                for &end in &ends[..n_ends] {
                    batch.field(&output[start..end]);
                    start = end;
                }
                batch.end_record();
                (out_len, n_ends) = (0, 0);
            }
            csv_core::ReadRecordResult::End => break,
        }
    }
    batch.finish()
}

/// simd-csv's zero-copy reader over `source`, `;`-delimited, each field
/// unquoted and unescaped.
fn with_simd_csv<R: Read>(source: R, decode: Decode) -> Count {
    let mut reader = simd_csv::ZeroCopyReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(BUFFER)
        .from_reader(source);
    let mut batch = Batch::new(decode);
    while let Some(record) = reader.read_byte_record().expect("a CSV record") {
        for field in record.unescaped_iter() {
            batch.field(&field);
        }
        batch.end_record();
    }
    batch.finish()
}

/// The whole file decoded from Windows-1252 to UTF-8, by encoding_rs or by
/// our table's loop.
fn decode_whole(path: &str, how: &str) -> Count {
    let bytes = std::fs::read(path).expect("a readable file");
    // The same room for both, a little more than the bytes (an accented
    // character takes two bytes in UTF-8, a byte in Windows-1252): the
    // decoded copy's fresh memory costs as much as decoding.
    let room = bytes.len() + bytes.len() / 16;
    let text = match how {
        "rs" => {
            let mut text = String::with_capacity(room);
            let mut decoder = WINDOWS_1252.new_decoder_without_bom_handling();
            let mut read = 0;
            loop {
                let (result, n) =
                    decoder.decode_to_string_without_replacement(&bytes[read..], &mut text, true);
                read += n;
                match result {
                    encoding_rs::DecoderResult::InputEmpty => break,
                    encoding_rs::DecoderResult::OutputFull => text.reserve(room / 8),
                    encoding_rs::DecoderResult::Malformed(..) => panic!("Windows-1252 maps it"),
                }
            }
            text
        }
        "table" => {
            let mut text = Vec::with_capacity(room);
            UpperHalf::of(WINDOWS_1252).decode(&bytes, &mut text);
            String::from_utf8(text).expect("UTF-8")
        }
        _ => panic!("rs or table"),
    };
    let mut count = Count {
        records: 1,
        ..Count::default()
    };
    count.field(&text);
    count.touch = text.bytes().map(u64::from).fold(0, u64::wrapping_add);
    count
}

/// A copy of `suivi_read::csv::grid::UpperHalf` and of the loop
/// `CsvGrid::push_record` decodes a record with (the crate keeps them
/// private): the UTF-8 of each upper byte's character, ASCII copied run by
/// run between them.
struct UpperHalf([([u8; 3], u8); 128]);

impl UpperHalf {
    fn of(encoding: &'static encoding_rs::Encoding) -> Self {
        let mut table = [([0u8; 3], 0u8); 128];
        for (byte, entry) in (0x80..=0xFF_u8).zip(&mut table) {
            let byte = [byte];
            let (text, _) = encoding.decode_without_bom_handling(&byte);
            let utf8 = text.as_bytes();
            let n = utf8.len().min(3);
            entry.0[..n].copy_from_slice(&utf8[..n]);
            entry.1 = n as u8;
        }
        UpperHalf(table)
    }

    fn char(&self, byte: u8) -> &[u8] {
        let (utf8, n) = &self.0[usize::from(byte - 0x80)];
        &utf8[..usize::from(*n)]
    }

    /// `bytes` appended to `out` in UTF-8.
    fn decode(&self, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_ascii() {
            return out.extend_from_slice(bytes);
        }
        let mut copied = 0;
        while let Some(i) = first_upper(&bytes[copied..]) {
            let at = copied + i;
            out.extend_from_slice(&bytes[copied..at]);
            out.extend_from_slice(self.char(bytes[at]));
            copied = at + 1;
        }
        out.extend_from_slice(&bytes[copied..]);
    }
}

/// As `suivi_read::csv::grid::first_upper`.
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
