//! `suivi_financier_<Y>.xlsx`: per funder and action, the amount agreed in
//! the convention, the amount paid in the year, the execution rate and what
//! remains; totals per funder and overall are Excel formulas whose cached
//! values are written, rounded to the cent. Money is public: never masked.

use super::footer;
use super::french::{french_date, french_euros, yes_no};
use super::measure::{EURO, Measure};
use super::sheet::{Column, Preamble, Sheet, sheet_name};
use super::styles::{Styles, workbook};
use crate::report::ReportContext;
use rust_xlsxwriter::utility::{cell_range_absolute, quote_sheet_name, row_col_to_cell};
use rust_xlsxwriter::{
    ColNum, ConditionalFormatFormula, Format, Formula, RowNum, Workbook, Worksheet, XlsxError,
};

/// An execution rate below this puts the State's money at risk of being
/// deducted (*réfaction*): flagged in the workbook.
pub const REFACTION_RISK_THRESHOLD: f64 = 0.80;

/// One action of one funder.
struct Action<'a> {
    name: &'a str,
    agreed: f64,
    paid: f64,
}

impl Action<'_> {
    fn rate(&self) -> Option<f64> {
        rate(self.agreed, self.paid)
    }

    /// Money paid on an action the convention gives nothing to.
    fn outside_convention(&self) -> bool {
        self.agreed <= 0.0 && self.paid > 0.0
    }
}

/// The risk column of an action paid without an agreed amount.
const OUTSIDE: &str = "Hors convention";

/// A funder: one ratio indicator of the pipeline that declares its `funder`
/// (FIN-01, FIN-02).
struct Funder<'a> {
    name: String,
    actions: Vec<Action<'a>>,
}

/// Rounded to the cent, never `-0`.
pub(super) fn cents(value: f64) -> f64 {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// Paid over agreed; no rate without an agreed amount.
fn rate(agreed: f64, paid: f64) -> Option<f64> {
    (agreed > 0.0).then(|| paid / agreed)
}

fn at_risk(rate: Option<f64>) -> Option<bool> {
    rate.map(|r| r < REFACTION_RISK_THRESHOLD)
}

fn funders<'a>(context: &ReportContext<'a>) -> Vec<Funder<'a>> {
    context
        .pipeline
        .indicators
        .iter()
        .filter_map(|indicator| Some((indicator, indicator.funder.as_deref()?)))
        .map(|(indicator, funder)| Funder {
            name: funder.to_owned(),
            actions: context
                .rows
                .iter()
                .filter(|r| r.indicator == indicator.id() && r.month.is_none() && r.is_total)
                .filter_map(|r| {
                    Some(Action {
                        name: r.breakdown.as_deref()?,
                        agreed: cents(r.denominator.unwrap_or(0.0)),
                        paid: cents(r.numerator.unwrap_or(0.0)),
                    })
                })
                .collect(),
        })
        .filter(|f| !f.actions.is_empty())
        .collect()
}

/// The actions paid outside the convention, named, or that there are none.
fn outside_note(funders: &[Funder]) -> String {
    let outside: Vec<String> = funders
        .iter()
        .flat_map(|f| f.actions.iter().map(move |a| (f, a)))
        .filter(|(_, a)| a.outside_convention())
        .map(|(f, a)| format!("{}, {} ({})", f.name, a.name, french_euros(a.paid)))
        .collect();
    if outside.is_empty() {
        "Aucun paiement hors convention.".to_owned()
    } else {
        format!(
            "Payé hors convention (action sans montant conventionné) : {}.",
            outside.join(" ; ")
        )
    }
}

/// Where a total lands and what it holds.
struct Total {
    row: RowNum,
    agreed: f64,
    paid: f64,
}

const DETAIL_SHEET: &str = "Par action";
const COL_AGREED: ColNum = 2;
const COL_PAID: ColNum = 3;
const COL_RATE: ColNum = 4;
const COL_REMAINING: ColNum = 5;
const COL_RISK: ColNum = 6;

