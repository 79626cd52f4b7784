//! `qualite_donnees_<Y>.xlsx`: rows read, accepted, rejected and skipped per
//! source; every rejected row with its reason (written in constant memory,
//! there may be a great many); the data-quality findings; join coverage.

use super::footer;
use super::french::{french_date, french_number, yes_no};
use super::measure::{DATE, Measure};
use super::sheet::{
    Column, EXCEL_ROWS, LineKind, MAX_WIDTH, Preamble, Sheet, print_setup, sheet_name,
};
use super::styles::{Styles, workbook};
use crate::TOOL_VERSION;
use crate::ingest::{FileReport, Reason, Reject};
use crate::report::ReportContext;
use polars::prelude::AnyValue;
use rust_xlsxwriter::{ColNum, RowNum, Workbook, Worksheet, XlsxError};

pub(super) fn build(context: &ReportContext) -> Result<Workbook, XlsxError> {
    let mut workbook = workbook(context, "Qualité des données")?;
    let styles = Styles::new();
    let mut used = Vec::new();
    let names = [
        sheet_name("Synthèse", &mut used),
        sheet_name("Lignes rejetées", &mut used),
        sheet_name("Doubles saisies possibles", &mut used),
        sheet_name("Communes recodées", &mut used),
        sheet_name("Constats", &mut used),
        sheet_name("Couverture", &mut used),
        sheet_name("Changements", &mut used),
    ];
    let rejects_preamble = rejects_layout(context);
    counts(
        &mut workbook,
        context,
        &styles,
        &names[0],
        &rejects_preamble,
    )?;
    let ws = workbook.add_worksheet_with_constant_memory()?;
    rejects(ws, context, &styles, &names[1], &rejects_preamble, None)?;
    double_entries(&mut workbook, context, &styles, &names[2])?;
    mapped_communes(&mut workbook, context, &styles, &names[3])?;
    findings(&mut workbook, context, &styles, &names[4])?;
    coverage(&mut workbook, context, &styles, &names[5])?;
    changes(&mut workbook, context, &styles, &names[6])?;
    Ok(workbook)
}

fn source_label<'a>(context: &'a ReportContext, file: &'a FileReport) -> &'a str {
    context
        .pipeline
        .sources
        .get(&file.source)
        .and_then(|s| s.label.as_deref())
        .unwrap_or(&file.source)
}

/// The reason of a rejected row, in French.
pub(super) fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Duplicate {
            first_row,
            first_file: None,
        } => format!("doublon exact de la ligne {first_row}"),
        Reason::Duplicate {
            first_row,
            first_file: Some(file),
        } => format!("doublon exact de la ligne {first_row} de {file}"),
        Reason::Cell(problem) => match problem.code() {
            "missing" => "valeur obligatoire manquante".to_owned(),
            "date" => "date illisible".to_owned(),
            "month" => "mois illisible".to_owned(),
            "number" => "nombre illisible".to_owned(),
            "bool" => "valeur oui/non illisible".to_owned(),
            "commune" => "commune inconnue du référentiel : corriger le fichier, ou ajouter le \
                          code à la table de passage s'il s'agit d'une commune fusionnée depuis"
                .to_owned(),
            "category" => "valeur absente de la liste déclarée".to_owned(),
            "too_long" => "valeur de plus de 32 767 caractères".to_owned(),
            "cell_error" => "cellule en erreur dans le tableur".to_owned(),
            _ => problem.message().to_owned(),
        },
    }
}

/// How the rejected rows' sheet is laid out: its title lines, and how many
/// rows fit under them.
struct RejectsLayout {
    preamble: Preamble,
    total: usize,
    capacity: usize,
}

impl RejectsLayout {
    fn shown(&self) -> usize {
        self.total.min(self.capacity)
    }

    fn capped(&self) -> bool {
        self.total > self.capacity
    }

