//! `suivi_financier_<Y>.xlsx`: per funder and action, the amount agreed in
//! the convention, the amount paid in the year, the execution rate and what
//! remains; totals per funder and overall are Excel formulas whose cached
//! values are written, rounded to the cent. Money is public: never masked.

use super::footer;
use super::french::{french_date, french_euros, french_number, yes_no};
use super::measure::{EURO, Measure};
use super::sheet::{Column, Preamble, Sheet, sheet_name};
use super::styles::{Styles, workbook};
use crate::report::ReportContext;
use crate::text::row_ranges;
use polars::prelude::AnyValue;
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
    /// The indicator's index in the pipeline.
    index: usize,
    name: String,
    actions: Vec<Action<'a>>,
}

impl Funder<'_> {
    /// What the funder agreed to, and what was paid on those actions: the
    /// two amounts its rate and réfaction verdict compare.
    fn within(&self) -> (f64, f64) {
        let agreed = self.actions.iter().filter(|a| a.agreed > 0.0);
        let (agreed, paid) = agreed.fold((0.0, 0.0), |(g, p), a| (g + a.agreed, p + a.paid));
        (cents(agreed), cents(paid))
    }

    /// Paid on actions the funder agreed nothing to: shown apart.
    fn paid_outside(&self) -> f64 {
        cents(
            self.actions
                .iter()
                .filter(|a| a.agreed <= 0.0)
                .map(|a| a.paid)
                .sum(),
        )
    }
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
        .enumerate()
        .filter_map(|(index, indicator)| Some((index, indicator, indicator.funder.as_deref()?)))
        .map(|(index, indicator, funder)| Funder {
            index,
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
        let total = cents(funders.iter().map(Funder::paid_outside).sum());
        format!(
            "Payé hors convention (action sans montant conventionné), {} en tout, hors de \
             tout taux : {}.",
            french_euros(total),
            outside.join(" ; ")
        )
    }
}

/// For each funder whose paid amount identical payments weigh on: the
/// amount at stake, the rate without them, and whether the réfaction
/// verdict would change.
fn double_entry_notes(context: &ReportContext, funders: &[Funder]) -> Vec<String> {
    let without = &context.double_entries.without;
    funders
        .iter()
        .filter_map(|funder| {
            let figures = without.iter().find(|f| f.index == funder.index)?;
            let total = figures
                .figures
                .iter()
                .find(|f| f.territory.is_none() && f.month.is_none() && f.breakdown.is_none())?;
            let (agreed, paid) = funder.within();
            let paid_without = cents(total.numerator.unwrap_or(0.0));
            let at_stake = cents(paid - paid_without);
            if at_stake <= 0.0 {
                return None;
            }
            let (with_rate, without_rate) = (rate(agreed, paid), rate(agreed, paid_without));
            let mut note = format!(
                "{} : des paiements identiques (possibles doubles saisies, feuille « {} ») \
                 comptent pour {} dans le montant payé",
                funder.name,
                DOUBLE_ENTRIES_SHEET,
                french_euros(at_stake)
            );
            if let Some(r) = without_rate {
                note.push_str(&format!(
                    " ; sans eux, le taux d'exécution serait de {}",
                    french_percent(r)
                ));
            }
            let (before, after) = (at_risk(with_rate), at_risk(without_rate));
            if before != after
                && let (Some(before), Some(after)) = (before, after)
            {
                note.push_str(&format!(
                    ", et le risque de réfaction serait « {} » au lieu de « {} » : à vérifier \
                     avant toute décision",
                    yes_no(after),
                    yes_no(before)
                ));
            }
            note.push('.');
            Some(note)
        })
        .collect()
}

/// A share as French text for a sentence: `79,7 %`.
fn french_percent(share: f64) -> String {
    format!("{}\u{a0}%", french_number(share * 100.0, 1))
}

const DOUBLE_ENTRIES_SHEET: &str = "Doubles saisies";

/// A value of a listed row for readers.
fn listed_value(value: &AnyValue) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => (*s).to_owned(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Date(days) => chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
            .map(french_date)
            .unwrap_or_default(),
        AnyValue::Float64(v) => french_number(*v, 2),
        other => other.to_string(),
    }
}

