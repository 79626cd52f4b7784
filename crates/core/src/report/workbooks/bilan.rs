//! `bilan_convention_<Y1>-<Y2>.xlsx`: the convention over several years.
//! *Synthèse* holds one line per indicator with its value per year, its
//! target and attainment, the change over the period, and a chart per
//! action group. Then a sheet per territory with the same series, the
//! money per year and cumulated, the definitions and every source file of
//! every year. A year's figures are those of its own publication, masks
//! included.

use super::execution::{measure, target_text};
use super::finance::cents;
use super::french::yes_no;
use super::measure::{EURO, Measure};
use super::sheet::{Column, Preamble, Sheet, sheet_name};
use super::styles::{Styles, titled_workbook, yes_no_colours};
use super::{confidentiality_note, footer_for, symbol_note};
use crate::indicators::rows::Row;
use crate::ingest::FileReport;
use crate::pipeline::Indicator;
use crate::report::ReportContext;
use chrono::NaiveDate;
use rust_xlsxwriter::{Chart, ChartEmptyCells, ChartType, ColNum, RowNum, Workbook, XlsxError};

/// One year of the bilan: its published rows (masked as in that year's
/// publication) and its input files.
pub struct BilanYear {
    pub year: i32,
    pub rows: Vec<Row>,
    pub files: Vec<FileReport>,
    pub as_of: NaiveDate,
}
use std::collections::HashMap;

/// A year's year-level rows by (indicator, territory, breakdown); the
/// département's total has no territory.
type Cells<'a> = HashMap<(&'a str, Option<&'a str>, Option<&'a str>), &'a Row>;

fn cells(year: &BilanYear) -> Cells<'_> {
    year.rows
        .iter()
        .filter(|r| r.month.is_none())
        .map(|r| {
            let territory = (!r.is_total).then_some(r.territory.as_str());
            ((r.indicator.as_str(), territory, r.breakdown.as_deref()), r)
        })
        .collect()
}

pub(super) fn build(context: &ReportContext, years: &[BilanYear]) -> Result<Workbook, XlsxError> {
    let pipeline = context.pipeline;
    let (from, to) = (years[0].year, years[years.len() - 1].year);
    let title = format!(
        "Bilan de la convention {from}-{to} - {}",
        pipeline.settings.departement
    );
    let mut workbook = titled_workbook(context, &title)?;
    let styles = Styles::new();
    let by_year: Vec<Cells> = years.iter().map(cells).collect();
    let mut used = Vec::new();
    let summary = sheet_name("Synthèse", &mut used);
    series_sheet(
        &mut workbook,
        context,
        years,
        &by_year,
        &summary,
        None,
        &styles,
    )?;
    let mut territories: Vec<&str> = years
        .iter()
        .flat_map(|y| &y.rows)
        .filter(|r| !r.is_total)
        .map(|r| r.territory.as_str())
        .collect();
    territories.sort_by(|a, b| crate::text::french_cmp(a, b));
    territories.dedup();
    for territory in territories {
        let name = sheet_name(territory, &mut used);
        series_sheet(
            &mut workbook,
            context,
            years,
            &by_year,
            &name,
            Some(territory),
            &styles,
        )?;
    }
    let money = sheet_name("Finances", &mut used);
    finances(&mut workbook, context, years, &by_year, &money, &styles)?;
    let definitions = sheet_name("Définitions", &mut used);
    definitions_sheet(&mut workbook, context, years, &definitions, &styles)?;
    let sources = sheet_name("Sources", &mut used);
    sources_sheet(&mut workbook, context, years, &sources, &styles)?;
    Ok(workbook)
}

