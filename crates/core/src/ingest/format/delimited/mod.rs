//! Delimited text files (`.csv`, `.txt`, `.tsv`): decoded from their
//! encoding, split into records, and parsed a batch of lines at a time,
//! read from disk a block at a time (see `blocks`).

mod blocks;
mod text;

use super::{Format, Opened};
use crate::error::{Error, Result};
use crate::ingest::columns::Context;
use crate::ingest::grid::{CsvGrid, Grid};
use crate::ingest::header::Layout;
use crate::ingest::rows::{FileRows, Part, parse_rows};
use crate::pipeline::Source;
use encoding_rs::UTF_8;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

pub struct Delimited;

impl Format for Delimited {
    fn reads(&self, path: &Path) -> bool {
        matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("csv" | "txt" | "tsv")
        )
    }

    fn parse(
        &self,
        source: &Source,
        path: &Path,
        bytes: &[u8],
        context: &Context,
    ) -> Result<FileRows> {
        let reader = std::io::Cursor::new(bytes);
        let batching = Batching::for_source(source);
        read(source, path, reader, context, &batching, false).map(|(rows, _)| rows)
    }

    fn parse_file(
        &self,
        source: &Source,
        path: &Path,
        context: &Context,
        hash: bool,
    ) -> Option<Result<(FileRows, Option<String>)>> {
        let read = || {
            let file = std::fs::File::open(path)
                .map_err(|e| Error::input(path, None, format!("cannot read the file: {e}")))?;
            let batching = Batching::for_source(source);
            read(source, path, file, context, &batching, hash)
        };
        Some(read())
    }

    fn open(
        &self,
        path: &Path,
        bytes: &[u8],
        _sheet: Option<&str>,
        encoding: &str,
        delimiter: &str,
    ) -> Result<Opened> {
        let (grid, encoding) = text::read(path, bytes, encoding, delimiter)?;
        Ok(Opened {
            grid: Box::new(grid),
            sheet: None,
            encoding: Some(encoding),
        })
    }

    fn sheets(&self, _path: &Path, _bytes: &[u8]) -> Result<Vec<calamine::Sheet>> {
        Ok(Vec::new())
    }
}

/// How a CSV file is cut: records parsed together (the first batch holds
/// just the lines the header is looked for in, parsed alone before the
/// others are parsed in parallel), and bytes split together.
struct Batching {
    first: usize,
    rest: usize,
    block: usize,
    margin: usize,
}

impl Batching {
    fn for_source(source: &Source) -> Self {
        const ROWS: usize = 1 << 16;
        let header = match source.header_row {
            crate::pipeline::HeaderRow::Row(n) => n as usize,
            crate::pipeline::HeaderRow::Auto => crate::ingest::header::HEADER_SEARCH_ROWS,
        };
        // A first batch of 65,536 records was parsed on one core with the
        // other idle: a quarter of the Loire CAF file.
        Batching {
            first: header,
            rest: ROWS,
            block: blocks::BLOCK,
            margin: blocks::MARGIN,
        }
    }
}

/// A CSV file's rows, read from `reader` a block at a time. Its first block
/// decides its encoding when it is the whole file, when the pipeline
/// declares Windows-1252, when the guess it gives is settled (the guess
/// reads its accented lines only, up to a sample size), or when it is valid
/// UTF-8: the rest is then read as UTF-8 and checked batch by batch.
/// Otherwise, or when a later batch is not UTF-8 after all, a first pass
/// over the whole file decides it (and its SHA-256, when `hash`) before it
/// is read again. A file in an encoding that is neither UTF-8 nor
/// Windows-1252 is decoded whole.
fn read<R: Read + Seek>(
    source: &Source,
    path: &Path,
    mut reader: R,
    context: &Context,
    batching: &Batching,
    hash: bool,
) -> Result<(FileRows, Option<String>)> {
    let mut blocks = blocks::Blocks::new(&mut reader, batching.block, batching.margin, hash);
    let first = blocks::survey(path, &mut blocks, &source.encoding, true)?;
    let decided = first.whole || first.splittable() && (first.encoding == UTF_8 || first.settled);
    if decided && let Some(read) = read_as(source, path, blocks, context, batching, hash, &first)? {
        return Ok(read);
    }
    let fail = |e| cannot_read(path, e);
    reader.seek(SeekFrom::Start(0)).map_err(fail)?;
    let mut blocks = blocks::Blocks::new(&mut reader, blocks::BLOCK, 0, hash);
    let survey = blocks::survey(path, &mut blocks, &source.encoding, false)?;
    reader.seek(SeekFrom::Start(0)).map_err(fail)?;
    // Hashed by the survey: not twice.
    let blocks = blocks::Blocks::new(&mut reader, batching.block, batching.margin, false);
    read_as(source, path, blocks, context, batching, hash, &survey)?
        .ok_or_else(|| text::not_valid(path, UTF_8, 1))
}