    fn cap_note(&self) -> String {
        format!(
            "Liste tronquée : {} lignes rejetées sur {} sont listées (limite d'une feuille \
             Excel). La liste complète s'obtient avec `suivi check --rejects fichier.csv`.",
            french_number(self.shown() as f64, 0),
            french_number(self.total as f64, 0)
        )
    }
}

fn rejects_layout(context: &ReportContext) -> RejectsLayout {
    let total = context.files.iter().map(FileReport::rejected).sum();
    let preamble = |capped_note: Option<String>| {
        let mut p = Preamble::new(
            context,
            format!(
                "Lignes rejetées - {} {}",
                context.pipeline.settings.departement, context.pipeline.year
            ),
        )
        .note(
            "Une ligne rejetée n'entre dans aucun indicateur. Ligne : son numéro dans le fichier, \
             tel que le tableur l'affiche. Les identifiants personnels sont masqués.",
        );
        if let Some(note) = capped_note {
            p = p.note(note);
        }
        p
    };
    let mut layout = RejectsLayout {
        preamble: preamble(None),
        total,
        capacity: 0,
    };
    let capacity_under = |p: &Preamble| (EXCEL_ROWS - p.header_row() - 1) as usize;
    layout.capacity = capacity_under(&layout.preamble);
    if layout.capped() {
        let with_note = preamble(Some(String::new()));
        layout.capacity = capacity_under(&with_note);
        layout.preamble = preamble(Some(layout.cap_note()));
    }
    layout
}

