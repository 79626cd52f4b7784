//! Delimited text files (`.csv`, `.txt`, `.tsv`): decoded from their
//! encoding and split into records, read from disk a block at a time
//! (`blocks`), the encoding decided once (`encoding`), each block split as
//! bytes (`split`) and decoded record by record into batches (`grid`).

mod blocks;
mod encoding;
mod grid;
mod split;

pub use grid::CsvGrid;

use crate::Grid;
use crate::error::{Error, Result};
use crate::limits;
use encoding_rs::UTF_8;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use split::{Span, Splitter, Text};
use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

/// The encoding a CSV file is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 when its bytes are, else marked by a byte order mark, else
    /// guessed from its accented lines.
    #[default]
    Auto,
    Utf8,
    Windows1252,
}

impl Encoding {
    /// From the names a pipeline writes: `auto`, `utf-8`, `windows-1252`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "auto" => Some(Encoding::Auto),
            "utf-8" => Some(Encoding::Utf8),
            "windows-1252" => Some(Encoding::Windows1252),
            _ => None,
        }
    }
}

/// The byte between a CSV file's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// The one of `;`, `,`, tab and `|` that splits most of the first lines
    /// into as many fields.
    #[default]
    Auto,
    Byte(u8),
}

impl Delimiter {
    /// From a pipeline's `delimiter`: `auto` or one ASCII character.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.as_bytes() {
            b"auto" => Some(Delimiter::Auto),
            [b'"' | b'\n' | b'\r'] => None,
            [byte] if byte.is_ascii() => Some(Delimiter::Byte(*byte)),
            _ => None,
        }
    }
}

/// How a CSV file is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub encoding: Encoding,
    pub delimiter: Delimiter,
}

/// Decodes and splits a whole CSV file into one grid. Returns the grid and
/// the name of the encoding used.
pub fn read(bytes: &[u8], options: Options) -> Result<(CsvGrid, &'static str)> {
    let (text, used) = encoding::decode(bytes, options.encoding)?;
    let delimiter = text.delimiter(options.delimiter);
    let mut splitter = Splitter::new(&text, delimiter, Span::default())?;
    let grid = splitter.next_grid(usize::MAX, None)?;
    if splitter.not_utf8() {
        // Surveyed whole above: never, unless the survey is wrong.
        return Err(Error::NotInEncoding {
            encoding: UTF_8.name(),
            line: 1,
        });
    }
    Ok((grid.unwrap_or_else(|| CsvGrid::new(0)), used))
}

/// How a CSV file is cut: records handed together (the first batch alone,
/// before the others are handed in parallel), and bytes split together.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Records of the first batch.
    pub first: usize,
    /// Records of each later batch.
    pub rest: usize,
    /// Bytes split together, and the longest record a block may end on
    /// (see [`limits::BLOCK`]).
    pub block: usize,
    pub margin: usize,
}

impl Batching {
    /// A first batch of `first` records, then batches of 65,536, over
    /// blocks of [`limits::BLOCK`] bytes.
    pub fn new(first: usize) -> Self {
        Batching {
            first,
            rest: 1 << 16,
            block: limits::BLOCK,
            margin: limits::MARGIN,
        }
    }
}

/// What takes a CSV file's batches of records as they are split.
pub trait Sink: Send + Sync {
    /// What a batch gives.
    type Part: Send;
    type Error: Send;
    /// The first batch, handed before any other. Called again, after
    /// [`Sink::restart`], when the file is read again from its start.
    fn first(&mut self, grid: &CsvGrid) -> Result<Self::Part, Self::Error>;
    /// A later batch: batches are handed in parallel.
    fn batch(&self, grid: &CsvGrid) -> Result<Self::Part, Self::Error>;
}

/// Why reading a CSV file into a sink stopped.
#[derive(Debug)]
pub enum Stop<E> {
    /// The file is refused.
    Read(Error),
    /// The sink refused a batch.
    Sink(E),
}

impl<E> From<Error> for Stop<E> {
    fn from(e: Error) -> Self {
        Stop::Read(e)
    }
}

