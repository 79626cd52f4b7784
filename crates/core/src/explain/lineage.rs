//! From a row of the indicator's table back to the partner's rows. A row
//! of a source is itself: its file (found from the order the source's
//! files were read in) and its row number. A row of a derived table is
//! built by SQL that keeps no row numbers: it leads to the rows of the
//! sources it reads that carry the same identifier (a household's CAF
//! months and orientations), the row that placed it in its territory and
//! month first. Identifiers are compared here, as pseudonyms, and never
//! returned.

use super::units::{RANK, Unit};
use super::{Line, units};
use crate::error::{Error, Result};
use crate::ingest::{FileReport, ROW_COLUMN};
use crate::pipeline::{ColumnType, Indicator, Pipeline};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The names of every identifier column of the pipeline's sources.
pub fn identifier_names(pipeline: &Pipeline) -> HashSet<String> {
    pipeline
        .sources
        .values()
        .flat_map(|s| &s.columns)
        .filter(|c| c.kind == ColumnType::Id)
        .map(|c| c.name.get_ref().clone())
        .collect()
}

/// A partner row a derived row leads to: its source, its index in the
/// source's table (None: the derived row itself, no identifier leading
/// further) and its row in its file.
type PartnerRow = (String, Option<usize>, Option<u32>);

/// What a carried identifier column is called among the selected rows.
fn id_alias(column: &str) -> String {
    format!("_id_{column}")
}

/// How the rows of one indicator's table lead back to partner rows.
pub struct Links<'a> {
    table: String,
    is_source: bool,
    /// For a derived table: each identifier column it has, with the sources
    /// it reads that hold that identifier.
    identifiers: Vec<(String, Vec<String>)>,
    sources: &'a BTreeMap<String, DataFrame>,
    files: &'a BTreeMap<String, Vec<FileReport>>,
}

