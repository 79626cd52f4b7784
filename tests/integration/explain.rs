//! `suivi explain` (issue 39), checked against explanations recomputed
//! here from the partner's file read directly (calamine), never through
//! suivi-core: one indicator of each kind over the sample's `Initiatives`
//! sheet, each split by type, explained for the département's year, for
//! its busiest territory × month and for its busiest breakdown value; then
//! RSA-05 of the Loire's pipeline, a unit of a derived table traced back
//! to the CAF and orientation rows of its household; a masked cell is
//! refused in public diffusion; no identifier is ever written.

use crate::common;
use calamine::{Data, Reader};
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const WORKBOOK: &str = "departement_insertion_2020.xlsx";

/// One indicator of each kind, over the Initiatives sheet, split by type.
const INDICATORS: [(&str, &str); 7] = [
    ("T-COUNT", "kind = \"count\""),
    (
        "T-DISTINCT",
        "kind = \"distinct\"\nkey = \"id_beneficiaire\"",
    ),
    ("T-SUM", "kind = \"sum\"\nmeasure = \"nb_personnes\""),
    ("T-MEAN", "kind = \"mean\"\nmeasure = \"montant\""),
    ("T-MEDIAN", "kind = \"median\"\nmeasure = \"nb_personnes\""),
    (
        "T-SHARE",
        "kind = \"share\"\nkey = \"id_beneficiaire\"\ncondition = \"resultat\"",
    ),
    (
        "T-RATIO",
        "kind = \"ratio\"\nmeasure = \"montant\"\ndenominator = \"nb_personnes\"",
    ),
];

fn pipeline(dir: &Path) -> PathBuf {
    let inputs = root().join("inputs");
    let mut text = format!(
        r#"[pipeline]
name = "Explications"
departement = "Loire"
year = 2020
inputs = "{inputs}"
confidentiality_threshold = 5

[reference]
territories = "{inputs}/referentiel/territoires_loire.csv"
commune_passage = "{inputs}/referentiel/passage_communes_loire.csv"

[sources.initiatives]
file = "{WORKBOOK}"
sheet = "Initiatives"
columns = [
  {{ name = "date", header = "Date", type = "date", required = true }},
  {{ name = "type", header = "Type", type = "text", required = true }},
  {{ name = "commune", header = "Commune", type = "commune", required = true }},
  {{ name = "id_beneficiaire", header = "Identifiant bénéficiaire", type = "id" }},
  {{ name = "nb_personnes", header = "Nombre de personnes", type = "integer" }},
  {{ name = "montant", header = "Montant", type = "decimal" }},
  {{ name = "resultat", header = "Résultat", type = "bool" }},
]
"#,
        inputs = inputs.display()
    );
    for (id, kind) in INDICATORS {
        text.push_str(&format!(
            "\n[[indicators]]\nid = \"{id}\"\naction = \"Tests\"\nlabel = \"{id}\"\n\
             table = \"initiatives\"\n{kind}\ndate = \"date\"\nbreakdown = \"type\"\n\
             definition = \"{id}\"\n"
        ));
    }
    let path = dir.join("explications.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A row of the Initiatives sheet, as the partner wrote it.
#[derive(Debug, Clone)]
struct Initiative {
    /// 1-based, as a spreadsheet program shows it.
    line: u32,
    date: NaiveDate,
    kind: String,
    commune: String,
    territory: String,
    id: Option<String>,
    persons: Option<f64>,
    amount: Option<f64>,
    result: bool,
}

/// Rows of a reference file, as maps from column name to text.
fn reference(name: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(root().join("inputs/referentiel").join(name)).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.trim().to_owned()))
                .collect()
        })
        .collect()
}

/// Former commune code → current code.
fn passage() -> HashMap<String, String> {
    reference("passage_communes_loire.csv")
        .into_iter()
        .map(|r| (r["code_ancien"].clone(), r["code_actuel"].clone()))
        .collect()
}

/// Commune code (former codes mapped) → territory, from the reference files.
fn territories() -> HashMap<String, String> {
    let mut of: HashMap<String, String> = reference("territoires_loire.csv")
        .into_iter()
        .map(|r| (r["code_commune"].clone(), r["territoire"].clone()))
        .collect();
    for (former, current) in passage() {
        let territory = of[&current].clone();
        of.insert(former, territory);
    }
    of
}

