//! One run end to end: read, compute (the year and, when its files are
//! there, the previous one), write.

use crate::error::{Error, Result};
use crate::indicators::{self, Computed};
use crate::ingest::{self, FileReport, pseudo::Pseudonymizer};
use crate::reference::Reference;
use crate::report::table::{self, CellKey};
use crate::spec::Pipeline;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub struct Outcome {
    pub files: Vec<FileReport>,
    pub computed: Computed,
    pub rows: Vec<table::Row>,
    pub outputs: Vec<PathBuf>,
    /// Whether the previous year's figures could be computed.
    pub has_previous: bool,
}

/// Reads and computes one year: the file reports and the figures.
pub fn compute_year(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
) -> Result<(Vec<FileReport>, Computed)> {
    let tables = ingest::read_sources(pipeline, reference, pseudonymizer)?;
    ingest::enforce_reject_limit(pipeline, &tables)?;
    let mut files = Vec::new();
    let mut frames = BTreeMap::new();
    for table in tables {
        files.extend(table.files);
        frames.insert(table.name, table.frame);
    }
    let computed = indicators::compute(pipeline, frames, reference)?;
    Ok((files, computed))
}

/// The previous year's values by cell, when all its input files are present.
fn previous_year(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
) -> Option<HashMap<CellKey, Option<f64>>> {
    let mut previous = pipeline.clone();
    previous.year -= 1;
    if !ingest::all_sources_present(&previous) {
        tracing::info!(
            year = previous.year,
            "no complete set of input files for the previous year: no N-1 comparison"
        );
        return None;
    }
    match compute_year(&previous, reference, pseudonymizer) {
        Ok((_, computed)) => Some(
            table::rows(&previous, &computed, None)
                .into_iter()
                .map(|r| (r.key(), r.value))
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(
                year = previous.year,
                "the previous year's files can't be used, no N-1 comparison: {e}"
            );
            None
        }
    }
}

pub fn run(pipeline: &Pipeline, out: &Path) -> Result<Outcome> {
    let reference = Reference::load(pipeline)?;
    let pseudonymizer = Pseudonymizer::from_env()?;
    let (files, computed) = compute_year(pipeline, &reference, &pseudonymizer)?;
    let previous = previous_year(pipeline, &reference, &pseudonymizer);
    let rows = table::rows(pipeline, &computed, previous.as_ref());

    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("creating the output folder {}", out.display()), e))?;
    let year = pipeline.year;
    let symbol = "s";
    let outputs = vec![
        table::write_csv(&out.join(format!("indicateurs_{year}.csv")), &rows, symbol)?,
        table::write_parquet(&out.join(format!("indicateurs_{year}.parquet")), &rows)?,
    ];
    Ok(Outcome {
        files,
        computed,
        rows,
        outputs,
        has_previous: previous.is_some(),
    })
}
