//! Possible double entries behind the funders' figures. Identical rows
//! without an identifier are kept as events (two payments of one amount on
//! one day happen), yet each may be one payment keyed twice: finance sees
//! them listed, and what its verdicts would be without them.

use super::lineage::narrowed;
use super::{IndicatorFigures, compute};
use crate::error::{Error, Result};
use crate::ingest::{FileReport, ROW_COLUMN};
use crate::pipeline::{ColumnType, Pipeline};
use crate::reference::Reference;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// One group of identical rows of a source a funder's figures read.
#[derive(Debug, Clone, PartialEq)]
pub struct DoubleEntry {
    /// The source's label.
    pub source: String,
    pub file: String,
    pub sheet: Option<String>,
    /// The first of the identical rows (1-based), in `first_file` when
    /// that is another file of the source.
    pub first_row: usize,
    pub first_file: Option<String>,
    /// The rows that repeat it.
    pub rows: Vec<usize>,
    /// The row's values as the file's headers name them, identifiers left
    /// out.
    pub values: Vec<(String, AnyValue<'static>)>,
}

/// The double entries and the funders' figures computed without them.
#[derive(Default)]
pub struct DoubleEntries {
    pub entries: Vec<DoubleEntry>,
    /// The funder indicators (`funder` set), evaluated with every repeating
    /// row left out; indexed as in `pipeline.indicators`.
    pub without: Vec<IndicatorFigures>,
}

/// Finds the repeated rows of the sources the funder indicators read and,
/// when there are any, evaluates those indicators without them. `frames`
/// are the sources' tables, each file's accepted rows in the order of
/// `files`.
pub fn find(
    pipeline: &Pipeline,
    frames: &BTreeMap<String, DataFrame>,
    files: &[FileReport],
    reference: &Reference,
) -> Result<DoubleEntries> {
    let funders = narrowed(pipeline, |i| i.funder.is_some());
    let mut entries = Vec::new();
    let mut trimmed = BTreeMap::new();
    for name in funders.pipeline.sources.keys() {
        let (Some(frame), Some(source)) = (frames.get(name), pipeline.sources.get(name)) else {
            continue;
        };
        let reports: Vec<&FileReport> = files.iter().filter(|f| &f.source == name).collect();
        if reports.iter().all(|r| r.repeats.is_empty()) {
            trimmed.insert(name.clone(), frame.clone());
            continue;
        }
        let fail = |e| Error::polars(format!("finding the double entries of source {name}"), e);
        let numbers: Vec<u32> = frame
            .column(ROW_COLUMN)
            .and_then(|c| c.u32().cloned())
            .map_err(fail)?
            .into_no_null_iter()
            .collect();
        let headers: Vec<(String, String)> = source
            .columns
            .iter()
            .filter(|c| c.kind != ColumnType::Id)
            .filter(|c| frame.column(c.name.get_ref()).is_ok())
            .map(|c| (c.name.get_ref().clone(), c.header.clone()))
            .collect();
        let mut keep = vec![true; frame.height()];
        let mut start = 0;
        for report in reports {
            let rows = start..start + report.accepted;
            start += report.accepted;
            for repeat in &report.repeats {
                let repeating: BTreeSet<u32> = repeat.rows.iter().map(|&r| r as u32).collect();
                let mut first_seen = None;
                for i in rows.clone().filter(|&i| repeating.contains(&numbers[i])) {
                    keep[i] = false;
                    first_seen.get_or_insert(i);
                }
                let Some(at) = first_seen else { continue };
                let values = headers
                    .iter()
                    .map(|(column, header)| {
                        let value = frame.column(column)?.get(at)?.into_static();
                        Ok((header.clone(), value))
                    })
                    .collect::<PolarsResult<_>>()
                    .map_err(fail)?;
                entries.push(DoubleEntry {
                    source: source.label.clone().unwrap_or_else(|| name.clone()),
                    file: report.file_name(),
                    sheet: report.sheet.clone(),
                    first_row: repeat.first_row,
                    first_file: repeat.first_file.clone(),
                    rows: repeat.rows.clone(),
                    values,
                });
            }
        }
        let mask = BooleanChunked::from_slice("keep".into(), &keep);
        trimmed.insert(name.clone(), frame.filter(&mask).map_err(fail)?);
    }
    if entries.is_empty() {
        return Ok(DoubleEntries::default());
    }
    let computed = compute(&funders.pipeline, trimmed, reference)?;
    let without = computed
        .indicators
        .into_iter()
        .map(|figures| IndicatorFigures {
            index: funders.indices[figures.index],
            figures: figures.figures,
        })
        .collect();
    Ok(DoubleEntries { entries, without })
}