fn initiatives() -> Vec<Initiative> {
    let mut workbook = calamine::open_workbook_auto(root().join("inputs").join(WORKBOOK)).unwrap();
    let range = workbook.worksheet_range("Initiatives").unwrap();
    let first_row = range.start().unwrap().0;
    let rows: Vec<&[Data]> = range.rows().collect();
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let territory_of = territories();
    let text = |c: &Data| Some(c.to_string()).filter(|s| !s.is_empty());
    let number = |c: &Data| match c {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        _ => None,
    };
    rows.iter()
        .enumerate()
        .skip(1)
        .map(|(i, r)| {
            let date = match &r[col("Date")] {
                Data::DateTime(d) => d.as_datetime().unwrap().date(),
                other => panic!("not a date: {other:?}"),
            };
            let commune = r[col("Commune")].to_string();
            Initiative {
                line: first_row + i as u32 + 1,
                date,
                kind: r[col("Type")].to_string(),
                territory: territory_of[&commune].clone(),
                commune,
                id: text(&r[col("Identifiant bénéficiaire")]),
                persons: number(&r[col("Nombre de personnes")]),
                amount: number(&r[col("Montant")]),
                result: r[col("Résultat")] == "Oui",
            }
        })
        .collect()
}

/// A cell: territory (None: the département), month, breakdown value.
type Place = (Option<String>, Option<u32>, Option<String>);

/// One unit of the listing: its rows (placing row first, the others
/// sorted) and its contribution, as the CSV writes numbers.
type Unit = (Vec<u32>, String, String, String);

fn text(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.6}")).unwrap_or_default()
}

fn unit(lines: Vec<u32>, num: Option<f64>, den: Option<f64>, value: Option<f64>) -> Unit {
    let mut rest = lines[1..].to_vec();
    rest.sort();
    let mut all = vec![lines[0]];
    all.extend(rest);
    (all, text(num), text(den), text(value))
}

/// The expected listing of `id` at `place`, by the catalogue's rules.
fn expected(id: &str, rows: &[Initiative], place: &Place) -> Vec<Unit> {
    let in_year = |r: &Initiative| r.date.year() == 2020;
    let month_ok = |r: &Initiative| place.1.is_none_or(|m| r.date.month() == m);
    let territory_ok = |t: &str| place.0.as_deref().is_none_or(|want| want == t);
    let kind_ok = |r: &Initiative| place.2.as_deref().is_none_or(|want| want == r.kind);
    let in_cell =
        |r: &Initiative| in_year(r) && month_ok(r) && territory_ok(&r.territory) && kind_ok(r);
    let mut units = Vec::new();
    match id {
        "T-COUNT" | "T-SUM" | "T-MEAN" | "T-MEDIAN" => {
            for r in rows.iter().filter(|r| in_cell(r)) {
                units.push(match id {
                    "T-COUNT" => unit(vec![r.line], Some(1.0), None, None),
                    "T-SUM" => unit(vec![r.line], r.persons, None, None),
                    "T-MEAN" => unit(vec![r.line], r.amount, r.amount.map(|_| 1.0), r.amount),
                    _ => unit(vec![r.line], None, r.persons.map(|_| 1.0), r.persons),
                });
            }
        }
        // Every row of the file: the denominator is the year's whatever
        // the date; the numerator, the rows of the year (and month).
        // A total leaves out the breakdown values (per territory at that
        // level) with nothing in the denominator (DOMAIN.md, FIN-01).
        "T-RATIO" => {
            let planned = |r: &Initiative| -> f64 {
                rows.iter()
                    .filter(|o| o.kind == r.kind)
                    .filter(|o| place.0.is_none() || o.territory == r.territory)
                    .filter_map(|o| o.persons)
                    .sum()
            };
            let counted = |r: &Initiative| place.2.is_some() || planned(r) > 0.0;
            for r in rows
                .iter()
                .filter(|r| territory_ok(&r.territory) && kind_ok(r) && counted(r))
            {
                let num = r.amount.filter(|a| *a != 0.0 && in_year(r) && month_ok(r));
                let den = r.persons.filter(|p| *p != 0.0);
                if num.is_some() || den.is_some() {
                    units.push(unit(vec![r.line], num, den, None));
                }
            }
        }
        // A person, placed by the earliest of their rows of the year.
        _ => {
            let mut people: BTreeMap<&str, Vec<&Initiative>> = BTreeMap::new();
            for r in rows.iter().filter(|r| in_year(r)) {
                if let Some(person) = &r.id {
                    people.entry(person).or_default().push(r);
                }
            }
            for mut own in people.into_values() {
                own.sort_by(|a, b| (a.date, &a.commune, a.line).cmp(&(b.date, &b.commune, b.line)));
                let first = own[0];
                if !(month_ok(first) && territory_ok(&first.territory) && kind_ok(first)) {
                    continue;
                }
                let lines = own.iter().map(|r| r.line).collect();
                units.push(if id == "T-DISTINCT" {
                    unit(lines, Some(1.0), None, None)
                } else {
                    let met = own.iter().any(|r| r.result);
                    unit(lines, met.then_some(1.0), Some(1.0), None)
                });
            }
        }
    }
    units.sort();
    units
}

