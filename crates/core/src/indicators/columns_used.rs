//! Which columns of each source the pipeline's queries and indicators can
//! read: the readers check the others but do not build them (dates aside,
//! dropped once the as-of date is read), so that a national CAF file does
//! not carry columns no figure looks at (two of its eight columns in the
//! Loire pipeline: memory held is time spent).
//!
//! The reading is conservative: a column is used when its name appears as a
//! word in any text over its source (SQL, indicator expressions, parameters
//! rendered), and every column is used when a `*` (or `COLUMNS(...)`)
//! selects from the source or a query cannot be parsed.

use super::sql::render;
use crate::ingest::ROW_COLUMN;
use crate::pipeline::{Column as ColumnSpec, ColumnType, Pipeline};
use polars::prelude::DataFrame;
use sqlparser::ast::{ObjectNamePart, SelectItem, SetExpr, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

/// Drops from each source's frame the columns no text of the pipeline can
/// read; returns them by source, for the log.
pub fn drop_unused_columns(
    pipeline: &Pipeline,
    frames: &mut BTreeMap<String, DataFrame>,
) -> BTreeMap<String, Vec<String>> {
    let used = Usage::of(pipeline);
    let mut dropped = BTreeMap::new();
    for (name, frame) in frames.iter_mut() {
        let unused: Vec<String> = unused(pipeline, &used, name)
            .map(|c| c.name.get_ref().clone())
            .filter(|column| frame.column(column).is_ok())
            .collect();
        if !unused.is_empty() {
            *frame = frame.drop_many(unused.iter().map(String::as_str));
            dropped.insert(name.clone(), unused);
        }
    }
    dropped
}

/// The columns of each source that the readers need not build: those no
/// text of the pipeline can read, dates aside (the as-of date is the latest
/// date of any column, read before [`drop_unused_columns`]).
pub fn unbuilt_columns(pipeline: &Pipeline) -> BTreeMap<String, BTreeSet<String>> {
    let used = Usage::of(pipeline);
    pipeline
        .sources
        .keys()
        .map(|name| {
            let unbuilt: BTreeSet<String> = unused(pipeline, &used, name)
                .filter(|c| !matches!(c.kind, ColumnType::Date | ColumnType::Month))
                .map(|c| c.name.get_ref().clone())
                .collect();
            (name.clone(), unbuilt)
        })
        .filter(|(_, unbuilt)| !unbuilt.is_empty())
        .collect()
}

/// The declared columns of `source` that no text of the pipeline can read.
fn unused<'a>(
    pipeline: &'a Pipeline,
    used: &'a Usage,
    source: &'a str,
) -> impl Iterator<Item = &'a ColumnSpec> {
    pipeline
        .sources
        .get(source)
        .into_iter()
        .flat_map(|s| &s.columns)
        .filter(move |c| {
            let column = c.name.get_ref();
            column != ROW_COLUMN && !used.reads(source, column)
        })
}

/// Words of the texts over each source, or every column.
#[derive(Default)]
struct Usage {
    /// Lower-case words of every text naming the source.
    words: BTreeMap<String, BTreeSet<String>>,
    /// Sources read whole: a `*` or `COLUMNS(...)` selects from them.
    whole: BTreeSet<String>,
    /// A query could not be read: every source is read whole.
    everything: bool,
}

