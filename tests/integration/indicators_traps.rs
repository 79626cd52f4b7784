//! The Loire catalogue on a hand-built year whose every answer is worked out
//! below, with the traps of docs/DOMAIN.md: a household moving territory, a new
//! entrant never oriented, an orientation dated before the opening, a
//! duplicated row, an old commune code, a territory with no rows, a share
//! with a zero denominator, a month with no data, an orientation in January
//! of the next year, payments outside the year.

use crate::common;

use rust_xlsxwriter::Workbook;
use std::collections::HashMap;
use std::path::Path;

const HOUSEHOLDS_HEADER: &str = "MOISREF;NUMALLOC;DTOUVDRT;CODCOM;SDD;ETATDRT;NBPERS;MTRSAVERS";

/// One CAF row per month from `first` to `last` (inclusive) of 2020.
#[allow(clippy::too_many_arguments)]
fn caf_rows(
    out: &mut Vec<String>,
    id: &str,
    opened: &str,
    months: std::ops::RangeInclusive<u32>,
    commune: impl Fn(u32) -> &'static str,
    sdd: impl Fn(u32) -> u8,
    state: impl Fn(u32) -> u8,
    persons: u8,
) {
    for m in months {
        out.push(format!(
            "2020{m:02};{id};{opened};{};{};{};{persons};550,30",
            commune(m),
            sdd(m),
            state(m)
        ));
    }
}

fn write_sheet(workbook: &mut Workbook, name: &str, header: &[&str], rows: &[Vec<&str>]) {
    let sheet = workbook.add_worksheet();
    sheet.set_name(name).unwrap();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
            }
        }
    }
}