/// The listing `suivi explain --out FILE.csv` wrote, as units.
fn listed(path: &Path) -> (Vec<Unit>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    let header = reader.headers().unwrap().clone();
    let records: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            header
                .iter()
                .zip(r.unwrap().iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect();
    let mut by_unit: BTreeMap<u32, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for r in &records {
        by_unit
            .entry(r["unite"].parse().unwrap())
            .or_default()
            .push(r);
    }
    let number = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().unwrap());
    let mut units: Vec<Unit> = by_unit
        .into_values()
        .map(|lines| {
            // The contribution sits on the unit's first line only.
            for later in &lines[1..] {
                assert!(later["numerateur"].is_empty() && later["denominateur"].is_empty());
            }
            let first = lines[0];
            unit(
                lines.iter().map(|l| l["ligne"].parse().unwrap()).collect(),
                number(&first["numerateur"]),
                number(&first["denominateur"]),
                number(&first["valeur"]),
            )
        })
        .collect();
    units.sort();
    (units, records)
}

/// The figure a kind publishes from its units.
fn figures(id: &str, units: &[Unit]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let sum = |i: usize| -> f64 {
        units
            .iter()
            .map(|u| [&u.1, &u.2, &u.3][i])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<f64>().unwrap())
            .sum()
    };
    let mut values: Vec<f64> = units.iter().filter_map(|u| u.3.parse().ok()).collect();
    values.sort_by(f64::total_cmp);
    let (num, den) = (sum(0), sum(1));
    match id {
        "T-COUNT" | "T-DISTINCT" | "T-SUM" => (Some(num), None, None),
        "T-MEAN" => ((den > 0.0).then(|| num / den), Some(num), Some(den)),
        "T-MEDIAN" => {
            let n = values.len();
            let median = (n > 0).then(|| {
                if n % 2 == 1 {
                    values[n / 2]
                } else {
                    (values[n / 2 - 1] + values[n / 2]) / 2.0
                }
            });
            (median, None, Some(den))
        }
        _ => ((den > 0.0).then(|| num / den), Some(num), Some(den)),
    }
}

/// `value V  numerator N  denominator D` from explain's second line.
fn printed(stdout: &str) -> [Option<f64>; 3] {
    let line = stdout.lines().nth(1).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = |i: usize| words[i].parse::<f64>().ok();
    assert_eq!(
        (words[0], words[2], words[4]),
        ("value", "numerator", "denominator"),
        "{line}"
    );
    [at(1), at(3), at(5)]
}

#[track_caller]
fn assert_close(what: &str, printed: Option<f64>, expected: Option<f64>) {
    match (printed, expected) {
        (Some(p), Some(e)) => assert!(
            (p - e).abs() < 1e-6 * e.abs().max(1.0),
            "{what}: {p} vs {e}"
        ),
        // A count's numerator is not printed: its value is.
        (None, Some(0.0)) => {}
        (p, e) => assert_eq!(p, e, "{what}"),
    }
}

