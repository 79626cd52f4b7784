//! One file of a source, whatever its format: opened through `suivi-read`
//! (a CSV file streamed a batch of records at a time, a workbook's sheets
//! whole), its header located and its cells typed here, once, for every
//! format.

use super::columns::Reading;
use super::header::{self, Layout};
use super::table::{FileRows, Part, parse_rows};
use crate::error::{Error, Result};
use crate::pipeline::{HeaderRow, Source};
use std::io::{Read, Seek};
use std::path::Path;
use suivi_read::Grid;
use suivi_read::csv::{self, Batching, CsvGrid, Sink, Stop};

/// Locates a file's header in its first rows, then types the rows of each
/// batch of its cells.
struct Typing<'a> {
    source: &'a Source,
    path: &'a Path,
    sheet: Option<&'a str>,
    reading: &'a Reading<'a>,
    layout: Option<Layout>,
}

impl Typing<'_> {
    /// The grid's rows after its header, which is looked for in it.
    fn first(&mut self, grid: &dyn Grid, first_row: usize) -> Result<Part> {
        let layout = header::locate(grid, self.source, self.path, self.sheet)?;
        let rows = (layout.header_row + 1).max(first_row)..grid.height();
        let part = parse_rows(grid, &layout, self.source, rows, self.reading, self.path)?;
        self.layout = Some(layout);
        Ok(part)
    }

    /// The rows `first_row..` of a grid after the first.
    fn rest(&self, grid: &dyn Grid, first_row: usize) -> Result<Part> {
        let layout = self.layout.as_ref().expect("the first batch comes first");
        let rows = first_row..grid.height();
        parse_rows(grid, layout, self.source, rows, self.reading, self.path)
    }
}

impl Sink for Typing<'_> {
    type Part = Part;
    type Error = Error;

    fn first(&mut self, grid: &CsvGrid) -> Result<Part> {
        Typing::first(self, grid, grid.first_line())
    }

    fn batch(&self, grid: &CsvGrid) -> Result<Part> {
        self.rest(grid, grid.first_line())
    }
}

/// The source's sheets of a workbook, each typed on its own (its own
/// header), in the workbook's order. `bytes` are the file's.
pub fn read_workbook(
    source: &Source,
    path: &Path,
    bytes: &[u8],
    reading: &Reading,
) -> Result<Vec<FileRows>> {
    let sheets = reading.workbooks.open_sheets(path, bytes, &source.sheet)?;
    sheets
        .into_iter()
        .map(|(grid, sheet)| {
            let mut typing = Typing {
                source,
                path,
                sheet: Some(&sheet),
                reading,
                layout: None,
            };
            let part = typing.first(grid.as_ref(), 0)?;
            Ok(FileRows {
                path: path.to_owned(),
                parts: vec![part],
                layout: typing.layout.expect("set by first"),
                height: grid.height(),
                merged_cells: grid.merged_cells(),
                encoding: None,
                sheet: Some(sheet),
            })
        })
        .collect()
}

/// How a source's CSV files are cut: the first batch holds just the lines
/// its header is looked for in, typed alone before the others are typed in
/// parallel.
fn batching(source: &Source) -> Batching {
    // A first batch as large as the others would be typed on one core
    // while the others wait for the header.
    Batching::new(match source.header_row {
        HeaderRow::Row(n) => n as usize,
        HeaderRow::Auto => header::HEADER_SEARCH_ROWS,
    })
}

/// A CSV file's rows read straight from disk, a block at a time, with its
/// SHA-256 when `hash`.
pub fn read_csv_file(
    source: &Source,
    path: &Path,
    reading: &Reading,
    hash: bool,
) -> Result<(FileRows, Option<String>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::unreadable(path, None, e.into()))?;
    read_csv(source, path, file, reading, &batching(source), hash)
}

