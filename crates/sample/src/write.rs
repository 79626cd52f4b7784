//! Writing the four partner files (clean or messy) and `expected_rejects.csv`.

use super::model::*;
use super::simulate::{CafRows, stream};
use super::{SampleError, SampleOptions};
use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------

/// CAF CSV header, clean.
pub(crate) const CAF_HEADERS: [&str; 8] = [
    "MOISREF",
    "NUMALLOC",
    "DTOUVDRT",
    "CODCOM",
    "SDD",
    "ETATDRT",
    "NBPERS",
    "MTRSAVERS",
];
/// CAF CSV header, messy.
pub(crate) const CAF_HEADERS_MESSY: [&str; 8] = [
    "MOISREF",
    "NumAlloc",
    "DTOUVDRT",
    "CODCOM",
    "SDD",
    "ETATDRT",
    "NBPERS ",
    "MTRSAVERS",
];
/// The messy CAF export's columns, as indexes into [`CAF_HEADERS_MESSY`]
/// followed by an extra column, the commune's name, which the pipeline does
/// not declare, in the order the file writes them.
const CAF_MESSY_ORDER: [usize; 9] = [1, 0, 3, 8, 2, 4, 5, 6, 7];
const CAF_EXTRA_HEADER: &str = "Libellé commune";

const ORIENTATIONS_HEADERS: [&str; 10] = [
    "N° allocataire",
    "Date ouverture droit",
    "Date d'orientation",
    "Type d'orientation",
    "Organisme référent",
    "Date premier RDV",
    "Date réunion collective",
    "Date signature CER",
    "Commune",
    "Accompagnement LOIRE",
];
const ORIENTATIONS_HEADERS_MESSY: [&str; 10] = [
    "N° Allocataire ",
    "Date Ouverture Droit",
    "DATE D'ORIENTATION",
    "Type d’orientation",
    "Organisme referent",
    "Date premier rdv",
    "Date reunion collective",
    "Date  signature CER",
    "COMMUNE",
    "Accompagnement Loire",
];
const CONTRATS_HEADERS: [&str; 6] = [
    "N° allocataire",
    "Date fin de contrat",
    "Accompagnement renforcé",
    "Date début accompagnement",
    "Commune",
    "Situation à 6 mois",
];
const CONTRATS_HEADERS_MESSY: [&str; 6] = [
    "Nº allocataire",
    "DATE FIN DE CONTRAT",
    "Accompagnement renforce",
    "Date debut accompagnement",
    "Commune ",
    "Situation a 6 mois",
];
const JEUNES_HEADERS: [&str; 9] = [
    "Identifiant jeune",
    "Date de naissance",
    "Commune",
    "Date contrat trajectoire autonomie",
    "Référent de parcours",
    "Logement stable",
    "Ressources",
    "Parcours scolaire ou professionnel",
    "Personne de confiance",
];
const JEUNES_HEADERS_MESSY: [&str; 9] = [
    "Identifiant  jeune",
    "date de naissance",
    "Commune",
    "DATE CONTRAT TRAJECTOIRE AUTONOMIE",
    "Referent de parcours",
    "Logement Stable",
    "Ressources ",
    "Parcours scolaire ou professionnel",
    "Personne de Confiance",
];
const ACCUEIL_HEADERS: [&str; 6] = [
    "Date",
    "Lieu",
    "Commune",
    "Type d'action",
    "Partenaire",
    "Nombre de personnes",
];
const ACCUEIL_HEADERS_MESSY: [&str; 6] = [
    "DATE",
    "Lieu",
    "Commune",
    "Type d’action",
    "Partenaire",
    "Nombre de personnes ",
];
const INITIATIVES_HEADERS: [&str; 7] = [
    "Date",
    "Type",
    "Commune",
    "Identifiant bénéficiaire",
    "Nombre de personnes",
    "Montant",
    "Résultat",
];
const INITIATIVES_HEADERS_MESSY: [&str; 7] = [
    "Date",
    "TYPE",
    "Commune",
    "Identifiant beneficiaire",
    "Nombre de personnes ",
    "Montant",
    "Resultat",
];
const BRSA_HEADERS: [&str; 9] = [
    "N° allocataire CAF",
    "Date inscription",
    "Catégorie",
    "Modalité",
    "Date entrée accompagnement global",
    "Date sortie",
    "Motif sortie",
    "Agence",
    "Commune",
];
const BRSA_HEADERS_MESSY: [&str; 9] = [
    "n° ALLOCATAIRE CAF",
    "Date Inscription",
    "Categorie",
    "Modalite",
    "Date entree accompagnement global",
    "Date  sortie",
    "MOTIF SORTIE",
    "Agence",
    "Commune",
];
const CONVENTION_HEADERS: [&str; 3] = ["Action", "Montant État", "Montant Département"];
const CONVENTION_HEADERS_MESSY: [&str; 3] = ["Action", "Montant Etat", "Montant departement"];
const MANDATS_HEADERS: [&str; 4] = ["Date mandat", "Action", "Financeur", "Montant"];
const MANDATS_HEADERS_MESSY: [&str; 4] = ["Date Mandat", "Action", "Financeur", "Montant "];