pub(super) fn build(context: &ReportContext) -> Result<Workbook, XlsxError> {
    let year = context.pipeline.year;
    let departement = &context.pipeline.settings.departement;
    let mut workbook = workbook(context, "Suivi financier")?;
    let styles = Styles::new();
    let funders = funders(context);
    let mut used = Vec::new();
    let summary_name = sheet_name("Synthèse", &mut used);
    let detail_name = sheet_name(DETAIL_SHEET, &mut used);

    let notes = |preamble: Preamble| {
        preamble
            .note(format!(
                "Montant payé : mandats datés de {year}. Taux d'exécution = montant payé / \
                 montant conventionné (pas de taux sans montant conventionné). Reste à payer = \
                 conventionné - payé. Risque de réfaction : taux d'exécution inférieur à {} % ; \
                 « {OUTSIDE} » : paiement sur une action sans montant conventionné. Données au \
                 {}. Montants publics, non soumis au secret statistique.",
                (REFACTION_RISK_THRESHOLD * 100.0).round(),
                french_date(context.as_of)
            ))
            .note(
                funders
                    .iter()
                    .map(|f| {
                        let agreed = cents(f.actions.iter().map(|a| a.agreed).sum());
                        format!("{} conventionnés : {}", f.name, french_euros(agreed))
                    })
                    .collect::<Vec<_>>()
                    .join(" ; "),
            )
            .note(outside_note(&funders))
    };
    let summary_preamble = notes(Preamble::new(
        context,
        format!(
            "Suivi financier {year} - {}",
            context.pipeline.settings.name
        ),
    ));
    let detail_preamble = notes(Preamble::new(
        context,
        format!("Exécution par action et par financement - {departement} {year}"),
    ));

    // The detail sheet is laid out first: the summary refers to its totals.
    let summary_ws = workbook.add_worksheet();
    summary_ws.set_name(&summary_name)?;
    let detail_ws = workbook.add_worksheet();
    let (totals, overall) = detail(
        detail_ws,
        context,
        &styles,
        &detail_name,
        &detail_preamble,
        &funders,
    )?;
    let summary_ws = workbook.worksheet_from_name(&summary_name)?;
    summary(
        summary_ws,
        context,
        &styles,
        &summary_name,
        &summary_preamble,
        (&funders, &totals, &overall),
        &detail_name,
    )?;
    Ok(workbook)
}

fn amount_format(styles: &Styles, total: bool) -> Format {
    styles.number(EURO, total)
}

fn rate_format(styles: &Styles, total: bool) -> Format {
    styles.number(Measure::Share.num_format(), total)
}

/// Writes `formula` with its cached `result`.
fn formula(
    sheet: &mut Sheet,
    row: RowNum,
    col: ColNum,
    text: &str,
    result: Option<f64>,
    format: &Format,
) -> Result<(), XlsxError> {
    let cached = result.map(|r| r.to_string()).unwrap_or_default();
    sheet
        .ws
        .write_formula_with_format(row, col, Formula::new(text).set_result(cached), format)?;
    if let Some(r) = result {
        sheet.fit(col, Measure::Euro.display_len(r));
    }
    Ok(())
}

/// A line of formulas: agreed and paid from `sum(column)` (a sum of lines or
/// a reference to another total), then rate and remaining from those two
/// cells; `total` lines are in bold.
fn formula_line(
    sheet: &mut Sheet,
    row: RowNum,
    sum: impl Fn(ColNum) -> String,
    agreed: f64,
    paid: f64,
    styles: &Styles,
    total: bool,
) -> Result<(), XlsxError> {
    let amount = amount_format(styles, total);
    let agreed_cell = row_col_to_cell(row, COL_AGREED);
    let paid_cell = row_col_to_cell(row, COL_PAID);
    formula(
        sheet,
        row,
        COL_AGREED,
        &format!("=ROUND({},2)", sum(COL_AGREED)),
        Some(agreed),
        &amount,
    )?;
    formula(
        sheet,
        row,
        COL_PAID,
        &format!("=ROUND({},2)", sum(COL_PAID)),
        Some(paid),
        &amount,
    )?;
    let total_rate = rate(agreed, paid);
    formula(
        sheet,
        row,
        COL_RATE,
        &format!("=IF({agreed_cell}>0,{paid_cell}/{agreed_cell},\"\")"),
        total_rate,
        &rate_format(styles, total),
    )?;
    formula(
        sheet,
        row,
        COL_REMAINING,
        &format!("=ROUND({agreed_cell}-{paid_cell},2)"),
        Some(cents(agreed - paid)),
        &amount,
    )?;
    risk(sheet, row, COL_RISK, total_rate, styles, total)
}

