//! The pipeline file: a serde model of the TOML, validated once into a
//! [`Pipeline`] that the rest of the crate trusts.

mod indicator;
mod kind;
mod load;

pub use indicator::{
    Coverage, DerivedTable, Direction, Finding, Indicator, Parameter, Secrecy, Target, YearTarget,
};
pub use kind::{Field, Kind, Quantity};
pub use load::load;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use toml::Spanned;

/// A validated pipeline, with the command line's overrides applied.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Where the pipeline file is; relative paths in it are resolved from its folder.
    pub path: PathBuf,
    pub settings: Settings,
    /// The year of the run (`--year` or `pipeline.year`).
    pub year: i32,
    /// The folder holding the input files (`--inputs` or `pipeline.inputs`).
    pub inputs: PathBuf,
    pub reference: ReferenceFiles,
    /// Sources in the order of their names (deterministic).
    pub sources: BTreeMap<String, Source>,
    /// Named values used in SQL as `{name}`, besides the built-in year ones.
    pub parameters: BTreeMap<String, Parameter>,
    /// Derived tables, in declaration order (each may use the earlier ones).
    pub tables: Vec<DerivedTable>,
    pub findings: Vec<Finding>,
    pub coverage: Vec<Coverage>,
    pub indicators: Vec<Indicator>,
    /// The file's text, to give line numbers in errors found later (SQL).
    text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A title for the outputs, e.g. `Convention pauvreté - Loire`.
    pub name: String,
    /// The département's name, used for the total line (e.g. `Loire`).
    pub departement: String,
    #[serde(deserialize_with = "plausible_year")]
    pub year: i32,
    /// Input folder, relative to the pipeline file.
    #[serde(default = "default_inputs")]
    pub inputs: String,
    /// Share of data rows (0 to 1) a source may reject before the run fails.
    #[serde(default = "default_reject_rate", deserialize_with = "share")]
    pub max_reject_rate: f64,
    /// Primary confidentiality threshold: counts from 1 to threshold - 1 are masked.
    #[serde(default = "default_threshold", deserialize_with = "positive")]
    pub confidentiality_threshold: u32,
    /// What a masked cell shows in published outputs.
    #[serde(default = "default_mask_symbol")]
    pub mask_symbol: String,
    /// Author written in the workbooks' document properties.
    #[serde(default)]
    pub author: Option<String>,
    /// Patterns of file names in the input folder that are never read nor
    /// taken for copies of a delivery (`["*.bak", "* (1).*"]`).
    #[serde(default)]
    pub ignore_files: Vec<String>,
    /// Read input files that are symbolic links. Off by default: in a drop
    /// folder others write into, a link named like a delivery would make a
    /// run read, and list in its rejects, any file the job can read.
    #[serde(default)]
    pub follow_links: bool,
}

fn default_inputs() -> String {
    "inputs".into()
}
fn default_reject_rate() -> f64 {
    0.05
}
/// A fraction from 0 to 1, checked while reading so the error has its line.
/// The years a run may cover, for `pipeline.year` and `--year` alike.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

fn plausible_year<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let year = i32::deserialize(d)?;
    if YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(serde::de::Error::custom(format!(
            "{year} is not a plausible year (expected {} to {})",
            YEARS.start(),
            YEARS.end()
        )))
    }
}

fn share<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!(
            "expected a share from 0 to 1 (0.05 is 5 %), found {value}"
        )))
    }
}

fn positive<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "expected a threshold of at least 1",
        )),
        n => Ok(n),
    }
}

fn default_mask_symbol() -> String {
    "s".into()
}
fn default_threshold() -> u32 {
    5
}