fn counts(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
    rejects: &RejectsLayout,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let mut preamble = Preamble::new(
        context,
        format!(
            "Qualité des données {} - {}",
            pipeline.year, pipeline.settings.name
        ),
    )
    .note(format!(
        "Chaque ligne lue est la ligne d'en-tête, ou une ligne acceptée, rejetée (motif : \
         feuille « Lignes rejetées ») ou ignorée (titres, lignes vides, ligne de total) : \
         lignes lues = 1 en-tête + acceptées + rejetées + ignorées, par fichier. Taux de rejet = rejetées / (acceptées + rejetées) ; au-delà de \
         {} % pour un fichier, le traitement s'arrête. Les doubles saisies possibles (lignes \
         identiques sans identifiant, gardées) et les communes recodées (anciens codes) sont \
         détaillés dans leurs feuilles. Une cellule fusionnée sur plusieurs lignes ou colonnes \
         donne sa valeur à chacune d'elles, comme le montre le tableur : la colonne « Cellules \
         fusionnées » compte les cellules qui ont pris ainsi leur valeur. Données au {} ; \
         produit par {TOOL_VERSION}.",
        french_number(pipeline.settings.max_reject_rate * 100.0, 1),
        french_date(context.as_of)
    ))
    .note(
        "Ce classeur cite des numéros de ligne et des valeurs des fichiers reçus (identifiants \
         masqués) : il s'adresse aux producteurs des données et n'est pas destiné à la diffusion.",
    );
    if rejects.capped() {
        preamble = preamble.note(rejects.cap_note());
    }
    if let Some(note) = super::deliveries_note(context) {
        preamble = preamble.note(note);
    }
    for file in context.files {
        for column in &file.absent_columns {
            let place = match &file.sheet {
                Some(sheet) => format!("{}, feuille « {sheet} »", file.file_name()),
                None => file.file_name(),
            };
            preamble = preamble.note(format!(
                "ATTENTION : la colonne « {column} » est absente de {place}. Le pipeline \
                 l'autorise : elle est laissée vide, et les indicateurs qui l'utilisent sont \
                 calculés sans elle."
            ));
        }
    }
    let columns = [
        Column::new("Source"),
        Column::new("Fichier"),
        Column::new("Feuille"),
        Column::new("Lignes lues"),
        Column::new("Acceptées"),
        Column::new("Rejetées"),
        Column::new("Ignorées"),
        Column::new("Taux de rejet"),
        Column::new("Contrôle"),
        Column::new("Doubles saisies possibles"),
        Column::new("Communes recodées"),
        Column::new("Cellules fusionnées"),
        Column::new("Premier mois"),
        Column::new("Dernier mois"),
    ];
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let mut row = sheet.header_row;
    let mut sums = [0usize; 7];
    // Each file or sheet has one header row, counted in neither column.
    let line = |sheet: &mut Sheet,
                row,
                figures: [usize; 7],
                headers: usize,
                total: bool|
     -> Result<(), XlsxError> {
        let [read, accepted, rejected, skipped, repeated, mapped, merged] = figures;
        for (i, value) in figures[..4].iter().enumerate() {
            sheet.count(row, 3 + i as ColNum, *value, styles, total)?;
        }
        sheet.count(row, 9, repeated, styles, total)?;
        sheet.count(row, 10, mapped, styles, total)?;
        sheet.count(row, 11, merged, styles, total)?;
        let data = accepted + rejected;
        if data > 0 {
            let format = styles.number("0.0%", total);
            sheet.number(
                row,
                7,
                rejected as f64 / data as f64,
                &format,
                Measure::Share,
            )?;
        } else {
            sheet.blank(row, 7, &styles.line(total))?;
        }
        let gap = read as i64 - (headers + accepted + rejected + skipped) as i64;
        let check = if gap == 0 {
            "OK".to_owned()
        } else {
            format!("écart de {gap} lignes")
        };
        let centred = styles
            .line(total)
            .set_align(rust_xlsxwriter::FormatAlign::Center);
        sheet.text(row, 8, &check, &centred)
    };
    for file in context.files {
        row += 1;
        file_cells(&mut sheet, row, context, file, styles)?;
        let figures = [
            file.rows_read,
            file.accepted,
            file.rejected(),
            file.skipped,
            file.repeated(),
            file.mapped_rows(),
            file.merged_cells,
        ];
        for (sum, value) in sums.iter_mut().zip(figures) {
            *sum += value;
        }
        line(&mut sheet, row, figures, 1, false)?;
        // The months of its source (every file of a source together).
        let delivery = context.deliveries.iter().find(|d| d.source == file.source);
        let months = [
            delivery.and_then(|d| d.first),
            delivery.and_then(|d| d.last),
        ];
        for (col, month) in (12..).zip(months) {
            match month {
                Some(month) => sheet.text(
                    row,
                    col,
                    &crate::delivery::month_text(month),
                    &styles.line(false),
                )?,
                None => sheet.blank(row, col, &styles.line(false))?,
            }
        }
    }
    let last = row;
    if !context.files.is_empty() {
        row += 1;
        sheet.text(row, 0, "Ensemble des fichiers", &styles.line_wrap(true))?;
        sheet.blank(row, 1, &styles.line(true))?;
        sheet.blank(row, 2, &styles.line(true))?;
        line(&mut sheet, row, sums, context.files.len(), true)?;
        sheet.blank(row, 12, &styles.line(true))?;
        sheet.blank(row, 13, &styles.line(true))?;
    }
    // The filter leaves the total line out (`last`, not `row`).
    sheet.finish(
        &preamble,
        last,
        styles,
        &footer(context, "qualité des données"),
    )
}

const REJECT_HEADERS: [&str; 7] = [
    "Source", "Fichier", "Feuille", "Ligne", "Colonne", "Valeur", "Motif",
];

