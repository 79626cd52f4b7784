//! `suivi explain --out FILE.xlsx`: one cell's listing as a French
//! workbook, marked for internal use: its file and row numbers lead to
//! persons in the partners' files.

use super::sheet::{Column, Preamble, Sheet};
use super::styles::{Styles, titled_workbook};
use crate::explain::Explanation;
use crate::explain::write::{COLUMNS, records};
use crate::report::ReportContext;
use rust_xlsxwriter::{Workbook, XlsxError};

pub(super) fn build(context: &ReportContext, e: &Explanation) -> Result<Workbook, XlsxError> {
    let period = match e.month {
        Some(m) => format!("{m:02}/{}", e.year),
        None => e.year.to_string(),
    };
    let breakdown = e
        .breakdown
        .as_ref()
        .map(|b| format!(", {b}"))
        .unwrap_or_default();
    let title = format!(
        "{} - {}, {}, {period}{breakdown}",
        e.indicator, e.label, e.territory
    );
    let mut workbook = titled_workbook(context, &title)?;
    let styles = Styles::new();
    let figure = |v: Option<f64>| {
        v.map(|v| super::french::french_number(v, 6))
            .unwrap_or_else(|| "-".to_owned())
    };
    let preamble = Preamble::new(context, title.clone())
        .note(format!(
            "Valeur publiée : {} ; numérateur : {} ; dénominateur : {}. {} unités, {} lignes des \
             fichiers des partenaires.",
            figure(e.value),
            figure(e.numerator),
            figure(e.denominator),
            e.units,
            e.lines.len()
        ))
        .note(
            "Une ligne par ligne d'un fichier reçu : « unite » regroupe les lignes d'une même \
             unité (foyer, personne, événement), dont la contribution (numérateur, dénominateur, \
             valeur pour une moyenne ou une médiane) est sur sa première ligne, celle qui la \
             place dans ce territoire et ce mois. Fichier, feuille et ligne mènent à la personne \
             dans le fichier du partenaire : aucun identifiant n'est écrit ici.",
        );
    let columns: Vec<Column> = COLUMNS
        .iter()
        .map(|c| Column::new(*c))
        .chain(e.columns.iter().map(|c| Column::wrapped(c.clone(), 30.0)))
        .collect();
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, "Explication", &preamble, &columns, &styles)?;
    let text = styles.line(false);
    let mut row = sheet.header_row;
    for (line, record) in e.lines.iter().zip(records(e)) {
        row += 1;
        sheet.count(row, 0, line.unit, &styles, false)?;
        for (col, v) in [
            (1u16, line.numerator),
            (2, line.denominator),
            (3, line.value),
        ] {
            match v {
                Some(v) => sheet.number(
                    row,
                    col,
                    v,
                    &styles.number("General", false),
                    super::measure::Measure::Decimal,
                )?,
                None => sheet.blank(row, col, &text)?,
            }
        }
        for (col, value) in record.iter().enumerate().skip(4) {
            sheet.text(row, col as u16, value, &text)?;
        }
    }
    sheet.finish(
        &preamble,
        row,
        &styles,
        &super::footer(context, &format!("explication {}", e.indicator)),
    )?;
    Ok(workbook)
}
