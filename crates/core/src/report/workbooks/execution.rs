//! `rapport_execution_<Y>.xlsx`: the summary, indicators by territory, one
//! sheet per action group with the monthly series and a chart, the
//! definitions and the sources.

use super::french::{MONTHS, french_date, yes_no};
use super::measure::Measure;
use super::sheet::{Column, Preamble, Sheet, sheet_name};
use super::styles::{Styles, workbook, yes_no_colours};
use super::{confidentiality_note, footer, symbol_note};
use crate::TOOL_VERSION;
use crate::indicators::rows::Row;
use crate::pipeline::{Direction, Indicator};
use crate::report::ReportContext;
use rust_xlsxwriter::{
    Chart, ChartEmptyCells, ChartType, ColNum, Format, RowNum, Workbook, XlsxError,
};
use std::collections::HashMap;

pub(super) fn build(context: &ReportContext) -> Result<Workbook, XlsxError> {
    let mut workbook = workbook(context, "Rapport d'exécution")?;
    let styles = Styles::new();
    let mut used = Vec::new();
    let names = [
        sheet_name("Synthèse", &mut used),
        sheet_name("Par territoire", &mut used),
    ];
    let groups = groups(context);
    let group_names: Vec<String> = groups.iter().map(|g| sheet_name(g, &mut used)).collect();
    let definitions = sheet_name("Définitions", &mut used);
    let sources = sheet_name("Sources", &mut used);

    summary(&mut workbook, context, &styles, &names[0])?;
    by_territory(&mut workbook, context, &styles, &names[1])?;
    for (group, name) in groups.iter().zip(&group_names) {
        group_sheet(&mut workbook, context, &styles, group, name)?;
    }
    definitions_sheet(&mut workbook, context, &styles, &definitions)?;
    sources_sheet(&mut workbook, context, &styles, &sources)?;
    Ok(workbook)
}

/// The distinct action groups of the pipeline, in catalogue order.
fn groups<'a>(context: &ReportContext<'a>) -> Vec<&'a str> {
    let mut groups: Vec<&str> = Vec::new();
    for indicator in &context.pipeline.indicators {
        if !groups.contains(&indicator.action.as_str()) {
            groups.push(&indicator.action);
        }
    }
    groups
}

pub(super) fn measure(indicator: &Indicator) -> Measure {
    Measure::of(&indicator.unit, indicator.kind)
}

/// The département's year figure of each indicator (no breakdown).
fn departement_year(rows: &[Row]) -> HashMap<&str, &Row> {
    rows.iter()
        .filter(|r| r.is_total && r.month.is_none() && r.breakdown.is_none())
        .map(|r| (r.indicator.as_str(), r))
        .collect()
}