#[test]
fn every_kind_is_explained_by_the_rows_that_make_it() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path());
    let rows = initiatives();
    assert!(rows.len() > 40);
    let mut explained = 0;
    for (id, _) in INDICATORS {
        // The busiest territory × month and breakdown value of the year.
        let mut busiest: BTreeMap<(String, u32), usize> = BTreeMap::new();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.date.year() == 2020) {
            if id != "T-DISTINCT" && id != "T-SHARE" || r.id.is_some() {
                *busiest
                    .entry((r.territory.clone(), r.date.month()))
                    .or_default() += 1;
                *kinds.entry(r.kind.clone()).or_default() += 1;
            }
        }
        let (cell, _) = busiest
            .iter()
            .max_by_key(|(k, n)| (**n, std::cmp::Reverse(*k)))
            .unwrap();
        let (kind, _) = kinds
            .iter()
            .max_by_key(|(k, n)| (**n, std::cmp::Reverse(*k)))
            .unwrap();
        let places: [Place; 3] = [
            (None, None, None),
            (Some(cell.0.clone()), Some(cell.1), None),
            (None, None, Some(kind.clone())),
        ];
        for place in places {
            let out = dir.path().join(format!("{id}.csv"));
            let month = place.1.map(|m| m.to_string());
            let mut args = vec![
                "explain",
                common::arg(&pipeline),
                id,
                "--diffusion",
                "interne",
                "--out",
                common::arg(&out),
            ];
            if let Some(t) = &place.0 {
                args.extend(["--territoire", t]);
            }
            if let Some(m) = &month {
                args.extend(["--mois", m]);
            }
            if let Some(v) = &place.2 {
                args.extend(["--ventilation", v]);
            }
            let output = common::suivi(&args);
            common::assert_exit(&output, 0);
            let want = expected(id, &rows, &place);
            assert!(!want.is_empty(), "{id} {place:?}: nothing to explain");
            let (got, records) = listed(&out);
            assert_eq!(got, want, "{id} {place:?}");
            for r in &records {
                assert_eq!(
                    (
                        r["source"].as_str(),
                        r["fichier"].as_str(),
                        r["feuille"].as_str()
                    ),
                    ("initiatives", WORKBOOK, "Initiatives")
                );
                assert!(!r.contains_key("id_beneficiaire"), "{r:?}");
            }
            // The figure printed is the one the units give.
            let [value, num, den] = printed(&common::stdout(&output));
            let (e_value, e_num, e_den) = figures(id, &want);
            assert_close(&format!("{id} {place:?} value"), value, e_value);
            assert_close(&format!("{id} {place:?} numerator"), num, e_num);
            assert_close(&format!("{id} {place:?} denominator"), den, e_den);
            explained += 1;
        }
    }
    assert_eq!(explained, 21);
}

