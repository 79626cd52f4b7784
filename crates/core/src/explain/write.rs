//! The whole listing into a file: CSV (UTF-8, `;`) for tools, or a French
//! workbook marked for internal use (it leads to persons through the
//! partners' files).

use super::Explanation;
use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::report::neutralise;
use std::path::{Path, PathBuf};

/// The listing's fixed columns, before the values the indicator reads.
pub const COLUMNS: [&str; 8] = [
    "unite",
    "numerateur",
    "denominateur",
    "valeur",
    "source",
    "fichier",
    "feuille",
    "ligne",
];

/// A number as the CSV writes it: its shortest exact text, empty for none.
pub fn number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Each line of the listing as text, in [`COLUMNS`] order then the values.
pub fn records(explanation: &Explanation) -> Vec<Vec<String>> {
    explanation
        .lines
        .iter()
        .map(|line| {
            let mut record = vec![
                line.unit.to_string(),
                number(line.numerator),
                number(line.denominator),
                number(line.value),
                line.source.clone(),
                line.file.clone(),
                line.sheet.clone(),
                line.row.map(|r| r.to_string()).unwrap_or_default(),
            ];
            record.extend(line.values.iter().cloned());
            record
        })
        .collect()
}

/// Writes the listing to `path`: `.xlsx` as a workbook, anything else as CSV.
pub fn write(
    pipeline: &crate::pipeline::Pipeline,
    explanation: &Explanation,
    path: &Path,
) -> Result<PathBuf> {
    let is_xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if is_xlsx {
        return crate::report::workbooks::write_explanation(pipeline, explanation, path);
    }
    write_atomic(path, |file| {
        let fail = |e: csv::Error| Error::io(format!("writing {}", path.display()), e.into());
        let mut writer = csv::WriterBuilder::new().delimiter(b';').from_writer(file);
        let header = COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(explanation.columns.iter().cloned());
        writer.write_record(header).map_err(fail)?;
        for record in records(explanation) {
            writer
                .write_record(record.iter().map(|t| neutralise(t).into_owned()))
                .map_err(fail)?;
        }
        writer
            .flush()
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    })
}