fn summary(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let settings = &pipeline.settings;
    let year = pipeline.year;
    let missing = context.previous_missing.join(" ; ");
    let previous = match (context.has_previous, missing.is_empty()) {
        (true, true) => format!("Comparaison avec {} (N-1)", year - 1),
        (true, false) => format!(
            "Comparaison avec {} (N-1), sauf pour les indicateurs qui lisent un fichier {} \
             absent ou inutilisable : {missing}",
            year - 1,
            year - 1
        ),
        (false, false) => format!(
            "Pas de comparaison avec {} : fichier(s) {} absent(s) ou inutilisable(s) : {missing}",
            year - 1,
            year - 1
        ),
        (false, true) => format!(
            "Pas de comparaison avec {} : ses fichiers n'ont pas pu être lus (voir le journal)",
            year - 1
        ),
    };
    let mut preamble = Preamble::new(
        context,
        format!("Rapport d'exécution {year} - {}", settings.name),
    )
    .note(format!(
        "Département : {}. Année : {year}. Données au {} (date la plus récente des fichiers \
         reçus). {previous}. Produit par {TOOL_VERSION}.",
        settings.departement,
        french_date(context.as_of)
    ))
    .note(confidentiality_note(context))
    .note(
        "Valeurs de l'année pour l'ensemble du département. Évolution : écart avec l'année \
         précédente, en points (pt) pour les parts. Définitions : feuille « Définitions » ; \
         détail par territoire et par mois : une feuille par groupe d'actions, nommée par le \
         groupe coupé au dernier mot entier avant 31 caractères (la limite d'Excel), sans \
         mot de liaison final ; le nom complet du groupe est le titre de sa feuille.",
    );
    if let Some(note) = super::deliveries_note(context) {
        preamble = preamble.note(note);
    }
    let mut columns = vec![
        Column::wrapped("Groupe d'actions", 40.0),
        Column::new("Indicateur"),
        Column::wrapped("Libellé", 50.0),
        Column::new("Unité"),
        Column::new(format!("Valeur {year}")),
        Column::new("Cible"),
        Column::new("Cible atteinte"),
    ];
    if context.has_previous {
        columns.push(Column::new(format!("Valeur {}", year - 1)));
        columns.push(Column::new("Évolution"));
    }
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let symbol = &context.confidentiality.symbol;
    let figures = departement_year(context.rows);
    let mut row = sheet.header_row;
    for indicator in &pipeline.indicators {
        let Some(figure) = figures.get(indicator.id()) else {
            continue;
        };
        row += 1;
        let m = measure(indicator);
        let text = styles.line(false);
        sheet.text(row, 0, &indicator.action, &styles.line_wrap(false))?;
        sheet.text(row, 1, indicator.id(), &text)?;
        sheet.text(row, 2, &indicator.label, &styles.line_wrap(false))?;
        sheet.text(row, 3, &indicator.unit, &text)?;
        sheet.figure(
            row,
            4,
            figure.value,
            figure.masked,
            symbol,
            m,
            styles,
            false,
        )?;
        match indicator.target_of(year) {
            Some(target) => {
                let format = styles
                    .number(&m.target_format(target.direction), false)
                    .set_align(rust_xlsxwriter::FormatAlign::Right);
                sheet.number(row, 5, target.value, &format, m)?;
                sheet.fit(5, m.display_len(target.value) + 2);
            }
            None => sheet.blank(row, 5, &text)?,
        }
        match figure.met {
            Some(met) if !figure.masked => sheet.text(row, 6, yes_no(met), &centred(&text))?,
            _ => sheet.blank(row, 6, &text)?,
        }
        if context.has_previous {
            match figure.previous {
                Some(p) => sheet.number(row, 7, p, &styles.number(m.num_format(), false), m)?,
                None => sheet.blank(row, 7, &text)?,
            }
            match (figure.value, figure.previous) {
                (Some(_), Some(_)) if figure.masked => {
                    sheet.text(row, 8, symbol, &styles.masked(false))?
                }
                (Some(v), Some(p)) => {
                    let change = m.change(v, p);
                    let format = styles.number(m.change_format(), false);
                    sheet.number(row, 8, change, &format, m)?;
                    sheet.fit(8, m.display_len(change.abs()) + 3);
                }
                _ => sheet.blank(row, 8, &text)?,
            }
        }
    }
    yes_no_colours(sheet.ws, sheet.header_row + 1, row, 6, styles, true)?;
    sheet
        .ws
        .set_selection(sheet.header_row + 1, 0, sheet.header_row + 1, 0)?;
    sheet.finish(
        &preamble,
        row,
        styles,
        &footer(context, "rapport d'exécution"),
    )
}

fn centred(format: &Format) -> Format {
    format
        .clone()
        .set_align(rust_xlsxwriter::FormatAlign::Center)
}

/// The territories as the rows name them (the reference file's), in order.
fn territories(rows: &[Row]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for row in rows.iter().filter(|r| !r.is_total) {
        if !names.contains(&row.territory.as_str()) {
            names.push(&row.territory);
        }
    }
    names
}

