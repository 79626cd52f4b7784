//! `suivi explain`: one published cell and the partner rows that make it.
//! The year is read and computed as a run does (masks included in public
//! diffusion); the indicator's rows are then taken again with their place
//! in their files, grouped into the units the figure counts, and each
//! unit's contribution is checked to add up to the published figure.
//! Identifiers never leave this module: a line names its file, sheet and
//! row, which lead back to the person in the partner's own file.

mod lineage;
mod mask;
mod units;
pub mod write;

use crate::confidentiality;
use crate::error::{Error, Result};
use crate::file_hash::HashBook;
use crate::indicators::{self, eval, rows, sql};
use crate::ingest::{self, pseudo::Pseudonymizer};
use crate::pipeline::{Indicator, Kind, Pipeline};
use crate::reference::Reference;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Which cell to explain, as the command line names it.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub indicator: String,
    /// A territory's name; None: the département.
    pub territory: Option<String>,
    /// `3`, `03`, `03/2020` or `2020-03`; None: the year.
    pub month: Option<String>,
    /// A breakdown value; None: the indicator's total.
    pub breakdown: Option<String>,
    /// Internal diffusion: masked cells are explained too.
    pub internal: bool,
}

/// One partner row behind the cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1-based number of the unit (or event) the row belongs to.
    pub unit: usize,
    /// The unit's contribution, on its first line only.
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    /// The unit's value for a mean or a median.
    pub value: Option<f64>,
    pub source: String,
    /// File name, sheet (empty for CSV) and 1-based row as the partner sees
    /// them; empty for a row of a derived table that no identifier links
    /// to a partner file.
    pub file: String,
    pub sheet: String,
    pub row: Option<u32>,
    /// The values of [`Explanation::columns`], as text.
    pub values: Vec<String>,
}

/// A published cell and its listing.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub indicator: String,
    pub label: String,
    pub kind: Kind,
    /// The territory's name, or the département's.
    pub territory: String,
    pub month: Option<u32>,
    pub breakdown: Option<String>,
    pub year: i32,
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    /// The columns of the indicator's table it reads (identifiers left out).
    pub columns: Vec<String>,
    pub units: usize,
    pub lines: Vec<Line>,
}

/// Explains one published cell of `pipeline`'s year. A cell masked in
/// public diffusion is refused with the reason (exit 5).
pub fn explain(pipeline: &Pipeline, cell: &Cell) -> Result<Explanation> {
    let Some(indicator) = pipeline
        .indicators
        .iter()
        .find(|i| i.id().eq_ignore_ascii_case(&cell.indicator))
    else {
        let ids: Vec<&str> = pipeline.indicators.iter().map(Indicator::id).collect();
        return Err(Error::Usage(format!(
            "unknown indicator '{}' (the pipeline has {})",
            cell.indicator,
            ids.join(", ")
        )));
    };
    let reference = Reference::load(pipeline)?;
    let place = locate(pipeline, indicator, &reference, cell)?;
    let pseudonymizer = Pseudonymizer::from_env()?;
    let tables = ingest::read_sources(
        pipeline,
        &reference,
        &pseudonymizer,
        &HashBook::default(),
        &indicators::unbuilt_columns(pipeline),
    )?;
    ingest::enforce_reject_limit(pipeline, &tables)?;
    let mut sources = BTreeMap::new();
    let mut files = BTreeMap::new();
    for table in tables {
        files.insert(table.name.clone(), table.files);
        sources.insert(table.name, table.frame);
    }

    // The published figure, exactly as `run` computes and masks it.
    let computed = indicators::compute(pipeline, sources.clone(), &reference)?;
    let mut published = rows::rows(pipeline, &computed, None);
    if !cell.internal {
        confidentiality::protect(pipeline, &mut published)?;
    }
    let place = breakdown_value(indicator, &published, place)?;
    let row = published
        .iter()
        .find(|r| r.indicator == indicator.id() && r.place() == place)
        .ok_or_else(|| Error::Usage(format!("{} has no published cell there", indicator.id())))?;
    if row.masked {
        return Err(Error::Masked(mask::reason(
            pipeline, indicator, row, &published,
        )));
    }

    // The indicator's rows again, each with its place in its table.
    let frames = sql::build_tables(pipeline, sources.clone())?;
    let territories = eval::territory_table(&reference)?;
    let columns = read_columns(pipeline, indicator, &frames)?;
    let links = lineage::Links::new(pipeline, indicator, &frames, &sources, &files)?;
    let mut carry: Vec<Expr> = vec![col(units::RANK)];
    carry.extend(
        columns
            .iter()
            .map(|c| col(c.as_str()).cast(DataType::String)),
    );
    carry.extend(links.carried());
    let table = frames
        .get(&indicator.table)
        .expect("validated table name")
        .with_row_index(units::RANK, None);
    let selected = eval::indicator_rows(indicator, pipeline, table, &territories, &carry)?
        .collect()
        .map_err(|e| Error::polars(format!("listing the rows of {}", indicator.id()), e))?;
    let found = units::units(indicator, &selected, &place)
        .map_err(|e| Error::polars(format!("listing the rows of {}", indicator.id()), e))?;
    units::check(indicator, &found, row)?;
    let lines = links.lines(indicator, &found, &selected, &columns)?;
    Ok(Explanation {
        indicator: indicator.id().to_owned(),
        label: indicator.label.clone(),
        kind: indicator.kind,
        territory: row.territory.clone(),
        month: row.month,
        breakdown: row.breakdown.clone(),
        year: pipeline.year,
        value: row.value,
        numerator: row.numerator,
        denominator: row.denominator,
        columns,
        units: found.len(),
        lines,
    })
}