/// Every rejected row, in file order then row order, in constant memory:
/// rows are written top to bottom, widths set before. `cap` overrides the
/// sheet's capacity (tests).
fn rejects(
    ws: &mut Worksheet,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
    layout: &RejectsLayout,
    cap: Option<usize>,
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    let listed: Vec<(&FileReport, &Reject)> = context
        .files
        .iter()
        .flat_map(|f| f.rejects.iter().map(move |r| (f, r)))
        .take(cap.unwrap_or(layout.capacity).min(layout.capacity))
        .collect();

    // Widths from the content, before any row is written.
    let mut widths: Vec<usize> = REJECT_HEADERS.iter().map(|h| h.chars().count()).collect();
    for (file, reject) in &listed {
        let cells = [
            source_label(context, file).chars().count(),
            file.file_name().chars().count(),
            file.sheet.as_deref().unwrap_or("").chars().count(),
            reject.row.to_string().len(),
            reject.column.chars().count(),
            reject.value.chars().count(),
            reason_text(&reject.reason).chars().count(),
        ];
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c);
        }
    }
    for (i, w) in widths.iter().enumerate() {
        ws.set_column_width(i as ColNum, (*w as f64 * 1.1 + 2.0).clamp(8.0, MAX_WIDTH))?;
    }

    // Title lines: written cell by cell (no merge, no row height in constant memory).
    let last_col = (REJECT_HEADERS.len() - 1) as ColNum;
    for (row, (text, kind)) in layout.preamble.lines().iter().enumerate() {
        let row = row as RowNum;
        match kind {
            LineKind::Banner => {
                ws.write_string_with_format(row, 0, text, &styles.banner)?;
                for col in 1..=last_col {
                    ws.write_blank(row, col, &styles.banner)?;
                }
            }
            LineKind::Title => {
                ws.write_string_with_format(row, 0, text, &styles.title)?;
            }
            // Unwrapped: the note runs over the empty cells to its right.
            LineKind::Note => {
                ws.write_string_with_format(row, 0, text, &styles.note_line)?;
            }
        }
    }
    let header_row = layout.preamble.header_row();
    ws.set_row_height(header_row, 19.0)?;
    for (col, header) in REJECT_HEADERS.iter().enumerate() {
        ws.write_string_with_format(header_row, col as ColNum, *header, &styles.header)?;
    }
    let text = styles.line(false);
    let number = styles
        .number("0", false)
        .set_align(rust_xlsxwriter::FormatAlign::Center);
    let mut row = header_row;
    for (file, reject) in &listed {
        row += 1;
        ws.write_string_with_format(row, 0, source_label(context, file), &text)?;
        ws.write_string_with_format(row, 1, file.file_name(), &text)?;
        ws.write_string_with_format(row, 2, file.sheet.as_deref().unwrap_or(""), &text)?;
        ws.write_number_with_format(row, 3, reject.row as f64, &number)?;
        ws.write_string_with_format(row, 4, &reject.column, &text)?;
        ws.write_string_with_format(row, 5, &reject.value, &text)?;
        ws.write_string_with_format(row, 6, reason_text(&reject.reason), &text)?;
    }
    if listed.is_empty() {
        row += 1;
        ws.write_string_with_format(row, 0, "Aucune ligne rejetée.", &styles.note_line)?;
    }
    ws.autofilter(header_row, 0, header_row + listed.len() as RowNum, last_col)?;
    ws.set_freeze_panes(header_row + 1, 0)?;
    print_setup(ws, Some(header_row), &footer(context, "lignes rejetées"))?;
    Ok(())
}

/// Identical rows without an identifier: kept and counted (two sessions of
/// the same day and size both happened), listed for the statistician to
/// check with the partner.
fn double_entries(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let lines = context
        .files
        .iter()
        .flat_map(|file| file.repeats.iter().map(move |r| (file, r)))
        .map(|(file, repeat)| {
            let first = match &repeat.first_file {
                None => Listed::Count(repeat.first_row),
                Some(other) => Listed::Text(format!("{} de {other}", repeat.first_row)),
            };
            let cells = vec![
                first,
                Listed::Text(crate::text::row_ranges(&repeat.rows)),
                Listed::Count(repeat.rows.len() + 1),
            ];
            (file, cells)
        })
        .collect();
    file_listing(
        workbook,
        context,
        styles,
        name,
        "Lignes identiques dans toutes leurs colonnes et sans identifiant de personne (une \
         séance, un paiement) : ce sont des événements, toutes sont gardées et comptées. Elles \
         ne sont pas rejetées ; à vérifier avec le partenaire s'il s'agit d'une double saisie.",
        [
            Column::new("Première ligne"),
            Column::wrapped("Lignes identiques", 40.0),
            Column::new("Nombre de lignes"),
        ],
        lines,
        "Aucune ligne répétée.",
    )
}