/// RSA-05 of the sample: each new entrant is traced to the CAF rows and
/// orientation rows of its household, its first line the CAF row whose
/// opening date and commune placed it.
#[test]
fn a_new_entrant_is_traced_to_its_households_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rsa05.xlsx");
    let csv_out = dir.path().join("rsa05.csv");
    let pipeline = root().join("pipelines/loire.toml");
    let output = common::suivi(&[
        "explain",
        common::arg(&pipeline),
        "RSA-05",
        "--year",
        "2020",
        "--out",
        common::arg(&csv_out),
    ]);
    common::assert_exit(&output, 0);
    let stdout = common::stdout(&output);
    // The published figure, from the published table.
    let run = dir.path().join("run");
    common::assert_exit(
        &common::suivi(&[
            "run",
            common::arg(&pipeline),
            "--year",
            "2020",
            "--out",
            common::arg(&run),
        ]),
        0,
    );
    let table = std::fs::read_to_string(run.join("indicateurs_2020.csv")).unwrap();
    let total: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("RSA-05;") && l.contains(";Loire;;;"))
        .unwrap()
        .split(';')
        .collect();
    let [_, num, den] = printed(&stdout);
    assert_eq!(num, total[7].parse().ok());
    assert_eq!(den, total[8].parse().ok());

    // The CAF file and the orientations, read directly: the household of each row.
    let caf = std::fs::read_to_string(root().join("inputs/caf_rsa_2020.csv")).unwrap();
    let caf: Vec<Vec<&str>> = caf.lines().map(|l| l.split(';').collect()).collect();
    let mut workbook =
        calamine::open_workbook_auto(root().join("inputs/departement_insertion_2020.xlsx"))
            .unwrap();
    let orientations = workbook.worksheet_range("Orientations").unwrap();
    let first = orientations.start().unwrap().0;
    let household_of_orientation: HashMap<u32, String> = orientations
        .rows()
        .enumerate()
        .skip(1)
        .map(|(i, r)| (first + i as u32 + 1, r[0].to_string()))
        .collect();
    let (_, records) = listed(&csv_out);
    let mut by_unit: BTreeMap<&str, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for r in &records {
        by_unit.entry(r["unite"].as_str()).or_default().push(r);
    }
    assert_eq!(by_unit.len() as f64, den.unwrap());
    let mut met = 0.0;
    for lines in by_unit.values() {
        let household = |r: &BTreeMap<String, String>| -> String {
            let line: u32 = r["ligne"].parse().unwrap();
            match r["source"].as_str() {
                "caf_rsa" => caf[line as usize - 1][1].to_owned(),
                "orientations" => household_of_orientation[&line].clone(),
                other => panic!("a new entrant traced to {other}"),
            }
        };
        let first = lines[0];
        assert_eq!(first["source"], "caf_rsa");
        let caf_row = &caf[first["ligne"].parse::<usize>().unwrap() - 1];
        // DTOUVDRT (JJ/MM/AAAA) and CODCOM are those the unit shows.
        let opened: Vec<&str> = caf_row[2].split('/').collect();
        assert_eq!(
            first["date_ouverture"],
            format!("{}-{}-{}", opened[2], opened[1], opened[0])
        );
        // A former commune code is shown as the current one it maps to.
        let passage = passage();
        let commune = passage.get(caf_row[3]).map_or(caf_row[3], String::as_str);
        assert_eq!(first["commune"], commune);
        for line in lines {
            assert_eq!(household(line), household(first), "{line:?}");
        }
        assert!(lines.iter().any(|l| l["source"] == "caf_rsa"));
        // Within 30 days, by the delay the listing shows.
        let delay = first["delai_orientation"].parse::<i64>().ok();
        if delay.is_some_and(|d| (0..=30).contains(&d)) {
            met += 1.0;
            assert_eq!(first["numerateur"], "1");
        } else {
            assert_eq!(first["numerateur"], "");
        }
    }
    assert_eq!(Some(met), num);
    // No identifier anywhere: neither the columns nor the values.
    let listing = std::fs::read_to_string(&csv_out).unwrap();
    assert!(!listing.to_lowercase().contains("numalloc"));
    for household in caf.iter().skip(1).take(500).map(|r| r[1]) {
        assert!(!listing.contains(&format!(";{household};")), "{household}");
        assert!(!stdout.contains(household), "{household}");
    }

    // The same listing as a workbook marked for internal use.
    let output = common::suivi(&[
        "explain",
        common::arg(&pipeline),
        "RSA-05",
        "--out",
        common::arg(&out),
    ]);
    common::assert_exit(&output, 0);
    let mut workbook = calamine::open_workbook_auto(&out).unwrap();
    let range = workbook.worksheet_range("Explication").unwrap();
    let cells: Vec<String> = range
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(
        cells.iter().any(|c| c.contains("DIFFUSION RESTREINTE")),
        "{:?}",
        &cells[..5]
    );
    let header = range.rows().position(|r| r[0] == "unite").unwrap();
    assert_eq!(range.rows().count() - header - 1, records.len());
}