/// A CSV file's rows from `reader`, cut as `batching` says.
fn read_csv<R: Read + Seek>(
    source: &Source,
    path: &Path,
    reader: R,
    reading: &Reading,
    batching: &Batching,
    hash: bool,
) -> Result<(FileRows, Option<String>)> {
    let mut typing = Typing {
        source,
        path,
        sheet: None,
        reading,
        layout: None,
    };
    let options = csv::Options {
        encoding: source.encoding,
        delimiter: source.delimiter,
    };
    let read = csv::read_batches(reader, options, batching, hash, &mut typing);
    let read = match read {
        Ok(read) => read,
        Err(Stop::Read(e)) => return Err(Error::unreadable(path, None, e)),
        Err(Stop::Sink(e)) => return Err(e),
    };
    let rows = FileRows {
        layout: typing.layout.expect("the first batch was typed"),
        parts: read.parts,
        path: path.to_owned(),
        height: read.rows,
        merged_cells: 0,
        sheet: None,
        encoding: Some(read.encoding),
    };
    Ok((rows, read.sha256))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_hash::HashBook;
    use crate::ingest::pseudo::Pseudonymizer;
    use crate::ingest::{ROW_COLUMN, Reason};
    use crate::reference::Reference;
    use polars::prelude::DataFrame;
    use sha2::{Digest, Sha256};

    /// The CSV fixtures' pipeline, its reference tables and a fixed key.
    struct Fixture {
        pipeline: crate::pipeline::Pipeline,
        reference: Reference,
        pseudonymizer: Pseudonymizer,
        hashes: HashBook,
        unbuilt: std::collections::BTreeSet<String>,
        workbooks: crate::ingest::workbooks::SharedWorkbooks,
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

        fn reading(&self) -> Reading<'_> {
            Reading {
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
        let reading = fixture.reading();
        let (file, _) = read_csv(
            source,
            Path::new("lines.csv"),
            reader,
            &reading,
            &batching,
            false,
        )
        .unwrap();
        let finished = crate::ingest::table::finish(vec![file], policy)
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
        let reading = fixture.reading();
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
            let (file, _) = read_csv(source, path, reader, &reading, &batching, false).unwrap();
            let finished = crate::ingest::table::finish(vec![file], source.duplicates)
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
        let Err(error) = super::read_csv(source, path, reader, &reading, &batching, false) else {
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
        let reading = fixture.reading();
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
            super::read_csv(source, path, cursor, &reading, &batching, true)
        };
        let read = |source: &Source, block: usize| read_bytes(source, &bytes, block);
        let names = |file: FileRows| {
            let finished = crate::ingest::table::finish(vec![file], source.duplicates)
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
        declared.encoding = csv::Encoding::Utf8;
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
        let reading = fixture.reading();
        let source = &fixture.pipeline.sources["caf_comma"];
        let mut bytes =
            b"MOISREF,NUMALLOC,DTOUVDRT,CODCOM,LIBCOM,SDD,ETATDRT,NBPERS,MTRSAVERS\r\n".to_vec();
        for i in 0..4000 {
            bytes.extend(format!("202003,{i:07},2018-03-15,42218,").bytes());
            bytes.extend(b"Saint-\xc9tienne,1,2,1,10.5\r\n");
        }
        let block = 128 << 10;
        assert!(bytes.len() > block);
        let read = |block: usize| {
            let batching = Batching {
                first: 1 << 10,
                rest: 1 << 10,
                block,
                margin: 1 << 10,
            };
            let cursor = std::io::Cursor::new(&bytes);
            let (file, _) = super::read_csv(
                source,
                Path::new("x.csv"),
                cursor,
                &reading,
                &batching,
                false,
            )
            .unwrap();
            assert_eq!(file.encoding, Some("windows-1252"));
            crate::ingest::table::finish(vec![file], source.duplicates)
                .unwrap()
                .remove(0)
                .frame
        };
        let whole = read(usize::MAX / 2);
        assert_eq!(whole.height(), 4000);
        assert!(read(block).equals_missing(&whole));
    }
}
