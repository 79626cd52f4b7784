//! One run end to end: read, compute (the year and, when its files are
//! there, the previous one), write.

use crate::confidential;
use crate::error::{Error, Result};
use crate::indicators::{self, Computed};
use crate::ingest::{self, FileReport, pseudo::Pseudonymizer};
use crate::reference::Reference;
use crate::report::table::{self, CellKey};
use crate::report::{Confidentiality, ReportContext, workbooks};
use crate::spec::Pipeline;
use chrono::NaiveDate;
use polars::prelude::{DataFrame, DataType};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

pub struct Outcome {
    pub files: Vec<FileReport>,
    /// The latest date in the inputs (capped at the end of the next year):
    /// what the outputs show as their as-of date and creation time, so that
    /// identical inputs give identical bytes.
    pub as_of: NaiveDate,
    pub computed: Computed,
    pub rows: Vec<table::Row>,
    pub outputs: Vec<PathBuf>,
    /// Whether the previous year's figures could be computed.
    pub has_previous: bool,
}

/// One year read and computed.
pub struct Year {
    pub files: Vec<FileReport>,
    pub computed: Computed,
    pub as_of: NaiveDate,
}

/// Reads and computes one year: the file reports and the figures.
pub fn compute_year(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
) -> Result<Year> {
    let tables = ingest::read_sources(pipeline, reference, pseudonymizer)?;
    ingest::enforce_reject_limit(pipeline, &tables)?;
    let mut files = Vec::new();
    let mut frames = BTreeMap::new();
    for table in tables {
        files.extend(table.files);
        frames.insert(table.name, table.frame);
    }
    let as_of = latest_date(pipeline.year, &frames);
    let computed = indicators::compute(pipeline, frames, reference)?;
    Ok(Year {
        files,
        computed,
        as_of,
    })
}

fn latest_date(year: i32, frames: &BTreeMap<String, DataFrame>) -> NaiveDate {
    let cap = NaiveDate::from_ymd_opt(year + 1, 12, 31).expect("valid date");
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    frames
        .values()
        .flat_map(|f| f.columns())
        .filter(|c| c.dtype() == &DataType::Date)
        .filter_map(|c| {
            c.as_materialized_series()
                .date()
                .ok()?
                .physical()
                .iter()
                .flatten()
                .max()
        })
        .filter_map(|days| epoch.checked_add_signed(chrono::Duration::days(days as i64)))
        .filter(|d| *d <= cap)
        .max()
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 12, 31).expect("valid date"))
}

/// The previous year's values by cell, when all its input files are present.
fn previous_year(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
    internal: bool,
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
        Ok(year) => {
            let mut rows = table::rows(&previous, &year.computed, None);
            // A cell masked in last year's publication stays hidden as N-1.
            if !internal {
                confidential::protect(&previous, &mut rows);
            }
            Some(
                rows.into_iter()
                    .map(|r| (r.key(), if r.masked { None } else { r.value }))
                    .collect(),
            )
        }
        Err(e) => {
            tracing::warn!(
                year = previous.year,
                "the previous year's files can't be used, no N-1 comparison: {e}"
            );
            None
        }
    }
}

/// What the command line decides about a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    /// Internal mode: unmasked figures for the département's own statisticians.
    pub internal: bool,
}

pub fn run(pipeline: &Pipeline, options: &RunOptions) -> Result<Outcome> {
    let reference = Reference::load(pipeline)?;
    let pseudonymizer = Pseudonymizer::from_env()?;
    let Year {
        files,
        computed,
        as_of,
    } = compute_year(pipeline, &reference, &pseudonymizer)?;
    let previous = previous_year(pipeline, &reference, &pseudonymizer, options.internal);
    let mut rows = table::rows(pipeline, &computed, previous.as_ref());
    if !options.internal {
        confidential::protect(pipeline, &mut rows);
    }

    let out = &options.out;
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("creating the output folder {}", out.display()), e))?;
    let context = ReportContext {
        pipeline,
        rows: &rows,
        files: &files,
        findings: &computed.findings,
        coverage: &computed.coverage,
        as_of,
        has_previous: previous.is_some(),
        confidentiality: Confidentiality {
            threshold: pipeline.settings.confidentiality_threshold,
            symbol: pipeline.settings.mask_symbol.clone(),
            internal: options.internal,
        },
    };
    let mut outputs = vec![
        table::write_csv(
            &out.join(context.file_name("indicateurs", "csv")),
            &rows,
            &context.confidentiality.symbol,
        )?,
        table::write_parquet(
            &out.join(context.file_name("indicateurs", "parquet")),
            &rows,
        )?,
    ];
    outputs.extend(workbooks::write_all(&context, out)?);
    Ok(Outcome {
        files,
        as_of,
        has_previous: previous.is_some(),
        computed,
        rows,
        outputs,
    })
}