/// A CSV file read into a sink.
pub struct Batches<P> {
    /// What the sink gave for each batch, in the file's order.
    pub parts: Vec<P>,
    /// Rows, not lines: a record over several lines is one row.
    pub rows: usize,
    /// The name of the encoding the file was read in.
    pub encoding: &'static str,
    /// Its SHA-256, when asked for.
    pub sha256: Option<String>,
}

/// Reads a CSV file from `reader` a block at a time into `sink`. Its first
/// block decides its encoding when it is the whole file, when Windows-1252
/// is declared, when the guess it gives is settled (the guess reads its
/// accented lines only, up to a sample size), or when it is valid UTF-8: the
/// rest is then read as UTF-8 and checked batch by batch. Otherwise, or
/// when a later batch is not UTF-8 after all, a first pass over the whole
/// file decides it (and its SHA-256, when `hash`) before it is read again
/// (and the sink given its first batch again), as it does when a file read
/// as UTF-8 from its first block is refused further on. A file in an
/// encoding that is neither UTF-8 nor Windows-1252 is decoded whole.
pub fn read_batches<R: Read + Seek, S: Sink>(
    mut reader: R,
    options: Options,
    batching: &Batching,
    hash: bool,
    sink: &mut S,
) -> Result<Batches<S::Part>, Stop<S::Error>> {
    let head = encoding::head(&mut reader).map_err(Error::from)?;
    let mut blocks = blocks::Blocks::new(&mut reader, batching.block, batching.margin, hash);
    let first = encoding::survey(&mut blocks, &head, options.encoding, true)?;
    let decided = first.whole || first.splittable() && (first.encoding == UTF_8 || first.settled);
    if decided {
        match read_as(blocks, options, batching, hash, &first, sink) {
            Ok(Some(read)) => return Ok(read),
            Ok(None) => {}
            // Read as UTF-8 from its first block alone, the file may not
            // be UTF-8 further on: the whole read says so before any
            // refusal of its records, and so does the read by blocks.
            Err(Stop::Read(_)) if !first.whole && first.encoding == UTF_8 => {}
            Err(stop) => return Err(stop),
        }
    }
    reader.seek(SeekFrom::Start(0)).map_err(Error::from)?;
    let mut blocks = blocks::Blocks::new(&mut reader, limits::BLOCK, 0, hash);
    let survey = encoding::survey(&mut blocks, &head, options.encoding, false)?;
    reader.seek(SeekFrom::Start(0)).map_err(Error::from)?;
    // Hashed by the survey: not twice.
    let blocks = blocks::Blocks::new(&mut reader, batching.block, batching.margin, false);
    read_as(blocks, options, batching, hash, &survey, sink)?.ok_or(Stop::Read(
        Error::NotInEncoding {
            encoding: UTF_8.name(),
            line: 1,
        },
    ))
}

/// Splits a file from its first byte into `sink`, in the encoding its
/// `survey` found, continuing from `blocks` (which may hold the first block
/// already); `None` when a batch read as UTF-8 is not.
fn read_as<R: Read + Seek, S: Sink>(
    mut blocks: blocks::Blocks<&mut R>,
    options: Options,
    batching: &Batching,
    hash: bool,
    survey: &encoding::Survey,
    sink: &mut S,
) -> Result<Option<Batches<S::Part>>, Stop<S::Error>> {
    let mut split = Splitting {
        sink,
        options,
        batching,
        parts: Vec::new(),
        started: false,
        delimiter: None,
        first_line: 0,
        height: 0,
        continued: 0,
        spare: Mutex::new(Vec::new()),
    };
    let (encoding, sha256) = if survey.splittable() {
        // The byte order mark is left out of the first block.
        let mut cut = survey.bom;
        while let Some(block) = blocks.next(cut).map_err(Error::from)? {
            let text = Text::block(block.bytes, survey.encoding);
            // Hashed beside the split: on one core, hashing a national CAF
            // file took as long as reading a tenth of it on two.
            let hash = || {
                if let Some(unhashed) = block.unhashed {
                    unhashed.hash();
                }
            };
            let ((), next) = rayon::join(hash, || split.block(&text, block.last));
            let Some(next) = next? else {
                return Ok(None);
            };
            cut = next;
        }
        let sha256 = survey.sha256.clone().or_else(|| blocks.sha256());
        (survey.encoding.name(), sha256)
    } else {
        let mut bytes = Vec::new();
        let reader = blocks.into_reader();
        reader.seek(SeekFrom::Start(0)).map_err(Error::from)?;
        reader.read_to_end(&mut bytes).map_err(Error::from)?;
        let sha256 = hash.then(|| hex::encode(Sha256::digest(&bytes)));
        let (text, encoding) = encoding::whole(&bytes, survey)?;
        if split.block(&text, true)?.is_none() {
            return Ok(None);
        }
        (encoding, sha256)
    };
    if !split.started {
        return Err(Stop::Read(Error::Empty));
    }
    Ok(Some(Batches {
        parts: split.parts,
        rows: split.height - split.continued,
        encoding,
        sha256,
    }))
}

