//! The three workbooks, end to end: the real binary on the committed sample,
//! every figure read back with calamine and compared with the indicator CSV,
//! the finance totals with the sample's payments read independently, the
//! quality counts with `suivi check`; byte-identical reruns; no formula but
//! the finance totals; LibreOffice opens and converts every workbook.

use calamine::{Data, Range, Reader, open_workbook_auto};
use chrono::Datelike;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const KEY: &str = "test-key-0123456789abcdef";
const YEAR: &str = "2020";
const WORKBOOKS: [&str; 3] = [
    "rapport_execution_2020.xlsx",
    "suivi_financier_2020.xlsx",
    "qualite_donnees_2020.xlsx",
];
/// Sheets of the execution report that are not action groups.
const FIXED_SHEETS: [&str; 4] = ["Synthèse", "Par territoire", "Définitions", "Sources"];

fn manifest(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn suivi(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_suivi"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SUIVI_PSEUDONYM_KEY", KEY)
        .env_remove("SUIVI_PSEUDONYM_KEY_FILE")
        .env_remove("SUIVI_LOG")
        .output()
        .expect("the suivi binary runs");
    assert!(
        output.status.success(),
        "suivi {args:?} failed ({:?}):\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn run_into(out: &Path, extra: &[&str]) {
    let pipeline = manifest("pipelines/loire.toml");
    let mut args = vec![
        "run",
        pipeline.to_str().unwrap(),
        "--year",
        YEAR,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    suivi(&args);
}

/// One run on the committed sample, shared by the tests that only read.
fn sample_run() -> &'static Path {
    static RUN: OnceLock<tempfile::TempDir> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        run_into(dir.path(), &[]);
        dir
    })
    .path()
}

fn departement() -> String {
    let text = std::fs::read_to_string(manifest("pipelines/loire.toml")).expect("the pipeline");
    let value: toml::Value = toml::from_str(&text).expect("TOML");
    value["pipeline"]["departement"]
        .as_str()
        .expect("a département")
        .to_owned()
}

fn symbol() -> String {
    let text = std::fs::read_to_string(manifest("pipelines/loire.toml")).expect("the pipeline");
    let value: toml::Value = toml::from_str(&text).expect("TOML");
    value["pipeline"]
        .get("mask_symbol")
        .and_then(|s| s.as_str())
        .unwrap_or("s")
        .to_owned()
}

/// The indicator CSV: (indicator, territory, month, breakdown) → (value, previous).
type Key = (String, String, String, String);
fn indicator_csv(dir: &Path) -> BTreeMap<Key, (String, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(dir.join("indicateurs_2020.csv"))
        .expect("the indicator CSV");
    let headers = reader.headers().expect("headers").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (id, territory, month, breakdown, value, previous) = (
        col("indicateur"),
        col("territoire"),
        col("mois"),
        col("ventilation"),
        col("valeur"),
        col("valeur_n1"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            (
                (
                    r[id].to_owned(),
                    r[territory].to_owned(),
                    r[month].to_owned(),
                    r[breakdown].to_owned(),
                ),
                (r[value].to_owned(), r[previous].to_owned()),
            )
        })
        .collect()
}

struct Sheet {
    name: String,
    values: Range<Data>,
    formulas: Range<String>,
}

fn read(path: &Path) -> Vec<Sheet> {
    let mut workbook = open_workbook_auto(path).expect("the workbook opens");
    workbook
        .sheet_names()
        .into_iter()
        .map(|name| Sheet {
            values: workbook.worksheet_range(&name).expect("values"),
            formulas: workbook.worksheet_formula(&name).expect("formulas"),
            name,
        })
        .collect()
}

fn sheet<'a>(sheets: &'a [Sheet], name: &str) -> &'a Sheet {
    sheets
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sheet {name}"))
}

fn text(cell: Option<&Data>) -> String {
    cell.map(|c| c.to_string()).unwrap_or_default()
}

/// The table of a sheet: its header (absolute row and names) and the rows under it.
struct Table<'a> {
    header_row: usize,
    columns: Vec<String>,
    rows: Vec<(usize, &'a [Data])>,
}

impl Table<'_> {
    fn col(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.columns))
    }
}

/// The table whose header has `first` in column `at`: rows until the first empty one.
fn table<'a>(range: &'a Range<Data>, at: usize, first: &str) -> Table<'a> {
    let start = range.start().expect("a non-empty sheet").0 as usize;
    let all: Vec<&[Data]> = range.rows().collect();
    let header = all
        .iter()
        .position(|r| text(r.get(at)) == first)
        .unwrap_or_else(|| panic!("no header {first}"));
    let columns = all[header].iter().map(|c| c.to_string()).collect();
    let rows = all[header + 1..]
        .iter()
        .enumerate()
        .take_while(|(_, r)| r.iter().any(|c| *c != Data::Empty))
        .map(|(i, r)| (start + header + 1 + i, *r))
        .collect();
    Table {
        header_row: start + header,
        columns,
        rows,
    }
}

