//! Each delivery dated (issue 39): the CAF stops sending after September.
//! `check` and `run` say so when the run's date is past the year, `--strict`
//! exits 3 writing nothing, the manifest and the JSON log carry it, the
//! workbooks show the months covered and never the run's date.

use crate::common;
use calamine::{Data, Reader};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pipeline() -> PathBuf {
    root().join("pipelines/loire.toml")
}

/// The 2020 sample with the CAF file cut after September (the bytes of
/// its other lines untouched); returns the last MOISREF kept.
fn cut_sample(dir: &Path) -> String {
    for name in [
        "departement_insertion_2020.xlsx",
        "pole_emploi_brsa_2020.xlsx",
        "finances_2020.xlsx",
    ] {
        std::fs::copy(root().join("inputs").join(name), dir.join(name)).unwrap();
    }
    let caf = std::fs::read(root().join("inputs/caf_rsa_2020.csv")).unwrap();
    let mut kept = Vec::new();
    let mut last = String::new();
    for (i, line) in caf.split_inclusive(|&b| b == b'\n').enumerate() {
        let moisref = String::from_utf8_lossy(&line[..6]).into_owned();
        if i == 0 || moisref.as_str() <= "202009" {
            kept.extend_from_slice(line);
            if i > 0 {
                last = last.max(moisref);
            }
        }
    }
    assert!(
        kept.len() < caf.len() * 4 / 5,
        "the cut keeps 9 months of 12"
    );
    std::fs::write(dir.join("caf_rsa_2020.csv"), kept).unwrap();
    last
}

const WARNING: &str = "delivery caf_rsa (CAF - foyers RSA (stock mensuel)) stops at 09/2020, \
                       expected through 12/2020";

fn args<'a>(command: &'a str, inputs: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let pipeline = Box::leak(Box::new(pipeline()));
    let mut args = vec![
        command,
        common::arg(pipeline),
        "--year",
        "2020",
        "--inputs",
        common::arg(inputs),
    ];
    args.extend_from_slice(extra);
    args
}

fn workbooks(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    [
        "rapport_execution_2020.xlsx",
        "suivi_financier_2020.xlsx",
        "qualite_donnees_2020.xlsx",
    ]
    .iter()
    .map(|n| (n.to_string(), std::fs::read(dir.join(n)).unwrap()))
    .collect()
}

