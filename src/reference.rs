//! The territory reference: commune → territory, old commune codes → current
//! ones. A département replaces these files with its own; nothing here knows
//! the Loire.

use crate::error::{Error, Result};
use crate::spec::Pipeline;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Reference {
    /// Current commune code → territory name.
    territory_of: HashMap<String, String>,
    /// Old commune code → current code.
    passage: HashMap<String, String>,
    /// Normalised commune name → code, for files that write names instead of codes.
    code_of_name: HashMap<String, String>,
    /// Territory names, sorted.
    pub territories: Vec<String>,
    /// Current commune codes, sorted: ingest stores a commune as its index here.
    codes: Arc<[String]>,
}

impl Reference {
    pub fn load(pipeline: &Pipeline) -> Result<Self> {
        let path = pipeline.reference_path(&pipeline.reference.territories);
        let rows = read_csv(&path, &["code_commune", "territoire"])?;
        let mut reference = Reference::default();
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        for row in &rows {
            let code = row["code_commune"].trim().to_owned();
            let territory = row["territoire"].trim().to_owned();
            if let Some(name) = row.get("nom_commune") {
                // A name shared by two communes identifies neither.
                names
                    .entry(crate::text::normalize(name))
                    .and_modify(|c| *c = None)
                    .or_insert(Some(code.clone()));
            }
            reference.territory_of.insert(code, territory);
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
        if let Some(passage) = &pipeline.reference.commune_passage {
            let path = pipeline.reference_path(passage);
            for row in read_csv(&path, &["code_ancien", "code_actuel"])? {
                let (old, new) = (row["code_ancien"].trim(), row["code_actuel"].trim());
                if old != new {
                    reference.passage.insert(old.to_owned(), new.to_owned());
                }
            }
        }
        Ok(reference)
    }

    /// The current code of a commune written as a code (current or old) or as
    /// a name, as its index in [`Self::commune_codes`]; `None` when it is unknown.
    pub fn commune_index(&self, written: &str) -> Option<u32> {
        let code = self
            .passage
            .get(written)
            .map(String::as_str)
            .unwrap_or(written);
        let index = |code: &str| {
            self.codes
                .binary_search_by(|c| c.as_str().cmp(code))
                .ok()
                .map(|i| i as u32)
        };
        index(code).or_else(|| {
            self.code_of_name
                .get(&crate::text::normalize(written))
                .and_then(|code| index(code))
        })
    }

    /// Current commune codes, sorted.
    pub fn commune_codes(&self) -> &Arc<[String]> {
        &self.codes
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

/// A small UTF-8 CSV with a header; fails naming the missing columns.
fn read_csv(path: &Path, required: &[&str]) -> Result<Vec<HashMap<String, String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::input(path, None, format!("cannot read the reference file: {e}")))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(path, None, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    for column in required {
        if !headers.iter().any(|h| h == column) {
            return Err(Error::input(
                path,
                None,
                format!(
                    "reference column '{column}' is missing (found: {})",
                    headers.join(", ")
                ),
            ));
        }
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::input(path, None, format!("row {}: {e}", i + 2)))?;
        rows.push(
            headers
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(rows)
}
