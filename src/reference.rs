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
    /// Current and old commune codes → index of the current code in `codes`.
    index_of: HashMap<String, u32, foldhash::fast::FixedState>,
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
        reference.index_of = reference
            .codes
            .iter()
            .enumerate()
            .map(|(i, code)| (code.clone(), i as u32))
            .collect();
        if let Some(passage) = &pipeline.reference.commune_passage {
            let path = pipeline.reference_path(passage);
            for row in read_csv(&path, &["code_ancien", "code_actuel"])? {
                let (old, new) = (row["code_ancien"].trim(), row["code_actuel"].trim());
                if let Some(&index) = reference.index_of.get(new)
                    && old != new
                {
                    reference.index_of.insert(old.to_owned(), index);
                }
            }
        }
        Ok(reference)
    }

    /// The current code of a commune written as a code (current or old) or as
    /// a name, as its index in [`Self::commune_codes`]; `None` when it is unknown.
    pub fn commune_index(&self, written: &str) -> Option<u32> {
        self.index_of.get(written).copied().or_else(|| {
            let code = self.code_of_name.get(&crate::text::normalize(written))?;
            self.index_of.get(code).copied()
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