/// What is split so far of a file, block after block.
struct Splitting<'a, S: Sink> {
    sink: &'a mut S,
    options: Options,
    batching: &'a Batching,
    parts: Vec<S::Part>,
    /// Whether the sink was given the first batch.
    started: bool,
    delimiter: Option<u8>,
    /// The line the next block starts on.
    first_line: usize,
    /// Lines so far, and of them those going on a record begun on an
    /// earlier line.
    height: usize,
    continued: usize,
    /// Grids handed go back to the splitter to be filled again.
    spare: Mutex<Vec<CsvGrid>>,
}

/// A batch handed, in the file's order, or why it stopped.
type Handing<S> = (
    usize,
    Result<Handed<<S as Sink>::Part>, Stop<<S as Sink>::Error>>,
);

/// A batch handed: the line after it, the lines inside its records after
/// their first, and what the sink gave.
struct Handed<P> {
    end: usize,
    continued: usize,
    part: P,
}

impl<S: Sink> Splitting<'_, S> {
    /// Splits a block's records (those starting before `batching.block`,
    /// unless it is the `last`) into the sink; returns the byte the next
    /// block starts at, or `None` when its text is not valid UTF-8.
    fn block(&mut self, text: &Text, last: bool) -> Result<Option<usize>, Stop<S::Error>> {
        let declared = self.options.delimiter;
        let delimiter = *self
            .delimiter
            .get_or_insert_with(|| text.delimiter(declared));
        let span = Span {
            first_line: self.first_line,
            limit: (!last).then_some(self.batching.block),
        };
        let mut splitter = Splitter::new(text, delimiter, span)?;
        let take_spare = || self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if !self.started {
            let first = splitter.next_grid(self.batching.first, take_spare())?;
            if splitter.not_utf8() {
                return Ok(None);
            }
            let first = first.unwrap_or_else(|| CsvGrid::new(self.first_line));
            self.parts
                .push(self.sink.first(&first).map_err(Stop::Sink)?);
            self.height = first.height();
            self.continued += first.continued();
            self.started = true;
            self.spare
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(first);
        }
        let sink = &*self.sink;
        let spare = &self.spare;
        let batches = std::iter::from_fn(|| {
            let recycled = spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
            splitter.next_grid(self.batching.rest, recycled).transpose()
        });
        let mut rest: Vec<Handing<S>> = batches
            .enumerate()
            .par_bridge()
            .map(|(i, grid)| {
                let handed = grid.map_err(Stop::Read).and_then(|grid| {
                    let part = sink.batch(&grid);
                    let (end, continued) = (grid.height(), grid.continued());
                    spare.lock().unwrap_or_else(|e| e.into_inner()).push(grid);
                    part.map_err(Stop::Sink).map(|part| Handed {
                        end,
                        continued,
                        part,
                    })
                });
                (i, handed)
            })
            .collect();
        rest.sort_unstable_by_key(|(i, _)| *i);
        if splitter.not_utf8() {
            return Ok(None);
        }
        for (_, handed) in rest {
            let handed = handed?;
            self.height = handed.end;
            self.continued += handed.continued;
            self.parts.push(handed.part);
        }
        Ok(Some(match splitter.cut() {
            Some((byte, line)) => {
                self.first_line = line;
                byte
            }
            None => text.size(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::WINDOWS_1252;
    use std::borrow::Cow;

    fn options(encoding: &str, delimiter: &str) -> Options {
        Options {
            encoding: Encoding::from_name(encoding).unwrap(),
            delimiter: Delimiter::from_name(delimiter).unwrap(),
        }
    }

    fn guess(bytes: &[u8]) -> &'static encoding_rs::Encoding {
        let mut guess = encoding::EncodingGuess::default();
        guess.feed(bytes);
        guess.finish()
    }

    #[test]
    fn rows_are_line_numbers_with_crlf_and_blank_lines() {
        use crate::Grid;
        let text = "Title\r\n\r\nA;B\r\n1;2\r\n\r\n3;4\r\n";
        let (grid, _) = read(text.as_bytes(), options("auto", "auto")).unwrap();
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
        use crate::Grid;
        let text = "A;B\n1;\"x\ny\"\n\"q\"\"r\";2\n\n3;\"\"\n\"m\nn\no\";4\r\n\"k\n\";7\n5;6\n";
        let (grid, _) = read(text.as_bytes(), options("auto", ";")).unwrap();
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

    /// Random texts of delimiters, quotes, line breaks (LF, CRLF), blank
    /// lines and accented letters, in UTF-8 and Windows-1252, split as the
    /// csv crate splits them in UTF-8: the same records, each on the line it
    /// starts on.
    #[test]
    fn records_are_those_the_csv_crate_reads() {
        use crate::Grid;
        let pieces = [
            "a", "bc", "é", ";", ";", "\"", "\"\"", "\n", "\r\n", " ", "1",
        ];
        let mut rng = crate::TestRng::new(16);
        let mut compared = 0;
        for case in 0..3000 {
            let text: String = (0..1 + rng.below(39))
                .map(|_| pieces[rng.below(pieces.len())])
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
            let grid = match read(&bytes, options(encoding, ";")) {
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
                .filter(|(_, f)| f.iter().any(|f| !crate::trim(f).is_empty()))
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
        use crate::Grid;
        let text = "A;B\n\u{feff}\"x\";1\n";
        let (grid, _) = read(text.as_bytes(), options("utf-8", ";")).unwrap();
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
        let (text, used) = encoding::decode(&bytes, Encoding::from_name("auto").unwrap()).unwrap();
        assert_eq!(used, "windows-1252");
        assert!(text.decoded().contains("Saint-Étienne"));
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
        let (read, used) = encoding::decode(&bytes, Encoding::from_name("auto").unwrap()).unwrap();
        assert_eq!(
            (used, read.decoded().as_str()),
            ("windows-1252", text.as_str())
        );
        let (bytes, _, _) = encoding_rs::ISO_8859_7.encode("Όνομα;Πόλη\nΑθήνα;Ελλάδα\n");
        assert_ne!(guess(&bytes), WINDOWS_1252);
    }

    /// Split as bytes, decoded per field: accented fields come out whole in
    /// Windows-1252 and UTF-8; UTF-16 is decoded first.
    #[test]
    fn fields_are_decoded_from_the_files_encoding() {
        use crate::Grid;
        let text = "Commune;Libellé\r\n42218;Saint-Étienne\r\n42187;Roanne\r\n";
        let (cp1252, _, _) = WINDOWS_1252.encode(text);
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        for (bytes, encoding) in [
            (cp1252.to_vec(), "windows-1252"),
            (text.as_bytes().to_vec(), "UTF-8"),
            (utf16, "UTF-16LE"),
        ] {
            let (grid, used) = read(&bytes, options("auto", "auto")).unwrap();
            assert_eq!(used, encoding);
            let cells: Vec<String> = (0..3).map(|r| grid.cell(r, 1).display()).collect();
            assert_eq!(cells, ["Libellé", "Saint-Étienne", "Roanne"], "{encoding}");
        }
        // A long accented field comes out whole.
        let long = "é".repeat(300) + "x";
        let text = format!("a;b\n1;{long}\n");
        let (bytes, _, _) = WINDOWS_1252.encode(&text);
        let (grid, _) = read(&bytes, options("windows-1252", "auto")).unwrap();
        assert_eq!(grid.cell(1, 1).display(), long);
    }

    fn fixture(folder: &str, name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(folder)
            .join(name);
        std::fs::read(path).unwrap()
    }

    /// The first three columns of a grid's rows, as text.
    fn rows(grid: &dyn Grid) -> Vec<Vec<String>> {
        (0..grid.height())
            .map(|r| (0..3).map(|c| grid.cell(r, c).display()).collect())
            .collect()
    }

    /// The table `tests/fixtures/make_formats.py` writes.
    const TABLE: [[&str; 3]; 4] = [
        ["Commune", "Libellé", "Montant"],
        ["42218", "Saint-Étienne", "12,5"],
        ["42187", "Roanne", "7"],
        ["42094", "Feurs", "3,25"],
    ];

    fn refused(bytes: &[u8], options: Options) -> Error {
        read(bytes, options).err().expect("a refusal")
    }

    /// A sink keeping the rows of every batch.
    struct Keep;

    impl Sink for Keep {
        type Part = Vec<Vec<String>>;
        type Error = ();
        fn first(&mut self, grid: &CsvGrid) -> Result<Self::Part, ()> {
            self.batch(grid)
        }
        fn batch(&self, grid: &CsvGrid) -> Result<Self::Part, ()> {
            Ok(rows(grid)[grid.first_line()..].to_vec())
        }
    }

    /// UTF-32 is no encoding of `encoding_rs`: a file marked as such was
    /// decoded as UTF-16 (its FF FE 00 00 starts with UTF-16 LE's mark) or
    /// refused as binary (00 00 FE FF); it is transcoded to UTF-8, whole
    /// or a batch at a time.
    #[test]
    fn utf32_files_with_a_byte_order_mark_are_read() {
        for (name, encoding) in [
            ("utf32le_bom.csv", "UTF-32LE"),
            ("utf32be_bom.csv", "UTF-32BE"),
        ] {
            let bytes = fixture("ingest", name);
            let (grid, used) = read(&bytes, Options::default()).unwrap();
            assert_eq!(used, encoding);
            assert_eq!(rows(&grid), TABLE, "{name}");
            let read = read_batches(
                std::io::Cursor::new(&bytes),
                Options::default(),
                &Batching::new(2),
                true,
                &mut Keep,
            )
            .unwrap_or_else(|_| panic!("{name}"));
            assert_eq!((read.encoding, read.rows), (encoding, 4));
            assert_eq!(read.parts.concat(), TABLE, "{name}");
            assert_eq!(read.sha256, Some(hex::encode(Sha256::digest(&bytes))));
        }
    }

    /// A code point past U+10FFFF (the "R" of Roanne, on line 3), or a
    /// file cut inside its last code point (line 4's line feed), is not UTF-32.
    #[test]
    fn utf32_that_is_not_is_refused_with_its_line() {
        let bytes = fixture("hostile", "utf32le_bad_code_point.csv");
        let refusal = refused(&bytes, Options::default());
        assert!(
            matches!(
                refusal,
                Error::NotInEncoding {
                    encoding: "UTF-32LE",
                    line: 3
                }
            ),
            "{refusal:?}"
        );
        let bytes = fixture("ingest", "utf32be_bom.csv");
        let cut = &bytes[..bytes.len() - 1];
        let refusal = refused(cut, Options::default());
        assert!(
            matches!(
                refusal,
                Error::NotInEncoding {
                    encoding: "UTF-32BE",
                    line: 4
                }
            ),
            "{refusal:?}"
        );
    }

    /// UTF-16 without its byte order mark was refused as a binary file: it
    /// is refused as what it is, whatever encoding is declared, as a file
    /// whose NULs are not every other byte stays binary.
    #[test]
    fn utf16_without_a_byte_order_mark_is_refused_as_such() {
        let little = fixture("hostile", "utf16le_no_bom.csv");
        let text = String::from_utf16(
            &little
                .chunks_exact(2)
                .map(|u| u16::from_le_bytes([u[0], u[1]]))
                .collect::<Vec<u16>>(),
        )
        .unwrap();
        assert!(text.starts_with("Commune;Libellé;Montant;Date\r\n42218;Saint-Étienne;12,5;"));
        let big: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for bytes in [&little, &big] {
            for encoding in ["auto", "utf-8", "windows-1252"] {
                let refusal = refused(bytes, options(encoding, "auto"));
                assert!(matches!(refusal, Error::Utf16WithoutBom), "{refusal:?}");
            }
        }
        let binary = b"a;b\n\x00\x01\x02\x00\x00\x00;1\n";
        let refusal = refused(binary, Options::default());
        assert!(matches!(refusal, Error::Binary), "{refusal:?}");
    }

    #[test]
    fn declared_utf8_with_latin1_bytes_fails() {
        let (bytes, _, _) = WINDOWS_1252.encode("a;b\nété;1\n");
        let err = encoding::decode(&bytes, Encoding::from_name("utf-8").unwrap()).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    /// A sink reading every cell of every batch, keeping each record's
    /// line and cells.
    struct Cells;

    impl Sink for Cells {
        type Part = Vec<(usize, Vec<String>)>;
        type Error = ();
        fn first(&mut self, grid: &CsvGrid) -> Result<Self::Part, ()> {
            self.batch(grid)
        }
        fn batch(&self, grid: &CsvGrid) -> Result<Self::Part, ()> {
            Ok(records(grid, grid.first_line()))
        }
    }

    /// The line and cells of each row of `grid` from `first_line` with a
    /// cell that is not empty, up to its last such cell.
    fn records(grid: &CsvGrid, first_line: usize) -> Vec<(usize, Vec<String>)> {
        (first_line..grid.height())
            .filter_map(|r| {
                let mut cells: Vec<String> = (0..grid.width())
                    .map(|c| grid.cell(r, c).display())
                    .collect();
                while cells.last().is_some_and(String::is_empty) {
                    cells.pop();
                }
                (!cells.is_empty()).then_some((r, cells))
            })
            .collect()
    }

    /// Small blocks, so that records, quotes and accents fall on their edges.
    fn small_blocks(block: usize) -> Batching {
        Batching {
            first: 2,
            rest: 3,
            block,
            margin: 64,
        }
    }

    /// A fuzzer's finding: a file valid UTF-8 in its first block, with a
    /// quoted record further on whose delimiter falls between the two bytes
    /// of an "é" ("Andr\xC3;\xA9zieux"). Its fields end to end were valid
    /// UTF-8, so the batch was taken as UTF-8 and a field ended inside a
    /// character (a panic when the cell was read). It holds a NUL, which the
    /// whole read refuses: so does the read by blocks.
    #[test]
    fn a_quoted_record_not_in_utf8_is_not_read_as_utf8() {
        let bytes = fixture(
            "hostile",
            "fuzz_csv_quoted_field_cut_inside_a_character.csv",
        );
        let refusal = refused(&bytes, Options::default());
        assert!(matches!(refusal, Error::Binary), "{refusal:?}");
        let read = read_batches(
            std::io::Cursor::new(&bytes),
            Options::default(),
            &small_blocks(16),
            true,
            &mut Cells,
        );
        assert!(
            matches!(read, Err(Stop::Read(Error::Binary))),
            "{:?}",
            read.err()
        );
    }

    /// A random CAF-like text: a header, then records of ids, dates,
    /// communes with accents, quoted fields (with delimiters, doubled
    /// quotes and line breaks inside), blank lines, LF, CRLF and lone CR
    /// line ends, and now and then a NUL.
    fn caf_like(rng: &mut crate::TestRng) -> String {
        const COMMUNES: [&str; 6] = [
            "Saint-Étienne",
            "Andrézieux-Bouthéon",
            "Roanne",
            "Feurs",
            "Bœn",
            "Saint-Just-Saint-Rambert",
        ];
        const ENDS: [&str; 5] = ["\n", "\n", "\r\n", "\r\n", "\r"];
        let mut text = String::from("N° allocataire;Date;Commune;Libellé;Montant\n");
        for i in 0..rng.below(30) {
            let commune = COMMUNES[rng.below(COMMUNES.len())];
            let mut fields = vec![
                format!("{:07}", 1_000_000 + i),
                "2020-03-15".to_owned(),
                "42218".to_owned(),
                commune.to_owned(),
                format!("{},{}", rng.below(1000), rng.below(100)),
            ];
            for field in &mut fields {
                *field = match rng.below(12) {
                    0 => format!("\"{field}\""),
                    1 => format!("\"{field};{commune}\""),
                    2 => format!("\"{field} \"\"dit\"\" é\""),
                    3 => format!("\"{field}\n{commune}\""),
                    4 => String::new(),
                    5 if rng.below(60) == 0 => format!("{field}\0"),
                    _ => std::mem::take(field),
                };
            }
            text.push_str(&fields.join(";"));
            text.push_str(ENDS[rng.below(ENDS.len())]);
            if rng.below(8) == 0 {
                text.push('\n');
            }
        }
        text
    }

    /// Random CAF-like texts, in UTF-8, in Windows-1252, in UTF-8 but for
    /// a line in Windows-1252 past the first block, and in UTF-8 but for a
    /// character cut by a delimiter or a quote, read whole and by
    /// small blocks, with every option: the same cells, or the same
    /// refusal (or a record longer than a block's margin, which only a
    /// read by blocks refuses). `SEED` and `CASES` run other texts
    /// (`SEED=99 CASES=15000 cargo test -p suivi-read small_blocks`).
    #[test]
    fn a_read_by_small_blocks_reads_what_the_whole_read_reads() {
        let mut rng = crate::TestRng::new(std::env::var("SEED").map_or(7, |s| s.parse().unwrap()));
        let (mut same_cells, mut same_refusals, mut too_long) = (0, 0, 0);
        for case in 0..std::env::var("CASES").map_or(1500, |s| s.parse().unwrap()) {
            let text = caf_like(&mut rng);
            let bytes = match rng.below(4) {
                0 => text.clone().into_bytes(),
                // A character cut by a delimiter or a quote, past the middle.
                3 => {
                    let mut bytes = text.clone().into_bytes();
                    let cut = (bytes.len() / 2..bytes.len()).find(|&i| bytes[i] >= 0xC0);
                    if let Some(at) = cut {
                        bytes.insert(at + 1, [b';', b'"'][rng.below(2)]);
                    }
                    bytes
                }
                1 => WINDOWS_1252.encode(&text).0.into_owned(),
                _ => {
                    let at = text.len() / 2;
                    let at = (at..text.len())
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(text.len());
                    let mut bytes = text.as_bytes()[..at].to_vec();
                    bytes.extend_from_slice(&WINDOWS_1252.encode(&text[at..]).0);
                    bytes
                }
            };
            let options = Options {
                encoding: [Encoding::Auto, Encoding::Utf8, Encoding::Windows1252][rng.below(3)],
                delimiter: [Delimiter::Auto, Delimiter::Byte(b';')][rng.below(2)],
            };
            // A margin for records of a few lines.
            let batching = Batching {
                margin: 256,
                ..small_blocks(16 * (1 + rng.below(4)))
            };
            let whole = read(&bytes, options);
            let by_blocks = read_batches(
                std::io::Cursor::new(&bytes),
                options,
                &batching,
                false,
                &mut Cells,
            );
            let context = || {
                format!(
                    "case {case}, {options:?}, blocks of {}: {text:?}",
                    batching.block
                )
            };
            match (whole, by_blocks) {
                (_, Err(Stop::Read(Error::RecordTooLong { .. }))) => too_long += 1,
                (Ok((grid, encoding)), Ok(read)) => {
                    assert_eq!(read.encoding, encoding, "{}", context());
                    assert_eq!(read.parts.concat(), records(&grid, 0), "{}", context());
                    same_cells += 1;
                }
                (Err(whole), Err(Stop::Read(by_blocks))) => {
                    assert_eq!(
                        std::mem::discriminant(&whole),
                        std::mem::discriminant(&by_blocks),
                        "{whole:?} and {by_blocks:?}, {}",
                        context()
                    );
                    same_refusals += 1;
                }
                (whole, by_blocks) => panic!(
                    "whole: {:?}, by blocks: {:?}, {}",
                    whole.map(|(_, e)| e),
                    by_blocks.map(|r| r.encoding),
                    context()
                ),
            }
        }
        assert!(
            same_cells > 500 && same_refusals > 50,
            "{same_cells} the same cells, {same_refusals} the same refusals, {too_long} too long"
        );
    }
}
