//! The territory reference: commune → territory, former commune codes →
//! current ones. A département replaces these files with its own; nothing
//! here knows the Loire.

use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Reference {
    /// Current commune code → territory name.
    territory_of: HashMap<String, String>,
    /// Current commune codes → index in `codes`.
    index_of: HashMap<String, u32, foldhash::fast::FixedState>,
    /// Former commune codes of the passage table → index of the current
    /// code in `codes`, and of the former code in `former_codes`.
    former_of: HashMap<String, (u32, u32), foldhash::fast::FixedState>,
    /// Normalised commune name → code, for files that write names instead of codes.
    code_of_name: HashMap<String, String>,
    /// Commune code, current or former → its name, where the tables give one.
    name_of_code: HashMap<String, String>,
    /// Territory names, sorted.
    pub territories: Vec<String>,
    /// Current commune codes, sorted: ingest stores a commune as its index here.
    codes: Arc<[String]>,
    /// Former commune codes, sorted.
    former_codes: Arc<[String]>,
}

/// How a written commune was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Index of the current code in [`Reference::commune_codes`].
    pub index: u32,
    /// Index of the former code in the reference's former codes, when the
    /// file wrote the code of a commune merged since.
    pub former: Option<u32>,
}

impl Reference {
    pub fn load(pipeline: &Pipeline) -> Result<Self> {
        let path = pipeline.reference_path(&pipeline.reference.territories);
        let table = read_csv(&path, &["code_commune", "territoire"])?;
        let mut reference = Reference::default();
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        for row in &table.rows {
            let code = table.get(row, "code_commune").trim().to_owned();
            let territory = table.get(row, "territoire").trim().to_owned();
            if code.is_empty() || territory.is_empty() {
                return Err(table.error(row, "a commune code and a territory are required"));
            }
            let name = table.get(row, "nom_commune");
            if !name.trim().is_empty() {
                reference
                    .name_of_code
                    .insert(code.clone(), name.trim().to_owned());
                // A name shared by two communes identifies neither.
                names
                    .entry(crate::text::normalize(name))
                    .and_modify(|c| *c = None)
                    .or_insert(Some(code.clone()));
            }
            if reference
                .territory_of
                .insert(code.clone(), territory)
                .is_some()
            {
                return Err(table.error(row, &format!("commune {code} is listed twice")));
            }
        }
        reference.code_of_name = names
            .into_iter()
            .filter_map(|(n, c)| Some((n, c?)))
            .collect();
        let mut codes: Vec<String> = reference.territory_of.keys().cloned().collect();
        codes.sort_unstable();
        reference.codes = codes.into();
        reference.territories = reference
            .territory_of
            .values()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        reference.index_of = reference
            .codes
            .iter()
            .enumerate()
            .map(|(i, code)| (code.clone(), i as u32))
            .collect();
        if let Some(passage) = &pipeline.reference.commune_passage {
            let path = pipeline.reference_path(passage);
            let mut former: Vec<(String, u32)> = Vec::new();
            let table = read_csv(&path, &["code_ancien", "code_actuel"])?;
            for row in &table.rows {
                let old = table.get(row, "code_ancien").trim();
                let new = table.get(row, "code_actuel").trim();
                let old_name = table.get(row, "nom_ancien").trim();
                if !old_name.is_empty() && !reference.name_of_code.contains_key(old) {
                    reference
                        .name_of_code
                        .insert(old.to_owned(), old_name.to_owned());
                }
                if old.is_empty() || new.is_empty() {
                    return Err(table.error(row, "a former and a current code are required"));
                }
                // A merged commune often keeps the code of one of its parts.
                if old == new {
                    continue;
                }
                let Some(&index) = reference.index_of.get(new) else {
                    return Err(table.error(
                        row,
                        &format!(
                            "current code {new} is not in the territory table {}",
                            pipeline.reference.territories
                        ),
                    ));
                };
                if reference.index_of.contains_key(old) {
                    return Err(table.error(
                        row,
                        &format!(
                            "former code {old} is also a current commune of the territory table"
                        ),
                    ));
                }
                former.push((old.to_owned(), index));
            }
            former.sort_unstable();
            former.dedup_by(|a, b| a.0 == b.0);
            reference.former_codes = former.iter().map(|(c, _)| c.clone()).collect();
            reference.former_of = former
                .into_iter()
                .enumerate()
                .map(|(i, (code, index))| (code, (index, i as u32)))
                .collect();
        }
        Ok(reference)
    }

