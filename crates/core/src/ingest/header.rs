//! Finding the header row and the declared columns in it.

use crate::error::{Error, Result};
use crate::pipeline::{Column, HeaderRow, Source};
use crate::text::normalize;
use std::path::Path;
use suivi_read::Grid;

/// How far down a sheet the header may be.
pub const HEADER_SEARCH_ROWS: usize = 50;

pub struct Layout {
    /// 0-based index of the header row.
    pub header_row: usize,
    /// For each declared column, its position in the sheet (None: absent, optional).
    pub positions: Vec<Option<usize>>,
    /// For each declared column, the header text as the file writes it.
    pub written: Vec<String>,
    /// Declared columns that may be absent and are: their headers.
    pub absent: Vec<String>,
    /// The other headers of the header row, normalised, by position: rows
    /// of two files are compared on their undeclared columns by name.
    pub undeclared: Vec<(usize, String)>,
}

impl Layout {
    /// The name of an undeclared column, as rows are compared on it.
    pub fn undeclared_name(&self, position: usize) -> std::borrow::Cow<'_, str> {
        match self.undeclared.binary_search_by_key(&position, |(c, _)| *c) {
            Ok(i) => self.undeclared[i].1.as_str().into(),
            Err(_) => format!("#{position}").into(),
        }
    }
}

fn names(column: &Column) -> Vec<String> {
    std::iter::once(&column.header)
        .chain(&column.aliases)
        .map(|h| normalize(h))
        .collect()
}

pub fn locate(
    grid: &dyn Grid,
    source: &Source,
    file: &Path,
    sheet: Option<&str>,
) -> Result<Layout> {
    let wanted: Vec<Vec<String>> = source.columns.iter().map(names).collect();
    // (column, normalised text) of a row's non-blank cells.
    let row_headers = |row: usize| -> Vec<(usize, String)> {
        grid.row_cells(row)
            .into_iter()
            .map(|(c, cell)| (c, normalize(&cell.display())))
            .collect()
    };
    let matches = |headers: &[(usize, String)]| {
        wanted
            .iter()
            .filter(|names| headers.iter().any(|(_, h)| names.contains(h)))
            .count()
    };

    if grid.height() == 0 {
        return Err(Error::input(
            file,
            sheet,
            "the sheet is empty: no header row",
        ));
    }
    let header_row = match source.header_row {
        HeaderRow::Row(n) => {
            let row = n as usize - 1;
            if row >= grid.height() {
                return Err(Error::input(
                    file,
                    sheet,
                    format!(
                        "header_row = {n} but the sheet has only {} rows",
                        grid.height()
                    ),
                ));
            }
            row
        }
        HeaderRow::Auto => {
            let mut best = (0, 0);
            for row in 0..grid.height().min(HEADER_SEARCH_ROWS) {
                let score = matches(&row_headers(row));
                if score > best.0 {
                    best = (score, row);
                }
            }
            let needed = source.columns.len().div_ceil(2);
            if best.0 < needed {
                let expected: Vec<&str> =
                    source.columns.iter().map(|c| c.header.as_str()).collect();
                return Err(Error::input(
                    file,
                    sheet,
                    format!(
                        "no header row found in the first {HEADER_SEARCH_ROWS} rows: expected headers such as {}",
                        quoted_list(&expected)
                    ),
                ));
            }
            best.1
        }
    };

    let headers = row_headers(header_row);
    let mut positions = Vec::with_capacity(wanted.len());
    let mut written = Vec::with_capacity(wanted.len());
    let mut missing = Vec::new();
    let mut absent = Vec::new();
    for (column, names) in source.columns.iter().zip(&wanted) {
        let position = headers
            .iter()
            .find(|(_, h)| names.contains(h))
            .map(|(c, _)| *c);
        match position {
            Some(c) => written.push(grid.cell(header_row, c).display().trim().to_owned()),
            None => {
                written.push(column.header.clone());
                if column.may_be_absent {
                    tracing::warn!(
                        file = %file.display(),
                        sheet = sheet.unwrap_or(""),
                        "column '{}' is absent (the pipeline allows it): left empty",
                        column.header
                    );
                    absent.push(column.header.clone());
                } else {
                    missing.push(column);
                }
            }
        }
        positions.push(position);
    }
    if !missing.is_empty() {
        // Headers of the row that no declared column took: the likely misspellings.
        let taken: Vec<usize> = positions.iter().flatten().copied().collect();
        let found: Vec<(usize, String)> = grid
            .row_cells(header_row)
            .iter()
            .map(|(c, cell)| (*c, cell.display().trim().to_owned()))
            .collect();
        let described: Vec<String> = missing
            .iter()
            .map(|column| {
                let closest = found
                    .iter()
                    .filter(|(c, _)| !taken.contains(c))
                    .map(|(_, h)| {
                        (
                            strsim::normalized_levenshtein(
                                &normalize(h),
                                &normalize(&column.header),
                            ),
                            h,
                        )
                    })
                    .filter(|(score, _)| *score >= 0.5)
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                match closest {
                    Some((_, header)) => format!(
                        "'{}' (did you mean '{}'? if so, add it to the column's aliases)",
                        column.header,
                        shorten(header)
                    ),
                    None => format!("'{}'", column.header),
                }
            })
            .collect();
        // A message, not a copy of the row: the first headers, each cut.
        const LISTED: usize = 30;
        let mut listed: Vec<String> = found.iter().take(LISTED).map(|(_, h)| shorten(h)).collect();
        if found.len() > LISTED {
            listed.push(format!("… and {} more", found.len() - LISTED));
        }
        let found: Vec<&str> = listed.iter().map(String::as_str).collect();
        return Err(Error::input(
            file,
            sheet,
            format!(
                "declared column{} {} not found in the header (row {}); headers found: {}. \
                 A column that files may lack is declared with `may_be_absent = true`",
                if missing.len() > 1 { "s" } else { "" },
                described.join(", "),
                header_row + 1,
                quoted_list(&found)
            ),
        ));
    }
    let taken: Vec<usize> = positions.iter().flatten().copied().collect();
    let undeclared = headers
        .into_iter()
        .filter(|(c, _)| !taken.contains(c))
        .collect();
    Ok(Layout {
        header_row,
        positions,
        written,
        absent,
        undeclared,
    })
}

/// A header as messages show it: a huge cell is cut.
fn shorten(header: &str) -> String {
    crate::text::shorten(header, 60)
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}
