//! Reading and validating the pipeline file, with line numbers in errors.

use super::{ColumnType, Pipeline, RawPipeline};
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Reads the pipeline file and applies the command line's overrides.
pub fn load(path: &Path, year: Option<i32>, inputs: Option<&Path>) -> Result<Pipeline> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Spec {
        path: path.to_owned(),
        line: None,
        message: format!("cannot read it: {e}"),
    })?;
    let raw: RawPipeline = toml::from_str(&text).map_err(|e| Error::Spec {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(&text, s.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let fail = |offset: Option<usize>, message: String| Error::Spec {
        path: path.to_owned(),
        line: offset.map(|o| line_of(&text, o)),
        message,
    };

    let settings = raw.pipeline;
    if !(0.0..=1.0).contains(&settings.max_reject_rate) {
        return Err(fail(
            None,
            "pipeline.max_reject_rate must be between 0 and 1".into(),
        ));
    }
    if settings.confidentiality_threshold == 0 {
        return Err(fail(
            None,
            "pipeline.confidentiality_threshold must be at least 1".into(),
        ));
    }
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
        if source.delimiter != "auto" && source.delimiter.chars().count() != 1 {
            return Err(fail(
                Some(source.file.span().start),
                format!(
                    "sources.{key}.delimiter must be \"auto\" or one character, found \"{}\"",
                    source.delimiter
                ),
            ));
        }
        if !matches!(source.encoding.as_str(), "auto" | "utf-8" | "windows-1252") {
            return Err(fail(
                Some(source.file.span().start),
                format!(
                    "sources.{key}.encoding must be \"auto\", \"utf-8\" or \"windows-1252\", found \"{}\"",
                    source.encoding
                ),
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
            if column.width.is_some() && column.kind != ColumnType::Id {
                return Err(fail(
                    at,
                    format!("`width` only applies to id columns ('{name}')"),
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
        settings,
    })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}