fn by_territory(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let year = pipeline.year;
    let territories = territories(context.rows);
    let preamble = Preamble::new(
        context,
        format!(
            "Indicateurs par territoire, année {year} - {}",
            pipeline.settings.departement
        ),
    )
    .note(format!(
        "Valeurs de l'année {year} : le département (colonne « {} ») puis ses territoires \
         d'action sociale. Chaque niveau est calculé sur les lignes, et non par somme ou \
         moyenne des territoires. {}",
        pipeline.settings.departement,
        symbol_note(context)
    ));
    let mut columns = vec![
        Column::new("Indicateur"),
        Column::wrapped("Libellé", 45.0),
        Column::new("Unité"),
        Column::new(&pipeline.settings.departement),
    ];
    columns.extend(territories.iter().map(|t| Column::new(*t)));
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let mut cells: HashMap<(&str, &str), &Row> = HashMap::new();
    for r in context
        .rows
        .iter()
        .filter(|r| r.month.is_none() && r.breakdown.is_none())
    {
        let territory = if r.is_total { "" } else { r.territory.as_str() };
        cells.insert((r.indicator.as_str(), territory), r);
    }
    let symbol = &context.confidentiality.symbol;
    let mut row = sheet.header_row;
    for indicator in &pipeline.indicators {
        if !cells.keys().any(|(id, _)| *id == indicator.id()) {
            continue;
        }
        row += 1;
        let m = measure(indicator);
        let text = styles.line(false);
        sheet.text(row, 0, indicator.id(), &text)?;
        sheet.text(row, 1, &indicator.label, &styles.line_wrap(false))?;
        sheet.text(row, 2, &indicator.unit, &text)?;
        let levels = std::iter::once("").chain(territories.iter().copied());
        for (i, territory) in levels.enumerate() {
            let col = 3 + i as ColNum;
            match cells.get(&(indicator.id(), territory)) {
                Some(r) => sheet.figure(row, col, r.value, r.masked, symbol, m, styles, false)?,
                None => sheet.blank(row, col, &text)?,
            }
        }
    }
    sheet.finish(
        &preamble,
        row,
        styles,
        &footer(context, "indicateurs par territoire"),
    )
}

/// One line of a group sheet: an indicator at one level (and breakdown value).
struct Line<'a> {
    indicator: &'a Indicator,
    territory: &'a str,
    is_total: bool,
    breakdown: Option<&'a str>,
    months: [Option<&'a Row>; 12],
    year: Option<&'a Row>,
}

fn group_lines<'a>(context: &ReportContext<'a>, group: &str) -> Vec<Line<'a>> {
    let mut lines: Vec<Line<'a>> = Vec::new();
    for indicator in context
        .pipeline
        .indicators
        .iter()
        .filter(|i| i.action == group)
    {
        let first = lines.len();
        for row in context
            .rows
            .iter()
            .filter(|r| r.indicator == indicator.id())
        {
            let found = lines[first..].iter().position(|l| {
                l.territory == row.territory
                    && l.is_total == row.is_total
                    && l.breakdown == row.breakdown.as_deref()
            });
            let index = match found {
                Some(i) => first + i,
                None => {
                    lines.push(Line {
                        indicator,
                        territory: &row.territory,
                        is_total: row.is_total,
                        breakdown: row.breakdown.as_deref(),
                        months: [None; 12],
                        year: None,
                    });
                    lines.len() - 1
                }
            };
            match row.month {
                Some(m @ 1..=12) => lines[index].months[m as usize - 1] = Some(row),
                Some(_) => {}
                None => lines[index].year = Some(row),
            }
        }
    }
    lines
}