fn risk(
    sheet: &mut Sheet,
    row: RowNum,
    col: ColNum,
    rate: Option<f64>,
    styles: &Styles,
    total: bool,
) -> Result<(), XlsxError> {
    let format = styles
        .line(total)
        .set_align(rust_xlsxwriter::FormatAlign::Center);
    match at_risk(rate) {
        Some(r) => sheet.text(row, col, yes_no(r), &format),
        None => sheet.blank(row, col, &format),
    }
}

/// Rates under the threshold and `Oui` in the risk column, in red.
fn flag_risks(
    ws: &mut Worksheet,
    first_row: RowNum,
    last_row: RowNum,
    rate_col: ColNum,
    risk_col: ColNum,
    styles: &Styles,
) -> Result<(), XlsxError> {
    if last_row < first_row {
        return Ok(());
    }
    let cell = row_col_to_cell(first_row, rate_col);
    let low = ConditionalFormatFormula::new()
        .set_rule(format!("=AND(ISNUMBER({cell}),{cell}<{REFACTION_RISK_THRESHOLD})").as_str())
        .set_format(&styles.bad);
    ws.add_conditional_format(first_row, rate_col, last_row, rate_col, &low)?;
    let flag = rust_xlsxwriter::ConditionalFormatCell::new()
        .set_rule(rust_xlsxwriter::ConditionalFormatCellRule::EqualTo(
            format!("\"{}\"", super::french::YES).as_str(),
        ))
        .set_format(&styles.bad);
    ws.add_conditional_format(first_row, risk_col, last_row, risk_col, &flag)?;
    let outside = rust_xlsxwriter::ConditionalFormatCell::new()
        .set_rule(rust_xlsxwriter::ConditionalFormatCellRule::EqualTo(
            format!("\"{OUTSIDE}\"").as_str(),
        ))
        .set_format(&styles.bad);
    ws.add_conditional_format(first_row, risk_col, last_row, risk_col, &outside)?;
    Ok(())
}

fn columns(first: &str) -> Vec<Column> {
    vec![
        Column::wrapped(first, 28.0),
        Column::wrapped("Action", 60.0),
        Column::new("Montant conventionné"),
        Column::new("Montant payé"),
        Column::new("Taux d'exécution"),
        Column::new("Reste à payer"),
        Column::new("Risque de réfaction"),
    ]
}

/// The actions of every funder, one filtered table that can be sorted
/// freely; below it, after a blank row, a total per funder (`SUMIF` over the
/// table, so sorting never breaks them) and the overall total.
fn detail(
    ws: &mut Worksheet,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
    preamble: &Preamble,
    funders: &[Funder],
) -> Result<(Vec<Total>, Total), XlsxError> {
    let mut sheet = Sheet::new(ws, name, preamble, &columns("Financement"), styles)?;
    let mut row = sheet.header_row;
    let text = styles.line(false);
    let amount = amount_format(styles, false);
    for funder in funders {
        for action in &funder.actions {
            row += 1;
            sheet.text(row, 0, &funder.name, &styles.line_wrap(false))?;
            sheet.text(row, 1, action.name, &styles.line_wrap(false))?;
            sheet.number(row, COL_AGREED, action.agreed, &amount, Measure::Euro)?;
            sheet.number(row, COL_PAID, action.paid, &amount, Measure::Euro)?;
            match action.rate() {
                Some(r) => sheet.number(
                    row,
                    COL_RATE,
                    r,
                    &rate_format(styles, false),
                    Measure::Share,
                )?,
                None => sheet.blank(row, COL_RATE, &text)?,
            }
            let remaining = cents(action.agreed - action.paid);
            sheet.number(row, COL_REMAINING, remaining, &amount, Measure::Euro)?;
            if action.outside_convention() {
                let format = text.clone().set_align(rust_xlsxwriter::FormatAlign::Center);
                sheet.text(row, COL_RISK, OUTSIDE, &format)?;
            } else {
                risk(&mut sheet, row, COL_RISK, action.rate(), styles, false)?;
            }
        }
    }
    let (first, last) = (sheet.header_row + 1, row);
    // Absolute references: the formulas stay right whatever the sort.
    let range = |col: ColNum| cell_range_absolute(first, col, last.max(first), col);
    row += 1;
    let mut totals = Vec::new();
    for funder in funders {
        row += 1;
        let agreed = cents(funder.actions.iter().map(|a| a.agreed).sum());
        let paid = cents(funder.actions.iter().map(|a| a.paid).sum());
        sheet.text(row, 0, &funder.name, &styles.line_wrap(true))?;
        sheet.text(
            row,
            1,
            &format!("Total {}", funder.name),
            &styles.line_wrap(true),
        )?;
        let funder_cell = row_col_to_cell(row, 0);
        let sum = |col| format!("SUMIF({},{funder_cell},{})", range(0), range(col));
        formula_line(&mut sheet, row, sum, agreed, paid, styles, true)?;
        totals.push(Total { row, agreed, paid });
    }
    row += 1;
    let agreed = cents(totals.iter().map(|t| t.agreed).sum());
    let paid = cents(totals.iter().map(|t| t.paid).sum());
    sheet.text(row, 0, "Ensemble", &styles.line_wrap(true))?;
    sheet.text(row, 1, "Total général", &styles.line_wrap(true))?;
    let rows: Vec<RowNum> = totals.iter().map(|t| t.row).collect();
    let sum = |col| cells_sum(&rows, col, None);
    formula_line(&mut sheet, row, sum, agreed, paid, styles, true)?;
    let overall = Total { row, agreed, paid };
    flag_risks(sheet.ws, first, row, COL_RATE, COL_RISK, styles)?;
    // The filter covers the actions only: sorting them leaves the totals be.
    sheet.finish(preamble, last, styles, &footer(context, "suivi financier"))?;
    Ok((totals, overall))
}

