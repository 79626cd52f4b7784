//! A target per year (issue 39): the convention's amendments raise a
//! target from one year to the next, and each year is judged by its own.
//! RSA-05 gets 40 % for 2019 and 45 % for 2020 (the sample's département
//! values are about 43.5 % and 40.6 %: met in 2019, missed in 2020); every
//! output is read back and compared with the year's target.

use crate::common;
use calamine::{Data, DataType, Reader};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// RSA-05's line in `pipelines/loire.toml`, then what replaces it.
const RSA05_TARGET: &str = "target = { value = 1.0, direction = \"min\" }\ndefinition = \"Nouveaux entrants orientés dans les 30 jours";
const RSA05_YEARLY: &str = "target = { value = 1.0, direction = \"min\", years = { 2019 = 0.4, 2020 = 0.45 } }\ndefinition = \"Nouveaux entrants orientés dans les 30 jours";

/// The sample's pipeline with `edit` applied, written into `dir`, its
/// relative paths made absolute.
fn pipeline_with(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join("pipelines/loire.toml")).unwrap();
    let inputs = root().join("inputs");
    let text = text
        .replace(
            "\"../inputs/referentiel/",
            &format!("\"{}/", inputs.join("referentiel").display()),
        )
        .replace(
            "inputs = \"../inputs\"",
            &format!("inputs = \"{}\"", inputs.display()),
        );
    let path = dir.join("loire.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn target_of(year: &str) -> f64 {
    match year {
        "2019" => 0.4,
        "2020" => 0.45,
        other => panic!("no target for {other}"),
    }
}

/// The rows of a `;` CSV as maps from column name to text.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// `cible` is the year's target and `atteinte` says whether the published
/// value reaches it (empty for a masked or absent value).
#[track_caller]
fn assert_judged_by(row: &BTreeMap<String, String>, target: f64) {
    let cible: f64 = row["cible"].parse().unwrap();
    assert!((cible - target).abs() < 1e-12, "{row:?}");
    let expected = match row["valeur"].parse::<f64>() {
        Ok(value) if row["masque"] == "non" => {
            if value >= target {
                "oui"
            } else {
                "non"
            }
        }
        _ => "",
    };
    assert_eq!(row["atteinte"], expected, "{row:?}");
}