fn group_sheet(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    group: &str,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let year = pipeline.year;
    let lines = group_lines(context, group);
    let breakdown_labels: Vec<&str> = {
        let mut labels: Vec<&str> = Vec::new();
        for line in lines.iter().filter(|l| l.breakdown.is_some()) {
            let label = line
                .indicator
                .breakdown_label
                .as_deref()
                .unwrap_or("Ventilation");
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        labels
    };
    let has_breakdown = !breakdown_labels.is_empty();
    let preamble =
        Preamble::new(context, format!("{group} - séries mensuelles {year}")).note(format!(
            "Valeurs par mois et pour l'année {year}, pour le département puis chaque \
             territoire{}. Le mois est celui de la date qui place l'unité dans l'année (voir \
             « Définitions ») ; l'année n'est pas la somme des mois pour les personnes comptées \
             une fois, ni pour les parts et les moyennes. {}",
            if has_breakdown {
                " (et chaque valeur de la ventilation)"
            } else {
                ""
            },
            symbol_note(context)
        ));
    let mut columns = vec![
        Column::new("Indicateur"),
        Column::wrapped("Libellé", 34.0),
        Column::new("Territoire"),
    ];
    if has_breakdown {
        let header = if breakdown_labels.len() == 1 {
            breakdown_labels[0]
        } else {
            "Ventilation"
        };
        columns.push(Column::wrapped(header, 36.0));
    }
    columns.push(Column::new("Unité"));
    let first_month = columns.len() as ColNum;
    columns.extend(MONTHS.iter().map(|m| Column::new(*m)));
    columns.push(Column::new(format!("Année {year}")));
    let year_col = first_month + 12;

    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let symbol = &context.confidentiality.symbol;
    let mut row = sheet.header_row;
    let mut chart_line: Option<ChartLine> = None;
    for (i, line) in lines.iter().enumerate() {
        row += 1;
        let first_of_indicator = i == 0 || lines[i - 1].indicator.id() != line.indicator.id();
        let total = line.is_total && line.breakdown.is_none();
        let m = measure(line.indicator);
        let text = styles.line(total);
        let mut col = 0;
        sheet.text(row, col, line.indicator.id(), &text)?;
        col += 1;
        // The label once per indicator: the lines under it are its territories.
        let label = if first_of_indicator {
            line.indicator.label.as_str()
        } else {
            ""
        };
        sheet.text(row, col, label, &styles.line(total))?;
        col += 1;
        sheet.text(row, col, line.territory, &text)?;
        col += 1;
        if has_breakdown {
            let value = match (line.breakdown, line.indicator.breakdown.is_some()) {
                (Some(b), _) => b,
                (None, true) => "Ensemble",
                (None, false) => "",
            };
            sheet.text(row, col, value, &styles.line_wrap(total))?;
            col += 1;
        }
        sheet.text(row, col, &line.indicator.unit, &text)?;
        for (i, cell) in line.months.iter().enumerate() {
            let col = first_month + i as ColNum;
            match cell {
                Some(r) => sheet.figure(row, col, r.value, r.masked, symbol, m, styles, total)?,
                None => sheet.blank(row, col, &text)?,
            }
        }
        match line.year {
            Some(r) => sheet.figure(row, year_col, r.value, r.masked, symbol, m, styles, total)?,
            None => sheet.blank(row, year_col, &text)?,
        }
        if chart_line.is_none() && total && chartable(line) {
            chart_line = Some(ChartLine { line, row });
        }
    }
    let last_row = row;
    if let Some(line) = chart_line {
        chart(&mut sheet, line, name, first_month, last_row, context)?;
    } else if let Some(line) = lines
        .iter()
        .find(|l| l.is_total && l.breakdown.is_none() && counts(l))
    {
        // The count's monthly series is masked: nothing left to draw.
        sheet.ws.write_string_with_format(
            last_row + 2,
            0,
            format!(
                "Pas de graphique : la série mensuelle de {} ({}) est masquée par le secret statistique.",
                line.indicator.id(),
                pipeline.settings.departement
            ),
            &styles.note_line,
        )?;
    }
    sheet.finish(&preamble, last_row, styles, &footer(context, group))
}

/// Whether a line is a count with a monthly series.
fn counts(line: &Line) -> bool {
    line.indicator.kind.is_total()
        && measure(line.indicator) == Measure::Count
        && line.months.iter().any(|m| m.is_some())
}

/// Whether a line can be charted: a count with a monthly series of which
/// most months are shown.
fn chartable(line: &Line) -> bool {
    let shown = line
        .months
        .iter()
        .filter(|m| m.is_some_and(|r| !r.masked && r.value.is_some()))
        .count();
    counts(line) && shown >= 6
}

/// The line a group's chart draws, and where it is in the sheet.
struct ChartLine<'l, 'a> {
    line: &'l Line<'a>,
    row: RowNum,
}

/// A column chart of the département's monthly series, on its own printed
/// page under the table.
fn chart(
    sheet: &mut Sheet,
    chart_line: ChartLine,
    name: &str,
    first_month: ColNum,
    last_row: RowNum,
    context: &ReportContext,
) -> Result<(), XlsxError> {
    let ChartLine { line, row } = chart_line;
    let indicator = line.indicator;
    let masked = line.months.iter().any(|m| m.is_some_and(|r| r.masked));
    // A chart draws text as 0: with masked months, it reads a hidden copy
    // of the line where masked months are empty.
    let series_row = if masked {
        let helper = last_row + 2;
        for (i, cell) in line.months.iter().enumerate() {
            if let Some(value) = cell.filter(|r| !r.masked).and_then(|r| r.value) {
                sheet
                    .ws
                    .write_number(helper, first_month + i as ColNum, value)?;
            }
        }
        sheet.ws.set_row_hidden(helper)?;
        helper
    } else {
        row
    };
    let header = sheet.header_row;
    let mut chart = Chart::new(ChartType::Column);
    chart
        .add_series()
        .set_categories((name, header, first_month, header, first_month + 11))
        .set_values((name, series_row, first_month, series_row, first_month + 11))
        .set_name(indicator.id());
    chart.title().set_name(&format!(
        "{} - {} ({}, {}, par mois){}",
        indicator.id(),
        indicator.label,
        context.pipeline.settings.departement,
        context.pipeline.year,
        if masked {
            " - mois masqués non représentés"
        } else {
            ""
        }
    ));
    chart
        .title()
        .set_font(rust_xlsxwriter::ChartFont::new().set_size(11).set_bold());
    chart.legend().set_hidden();
    chart
        .y_axis()
        .set_num_format(measure(indicator).num_format());
    chart.y_axis().set_name(&indicator.unit);
    chart.show_empty_cells_as(ChartEmptyCells::Gaps);
    chart.show_hidden_data();
    chart.set_width(760).set_height(320);
    let anchor = last_row + 3;
    sheet.ws.insert_chart(anchor, 0, &chart)?;
    sheet.ws.set_page_breaks(&[anchor])?;
    Ok(())
}

/// The target of `year` as a reader writes it: `≥ 75,0 %`, `≤ 30 jours`.
pub(super) fn target_text(indicator: &Indicator, year: i32) -> String {
    let Some(target) = indicator.target_of(year) else {
        return String::new();
    };
    let sign = match target.direction {
        Direction::Min => "≥",
        Direction::Max => "≤",
    };
    let value = match measure(indicator) {
        Measure::Share => format!(
            "{}\u{a0}%",
            super::french::french_number(target.value * 100.0, 1)
        ),
        _ => format!(
            "{} {}",
            super::french::french_number(target.value, 2),
            indicator.unit
        ),
    };
    format!("{sign} {}", value.trim())
}

fn definitions_sheet(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let preamble = Preamble::new(
        context,
        format!("Définitions des indicateurs - {}", pipeline.settings.name),
    )
    .note(
        "Générées à partir du fichier de pipeline. Table : la source ou la table dérivée sur \
         laquelle l'indicateur est calculé ; population : la condition qui choisit ses lignes \
         (paramètres remplacés par leur valeur pour l'année) ; calcul : ce qui est compté, et \
         la condition du numérateur s'il y en a une. Paramètres et tables dérivées sous le \
         tableau.",
    );
    let columns = [
        Column::new("Indicateur"),
        Column::wrapped("Libellé", 30.0),
        Column::wrapped("Définition", 50.0),
        Column::wrapped("Table", 20.0),
        Column::wrapped("Population", 32.0),
        Column::wrapped("Calcul", 16.0),
        Column::new("Unité"),
        Column::new("Cible"),
        Column::new("Ventilation"),
        Column::wrapped("Groupe d'actions", 22.0),
    ];
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let text = styles.line(false);
    let wrap = styles.line_wrap(false);
    let mut row = sheet.header_row;
    for indicator in &pipeline.indicators {
        row += 1;
        sheet.text(row, 0, indicator.id(), &text)?;
        sheet.text(row, 1, &indicator.label, &wrap)?;
        sheet.text(row, 2, &indicator.definition, &wrap)?;
        sheet.text(row, 3, &indicator.table, &text)?;
        let readable = |sql: &Option<String>| {
            sql.as_deref()
                .map(|sql| crate::indicators::sql::for_readers(sql, pipeline))
        };
        sheet.text(
            row,
            4,
            &readable(&indicator.population).unwrap_or_default(),
            &wrap,
        )?;
        let calcul = match readable(&indicator.condition) {
            Some(condition) => format!("{}, si {condition}", indicator.kind.label()),
            None => indicator.kind.label().to_owned(),
        };
        sheet.text(row, 5, &calcul, &wrap)?;
        sheet.text(row, 6, &indicator.unit, &text)?;
        sheet.text(row, 7, &target_text(indicator, pipeline.year), &text)?;
        sheet.text(
            row,
            8,
            indicator.breakdown_label.as_deref().unwrap_or(""),
            &text,
        )?;
        sheet.text(row, 9, &indicator.action, &wrap)?;
    }
    let last_row = row;

    // Parameters and derived tables, below the filtered table.
    let bold = styles
        .header
        .clone()
        .set_align(rust_xlsxwriter::FormatAlign::Left);
    if !pipeline.parameters.is_empty() {
        row += 2;
        sheet.text(row, 0, "Paramètre", &bold)?;
        sheet.text(row, 1, "Valeur", &bold)?;
        for (key, value) in &pipeline.parameters {
            row += 1;
            sheet.text(row, 0, key, &text)?;
            sheet.text(row, 1, &value.to_string(), &wrap)?;
        }
    }
    if !pipeline.tables.is_empty() {
        row += 2;
        sheet.text(row, 0, "Table dérivée", &bold)?;
        sheet.text(row, 1, "Une ligne de la table est", &bold)?;
        for table in &pipeline.tables {
            row += 1;
            sheet.text(row, 0, table.name.get_ref(), &text)?;
            sheet.text(row, 1, table.description.as_deref().unwrap_or(""), &wrap)?;
        }
    }
    sheet.finish(&preamble, last_row, styles, &footer(context, "définitions"))
}

fn sources_sheet(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let preamble = Preamble::new(
        context,
        format!(
            "Fichiers sources - {} {}",
            pipeline.settings.departement, pipeline.year
        ),
    )
    .note(format!(
        "Chaque fichier (ou feuille) lu pour l'année {} : son empreinte SHA-256 identifie la \
         version exacte reçue. Lignes lues = acceptées + rejetées + ignorées (titres, en-tête, \
         lignes vides et lignes de total). Données au {} ; produit par {TOOL_VERSION}.",
        pipeline.year,
        french_date(context.as_of)
    ));
    let columns = [
        Column::new("Source"),
        Column::new("Fichier"),
        Column::new("Feuille"),
        Column::new("Lignes lues"),
        Column::new("Acceptées"),
        Column::new("Rejetées"),
        Column::new("Ignorées"),
        Column::new("Ligne d'en-tête"),
        Column::new("Encodage"),
        Column::new("Données au"),
        Column::new("Version de l'outil"),
        Column::new("Empreinte SHA-256"),
    ];
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let text = styles.line(false);
    let mut row = sheet.header_row;
    for file in context.files {
        row += 1;
        let label = pipeline
            .sources
            .get(&file.source)
            .and_then(|s| s.label.as_deref())
            .unwrap_or(&file.source);
        sheet.text(row, 0, label, &styles.line_wrap(false))?;
        sheet.text(row, 1, &file.file_name(), &text)?;
        sheet.text(row, 2, file.sheet.as_deref().unwrap_or(""), &text)?;
        sheet.count(row, 3, file.rows_read, styles, false)?;
        sheet.count(row, 4, file.accepted, styles, false)?;
        sheet.count(row, 5, file.rejected(), styles, false)?;
        sheet.count(row, 6, file.skipped, styles, false)?;
        let centred = text.clone().set_align(rust_xlsxwriter::FormatAlign::Center);
        let line_number = styles
            .number("0", false)
            .set_align(rust_xlsxwriter::FormatAlign::Center);
        sheet.number(row, 7, file.header_row as f64, &line_number, Measure::Count)?;
        sheet.text(row, 8, file.encoding.unwrap_or(""), &centred)?;
        sheet.date(row, 9, context.as_of, styles)?;
        sheet.text(row, 10, TOOL_VERSION, &text)?;
        // A monospaced 9-point font: the 64 characters fit in the widest column.
        sheet
            .ws
            .write_string_with_format(row, 11, &file.sha256, &styles.mono)?;
        sheet.fit(11, 64);
    }
    sheet.finish(&preamble, row, styles, &footer(context, "sources"))
}