/// Rows whose commune was written with the code of a commune merged since,
/// mapped to the current code through the passage table.
fn mapped_communes(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let lines = context
        .files
        .iter()
        .flat_map(|file| file.mapped.iter().map(move |m| (file, m)))
        .map(|(file, mapped)| {
            let cells = vec![
                Listed::Text(mapped.former_named.clone()),
                Listed::Text(mapped.current_named.clone()),
                Listed::Count(mapped.rows),
            ];
            (file, cells)
        })
        .collect();
    file_listing(
        workbook,
        context,
        styles,
        name,
        "Lignes acceptées dont la commune est écrite avec le code d'une commune fusionnée \
         depuis : elles sont rattachées à la commune actuelle par la table de passage du \
         référentiel, et comptées dans son territoire.",
        [
            Column::wrapped("Commune écrite (code, nom)", 36.0),
            Column::wrapped("Commune actuelle (code, nom)", 36.0),
            Column::new("Lignes"),
        ],
        lines,
        "Aucune commune écrite avec un ancien code.",
    )
}

/// A cell of a per-file listing.
enum Listed {
    Text(String),
    Count(usize),
}

/// A line's first three cells: the source's label, the file and the sheet.
fn file_cells(
    sheet: &mut Sheet,
    row: RowNum,
    context: &ReportContext,
    file: &FileReport,
    styles: &Styles,
) -> Result<(), XlsxError> {
    sheet.text(
        row,
        0,
        source_label(context, file),
        &styles.line_wrap(false),
    )?;
    sheet.text(row, 1, &file.file_name(), &styles.line(false))?;
    sheet.text(
        row,
        2,
        file.sheet.as_deref().unwrap_or(""),
        &styles.line(false),
    )
}

/// A sheet listing lines about files: source, file and sheet, then `columns`.
#[allow(clippy::too_many_arguments)]
fn file_listing(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
    note: &str,
    columns: [Column; 3],
    lines: Vec<(&FileReport, Vec<Listed>)>,
    empty: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let preamble = Preamble::new(
        context,
        format!(
            "{name} - {} {}",
            pipeline.settings.departement, pipeline.year
        ),
    )
    .note(note);
    let mut all = vec![
        Column::new("Source"),
        Column::new("Fichier"),
        Column::new("Feuille"),
    ];
    all.extend(columns);
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &all, styles)?;
    let mut row = sheet.header_row;
    for (file, cells) in &lines {
        row += 1;
        file_cells(&mut sheet, row, context, file, styles)?;
        for (col, cell) in (3..).zip(cells) {
            match cell {
                Listed::Text(text) => sheet.text(row, col, text, &styles.line_wrap(false))?,
                Listed::Count(n) => sheet.count(row, col, *n, styles, false)?,
            }
        }
    }
    if lines.is_empty() {
        row += 1;
        sheet
            .ws
            .write_string_with_format(row, 0, empty, &styles.note_line)?;
    }
    sheet.finish(
        &preamble,
        row,
        styles,
        &footer(context, &name.to_lowercase()),
    )
}