/// File names of a year.
pub(crate) fn file_names(year: i32) -> [String; 4] {
    [
        format!("caf_rsa_{year}.csv"),
        format!("departement_insertion_{year}.xlsx"),
        format!("pole_emploi_brsa_{year}.xlsx"),
        format!("finances_{year}.xlsx"),
    ]
}

pub(crate) const EXPECTED_REJECTS: &str = "expected_rejects.csv";

// ---------------------------------------------------------------------------
// Cells, rows and rendering drifts
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    /// A number in the General format.
    Number(f64),
    /// A real Excel date (number with a `dd/mm/yyyy` format).
    Date(NaiveDate),
    /// A number with a `#,##0.00` format.
    Money(f64),
}

#[derive(Debug, Clone, Copy)]
struct Tag {
    reason: &'static str,
    col: Option<usize>,
}

#[derive(Debug, Clone)]
struct Row<C> {
    cells: Vec<C>,
    tag: Option<Tag>,
    dup_source: bool,
}

impl<C> Row<C> {
    fn clean(cells: Vec<C>) -> Self {
        Row {
            cells,
            tag: None,
            dup_source: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum DateStyle {
    Excel,
    Serial,
    Dmy,
    DmyShort,
    Iso,
    DmyTime,
}

#[derive(Debug, Clone, Copy)]
enum BoolStyle {
    OuiNon,
    ON,
    OneZero,
    XEmpty,
    Lower,
}

/// How the cells of one row are written.
struct Style {
    messy: bool,
    date: DateStyle,
    boolean: BoolStyle,
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut u = rng.random::<f64>() * total;
    for (item, w) in items {
        if u < *w {
            return *item;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

/// `1234.5` -> `1234,50`, `1 234,50` (with `sep`), optionally with ` €`.
fn french_amount(x: f64, sep: &str, euro: bool) -> String {
    let cents = (x * 100.0).round() as i64;
    let (int, frac) = (cents.abs() / 100, cents.abs() % 100);
    let digits = int.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push_str(sep);
        }
        grouped.push(ch);
    }
    let sign = if cents < 0 { "-" } else { "" };
    let euro = if euro { " €" } else { "" };
    format!("{sign}{grouped},{frac:02}{euro}")
}

impl Style {
    fn clean() -> Self {
        Style {
            messy: false,
            date: DateStyle::Excel,
            boolean: BoolStyle::OuiNon,
        }
    }

    fn new(messy: bool, rng: &mut ChaCha8Rng) -> Self {
        if !messy {
            return Style::clean();
        }
        let date = pick(
            rng,
            &[
                (DateStyle::Excel, 0.50),
                (DateStyle::Serial, 0.10),
                (DateStyle::Dmy, 0.15),
                (DateStyle::DmyShort, 0.08),
                (DateStyle::Iso, 0.10),
                (DateStyle::DmyTime, 0.07),
            ],
        );
        let boolean = pick(
            rng,
            &[
                (BoolStyle::OuiNon, 0.60),
                (BoolStyle::ON, 0.10),
                (BoolStyle::OneZero, 0.10),
                (BoolStyle::XEmpty, 0.10),
                (BoolStyle::Lower, 0.10),
            ],
        );
        Style {
            messy,
            date,
            boolean,
        }
    }

    fn date(&self, rng: &mut ChaCha8Rng, d: NaiveDate) -> Cell {
        match self.date {
            DateStyle::Excel => Cell::Date(d),
            DateStyle::Serial => Cell::Number(suivi_core::parse::excel_serial(d)),
            DateStyle::Dmy => Cell::Text(d.format("%d/%m/%Y").to_string()),
            DateStyle::DmyShort if d.year() >= 2000 => Cell::Text(d.format("%d/%m/%y").to_string()),
            DateStyle::DmyShort => Cell::Text(d.format("%d/%m/%Y").to_string()),
            DateStyle::Iso => Cell::Text(d.format("%Y-%m-%d").to_string()),
            DateStyle::DmyTime => {
                let (h, m) = (rng.random_range(8..18u32), rng.random_range(0..60u32));
                Cell::Text(format!("{} {h:02}:{m:02}", d.format("%d/%m/%Y")))
            }
        }
    }

    fn opt_date(&self, rng: &mut ChaCha8Rng, d: Option<NaiveDate>) -> Cell {
        d.map_or(Cell::Empty, |d| self.date(rng, d))
    }

    fn boolean(&self, b: bool) -> Cell {
        match (self.boolean, b) {
            (BoolStyle::OuiNon, true) => Cell::Text("Oui".into()),
            (BoolStyle::OuiNon, false) => Cell::Text("Non".into()),
            (BoolStyle::ON, true) => Cell::Text("O".into()),
            (BoolStyle::ON, false) => Cell::Text("N".into()),
            (BoolStyle::OneZero, true) => Cell::Number(1.0),
            (BoolStyle::OneZero, false) => Cell::Number(0.0),
            (BoolStyle::XEmpty, true) => Cell::Text("X".into()),
            (BoolStyle::XEmpty, false) => Cell::Empty,
            (BoolStyle::Lower, true) => Cell::Text("oui".into()),
            (BoolStyle::Lower, false) => Cell::Text("non".into()),
        }
    }

    fn opt_bool(&self, b: Option<bool>) -> Cell {
        b.map_or(Cell::Empty, |b| self.boolean(b))
    }

    fn commune(&self, rng: &mut ChaCha8Rng, code: &str) -> Cell {
        match code.parse::<u32>() {
            Ok(n) if self.messy && rng.random_bool(0.12) => Cell::Number(f64::from(n)),
            _ => Cell::Text(code.to_string()),
        }
    }

    fn count(&self, rng: &mut ChaCha8Rng, n: u32) -> Cell {
        if self.messy && rng.random_bool(0.10) {
            Cell::Text(n.to_string())
        } else {
            Cell::Number(f64::from(n))
        }
    }

    fn money(&self, rng: &mut ChaCha8Rng, x: Option<f64>) -> Cell {
        let Some(x) = x else { return Cell::Empty };
        if self.messy && rng.random_bool(0.25) {
            let (sep, euro) = pick(
                rng,
                &[
                    (("", false), 1.0),
                    ((" ", false), 1.0),
                    (("\u{a0}", false), 1.0),
                    (("\u{202f}", false), 1.0),
                    ((" ", true), 1.0),
                ],
            );
            Cell::Text(french_amount(x, sep, euro))
        } else {
            Cell::Money(x)
        }
    }
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn opt_text(s: &Option<String>) -> Cell {
    s.as_deref().map_or(Cell::Empty, text)
}

// ---------------------------------------------------------------------------
// Record -> cells
// ---------------------------------------------------------------------------

fn orientation_cells(st: &Style, rng: &mut ChaCha8Rng, r: &Orientation) -> Vec<Cell> {
    vec![
        text(&r.numalloc),
        st.date(rng, r.date_ouverture_droit),
        st.opt_date(rng, r.date_orientation),
        opt_text(&r.type_orientation),
        opt_text(&r.organisme_referent),
        st.opt_date(rng, r.date_premier_rdv),
        st.opt_date(rng, r.date_reunion_collective),
        st.opt_date(rng, r.date_signature_cer),
        st.commune(rng, &r.commune),
        st.boolean(r.accompagnement_loire),
    ]
}

fn contrat_cells(st: &Style, rng: &mut ChaCha8Rng, r: &ContratAide) -> Vec<Cell> {
    vec![
        text(&r.numalloc),
        st.date(rng, r.date_fin_contrat),
        st.boolean(r.accompagnement_renforce),
        st.opt_date(rng, r.date_debut_accompagnement),
        st.commune(rng, &r.commune),
        text(&r.situation_6_mois),
    ]
}

fn jeune_cells(st: &Style, rng: &mut ChaCha8Rng, r: &JeuneAse) -> Vec<Cell> {
    vec![
        text(&r.identifiant),
        st.date(rng, r.date_naissance),
        st.commune(rng, &r.commune),
        st.opt_date(rng, r.date_contrat_trajectoire),
        st.boolean(r.referent_parcours),
        st.boolean(r.logement_stable),
        st.boolean(r.ressources),
        st.boolean(r.parcours_scolaire_pro),
        st.boolean(r.personne_confiance),
    ]
}

fn accueil_cells(st: &Style, rng: &mut ChaCha8Rng, r: &AccueilSocial) -> Vec<Cell> {
    vec![
        st.date(rng, r.date),
        text(&r.lieu),
        st.commune(rng, &r.commune),
        text(&r.type_action),
        opt_text(&r.partenaire),
        st.count(rng, r.nombre_personnes),
    ]
}

fn initiative_cells(st: &Style, rng: &mut ChaCha8Rng, r: &Initiative) -> Vec<Cell> {
    vec![
        st.date(rng, r.date),
        text(&r.type_initiative),
        st.commune(rng, &r.commune),
        opt_text(&r.identifiant_beneficiaire),
        st.count(rng, r.nombre_personnes),
        st.money(rng, r.montant),
        st.opt_bool(r.resultat),
    ]
}

fn brsa_cells(st: &Style, rng: &mut ChaCha8Rng, r: &BrsaRow) -> Vec<Cell> {
    // Pôle emploi stores the numéro allocataire as a number: zeros are lost.
    let id = r
        .numalloc_caf
        .parse::<u32>()
        .map_or_else(|_| text(&r.numalloc_caf), |n| Cell::Number(f64::from(n)));
    vec![
        id,
        st.date(rng, r.date_inscription),
        text(&r.categorie),
        text(&r.modalite),
        st.opt_date(rng, r.date_entree_accompagnement_global),
        st.opt_date(rng, r.date_sortie),
        opt_text(&r.motif_sortie),
        text(&r.agence),
        st.commune(rng, &r.commune),
    ]
}

fn convention_cells(st: &Style, rng: &mut ChaCha8Rng, r: &ConventionLine) -> Vec<Cell> {
    vec![
        text(&r.action),
        st.money(rng, r.montant_etat),
        st.money(rng, r.montant_departement),
    ]
}

fn mandat_cells(st: &Style, rng: &mut ChaCha8Rng, r: &Mandat) -> Vec<Cell> {
    vec![
        st.date(rng, r.date_mandat),
        text(&r.action),
        text(&r.financeur),
        st.money(rng, Some(r.montant)),
    ]
}

fn render<T>(
    records: &[T],
    messy: bool,
    rng: &mut ChaCha8Rng,
    f: fn(&Style, &mut ChaCha8Rng, &T) -> Vec<Cell>,
) -> Vec<Row<Cell>> {
    records
        .iter()
        .map(|r| {
            let st = Style::new(messy, rng);
            Row::clean(f(&st, rng, r))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Injections of bad rows
// ---------------------------------------------------------------------------

const DATE: &str = "date";
const COMMUNE: &str = "commune";
const DUPLICATE: &str = "duplicate";
const NUMBER: &str = "number";

fn bad_dates(year: i32) -> [String; 3] {
    [
        format!("31/02/{year}"),
        "pas de date".to_string(),
        format!("{year}-13-45"),
    ]
}

/// Inserts an extra row whose cell `col` is replaced by `bad`.
fn inject_bad<C>(
    rows: &mut Vec<Row<C>>,
    rng: &mut ChaCha8Rng,
    mut cells: Vec<C>,
    col: usize,
    bad: C,
    reason: &'static str,
) {
    cells[col] = bad;
    let pos = rng.random_range(0..=rows.len());
    rows.insert(
        pos,
        Row {
            cells,
            tag: Some(Tag {
                reason,
                col: Some(col),
            }),
            dup_source: false,
        },
    );
}

/// Inserts an exact copy of a clean row, right after it or later.
fn inject_duplicate<C: Clone>(rows: &mut Vec<Row<C>>, rng: &mut ChaCha8Rng) {
    inject_duplicate_of(rows, rng, |_| true);
}

/// Inserts an exact copy of a clean row whose cells satisfy `eligible`.
/// Only rows that identify a person are duplicates: an equal row without
/// an identifier is another event, kept by the reader.
fn inject_duplicate_of<C: Clone>(
    rows: &mut Vec<Row<C>>,
    rng: &mut ChaCha8Rng,
    eligible: impl Fn(&[C]) -> bool,
) {
    let candidates: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].tag.is_none() && !rows[i].dup_source && eligible(&rows[i].cells))
        .collect();
    if candidates.is_empty() {
        return;
    }
    let i = candidates[rng.random_range(0..candidates.len())];
    rows[i].dup_source = true;
    let j = if rng.random_bool(0.5) {
        i + 1
    } else {
        rng.random_range(i + 1..=rows.len())
    };
    let copy = Row {
        cells: rows[i].cells.clone(),
        tag: Some(Tag {
            reason: DUPLICATE,
            col: None,
        }),
        dup_source: false,
    };
    rows.insert(j, copy);
}

/// A numéro allocataire used nowhere in the data.
fn unused_numalloc(rng: &mut ChaCha8Rng, used: &BTreeSet<&str>) -> String {
    loop {
        let s = format!("{:07}", rng.random_range(100..10_000_000u32));
        if !used.contains(s.as_str()) {
            return s;
        }
    }
}

/// One line of `expected_rejects.csv`.
#[derive(Debug, Clone)]
struct Reject {
    file: String,
    sheet: String,
    row: usize,
    column: String,
    reason: &'static str,
}

fn collect_rejects<C>(
    rows: &[Row<C>],
    file: &str,
    sheet: &str,
    headers: &[&str],
    first_data_row: usize,
) -> Vec<Reject> {
    rows.iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.tag.map(|t| Reject {
                file: file.to_string(),
                sheet: sheet.to_string(),
                row: first_data_row + i,
                // As a reader names it: without the spaces around it.
                column: t
                    .col
                    .map_or(String::new(), |c| headers[c].trim().to_string()),
                reason: t.reason,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// CAF CSV
// ---------------------------------------------------------------------------

fn caf_cells(r: &CafRow, moisref_slash: bool) -> Vec<String> {
    let moisref = if moisref_slash {
        r.moisref.format("%m/%Y").to_string()
    } else {
        r.moisref_code()
    };
    vec![
        moisref,
        r.numalloc.clone(),
        r.dtouvdrt.format("%d/%m/%Y").to_string(),
        r.codcom.clone(),
        if r.sdd { "1" } else { "0" }.to_string(),
        r.etatdrt.to_string(),
        r.nbpers.to_string(),
        french_amount(r.mtrsavers, "", false),
    ]
}

fn write_caf(
    data: &SampleData,
    messy: bool,
    rng: &mut ChaCha8Rng,
    file: &str,
) -> (Vec<u8>, Vec<Reject>) {
    let n = data.caf.len();
    // A few MOISREF written MM/AAAA.
    let slash: BTreeSet<usize> = if messy && n > 0 {
        (0..(n / 10_000).max(3))
            .map(|_| rng.random_range(0..n))
            .collect()
    } else {
        BTreeSet::new()
    };
    let mut rows: Vec<Row<String>> = data
        .caf
        .iter()
        .enumerate()
        .map(|(i, r)| Row::clean(caf_cells(r, slash.contains(&i))))
        .collect();
    if messy && n > 0 {
        let used: BTreeSet<&str> = data.caf.iter().map(|r| r.numalloc.as_str()).collect();
        for bad in bad_dates(data.year) {
            let mut cells = caf_cells(&data.caf[rng.random_range(0..n)], false);
            cells[1] = unused_numalloc(rng, &used);
            inject_bad(&mut rows, rng, cells, 2, bad, DATE);
        }
        for bad in ["42999", "69123"] {
            let mut cells = caf_cells(&data.caf[rng.random_range(0..n)], false);
            cells[1] = unused_numalloc(rng, &used);
            inject_bad(&mut rows, rng, cells, 3, bad.to_string(), COMMUNE);
        }
        inject_duplicate(&mut rows, rng);
        inject_duplicate(&mut rows, rng);
        // Household size and amount paid are read by no query of the Loire
        // pipeline, so the reader does not keep them: a bad value there
        // still rejects its row, and a row differing from another only by
        // its amount is no duplicate of it.
        let mut cells = caf_cells(&data.caf[rng.random_range(0..n)], false);
        cells[1] = unused_numalloc(rng, &used);
        inject_bad(&mut rows, rng, cells, 6, "deux".to_string(), NUMBER);
        let record = &data.caf[rng.random_range(0..n)];
        let mut cells = caf_cells(record, false);
        cells[7] = french_amount(record.mtrsavers + 1.0, "", false);
        rows.insert(rng.random_range(0..=rows.len()), Row::clean(cells));
    }

    let headers: &[&str] = if messy {
        &CAF_HEADERS_MESSY
    } else {
        &CAF_HEADERS
    };
    let order: &[usize] = if messy {
        &CAF_MESSY_ORDER
    } else {
        &[0, 1, 2, 3, 4, 5, 6, 7]
    };
    let names = super::simulate::commune_names();
    let line = |cells: &[&str]| {
        order
            .iter()
            .map(|&i| cells[i])
            .collect::<Vec<_>>()
            .join(";")
            + "\r\n"
    };
    let mut out = String::with_capacity(n * 64 + 256);
    if messy {
        out.push_str(&format!(
            "Extraction CAF de la Loire – RSA – année {}\r\n\r\n",
            data.year
        ));
    }
    // One accepted record whose commune name, quoted, runs over two lines
    // (a label pasted from a form): one row, the rows after it a line
    // further on. Taken halfway, not drawn, so that the other files stay
    // as they were.
    let two_lines = messy
        .then(|| {
            let plain: Vec<usize> = (0..rows.len())
                .filter(|&i| rows[i].tag.is_none() && !rows[i].dup_source)
                .collect();
            plain.get(plain.len() / 2).copied()
        })
        .flatten();
    let mut header = headers.to_vec();
    header.push(CAF_EXTRA_HEADER);
    out.push_str(&line(&header));
    for (i, r) in rows.iter().enumerate() {
        let mut cells: Vec<&str> = r.cells.iter().map(String::as_str).collect();
        let name = names.get(&r.cells[3]).map_or("", String::as_str);
        let quoted;
        cells.push(if two_lines == Some(i) {
            quoted = format!("\"{name}\r\n(commune nouvelle)\"");
            &quoted
        } else {
            name
        });
        out.push_str(&line(&cells));
    }
    if messy {
        out.push_str(";;;;;;;\r\n\r\n");
    }
    let header_line = if messy { 3 } else { 1 };
    let mut rejects = collect_rejects(&rows, file, "", headers, header_line + 1);
    if let Some(i) = two_lines {
        for reject in rejects.iter_mut().filter(|r| r.row > header_line + 1 + i) {
            reject.row += 1;
        }
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&out);
    (bytes.into_owned(), rejects)
}

// ---------------------------------------------------------------------------
// Workbooks
// ---------------------------------------------------------------------------

struct SheetOut {
    name: &'static str,
    title: String,
    headers: Vec<&'static str>,
    rows: Vec<Row<Cell>>,
    total: Option<Vec<Cell>>,
}

struct Formats {
    header: Format,
    date: Format,
    money: Format,
    title: Format,
    total: Format,
    blank: Format,
}

fn formats() -> Formats {
    Formats {
        header: Format::new().set_bold(),
        date: Format::new().set_num_format("dd/mm/yyyy"),
        money: Format::new().set_num_format("#,##0.00"),
        title: Format::new().set_bold().set_font_size(13),
        total: Format::new().set_bold(),
        blank: Format::new().set_border_bottom(FormatBorder::Hair),
    }
}

fn xlsx_err(path: &Path) -> impl Fn(rust_xlsxwriter::XlsxError) -> SampleError + '_ {
    move |source| SampleError::Xlsx {
        path: path.to_path_buf(),
        source,
    }
}

fn put(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    fm: &Formats,
    bold: bool,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    match cell {
        Cell::Empty => {}
        Cell::Text(s) if bold => {
            ws.write_string_with_format(row, col, s, &fm.total)?;
        }
        Cell::Text(s) => {
            ws.write_string(row, col, s)?;
        }
        Cell::Number(x) => {
            ws.write_number(row, col, *x)?;
        }
        Cell::Money(x) => {
            ws.write_number_with_format(row, col, *x, &fm.money)?;
        }
        Cell::Date(d) => {
            let dt = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
            ws.write_datetime_with_format(row, col, &dt, &fm.date)?;
        }
    }
    Ok(())
}

fn write_workbook(
    path: &Path,
    year: i32,
    messy: bool,
    sheets: &[SheetOut],
    file: &str,
) -> Result<Vec<Reject>, SampleError> {
    let err = xlsx_err(path);
    let fm = formats();
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd((year + 1) as u16, 2, 3)
        .and_then(|d| d.and_hms(8, 30, 0))
        .map_err(&err)?;
    let props = DocProperties::new()
        .set_author("suivi sample generator")
        .set_creation_datetime(&created);
    wb.set_properties(&props);
    let mut rejects = Vec::new();
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(sheet.name).map_err(&err)?;
        let mut r: u32 = 0;
        if messy {
            ws.write_string_with_format(0, 0, &sheet.title, &fm.title)
                .map_err(&err)?;
            ws.write_string(1, 0, format!("Édité le 03/02/{}", year + 1))
                .map_err(&err)?;
            r = 3;
        }
        for (c, h) in sheet.headers.iter().enumerate() {
            ws.write_string_with_format(r, c as u16, *h, &fm.header)
                .map_err(&err)?;
            let width = (h.chars().count() as f64 + 3.0).max(12.0);
            ws.set_column_width(c as u16, width).map_err(&err)?;
        }
        let header_row_1based = r as usize + 1;
        r += 1;
        for row in &sheet.rows {
            for (c, cell) in row.cells.iter().enumerate() {
                put(ws, r, c as u16, cell, &fm, false).map_err(&err)?;
            }
            r += 1;
        }
        if messy {
            if let Some(total) = &sheet.total {
                for (c, cell) in total.iter().enumerate() {
                    put(ws, r, c as u16, cell, &fm, true).map_err(&err)?;
                }
                r += 1;
            }
            // Trailing empty rows (formatted blanks, as left by a table style).
            for _ in 0..2 {
                for c in 0..sheet.headers.len() {
                    ws.write_blank(r, c as u16, &fm.blank).map_err(&err)?;
                }
                r += 1;
            }
        }
        rejects.extend(collect_rejects(
            &sheet.rows,
            file,
            sheet.name,
            &sheet.headers,
            header_row_1based + 1,
        ));
    }
    wb.save(path).map_err(&err)?;
    Ok(rejects)
}

fn headers(messy: bool, clean: &[&'static str], variant: &[&'static str]) -> Vec<&'static str> {
    if messy {
        variant.to_vec()
    } else {
        clean.to_vec()
    }
}

fn title(organisation: &str, what: &str, year: i32) -> String {
    format!("{organisation} – {what} – année {year}")
}

/// Sum of a column of records, as a Total-row cell.
fn total_row(width: usize, sums: &[(usize, Cell)]) -> Vec<Cell> {
    let mut cells = vec![Cell::Empty; width];
    cells[0] = text("Total");
    for (c, v) in sums {
        cells[*c] = v.clone();
    }
    cells
}

fn departement_sheets(data: &SampleData, messy: bool, rng: &mut ChaCha8Rng) -> Vec<SheetOut> {
    let y = data.year;
    let org = "Conseil départemental de la Loire";
    let used: BTreeSet<&str> = data
        .caf
        .iter()
        .map(|r| r.numalloc.as_str())
        .chain(data.orientations.iter().map(|r| r.numalloc.as_str()))
        .collect();

    // Orientations.
    let mut orientations = render(&data.orientations, messy, rng, orientation_cells);
    let complete: Vec<&Orientation> = data
        .orientations
        .iter()
        .filter(|o| o.date_orientation.is_some() && o.date_premier_rdv.is_some())
        .collect();
    if messy && !complete.is_empty() {
        let bad = bad_dates(y);
        for (k, col) in [(0usize, 2usize), (1, 1)] {
            let mut rec = complete[rng.random_range(0..complete.len())].clone();
            rec.numalloc = unused_numalloc(rng, &used);
            let cells = orientation_cells(&Style::new(true, rng), rng, &rec);
            inject_bad(&mut orientations, rng, cells, col, text(&bad[k]), DATE);
        }
        let mut rec = complete[rng.random_range(0..complete.len())].clone();
        rec.numalloc = unused_numalloc(rng, &used);
        let cells = orientation_cells(&Style::new(true, rng), rng, &rec);
        inject_bad(&mut orientations, rng, cells, 8, text("42999"), COMMUNE);
        inject_duplicate(&mut orientations, rng);
    }

    // Accueil social.
    let mut accueil = render(&data.accueil_social, messy, rng, accueil_cells);
    if messy && !data.accueil_social.is_empty() {
        let n = data.accueil_social.len();
        let st = Style::new(true, rng);
        let rec = &data.accueil_social[rng.random_range(0..n)];
        let cells = accueil_cells(&st, rng, rec);
        inject_bad(&mut accueil, rng, cells, 0, text(&bad_dates(y)[2]), DATE);
        let st = Style::new(true, rng);
        let rec = &data.accueil_social[rng.random_range(0..n)];
        let cells = accueil_cells(&st, rng, rec);
        inject_bad(&mut accueil, rng, cells, 2, Cell::Number(69123.0), COMMUNE);
    }
    let persons: u32 = data.accueil_social.iter().map(|r| r.nombre_personnes).sum();
    let accueil_total = total_row(6, &[(5, Cell::Number(f64::from(persons)))]);

    // Initiatives.
    let mut initiatives = render(&data.initiatives, messy, rng, initiative_cells);
    let sessions: Vec<&Initiative> = data
        .initiatives
        .iter()
        .filter(|r| r.identifiant_beneficiaire.is_none())
        .collect();
    if messy && !sessions.is_empty() {
        let st = Style::new(true, rng);
        let rec = sessions[rng.random_range(0..sessions.len())];
        let cells = initiative_cells(&st, rng, rec);
        inject_bad(
            &mut initiatives,
            rng,
            cells,
            0,
            text(&bad_dates(y)[1]),
            DATE,
        );
        let st = Style::new(true, rng);
        let rec = sessions[rng.random_range(0..sessions.len())];
        let cells = initiative_cells(&st, rng, rec);
        inject_bad(&mut initiatives, rng, cells, 2, text("69123"), COMMUNE);
        // Copies of individual rows (with a beneficiary): duplicates.
        let identified = |cells: &[Cell]| !matches!(cells[3], Cell::Empty);
        inject_duplicate_of(&mut initiatives, rng, identified);
        inject_duplicate_of(&mut initiatives, rng, identified);
    }
    let persons: u32 = data.initiatives.iter().map(|r| r.nombre_personnes).sum();
    let amount: f64 = data.initiatives.iter().filter_map(|r| r.montant).sum();
    let initiatives_total = total_row(
        7,
        &[
            (4, Cell::Number(f64::from(persons))),
            (5, Cell::Money((amount * 100.0).round() / 100.0)),
        ],
    );

    vec![
        SheetOut {
            name: "Orientations",
            title: title(org, "Orientations des bénéficiaires du RSA", y),
            headers: headers(messy, &ORIENTATIONS_HEADERS, &ORIENTATIONS_HEADERS_MESSY),
            rows: orientations,
            total: None,
        },
        SheetOut {
            name: "Contrats aidés",
            title: title(org, "Fins de contrats aidés", y),
            headers: headers(messy, &CONTRATS_HEADERS, &CONTRATS_HEADERS_MESSY),
            rows: render(&data.contrats_aides, messy, rng, contrat_cells),
            total: None,
        },
        SheetOut {
            name: "Jeunes ASE",
            title: title(org, "Jeunes sortants de l'ASE", y),
            headers: headers(messy, &JEUNES_HEADERS, &JEUNES_HEADERS_MESSY),
            rows: render(&data.jeunes_ase, messy, rng, jeune_cells),
            total: None,
        },
        SheetOut {
            name: "Accueil social",
            title: title(org, "Accueil social", y),
            headers: headers(messy, &ACCUEIL_HEADERS, &ACCUEIL_HEADERS_MESSY),
            rows: accueil,
            total: Some(accueil_total),
        },
        SheetOut {
            name: "Initiatives",
            title: title(org, "Initiatives départementales", y),
            headers: headers(messy, &INITIATIVES_HEADERS, &INITIATIVES_HEADERS_MESSY),
            rows: initiatives,
            total: Some(initiatives_total),
        },
    ]
}

fn pole_emploi_sheets(data: &SampleData, messy: bool, rng: &mut ChaCha8Rng) -> Vec<SheetOut> {
    let y = data.year;
    let mut rows = render(&data.brsa, messy, rng, brsa_cells);
    if messy && !data.brsa.is_empty() {
        let used: BTreeSet<&str> = data
            .caf
            .iter()
            .map(|r| r.numalloc.as_str())
            .chain(data.brsa.iter().map(|r| r.numalloc_caf.as_str()))
            .collect();
        let n = data.brsa.len();
        let mut rec = data.brsa[rng.random_range(0..n)].clone();
        rec.numalloc_caf = unused_numalloc(rng, &used);
        let cells = brsa_cells(&Style::new(true, rng), rng, &rec);
        inject_bad(&mut rows, rng, cells, 1, text(&bad_dates(y)[0]), DATE);
        let mut rec = data.brsa[rng.random_range(0..n)].clone();
        rec.numalloc_caf = unused_numalloc(rng, &used);
        let cells = brsa_cells(&Style::new(true, rng), rng, &rec);
        inject_bad(&mut rows, rng, cells, 8, Cell::Number(42999.0), COMMUNE);
        inject_duplicate(&mut rows, rng);
    }
    vec![SheetOut {
        name: "BRSA",
        title: title(
            "Pôle emploi",
            "Demandeurs d'emploi bénéficiaires du RSA – Loire",
            y,
        ),
        headers: headers(messy, &BRSA_HEADERS, &BRSA_HEADERS_MESSY),
        rows,
        total: None,
    }]
}

fn finance_sheets(data: &SampleData, messy: bool, rng: &mut ChaCha8Rng) -> Vec<SheetOut> {
    let y = data.year;
    let org = "Direction des finances";
    let amount: f64 = data.mandats.iter().map(|m| m.montant).sum();
    vec![
        SheetOut {
            name: "Convention",
            title: title(org, "Convention pauvreté, montants conventionnés", y),
            headers: headers(messy, &CONVENTION_HEADERS, &CONVENTION_HEADERS_MESSY),
            rows: render(&data.convention, messy, rng, convention_cells),
            total: None,
        },
        SheetOut {
            name: "Mandats",
            title: title(org, "Convention pauvreté, mandats", y),
            headers: headers(messy, &MANDATS_HEADERS, &MANDATS_HEADERS_MESSY),
            rows: render(&data.mandats, messy, rng, mandat_cells),
            total: Some(total_row(
                4,
                &[(3, Cell::Money((amount * 100.0).round() / 100.0))],
            )),
        },
    ]
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SampleError + '_ {
    move |source| SampleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the four files and `expected_rejects.csv`.
pub(crate) fn write(
    data: &SampleData,
    opts: &SampleOptions,
    out: &Path,
) -> Result<Vec<PathBuf>, SampleError> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let messy = opts.messy;
    let names = file_names(data.year);
    let mut rejects = Vec::new();
    let mut written = Vec::new();

    let path = out.join(&names[0]);
    let (bytes, r) = write_caf(data, messy, &mut stream(opts, 101), &names[0]);
    std::fs::write(&path, bytes).map_err(io_err(&path))?;
    rejects.extend(r);
    written.push(path);

    let path = out.join(&names[1]);
    let sheets = departement_sheets(data, messy, &mut stream(opts, 102));
    rejects.extend(write_workbook(&path, data.year, messy, &sheets, &names[1])?);
    written.push(path);

    let path = out.join(&names[2]);
    let sheets = pole_emploi_sheets(data, messy, &mut stream(opts, 103));
    rejects.extend(write_workbook(&path, data.year, messy, &sheets, &names[2])?);
    written.push(path);

    let path = out.join(&names[3]);
    let sheets = finance_sheets(data, messy, &mut stream(opts, 104));
    rejects.extend(write_workbook(&path, data.year, messy, &sheets, &names[3])?);
    written.push(path);

    let path = out.join(EXPECTED_REJECTS);
    let mut text = String::from("file;sheet;row;column;reason\n");
    for r in &rejects {
        text.push_str(&format!(
            "{};{};{};{};{}\n",
            r.file, r.sheet, r.row, r.column, r.reason
        ));
    }
    std::fs::write(&path, text).map_err(io_err(&path))?;
    written.push(path);
    Ok(written)
}

// ---------------------------------------------------------------------------
// Every source as CSV (national scale)
// ---------------------------------------------------------------------------

/// A cell as a French CSV export writes it: dates `JJ/MM/AAAA`, decimal comma.
fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Number(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Cell::Number(x) => x.to_string().replace('.', ","),
        Cell::Money(x) => french_amount(*x, "", false),
        Cell::Date(d) => d.format("%d/%m/%Y").to_string(),
    }
}

/// Writes the clean files with every sheet as its own CSV file (UTF-8, `;`),
/// named by [`super::sheet_csv_file`], and the CAF file streamed row by row:
/// nothing the size of the CAF file is held in memory.
pub(crate) fn write_csv(
    data: &SampleData,
    caf: &CafRows,
    opts: &SampleOptions,
    out: &Path,
) -> Result<Vec<PathBuf>, SampleError> {
    use std::io::Write;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let names = file_names(data.year);
    let mut written = Vec::new();

    let path = out.join(&names[0]);
    let err = io_err(&path);
    let file = std::fs::File::create(&path).map_err(&err)?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut line = CAF_HEADERS.join(";");
    for row in std::iter::once(None).chain(caf.iter().map(Some)) {
        if let Some(row) = row {
            line = caf_cells(&row, false).join(";");
        }
        line.push_str("\r\n");
        // Digits, dates and codes only: Windows-1252 and ASCII agree.
        writer.write_all(line.as_bytes()).map_err(&err)?;
    }
    writer.flush().map_err(&err)?;
    drop(err);
    written.push(path);

    let workbooks = [
        (
            &names[1],
            departement_sheets(data, false, &mut stream(opts, 102)),
        ),
        (
            &names[2],
            pole_emploi_sheets(data, false, &mut stream(opts, 103)),
        ),
        (
            &names[3],
            finance_sheets(data, false, &mut stream(opts, 104)),
        ),
    ];
    for (workbook, sheets) in workbooks {
        let stem = workbook.trim_end_matches(".xlsx");
        for sheet in sheets {
            let path = out.join(super::sheet_csv_file(stem, sheet.name));
            let err = io_err(&path);
            let mut writer = csv::WriterBuilder::new()
                .delimiter(b';')
                .terminator(csv::Terminator::CRLF)
                .from_path(&path)
                .map_err(|e| err(e.into()))?;
            writer
                .write_record(&sheet.headers)
                .map_err(|e| err(e.into()))?;
            for row in &sheet.rows {
                writer
                    .write_record(row.cells.iter().map(csv_text))
                    .map_err(|e| err(e.into()))?;
            }
            writer.flush().map_err(&err)?;
            drop(err);
            written.push(path);
        }
    }

    let path = out.join(EXPECTED_REJECTS);
    std::fs::write(&path, "file;sheet;row;column;reason\n").map_err(io_err(&path))?;
    written.push(path);
    Ok(written)
}