fn write_inputs(dir: &Path) {
    let mut caf = vec![HOUSEHOLDS_HEADER.to_owned()];
    // A: opens in January in Saint-Étienne, moves to Roanne in April, paid in December.
    caf_rows(
        &mut caf,
        "0000001",
        "10/01/2020",
        1..=12,
        |m| if m < 4 { "42218" } else { "42187" },
        |_| 1,
        |_| 2,
        2,
    );
    // B: old code of La Côte-Saint-Didier (Forez), SDD only from its second month, never oriented.
    caf_rows(
        &mut caf,
        "0000002",
        "05/03/2020",
        3..=12,
        |_| "42072",
        |m| u8::from(m > 3),
        |_| 2,
        1,
    );
    // C: oriented before its right opened (not oriented), met in collective meeting, closed in May.
    caf_rows(
        &mut caf,
        "0000003",
        "20/03/2020",
        3..=5,
        |_| "42218",
        |_| 1,
        |m| if m == 5 { 5 } else { 2 },
        4,
    );
    // D: an older household, not a new entrant, suspended in December.
    caf_rows(
        &mut caf,
        "0000004",
        "01/06/2019",
        1..=12,
        |_| "42095",
        |_| 1,
        |m| if m == 12 { 3 } else { 2 },
        5,
    );
    // E: oriented after 44 days; its March row is duplicated below.
    caf_rows(
        &mut caf,
        "0000005",
        "02/03/2020",
        3..=12,
        |_| "42218",
        |_| 1,
        |_| 2,
        1,
    );
    caf.push("202003;0000005;02/03/2020;42218;1;2;1;550,30".into());
    // F: opens on 20 December, oriented on 10 January of the next year.
    caf_rows(
        &mut caf,
        "0000006",
        "20/12/2020",
        12..=12,
        |_| "42218",
        |_| 1,
        |_| 2,
        6,
    );
    std::fs::write(dir.join("caf_rsa_2020.csv"), caf.join("\r\n") + "\r\n").unwrap();

    let mut workbook = Workbook::new();
    let orientation_header = [
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
    write_sheet(
        &mut workbook,
        "Orientations",
        &orientation_header,
        &[
            vec![
                "0000001",
                "10/01/2020",
                "25/01/2020",
                "Professionnelle",
                "Pôle emploi",
                "05/02/2020",
                "20/01/2020",
                "",
                "42218",
                "Oui",
            ],
            vec![
                "0000003",
                "20/03/2020",
                "01/03/2020",
                "Sociale",
                "Département",
                "",
                "10/04/2020",
                "",
                "42218",
                "Non",
            ],
            vec![
                "0000005",
                "02/03/2020",
                "15/04/2020",
                "Sociale",
                "Département",
                "",
                "",
                "",
                "42218",
                "Non",
            ],
            vec![
                "0000005",
                "02/03/2020",
                "01/05/2020",
                "Professionnelle",
                "Pôle emploi",
                "03/05/2020",
                "",
                "",
                "42218",
                "Non",
            ],
            vec![
                "0000006",
                "20/12/2020",
                "10/01/2021",
                "Professionnelle",
                "Pôle emploi",
                "",
                "",
                "",
                "42218",
                "Non",
            ],
            // G: an older household accompanied by L.O.I.R.E., first in Firminy then in Saint-Étienne.
            vec![
                "0000007",
                "01/01/2018",
                "10/06/2020",
                "Sociale",
                "Département",
                "",
                "",
                "",
                "42095",
                "Oui",
            ],
            vec![
                "0000007",
                "01/01/2018",
                "01/09/2020",
                "Sociale",
                "Département",
                "",
                "",
                "",
                "42218",
                "Oui",
            ],
        ],
    );
    write_sheet(
        &mut workbook,
        "Contrats aidés",
        &[
            "N° allocataire",
            "Date fin de contrat",
            "Accompagnement renforcé",
            "Date début accompagnement",
            "Commune",
            "Situation à 6 mois",
        ],
        &[],
    );
    write_sheet(
        &mut workbook,
        "Jeunes ASE",
        &[
            "Identifiant jeune",
            "Date de naissance",
            "Commune",
            "Date contrat trajectoire autonomie",
            "Référent de parcours",
            "Logement stable",
            "Ressources",
            "Parcours scolaire ou professionnel",
            "Personne de confiance",
        ],
        &[],
    );
    write_sheet(
        &mut workbook,
        "Accueil social",
        &[
            "Date",
            "Lieu",
            "Commune",
            "Type d'action",
            "Partenaire",
            "Nombre de personnes",
        ],
        &[
            vec![
                "03/02/2020",
                "Maison du département",
                "42218",
                "Accueil mutualisé",
                "CAF",
                "7",
            ],
            vec![
                "04/02/2020",
                "Maison du département",
                "42218",
                "Accueil mutualisé",
                "",
                "3",
            ],
            vec![
                "05/02/2020",
                "Mairie",
                "42187",
                "Accueil mutualisé",
                "CAF",
                "2",
            ],
        ],
    );
    write_sheet(
        &mut workbook,
        "Initiatives",
        &[
            "Date",
            "Type",
            "Commune",
            "Identifiant bénéficiaire",
            "Nombre de personnes",
            "Montant",
            "Résultat",
        ],
        &[],
    );
    workbook
        .save(dir.join("departement_insertion_2020.xlsx"))
        .unwrap();

    let mut workbook = Workbook::new();
    write_sheet(
        &mut workbook,
        "BRSA",
        &[
            "N° allocataire CAF",
            "Date inscription",
            "Catégorie",
            "Modalité",
            "Date entrée accompagnement global",
            "Date sortie",
            "Motif sortie",
            "Agence",
            "Commune",
        ],
        &[],
    );
    workbook
        .save(dir.join("pole_emploi_brsa_2020.xlsx"))
        .unwrap();

    let mut workbook = Workbook::new();
    write_sheet(
        &mut workbook,
        "Convention",
        &["Action", "Montant État", "Montant Département"],
        &[
            vec!["Action A", "1000", "2000"],
            vec!["Action B", "500", ""],
        ],
    );
    write_sheet(
        &mut workbook,
        "Mandats",
        &["Date mandat", "Action", "Financeur", "Montant"],
        &[
            vec!["10/02/2020", "Action A", "État", "250,50"],
            vec!["20/02/2020", "Action A", "État", "100,25"],
            vec!["15/12/2019", "Action A", "État", "999"],
            vec!["01/07/2020", "Action B", "État", "500"],
            vec!["01/03/2020", "Action A", "Département", "2000"],
            vec!["05/05/2020", "Action B", "Département", "100"],
        ],
    );
    workbook.save(dir.join("finances_2020.xlsx")).unwrap();
}

type Cells = HashMap<(String, String, String, String), Vec<String>>;

/// indicator, territory, month, breakdown → [valeur, numerateur, denominateur, cible, atteinte].
fn read_cells(path: &Path) -> Cells {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let key = (
                r[0].to_owned(),
                r[3].to_owned(),
                r[4].to_owned(),
                r[5].to_owned(),
            );
            (
                key,
                vec![
                    r[6].to_owned(),
                    r[7].to_owned(),
                    r[8].to_owned(),
                    r[9].to_owned(),
                    r[10].to_owned(),
                ],
            )
        })
        .collect()
}

fn cell<'a>(
    cells: &'a Cells,
    id: &str,
    territory: &str,
    month: &str,
    breakdown: &str,
) -> &'a [String] {
    cells
        .get(&(id.into(), territory.into(), month.into(), breakdown.into()))
        .unwrap_or_else(|| panic!("no cell {id} / {territory} / month '{month}' / '{breakdown}'"))
}

fn value(cells: &Cells, id: &str, territory: &str, month: &str) -> Option<f64> {
    let v = &cell(cells, id, territory, month, "")[0];
    (!v.is_empty()).then(|| v.parse().unwrap())
}

