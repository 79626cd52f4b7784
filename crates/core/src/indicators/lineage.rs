//! What an indicator reads: its table and, through the derived tables'
//! SQL, the sources behind it. Used to compute part of a pipeline (the
//! previous year's indicators whose files are there, the funders' figures
//! without their double entries).

use super::columns_used::words;
use crate::pipeline::{Indicator, Pipeline};
use std::collections::BTreeSet;

/// The derived tables (indices, in pipeline order) and the sources that
/// `indicators` read, directly or through other tables.
fn upstream<'a>(
    pipeline: &Pipeline,
    indicators: impl IntoIterator<Item = &'a Indicator>,
) -> (Vec<usize>, BTreeSet<String>) {
    let mut wanted: BTreeSet<String> = indicators
        .into_iter()
        .map(|i| i.table.to_lowercase())
        .collect();
    let mut tables = Vec::new();
    for (index, table) in pipeline.tables.iter().enumerate().rev() {
        if wanted.contains(&table.name.get_ref().to_lowercase()) {
            tables.push(index);
            wanted.extend(words(&table.sql));
        }
    }
    tables.reverse();
    let sources = pipeline
        .sources
        .keys()
        .filter(|s| wanted.contains(&s.to_lowercase()))
        .cloned()
        .collect();
    (tables, sources)
}

/// The sources one indicator reads.
pub fn sources_of(pipeline: &Pipeline, indicator: &Indicator) -> BTreeSet<String> {
    upstream(pipeline, [indicator]).1
}

/// A pipeline cut down to some of its indicators.
pub struct Narrowed {
    /// The indicators kept, the tables and sources they read; no findings
    /// nor coverage.
    pub pipeline: Pipeline,
    /// For each indicator kept, its index in the whole pipeline.
    pub indices: Vec<usize>,
}

/// The pipeline with only the indicators `keep` accepts, and what they read.
pub fn narrowed(pipeline: &Pipeline, keep: impl Fn(&Indicator) -> bool) -> Narrowed {
    let indices: Vec<usize> = (0..pipeline.indicators.len())
        .filter(|&i| keep(&pipeline.indicators[i]))
        .collect();
    let (tables, sources) = upstream(pipeline, indices.iter().map(|&i| &pipeline.indicators[i]));
    let mut narrow = pipeline.clone();
    narrow.indicators = indices
        .iter()
        .map(|&i| pipeline.indicators[i].clone())
        .collect();
    narrow.tables = tables.iter().map(|&i| pipeline.tables[i].clone()).collect();
    narrow.sources.retain(|name, _| sources.contains(name));
    narrow.findings.clear();
    narrow.coverage.clear();
    Narrowed {
        pipeline: narrow,
        indices,
    }
}