/// One line per indicator: its value each year (and attainment where it
/// has a target), the change over the period; for the département, a chart
/// per action group of its counts.
fn series_sheet(
    workbook: &mut Workbook,
    context: &ReportContext,
    years: &[BilanYear],
    by_year: &[Cells],
    name: &str,
    territory: Option<&str>,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let (from, to) = (years[0].year, years[years.len() - 1].year);
    let place = territory.unwrap_or(&pipeline.settings.departement);
    let preamble = Preamble::new(
        context,
        format!("Bilan de la convention {from}-{to} - {place}"),
    )
    .note(format!(
        "Chaque année est calculée à partir de ses propres fichiers, telle que publiée cette \
         année-là (mêmes valeurs, mêmes masques). Évolution : de {from} à {to}, en points pour \
         les parts. Cible et atteinte : celles que la convention et ses avenants fixent pour \
         chaque année."
    ))
    .note(confidentiality_note(context))
    .note(symbol_note(context));
    let indicators: Vec<&Indicator> = pipeline
        .indicators
        .iter()
        .filter(|i| territory.is_none() || i.by_territory())
        .collect();
    let mut columns = vec![
        Column::wrapped("Groupe d'actions", 24.0),
        Column::new("Indicateur"),
        Column::wrapped("Libellé", 40.0),
        Column::new("Unité"),
    ];
    for year in years {
        columns.push(Column::new(format!("{}", year.year)));
        columns.push(Column::new(format!("Cible {}", year.year)));
        columns.push(Column::new(format!("Atteinte {}", year.year)));
    }
    columns.push(Column::new(format!("Évolution {from}-{to}")));
    // Each year: its value, the target of that year, whether it was met.
    let first_year: ColNum = 4;
    let value_col = |y: usize| first_year + 3 * y as ColNum;
    let change_col = value_col(years.len());
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let symbol = &context.confidentiality.symbol;
    let text = styles.line(false);
    let mut row = sheet.header_row;
    let mut lines: Vec<(&Indicator, RowNum, Vec<Option<&Row>>)> = Vec::new();
    for indicator in indicators {
        row += 1;
        let m = measure(indicator);
        sheet.text(row, 0, &indicator.action, &styles.line_wrap(false))?;
        sheet.text(row, 1, indicator.id(), &text)?;
        sheet.text(row, 2, &indicator.label, &styles.line_wrap(false))?;
        sheet.text(row, 3, &indicator.unit, &text)?;
        let found: Vec<Option<&Row>> = by_year
            .iter()
            .map(|cells| cells.get(&(indicator.id(), territory, None)).copied())
            .collect();
        for (y, cell) in found.iter().enumerate() {
            let (value, masked, met) =
                cell.map_or((None, false, None), |r| (r.value, r.masked, r.met));
            sheet.figure(row, value_col(y), value, masked, symbol, m, styles, false)?;
            match indicator.target_of(years[y].year) {
                Some(target) => {
                    let format = styles
                        .number(&m.target_format(target.direction), false)
                        .set_align(rust_xlsxwriter::FormatAlign::Right);
                    sheet.number(row, value_col(y) + 1, target.value, &format, m)?;
                    sheet.fit(value_col(y) + 1, m.display_len(target.value) + 2);
                }
                None => sheet.blank(row, value_col(y) + 1, &text)?,
            }
            // Attainment as the execution report writes it: centred, coloured.
            let centred = text.clone().set_align(rust_xlsxwriter::FormatAlign::Center);
            match met {
                Some(met) if !masked => sheet.text(row, value_col(y) + 2, yes_no(met), &centred)?,
                _ => sheet.blank(row, value_col(y) + 2, &text)?,
            }
        }
        let shown = |cell: &Option<&Row>| cell.filter(|r| !r.masked).and_then(|r| r.value);
        match (shown(&found[0]), shown(&found[found.len() - 1])) {
            (Some(first), Some(last)) if years.len() > 1 => {
                let format = styles.number(m.change_format(), false);
                sheet.number(row, change_col, m.change(last, first), &format, m)?;
            }
            _ => sheet.blank(row, change_col, &text)?,
        }
        lines.push((indicator, row, found));
    }
    let last_row = row;
    for y in 0..years.len() {
        let col = value_col(y) + 2;
        yes_no_colours(sheet.ws, sheet.header_row + 1, last_row, col, styles, true)?;
    }
    if territory.is_none() {
        charts(
            &mut sheet, context, years, &lines, name, last_row, value_col,
        )?;
    }
    sheet.finish(
        &preamble,
        last_row,
        styles,
        &footer_for(context, &period(years)),
    )
}