impl Usage {
    fn of(pipeline: &Pipeline) -> Self {
        let sources: BTreeMap<String, &String> = pipeline
            .sources
            .keys()
            .map(|name| (name.to_lowercase(), name))
            .collect();
        let mut usage = Usage::default();
        let queries = pipeline
            .tables
            .iter()
            .map(|t| &t.sql)
            .chain(pipeline.findings.iter().map(|f| &f.sql))
            .chain(pipeline.coverage.iter().map(|c| &c.sql));
        for sql in queries {
            let Ok(sql) = render(sql, pipeline) else {
                usage.everything = true;
                continue;
            };
            let words = words(&sql);
            let named: Vec<&String> = words
                .iter()
                .filter_map(|w| sources.get(w).copied())
                .collect();
            match starred_relations(&sql) {
                Some(starred) => usage.whole.extend(
                    starred
                        .iter()
                        .filter_map(|r| sources.get(r).map(|s| (*s).clone())),
                ),
                None => usage.everything = true,
            }
            // Columns chosen by pattern: every source the query names.
            let by_pattern = sql.to_uppercase().contains("COLUMNS(");
            for source in named {
                usage.add(source, &words);
                if by_pattern {
                    usage.whole.insert(source.clone());
                }
            }
        }
        for indicator in &pipeline.indicators {
            let Some(source) = sources.get(&indicator.table.to_lowercase()) else {
                continue;
            };
            let texts = [
                &indicator.population,
                &indicator.key,
                &indicator.measure,
                &indicator.condition,
                &indicator.denominator,
                &indicator.date,
                &indicator.breakdown,
                &Some(indicator.commune.clone()),
            ];
            for text in texts.into_iter().flatten() {
                match render(text, pipeline) {
                    Ok(text) => usage.add(source, &words(&text)),
                    Err(_) => {
                        usage.whole.insert((*source).clone());
                    }
                }
            }
        }
        usage
    }

    fn add(&mut self, source: &str, words: &BTreeSet<String>) {
        self.words
            .entry(source.to_owned())
            .or_default()
            .extend(words.iter().cloned());
    }

    fn reads(&self, source: &str, column: &str) -> bool {
        self.everything
            || self.whole.contains(source)
            // A name a word cannot hold is never looked for: kept.
            || !column.chars().all(is_word_char)
            || self
                .words
                .get(source)
                .is_some_and(|w| w.contains(&column.to_lowercase()))
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The text's identifier-like words, in lower case (SQL names are matched
/// without regard to case, which keeps more, never less).
pub(super) fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The relations (lower case) in the FROM of every SELECT with a `*` or
/// `alias.*` in its projection; `None` when the text is not SQL the parser
/// reads.
fn starred_relations(sql: &str) -> Option<BTreeSet<String>> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).ok()?;
    let mut stars = Stars::default();
    let _ = statements.visit(&mut stars);
    Some(stars.relations)
}

#[derive(Default)]
struct Stars {
    relations: BTreeSet<String>,
}

impl Stars {
    fn set_expr(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(select) => {
                let starred = select.projection.iter().any(|item| {
                    matches!(
                        item,
                        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
                    )
                });
                if starred {
                    let _ = sqlparser::ast::visit_relations(&select.from, |name| {
                        let last = match name.0.last() {
                            Some(ObjectNamePart::Identifier(ident)) => ident.value.clone(),
                            Some(other) => other.to_string(),
                            None => return ControlFlow::Continue(()),
                        };
                        self.relations.insert(last.to_lowercase());
                        ControlFlow::<()>::Continue(())
                    });
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
            // `TABLE name` reads every column of it.
            SetExpr::Table(table) => {
                if let Some(name) = &table.table_name {
                    self.relations.insert(name.to_lowercase());
                }
            }
            // Sub-queries are visited on their own.
            _ => {}
        }
    }
}

impl Visitor for Stars {
    type Break = ();

    fn pre_visit_query(&mut self, query: &sqlparser::ast::Query) -> ControlFlow<()> {
        self.set_expr(&query.body);
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn loire() -> Pipeline {
        let path = crate::repository().join("pipelines/loire.toml");
        crate::pipeline::load(&path, Some(2020), None).expect("the sample pipeline loads")
    }

    /// What `drop_unused_columns` drops from empty frames of every source.
    fn dropped(pipeline: &Pipeline) -> BTreeMap<String, Vec<String>> {
        let mut frames: BTreeMap<String, DataFrame> = pipeline
            .sources
            .iter()
            .map(|(name, source)| {
                let columns = std::iter::once(ROW_COLUMN)
                    .chain(source.columns.iter().map(|c| c.name.get_ref().as_str()))
                    .map(|c| Column::new_empty(c.into(), &DataType::Int64))
                    .collect();
                (name.clone(), DataFrame::new(0, columns).unwrap())
            })
            .collect();
        let dropped = drop_unused_columns(pipeline, &mut frames);
        for (name, columns) in &dropped {
            let left = frames[name].get_column_names();
            assert!(
                columns
                    .iter()
                    .all(|c| !left.iter().any(|l| l.as_str() == c))
            );
            assert!(left.iter().any(|l| l.as_str() == ROW_COLUMN));
        }
        dropped
    }

    fn map(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(s, cs)| (s.to_string(), cs.iter().map(|c| c.to_string()).collect()))
            .collect()
    }