fn number(cell: &Data) -> Option<f64> {
    match cell {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// A workbook cell against the CSV's text: empty, the mask symbol, or the number.
#[track_caller]
fn assert_same(cell: Option<&Data>, csv: &str, symbol: &str, what: &str) {
    let cell = cell.unwrap_or(&Data::Empty);
    if csv.is_empty() {
        assert!(
            matches!(cell, Data::Empty) || cell.to_string().is_empty(),
            "{what}: expected an empty cell, found {cell:?}"
        );
    } else if csv == symbol {
        assert_eq!(cell, &Data::String(symbol.to_owned()), "{what}: masked");
    } else {
        let expected: f64 = csv.parse().unwrap_or_else(|_| panic!("{what}: {csv}"));
        let found = number(cell).unwrap_or_else(|| panic!("{what}: {cell:?} is not a number"));
        assert!(
            (found - expected).abs() <= 1e-8 * expected.abs().max(1.0),
            "{what}: {found} in the workbook, {expected} in the CSV"
        );
    }
}

#[test]
fn summary_shows_the_departement_values_of_every_indicator() {
    let dir = sample_run();
    let csv = indicator_csv(dir);
    let symbol = symbol();
    let departement = departement();
    let sheets = read(&dir.join(WORKBOOKS[0]));
    let summary = table(&sheet(&sheets, "Synthèse").values, 1, "Indicateur");
    let (id, value, previous) = (
        summary.col("Indicateur"),
        summary.col("Valeur 2020"),
        summary.col("Valeur 2019"),
    );
    let expected: Vec<_> = csv
        .iter()
        .filter(|((_, t, m, b), _)| *t == departement && m.is_empty() && b.is_empty())
        .collect();
    assert_eq!(summary.rows.len(), expected.len(), "one line per indicator");
    for ((indicator, ..), (csv_value, csv_previous)) in expected {
        let line = summary
            .rows
            .iter()
            .find(|(_, r)| text(r.get(id)) == *indicator)
            .unwrap_or_else(|| panic!("{indicator} not in the summary"))
            .1;
        assert_same(line.get(value), csv_value, &symbol, indicator);
        if csv_value != &symbol {
            assert_same(line.get(previous), csv_previous, &symbol, indicator);
        }
    }
    // Targets as numbers, formatted as the bilan formats them (issue 36):
    // the pipeline's FIN-01 target is a share of at least 1.0.
    let target = |indicator: &str| {
        let line = &summary
            .rows
            .iter()
            .find(|(_, r)| text(r.get(id)) == indicator)
            .expect(indicator)
            .1;
        line.get(summary.col("Cible")).and_then(number)
    };
    assert_eq!(target("FIN-01"), Some(1.0));
    // The cover line states the year, the département and the rule.
    let cover: String = sheet(&sheets, "Synthèse")
        .values
        .rows()
        .take(summary.header_row)
        .map(|r| text(r.first()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        cover.contains("2020") && cover.contains(&departement),
        "{cover}"
    );
    assert!(cover.contains("seuil t = 5") && cover.contains(&format!("« {symbol} »")));
}

#[test]
fn by_territory_shows_the_year_values_of_every_territory() {
    let dir = sample_run();
    let csv = indicator_csv(dir);
    let symbol = symbol();
    let departement = departement();
    let sheets = read(&dir.join(WORKBOOKS[0]));
    let territories = table(&sheet(&sheets, "Par territoire").values, 0, "Indicateur");
    let first = territories.col(&departement);
    let names = &territories.columns[first..];
    // The territories are the reference file's, as the CSV names them.
    let mut from_csv: Vec<&str> = csv.keys().map(|k| k.1.as_str()).collect();
    from_csv.sort();
    from_csv.dedup();
    let mut shown: Vec<&str> = names.iter().map(String::as_str).collect();
    shown.sort();
    assert_eq!(shown, from_csv);
    let mut compared = 0;
    for (_, line) in &territories.rows {
        let indicator = text(line.first());
        for (i, territory) in names.iter().enumerate() {
            let key = (
                indicator.clone(),
                territory.clone(),
                String::new(),
                String::new(),
            );
            let cell = line.get(first + i);
            match csv.get(&key) {
                Some((value, _)) => {
                    assert_same(cell, value, &symbol, &format!("{indicator} {territory}"));
                    compared += 1;
                }
                None => assert!(cell.is_none_or(|c| *c == Data::Empty)),
            }
        }
    }
    let expected = csv
        .keys()
        .filter(|(_, _, m, b)| m.is_empty() && b.is_empty())
        .count();
    assert_eq!(compared, expected);
}

#[test]
fn group_sheets_hold_every_monthly_and_breakdown_value() {
    let dir = sample_run();
    let csv = indicator_csv(dir);
    let symbol = symbol();
    let sheets = read(&dir.join(WORKBOOKS[0]));
    let groups: Vec<&Sheet> = sheets
        .iter()
        .filter(|s| !FIXED_SHEETS.contains(&s.name.as_str()))
        .collect();
    assert!(groups.len() >= 4, "one sheet per action group");
    let mut compared = 0;
    for group in &groups {
        let table = table(&group.values, 0, "Indicateur");
        let territory = table.col("Territoire");
        let unit = table.col("Unité");
        let breakdown = (unit > territory + 1).then_some(territory + 1);
        let year = table.col("Année 2020");
        let january = table.col("janv.");
        assert_eq!(year, january + 12, "twelve months then the year");
        for (_, line) in &table.rows {
            let indicator = text(line.first());
            let place = text(line.get(territory));
            let value = breakdown.map(|b| text(line.get(b))).unwrap_or_default();
            let value = if value == "Ensemble" {
                String::new()
            } else {
                value
            };
            for col in january..=year {
                let month = if col == year {
                    String::new()
                } else {
                    (col - january + 1).to_string()
                };
                let key = (indicator.clone(), place.clone(), month, value.clone());
                match csv.get(&key) {
                    Some((expected, _)) => {
                        assert_same(
                            line.get(col),
                            expected,
                            &symbol,
                            &format!("{} {key:?}", group.name),
                        );
                        compared += 1;
                    }
                    None => assert!(
                        line.get(col).is_none_or(|c| *c == Data::Empty),
                        "{} {key:?}: a value without a CSV row",
                        group.name
                    ),
                }
            }
        }
    }
    assert_eq!(compared, csv.len(), "every CSV row is in a group sheet");

    // Native charts: at least one group has its monthly chart.
    let bytes = std::fs::read(dir.join(WORKBOOKS[0])).expect("the workbook");
    let needle = b"xl/charts/chart1.xml";
    assert!(bytes.windows(needle.len()).any(|w| w == needle), "no chart");
}

/// Amounts of the sample's `Mandats` dated in the year, per funder and
/// action, read with calamine, independently of the pipeline.
fn payments(year: i32) -> BTreeMap<(String, String), f64> {
    let mut workbook = open_workbook_auto(manifest("inputs/finances_2020.xlsx")).expect("opens");
    let range = workbook
        .worksheet_range("Mandats")
        .expect("a Mandats sheet");
    let rows: Vec<&[Data]> = range.rows().collect();
    let header = rows
        .iter()
        .position(|r| r.iter().any(|c| *c == Data::String("Financeur".to_owned())))
        .expect("a header");
    let col = |name: &str| {
        rows[header]
            .iter()
            .position(|c| *c == Data::String(name.to_owned()))
            .expect(name)
    };
    let (date, funder, action, amount) = (
        col("Date mandat"),
        col("Financeur"),
        col("Action"),
        col("Montant"),
    );
    let mut sums = BTreeMap::new();
    for row in &rows[header + 1..] {
        let day = match &row[date] {
            Data::DateTime(d) => d.as_datetime().map(|d| d.date()),
            Data::String(s) => chrono::NaiveDate::parse_from_str(s.trim(), "%d/%m/%Y")
                .or_else(|_| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d"))
                .ok(),
            Data::DateTimeIso(s) => chrono::NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").ok(),
            _ => None,
        };
        let Some(day) = day else { continue };
        if day.year() != year {
            continue;
        }
        let value = match &row[amount] {
            Data::String(s) => s
                .replace([' ', '\u{a0}', '\u{202f}', '€'], "")
                .replace(',', ".")
                .parse()
                .expect("an amount"),
            other => number(other).expect("an amount"),
        };
        let key = (
            row[funder].to_string(),
            row[action].to_string().trim().to_owned(),
        );
        *sums.entry(key).or_insert(0.0) += value;
    }
    sums
}

/// The sample's agreed amounts per funder and action.
fn agreed() -> BTreeMap<(String, String), f64> {
    let mut workbook = open_workbook_auto(manifest("inputs/finances_2020.xlsx")).expect("opens");
    let range = workbook
        .worksheet_range("Convention")
        .expect("a Convention sheet");
    let rows: Vec<&[Data]> = range.rows().collect();
    let action = rows[0]
        .iter()
        .position(|c| *c == Data::String("Action".to_owned()))
        .expect("an Action column");
    let mut sums = BTreeMap::new();
    for (col, name) in rows[0].iter().enumerate() {
        if let Some(funder) = name.to_string().strip_prefix("Montant ") {
            for row in &rows[1..] {
                let key = (funder.to_owned(), row[action].to_string().trim().to_owned());
                *sums.entry(key).or_insert(0.0) += number(&row[col]).unwrap_or(0.0);
            }
        }
    }
    sums
}

/// Per funder: agreed, paid on the actions it agreed to, paid on others.
pub(crate) fn funder_sums(year: i32) -> BTreeMap<String, (f64, f64, f64)> {
    let (paid, agreed) = (payments(year), agreed());
    let mut sums: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
    for ((funder, _), amount) in &agreed {
        sums.entry(funder.clone()).or_default().0 += amount;
    }
    for (key, amount) in &paid {
        let line = sums.entry(key.0.clone()).or_default();
        if agreed.get(key).is_some_and(|a| *a > 0.0) {
            line.1 += amount;
        } else {
            line.2 += amount;
        }
    }
    sums
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[test]
fn finance_totals_are_formulas_whose_values_are_the_payments() {
    let dir = sample_run();
    let sums = funder_sums(2020);
    let state = sums["État"];
    assert_eq!(cents(state.0), 1_088_327.0);
    // The State's verdict counts only the actions it agreed to finance.
    assert_eq!(
        cents(state.2),
        6_705.71,
        "Maison kangourou, outside the convention"
    );
    assert!(state.1 / state.0 < 0.80 && (state.1 + state.2) / state.0 >= 0.80);
    let sheets = read(&dir.join(WORKBOOKS[1]));
    let detail = sheet(&sheets, "Par action");
    let by_action = table(&detail.values, 0, "Financement");
    let (agreed_col, paid_col, rate_col, remaining_col, risk_col) = (
        by_action.col("Montant conventionné"),
        by_action.col("Montant payé"),
        by_action.col("Taux d'exécution"),
        by_action.col("Reste à payer"),
        by_action.col("Risque de réfaction"),
    );
    // The filtered table holds the actions only; the totals follow a blank row.
    let (last_action, _) = *by_action.rows.last().expect("actions");
    let all: Vec<&[Data]> = detail.values.rows().collect();
    let start = detail.values.start().unwrap().0 as usize;
    assert!(
        all[last_action + 1 - start]
            .iter()
            .all(|c| *c == Data::Empty)
    );
    let total_rows: Vec<(usize, &[Data])> = all[last_action + 2 - start..]
        .iter()
        .enumerate()
        .map(|(i, r)| (last_action + 2 + i, *r))
        .take_while(|(_, r)| r.iter().any(|c| *c != Data::Empty))
        .collect();
    assert!(
        by_action
            .rows
            .iter()
            .all(|(_, r)| !text(r.get(1)).starts_with("Total"))
    );
    // Sorting the table must not move the totals: the filter ends with the actions.
    let filter = autofilter(&dir.join(WORKBOOKS[1]), 2);
    assert_eq!(
        filter,
        format!("A{}:G{}", by_action.header_row + 1, last_action + 1)
    );
    // Actions in French order: "Écrivains..." among the E, not after the Z.
    let initials: Vec<(String, char)> = by_action
        .rows
        .iter()
        .map(|(_, r)| {
            let first = text(r.get(1)).chars().next().unwrap_or(' ');
            let first = match first {
                'É' | 'È' | 'Ê' => 'E',
                'À' | 'Â' => 'A',
                c => c.to_ascii_uppercase(),
            };
            (text(r.first()), first)
        })
        .collect();
    assert!(initials.iter().any(|(_, c)| *c == 'E'));
    for pair in initials.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert!(pair[0].1 <= pair[1].1, "{initials:?}");
        }
    }
    // An action paid without an agreed amount is flagged and named.
    let key = |r: &[Data]| (text(r.first()), text(r.get(1)));
    let outside: Vec<(String, String)> = by_action
        .rows
        .iter()
        .filter(|(_, r)| number(&r[agreed_col]) == Some(0.0) && number(&r[paid_col]) > Some(0.0))
        .map(|(_, r)| key(r))
        .collect();
    assert_eq!(
        outside,
        [(
            "Crédits de l'État".to_owned(),
            "Maison kangourou itinérante".to_owned()
        )]
    );
    for (_, line) in &by_action.rows {
        let flagged = text(line.get(risk_col)) == "Hors convention";
        assert_eq!(flagged, outside.contains(&key(line)), "{:?}", key(line));
    }
    let notes: String = all[..by_action.header_row - start]
        .iter()
        .map(|r| text(r.first()).replace(['\u{a0}', '\u{202f}'], " "))
        .collect();
    assert!(
        notes.contains(
            "Payé hors convention (action sans montant conventionné), 6 705,71 € en tout, \
             hors de tout taux : Crédits de l'État, Maison kangourou itinérante (6 705,71 €)."
        ),
        "{notes}"
    );
    let funder_of = |name: &str| {
        sums.keys()
            .find(|f| name.contains(f.as_str()))
            .unwrap_or_else(|| panic!("no funder in {name}"))
            .clone()
    };
    let mut detail_sums: HashMap<String, (f64, f64, f64)> = HashMap::new();
    let mut totals = Vec::new();
    for (row, line) in by_action.rows.iter().chain(&total_rows) {
        let label = text(line.get(1));
        let figure = |col: usize| number(&line[col]).unwrap_or_else(|| panic!("{label}: {col}"));
        let formulas = |cols: &[usize]| {
            for &col in cols {
                let formula = detail
                    .formulas
                    .get_value((*row as u32, col as u32))
                    .cloned()
                    .unwrap_or_default();
                assert!(!formula.is_empty(), "{label}: no formula in column {col}");
            }
        };
        if label.contains("payé hors convention") || label.contains("Payé hors convention") {
            formulas(&[paid_col]);
            assert_eq!(
                line.get(rate_col).and_then(number),
                None,
                "{label}: no rate"
            );
            assert_eq!(text(line.get(risk_col)), "Hors convention");
            let expected = match label.as_str() {
                "Payé hors convention, tous financements" => sums.values().map(|s| s.2).sum(),
                _ => sums[&funder_of(&label)].2,
            };
            assert!(
                (figure(paid_col) - cents(expected)).abs() < 0.005,
                "{label}"
            );
            totals.push(label);
            continue;
        }
        if !label.starts_with("Total") {
            let sums = detail_sums
                .entry(funder_of(&text(line.first())))
                .or_default();
            let (agreed, paid) = (figure(agreed_col), figure(paid_col));
            sums.0 += agreed;
            if agreed > 0.0 {
                sums.1 += paid;
            } else {
                sums.2 += paid;
            }
            let rate = line.get(rate_col).and_then(number);
            match agreed {
                0.0 => {
                    assert_eq!(rate, None, "{label}: no rate without an agreed amount");
                    assert_eq!(line.get(remaining_col).and_then(number), None, "{label}");
                }
                a => assert!((rate.unwrap() - paid / a).abs() < 1e-12),
            }
            continue;
        }
        // A total line: formulas in every figure, with cached values.
        formulas(&[agreed_col, paid_col, rate_col, remaining_col]);
        let (total_agreed, total_paid) = (figure(agreed_col), figure(paid_col));
        assert_eq!(total_agreed, cents(total_agreed), "rounded to the cent");
        assert_eq!(total_paid, cents(total_paid), "rounded to the cent");
        assert!((figure(rate_col) - total_paid / total_agreed).abs() < 1e-12);
        assert!((figure(remaining_col) - cents(total_agreed - total_paid)).abs() < 1e-9);
        let risk = text(line.get(risk_col));
        assert_eq!(
            risk,
            if total_paid / total_agreed < 0.8 {
                "Oui"
            } else {
                "Non"
            }
        );
        let (agreed, paid) = if label == "Total général (actions conventionnées)" {
            (
                sums.values().map(|s| s.0).sum(),
                sums.values().map(|s| s.1).sum(),
            )
        } else {
            let funder = funder_of(&label);
            let from_lines = detail_sums[&funder];
            assert!((total_paid - cents(from_lines.1)).abs() < 1e-9);
            assert!((total_agreed - cents(from_lines.0)).abs() < 1e-9);
            (sums[&funder].0, sums[&funder].1)
        };
        assert!(
            (total_paid - paid).abs() < 0.005,
            "{label}: {total_paid} vs {paid}"
        );
        assert!((total_agreed - agreed).abs() < 0.005, "{label} agreed");
        totals.push(label);
    }
    assert_eq!(
        totals,
        [
            "Total Crédits de l'État (actions conventionnées)",
            "Crédits de l'État : payé hors convention",
            "Total Crédits du Département (actions conventionnées)",
            "Total général (actions conventionnées)",
            "Payé hors convention, tous financements",
        ]
    );

    // The summary: the State's agreed total on its first line, as formulas.
    let summary = sheet(&sheets, "Synthèse");
    let lines = table(&summary.values, 0, "Financement");
    let (row, first) = lines.rows[0];
    assert!(text(first.first()).contains("État"));
    assert_eq!(
        number(&first[lines.col("Montant conventionné")]),
        Some(1_088_327.0)
    );
    // The 2020 State verdict: 79.7 % executed on its actions, at risk.
    let rate = number(&first[lines.col("Taux d'exécution")]).expect("a rate");
    assert_eq!((rate * 1000.0).round() / 10.0, 79.7);
    assert!((rate - state.1 / state.0).abs() < 1e-9);
    assert_eq!(text(first.get(lines.col("Risque de réfaction"))), "Oui");
    assert!(
        summary
            .formulas
            .get_value((row as u32, lines.col("Montant payé") as u32))
            .is_some_and(|f| f.contains("Par action"))
    );
}

/// The `ref` of a worksheet's autofilter, read from the workbook's XML.
fn autofilter(path: &Path, sheet: usize) -> String {
    let file = std::fs::File::open(path).expect("the workbook");
    let mut archive = zip::ZipArchive::new(file).expect("a zip");
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut archive
            .by_name(&format!("xl/worksheets/sheet{sheet}.xml"))
            .expect("the sheet"),
        &mut xml,
    )
    .expect("UTF-8");
    let start = xml.find("<autoFilter ref=\"").expect("an autofilter") + 17;
    xml[start..start + xml[start..].find('"').unwrap()].to_owned()
}

#[test]
fn no_formula_but_the_finance_totals() {
    let dir = sample_run();
    for workbook in WORKBOOKS {
        for sheet in read(&dir.join(workbook)) {
            for (row, col, formula) in sheet.formulas.used_cells() {
                if formula.is_empty() {
                    continue;
                }
                let (row, col) = (row + sheet.formulas.start().unwrap().0 as usize, col);
                let label = sheet
                    .values
                    .get_value((row as u32, 1))
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                let total_line = sheet.name == "Synthèse"
                    || label.starts_with("Total")
                    || label.to_lowercase().contains("payé hors convention");
                assert!(
                    workbook.starts_with("suivi_financier") && total_line,
                    "{workbook}, sheet {}, row {row}, column {col}: formula {formula}",
                    sheet.name
                );
            }
            // Nothing written as text starts a formula either.
            for (_, _, cell) in sheet.values.used_cells() {
                if let Data::String(s) = cell {
                    assert!(!s.starts_with('='), "{workbook}: text {s}");
                }
            }
        }
    }
}

/// `suivi check`'s table: (file, sheet) → (read, accepted, rejected, skipped).
fn check_counts(
    inputs: Option<&Path>,
    rejects: Option<&Path>,
) -> BTreeMap<(String, String), [usize; 4]> {
    let pipeline = manifest("pipelines/loire.toml");
    let mut args = vec!["check", pipeline.to_str().unwrap(), "--year", YEAR];
    if let Some(inputs) = inputs {
        args.extend(["--inputs", inputs.to_str().unwrap()]);
    }
    if let Some(rejects) = rejects {
        args.extend(["--rejects", rejects.to_str().unwrap()]);
    }
    let output = suivi(&args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut counts = BTreeMap::new();
    let mut in_table = false;
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"source") && words.contains(&"accepted") {
            in_table = true;
            continue;
        }
        if !in_table || words.len() < 9 {
            in_table = in_table && !line.trim().is_empty() && !line.starts_with('(');
            continue;
        }
        let n = words.len();
        // The last two columns are repeats and mapped rows.
        let Ok(figures) = words[n - 6..n - 2]
            .iter()
            .map(|w| w.parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        let sheet = words[2..n - 7].join(" ");
        let sheet = if sheet == "-" { String::new() } else { sheet };
        counts.insert(
            (words[1].to_owned(), sheet),
            [figures[0], figures[1], figures[2], figures[3]],
        );
    }
    assert!(!counts.is_empty(), "no table in:\n{stdout}");
    counts
}

fn quality_counts(path: &Path) -> BTreeMap<(String, String), [usize; 4]> {
    let sheets = read(path);
    let summary = table(&sheet(&sheets, "Synthèse").values, 0, "Source");
    let cols = ["Lignes lues", "Acceptées", "Rejetées", "Ignorées"].map(|c| summary.col(c));
    summary
        .rows
        .iter()
        .filter(|(_, r)| !text(r.get(1)).is_empty())
        .map(|(_, r)| {
            let figures = cols.map(|c| number(&r[c]).expect("a count") as usize);
            let [read, accepted, rejected, skipped] = figures;
            assert_eq!(
                read,
                1 + accepted + rejected + skipped,
                "{:?}",
                text(r.get(1))
            );
            ((text(r.get(1)), text(r.get(2))), figures)
        })
        .collect()
}

#[test]
fn quality_counts_are_those_of_suivi_check() {
    let dir = sample_run();
    assert_eq!(
        quality_counts(&dir.join(WORKBOOKS[2])),
        check_counts(None, None)
    );
}

#[test]
fn every_rejected_row_of_messy_inputs_is_listed_with_its_reason() {
    let work = tempfile::tempdir().expect("a temp dir");
    let inputs = work.path().join("inputs");
    let out = work.path().join("out");
    suivi(&[
        "sample",
        "--year",
        YEAR,
        "--scale",
        "0.1",
        "--messy",
        "--out",
        inputs.to_str().unwrap(),
    ]);
    run_into(&out, &["--inputs", inputs.to_str().unwrap()]);
    let rejects_csv = work.path().join("rejects.csv");
    let counts = check_counts(Some(&inputs), Some(&rejects_csv));
    let workbook = out.join(WORKBOOKS[2]);
    assert_eq!(quality_counts(&workbook), counts);

    let mut expected: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&rejects_csv)
        .expect("the rejects CSV")
        .records()
        .map(|r| {
            let r = r.expect("a record");
            // file, sheet, row, column, value
            vec![
                r[0].into(),
                r[1].into(),
                r[2].into(),
                r[3].into(),
                r[6].into(),
            ]
        })
        .collect();
    assert!(!expected.is_empty(), "the messy sample has bad rows");
    let sheets = read(&workbook);
    let listed = table(&sheet(&sheets, "Lignes rejetées").values, 0, "Source");
    let cols = ["Fichier", "Feuille", "Ligne", "Colonne", "Valeur"].map(|c| listed.col(c));
    let reason = listed.col("Motif");
    let mut found: Vec<Vec<String>> = listed
        .rows
        .iter()
        .map(|(_, r)| {
            assert!(!text(r.get(reason)).is_empty(), "a reason");
            cols.iter().map(|&c| text(r.get(c))).collect()
        })
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
}

#[test]
fn identical_inputs_give_identical_workbooks() {
    let first = sample_run();
    let second = tempfile::tempdir().expect("a temp dir");
    run_into(second.path(), &[]);
    for workbook in WORKBOOKS {
        let a = std::fs::read(first.join(workbook)).expect("first");
        let b = std::fs::read(second.path().join(workbook)).expect("second");
        assert!(a == b, "{workbook} differs between two runs");
    }
}

#[test]
fn internal_mode_names_the_files_and_marks_every_sheet() {
    let dir = tempfile::tempdir().expect("a temp dir");
    run_into(dir.path(), &["--diffusion", "interne"]);
    for workbook in WORKBOOKS {
        let name = workbook.replace(".xlsx", "_interne.xlsx");
        for sheet in read(&dir.path().join(&name)) {
            assert_eq!(
                text(sheet.values.get_value((0, 0))),
                "DIFFUSION RESTREINTE - usage interne au Département",
                "{name}, sheet {}",
                sheet.name
            );
        }
    }
}

/// A raw number in LibreOffice's CSV; shares keep their `%`.
fn lo_number(text: &str) -> f64 {
    match text.strip_suffix('%') {
        Some(percent) => percent.parse::<f64>().expect("a number") / 100.0,
        None => text
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {text}")),
    }
}

pub(crate) fn libreoffice() -> Option<&'static str> {
    ["libreoffice", "soffice"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn libreoffice_converts_every_workbook_and_reads_our_values() {
    let Some(office) = libreoffice() else {
        // CI installs LibreOffice: there, its absence is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but LibreOffice is not installed: the check cannot run"
        );
        eprintln!("libreoffice not installed: the LibreOffice check is skipped");
        return;
    };
    let dir = sample_run();
    let work = tempfile::tempdir().expect("a temp dir");
    let profile = format!(
        "-env:UserInstallation=file://{}/profile",
        work.path().display()
    );
    let convert = |to: &str, out: &Path, files: &[PathBuf]| {
        let output = Command::new(office)
            .args([
                profile.as_str(),
                "--headless",
                "--norestore",
                "--convert-to",
                to,
                "--outdir",
            ])
            .arg(out)
            .args(files)
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("libreoffice runs");
        assert!(
            output.status.success(),
            "libreoffice --convert-to {to} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let files: Vec<PathBuf> = WORKBOOKS.iter().map(|w| dir.join(w)).collect();
    let pdf = work.path().join("pdf");
    convert("pdf", &pdf, &files);
    for workbook in WORKBOOKS {
        let path = pdf.join(workbook.replace(".xlsx", ".pdf"));
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "{} missing or empty", path.display());
    }

    let csv_dir = work.path().join("csv");
    convert(
        "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
        &csv_dir,
        &files,
    );
    let sheet_csv = |workbook: &str, sheet: &str| -> Vec<Vec<String>> {
        let path = csv_dir.join(format!(
            "{}-{sheet}.csv",
            workbook.trim_end_matches(".xlsx")
        ));
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_path(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .records()
            .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
            .collect()
    };
    // The summary as LibreOffice reads it equals ours.
    let ours = read(&dir.join(WORKBOOKS[0]));
    let ours = table(&sheet(&ours, "Synthèse").values, 1, "Indicateur");
    let theirs = sheet_csv(WORKBOOKS[0], "Synthèse");
    let header = theirs
        .iter()
        .position(|r| r.get(1).map(String::as_str) == Some("Indicateur"))
        .expect("the summary header in LibreOffice's CSV");
    let value = ours.col("Valeur 2020");
    assert_eq!(theirs[header][value], "Valeur 2020");
    for (i, (_, line)) in ours.rows.iter().enumerate() {
        let their_line = &theirs[header + 1 + i];
        assert_eq!(their_line[1], text(line.get(1)));
        match &line[value] {
            Data::Float(v) => {
                let read = lo_number(&their_line[value]);
                assert!(
                    (read - v).abs() <= 1e-9 * v.abs().max(1.0),
                    "{}: {read} vs {v}",
                    their_line[1]
                );
            }
            other => assert_eq!(their_line[value], other.to_string()),
        }
    }
    // The finance totals as LibreOffice computes or caches them equal ours.
    let ours = read(&dir.join(WORKBOOKS[1]));
    let ours = table(&sheet(&ours, "Par action").values, 0, "Financement");
    let theirs = sheet_csv(WORKBOOKS[1], "Par action");
    let paid = ours.col("Montant payé");
    for (row, line) in ours
        .rows
        .iter()
        .filter(|(_, l)| text(l.get(1)).starts_with("Total"))
    {
        let their_line = theirs
            .iter()
            .find(|r| r.get(1).map(String::as_str) == Some(text(line.get(1)).as_str()))
            .unwrap_or_else(|| panic!("row {row} not in LibreOffice's CSV"));
        let read = lo_number(&their_line[paid]);
        assert!((read - number(&line[paid]).unwrap()).abs() < 0.005);
    }
}

/// Issue 15: the Définitions sheet showed `DATE '{annee}-12-01'` and
/// `{fin_annee}`: conditions are shown resolved for the year, in words.
#[test]
fn definitions_show_conditions_resolved_for_the_year() {
    let sheets = read(&sample_run().join(WORKBOOKS[0]));
    let definitions = table(&sheet(&sheets, "Définitions").values, 0, "Indicateur");
    let (id, population, calcul) = (
        definitions.col("Indicateur"),
        definitions.col("Population"),
        definitions.col("Calcul"),
    );
    let row = |wanted: &str| {
        definitions
            .rows
            .iter()
            .find(|(_, r)| text(r.get(id)) == wanted)
            .unwrap_or_else(|| panic!("no {wanted}"))
            .1
    };
    assert_eq!(
        text(row("RSA-02").get(population)),
        "moisref = 01/12/2020 et etat_droit = 2"
    );
    assert_eq!(
        text(row("RSA-05").get(calcul)),
        "Part, si delai_orientation entre 0 et 30"
    );
    for (_, cells) in &definitions.rows {
        for cell in *cells {
            let cell = cell.to_string();
            assert!(!cell.contains('{'), "a placeholder is left in {cell:?}");
        }
    }
}

/// The `Mandats` rows that repeat an earlier row in every column, read with
/// calamine: (first row, repeating rows), 1-based as a spreadsheet shows them.
fn identical_payments() -> Vec<(usize, Vec<usize>)> {
    let mut workbook = open_workbook_auto(manifest("inputs/finances_2020.xlsx")).expect("opens");
    let range = workbook.worksheet_range("Mandats").expect("Mandats");
    let start = range.start().expect("cells").0 as usize;
    let mut first_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, row) in range.rows().enumerate() {
        if row.iter().all(|c| *c == Data::Empty) {
            continue;
        }
        let key = format!("{row:?}");
        let number = start + i + 1;
        match first_of.get(&key) {
            Some(&first) => groups.entry(first).or_default().push(number),
            None => {
                first_of.insert(key, number);
            }
        }
    }
    groups.into_iter().collect()
}

#[test]
fn finance_lists_identical_payments_with_their_values() {
    let dir = sample_run();
    let expected = identical_payments();
    assert_eq!(expected.len(), 1, "the sample keys one payment twice");
    let sheets = read(&dir.join(WORKBOOKS[1]));
    let listing = sheet(&sheets, "Doubles saisies");
    let lines = table(&listing.values, 0, "Source");
    let listed: Vec<(usize, Vec<usize>)> = lines
        .rows
        .iter()
        .map(|(_, r)| {
            let first = text(r.get(lines.col("Première ligne")))
                .parse()
                .expect("a row");
            let rows = text(r.get(lines.col("Lignes identiques")))
                .split(", ")
                .map(|n| n.parse().expect("a row"))
                .collect();
            (first, rows)
        })
        .collect();
    assert_eq!(listed, expected);
    let values = text(lines.rows[0].1.get(lines.col("Valeurs de la ligne")));
    assert!(values.contains("Montant : 11\u{202f}453,07"), "{values}");
    // The summary says what they weigh on the State's paid amount.
    let summary = sheet(&sheets, "Synthèse");
    let notes: String = summary
        .values
        .rows()
        .map(|r| text(r.first()).replace(['\u{a0}', '\u{202f}'], " "))
        .collect();
    assert!(
        notes.contains(
            "Crédits de l'État : des paiements identiques (possibles doubles saisies, feuille \
             « Doubles saisies ») comptent pour 11 453,07 € dans le montant payé"
        ),
        "{notes}"
    );
}

/// Issue 36: recoded communes show their names beside their codes, as the
/// reference tables give them (read here with the csv crate).
#[test]
fn recoded_communes_are_named_in_the_quality_workbook() {
    let dir = sample_run();
    let mut names: HashMap<String, String> = HashMap::new();
    for (file, code, name) in [
        ("territoires_loire.csv", "code_commune", "nom_commune"),
        ("passage_communes_loire.csv", "code_ancien", "nom_ancien"),
    ] {
        let mut reader = csv::Reader::from_path(manifest("inputs/referentiel").join(file))
            .expect("a reference table");
        let headers = reader.headers().expect("headers").clone();
        let col = |n: &str| headers.iter().position(|h| h == n).expect(n);
        let (code, name) = (col(code), col(name));
        for record in reader.records() {
            let record = record.expect("a record");
            if !record[name].is_empty() {
                names
                    .entry(record[code].to_owned())
                    .or_insert_with(|| record[name].to_owned());
            }
        }
    }
    let sheets = read(&dir.join(WORKBOOKS[2]));
    let listing = sheet(&sheets, "Communes recodées");
    let lines = table(&listing.values, 0, "Source");
    let (written, current) = (
        lines.col("Commune écrite (code, nom)"),
        lines.col("Commune actuelle (code, nom)"),
    );
    assert!(!lines.rows.is_empty());
    for (_, line) in &lines.rows {
        for cell in [text(line.get(written)), text(line.get(current))] {
            let code = &cell[..5];
            let expected = match names.get(code) {
                Some(name) => format!("{code} {name}"),
                None => code.to_owned(),
            };
            assert_eq!(cell, expected);
        }
    }
}