/// `A1+A5` (or `0` without cells), optionally on another sheet.
fn cells_sum(rows: &[RowNum], col: ColNum, sheet: Option<&str>) -> String {
    if rows.is_empty() {
        return "0".to_owned();
    }
    let prefix = sheet
        .map(|s| format!("{}!", quote_sheet_name(s)))
        .unwrap_or_default();
    rows.iter()
        .map(|&r| format!("{prefix}{}", row_col_to_cell(r, col)))
        .collect::<Vec<_>>()
        .join("+")
}

fn summary(
    ws: &mut Worksheet,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
    preamble: &Preamble,
    (funders, totals, overall): (&[Funder], &[Total], &Total),
    detail_name: &str,
) -> Result<(), XlsxError> {
    // Same columns as the detail, the action column giving the scope.
    let mut sheet = Sheet::new(ws, name, preamble, &columns("Financement"), styles)?;
    let mut row = sheet.header_row;
    let first = row + 1;
    for (funder, total) in funders.iter().zip(totals) {
        row += 1;
        sheet.text(row, 0, &funder.name, &styles.line_wrap(false))?;
        sheet.text(
            row,
            1,
            &format!(
                "{} actions (détail : feuille « {detail_name} »)",
                funder.actions.len()
            ),
            &styles.line_wrap(false),
        )?;
        let reference = |col| cells_sum(&[total.row], col, Some(detail_name));
        formula_line(
            &mut sheet,
            row,
            reference,
            total.agreed,
            total.paid,
            styles,
            false,
        )?;
    }
    let last = row;
    row += 1;
    sheet.text(row, 0, "Ensemble", &styles.line_wrap(true))?;
    sheet.text(row, 1, "Total général", &styles.line_wrap(true))?;
    let sum = |col| {
        if last < first {
            "0".to_owned()
        } else {
            format!(
                "SUM({}:{})",
                row_col_to_cell(first, col),
                row_col_to_cell(last, col)
            )
        }
    };
    formula_line(
        &mut sheet,
        row,
        sum,
        overall.agreed,
        overall.paid,
        styles,
        true,
    )?;
    flag_risks(sheet.ws, first, row, COL_RATE, COL_RISK, styles)?;
    sheet.ws.set_selection(first, 0, first, 0)?;
    sheet.finish(preamble, row, styles, &footer(context, "suivi financier"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_risk() {
        assert_eq!(rate(0.0, 10.0), None);
        assert_eq!(at_risk(rate(100.0, 79.99)), Some(true));
        assert_eq!(at_risk(rate(100.0, 80.0)), Some(false));
        assert_eq!(cents(1767349.209999999), 1767349.21);
        assert_eq!(cents(-0.001), 0.0);
    }
}
