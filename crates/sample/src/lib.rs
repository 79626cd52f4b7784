//! Seeded synthetic generator of the four partner files of a year.
//!
//! # The model
//!
//! [`build`] simulates one year *Y* of the Loire's RSA and convention data,
//! deterministically from [`SampleOptions::seed`] mixed with the year (one
//! ChaCha8 stream per file; no hash order, no clock). The result,
//! [`SampleData`], is the **clean truth**: the records a perfect reader
//! accepts, from which tests recompute the indicators. [`write`] puts them
//! into the files of `docs/DOMAIN.md` ("Source contracts"), plus
//! `expected_rejects.csv`.
//!
//! Volumes are those of the real Loire at `scale = 1` and are multiplied by
//! `scale` (with a floor of a handful of each kind at small scales):
//!
//! - **CAF** (`caf_rsa_<Y>.csv`): about 20,000 households in stock each month
//!   (rights opened before *Y*) and about 4,200 rights opened in *Y*, one row
//!   per household per month with an open right (about 240,000 rows). About
//!   90 % of new entrants are SDD (some only from their 2nd month), about 8 %
//!   of the stock is not. Closures happen every month (ETATDRT 5/6 on the
//!   closing month, then no row), 3 % of rows are suspensions (3/4, amount
//!   0). 3 % of households move, some across territories. About 1.5 % live in
//!   a merged commune (La Côte-Saint-Didier, Solore-en-Forez): up to 2021
//!   their rows, and all partner rows about them, carry the *old* code of the
//!   passage table (to map, not to reject). The least populated territory
//!   gets no new entrant in August and exactly 3 in May (small cells for the
//!   confidentiality rules). NUMALLOC are 7-digit text, about 12 % with a
//!   leading zero.
//! - **Département** (`departement_insertion_<Y>.xlsx`): `Orientations` (85 %
//!   of new entrants oriented, delay mostly 5-110 days, mean about 40, half
//!   within 30; 1.5 % dated *before* the opening; 4 % with a second row;
//!   some oriented in January *Y+1*; rows "to orient" with no orientation
//!   date, type nor organisme; older households oriented in *Y* or *Y-1*;
//!   a few numéros absent from the CAF file), `Contrats aidés`, `Jeunes ASE`
//!   (identifiers `J<Y>-00042`), `Accueil social`, `Initiatives`
//!   (beneficiaries `B000123`).
//! - **Pôle emploi** (`pole_emploi_brsa_<Y>.xlsx`, sheet `BRSA`): the
//!   `N° allocataire CAF` is an Excel *number* (leading zeros lost), mostly
//!   numéros of the CAF file.
//! - **Finance** (`finances_<Y>.xlsx`): the real convention totals (2019: 10
//!   actions, 575,041 / 875,400 EUR; 2020 and later: 31 actions,
//!   1,088,327 / 2,110,143 EUR). `Maison kangourou itinérante` has no State
//!   amount (empty cell) but a State payment (undefined rate); one action
//!   has no State payment (0 %); a few payments fall in December *Y-1* and
//!   January *Y+1*.
//!
//! No date of any file is after 31 January *Y+1* (the extraction date).
//!
//! # Clean mode
//!
//! Headers exactly as `docs/DOMAIN.md`, header on the first line/row. CSV in
//! Windows-1252, `;`, CRLF, decimal comma, dates `JJ/MM/AAAA`, MOISREF
//! `AAAAMM`. Workbooks: dates are real Excel dates (`dd/mm/yyyy`), booleans
//! `Oui`/`Non`, communes and identifiers text (except the Pôle emploi
//! numéro), amounts numbers. `expected_rejects.csv` has only its header.
//!
//! # Messy mode
//!
//! The same clean records, written the way real exports drift:
//!
//! - CSV: the line `Extraction CAF de la Loire – RSA – année <Y>` and an empty
//!   line above the header; the columns in another order, one of them
//!   undeclared, accented, and holding accented names: header
//!   `NumAlloc;MOISREF;CODCOM;Libellé commune;DTOUVDRT;SDD;ETATDRT;NBPERS ;
//!   MTRSAVERS`; a few MOISREF written `MM/AAAA`; a trailing `;;;;;;;` line
//!   and an empty line.
//! - Workbooks: each sheet starts with a title row, an `Édité le 03/02/<Y+1>`
//!   row and an empty row (header on row 4); `Accueil social`, `Initiatives`
//!   and `Mandats` end with a `Total` row; every sheet ends with two blank
//!   (formatted) rows. Headers vary in case, accents, punctuation and spaces
//!   (see `write.rs`, `*_HEADERS_MESSY`).
//! - Per row, dates are real Excel dates, serial numbers in General format,
//!   or text `JJ/MM/AAAA`, `JJ/MM/AA`, `AAAA-MM-JJ`, `JJ/MM/AAAA HH:MM`;
//!   booleans `Oui`/`Non`, `O`/`N`, numbers `1`/`0`, `X`/empty, `oui`/`non`;
//!   per cell, some communes are numbers, some counts text (`12`), some
//!   amounts text `1234,56`, `1 234,56` (space, U+00A0 or U+202F) or
//!   `1 234,56 €`.
//! - Bad rows are injected (not in [`SampleData`]) and listed in
//!   `expected_rejects.csv` (`file;sheet;row;column;reason`, row numbers as a
//!   spreadsheet shows them, header and title rows counted; CSV line
//!   numbers): reasons `date` (`31/02/<Y>`, `pas de date`, `<Y>-13-45`),
//!   `commune` (`42999`, `69123`) and `duplicate` (exact copy of a clean row
//!   that identifies a person or a household, right after it or later;
//!   empty column). Each has exactly one problem:
//!   in the CAF CSV 3 dates, 2 communes, 2 duplicates; in `Orientations`
//!   2 dates, 1 commune, 1 duplicate; `Accueil social` 1 date and 1
//!   commune; `BRSA` 1 of each; `Initiatives` 1 date, 1 commune, 2
//!   duplicates (of individual rows).

