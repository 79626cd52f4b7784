//! Delimited text files (`.csv`, `.txt`, `.tsv`): decoded from their
//! encoding, split into records, and parsed a batch of lines at a time.

mod text;

use super::{Format, Opened};
use crate::error::Result;
use crate::ingest::columns::Context;
use crate::ingest::grid::Grid;
use crate::ingest::rows::FileRows;
use crate::pipeline::Source;
use rayon::prelude::*;
use std::path::Path;

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
        let (text, encoding) = text::decode(path, bytes, &source.encoding)?;
        let batching = Batching::for_source(source);
        let (parts, layout, height) = read_csv(source, path, &text, context, &batching)?;
        Ok(FileRows {
            parts,
            layout,
            path: path.to_owned(),
            height,
            sheet: None,
            encoding: Some(encoding),
        })
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

/// How many records of a CSV file are parsed together. The first batch must
/// hold the header; the others are parsed in parallel.
struct Batching {
    first: usize,
    rest: usize,
}

impl Batching {
    fn for_source(source: &Source) -> Self {
        const ROWS: usize = 1 << 16;
        let header = match source.header_row {
            crate::pipeline::HeaderRow::Row(n) => n as usize,
            crate::pipeline::HeaderRow::Auto => crate::ingest::header::HEADER_SEARCH_ROWS,
        };
        Batching {
            first: ROWS.max(header),
            rest: ROWS,
        }
    }
}

/// A CSV file, split and parsed a batch of lines at a time: the header is
/// found in the first batch, the others are parsed in parallel.
fn read_csv(
    source: &Source,
    path: &Path,
    text: &text::Text,
    context: &Context,
    batching: &Batching,
) -> Result<(
    Vec<crate::ingest::rows::Part>,
    crate::ingest::header::Layout,
    usize,
)> {
    let mut splitter = text::Splitter::new(path, text, &source.delimiter)?;
    let first = splitter
        .next_grid(batching.first, None)?
        .unwrap_or_else(|| crate::ingest::grid::CsvGrid::new(0));
    let layout = crate::ingest::header::locate(&first, source, path, None)?;
    let first_part = crate::ingest::rows::parse_rows(
        &first,
        &layout,
        source,
        layout.header_row + 1..first.height(),
        context,
        path,
    )?;
    let mut height = first.height();
    // Grids parsed go back to the splitter to be filled again.
    let spare = std::sync::Mutex::new(vec![first]);
    let take_spare = || spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let batches =
        std::iter::from_fn(|| splitter.next_grid(batching.rest, take_spare()).transpose());
    let mut rest: Vec<(usize, Result<(usize, crate::ingest::rows::Part)>)> = batches
        .enumerate()
        .par_bridge()
        .map(|(i, grid)| {
            let parsed = grid.map(|grid| {
                let rows = grid.first_line()..grid.height();
                let part =
                    crate::ingest::rows::parse_rows(&grid, &layout, source, rows, context, path);
                let end = grid.height();
                spare.lock().unwrap_or_else(|e| e.into_inner()).push(grid);
                part.map(|part| (end, part))
            });
            (i, parsed.and_then(|p| p))
        })
        .collect();
    rest.sort_unstable_by_key(|(i, _)| *i);
    let mut parts = vec![first_part];
    for (_, parsed) in rest {
        let (end, next) = parsed?;
        height = end;
        parts.push(next);
    }
    Ok((parts, layout, height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_hash::FileHashes;
    use crate::ingest::pseudo::Pseudonymizer;
    use crate::ingest::{ROW_COLUMN, Reason};
    use crate::reference::Reference;

    /// Batch boundaries fall on blank lines, between a row and its
    /// duplicate, and before the Total row; only some batches have an
    /// undeclared column: the result never changes.
    #[test]
    fn csv_batches_give_the_same_table_as_one_pass() {
        let dir = crate::repository().join("tests/fixtures/ingest");
        let pipeline = crate::pipeline::load(&dir.join("csv_files.toml"), None, None).unwrap();
        let reference = Reference::load(&pipeline).unwrap();
        let pseudonymizer = Pseudonymizer::with_key(b"0123456789abcdef");
        let context = Context {
            reference: &reference,
            pseudonymizer: &pseudonymizer,
            known_hashes: &FileHashes::new(),
        };
        let source = &pipeline.sources["caf_comma"];
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
        let (text, _) = text::decode(path, text.as_bytes(), "utf-8").unwrap();
        let read = |first, rest| {
            let batching = Batching { first, rest };
            let (parts, layout, height) =
                read_csv(source, path, &text, &context, &batching).unwrap();
            let file = crate::ingest::rows::FileRows {
                parts,
                layout,
                path: path.to_owned(),
                sheet: None,
                height,
                encoding: None,
            };
            let finished = crate::ingest::rows::finish(vec![file], source.duplicates)
                .unwrap()
                .remove(0);
            (finished.frame, finished.report)
        };
        let (whole, report) = read(usize::MAX, usize::MAX);
        let accepted: Vec<Option<i64>> = whole
            .column(ROW_COLUMN)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(accepted, [Some(4), Some(6), Some(11)]);
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
        assert_eq!((report.rows_read, report.skipped), (14, 8));
        for (first, rest) in [(4, 1), (4, 2), (3, 3), (5, 4)] {
            let (frame, batched) = read(first, rest);
            assert!(
                frame.equals_missing(&whole),
                "batches of {first} then {rest}"
            );
            assert_eq!(
                format!("{:?}", batched.rejects),
                format!("{:?}", report.rejects)
            );
            assert_eq!((batched.rows_read, batched.skipped), (14, 8));
        }
    }
}