/// A line chart per action group of its counts, year after year, for the
/// département. The series read hidden rows under the table that hold the
/// published numbers only: a masked year is a gap, never a zero.
fn charts(
    sheet: &mut Sheet,
    context: &ReportContext,
    years: &[BilanYear],
    lines: &[(&Indicator, RowNum, Vec<Option<&Row>>)],
    name: &str,
    last_row: RowNum,
    value_col: impl Fn(usize) -> ColNum,
) -> Result<(), XlsxError> {
    let mut groups: Vec<&str> = Vec::new();
    for (indicator, ..) in lines {
        if measure(indicator) == Measure::Count && !groups.contains(&indicator.action.as_str()) {
            groups.push(&indicator.action);
        }
    }
    // Hidden helper rows, in adjacent columns: the years, then one row of
    // numbers per charted line.
    let helper_col = |y: usize| value_col(0) + y as ColNum;
    let mut helper = last_row + 2;
    let years_row = helper;
    for (y, year) in years.iter().enumerate() {
        sheet
            .ws
            .write_number(years_row, helper_col(y), f64::from(year.year))?;
    }
    sheet.ws.set_row_hidden(years_row)?;
    let mut anchor_rows = Vec::new();
    let chart_rows: RowNum = 18;
    let charts_start = last_row + 3 + lines.len() as RowNum;
    for (g, group) in groups.iter().enumerate() {
        let mut chart = Chart::new(ChartType::Line);
        for (indicator, _, found) in lines
            .iter()
            .filter(|(i, ..)| i.action == *group && measure(i) == Measure::Count)
        {
            helper += 1;
            for (y, cell) in found.iter().enumerate() {
                if let Some(v) = cell.filter(|r| !r.masked).and_then(|r| r.value) {
                    sheet.ws.write_number(helper, helper_col(y), v)?;
                }
            }
            sheet.ws.set_row_hidden(helper)?;
            let (first, last) = (helper_col(0), helper_col(years.len() - 1));
            chart
                .add_series()
                .set_categories((name, years_row, first, years_row, last))
                .set_values((name, helper, first, helper, last))
                .set_name(indicator.id())
                .set_marker(rust_xlsxwriter::ChartMarker::new().set_automatic());
        }
        chart.title().set_name(&format!(
            "{group} ({}, par année)",
            context.pipeline.settings.departement
        ));
        chart
            .title()
            .set_font(rust_xlsxwriter::ChartFont::new().set_size(11).set_bold());
        chart.show_empty_cells_as(ChartEmptyCells::Gaps);
        chart.show_hidden_data();
        chart.set_width(760).set_height(320);
        let anchor = charts_start + g as RowNum * chart_rows;
        sheet.ws.insert_chart(anchor, 0, &chart)?;
        anchor_rows.push(anchor);
    }
    if !anchor_rows.is_empty() {
        sheet.ws.set_page_breaks(&anchor_rows)?;
    }
    Ok(())
}

/// Per funder and action: agreed and paid each year, then cumulated with
/// the execution rate. Money is public: never masked.
fn finances(
    workbook: &mut Workbook,
    context: &ReportContext,
    years: &[BilanYear],
    by_year: &[Cells],
    name: &str,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let (from, to) = (years[0].year, years[years.len() - 1].year);
    let preamble = Preamble::new(
        context,
        format!(
            "Finances de la convention {from}-{to} - {}",
            pipeline.settings.departement
        ),
    )
    .note(
        "Montant conventionné et montant payé (mandats datés de l'année) de chaque année, puis \
         cumulés sur la période ; taux = payé cumulé / conventionné cumulé.",
    );
    let mut columns = vec![
        Column::wrapped("Financement", 24.0),
        Column::wrapped("Action", 50.0),
    ];
    for year in years {
        columns.push(Column::new(format!("Conventionné {}", year.year)));
        columns.push(Column::new(format!("Payé {}", year.year)));
    }
    columns.push(Column::new("Conventionné cumulé"));
    columns.push(Column::new("Payé cumulé"));
    columns.push(Column::new("Taux d'exécution cumulé"));
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let mut row = sheet.header_row;
    for indicator in pipeline.indicators.iter() {
        let Some(funder) = &indicator.funder else {
            continue;
        };
        let mut actions: Vec<&str> = by_year
            .iter()
            .flat_map(|cells| cells.keys())
            .filter(|(id, territory, b)| {
                *id == indicator.id() && territory.is_none() && b.is_some()
            })
            .filter_map(|(_, _, b)| *b)
            .collect();
        actions.sort_by(|a, b| crate::text::french_cmp(a, b));
        actions.dedup();
        let mut totals = vec![(0.0, 0.0); years.len()];
        let lines = actions
            .iter()
            .map(|a| (Some(*a), false))
            .chain(std::iter::once((None, true)));
        for (action, total) in lines {
            row += 1;
            let label = action.map_or_else(|| format!("Total {funder}"), str::to_owned);
            sheet.text(row, 0, funder, &styles.line_wrap(total))?;
            sheet.text(row, 1, &label, &styles.line_wrap(total))?;
            let amount = styles.number(EURO, total);
            let (mut agreed, mut paid) = (0.0, 0.0);
            for (y, cells) in by_year.iter().enumerate() {
                let (a, p) = match action {
                    Some(action) => cells
                        .get(&(indicator.id(), None, Some(action)))
                        .map_or((0.0, 0.0), |r| {
                            (r.denominator.unwrap_or(0.0), r.numerator.unwrap_or(0.0))
                        }),
                    None => totals[y],
                };
                if action.is_some() {
                    totals[y].0 += a;
                    totals[y].1 += p;
                }
                let col = 2 + 2 * y as ColNum;
                sheet.number(row, col, cents(a), &amount, Measure::Euro)?;
                sheet.number(row, col + 1, cents(p), &amount, Measure::Euro)?;
                agreed += a;
                paid += p;
            }
            let col = 2 + 2 * years.len() as ColNum;
            sheet.number(row, col, cents(agreed), &amount, Measure::Euro)?;
            sheet.number(row, col + 1, cents(paid), &amount, Measure::Euro)?;
            if agreed > 0.0 {
                let rate = styles.number(Measure::Share.num_format(), total);
                sheet.number(row, col + 2, paid / agreed, &rate, Measure::Share)?;
            } else {
                sheet.blank(row, col + 2, &styles.line(total))?;
            }
        }
    }
    sheet.finish(&preamble, row, styles, &footer_for(context, &period(years)))
}