fn assert_close(actual: Option<f64>, expected: Option<f64>, what: &str) {
    match (actual, expected) {
        (Some(a), Some(e)) => assert!((a - e).abs() < 1e-9, "{what}: {a} != {e}"),
        _ => assert_eq!(actual, expected, "{what}"),
    }
}

/// The figures themselves: internal mode, since these tiny counts would be masked.
fn run_year(pipeline: &Path, inputs: &Path, out: &Path) -> Cells {
    let output = common::suivi(&[
        "run",
        common::arg(pipeline),
        "--year",
        "2020",
        "--inputs",
        common::arg(inputs),
        "--out",
        common::arg(out),
        "--diffusion",
        "interne",
    ]);
    common::assert_exit(&output, 0);
    read_cells(&out.join("indicateurs_2020_interne.csv"))
}

fn loire_pipeline() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/loire.toml")
}

#[test]
fn new_entrants_follow_every_rule_of_the_catalogue() {
    let inputs = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_inputs(inputs.path());
    let cells = run_year(&loire_pipeline(), inputs.path(), out.path());
    let v = |id: &str, t: &str, m: &str| value(&cells, id, t, m);

    // New entrants: A, B, C, E, F (D opened in 2019). A counts where it started (Saint-Étienne),
    // B in Forez through its old commune code; Gier-Ondaine-Pilat has no new entrant.
    assert_eq!(v("RSA-01", "Loire", ""), Some(5.0));
    assert_eq!(v("RSA-01", "Saint-Étienne", ""), Some(4.0));
    assert_eq!(v("RSA-01", "Forez", ""), Some(1.0));
    assert_eq!(v("RSA-01", "Roannais", ""), Some(0.0));
    assert_eq!(v("RSA-01", "Gier-Ondaine-Pilat", ""), Some(0.0));
    assert_eq!(v("RSA-01", "Loire", "3"), Some(3.0));
    assert_eq!(v("RSA-01", "Loire", "6"), Some(0.0));
    // Oriented: A (15 days), E (44 days, its earliest orientation on or after opening),
    // F (21 days, in January of the next year). C's orientation predates its right.
    assert_eq!(v("RSA-03", "Loire", ""), Some(3.0));
    assert_close(v("RSA-04", "Loire", ""), Some(80.0 / 3.0), "RSA-04");
    assert_eq!(
        cell(&cells, "RSA-04", "Loire", "", "")[1..3],
        ["80".to_owned(), "3".to_owned()]
    );
    assert_eq!(cell(&cells, "RSA-04", "Loire", "", "")[4], "oui"); // 26.7 days <= 30
    assert_eq!(v("RSA-13", "Loire", ""), Some(21.0));
    assert_eq!(v("RSA-04", "Loire", "3"), Some(44.0));
    assert_eq!(cell(&cells, "RSA-04", "Loire", "3", "")[4], "non");
    // A month with no new entrant: no mean, no share, zero denominators.
    assert_eq!(v("RSA-04", "Loire", "6"), None);
    assert_eq!(
        cell(&cells, "RSA-05", "Loire", "6", "")[..3],
        [String::new(), "0".into(), "0".into()]
    );
    assert_eq!(cell(&cells, "RSA-05", "Loire", "6", "")[4], "");
    // Within 30 days: A and F, over all 5 new entrants (B and C still count in the denominator).
    assert_close(v("RSA-05", "Loire", ""), Some(0.4), "RSA-05");
    assert_close(v("RSA-05", "Loire", "3"), Some(0.0), "RSA-05 March");
    // Collective meeting within 30 days: A (10 days) and C (21 days, though not oriented).
    assert_close(v("RSA-06", "Loire", ""), Some(0.4), "RSA-06");
    // First appointment: A after 11 days; E's appointment belongs to a later orientation row
    // but is on or after its chosen orientation (15/04 → 03/05 = 18 days).
    assert_close(
        v("RSA-07", "Loire", ""),
        Some((11.0 + 18.0) / 2.0),
        "RSA-07",
    );
    assert_close(v("RSA-08", "Loire", ""), Some(1.0 / 3.0), "RSA-08");
    // Professional: A and F; E's chosen orientation (15/04) is Sociale.
    assert_close(v("RSA-09", "Loire", ""), Some(2.0 / 3.0), "RSA-09");
    // Paid on 31 December: A (now in Roanne), B (Forez), E and F (Saint-Étienne); D suspended, C closed.
    assert_eq!(v("RSA-02", "Loire", ""), Some(4.0));
    assert_eq!(v("RSA-02", "Roannais", ""), Some(1.0));
    assert_eq!(v("RSA-02", "Saint-Étienne", ""), Some(2.0));
    assert_eq!(v("RSA-02", "Forez", ""), Some(1.0));
    assert!(
        !cells.contains_key(&("RSA-02".into(), "Loire".into(), "12".into(), String::new())),
        "stocks have no months"
    );
    // L.O.I.R.E.: A (January, Saint-Étienne) and G, placed at its earliest 2020 orientation (June, Firminy).
    assert_eq!(v("RSA-10", "Loire", ""), Some(2.0));
    assert_eq!(v("RSA-10", "Gier-Ondaine-Pilat", ""), Some(1.0));
    assert_eq!(v("RSA-10", "Saint-Étienne", ""), Some(1.0));
    assert_eq!(v("RSA-10", "Loire", "6"), Some(1.0));
    assert_eq!(v("RSA-10", "Loire", "9"), Some(0.0));
    // Empty sheets: counts are 0, shares have no value.
    assert_eq!(v("CA-01", "Loire", ""), Some(0.0));
    assert_eq!(v("CA-02", "Loire", ""), None);
}

