//! The SQL side of the pipeline: templating (`{parameter}`, `DAYS_BETWEEN`)
//! and derived tables, run by polars' SQL engine.
//!
//! Portability: the pipeline's SQL keeps to what polars, Spark SQL and
//! DataFusion share (CTEs, joins, GROUP BY, CASE, COALESCE, BETWEEN, date
//! literals), with two exceptions written for polars: aggregate `FILTER
//! (WHERE ...)` (Spark needs `MIN(CASE WHEN ... END)`), and day counts, which
//! polars can only get through integer casts: write them `DAYS_BETWEEN(a, b)`
//! and `suivi` expands them, so a port only changes that expansion.

use crate::error::Result;
use crate::spec::Pipeline;
use polars::prelude::*;
use polars::sql::SQLContext;
use std::collections::BTreeMap;

/// Replaces `{name}` by parameters (built-in: `annee`, `annee_precedente`,
/// `debut_annee`, `fin_annee`) and expands `DAYS_BETWEEN(a, b)`.
pub fn render(sql: &str, pipeline: &Pipeline) -> std::result::Result<String, String> {
    let year = pipeline.year;
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    values.insert("annee", year.to_string());
    values.insert("annee_precedente", (year - 1).to_string());
    values.insert("debut_annee", format!("DATE '{year}-01-01'"));
    values.insert("fin_annee", format!("DATE '{year}-12-31'"));
    for (name, value) in &pipeline.parameters {
        values.insert(name, value.to_string());
    }
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or("a '{' is never closed")? + open;
        let name = rest[open + 1..close].trim();
        let value = values.get(name).ok_or_else(|| {
            format!(
                "unknown parameter {{{name}}} (known: {})",
                values
                    .keys()
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    expand_days_between(&out)
}

/// `DAYS_BETWEEN(a, b)` → whole days from date `a` to date `b` (same day = 0).
fn expand_days_between(sql: &str) -> std::result::Result<String, String> {
    const NAME: &str = "DAYS_BETWEEN(";
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.to_ascii_uppercase().find(NAME) {
        out.push_str(&rest[..start]);
        let args_start = start + NAME.len();
        let (mut depth, mut comma, mut end) = (0usize, None, None);
        for (i, c) in rest[args_start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(args_start + i);
                    break;
                }
                ')' => depth -= 1,
                ',' if depth == 0 && comma.is_none() => comma = Some(args_start + i),
                _ => {}
            }
        }
        let (Some(comma), Some(end)) = (comma, end) else {
            return Err(
                "DAYS_BETWEEN needs two arguments: DAYS_BETWEEN(start_date, end_date)".into(),
            );
        };
        let (from, to) = (rest[args_start..comma].trim(), rest[comma + 1..end].trim());
        out.push_str(&format!("(CAST({to} AS INT) - CAST({from} AS INT))"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every table by name: sources, the territory reference, then derived tables.
pub struct Tables {
    pub frames: BTreeMap<String, LazyFrame>,
}

impl Tables {
    pub fn get(&self, name: &str) -> Option<LazyFrame> {
        self.frames.get(name).cloned()
    }
}

/// Registers the sources and computes each derived table once, in order.
pub fn build_tables(pipeline: &Pipeline, sources: BTreeMap<String, DataFrame>) -> Result<Tables> {
    let mut context = SQLContext::new();
    let mut frames = BTreeMap::new();
    for (name, frame) in sources {
        context.register(&name, frame.clone().lazy());
        frames.insert(name, frame.lazy());
    }
    for table in &pipeline.tables {
        let name = table.name.get_ref();
        let spec_error = |message: String| {
            pipeline.error_at(table.name.span(), format!("table '{name}': {message}"))
        };
        let sql = render(&table.sql, pipeline).map_err(spec_error)?;
        let started = std::time::Instant::now();
        let frame = context
            .execute(&sql)
            .and_then(|lf| lf.collect())
            .map_err(|e| spec_error(format!("the SQL fails: {e}")))?;
        tracing::debug!(
            table = name.as_str(),
            rows = frame.height(),
            ms = started.elapsed().as_millis() as u64,
            "derived table computed"
        );
        context.register(name, frame.clone().lazy());
        frames.insert(name.clone(), frame.lazy());
    }
    Ok(Tables { frames })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_between_expands_nested_arguments() {
        assert_eq!(
            expand_days_between("SELECT DAYS_BETWEEN(a.d, COALESCE(b.d, c.d)) AS x").unwrap(),
            "SELECT (CAST(COALESCE(b.d, c.d) AS INT) - CAST(a.d AS INT)) AS x"
        );
        assert!(expand_days_between("DAYS_BETWEEN(a)").is_err());
    }
}
