//! What changed since the previous run into the same folder: the published
//! cells whose value differs (`changements_<Y>.csv`, and the quality
//! workbook's *Changements* sheet), and the input files added, removed or
//! changed. Values compare as `indicateurs_<Y>.csv` writes them, so a masked
//! cell compares as its symbol and nothing masked is revealed.

use super::indicator_table::{self, CellId};
use super::{CsvReader, write_csv_table};
use crate::error::Result;
use crate::indicators::rows::Row;
use crate::ingest::FileReport;
use crate::output::manifest::Input;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A published cell whose value differs from the previous run's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellChange {
    /// Indicator, territory, month (empty for the year), breakdown value.
    pub cell: CellId,
    /// Empty when the cell did not exist before.
    pub before: String,
    /// Empty when the cell no longer exists.
    pub after: String,
}

impl CellChange {
    /// The change as [`COLUMNS`] lists it.
    pub fn fields(&self) -> [&String; 6] {
        let [indicator, territory, month, breakdown] = &self.cell;
        [
            indicator,
            territory,
            month,
            breakdown,
            &self.before,
            &self.after,
        ]
    }
}

/// How an input file differs from the previous run's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputStatus {
    Added,
    Removed,
    /// Other bytes (another SHA-256).
    Changed,
    /// The same bytes, other rejects (the pipeline or the reference changed).
    RejectsChanged,
}

/// An input file (or sheet) that differs from the previous run's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputChange {
    pub file: String,
    pub sheet: Option<String>,
    pub status: InputStatus,
    /// Rows read and rejected, before and after (None where the file is absent).
    pub read: (Option<usize>, Option<usize>),
    pub rejected: (Option<usize>, Option<usize>),
}

/// Everything that changed since the previous run, or nothing with no previous run.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Whether a previous run's table was found to compare with.
    pub previous_run: bool,
    pub cells: Vec<CellChange>,
    pub inputs: Vec<InputChange>,
}

pub const COLUMNS: [&str; 6] = [
    "indicateur",
    "territoire",
    "mois",
    "ventilation",
    "avant",
    "apres",
];

/// Compares this run's rows and files with what the previous run left in
/// `out`: its indicator table `table` and its manifest's inputs.
pub fn since_previous_run(
    out: &Path,
    table: &str,
    previous_inputs: Option<&[Input]>,
    rows: &[Row],
    symbol: &str,
    files: &[FileReport],
) -> Changes {
    let Some(before) = read_previous(&out.join(table)) else {
        return Changes::default();
    };
    let after = indicator_table::published(rows, symbol);
    Changes {
        previous_run: true,
        cells: cell_changes(&before, &after),
        inputs: previous_inputs
            .map(|inputs| input_changes(inputs, files))
            .unwrap_or_default(),
    }
}

/// The cells of `after` whose value differs from `before`, in `after`'s
/// order, then the cells that disappeared, in `before`'s order.
pub fn cell_changes(before: &[(CellId, String)], after: &[(CellId, String)]) -> Vec<CellChange> {
    let old: HashMap<&CellId, &str> = before.iter().map(|(k, v)| (k, v.as_str())).collect();
    let new: HashMap<&CellId, &str> = after.iter().map(|(k, v)| (k, v.as_str())).collect();
    let mut changes: Vec<CellChange> = after
        .iter()
        .filter(|(cell, value)| old.get(cell) != Some(&value.as_str()))
        .map(|(cell, value)| CellChange {
            cell: cell.clone(),
            before: old.get(cell).map(|v| v.to_string()).unwrap_or_default(),
            after: value.clone(),
        })
        .collect();
    changes.extend(
        before
            .iter()
            .filter(|(cell, _)| !new.contains_key(cell))
            .map(|(cell, value)| CellChange {
                cell: cell.clone(),
                before: value.clone(),
                after: String::new(),
            }),
    );
    changes
}

fn input_changes(before: &[Input], files: &[FileReport]) -> Vec<InputChange> {
    let key = |file: &str, sheet: &Option<String>| (file.to_owned(), sheet.clone());
    let old: HashMap<(String, Option<String>), &Input> =
        before.iter().map(|i| (key(&i.file, &i.sheet), i)).collect();
    let mut changes = Vec::new();
    let mut seen = Vec::new();
    for report in files {
        let id = key(&report.file_name(), &report.sheet);
        let previous = old.get(&id);
        seen.push(id.clone());
        let status = match previous {
            None => InputStatus::Added,
            Some(p) if p.sha256 != report.sha256 => InputStatus::Changed,
            Some(p) if p.rejected != report.rejected() => InputStatus::RejectsChanged,
            Some(_) => continue,
        };
        changes.push(InputChange {
            file: id.0,
            sheet: id.1,
            status,
            read: (previous.map(|p| p.rows_read), Some(report.rows_read)),
            rejected: (previous.map(|p| p.rejected), Some(report.rejected())),
        });
    }
    for input in before {
        if !seen.contains(&key(&input.file, &input.sheet)) {
            changes.push(InputChange {
                file: input.file.clone(),
                sheet: input.sheet.clone(),
                status: InputStatus::Removed,
                read: (Some(input.rows_read), None),
                rejected: (Some(input.rejected), None),
            });
        }
    }
    changes
}

/// The previous run's published values, if its table is there and readable.
fn read_previous(path: &Path) -> Option<Vec<(CellId, String)>> {
    if !path.is_file() {
        return None;
    }
    match indicator_table::read_published(path) {
        Ok(values) => Some(values),
        Err(e) => {
            // Compared with nothing rather than with a table misread.
            tracing::warn!("the previous run's table cannot be compared with: {e}");
            None
        }
    }
}

/// `changements_<Y>.csv`: UTF-8, `;`, one row per changed cell; only its
/// header with no previous run.
pub fn write_csv(path: &Path, changes: &Changes, reader: CsvReader) -> Result<PathBuf> {
    let records = changes.cells.iter().map(CellChange::fields);
    write_csv_table(path, &COLUMNS, records, reader)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(indicator: &str, month: &str, value: &str) -> (CellId, String) {
        (
            [
                indicator.to_owned(),
                "Loire".to_owned(),
                month.to_owned(),
                String::new(),
            ],
            value.to_owned(),
        )
    }

    #[test]
    fn changed_appearing_and_disappearing_cells_are_listed_once() {
        let before = [cell("A", "", "10"), cell("A", "1", "s"), cell("B", "", "3")];
        let after = [cell("A", "", "12"), cell("A", "1", "s"), cell("C", "", "7")];
        let changes = cell_changes(&before, &after);
        let listed: Vec<(&str, &str, &str)> = changes
            .iter()
            .map(|c| (c.cell[0].as_str(), c.before.as_str(), c.after.as_str()))
            .collect();
        assert_eq!(listed, [("A", "10", "12"), ("C", "", "7"), ("B", "3", "")]);
    }
}