impl<'a> Links<'a> {
    pub fn new(
        pipeline: &Pipeline,
        indicator: &Indicator,
        frames: &crate::indicators::sql::Frames,
        sources: &'a BTreeMap<String, DataFrame>,
        files: &'a BTreeMap<String, Vec<FileReport>>,
    ) -> Result<Links<'a>> {
        let table = indicator.table.clone();
        let is_source = sources.contains_key(&table);
        let mut identifiers = Vec::new();
        if !is_source {
            let read = crate::indicators::lineage::sources_of(pipeline, indicator);
            let schema = frames
                .get(&table)
                .expect("validated table name")
                .collect_schema()
                .map_err(|e| Error::polars(format!("reading the columns of {table}"), e))?;
            for name in schema.iter_names() {
                let holders: Vec<String> =
                    read.iter()
                        .filter(|s| {
                            pipeline.sources[s.as_str()].columns.iter().any(|c| {
                                c.kind == ColumnType::Id && c.name.get_ref() == name.as_str()
                            })
                        })
                        .cloned()
                        .collect();
                if !holders.is_empty() {
                    identifiers.push((name.to_string(), holders));
                }
            }
        }
        Ok(Links {
            table,
            is_source,
            identifiers,
            sources,
            files,
        })
    }

    /// The columns to keep beside the selected rows: a source's row
    /// numbers, or a derived table's identifiers (as text, to compare).
    pub fn carried(&self) -> Vec<Expr> {
        if self.is_source {
            vec![col(ROW_COLUMN)]
        } else {
            self.identifiers
                .iter()
                .map(|(c, _)| col(c.as_str()).cast(DataType::String).alias(id_alias(c)))
                .collect()
        }
    }

    /// The file and sheet of the `index`th row of `source`'s table: its
    /// files were read in order, each adding its accepted rows.
    fn file_of(&self, source: &str, index: usize) -> (String, String) {
        let mut end = 0;
        for file in self.files.get(source).into_iter().flatten() {
            end += file.accepted;
            if index < end {
                return (file.file_name(), file.sheet.clone().unwrap_or_default());
            }
        }
        (String::new(), String::new())
    }

    /// One line per partner row behind each unit, in unit order.
    pub fn lines(
        &self,
        indicator: &Indicator,
        units: &[Unit],
        selected: &DataFrame,
        columns: &[String],
    ) -> Result<Vec<Line>> {
        let fail =
            |e: PolarsError| Error::polars(format!("listing the rows of {}", indicator.id()), e);
        let texts: Vec<Vec<Option<String>>> = columns
            .iter()
            .map(|c| units::strings(selected, c))
            .collect::<PolarsResult<_>>()
            .map_err(fail)?;
        let values = |i: usize| -> Vec<String> {
            texts
                .iter()
                .map(|t| t[i].clone().unwrap_or_default())
                .collect()
        };
        let ranks: Vec<usize> = units::strings(selected, RANK)
            .map_err(fail)?
            .into_iter()
            .map(|r| r.and_then(|r| r.parse().ok()).unwrap_or(0))
            .collect();
        let mut lines = Vec::new();
        if self.is_source {
            let rows: Vec<Option<u32>> = selected
                .column(ROW_COLUMN)
                .and_then(|c| c.cast(&DataType::UInt32))
                .map_err(fail)?
                .u32()
                .map_err(fail)?
                .iter()
                .collect();
            for (u, unit) in units.iter().enumerate() {
                for part in &unit.parts {
                    let (file, sheet) = self.file_of(&self.table, ranks[part.index]);
                    lines.push(Line {
                        unit: u + 1,
                        numerator: part.numerator,
                        denominator: part.denominator,
                        value: part.value,
                        source: self.table.clone(),
                        file,
                        sheet,
                        row: rows[part.index],
                        values: values(part.index),
                    });
                }
            }
            return Ok(in_file_order(lines));
        }
        let found = self.source_rows(indicator, units, selected).map_err(fail)?;
        for (u, unit) in units.iter().enumerate() {
            for part in &unit.parts {
                let partner = found.get(&part.index).map(Vec::as_slice).unwrap_or(&[]);
                // A row no identifier links to a file: the derived table's own.
                let own = [(self.table.clone(), None, None)];
                let rows: &[PartnerRow] = if partner.is_empty() { &own } else { partner };
                for (k, (source, index, row)) in rows.iter().enumerate() {
                    let (file, sheet) = match index {
                        Some(index) => self.file_of(source, *index),
                        None => (String::new(), String::new()),
                    };
                    let first = k == 0;
                    lines.push(Line {
                        unit: u + 1,
                        numerator: part.numerator.filter(|_| first),
                        denominator: part.denominator.filter(|_| first),
                        value: part.value.filter(|_| first),
                        source: source.clone(),
                        file,
                        sheet,
                        row: *row,
                        values: values(part.index),
                    });
                }
            }
        }
        Ok(in_file_order(lines))
    }

    /// For each selected row of a derived table behind the units, the
    /// source rows holding its identifiers: (source, index in the source's
    /// table, row in its file), the placing row first.
    fn source_rows(
        &self,
        indicator: &Indicator,
        units: &[Unit],
        selected: &DataFrame,
    ) -> PolarsResult<HashMap<usize, Vec<PartnerRow>>> {
        let wanted: BTreeSet<usize> = units
            .iter()
            .flat_map(|u| u.parts.iter().map(|p| p.index))
            .collect();
        let communes = units::strings(selected, "_commune")?;
        let dates: Vec<Option<i32>> = selected
            .column("_date")?
            .date()?
            .physical()
            .iter()
            .collect();
        // The date column, when the indicator's date is one, to find the placing row.
        let date_column = indicator
            .date
            .as_deref()
            .map(str::trim)
            .filter(|d| d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let mut found: HashMap<usize, Vec<PartnerRow>> = HashMap::new();
        let mut placing: HashMap<(usize, String, usize), (bool, bool)> = HashMap::new();
        for (column, holders) in &self.identifiers {
            let ids = units::strings(selected, &id_alias(column))?;
            let mut rows_of: HashMap<&str, Vec<usize>> = HashMap::new();
            for &i in &wanted {
                if let Some(id) = ids[i].as_deref() {
                    rows_of.entry(id).or_default().push(i);
                }
            }
            for source in holders {
                let frame = &self.sources[source];
                let values = units::strings(frame, column)?;
                let row_numbers: Vec<Option<u32>> = frame
                    .column(ROW_COLUMN)?
                    .cast(&DataType::UInt32)?
                    .u32()?
                    .iter()
                    .collect();
                let source_communes = frame
                    .column(&indicator.commune)
                    .ok()
                    .map(|c| c.cast(&DataType::String))
                    .transpose()?;
                let source_dates = date_column
                    .and_then(|d| frame.column(d).ok())
                    .filter(|c| c.dtype() == &DataType::Date)
                    .map(|c| c.date().map(|d| d.physical().clone()))
                    .transpose()?;
                for (index, value) in values.iter().enumerate() {
                    let Some(selected_rows) = value.as_deref().and_then(|v| rows_of.get(v)) else {
                        continue;
                    };
                    for &i in selected_rows {
                        let entry = found.entry(i).or_default();
                        if entry
                            .iter()
                            .any(|(s, k, _)| s == source && *k == Some(index))
                        {
                            continue;
                        }
                        let commune = source_communes
                            .as_ref()
                            .and_then(|c| c.str().ok()?.get(index).map(str::to_owned));
                        let date = source_dates.as_ref().and_then(|d| d.get(index));
                        let same_commune = communes[i].is_some() && commune == communes[i];
                        let same_date = dates[i].is_some() && date == dates[i];
                        placing.insert((i, source.clone(), index), (same_commune, same_date));
                        entry.push((source.clone(), Some(index), row_numbers[index]));
                    }
                }
            }
        }
        for (i, rows) in found.iter_mut() {
            rows.sort_by_key(|(source, index, _)| {
                let index = index.unwrap_or_default();
                let (commune, date) = placing[&(*i, source.clone(), index)];
                (!(commune && date), !commune, source.clone(), index)
            });
        }
        Ok(found)
    }
}

/// Units in the order of their first line in the partners' files (a
/// derived table's rows come in an order that varies between runs), then
/// numbered from 1 in that order.
fn in_file_order(lines: Vec<Line>) -> Vec<Line> {
    let mut units: Vec<Vec<Line>> = Vec::new();
    for line in lines {
        match units.last_mut() {
            Some(unit) if unit[0].unit == line.unit => unit.push(line),
            _ => units.push(vec![line]),
        }
    }
    units.sort_by(|a, b| {
        let key = |l: &Line| {
            (
                l.source.clone(),
                l.file.clone(),
                l.sheet.clone(),
                l.row,
                l.values.clone(),
            )
        };
        key(&a[0]).cmp(&key(&b[0]))
    });
    units
        .into_iter()
        .enumerate()
        .flat_map(|(u, unit)| {
            unit.into_iter().map(move |mut line| {
                line.unit = u + 1;
                line
            })
        })
        .collect()
}