/// "bilan 2019-2021", for footers.
fn period(years: &[BilanYear]) -> String {
    format!("bilan {}-{}", years[0].year, years[years.len() - 1].year)
}

fn definitions_sheet(
    workbook: &mut Workbook,
    context: &ReportContext,
    years: &[BilanYear],
    name: &str,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let preamble = Preamble::new(
        context,
        format!("Définitions des indicateurs - {}", pipeline.settings.name),
    )
    .note("Générées à partir du fichier de pipeline, les mêmes pour chaque année.");
    let columns = [
        Column::new("Indicateur"),
        Column::wrapped("Libellé", 40.0),
        Column::wrapped("Définition", 60.0),
        Column::new("Unité"),
        Column::new("Cible"),
        Column::wrapped("Groupe d'actions", 24.0),
    ];
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let (text, wrap) = (styles.line(false), styles.line_wrap(false));
    let mut row = sheet.header_row;
    for indicator in &pipeline.indicators {
        row += 1;
        sheet.text(row, 0, indicator.id(), &text)?;
        sheet.text(row, 1, &indicator.label, &wrap)?;
        sheet.text(row, 2, &indicator.definition, &wrap)?;
        sheet.text(row, 3, &indicator.unit, &text)?;
        sheet.text(row, 4, &targets_text(indicator, years), &text)?;
        sheet.text(row, 5, &indicator.action, &wrap)?;
    }
    sheet.finish(
        &preamble,
        row,
        styles,
        &footer_for(context, &format!("définitions, {}", period(years))),
    )
}

/// The targets of the bilan's years: one text when every year has the
/// same, otherwise each year's (`2019 : ≥ 50,0 % ; 2020 : ≥ 75,0 %`).
fn targets_text(indicator: &Indicator, years: &[BilanYear]) -> String {
    let texts: Vec<(i32, String)> = years
        .iter()
        .map(|y| (y.year, target_text(indicator, y.year)))
        .collect();
    if texts.iter().all(|(_, t)| *t == texts[0].1) {
        return texts[0].1.clone();
    }
    texts
        .iter()
        .map(|(year, text)| format!("{year} : {}", if text.is_empty() { "-" } else { text }))
        .collect::<Vec<_>>()
        .join(" ; ")
}

/// Every file (or sheet) read, year by year, with its SHA-256.
fn sources_sheet(
    workbook: &mut Workbook,
    context: &ReportContext,
    years: &[BilanYear],
    name: &str,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let preamble = Preamble::new(context, "Fichiers sources de chaque année").note(
        "Lignes lues = acceptées + rejetées + ignorées (titres, en-tête, lignes vides, totaux). \
         L'empreinte SHA-256 identifie la version exacte du fichier reçu.",
    );
    let columns = [
        Column::new("Année"),
        Column::new("Source"),
        Column::new("Fichier"),
        Column::new("Feuille"),
        Column::new("SHA-256"),
        Column::new("Lignes lues"),
        Column::new("Acceptées"),
        Column::new("Rejetées"),
    ];
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let text = styles.line(false);
    let mut row = sheet.header_row;
    for year in years {
        for file in &year.files {
            row += 1;
            sheet.text(row, 0, &year.year.to_string(), &text)?;
            sheet.text(row, 1, &file.source, &text)?;
            sheet.text(row, 2, &file.file_name(), &text)?;
            sheet.text(row, 3, file.sheet.as_deref().unwrap_or(""), &text)?;
            sheet.text(row, 4, &file.sha256, &styles.mono)?;
            sheet.count(row, 5, file.rows_read, styles, false)?;
            sheet.count(row, 6, file.accepted, styles, false)?;
            sheet.count(row, 7, file.rejected(), styles, false)?;
        }
    }
    sheet.finish(
        &preamble,
        row,
        styles,
        &footer_for(context, &format!("sources, {}", period(years))),
    )
}
