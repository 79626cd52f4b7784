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
use crate::pipeline::Pipeline;
use polars::prelude::*;
use polars::sql::SQLContext;
use std::collections::BTreeMap;

/// Replaces `{name}` by parameters (built-in: `annee`, `annee_precedente`,
/// `debut_annee`, `fin_annee`) and expands `DAYS_BETWEEN(a, b)`.
pub fn render(sql: &str, pipeline: &Pipeline) -> std::result::Result<String, String> {
    expand_days_between(&substitute(sql, pipeline)?)
}

/// A condition as the Définitions sheet shows it to statisticians: the
/// parameters replaced by their values, dates written `31/12/2020`, and the
/// SQL words in French (`BETWEEN 0 AND 30` reads `entre 0 et 30`). Text in
/// quotes is left as it is.
pub fn for_readers(sql: &str, pipeline: &Pipeline) -> String {
    let sql = substitute(sql, pipeline).unwrap_or_else(|_| sql.to_owned());
    let mut out = String::with_capacity(sql.len());
    // Even pieces are outside quotes, odd ones inside.
    for (i, piece) in sql.split('\'').enumerate() {
        if i % 2 == 0 {
            let words: Vec<String> = piece.split(' ').map(french_word).collect();
            out.push_str(&words.join(" "));
        } else if let Ok(date) = chrono::NaiveDate::parse_from_str(piece, "%Y-%m-%d") {
            // `DATE '2020-12-01'` reads `01/12/2020`.
            if out.to_ascii_uppercase().ends_with("DATE ") {
                out.truncate(out.len() - "DATE ".len());
            }
            out.push_str(&date.format("%d/%m/%Y").to_string());
        } else {
            out.push('\'');
            out.push_str(piece);
            out.push('\'');
        }
    }
    out.replace("est non vide", "est renseigné")
}

/// One SQL word outside quotes, in French when it has a common reading;
/// the brackets and comma around it are kept.
fn french_word(word: &str) -> String {
    let core = word.trim_start_matches('(').trim_end_matches([')', ',']);
    let french = match core.to_ascii_uppercase().as_str() {
        "AND" => "et",
        "OR" => "ou",
        "NOT" => "non",
        "BETWEEN" => "entre",
        "IS" => "est",
        "NULL" => "vide",
        "IN" => "parmi",
        "TRUE" => "vrai",
        "FALSE" => "faux",
        "<=" => "≤",
        ">=" => "≥",
        "<>" | "!=" => "≠",
        _ => return word.to_owned(),
    };
    word.replacen(core, french, 1)
}

/// `{name}` replaced by the run's parameters.
fn substitute(sql: &str, pipeline: &Pipeline) -> std::result::Result<String, String> {
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
    Ok(out)
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

/// The SQL side's frames by name: sources, the territory reference, then
/// derived tables, with their heights.
pub struct Frames {
    pub frames: BTreeMap<String, LazyFrame>,
    heights: BTreeMap<String, usize>,
    /// The height of the largest source.
    largest: usize,
}

impl Frames {
    pub fn get(&self, name: &str) -> Option<LazyFrame> {
        self.frames.get(name).cloned()
    }

    /// The engine for a query over the table `name` (see [`engine_for`]).
    pub fn engine(&self, name: &str) -> Engine {
        engine_for(self.heights.get(name).copied().unwrap_or(0))
    }

    /// The engine for a query that may read any table: findings and
    /// coverage, like derived tables, are decided by the largest source (a
    /// national coverage query on the in-memory engine, `SELECT DISTINCT
    /// numalloc FROM caf_rsa`, holds a hash table of every group's rows).
    pub fn any_table_engine(&self) -> Engine {
        engine_for(self.largest)
    }
}

/// Tables from this many rows are queried by polars' streaming engine: it
/// works a morsel at a time, where the in-memory engine materialises every
/// intermediate (over a national CAF file, more time and more memory).
/// Small tables stay in memory, where the streaming engine's start-up costs
/// more than the work.
const STREAMING_FROM_ROWS: usize = 1_000_000;

fn engine_for(rows: usize) -> Engine {
    if rows >= STREAMING_FROM_ROWS {
        Engine::Streaming
    } else {
        Engine::InMemory
    }
}

/// Registers the sources and computes each derived table once, in order.
pub fn build_tables(pipeline: &Pipeline, sources: BTreeMap<String, DataFrame>) -> Result<Frames> {
    let mut context = SQLContext::new();
    let mut frames = BTreeMap::new();
    let mut heights = BTreeMap::new();
    // The largest table a query could read decides its engine.
    let mut largest = 0;
    for (name, frame) in sources {
        largest = largest.max(frame.height());
        heights.insert(name.clone(), frame.height());
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
            .and_then(|lf| lf.collect_with_engine(engine_for(largest)))
            .map(|result| result.unwrap_single())
            .map_err(|e| spec_error(format!("the SQL fails: {e}")))?;
        tracing::debug!(
            table = name.as_str(),
            rows = frame.height(),
            ms = started.elapsed().as_millis() as u64,
            "derived table computed"
        );
        heights.insert(name.clone(), frame.height());
        context.register(name, frame.clone().lazy());
        frames.insert(name.clone(), frame.lazy());
    }
    Ok(Frames {
        frames,
        heights,
        largest,
    })
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

    #[test]
    fn conditions_read_in_french_with_their_values() {
        let dir = crate::repository();
        let pipeline =
            crate::pipeline::load(&dir.join("pipelines/loire.toml"), Some(2020), None).unwrap();
        let cases = [
            (
                "moisref = DATE '{annee}-12-01' AND etat_droit = 2",
                "moisref = 01/12/2020 et etat_droit = 2",
            ),
            (
                "modalite = 'Global' AND date_entree_global <= {fin_annee} AND \
                 (date_sortie IS NULL OR date_sortie >= {debut_annee})",
                "modalite = 'Global' et date_entree_global ≤ 31/12/2020 et \
                 (date_sortie est vide ou date_sortie ≥ 01/01/2020)",
            ),
            (
                "delai BETWEEN 0 AND {delai_orientation_max} AND x IS NOT NULL",
                "delai entre 0 et 30 et x est renseigné",
            ),
            // Quoted text is never translated, even when it looks like SQL.
            (
                "lieu = 'AND' OR lieu IN ('a', 'b')",
                "lieu = 'AND' ou lieu parmi ('a', 'b')",
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(for_readers(sql, &pipeline), expected, "{sql}");
        }
    }
}