fn cannot_read(path: &Path, e: std::io::Error) -> Error {
    Error::input(path, None, format!("cannot read the file: {e}"))
}

/// Splits and parses a file from its first byte, in the encoding its
/// `survey` found, continuing from `blocks` (which may hold the first block
/// already); `None` when a batch read as UTF-8 is not.
fn read_as<R: Read + Seek>(
    source: &Source,
    path: &Path,
    mut blocks: blocks::Blocks<&mut R>,
    context: &Context,
    batching: &Batching,
    hash: bool,
    survey: &blocks::Survey,
) -> Result<Option<(FileRows, Option<String>)>> {
    let fail = |e: std::io::Error| cannot_read(path, e);
    let mut split = Splitting {
        source,
        path,
        context,
        batching,
        parts: Vec::new(),
        layout: None,
        delimiter: None,
        first_line: 0,
        height: 0,
        continued: 0,
        spare: Mutex::new(Vec::new()),
    };
    let (encoding, sha256) = if survey.splittable() {
        // The byte order mark is left out of the first block.
        let mut cut = survey.bom;
        while let Some(block) = blocks.next(cut).map_err(fail)? {
            let text = text::Text::block(block.bytes, survey.encoding);
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
        reader.seek(SeekFrom::Start(0)).map_err(fail)?;
        reader.read_to_end(&mut bytes).map_err(fail)?;
        let sha256 = hash.then(|| hex::encode(Sha256::digest(&bytes)));
        let (text, encoding) = text::whole(path, &bytes, survey)?;
        if split.block(&text, true)?.is_none() {
            return Ok(None);
        }
        (encoding, sha256)
    };
    let rows = FileRows {
        layout: split
            .layout
            .ok_or_else(|| Error::input(path, None, "the file is empty"))?,
        parts: split.parts,
        path: path.to_owned(),
        // Rows, not lines: a record over several lines is one row.
        height: split.height - split.continued,
        sheet: None,
        encoding: Some(encoding),
    };
    Ok(Some((rows, sha256)))
}

/// What is split so far of a file, block after block.
struct Splitting<'a> {
    source: &'a Source,
    path: &'a Path,
    context: &'a Context<'a>,
    batching: &'a Batching,
    parts: Vec<Part>,
    /// Found in the first block.
    layout: Option<Layout>,
    delimiter: Option<u8>,
    /// The line the next block starts on.
    first_line: usize,
    /// Lines so far, and of them those going on a record begun on an
    /// earlier line.
    height: usize,
    continued: usize,
    /// Grids parsed go back to the splitter to be filled again.
    spare: Mutex<Vec<CsvGrid>>,
}

/// A batch of records parsed: the line after it, the lines inside its
/// records after their first, and its rows.
struct Batch {
    end: usize,
    continued: usize,
    part: Part,
}