#[test]
fn a_masked_cell_is_refused_in_public_diffusion_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("listing.csv");
    let pipeline = root().join("pipelines/loire.toml");
    let run = dir.path().join("run");
    common::assert_exit(
        &common::suivi(&["run", common::arg(&pipeline), "--out", common::arg(&run)]),
        0,
    );
    // A cell the published table masks: RSA-05 in some territory and month.
    let table = std::fs::read_to_string(run.join("indicateurs_2020.csv")).unwrap();
    let masked: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("RSA-05;") && l.ends_with(";oui") && !l.contains(";Loire;"))
        .unwrap()
        .split(';')
        .collect();
    let (territory, month) = (masked[3], masked[4]);
    let args = |diffusion: &'static str| {
        vec![
            "explain".to_owned(),
            common::arg(&pipeline).to_owned(),
            "RSA-05".to_owned(),
            "--territoire".to_owned(),
            territory.to_owned(),
            "--mois".to_owned(),
            month.to_owned(),
            "--diffusion".to_owned(),
            diffusion.to_owned(),
            "--out".to_owned(),
            common::arg(&out).to_owned(),
        ]
    };
    let public: Vec<String> = args("publique");
    let output = common::suivi(&public.iter().map(String::as_str).collect::<Vec<_>>());
    common::assert_exit(&output, 5);
    let err = common::stderr(&output);
    assert!(err.contains("is masked by the"), "{err}");
    assert!(err.contains("rule"), "{err}");
    assert!(!out.exists(), "nothing is written for a masked cell");
    // Internal diffusion lists it.
    let internal: Vec<String> = args("interne");
    let output = common::suivi(&internal.iter().map(String::as_str).collect::<Vec<_>>());
    common::assert_exit(&output, 0);
    assert!(out.exists());
}

/// FIN-01's total for 2020 (issue 36): the listing holds the payments on
/// the actions the State agreed to only, and adds up to the published
/// 79.7 %; the Maison kangourou payment, outside the convention, is not a
/// line of the total but of its own action.
#[test]
fn the_state_total_lists_only_payments_on_agreed_actions() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fin01.csv");
    let explain = |extra: &[&str], out: &Path| {
        let pipeline = root().join("pipelines/loire.toml");
        let mut args = vec![
            "explain",
            common::arg(&pipeline),
            "FIN-01",
            "--year",
            "2020",
            "--out",
            common::arg(out),
        ];
        args.extend_from_slice(extra);
        let output = common::suivi(&args);
        common::assert_exit(&output, 0);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_path(out)
            .unwrap();
        let header = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                header
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect::<BTreeMap<String, String>>()
            })
            .collect::<Vec<_>>()
    };
    let records = explain(&[], &out);
    let sum = |column: &str| -> f64 {
        records
            .iter()
            .filter_map(|r| r[column].parse::<f64>().ok())
            .sum()
    };
    let (agreed, paid, outside) = crate::workbooks::funder_sums(2020)["État"];
    assert!(outside > 0.0);
    assert!(
        (sum("numerateur") - paid).abs() < 0.005,
        "{}",
        sum("numerateur")
    );
    assert!((sum("denominateur") - agreed).abs() < 0.005);
    assert_eq!((1000.0 * paid / agreed).round() / 10.0, 79.7);

    let kangourou = dir.path().join("kangourou.csv");
    let records = explain(
        &["--ventilation", "Maison kangourou itinérante"],
        &kangourou,
    );
    let paid_outside: f64 = records
        .iter()
        .filter_map(|r| r["numerateur"].parse::<f64>().ok())
        .sum();
    assert!((paid_outside - outside).abs() < 0.005, "{paid_outside}");
}

/// A breakdown value is matched ignoring case and accents; an unknown one
/// is a usage error naming the values the indicator takes.
#[test]
fn a_breakdown_value_is_matched_loosely_and_an_unknown_one_named() {
    let pipeline = root().join("pipelines/loire.toml");
    let explain = |value: &str| {
        common::suivi(&[
            "explain",
            common::arg(&pipeline),
            "FIN-01",
            "--ventilation",
            value,
            "--show",
            "0",
        ])
    };
    let output = explain("MAISON KANGOUROU ITINERANTE");
    common::assert_exit(&output, 0);
    let first = common::stdout(&output).lines().next().unwrap().to_owned();
    assert!(first.ends_with(", Maison kangourou itinérante"), "{first}");
    let output = explain("Maison kangourou");
    common::assert_exit(&output, 2);
    let err = common::stderr(&output);
    assert!(
        err.contains("FIN-01 has no breakdown value 'Maison kangourou'"),
        "{err}"
    );
    assert!(err.contains("Maison kangourou itinérante"), "{err}");
}