    /// A commune written as a current code, a former code or a name; `None`
    /// when it is unknown.
    pub fn locate(&self, written: &str) -> Option<Located> {
        if let Some(&index) = self.index_of.get(written) {
            return Some(Located {
                index,
                former: None,
            });
        }
        if let Some(&(index, former)) = self.former_of.get(written) {
            return Some(Located {
                index,
                former: Some(former),
            });
        }
        let code = self.code_of_name.get(&crate::text::normalize(written))?;
        self.locate(code)
    }

    /// Current commune codes, sorted.
    pub fn commune_codes(&self) -> &Arc<[String]> {
        &self.codes
    }

    /// A former code (index in the reference's former codes) and its current code.
    /// A commune code with its name, for readers: `42004 Amions`, or the
    /// code alone when the reference tables name no commune so.
    pub fn named(&self, code: &str) -> String {
        match self.name_of_code.get(code) {
            Some(name) => format!("{code} {name}"),
            None => code.to_owned(),
        }
    }

    pub fn former(&self, index: u32) -> (&str, &str) {
        let former = &self.former_codes[index as usize];
        let current = self.former_of[former].0;
        (former, &self.codes[current as usize])
    }

    /// Every (commune code, territory) pair, sorted by code.
    pub fn communes(&self) -> Vec<(&str, &str)> {
        let mut pairs: Vec<_> = self
            .territory_of
            .iter()
            .map(|(c, t)| (c.as_str(), t.as_str()))
            .collect();
        pairs.sort_unstable();
        pairs
    }
}

/// A reference table read whole: its header and its non-blank rows with
/// their line numbers, for messages.
struct RefTable {
    path: std::path::PathBuf,
    headers: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl RefTable {
    /// The cell of `row` under `column`; empty when the row is short.
    fn get<'r>(&self, row: &'r csv::StringRecord, column: &str) -> &'r str {
        self.headers
            .iter()
            .position(|h| h == column)
            .and_then(|i| row.get(i))
            .unwrap_or("")
    }

    fn error(&self, row: &csv::StringRecord, message: &str) -> Error {
        let line = row.position().map_or(0, |p| p.line());
        reference_error(&self.path, format!("line {line}: {message}"))
    }
}

/// A reference table is configuration: its problems are the pipeline's (exit 2).
fn reference_error(path: &Path, message: String) -> Error {
    Error::Reference {
        path: path.to_owned(),
        message,
    }
}

/// A small UTF-8 CSV with a header; fails naming the missing columns.
fn read_csv(path: &Path, required: &[&str]) -> Result<RefTable> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| reference_error(path, plain_csv_error(&e)))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| reference_error(path, plain_csv_error(&e)))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    for column in required {
        if !headers.iter().any(|h| h == column) {
            return Err(reference_error(
                path,
                format!(
                    "the column '{column}' is missing (found: {})",
                    headers.join(", ")
                ),
            ));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| reference_error(path, plain_csv_error(&e)))?;
        if !record.iter().all(|c| c.trim().is_empty()) {
            rows.push(record);
        }
    }
    Ok(RefTable {
        path: path.to_owned(),
        headers,
        rows,
    })
}

/// A CSV error in plain words.
fn plain_csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "the reference table does not exist".to_owned()
        }
        csv::ErrorKind::Io(io) => format!("cannot read the reference table: {io}"),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: not UTF-8 text (save the table as CSV UTF-8)",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        _ => format!("cannot read the reference table: {e}"),
    }
}