impl Splitting<'_> {
    /// Splits and parses a block's records (those starting before
    /// `batching.block`, unless it is the `last`); returns the byte the next
    /// block starts at, or `None` when its text is not valid UTF-8.
    fn block(&mut self, text: &text::Text, last: bool) -> Result<Option<usize>> {
        let (source, path, context) = (self.source, self.path, self.context);
        let delimiter = *self
            .delimiter
            .get_or_insert_with(|| text.delimiter(&source.delimiter));
        let span = text::Span {
            first_line: self.first_line,
            limit: (!last).then_some(self.batching.block),
        };
        let mut splitter = text::Splitter::new(path, text, delimiter, span)?;
        let take_spare = || self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if self.layout.is_none() {
            let first = splitter.next_grid(self.batching.first, take_spare())?;
            if splitter.not_utf8() {
                return Ok(None);
            }
            let first = first.unwrap_or_else(|| CsvGrid::new(self.first_line));
            let layout = crate::ingest::header::locate(&first, source, path, None)?;
            let rows = layout.header_row + 1..first.height();
            self.parts
                .push(parse_rows(&first, &layout, source, rows, context, path)?);
            self.height = first.height();
            self.continued += first.continued();
            self.layout = Some(layout);
            self.spare
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(first);
        }
        let layout = self.layout.as_ref().expect("set above");
        let spare = &self.spare;
        let batches = std::iter::from_fn(|| {
            let recycled = spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
            splitter.next_grid(self.batching.rest, recycled).transpose()
        });
        let mut rest: Vec<(usize, Result<Batch>)> = batches
            .enumerate()
            .par_bridge()
            .map(|(i, grid)| {
                let parsed = grid.and_then(|grid| {
                    let rows = grid.first_line()..grid.height();
                    let part = parse_rows(&grid, layout, source, rows, context, path);
                    let (end, continued) = (grid.height(), grid.continued());
                    spare.lock().unwrap_or_else(|e| e.into_inner()).push(grid);
                    part.map(|part| Batch {
                        end,
                        continued,
                        part,
                    })
                });
                (i, parsed)
            })
            .collect();
        rest.sort_unstable_by_key(|(i, _)| *i);
        if splitter.not_utf8() {
            return Ok(None);
        }
        for (_, parsed) in rest {
            let batch = parsed?;
            self.height = batch.end;
            self.continued += batch.continued;
            self.parts.push(batch.part);
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
    use crate::file_hash::HashBook;
    use crate::ingest::pseudo::Pseudonymizer;
    use crate::ingest::{ROW_COLUMN, Reason};
    use crate::reference::Reference;
    use polars::prelude::DataFrame;

    /// The CSV fixtures' pipeline, its reference tables and a fixed key.
    struct Fixture {
        pipeline: crate::pipeline::Pipeline,
        reference: Reference,
        pseudonymizer: Pseudonymizer,
        hashes: HashBook,
        unbuilt: std::collections::BTreeSet<String>,
        workbooks: crate::ingest::format::Workbooks,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = crate::repository().join("tests/fixtures/ingest");
            let pipeline = crate::pipeline::load(&dir.join("csv_files.toml"), None, None).unwrap();
            Fixture {
                reference: Reference::load(&pipeline).unwrap(),
                pipeline,
                pseudonymizer: Pseudonymizer::with_key(b"0123456789abcdef"),
                hashes: HashBook::default(),
                unbuilt: Default::default(),
                workbooks: Default::default(),
            }
        }

        fn context(&self) -> Context<'_> {
            Context {
                reference: &self.reference,
                pseudonymizer: &self.pseudonymizer,
                known_hashes: &self.hashes,
                unbuilt: &self.unbuilt,
                workbooks: &self.workbooks,
            }
        }
    }

    fn row_numbers(frame: &DataFrame) -> Vec<Option<u32>> {
        frame
            .column(ROW_COLUMN)
            .unwrap()
            .u32()
            .unwrap()
            .iter()
            .collect()
    }

    /// The `caf_comma` source read from `lines` in one batch, duplicates
    /// told by `policy`: the accepted rows and each reject's (row, column,
    /// reason).
    fn read_lines(
        fixture: &Fixture,
        lines: &[&str],
        policy: crate::pipeline::Duplicates,
    ) -> (DataFrame, Vec<(usize, String, &'static str)>) {
        let source = &fixture.pipeline.sources["caf_comma"];
        let text = lines.join("\n") + "\n";
        let batching = Batching {
            first: usize::MAX,
            rest: usize::MAX,
            block: usize::MAX / 2,
            margin: 128,
        };
        let reader = std::io::Cursor::new(text.as_bytes());
        let context = fixture.context();
        let (file, _) = read(
            source,
            Path::new("lines.csv"),
            reader,
            &context,
            &batching,
            false,
        )
        .unwrap();
        let finished = crate::ingest::rows::finish(vec![file], policy)
            .unwrap()
            .remove(0);
        let rejects = finished
            .report
            .rejects
            .iter()
            .map(|r| (r.row, r.column.clone(), r.reason.code()))
            .collect();
        (finished.frame, rejects)
    }

    fn keys<'a>(rejects: &'a [(usize, String, &'static str)]) -> Vec<(usize, &'a str, &'a str)> {
        rejects
            .iter()
            .map(|(r, c, k)| (*r, c.as_str(), *k))
            .collect()
    }

    /// A cell with the same text as the one above it takes its value
    /// without being parsed again: the values and rejects are those of
    /// each cell parsed on its own, a bad cell repeated is rejected each
    /// time, and an identifier written shorter is still the same one.
    #[test]
    fn repeated_cells_read_as_each_cell_on_its_own() {
        let lines = [
            "MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "202003,123456,2018-03-15,42218,A,1,2,1,10.5",
            "202013,0234567,2018-03-16,42218,A,1,2,1,10.5",
            "202013,0234567,2018-03-16,42218,A,1,2,1,10.5",
            "202004,0234567,2018-03-16,42218,A,1,3,x,10.5",
            "202004,0234567,16/03/2018,42218,A,1,3,1,10.5",
        ];
        let (frame, rejects) =
            read_lines(&Fixture::new(), &lines, crate::pipeline::Duplicates::Keep);
        assert_eq!(row_numbers(&frame), [Some(2), Some(3), Some(7)]);
        let column = |name: &str| {
            frame
                .column(name)
                .unwrap()
                .cast(&polars::prelude::DataType::Int64)
                .unwrap()
                .i64()
                .unwrap()
                .iter()
                .collect::<Vec<_>>()
        };
        // 2020-03-01 and 2020-04-01, 2018-03-15 and 2018-03-16, in days since 1970.
        assert_eq!(column("moisref"), [Some(18322), Some(18322), Some(18353)]);
        assert_eq!(
            column("date_ouverture"),
            [Some(17605), Some(17605), Some(17606)]
        );
        assert_eq!(column("etat_droit"), [Some(2), Some(2), Some(3)]);
        let ids = column("numalloc");
        assert_eq!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        assert_eq!(
            keys(&rejects),
            [
                (4, "MOISREF", "month"),
                (5, "MOISREF", "month"),
                (6, "NBPERS", "number")
            ]
        );
    }

    /// Past the rows where a column is given up as seldom repeating, its
    /// cells are still read right, repeated or not.
    #[test]
    fn a_column_given_up_as_seldom_repeating_still_reads_right() {
        let header = "MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS";
        // 100 different days from 2018-01-01, then the last one three times more.
        let days: Vec<i64> = (0..100).chain([99, 99, 99]).collect();
        let rows: Vec<String> = days
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let date = chrono::NaiveDate::from_ymd_opt(2018, 1, 1).unwrap()
                    + chrono::Days::new(d as u64);
                format!("202003,{:07},{date},42218,A,1,2,1,10.5", i + 1)
            })
            .collect();
        let lines: Vec<&str> = std::iter::once(header)
            .chain(rows.iter().map(String::as_str))
            .collect();
        let (frame, rejects) =
            read_lines(&Fixture::new(), &lines, crate::pipeline::Duplicates::Keep);
        assert!(rejects.is_empty());
        let read: Vec<Option<i32>> = frame
            .column("date_ouverture")
            .unwrap()
            .date()
            .unwrap()
            .physical()
            .iter()
            .collect();
        // 2018-01-01 is day 17,532 since 1970.
        let expected: Vec<Option<i32>> = days.iter().map(|&d| Some(17_532 + d as i32)).collect();
        assert_eq!(read, expected);
    }

    /// Columns no query reads (here NBPERS and MTRSAVERS) are checked but
    /// not built: a bad value in one still rejects its row, and a row that
    /// differs from an earlier one only there is no duplicate of it.
    #[test]
    fn unbuilt_columns_are_checked_and_tell_duplicates_apart() {
        let mut fixture = Fixture::new();
        fixture.unbuilt = ["nb_personnes".to_owned(), "montant_verse".to_owned()].into();
        let lines = [
            "MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.6",
            "202003,0123456,2018-03-15,42218,A,1,2,2,10.5",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.50",
            "202003,0234567,2019-09-01,42005,B,0,2,3,vingt",
            "202003,0234567,2019-09-01,42005,B,0,2,trois,20",
        ];
        let policy = fixture.pipeline.sources["caf_comma"].duplicates;
        let (frame, rejects) = read_lines(&fixture, &lines, policy);
        let names: Vec<&str> = frame
            .get_column_names()
            .into_iter()
            .map(|n| n.as_str())
            .collect();
        assert_eq!(
            names,
            [
                ROW_COLUMN,
                "moisref",
                "numalloc",
                "date_ouverture",
                "commune",
                "libelle_commune",
                "sdd",
                "etat_droit"
            ]
        );
        assert_eq!(row_numbers(&frame), [Some(2), Some(3), Some(4)]);
        assert_eq!(
            keys(&rejects),
            [
                (5, "", "duplicate"),
                (6, "MTRSAVERS", "number"),
                (7, "NBPERS", "number")
            ]
        );
    }

    /// Batch boundaries fall on blank lines, between a row and its
    /// duplicate, and before the Total row; only some batches have an
    /// undeclared column: the result never changes.
    #[test]
    fn csv_batches_give_the_same_table_as_one_pass() {
        let fixture = Fixture::new();
        let context = fixture.context();
        let source = &fixture.pipeline.sources["caf_comma"];
        let lines = [
            "Extraction CAF 2020",
            "",
            "MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "",
            "202003,0234567,2019-09-01,42005,B,0,2,3,20,a note in an undeclared column",
            "202003,0345678,2019-31-12,42005,C,1,2,2,30",
            "",
            "",
            "202003,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "202004,0123456,2018-03-15,42218,A,1,2,1,10.5",
            "202004,0999999,2018-03-15,99999,Z,1,2,1,1",
            "Total,,,,,,,,61",
            "Source : CAF",
        ];
        let text = lines.join("\r\n") + "\r\n";
        let path = Path::new("batches.csv");
        let read_text = |text: &str, first, rest, block| {
            let batching = Batching {
                first,
                rest,
                block,
                margin: 128,
            };
            let reader = std::io::Cursor::new(text.as_bytes());
            let (file, _) = read(source, path, reader, &context, &batching, false).unwrap();
            let finished = crate::ingest::rows::finish(vec![file], source.duplicates)
                .unwrap()
                .remove(0);
            (finished.frame, finished.report)
        };
        let read = |first, rest, block| read_text(&text, first, rest, block);
        let (whole, report) = read(usize::MAX, usize::MAX, usize::MAX / 2);
        assert_eq!(row_numbers(&whole), [Some(4), Some(6), Some(11)]);
        let rejects: Vec<(usize, &str, &str)> = report
            .rejects
            .iter()
            .map(|r| (r.row, r.column.as_str(), r.reason.code()))
            .collect();
        assert_eq!(
            rejects,
            [
                (7, "DTOUVDRT", "date"),
                (10, "", "duplicate"),
                (12, "CODCOM", "commune")
            ]
        );
        assert_eq!(
            report.rejects[1].reason,
            Reason::Duplicate {
                first_row: 4,
                first_file: None
            }
        );
        assert_eq!((report.rows_read, report.skipped), (14, 7));
        // Blocks of 90 bytes and more hold the header; smaller ones cut
        // records anywhere, blank lines included.
        let sizes = [
            (4, 1, 1 << 20),
            (4, 2, 1 << 20),
            (3, 3, 1 << 20),
            (5, 4, 1 << 20),
        ];
        let blocks = (90..text.len() + 2).map(|block| (4, 2, block));
        for (first, rest, block) in sizes.into_iter().chain(blocks) {
            let (frame, batched) = read(first, rest, block);
            assert!(
                frame.equals_missing(&whole),
                "batches of {first} then {rest}, blocks of {block} bytes"
            );
            assert_eq!(
                format!("{:?}", batched.rejects),
                format!("{:?}", report.rejects)
            );
            assert_eq!((batched.rows_read, batched.skipped), (14, 7));
        }
        // Quoted fields (one holding the delimiter, one over two lines with
        // a doubled quote) cut at every byte by the blocks read as in one
        // pass; the records after the two-line field are a line further on.
        let mut quoted = lines;
        quoted[5] = "202003,0234567,2019-09-01,42005,\"B, b\",0,2,3,20,\"a note\r\nover two \"\"lines\"\"\"";
        let quoted = quoted.join("\r\n") + "\r\n";
        let (whole_quoted, report) = read_text(&quoted, usize::MAX, usize::MAX, usize::MAX / 2);
        assert_eq!(row_numbers(&whole_quoted), [Some(4), Some(6), Some(12)]);
        for block in 90..quoted.len() + 2 {
            let (frame, batched) = read_text(&quoted, 4, 2, block);
            assert!(
                frame.equals_missing(&whole_quoted),
                "quoted fields, blocks of {block} bytes"
            );
            assert_eq!(
                format!("{:?}", batched.rejects),
                format!("{:?}", report.rejects)
            );
            assert_eq!(
                (batched.rows_read, batched.skipped),
                (report.rows_read, report.skipped)
            );
        }
        // A record longer than the margin a block can end on: a quote left
        // open, told with its line, never split into two records.
        let open = format!("{}\r\n202003,0123456,\"{}\r\n", lines[2], "x".repeat(300));
        let batching = Batching {
            first: 4,
            rest: 2,
            block: 90,
            margin: 128,
        };
        let reader = std::io::Cursor::new(open.as_bytes());
        let Err(error) = super::read(source, path, reader, &context, &batching, false) else {
            panic!("a record longer than the margin was read");
        };
        assert!(
            error
                .to_string()
                .contains("line 2: a record starts on this line and runs over"),
            "{error}"
        );
        // A quoted field over two lines, and CRLFs, whatever the blocks.
        let quoted = [
            "MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS",
            "202003,0123456,2018-03-15,42218,\"two\r\nlines\",1,2,1,10.5",
            "202003,0234567,2019-09-01,42005,\"x,y\",0,2,3,20",
            "",
            "202004,0123456,2018-03-15,42218,\"\"\"quoted\"\"\r\n\",1,2,1,10.5",
        ]
        .join("\r\n")
            + "\r\n";
        let (whole, report) = read_text(&quoted, usize::MAX, usize::MAX, usize::MAX / 2);
        assert_eq!(row_numbers(&whole), [Some(2), Some(4), Some(6)]);
        // Seven lines, five rows: the header, three records (two of them
        // over two lines) and the blank line.
        assert_eq!(report.rows_read, 5);
        for block in 70..quoted.len() + 2 {
            let (frame, batched) = read_text(&quoted, 2, 1, block);
            assert!(frame.equals_missing(&whole), "blocks of {block} bytes");
            assert_eq!(batched.rows_read, 5, "blocks of {block} bytes");
        }
    }

    /// A file whose first blocks are plain ASCII and whose later lines are
    /// Windows-1252 is read as such, whatever the blocks: the first block's
    /// verdict (UTF-8) is taken back once a later batch is not UTF-8. A file
    /// declared UTF-8 is refused on the line of its first bad byte.
    #[test]
    fn a_late_windows_1252_byte_is_found_whatever_the_blocks() {
        let fixture = Fixture::new();
        let context = fixture.context();
        let source = &fixture.pipeline.sources["caf_comma"];
        let mut bytes =
            b"MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS\r\n".to_vec();
        for i in 0..6 {
            bytes.extend(
                format!("202003,012345{i},2018-03-15,42218,Saint-Etienne,1,2,1,10.5\r\n").bytes(),
            );
        }
        // Line 8: "Saint-\u{c9}tienne" in Windows-1252.
        bytes.extend(b"202003,0123457,2018-03-15,42218,Saint-\xc9tienne,1,2,1,10.5\r\n");
        let path = Path::new("late.csv");
        let read_bytes = |source: &Source, bytes: &[u8], block: usize| {
            let batching = Batching {
                first: 2,
                rest: 2,
                block,
                margin: 128,
            };
            let cursor = std::io::Cursor::new(bytes);
            super::read(source, path, cursor, &context, &batching, true)
        };
        let read = |source: &Source, block: usize| read_bytes(source, &bytes, block);
        let names = |file: FileRows| {
            let finished = crate::ingest::rows::finish(vec![file], source.duplicates)
                .unwrap()
                .remove(0);
            let names: Vec<Option<String>> = finished
                .frame
                .column("libelle_commune")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|s| s.map(str::to_owned))
                .collect();
            names
        };
        let expected_hash = hex::encode(Sha256::digest(&bytes));
        let (whole, hash) = read(source, usize::MAX / 2).unwrap();
        assert_eq!(whole.encoding, Some("windows-1252"));
        assert_eq!(hash.as_deref(), Some(expected_hash.as_str()));
        let whole = names(whole);
        assert_eq!(whole.last().unwrap().as_deref(), Some("Saint-\u{c9}tienne"));
        assert_eq!(whole.len(), 7);
        for block in [100, 150, 300, 500] {
            let (file, hash) = read(source, block).unwrap();
            assert_eq!(
                file.encoding,
                Some("windows-1252"),
                "blocks of {block} bytes"
            );
            assert_eq!(
                hash.as_deref(),
                Some(expected_hash.as_str()),
                "blocks of {block} bytes"
            );
            assert_eq!(names(file), whole, "blocks of {block} bytes");
        }
        // Plain ASCII: read as UTF-8 from its first block, hashed while split.
        let ascii = &bytes[..memchr::memrchr(b'\n', &bytes[..bytes.len() - 1]).unwrap() + 1];
        let (file, hash) = read_bytes(source, ascii, 100).unwrap();
        assert_eq!(file.encoding, Some("UTF-8"));
        assert_eq!(hash, Some(hex::encode(Sha256::digest(ascii))));
        assert_eq!(names(file), whole[..6]);
        // A byte order mark: left out of the first block, hashed with the rest.
        let mut marked = b"\xef\xbb\xbf".to_vec();
        marked.extend(ascii);
        marked.extend("202003,0123457,2018-03-15,42218,Saint-\u{c9}tienne,1,2,1,10.5\r\n".bytes());
        for block in [100, 150, usize::MAX / 2] {
            let (file, hash) = read_bytes(source, &marked, block).unwrap();
            assert_eq!(file.encoding, Some("UTF-8"), "blocks of {block} bytes");
            assert_eq!(hash, Some(hex::encode(Sha256::digest(&marked))));
            assert_eq!(names(file), whole, "blocks of {block} bytes");
        }
        let mut declared = source.clone();
        declared.encoding = "utf-8".into();
        for block in [100, usize::MAX / 2] {
            let Err(error) = read(&declared, block) else {
                panic!("a Windows-1252 byte was read as UTF-8 (blocks of {block} bytes)");
            };
            assert!(
                error.to_string().contains("first bad byte on line 8"),
                "{error}"
            );
        }
    }

    /// A Windows-1252 file whose first block holds more accented lines than
    /// the encoding guess reads is settled by that block alone, and reads as
    /// the whole file does.
    #[test]
    fn a_guess_from_enough_accented_lines_is_settled_by_the_first_block() {
        let fixture = Fixture::new();
        let context = fixture.context();
        let source = &fixture.pipeline.sources["caf_comma"];
        let mut bytes =
            b"MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS\r\n".to_vec();
        for i in 0..4000 {
            bytes.extend(format!("202003,{i:07},2018-03-15,42218,").bytes());
            bytes.extend(b"Saint-\xc9tienne,1,2,1,10.5\r\n");
        }
        let block = 128 << 10;
        assert!(bytes.len() > block);
        let mut first_block = blocks::Blocks::new(&bytes[..], block, 0, false);
        let first = blocks::survey(Path::new("x.csv"), &mut first_block, "auto", true).unwrap();
        assert!(!first.whole && first.settled);
        assert_eq!(first.encoding, encoding_rs::WINDOWS_1252);
        let read = |block: usize| {
            let batching = Batching {
                first: 1 << 10,
                rest: 1 << 10,
                block,
                margin: 1 << 10,
            };
            let cursor = std::io::Cursor::new(&bytes);
            let (file, _) = super::read(
                source,
                Path::new("x.csv"),
                cursor,
                &context,
                &batching,
                false,
            )
            .unwrap();
            assert_eq!(file.encoding, Some("windows-1252"));
            crate::ingest::rows::finish(vec![file], source.duplicates)
                .unwrap()
                .remove(0)
                .frame
        };
        let whole = read(usize::MAX / 2);
        assert_eq!(whole.height(), 4000);
        assert!(read(block).equals_missing(&whole));
    }
}
