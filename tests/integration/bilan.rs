//! `suivi bilan` (issue 14): every figure of a year equals what `suivi run`
//! publishes for that year, masks included; the workbook reads back the
//! same values and opens in LibreOffice; a missing year is named.

use crate::common;
use crate::workbooks::libreoffice;
use calamine::{Data, Reader};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn pipeline() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/loire.toml")
}

/// The published figures columns, in the order both CSVs share.
const FIGURES: [&str; 6] = [
    "valeur",
    "numerateur",
    "denominateur",
    "cible",
    "atteinte",
    "masque",
];

/// (indicator, territory, year, breakdown) → figures, from a `;` CSV; rows
/// with a month are left out; `year` fills the year when the CSV has none.
fn year_level(path: &Path, year: Option<&str>) -> BTreeMap<[String; 4], Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| col("mois").is_none_or(|m| r[m].is_empty()))
        .map(|r| {
            let annee = year.map_or_else(|| r[col("annee").unwrap()].to_owned(), str::to_owned);
            let key = [
                r[col("indicateur").unwrap()].to_owned(),
                r[col("territoire").unwrap()].to_owned(),
                annee,
                r[col("ventilation").unwrap()].to_owned(),
            ];
            let figures = FIGURES
                .iter()
                .map(|f| r[col(f).unwrap()].to_owned())
                .collect();
            (key, figures)
        })
        .collect()
}

#[test]
fn a_bilan_over_two_years_equals_each_years_run_and_opens_in_libreoffice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bilan");
    let output = common::suivi(&[
        "bilan",
        common::arg(&pipeline()),
        "--from",
        "2019",
        "--to",
        "2020",
        "--out",
        common::arg(&out),
    ]);
    common::assert_exit(&output, 0);
    let mut expected = BTreeMap::new();
    for year in ["2019", "2020"] {
        let run = dir.path().join(year);
        let output = common::suivi(&[
            "run",
            common::arg(&pipeline()),
            "--year",
            year,
            "--out",
            common::arg(&run),
        ]);
        common::assert_exit(&output, 0);
        let table = run.join(format!("indicateurs_{year}.csv"));
        expected.extend(year_level(&table, Some(year)));
    }
    let bilan = year_level(&out.join("bilan_convention_2019-2020.csv"), None);
    let converted = common::assert_french_excel_twin(
        &out.join("bilan_convention_2019-2020.csv"),
        &out.join("bilan_convention_excel_2019-2020.csv"),
    );
    assert!(converted > 100, "{converted} numbers with a decimal comma");
    assert_eq!(bilan.len(), expected.len());
    for (key, figures) in &expected {
        assert_eq!(bilan.get(key), Some(figures), "{key:?}");
    }
    // Some cells are masked: the bilan keeps them masked.
    assert!(bilan.values().any(|f| f[5] == "oui"));

    // The workbook's Synthèse shows the département's values of each year.
    let workbook_path = out.join("bilan_convention_2019-2020.xlsx");
    let mut workbook = calamine::open_workbook_auto(&workbook_path).unwrap();
    let range = workbook.worksheet_range("Synthèse").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    let header = rows
        .iter()
        .position(|r| r.iter().any(|c| *c == "Indicateur"))
        .unwrap();
    let col = |name: &str| rows[header].iter().position(|c| *c == name).unwrap();
    let id = col("Indicateur");
    let mut checked = 0;
    for row in rows[header + 1..]
        .iter()
        .take_while(|r| r[id] != Data::Empty)
    {
        for year in ["2019", "2020"] {
            let key = [
                row[id].to_string(),
                "Loire".to_owned(),
                year.to_owned(),
                String::new(),
            ];
            let figures = &expected[&key];
            let cell = &row[col(year)];
            match cell {
                Data::Float(v) => {
                    let published: f64 = figures[0].parse().unwrap();
                    assert!((v - published).abs() < 1e-9, "{key:?}: {v} vs {published}");
                }
                Data::String(s) => assert_eq!(s, "s", "{key:?}"),
                Data::Empty => assert_eq!(figures[0], "", "{key:?}"),
                other => panic!("{key:?}: {other:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 34);

    let Some(office) = libreoffice() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but LibreOffice is not installed"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let converted = Command::new(office)
        .arg(format!(
            "-env:UserInstallation=file://{}/profile",
            work.path().display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(work.path())
        .arg(&workbook_path)
        .output()
        .expect("libreoffice runs");
    assert!(converted.status.success());
    let pdf = work.path().join("bilan_convention_2019-2020.pdf");
    assert!(std::fs::metadata(&pdf).map(|m| m.len()).unwrap_or(0) > 1000);
}

#[test]
fn a_bilan_year_without_its_deliveries_names_every_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::suivi(&[
        "bilan",
        common::arg(&pipeline()),
        "--from",
        "2018",
        "--to",
        "2020",
        "--out",
        common::arg(&dir.path().join("bilan")),
    ]);
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    for file in [
        "caf_rsa_2018.csv",
        "departement_insertion_2018.*",
        "pole_emploi_brsa_2018.*",
        "finances_2018.*",
    ] {
        assert!(err.contains(file), "{file} in {err}");
    }
    assert!(
        !err.contains("2019.") && !dir.path().join("bilan").exists(),
        "{err}"
    );
}