/// Where the reference tables (the département's own) are, relative to the
/// pipeline file; [`crate::reference::Reference`] holds them loaded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceFiles {
    /// CSV with columns `code_commune` and `territoire`.
    pub territories: String,
    /// CSV with columns `code_ancien` and `code_actuel` (optional).
    #[serde(default)]
    pub commune_passage: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// French label for reports, e.g. `CAF - foyers RSA`.
    #[serde(default)]
    pub label: Option<String>,
    /// File name pattern in the input folder: `{year}` is replaced by the
    /// run's year; `*` and `?` match anything (e.g. `pole_emploi_brsa_{year}.*`).
    pub file: Spanned<String>,
    /// The sheets read in a workbook: a name, a list of names or a pattern
    /// (`"2019-*"`); the first visible worksheet when absent.
    #[serde(default, deserialize_with = "sheets")]
    pub sheet: Sheets,
    /// `auto` (detected), `utf-8` or `windows-1252`; CSV only.
    #[serde(default, deserialize_with = "encoding")]
    pub encoding: suivi_read::csv::Encoding,
    /// `auto` (sniffed) or a single character; CSV only.
    #[serde(default, deserialize_with = "delimiter")]
    pub delimiter: suivi_read::csv::Delimiter,
    /// `auto` (detected) or the 1-based row number of the header.
    #[serde(default)]
    pub header_row: HeaderRow,
    /// What a row equal to an earlier one in every column is.
    #[serde(default)]
    pub duplicates: Duplicates,
    /// The source gathers every file its pattern matches (duplicates are
    /// then looked for across them); otherwise it matches exactly one.
    #[serde(default)]
    pub several_files: bool,
    /// The date or month column placing a row in time, for the months a
    /// delivery covers; by default the source's only `month` column.
    #[serde(default)]
    pub dated_by: Option<Spanned<String>>,
    /// How many months a delivery may stop before the run's month during
    /// the year before a warning: a partner exports month M some weeks after.
    #[serde(default = "default_lag")]
    pub max_lag_months: u32,
    pub columns: Vec<Column>,
}

fn encoding<'de, D: serde::Deserializer<'de>>(d: D) -> Result<suivi_read::csv::Encoding, D::Error> {
    let name = String::deserialize(d)?;
    suivi_read::csv::Encoding::from_name(&name).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "the encoding must be \"auto\", \"utf-8\" or \"windows-1252\", found \"{name}\""
        ))
    })
}

/// A byte of its own: the splitter cuts lines at that byte, before decoding
/// them, and a quote or line break is CSV's own.
fn delimiter<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<suivi_read::csv::Delimiter, D::Error> {
    let name = String::deserialize(d)?;
    suivi_read::csv::Delimiter::from_name(&name).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "the delimiter must be \"auto\" or one ASCII character other than a quote or line \
             break, found \"{name}\""
        ))
    })
}

/// Which sheets of a workbook a source reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sheets {
    /// The first visible worksheet.
    #[default]
    First,
    /// One sheet, by its name.
    Named(String),
    /// Every sheet listed, each of which must be there, read in the
    /// workbook's order (a sheet per month, per site).
    Listed(Vec<String>),
    /// Every visible worksheet whose name matches a pattern with `*` (any
    /// characters) and `?` (one), which no sheet name can hold.
    Matching(String),
}

fn sheets<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Sheets, D::Error> {
    struct Written;
    impl<'de> serde::de::Visitor<'de> for Written {
        type Value = Sheets;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "a sheet's name, a list of names ([\"Janvier\", \"Février\"]) or a pattern \
                 (\"2019-*\")",
            )
        }

        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Sheets, E> {
            if name.trim().is_empty() {
                Err(E::custom("a sheet's name cannot be empty"))
            } else if name.contains(['*', '?']) {
                Ok(Sheets::Matching(name.to_owned()))
            } else {
                Ok(Sheets::Named(name.to_owned()))
            }
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Sheets, A::Error> {
            use serde::de::Error as _;
            let mut names: Vec<String> = Vec::new();
            let mut seen = std::collections::BTreeSet::new();
            while let Some(name) = seq.next_element::<String>()? {
                if name.trim().is_empty() {
                    return Err(A::Error::custom("a sheet's name cannot be empty"));
                }
                if name.contains(['*', '?']) {
                    return Err(A::Error::custom(
                        "a list of sheets holds names, not patterns: write a pattern alone \
                         (sheet = \"2019-*\")",
                    ));
                }
                if !seen.insert(crate::text::normalize(&name)) {
                    return Err(A::Error::custom(format!(
                        "the sheet '{name}' is listed twice"
                    )));
                }
                names.push(name);
            }
            if names.is_empty() {
                return Err(A::Error::custom(
                    "the list of sheets is empty: name at least one, or leave `sheet` out",
                ));
            }
            Ok(Sheets::Listed(names))
        }
    }
    d.deserialize_any(Written)
}