#[test]
fn a_caf_file_cut_after_september_is_named_and_strict_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    assert_eq!(cut_sample(&inputs), "202009");

    // check, in January of the next year: a warning naming the source, its
    // last month and the month expected; the other sources reach December.
    let output = common::suivi(&args("check", &inputs, &["--as-of", "2021-01-15"]));
    common::assert_exit(&output, 0);
    let out = common::stdout(&output);
    assert!(out.contains(&format!("WARNING: {WARNING}")), "{out}");
    assert_eq!(out.matches("WARNING: delivery").count(), 1, "{out}");
    let caf_line = out
        .lines()
        .find(|l| l.starts_with("caf_rsa ") && l.contains("moisref"))
        .unwrap();
    let words: Vec<&str> = caf_line.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "caf_rsa", "moisref", "01/2020", "09/2020", "12/2020", "2", "LATE"
        ]
    );

    // --strict: exit 3, naming it.
    let output = common::suivi(&args(
        "check",
        &inputs,
        &["--as-of", "2021-01-15", "--strict"],
    ));
    common::assert_exit(&output, 3);
    assert!(
        common::stderr(&output).contains(WARNING),
        "{}",
        common::stderr(&output)
    );

    // run --strict: exit 3 and no output at all.
    let strict = dir.path().join("strict");
    let output = common::suivi(&args(
        "run",
        &inputs,
        &[
            "--as-of",
            "2021-01-15",
            "--strict",
            "--out",
            common::arg(&strict),
        ],
    ));
    common::assert_exit(&output, 3);
    assert!(common::stderr(&output).contains(WARNING));
    let written: Vec<_> = std::fs::read_dir(&strict)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(written.is_empty(), "{written:?}");

    // A run without --strict: the warning in the JSON log and its final record.
    let january = dir.path().join("january");
    let output = common::suivi(&args(
        "run",
        &inputs,
        &[
            "--as-of",
            "2021-01-15",
            "--out",
            common::arg(&january),
            "--log-format",
            "json",
        ],
    ));
    common::assert_exit(&output, 0);
    let records: Vec<serde_json::Value> = common::stderr(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warning = records
        .iter()
        .find(|r| r["level"] == "WARN" && r["fields"]["source"] == "caf_rsa")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert!(
        warning["fields"]["message"]
            .as_str()
            .unwrap()
            .contains(WARNING),
        "{warning}"
    );
    let last = records.last().unwrap();
    assert_eq!(last["fields"]["late_deliveries"], 1, "{last}");

    // The manifest: the months, the month expected, the verdict.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(january.join("manifest_2020.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["run_date"], "2021-01-15");
    let caf = manifest["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "caf_rsa")
        .unwrap();
    assert_eq!(caf["first_month"], "2020-01");
    assert_eq!(caf["last_month"], "2020-09");
    assert_eq!(caf["expected_through"], "2020-12");
    assert_eq!(caf["late"], true);
    let late: Vec<_> = manifest["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["late"] == true)
        .collect();
    assert_eq!(late.len(), 1);

    // In November 2020, with two months of lag, September is enough.
    let november = dir.path().join("november");
    let output = common::suivi(&args(
        "run",
        &inputs,
        &[
            "--as-of",
            "2020-11-20",
            "--strict",
            "--out",
            common::arg(&november),
        ],
    ));
    common::assert_exit(&output, 0);
    // The run's date never reaches a workbook: the same bytes either way.
    assert_eq!(workbooks(&january), workbooks(&november));

    // The workbooks show the months covered, read from the data.
    let mut report =
        calamine::open_workbook_auto(january.join("rapport_execution_2020.xlsx")).unwrap();
    let summary = report.worksheet_range("Synthèse").unwrap();
    let note = summary
        .rows()
        .flat_map(|r| r.iter())
        .map(|c| c.to_string())
        .find(|c| c.starts_with("Mois couverts"))
        .unwrap();
    assert!(
        note.contains("CAF - foyers RSA (stock mensuel) : 01/2020 à 09/2020"),
        "{note}"
    );
    let mut quality =
        calamine::open_workbook_auto(january.join("qualite_donnees_2020.xlsx")).unwrap();
    let summary = quality.worksheet_range("Synthèse").unwrap();
    let rows: Vec<&[Data]> = summary.rows().collect();
    let header = rows
        .iter()
        .position(|r| r.iter().any(|c| *c == "Premier mois"))
        .unwrap();
    let col = |name: &str| rows[header].iter().position(|c| *c == name).unwrap();
    let caf = rows
        .iter()
        .find(|r| r[col("Fichier")] == "caf_rsa_2020.csv")
        .unwrap();
    assert_eq!(caf[col("Premier mois")], "01/2020");
    assert_eq!(caf[col("Dernier mois")], "09/2020");
}

#[test]
fn a_dated_by_column_that_is_not_a_date_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(pipeline()).unwrap();
    let referentiel = root().join("inputs/referentiel/");
    let text = text
        .replace(
            "\"../inputs/referentiel/",
            &format!("\"{}", referentiel.display()),
        )
        .replace("dated_by = \"date_mandat\"", "dated_by = \"financeur\"");
    let path = dir.path().join("loire.toml");
    std::fs::write(&path, &text).unwrap();
    let output = common::suivi(&["check", common::arg(&path)]);
    common::assert_exit(&output, 2);
    let line = text
        .lines()
        .position(|l| l.contains("\"financeur\""))
        .unwrap()
        + 1;
    let err = common::stderr(&output);
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(
        err.contains("sources.mandats.dated_by must name one of its date or month columns"),
        "{err}"
    );
}
