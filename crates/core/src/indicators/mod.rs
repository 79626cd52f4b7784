//! The indicator engine: derived tables, then every indicator of the
//! pipeline at every level, then data-quality findings.

mod columns_used;
pub mod double_entries;
pub(crate) mod eval;
pub mod lineage;
pub mod rows;
pub mod sql;

pub use columns_used::{drop_unused_columns, unbuilt_columns};
pub use eval::Figure;

use crate::error::{Error, Result};
use crate::pipeline::{ColumnType, Indicator, Pipeline};
use crate::reference::Reference;
use polars::prelude::*;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The figures of every indicator, in the pipeline's order.
pub struct Computed {
    pub indicators: Vec<IndicatorFigures>,
    pub findings: Vec<FindingResult>,
    pub coverage: Vec<CoverageResult>,
}

/// A join-coverage share for the quality workbook.
pub struct CoverageResult {
    pub id: String,
    pub label: String,
    pub numerator: f64,
    pub denominator: f64,
}

impl CoverageResult {
    pub fn share(&self) -> Option<f64> {
        (self.denominator != 0.0).then(|| self.numerator / self.denominator)
    }
}

pub struct IndicatorFigures {
    /// Index in `pipeline.indicators`.
    pub index: usize,
    pub figures: Vec<Figure>,
}

/// A data-quality finding: its rows, identifier columns removed.
pub struct FindingResult {
    pub id: String,
    pub label: String,
    pub rows: DataFrame,
}

/// Runs the derived tables, the indicators (in parallel) and the findings.
pub fn compute(
    pipeline: &Pipeline,
    sources: BTreeMap<String, DataFrame>,
    reference: &Reference,
) -> Result<Computed> {
    // Polars prints deprecation notes (`DATE '...'` literals are string casts) on stderr: log them instead.
    polars::error::set_warning_function(|message, kind| {
        tracing::debug!("polars {kind:?}: {message}")
    });
    let tables = sql::build_tables(pipeline, sources)?;
    let territories = eval::territory_table(reference)?;
    // Findings and coverage queries run beside the indicators: the longest
    // indicators would otherwise leave a core idle at the end.
    let (indicators, checks) = rayon::join(
        || {
            pipeline
                .indicators
                .par_iter()
                .enumerate()
                .map(|(index, indicator)| {
                    let started = std::time::Instant::now();
                    let figures = eval::evaluate(
                        indicator,
                        pipeline,
                        &tables,
                        &territories,
                        &reference.territories,
                    )?;
                    tracing::debug!(
                        indicator = indicator.id.get_ref().as_str(),
                        ms = started.elapsed().as_millis() as u64,
                        "indicator computed"
                    );
                    Ok(IndicatorFigures { index, figures })
                })
                .collect::<Result<Vec<_>>>()
        },
        || {
            let mut context = polars::sql::SQLContext::new();
            for (name, frame) in &tables.frames {
                context.register(name, frame.clone());
            }
            let engine = tables.any_table_engine();
            let findings = findings(pipeline, &mut context, engine)?;
            let coverage = coverage(pipeline, &mut context, engine)?;
            Ok::<_, Error>((findings, coverage))
        },
    );
    let (indicators, (findings, coverage)) = (indicators?, checks?);
    Ok(Computed {
        indicators,
        findings,
        coverage,
    })
}

/// Collects one findings or coverage query on `engine`, logging its time.
fn run_query(
    context: &mut polars::sql::SQLContext,
    sql: &str,
    engine: Engine,
    what: &str,
    id: &str,
) -> PolarsResult<DataFrame> {
    let started = std::time::Instant::now();
    let frame = context
        .execute(sql)?
        .collect_with_engine(engine)?
        .unwrap_single();
    tracing::debug!(
        id,
        ms = started.elapsed().as_millis() as u64,
        "{what} computed"
    );
    Ok(frame)
}

fn coverage(
    pipeline: &Pipeline,
    context: &mut polars::sql::SQLContext,
    engine: Engine,
) -> Result<Vec<CoverageResult>> {
    pipeline
        .coverage
        .iter()
        .map(|c| {
            let id = c.id.get_ref();
            let fail = |m: String| pipeline.error_at(c.id.span(), format!("coverage {id}: {m}"));
            let sql = sql::render(&c.sql, pipeline).map_err(fail)?;
            let frame = run_query(context, &sql, engine, "coverage", id)
                .map_err(|e| fail(e.to_string()))?;
            let number = |name: &str| -> Result<f64> {
                frame
                    .column(name)
                    .and_then(|col| col.cast(&DataType::Float64))
                    .map_err(|e| {
                        fail(format!("needs one row with a numeric column '{name}': {e}"))
                    })?
                    .f64()
                    .map_err(|e| fail(e.to_string()))?
                    .get(0)
                    .ok_or_else(|| fail(format!("returned no value for '{name}'")))
            };
            Ok(CoverageResult {
                id: id.clone(),
                label: c.label.clone(),
                numerator: number("numerateur")?,
                denominator: number("denominateur")?,
            })
        })
        .collect()
}

fn findings(
    pipeline: &Pipeline,
    context: &mut polars::sql::SQLContext,
    engine: Engine,
) -> Result<Vec<FindingResult>> {
    // Findings list rows to fix, never who they are about.
    let identifiers: BTreeSet<&str> = pipeline
        .sources
        .values()
        .flat_map(|s| &s.columns)
        .filter(|c| c.kind == ColumnType::Id)
        .map(|c| c.name.get_ref().as_str())
        .collect();
    pipeline
        .findings
        .iter()
        .map(|finding| {
            let id = finding.id.get_ref();
            let fail =
                |m: String| pipeline.error_at(finding.id.span(), format!("finding {id}: {m}"));
            let sql = sql::render(&finding.sql, pipeline).map_err(fail)?;
            let mut rows =
                run_query(context, &sql, engine, "finding", id).map_err(|e| fail(e.to_string()))?;
            let hidden: Vec<PlSmallStr> = rows
                .get_column_names()
                .into_iter()
                .filter(|n| {
                    identifiers.contains(n.as_str())
                        || rows
                            .column(n.as_str())
                            .is_ok_and(|c| c.dtype() == &DataType::Int64 && n.starts_with("num"))
                })
                .cloned()
                .collect();
            rows = rows.drop_many(hidden);
            let sort: Vec<PlSmallStr> = rows.get_column_names().into_iter().cloned().collect();
            if !sort.is_empty() {
                rows = rows
                    .sort(sort, SortMultipleOptions::default())
                    .map_err(|e| Error::polars(format!("sorting finding {id}"), e))?;
            }
            Ok(FindingResult {
                id: id.clone(),
                label: finding.label.clone(),
                rows,
            })
        })
        .collect()
}

/// Whether a value of `year` meets the indicator's target for that year
/// (None without target or value).
pub fn attainment(indicator: &Indicator, year: i32, value: Option<f64>) -> Option<bool> {
    Some(indicator.target_of(year)?.met(value?))
}