/// The identical rows of the sources behind the funders' figures, each
/// with its values, for finance to check with whoever keyed them.
fn double_entries_sheet(
    ws: &mut Worksheet,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
    preamble: &Preamble,
) -> Result<(), XlsxError> {
    let columns = [
        Column::wrapped("Source", 28.0),
        Column::wrapped("Fichier", 36.0),
        Column::new("Feuille"),
        Column::new("Première ligne"),
        Column::wrapped("Lignes identiques", 30.0),
        Column::wrapped("Valeurs de la ligne", 80.0),
    ];
    let mut sheet = Sheet::new(ws, name, preamble, &columns, styles)?;
    let mut row = sheet.header_row;
    let text = styles.line_wrap(false);
    for entry in &context.double_entries.entries {
        row += 1;
        sheet.text(row, 0, &entry.source, &text)?;
        sheet.text(row, 1, &entry.file, &text)?;
        sheet.text(row, 2, entry.sheet.as_deref().unwrap_or(""), &text)?;
        let first = match &entry.first_file {
            None => entry.first_row.to_string(),
            Some(file) => format!("{} de {file}", entry.first_row),
        };
        sheet.text(row, 3, &first, &text)?;
        sheet.text(row, 4, &row_ranges(&entry.rows), &text)?;
        let values: Vec<String> = entry
            .values
            .iter()
            .map(|(header, value)| format!("{header} : {}", listed_value(value)))
            .collect();
        sheet.text(row, 5, &values.join(" ; "), &text)?;
    }
    sheet.finish(preamble, row, styles, &footer(context, "suivi financier"))
}

/// Where a funder's total lands and what it holds; `outside_row` is the
/// line of its payments outside the convention, when there are any.
struct Total {
    row: RowNum,
    agreed: f64,
    paid: f64,
    outside_row: Option<RowNum>,
    outside: f64,
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
    let double_entries_name = (!context.double_entries.entries.is_empty())
        .then(|| sheet_name(DOUBLE_ENTRIES_SHEET, &mut used));