#[test]
fn breakdowns_and_finance_add_up_to_the_cent() {
    let inputs = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_inputs(inputs.path());
    let cells = run_year(&loire_pipeline(), inputs.path(), out.path());
    let figures = |id: &str, month: &str, breakdown: &str| {
        cell(&cells, id, "Loire", month, breakdown).to_vec()
    };

    assert_eq!(value(&cells, "ACC-03", "Loire", ""), Some(12.0));
    assert_eq!(figures("ACC-03", "", "CAF")[0], "9");
    assert_eq!(figures("ACC-03", "", "non renseigné")[0], "3");
    assert_eq!(cell(&cells, "ACC-03", "Saint-Étienne", "2", "CAF")[0], "7");
    assert_eq!(cell(&cells, "ACC-03", "Roannais", "", "CAF")[0], "2");

    // State: 250.50 + 100.25 (Action A, February) + 500 (Action B); the 2019 payment doesn't count.
    assert_eq!(
        figures("FIN-01", "", "")[..3],
        ["0.567166667".to_owned(), "850.75".into(), "1500".into()]
    );
    assert_eq!(
        figures("FIN-01", "", "Action A")[..3],
        ["0.35075".to_owned(), "350.75".into(), "1000".into()]
    );
    assert_eq!(
        figures("FIN-01", "2", "Action A")[..3],
        ["0.35075".to_owned(), "350.75".into(), "1000".into()]
    );
    assert_eq!(
        figures("FIN-01", "7", "")[..3],
        ["0.333333333".to_owned(), "500".into(), "1500".into()]
    );
    assert_eq!(
        figures("FIN-01", "12", "")[..3],
        ["0".to_owned(), "0".into(), "1500".into()]
    );
    // Département: Action B has no agreed amount, so no rate, and its
    // payment stays out of the total (DOMAIN.md, FIN-02): 2000 / 2000, not
    // 2100 / 2000.
    assert_eq!(
        figures("FIN-02", "", "")[..3],
        ["1".to_owned(), "2000".into(), "2000".into()]
    );
    assert_eq!(
        figures("FIN-02", "5", "")[..3],
        ["0".to_owned(), "0".into(), "2000".into()]
    );
    assert_eq!(
        figures("FIN-02", "", "Action B")[..3],
        [String::new(), "100".into(), "0".into()]
    );
    // Finance is département-level only.
    assert!(
        !cells
            .keys()
            .any(|(id, t, _, _)| id == "FIN-01" && t != "Loire")
    );
}

#[test]
fn an_indicator_added_in_the_pipeline_file_needs_no_code() {
    let inputs = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_inputs(inputs.path());
    let mut text = std::fs::read_to_string(loire_pipeline()).unwrap();
    text = text.replace(
        "\"../inputs/referentiel/",
        &format!("\"{}/inputs/referentiel/", env!("CARGO_MANIFEST_DIR")),
    );
    text.push_str(
        r#"
[[indicators]]
id = "TEST-01"
action = "Essai"
label = "Foyers de quatre personnes ou plus payés en décembre"
table = "caf_rsa"
kind = "distinct"
key = "numalloc"
population = "moisref = DATE '{annee}-12-01' AND etat_droit = 2 AND nb_personnes >= 4"
definition = "Essai d'un indicateur déclaré dans le seul fichier de pipeline."
"#,
    );
    let pipeline = inputs.path().join("custom.toml");
    std::fs::write(&pipeline, text).unwrap();
    let cells = run_year(&pipeline, inputs.path(), out.path());
    // Paid in December with 4 or more persons: only F (6 persons); D (5) is suspended.
    assert_eq!(value(&cells, "TEST-01", "Loire", ""), Some(1.0));
    assert_eq!(value(&cells, "TEST-01", "Saint-Étienne", ""), Some(1.0));
    assert_eq!(
        value(&cells, "TEST-01", "Gier-Ondaine-Pilat", ""),
        Some(0.0)
    );
}
