//! Everything the run writes: the long indicator table (CSV, Parquet), later
//! the workbooks. Each file is written whole to a temporary file in the
//! destination folder, then renamed into place.

pub mod changes;
pub mod indicator_table;
pub mod workbooks;

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Who a CSV table is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvReader {
    /// Tools: UTF-8, `;`, decimal points.
    Tools,
    /// A French spreadsheet program: a UTF-8 byte order mark (without it
    /// French Excel reads the text as Windows-1252), `;` and decimal commas
    /// (with points it reads the numbers as text).
    FrenchExcel,
}

impl CsvReader {
    /// A field as this reader wants it: numbers with a decimal comma for
    /// French Excel, anything else as it is.
    pub fn field<'a>(self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self == CsvReader::FrenchExcel && text.contains('.') && text.parse::<f64>().is_ok() {
            text.replace('.', ",").into()
        } else {
            text.into()
        }
    }
}

/// Writes a `;`-separated table atomically for `reader`: its `header`, then
/// each record, each field through [`CsvReader::field`].
pub fn write_csv_table<R, F>(
    path: &Path,
    header: &[&str],
    records: impl IntoIterator<Item = R>,
    reader: CsvReader,
) -> Result<PathBuf>
where
    R: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    crate::output::write_atomic(path, |file| {
        let io = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
        if reader == CsvReader::FrenchExcel {
            file.write_all("\u{feff}".as_bytes()).map_err(io)?;
        }
        let fail = |e: csv::Error| Error::io(format!("writing {}", path.display()), e.into());
        let mut writer = csv::WriterBuilder::new().delimiter(b';').from_writer(file);
        writer.write_record(header).map_err(fail)?;
        for record in records {
            let fields: Vec<String> = record
                .into_iter()
                .map(|f| reader.field(f.as_ref()).into_owned())
                .collect();
            writer.write_record(&fields).map_err(fail)?;
        }
        writer.flush().map_err(io)
    })
}

/// Text that a spreadsheet would take for a formula gets a leading quote;
/// numbers written as text (`-12.5`) are left alone.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if text.trim().parse::<f64>().is_err() => {
            format!("'{text}").into()
        }
        _ => text.into(),
    }
}

/// How figures are protected in this run's outputs.
#[derive(Debug, Clone)]
pub struct Confidentiality {
    /// Counts from 1 to threshold - 1 are masked (primary rule).
    pub threshold: u32,
    /// What a masked cell shows.
    pub symbol: String,
    /// Internal mode: unmasked figures, every file and sheet marked restricted.
    pub internal: bool,
}

/// Everything the writers need, computed once by the run.
pub struct ReportContext<'a> {
    pub pipeline: &'a crate::pipeline::Pipeline,
    /// The long table, masked (unless internal), in catalogue order.
    pub rows: &'a [crate::indicators::rows::Row],
    /// What changed since the previous run into the same folder.
    pub changes: &'a changes::Changes,
    pub files: &'a [crate::ingest::FileReport],
    pub findings: &'a [crate::indicators::FindingResult],
    pub coverage: &'a [crate::indicators::CoverageResult],
    /// Identical rows behind the funders' figures, and those figures without them.
    pub double_entries: &'a crate::indicators::double_entries::DoubleEntries,
    /// The latest date in the inputs: the as-of date shown and the workbooks' creation time.
    pub as_of: chrono::NaiveDate,
    /// The months each time-placed source covers (data only, no run date).
    pub deliveries: &'a [crate::delivery::Delivery],
    pub has_previous: bool,
    /// The previous year's deliveries missing, described for readers.
    pub previous_missing: &'a [String],
    pub confidentiality: Confidentiality,
}

impl ReportContext<'_> {
    /// `rapport_execution` → `rapport_execution_2020.xlsx`, or
    /// `rapport_execution_2020_interne.xlsx` in internal mode.
    pub fn file_name(&self, stem: &str, extension: &str) -> String {
        crate::output::file_name(
            self.pipeline.year,
            self.confidentiality.internal,
            stem,
            extension,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("+33 6 12"), "'+33 6 12");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("-12.5"), "-12.5");
        assert_eq!(neutralise("Saint-Étienne"), "Saint-Étienne");
    }
}