fn findings(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let preamble = Preamble::new(
        context,
        format!(
            "Constats sur les données - {} {}",
            pipeline.settings.departement, pipeline.year
        ),
    )
    .note(
        "Incohérences repérées entre les fichiers (requêtes du pipeline) : pour chaque \
         constat, son libellé, son nombre de lignes puis ses lignes, sans identifiant personnel.",
    );
    let ws = workbook.add_worksheet();
    // Each finding has its own columns: blocks one under the other, no common filter.
    let mut sheet = Sheet::free(ws, name, &preamble)?;
    let mut row = sheet.header_row;
    // Short values side by side: centred, so that neighbours don't run together.
    let text = styles
        .line(false)
        .set_align(rust_xlsxwriter::FormatAlign::Center);
    if context.findings.is_empty() {
        sheet.ws.write_string_with_format(
            row,
            0,
            "Aucun constat déclaré dans le pipeline.",
            &styles.note_line,
        )?;
    }
    for (index, finding) in context.findings.iter().enumerate() {
        if index > 0 {
            row += 2;
        }
        let title = styles.title.clone().set_font_size(11);
        sheet.ws.write_string_with_format(
            row,
            0,
            format!("{} : {}", finding.id, finding.label),
            &title,
        )?;
        row += 1;
        let frame = &finding.rows;
        let count = frame.height();
        let summary = match count {
            0 => "Aucune ligne.".to_owned(),
            1 => "1 ligne.".to_owned(),
            n => format!("{} lignes.", french_number(n as f64, 0)),
        };
        sheet
            .ws
            .write_string_with_format(row, 0, summary, &styles.note_line)?;
        if count == 0 {
            continue;
        }
        row += 1;
        for (col, column) in frame.columns().iter().enumerate() {
            sheet.header(
                row,
                col as ColNum,
                &humanise(column.name().as_str()),
                styles,
            )?;
        }
        for i in 0..count {
            row += 1;
            for (col, column) in frame.columns().iter().enumerate() {
                let col = col as ColNum;
                match column.get(i).unwrap_or(AnyValue::Null) {
                    AnyValue::Null => sheet.blank(row, col, &text)?,
                    AnyValue::Boolean(b) => sheet.text(row, col, yes_no(b), &text)?,
                    AnyValue::String(s) => sheet.text(row, col, s, &text)?,
                    AnyValue::StringOwned(s) => sheet.text(row, col, s.as_str(), &text)?,
                    AnyValue::Date(days) => {
                        let format = styles
                            .number(DATE, false)
                            .set_align(rust_xlsxwriter::FormatAlign::Center);
                        sheet.number(
                            row,
                            col,
                            f64::from(days) + 25_569.0,
                            &format,
                            Measure::Count,
                        )?;
                        sheet.fit(col, 10);
                    }
                    value if value.dtype().is_primitive_numeric() => match value.extract::<f64>() {
                        Some(v) => {
                            let format = if v.fract() == 0.0 { "0" } else { "#,##0.00" };
                            let format = styles
                                .number(format, false)
                                .set_align(rust_xlsxwriter::FormatAlign::Center);
                            sheet.number(row, col, v, &format, Measure::Decimal)?;
                        }
                        None => sheet.blank(row, col, &text)?,
                    },
                    value => sheet.text(row, col, &value.to_string(), &text)?,
                }
            }
        }
    }
    sheet.finish(&preamble, row, styles, &footer(context, "constats"))
}