/// A sheet's table: the header row (found by `first` in it) and the rows
/// below it, up to the first row whose first cell is empty.
fn table(workbook: &Path, sheet: &str, first: &str) -> (Vec<String>, Vec<Vec<Data>>) {
    let mut workbook = calamine::open_workbook_auto(workbook).unwrap();
    let range = workbook.worksheet_range(sheet).unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    let at = rows
        .iter()
        .position(|r| r.iter().any(|c| *c == first))
        .unwrap_or_else(|| panic!("no header {first} in {sheet}"));
    let header = rows[at].iter().map(|c| c.to_string()).collect();
    let body = rows[at + 1..]
        .iter()
        .take_while(|r| r.first().is_some_and(|c| *c != Data::Empty))
        .cloned()
        .collect();
    (header, body)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

#[test]
fn each_year_is_judged_by_its_own_target_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_with(dir.path(), |text| {
        assert!(text.contains(RSA05_TARGET));
        text.replace(RSA05_TARGET, RSA05_YEARLY)
    });
    let mut departement = BTreeMap::new();
    for year in ["2019", "2020"] {
        let out = dir.path().join(year);
        let output = common::suivi(&[
            "run",
            common::arg(&pipeline),
            "--year",
            year,
            "--out",
            common::arg(&out),
        ]);
        common::assert_exit(&output, 0);

        // The machine table and the one for French Excel.
        let rows = csv_rows(&out.join(format!("indicateurs_{year}.csv")));
        let rsa05: Vec<_> = rows
            .iter()
            .filter(|r| r["indicateur"] == "RSA-05")
            .collect();
        assert!(rsa05.len() > 20, "{} RSA-05 rows", rsa05.len());
        let rsa05_rows = rsa05.len();
        for row in &rsa05 {
            assert_judged_by(row, target_of(year));
        }
        // An indicator without yearly targets keeps its single one.
        for row in rows.iter().filter(|r| r["indicateur"] == "RSA-06") {
            assert_eq!(row["cible"], "1", "{row:?}");
        }
        let total = rsa05
            .iter()
            .find(|r| r["territoire"] == "Loire" && r["mois"].is_empty())
            .unwrap();
        let value: f64 = total["valeur"].parse().unwrap();
        departement.insert(year, value);
        let excel = csv_rows(&out.join(format!("indicateurs_excel_{year}.csv")));
        let excel_total = excel
            .iter()
            .find(|r| {
                r["indicateur"] == "RSA-05" && r["territoire"] == "Loire" && r["mois"].is_empty()
            })
            .unwrap();
        assert_eq!(
            excel_total["cible"],
            target_of(year).to_string().replace('.', ",")
        );

        // The Parquet table: every RSA-05 row carries the year's target.
        {
            use polars::prelude::*;
            let file =
                std::fs::File::open(out.join(format!("indicateurs_{year}.parquet"))).unwrap();
            let table = ParquetReader::new(file).finish().unwrap();
            let ids = table.column("indicateur").unwrap().str().unwrap().clone();
            let targets = table.column("cible").unwrap().f64().unwrap().clone();
            let rsa05: Vec<Option<f64>> = ids
                .iter()
                .zip(targets.iter())
                .filter(|(id, _)| *id == Some("RSA-05"))
                .map(|(_, t)| t)
                .collect();
            assert_eq!(rsa05.len(), rsa05_rows);
            assert!(
                rsa05.iter().all(|t| *t == Some(target_of(year))),
                "{rsa05:?}"
            );
        }

        // The report's Synthèse: the year's target and its attainment.
        let report = out.join(format!("rapport_execution_{year}.xlsx"));
        let (header, body) = table(&report, "Synthèse", "Indicateur");
        let line = body
            .iter()
            .find(|r| r[column(&header, "Indicateur")] == "RSA-05")
            .unwrap();
        assert_eq!(line[column(&header, "Cible")], Data::Float(target_of(year)));
        let met = if value >= target_of(year) {
            "Oui"
        } else {
            "Non"
        };
        assert_eq!(line[column(&header, "Cible atteinte")], met);
        // Its Définitions give the year's target in words.
        let (header, body) = table(&report, "Définitions", "Indicateur");
        let line = body
            .iter()
            .find(|r| r[column(&header, "Indicateur")] == "RSA-05")
            .unwrap();
        let words = if year == "2019" {
            "≥ 40\u{a0}%"
        } else {
            "≥ 45\u{a0}%"
        };
        assert_eq!(line[column(&header, "Cible")].to_string(), words);
    }
    // The sample's values make the two years differ: met, then missed.
    assert!(departement["2019"] >= 0.4 && departement["2020"] < 0.45);

    let out = dir.path().join("bilan");
    let output = common::suivi(&[
        "bilan",
        common::arg(&pipeline),
        "--from",
        "2019",
        "--to",
        "2020",
        "--out",
        common::arg(&out),
    ]);
    common::assert_exit(&output, 0);
    let rows = csv_rows(&out.join("bilan_convention_2019-2020.csv"));
    let rsa05: Vec<_> = rows
        .iter()
        .filter(|r| r["indicateur"] == "RSA-05")
        .collect();
    for year in ["2019", "2020"] {
        let of_year: Vec<_> = rsa05.iter().filter(|r| r["annee"] == year).collect();
        assert!(of_year.len() >= 5, "{year}: {} rows", of_year.len());
        for row in of_year {
            assert_judged_by(row, target_of(year));
        }
    }

    // The bilan's Synthèse: each year's value, then its target and attainment.
    let workbook = out.join("bilan_convention_2019-2020.xlsx");
    let (header, body) = table(&workbook, "Synthèse", "Indicateur");
    let line = body
        .iter()
        .find(|r| r[column(&header, "Indicateur")] == "RSA-05")
        .unwrap();
    for year in ["2019", "2020"] {
        let value = column(&header, year);
        assert_eq!(column(&header, &format!("Cible {year}")), value + 1);
        assert_eq!(column(&header, &format!("Atteinte {year}")), value + 2);
        // The CSV rounds to nine decimals; the workbook keeps every one.
        let shown = line[value].as_f64().unwrap();
        assert!((shown - departement[year]).abs() < 1e-8, "{shown}");
        assert_eq!(line[value + 1], Data::Float(target_of(year)));
        let met = if departement[year] >= target_of(year) {
            "Oui"
        } else {
            "Non"
        };
        assert_eq!(line[value + 2], met);
    }
    let (header, body) = table(&workbook, "Définitions", "Indicateur");
    let cible = |id: &str| {
        body.iter()
            .find(|r| r[column(&header, "Indicateur")] == id)
            .unwrap()[column(&header, "Cible")]
        .to_string()
    };
    assert_eq!(cible("RSA-05"), "2019 : ≥ 40\u{a0}% ; 2020 : ≥ 45\u{a0}%");
    assert_eq!(cible("RSA-06"), "≥ 100\u{a0}%");
}

#[test]
fn a_target_year_that_is_not_a_year_is_exit_2_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_with(dir.path(), |text| {
        text.replace(
            RSA05_TARGET,
            &RSA05_YEARLY.replace("2019 = 0.4", "deux-mille = 0.4"),
        )
    });
    let output = common::suivi(&["check", common::arg(&pipeline)]);
    common::assert_exit(&output, 2);
    let err = common::stderr(&output);
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let line = text.lines().position(|l| l.contains("deux-mille")).unwrap() + 1;
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(
        err.contains("target year 'deux-mille' is not a plausible year"),
        "{err}"
    );
}