/// The published place the command line names, checked against the
/// indicator and the reference.
fn locate(
    pipeline: &Pipeline,
    indicator: &Indicator,
    reference: &Reference,
    cell: &Cell,
) -> Result<rows::Place> {
    let id = indicator.id();
    let normal = crate::text::normalize;
    let territory = match &cell.territory {
        None => None,
        Some(t) if normal(t) == normal(&pipeline.settings.departement) => None,
        Some(_) if !indicator.by_territory() => {
            return Err(Error::Usage(format!(
                "{id} is computed for the département only: leave out --territoire"
            )));
        }
        Some(t) => Some(
            reference
                .territories
                .iter()
                .find(|name| normal(name) == normal(t))
                .cloned()
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown territory '{t}' (the reference has {})",
                        reference.territories.join(", ")
                    ))
                })?,
        ),
    };
    let month = match &cell.month {
        None => None,
        Some(_) if indicator.date.is_none() => {
            return Err(Error::Usage(format!(
                "{id} is a stock, given for the year only: leave out --mois"
            )));
        }
        Some(m) => Some(month(m, pipeline.year)?),
    };
    let breakdown = match &cell.breakdown {
        None => None,
        Some(_) if indicator.breakdown.is_none() => {
            return Err(Error::Usage(format!(
                "{id} has no breakdown: leave out --ventilation"
            )));
        }
        Some(v) => Some(v.clone()),
    };
    Ok((territory, month, breakdown))
}

/// The breakdown value as published, matched ignoring case and accents;
/// an unknown one is named with the values the indicator takes.
fn breakdown_value(
    indicator: &Indicator,
    published: &[rows::Row],
    place: rows::Place,
) -> Result<rows::Place> {
    let Some(wanted) = &place.2 else {
        return Ok(place);
    };
    let values: std::collections::BTreeSet<&str> = published
        .iter()
        .filter(|r| r.indicator == indicator.id())
        .filter_map(|r| r.breakdown.as_deref())
        .collect();
    let normal = crate::text::normalize;
    match values.iter().find(|v| normal(v) == normal(wanted)) {
        Some(value) => Ok((place.0, place.1, Some((*value).to_owned()))),
        None => Err(Error::Usage(format!(
            "{} has no breakdown value '{wanted}' (its values: {})",
            indicator.id(),
            values.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `3`, `03`, `03/2020` or `2020-03` (of the run's year) to 1 to 12.
fn month(text: &str, year: i32) -> Result<u32> {
    let text = text.trim();
    let (m, y) = if let Some((m, y)) = text.split_once('/') {
        (m, Some(y))
    } else if let Some((y, m)) = text.split_once('-') {
        (m, Some(y))
    } else {
        (text, None)
    };
    let bad = || {
        Error::Usage(format!(
            "--mois {text}: expected a month of {year} (3, 03/{year} or {year}-03)"
        ))
    };
    let m: u32 = m.parse().map_err(|_| bad())?;
    let year_ok = y.is_none_or(|y| y.parse::<i32>() == Ok(year));
    if (1..=12).contains(&m) && year_ok {
        Ok(m)
    } else {
        Err(bad())
    }
}

/// The columns of the indicator's table that its texts name (population,
/// measure, condition, denominator, date, commune, breakdown), in table
/// order; identifiers (and the row number) are never among them.
fn read_columns(
    pipeline: &Pipeline,
    indicator: &Indicator,
    frames: &sql::Frames,
) -> Result<Vec<String>> {
    let schema = frames
        .get(&indicator.table)
        .expect("validated table name")
        .collect_schema()
        .map_err(|e| Error::polars(format!("reading the columns of {}", indicator.table), e))?;
    let texts: Vec<String> = [
        &indicator.population,
        &indicator.measure,
        &indicator.condition,
        &indicator.denominator,
        &indicator.date,
        &indicator.breakdown,
    ]
    .into_iter()
    .flatten()
    .map(|t| sql::render(t, pipeline).unwrap_or_else(|_| t.clone()))
    .chain(std::iter::once(indicator.commune.clone()))
    .collect();
    let words: std::collections::HashSet<&str> = texts
        .iter()
        .flat_map(|t| t.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .collect();
    let identifiers = lineage::identifier_names(pipeline);
    Ok(schema
        .iter_names()
        .map(|n| n.as_str())
        .filter(|n| words.contains(n) && !identifiers.contains(*n) && !n.starts_with('_'))
        .map(str::to_owned)
        .collect())
}