    /// Worked out by searching pipelines/loire.toml for each declared
    /// column: these appear nowhere but in their declaration. `nb_personnes`
    /// of the CAF is among them although indicators on `accueil_social`
    /// name a column so called.
    const LOIRE_UNUSED: &[(&str, &[&str])] = &[
        ("accueil_social", &["lieu"]),
        ("brsa", &["date_inscription", "categorie", "agence"]),
        ("caf_rsa", &["nb_personnes", "montant_verse"]),
        ("contrats_aides", &["date_debut_accompagnement"]),
        (
            "orientations",
            &["organisme_referent", "date_signature_cer"],
        ),
    ];

    /// [`LOIRE_UNUSED`] without the sources read whole.
    fn loire_unused_but(whole: &[&str]) -> BTreeMap<String, Vec<String>> {
        let mut unused = map(LOIRE_UNUSED);
        unused.retain(|source, _| !whole.contains(&source.as_str()));
        unused
    }

    #[test]
    fn the_loire_pipeline_reads_every_column_but_those_it_never_names() {
        assert_eq!(dropped(&loire()), map(LOIRE_UNUSED));
    }

    /// [`LOIRE_UNUSED`] without its date columns, which the as-of date reads.
    #[test]
    fn the_loire_readers_build_every_column_but_unused_ones_that_are_not_dates() {
        let expected: BTreeMap<String, BTreeSet<String>> = [
            ("accueil_social", &["lieu"][..]),
            ("brsa", &["agence", "categorie"]),
            ("caf_rsa", &["montant_verse", "nb_personnes"]),
            ("orientations", &["organisme_referent"]),
        ]
        .iter()
        .map(|(s, cs)| (s.to_string(), cs.iter().map(|c| c.to_string()).collect()))
        .collect();
        assert_eq!(unbuilt_columns(&loire()), expected);
    }

    #[test]
    fn an_indicator_keeps_what_its_expressions_name_on_its_own_table() {
        let mut pipeline = loire();
        let indicator = pipeline
            .indicators
            .iter_mut()
            .find(|i| i.table == "caf_rsa")
            .expect("an indicator on the CAF table");
        let population = indicator.population.clone().expect("a population");
        indicator.population = Some(format!("{population} AND MONTANT_VERSE > 0"));
        let mut expected = map(LOIRE_UNUSED);
        expected.insert("caf_rsa".into(), vec!["nb_personnes".into()]);
        assert_eq!(dropped(&pipeline), expected);
    }

    #[test]
    fn a_star_over_a_source_keeps_all_of_it_and_over_a_derived_table_nothing_more() {
        let mut pipeline = loire();
        let mut table = pipeline.tables[0].clone();
        table.sql = "WITH b AS (SELECT * FROM brsa) SELECT numalloc FROM b \
             UNION ALL SELECT a.* FROM (SELECT numalloc FROM orientations) a \
             UNION ALL SELECT x.* FROM contrats_aides x JOIN foyers_entrants f ON x.numalloc = f.numalloc"
            .into();
        pipeline.tables.push(table);
        assert_eq!(
            dropped(&pipeline),
            loire_unused_but(&["brsa", "orientations", "contrats_aides"])
        );
    }

    #[test]
    fn columns_chosen_by_pattern_keep_the_whole_source() {
        let mut pipeline = loire();
        pipeline.findings[0].sql = "SELECT COLUMNS('^date_.*$') FROM brsa".into();
        assert_eq!(dropped(&pipeline), loire_unused_but(&["brsa"]));
    }

    #[test]
    fn a_query_that_cannot_be_parsed_keeps_every_column() {
        let mut pipeline = loire();
        pipeline.findings[0].sql = "SELECT FROM WHERE (".into();
        assert_eq!(dropped(&pipeline), BTreeMap::new());
    }
}
