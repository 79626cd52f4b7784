//! Reading and validating the pipeline file, with line numbers in errors.

use super::{ColumnType, Field, Kind, Pipeline, RawPipeline};
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Reads the pipeline file and applies the command line's overrides.
pub fn load(path: &Path, year: Option<i32>, inputs: Option<&Path>) -> Result<Pipeline> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Pipeline {
        path: path.to_owned(),
        line: None,
        message: format!("cannot read it: {e}"),
    })?;
    let raw: RawPipeline = toml::from_str(&text).map_err(|e| Error::Pipeline {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(&text, s.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let fail = |offset: Option<usize>, message: String| Error::Pipeline {
        path: path.to_owned(),
        line: offset.map(|o| line_of(&text, o)),
        message,
    };

    validate_indicators(&raw, &fail)?;
    let settings = raw.pipeline;
    if raw.sources.is_empty() {
        return Err(fail(None, "the pipeline declares no [sources]".into()));
    }
    for (key, source) in &raw.sources {
        if !is_identifier(key) {
            return Err(fail(
                Some(source.file.span().start),
                format!(
                    "source name '{key}' must be lowercase letters, digits and '_' (it is a SQL table name)"
                ),
            ));
        }
        if source.file.get_ref().trim().is_empty() {
            return Err(fail(
                Some(source.file.span().start),
                format!("sources.{key}.file is empty"),
            ));
        }
        if source.columns.is_empty() {
            return Err(fail(
                Some(source.file.span().start),
                format!("sources.{key} declares no columns"),
            ));
        }
        let mut seen = HashSet::new();
        for column in &source.columns {
            let name = column.name.get_ref();
            let at = Some(column.name.span().start);
            if !is_identifier(name) {
                return Err(fail(
                    at,
                    format!(
                        "column name '{name}' must be lowercase letters, digits and '_' (it is used in SQL)"
                    ),
                ));
            }
            if !seen.insert(name.as_str()) {
                return Err(fail(
                    at,
                    format!("column '{name}' is declared twice in sources.{key}"),
                ));
            }
            if crate::text::normalize(&column.header).is_empty() {
                return Err(fail(at, format!("column '{name}' has an empty header")));
            }
            match column.kind {
                ColumnType::Category if column.values.is_empty() => {
                    return Err(fail(
                        at,
                        format!("category column '{name}' needs its allowed `values`"),
                    ));
                }
                ColumnType::Category => {}
                _ if !column.values.is_empty() => {
                    return Err(fail(
                        at,
                        format!("`values` only applies to category columns ('{name}')"),
                    ));
                }
                _ => {}
            }
            if column.required && column.may_be_absent {
                return Err(fail(
                    at,
                    format!("column '{name}' can't be both `required` and `may_be_absent`"),
                ));
            }
            if column.width.is_some() && column.kind != ColumnType::Id {
                return Err(fail(
                    at,
                    format!("`width` only applies to id columns ('{name}')"),
                ));
            }
        }
        if let Some(dated_by) = &source.dated_by {
            let name = dated_by.get_ref();
            let dated = source.columns.iter().any(|c| {
                c.name.get_ref() == name && matches!(c.kind, ColumnType::Date | ColumnType::Month)
            });
            if !dated {
                return Err(fail(
                    Some(dated_by.span().start),
                    format!(
                        "sources.{key}.dated_by must name one of its date or month columns, found '{name}'"
                    ),
                ));
            }
        }
    }

    let base = path.parent().unwrap_or(Path::new("."));
    let inputs: PathBuf = match inputs {
        Some(dir) => dir.to_owned(),
        None => base.join(&settings.inputs),
    };
    Ok(Pipeline {
        path: path.to_owned(),
        year: year.unwrap_or(settings.year),
        inputs,
        reference: raw.reference,
        sources: raw.sources,
        parameters: raw.parameters,
        tables: raw.tables,
        findings: raw.findings,
        coverage: raw.coverage,
        indicators: raw.indicators,
        settings,
        text,
    })
}

/// Names the SQL templating defines itself.
pub const BUILT_IN_PARAMETERS: [&str; 4] =
    ["annee", "annee_precedente", "debut_annee", "fin_annee"];

fn validate_indicators(
    raw: &RawPipeline,
    fail: &dyn Fn(Option<usize>, String) -> Error,
) -> Result<()> {
    for name in raw.parameters.keys() {
        if !is_identifier(name) || BUILT_IN_PARAMETERS.contains(&name.as_str()) {
            return Err(fail(
                None,
                format!(
                    "parameter '{name}' must be lowercase letters, digits and '_', and not one of {BUILT_IN_PARAMETERS:?}"
                ),
            ));
        }
    }
    let mut tables: HashSet<&str> = raw.sources.keys().map(String::as_str).collect();
    for table in &raw.tables {
        let name = table.name.get_ref();
        let at = Some(table.name.span().start);
        if !is_identifier(name) {
            return Err(fail(
                at,
                format!("table name '{name}' must be lowercase letters, digits and '_'"),
            ));
        }
        if !tables.insert(name) {
            return Err(fail(
                at,
                format!("table '{name}' is declared twice (or has a source's name)"),
            ));
        }
    }
    let mut ids = HashSet::new();
    for finding in &raw.findings {
        if !ids.insert(finding.id.get_ref().as_str()) {
            return Err(fail(
                Some(finding.id.span().start),
                format!("finding '{}' is declared twice", finding.id.get_ref()),
            ));
        }
    }
    let mut ids = HashSet::new();
    for indicator in &raw.indicators {
        let id = indicator.id.get_ref();
        let at = Some(indicator.id.span().start);
        let err = |m: String| Err(fail(at, format!("indicator {id}: {m}")));
        if !ids.insert(id.as_str()) {
            return err("declared twice".into());
        }
        if !tables.contains(indicator.table.as_str()) {
            let mut known: Vec<&str> = tables.iter().copied().collect();
            known.sort_unstable();
            return err(format!(
                "unknown table '{}' (known: {})",
                indicator.table,
                known.join(", ")
            ));
        }
        let needs = |field: &str, present: bool| -> Result<()> {
            if present {
                Ok(())
            } else {
                Err(fail(
                    at,
                    format!(
                        "indicator {id}: kind '{}' needs `{field}`",
                        indicator.kind.name()
                    ),
                ))
            }
        };
        for &field in indicator.kind.needs() {
            let present = match field {
                Field::Key => indicator.key.is_some(),
                Field::Measure => indicator.measure.is_some(),
                Field::Condition => indicator.condition.is_some(),
                Field::Denominator => indicator.denominator.is_some(),
            };
            needs(field.name(), present)?;
        }
        // The finance workbook reads a funder's numerator as paid, its denominator as agreed, per action.
        if indicator.funder.is_some()
            && !(indicator.kind == Kind::Ratio && indicator.breakdown.is_some())
        {
            return err("`funder` needs kind 'ratio' and a `breakdown` (the action)".into());
        }
        if indicator.breakdown_label.is_some() && indicator.breakdown.is_none() {
            return err("`breakdown_label` without `breakdown`".into());
        }
    }
    Ok(())
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}
