//! The published indicator table as files: `indicateurs_<Y>.csv` for tools,
//! `indicateurs_excel_<Y>.csv` for French spreadsheet programs (see
//! [`CsvReader`]), and `indicateurs_<Y>.parquet`.

use super::{CsvReader, neutralise, write_csv_table};
use crate::error::{Error, Result};
use crate::indicators::rows::Row;
use crate::output::write_atomic;
use polars::prelude::*;
use std::path::{Path, PathBuf};

pub const COLUMNS: [&str; 13] = [
    "indicateur",
    "action",
    "libelle",
    "territoire",
    "mois",
    "ventilation",
    "valeur",
    "numerateur",
    "denominateur",
    "cible",
    "atteinte",
    "valeur_n1",
    "masque",
];

/// A number for a CSV reader: decimal point, no exponent, at most 9
/// decimals (sums of amounts carry binary noise such as `0.6400000001`).
fn number(value: Option<f64>) -> String {
    let Some(v) = value else {
        return String::new();
    };
    let text = format!("{v:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// The CSV's flags, lowercase as its contract says (the workbooks write `Oui`).
fn flag(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "oui",
        Some(false) => "non",
        None => "",
    }
}

/// Masked cells show `symbol` in the CSV instead of their figures.
pub fn write_csv(path: &Path, rows: &[Row], symbol: &str, reader: CsvReader) -> Result<PathBuf> {
    let records = rows.iter().map(|row| record(row, symbol));
    write_csv_table(path, &COLUMNS, records, reader)
}

/// A published cell's place as the CSV writes it: indicator, territory,
/// month (empty for the year), breakdown value.
pub type CellId = [String; 4];

/// Column `valeur` of the CSV.
const VALUE: usize = 6;

/// A row as the CSV writes it for tools: 13 fields, in [`COLUMNS`] order.
pub fn record(row: &Row, symbol: &str) -> [String; 13] {
    let figure = |v: Option<f64>| {
        if row.masked && v.is_some() {
            symbol.to_owned()
        } else {
            number(v)
        }
    };
    [
        neutralise(&row.indicator).into_owned(),
        neutralise(&row.action).into_owned(),
        neutralise(&row.label).into_owned(),
        neutralise(&row.territory).into_owned(),
        row.month.map(|m| m.to_string()).unwrap_or_default(),
        neutralise(row.breakdown.as_deref().unwrap_or("")).into_owned(),
        figure(row.value),
        figure(row.numerator),
        figure(row.denominator),
        number(row.target),
        if row.masked { "" } else { flag(row.met) }.to_owned(),
        number(row.previous),
        if row.masked { "oui" } else { "non" }.to_owned(),
    ]
}

fn cell_id(record: &[String; 13]) -> CellId {
    [
        record[0].clone(),
        record[3].clone(),
        record[4].clone(),
        record[5].clone(),
    ]
}

/// Each published cell with its value, exactly as `indicateurs_<Y>.csv` writes them.
pub fn published(rows: &[Row], symbol: &str) -> Vec<(CellId, String)> {
    rows.iter()
        .map(|row| {
            let record = record(row, symbol);
            (cell_id(&record), record[VALUE].clone())
        })
        .collect()
}

/// Each cell of an `indicateurs_<Y>.csv` with its value.
pub fn read_published(path: &Path) -> Result<Vec<(CellId, String)>> {
    let fail = |e: csv::Error| Error::io(format!("reading {}", path.display()), e.into());
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .map_err(fail)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(fail)?
        .iter()
        .map(str::to_owned)
        .collect();
    if header != COLUMNS {
        return Err(Error::io(
            format!("reading {}", path.display()),
            std::io::Error::other("its columns are not those of an indicator table"),
        ));
    }
    reader
        .records()
        .map(|record| {
            let record = record.map_err(fail)?;
            let field = |i: usize| record.get(i).unwrap_or("").to_owned();
            Ok(([field(0), field(3), field(4), field(5)], field(VALUE)))
        })
        .collect()
}

/// Masked cells carry null figures and `masque = oui`.
pub fn write_parquet(path: &Path, rows: &[Row]) -> Result<PathBuf> {
    let figure = |f: fn(&Row) -> Option<f64>| -> Vec<Option<f64>> {
        rows.iter()
            .map(|r| if r.masked { None } else { f(r) })
            .collect()
    };
    let mut frame = df!(
        "indicateur" => rows.iter().map(|r| r.indicator.as_str()).collect::<Vec<_>>(),
        "action" => rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        "libelle" => rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(),
        "territoire" => rows.iter().map(|r| r.territory.as_str()).collect::<Vec<_>>(),
        "mois" => rows.iter().map(|r| r.month.map(|m| m as i32)).collect::<Vec<_>>(),
        "ventilation" => rows.iter().map(|r| r.breakdown.as_deref()).collect::<Vec<_>>(),
        "valeur" => figure(|r| r.value),
        "numerateur" => figure(|r| r.numerator),
        "denominateur" => figure(|r| r.denominator),
        "cible" => rows.iter().map(|r| r.target).collect::<Vec<_>>(),
        "atteinte" => rows.iter().map(|r| if r.masked { None } else { r.met.map(|m| flag(Some(m))) }).collect::<Vec<_>>(),
        "valeur_n1" => rows.iter().map(|r| r.previous).collect::<Vec<_>>(),
        "masque" => rows.iter().map(|r| if r.masked { "oui" } else { "non" }).collect::<Vec<_>>(),
    )
    .map_err(|e| Error::polars("building the indicator table", e))?;
    write_atomic(path, |file| {
        ParquetWriter::new(file)
            .finish(&mut frame)
            .map(|_| ())
            .map_err(|e| Error::polars(format!("writing {}", path.display()), e))
    })
}