fn default_lag() -> u32 {
    2
}

/// What a row that repeats an earlier row in every column is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Duplicates {
    /// A duplicate (rejected, counted once) when its identifier column is
    /// filled; otherwise an event (a session, a payment): kept and listed as
    /// a possible double entry.
    #[default]
    Auto,
    /// Always a duplicate.
    Reject,
    /// Always kept, and listed as a possible double entry.
    Keep,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeaderRow {
    #[default]
    Auto,
    /// 1-based, as a spreadsheet program shows it.
    Row(u32),
}

impl<'de> Deserialize<'de> for HeaderRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Row(u32),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Row(0) => Err(serde::de::Error::custom("header_row counts from 1")),
            Raw::Row(n) => Ok(HeaderRow::Row(n)),
            Raw::Word(w) if w == "auto" => Ok(HeaderRow::Auto),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected \"auto\" or a row number, found \"{w}\""
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Logical name used in SQL: lowercase letters, digits and `_`.
    pub name: Spanned<String>,
    /// The header as the partner writes it.
    pub header: String,
    /// Other spellings of the header.
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// A row missing a required value is rejected.
    #[serde(default)]
    pub required: bool,
    /// A file may lack this column (it is then left empty, and `check` and
    /// the quality workbook say so). Otherwise a file without it fails.
    #[serde(default)]
    pub may_be_absent: bool,
    /// Identifiers only: digits-only values are left-padded with zeros to this width.
    #[serde(default)]
    pub width: Option<usize>,
    /// Categories only: the allowed values, as they appear in outputs.
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// A personal identifier: pseudonymised at ingest, never output.
    Id,
    Date,
    /// A month (`AAAAMM`, `MM/AAAA`), stored as the first day of the month.
    Month,
    Integer,
    Decimal,
    /// Oui/Non, O/N, 1/0, X/empty, Vrai/Faux, True/False; empty means no.
    Bool,
    Text,
    /// An INSEE commune code, mapped from old codes, checked against the reference.
    Commune,
    /// One of the declared `values`, matched ignoring case and accents.
    Category,
}

impl Pipeline {
    /// A reference file's path, resolved against the pipeline file's folder.
    pub fn reference_path(&self, relative: &str) -> PathBuf {
        self.path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(relative)
    }

    /// An error in the pipeline file at a span of it.
    pub fn error_at(&self, span: std::ops::Range<usize>, message: String) -> crate::Error {
        crate::Error::Pipeline {
            path: self.path.clone(),
            line: Some(load::line_of(&self.text, span.start)),
            message,
        }
    }

    /// The column placing a source's rows in time: `dated_by`, or its only
    /// `month` column; None for a source not placed in time.
    pub fn dated_by<'a>(&self, source: &'a Source) -> Option<&'a str> {
        if let Some(column) = &source.dated_by {
            return Some(column.get_ref());
        }
        let mut months = source
            .columns
            .iter()
            .filter(|c| c.kind == ColumnType::Month);
        match (months.next(), months.next()) {
            (Some(only), None) => Some(only.name.get_ref()),
            _ => None,
        }
    }

    /// The source's file pattern with the year substituted.
    pub fn file_pattern(&self, source: &Source) -> String {
        source
            .file
            .get_ref()
            .replace("{year}", &self.year.to_string())
    }
}

/// The raw file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    pipeline: Settings,
    reference: ReferenceFiles,
    sources: BTreeMap<String, Source>,
    #[serde(default)]
    parameters: BTreeMap<String, Parameter>,
    #[serde(default)]
    tables: Vec<DerivedTable>,
    #[serde(default)]
    findings: Vec<Finding>,
    #[serde(default)]
    coverage: Vec<Coverage>,
    #[serde(default)]
    indicators: Vec<Indicator>,
}