/// `date_orientation` → `Date orientation`.
fn humanise(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn coverage(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let preamble = Preamble::new(
        context,
        format!(
            "Couverture des rapprochements - {} {}",
            pipeline.settings.departement, pipeline.year
        ),
    )
    .note(
        "Part des lignes d'un fichier retrouvées dans un autre (requêtes du pipeline) : \
         numérateur / dénominateur.",
    );
    let columns = [
        Column::new("Mesure"),
        Column::wrapped("Libellé", 60.0),
        Column::new("Numérateur"),
        Column::new("Dénominateur"),
        Column::new("Part"),
    ];
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let mut row = sheet.header_row;
    for measure in context.coverage {
        row += 1;
        sheet.text(row, 0, &measure.id, &styles.line(false))?;
        sheet.text(row, 1, &measure.label, &styles.line_wrap(false))?;
        let count = styles.number(Measure::Count.num_format(), false);
        sheet.number(row, 2, measure.numerator, &count, Measure::Count)?;
        sheet.number(row, 3, measure.denominator, &count, Measure::Count)?;
        match measure.share() {
            Some(s) => sheet.number(row, 4, s, &styles.number("0.0%", false), Measure::Share)?,
            None => sheet.blank(row, 4, &styles.line(false))?,
        }
    }
    sheet.finish(&preamble, row, styles, &footer(context, "couverture"))
}

#[cfg(test)]
pub(super) fn rejects_capped(
    workbook: &mut Workbook,
    context: &ReportContext,
    cap: usize,
) -> Result<(), XlsxError> {
    let mut layout = rejects_layout(context);
    layout.capacity = cap;
    if layout.capped() {
        layout.preamble = Preamble::new(context, "Lignes rejetées").note(layout.cap_note());
    }
    let styles = Styles::new();
    let ws = workbook.add_worksheet_with_constant_memory()?;
    rejects(ws, context, &styles, "Lignes rejetées", &layout, Some(cap))
}

/// What changed since the previous run into the same folder: the input
/// files above, then every published cell whose value differs.
fn changes(
    workbook: &mut Workbook,
    context: &ReportContext,
    styles: &Styles,
    name: &str,
) -> Result<(), XlsxError> {
    let pipeline = context.pipeline;
    let changes = context.changes;
    let mut preamble = Preamble::new(
        context,
        format!(
            "Changements depuis le calcul précédent - {} {}",
            pipeline.settings.departement, pipeline.year
        ),
    );
    if !changes.previous_run {
        preamble = preamble.note(
            "Premier calcul dans ce dossier (ou table précédente illisible) : rien à comparer.",
        );
    } else {
        preamble = preamble.note(format!(
            "{} cellule(s) publiée(s) ont changé de valeur depuis le calcul précédent dans ce \
             dossier. Les valeurs sont comparées telles qu'écrites dans indicateurs_{}.csv : une \
             cellule masquée se compare par son symbole, rien de masqué n'est révélé.",
            changes.cells.len(),
            pipeline.year
        ));
        if changes.inputs.is_empty() {
            preamble = preamble.note("Fichiers d'entrée : inchangés.");
        }
        for input in &changes.inputs {
            preamble = preamble.note(input_change_text(input));
        }
    }
    let columns = [
        Column::new("Indicateur"),
        Column::new("Territoire"),
        Column::new("Mois"),
        Column::wrapped("Ventilation", 40.0),
        Column::new("Avant"),
        Column::new("Après"),
    ];
    let ws = workbook.add_worksheet();
    let mut sheet = Sheet::new(ws, name, &preamble, &columns, styles)?;
    let text = styles.line(false);
    let mut row = sheet.header_row;
    for change in &changes.cells {
        row += 1;
        for (col, value) in change.fields().into_iter().enumerate() {
            sheet.text(row, col as ColNum, value, &text)?;
        }
    }
    if changes.cells.is_empty() {
        row += 1;
        sheet
            .ws
            .write_string_with_format(row, 0, "Aucune cellule changée.", &styles.note_line)?;
    }
    sheet.finish(&preamble, row, styles, &footer(context, "changements"))
}

/// "caf_rsa_2020.csv : modifié ; lignes lues 24 457 → 24 300 ; rejetées 0 → 0".
fn input_change_text(input: &crate::report::changes::InputChange) -> String {
    use crate::report::changes::InputStatus;
    let status = match input.status {
        InputStatus::Added => "ajouté",
        InputStatus::Removed => "retiré",
        InputStatus::Changed => "modifié",
        InputStatus::RejectsChanged => "inchangé, mais ses rejets ont changé",
    };
    let count = |n: Option<usize>| n.map_or("-".to_owned(), |n| french_number(n as f64, 0));
    let place = match &input.sheet {
        Some(sheet) => format!("{}, feuille {sheet}", input.file),
        None => input.file.clone(),
    };
    format!(
        "Fichier {place} : {status} ; lignes lues {} → {} ; rejetées {} → {}.",
        count(input.read.0),
        count(input.read.1),
        count(input.rejected.0),
        count(input.rejected.1)
    )
}