mod model;
mod simulate;
mod write;

pub use model::*;

use std::path::{Path, PathBuf};

/// Options of the generator.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOptions {
    /// Year *Y* simulated.
    pub year: i32,
    /// Volume multiplier (1 = the real Loire).
    pub scale: f64,
    /// Seed of the random streams (mixed with the year).
    pub seed: u64,
    /// Write drifting exports with injected bad rows.
    pub messy: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            year: 2019,
            scale: 1.0,
            seed: 42,
            messy: false,
        }
    }
}

/// Errors while writing the files.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write workbook {path}: {source}")]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
}

/// Records generated for a year, as plain public structs (the truth that
/// tests recompute indicators from).
pub fn build(opts: &SampleOptions) -> SampleData {
    simulate::build(opts)
}

/// Writes the files into `out` (created if missing); returns the paths
/// written: the CAF CSV, the Département, Pôle emploi and finance workbooks,
/// then `expected_rejects.csv`.
pub fn write(
    data: &SampleData,
    opts: &SampleOptions,
    out: &Path,
) -> Result<Vec<PathBuf>, SampleError> {
    write::write(data, opts, out)
}

/// Writes the clean files of `opts` with every sheet as its own CSV file,
/// at any scale: the CAF rows are streamed, never all held. Returns the
/// paths written. `opts.messy` is not supported here.
pub fn write_csv(opts: &SampleOptions, out: &Path) -> Result<Vec<PathBuf>, SampleError> {
    let (data, caf) = simulate::build_streamed(opts);
    write::write_csv(&data, &caf, opts, out)
}

/// The CSV file a workbook's sheet is exported to on its own:
/// `departement_insertion_2020` and `Contrats aidés` give
/// `departement_insertion_2020_contrats_aides.csv`.
pub fn sheet_csv_file(workbook_stem: &str, sheet: &str) -> String {
    let slug = suivi_core::text::normalize(sheet).replace(' ', "_");
    format!("{workbook_stem}_{slug}.csv")
}

#[cfg(test)]
mod tests;

/// A copy of the pipeline, written beside the inputs, that reads every sheet
/// source from its own CSV file (named by [`sheet_csv_file`]).
pub fn csv_pipeline(pipeline: &Path, inputs: &Path) -> suivi_core::Result<PathBuf> {
    let fail = |message: String| suivi_core::Error::Pipeline {
        path: pipeline.to_owned(),
        line: None,
        message,
    };
    let text = std::fs::read_to_string(pipeline)
        .map_err(|e| suivi_core::Error::io(format!("reading {}", pipeline.display()), e))?;
    let mut table: toml::Table = text.parse().map_err(|e| fail(format!("{e}")))?;
    let folder = pipeline
        .parent()
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map_err(|e| suivi_core::Error::io(format!("resolving {}", pipeline.display()), e))?;
    // The copy lives elsewhere: reference paths become absolute.
    if let Some(toml::Value::Table(reference)) = table.get_mut("reference") {
        for (_, value) in reference.iter_mut() {
            if let toml::Value::String(path) = value {
                *path = folder.join(path.as_str()).to_string_lossy().into_owned();
            }
        }
    }
    if let Some(toml::Value::Table(sources)) = table.get_mut("sources") {
        for (_, source) in sources.iter_mut() {
            let Some(source) = source.as_table_mut() else {
                continue;
            };
            let Some(toml::Value::String(sheet)) = source.remove("sheet") else {
                continue;
            };
            let file = source.get("file").and_then(|f| f.as_str()).unwrap_or("");
            let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
            let csv = sheet_csv_file(stem, &sheet);
            source.insert("file".into(), toml::Value::String(csv));
        }
    }
    let path = inputs.join("pipeline_csv.toml");
    let text = toml::to_string(&table).map_err(|e| fail(format!("{e}")))?;
    std::fs::write(&path, text)
        .map_err(|e| suivi_core::Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}