    let notes = |preamble: Preamble| {
        let preamble = preamble
            .note(format!(
                "Montant payé : mandats datés de {year}. Taux d'exécution = montant payé sur \
                 les actions que le financeur a conventionnées / montant conventionné (pas de \
                 taux sans montant conventionné). Reste à payer = conventionné - payé. Risque \
                 de réfaction : taux d'exécution inférieur à {} %. « {OUTSIDE} » : paiement sur \
                 une action sans montant conventionné par ce financeur, montré à part et compté \
                 dans aucun taux. Données au {}. Montants publics, non soumis au secret \
                 statistique.",
                (REFACTION_RISK_THRESHOLD * 100.0).round(),
                french_date(context.as_of)
            ))
            .note(
                funders
                    .iter()
                    .map(|f| {
                        let (agreed, _) = f.within();
                        format!("{} conventionnés : {}", f.name, french_euros(agreed))
                    })
                    .collect::<Vec<_>>()
                    .join(" ; "),
            )
            .note(outside_note(&funders));
        double_entry_notes(context, &funders)
            .into_iter()
            .fold(preamble, Preamble::note)
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
    let totals = detail(
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
        (&funders, &totals),
        &detail_name,
    )?;
    if let Some(name) = double_entries_name {
        let preamble = Preamble::new(
            context,
            format!("Paiements identiques, possibles doubles saisies - {departement} {year}"),
        )
        .note(
            "Lignes identiques dans toutes leurs colonnes, sans identifiant : elles sont \
             gardées et comptées comme des paiements distincts. À vérifier avec le service \
             qui les a saisies ; l'effet sur les taux est dit sur la feuille de synthèse.",
        );
        let ws = workbook.add_worksheet();
        double_entries_sheet(ws, context, &styles, &name, &preamble)?;
    }
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
) -> Result<Vec<Total>, XlsxError> {
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
            if action.outside_convention() {
                sheet.blank(row, COL_REMAINING, &text)?;
                let format = text.clone().set_align(rust_xlsxwriter::FormatAlign::Center);
                sheet.text(row, COL_RISK, OUTSIDE, &format)?;
            } else {
                let remaining = cents(action.agreed - action.paid);
                sheet.number(row, COL_REMAINING, remaining, &amount, Measure::Euro)?;
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
        let (agreed, paid) = funder.within();
        sheet.text(row, 0, &funder.name, &styles.line_wrap(true))?;
        sheet.text(
            row,
            1,
            &format!("Total {} (actions conventionnées)", funder.name),
            &styles.line_wrap(true),
        )?;
        let funder_cell = row_col_to_cell(row, 0);
        // SUMIFS over the table, so that sorting it never breaks a total.
        let sum_where = |col, agreed_test: &str| {
            format!(
                "SUMIFS({},{},{funder_cell},{},\"{agreed_test}\")",
                range(col),
                range(0),
                range(COL_AGREED)
            )
        };
        formula_line(
            &mut sheet,
            row,
            |col| sum_where(col, ">0"),
            agreed,
            paid,
            styles,
            true,
        )?;
        let mut total = Total {
            row,
            agreed,
            paid,
            outside_row: None,
            outside: funder.paid_outside(),
        };
        if total.outside > 0.0 {
            row += 1;
            sheet.text(row, 0, &funder.name, &styles.line_wrap(true))?;
            sheet.text(row, 1, &outside_label(funder), &styles.line_wrap(true))?;
            let paid = sum_where(COL_PAID, "<=0");
            outside_line(&mut sheet, row, &paid, total.outside, styles, true)?;
            total.outside_row = Some(row);
        }
        totals.push(total);
    }
    overall_lines(&mut sheet, &mut row, &totals, styles)?;
    flag_risks(sheet.ws, first, row, COL_RATE, COL_RISK, styles)?;
    // The filter covers the actions only: sorting them leaves the totals be.
    sheet.finish(preamble, last, styles, &footer(context, "suivi financier"))?;
    Ok(totals)
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
    (funders, totals): (&[Funder], &[Total]),
    detail_name: &str,
) -> Result<(), XlsxError> {
    // Same columns as the detail, the action column giving the scope.
    let mut sheet = Sheet::new(ws, name, preamble, &columns("Financement"), styles)?;
    let mut row = sheet.header_row;
    let first = row + 1;
    let on_detail = |row, col| cells_sum(&[row], col, Some(detail_name));
    let mut lines = Vec::new();
    for (funder, total) in funders.iter().zip(totals) {
        row += 1;
        sheet.text(row, 0, &funder.name, &styles.line_wrap(false))?;
        let agreed_actions = funder.actions.iter().filter(|a| a.agreed > 0.0).count();
        sheet.text(
            row,
            1,
            &format!(
                "{agreed_actions} action{} conventionnée{} (détail : feuille « {detail_name} »)",
                plural(agreed_actions),
                plural(agreed_actions)
            ),
            &styles.line_wrap(false),
        )?;
        let reference = |col| on_detail(total.row, col);
        formula_line(
            &mut sheet,
            row,
            reference,
            total.agreed,
            total.paid,
            styles,
            false,
        )?;
        let mut line = Total {
            row,
            outside_row: None,
            ..*total
        };
        if let Some(outside_row) = total.outside_row {
            row += 1;
            sheet.text(row, 0, &funder.name, &styles.line_wrap(false))?;
            sheet.text(row, 1, &outside_label(funder), &styles.line_wrap(false))?;
            let paid = on_detail(outside_row, COL_PAID);
            outside_line(&mut sheet, row, &paid, total.outside, styles, false)?;
            line.outside_row = Some(row);
        }
        lines.push(line);
    }
    let last = overall_lines(&mut sheet, &mut row, &lines, styles)?;
    flag_risks(sheet.ws, first, last, COL_RATE, COL_RISK, styles)?;
    sheet.ws.set_selection(first, 0, first, 0)?;
    sheet.finish(preamble, row, styles, &footer(context, "suivi financier"))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn outside_label(funder: &Funder) -> String {
    format!("{} : payé hors convention", funder.name)
}

/// A line of payments outside the convention: no agreed amount, no rate,
/// nothing remaining, only the amount paid.
fn outside_line(
    sheet: &mut Sheet,
    row: RowNum,
    paid: &str,
    amount: f64,
    styles: &Styles,
    total: bool,
) -> Result<(), XlsxError> {
    let text = styles.line(total);
    sheet.blank(row, COL_AGREED, &text)?;
    formula(
        sheet,
        row,
        COL_PAID,
        &format!("=ROUND({paid},2)"),
        Some(amount),
        &amount_format(styles, total),
    )?;
    sheet.blank(row, COL_RATE, &text)?;
    sheet.blank(row, COL_REMAINING, &text)?;
    let centred = text.set_align(rust_xlsxwriter::FormatAlign::Center);
    sheet.text(row, COL_RISK, OUTSIDE, &centred)
}

/// The overall total of the funders' lines (`lines`), then, when any
/// funder paid outside the convention, the total of those payments; `row`
/// ends on the last line written, which is returned too.
fn overall_lines(
    sheet: &mut Sheet,
    row: &mut RowNum,
    lines: &[Total],
    styles: &Styles,
) -> Result<RowNum, XlsxError> {
    *row += 1;
    let agreed = cents(lines.iter().map(|t| t.agreed).sum());
    let paid = cents(lines.iter().map(|t| t.paid).sum());
    sheet.text(*row, 0, "Ensemble", &styles.line_wrap(true))?;
    sheet.text(
        *row,
        1,
        "Total général (actions conventionnées)",
        &styles.line_wrap(true),
    )?;
    let rows: Vec<RowNum> = lines.iter().map(|t| t.row).collect();
    formula_line(
        sheet,
        *row,
        |col| cells_sum(&rows, col, None),
        agreed,
        paid,
        styles,
        true,
    )?;
    let outside_rows: Vec<RowNum> = lines.iter().filter_map(|t| t.outside_row).collect();
    if !outside_rows.is_empty() {
        *row += 1;
        let outside = cents(lines.iter().map(|t| t.outside).sum());
        sheet.text(*row, 0, "Ensemble", &styles.line_wrap(true))?;
        sheet.text(
            *row,
            1,
            "Payé hors convention, tous financements",
            &styles.line_wrap(true),
        )?;
        let paid = cells_sum(&outside_rows, COL_PAID, None);
        outside_line(sheet, *row, &paid, outside, styles, true)?;
    }
    Ok(*row)
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
