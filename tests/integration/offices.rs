//! Issue 38: the Loire's 2020 Département workbook saved the ways offices
//! save it (tests/fixtures/offices/make_loire_variants.py says how; each
//! was saved again by LibreOffice) gives exactly the figures of the plain
//! workbook: in the 1904 date system with plain-number dates, with the
//! communes merged down, and with a sheet per month that the pipeline lists
//! (both years' workbooks, so that N-1 is read from the same sheets).

use crate::common::*;
use calamine::Reader;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed deliveries (2019 and 2020) in `dir`, the Département's
/// workbook of each year in `workbooks` replaced by the file given.
fn inputs_with(dir: &Path, workbooks: &[(i32, PathBuf)]) -> PathBuf {
    let inputs = dir.join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    for entry in std::fs::read_dir(root().join("inputs")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, inputs.join(path.file_name().unwrap())).unwrap();
        }
    }
    for (year, workbook) in workbooks {
        let name = format!("departement_insertion_{year}.xlsx");
        std::fs::copy(workbook, inputs.join(name)).unwrap();
    }
    inputs
}

/// `indicateurs_2020_interne.csv` of a run of `pipeline` on `inputs`.
fn indicators(pipeline: &Path, inputs: &Path, out: &Path) -> String {
    let output = suivi(&[
        "run",
        arg(pipeline),
        "--inputs",
        arg(inputs),
        "--out",
        arg(out),
        "--diffusion",
        "interne",
    ]);
    assert_exit(&output, 0);
    std::fs::read_to_string(out.join("indicateurs_2020_interne.csv")).unwrap()
}

fn variant(year: i32, name: &str) -> PathBuf {
    fixture(&format!("offices/departement_insertion_{year}_{name}.xlsx"))
}

/// The Loire pipeline with every source reading sheet `sheet` reading the
/// sheets `names` instead, its reference paths absolute, in `dir`.
fn pipeline_listing(dir: &Path, sheets: &[(&str, Vec<String>)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("pipelines/loire.toml"))
        .unwrap()
        .replace("\"../inputs/", &format!("\"{}/inputs/", root().display()));
    for (sheet, names) in sheets {
        let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
        let written = format!("sheet = {sheet:?}\n");
        assert!(text.contains(&written), "{written}");
        text = text.replace(&written, &format!("sheet = [{}]\n", list.join(", ")));
    }
    let path = dir.join("loire_monthly.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_loire_workbook_saved_as_offices_save_it_gives_the_same_figures() {
    let pipeline = root().join("pipelines/loire.toml");
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = indicators(
        &pipeline,
        &inputs_with(plain_dir.path(), &[]),
        &plain_dir.path().join("out"),
    );
    assert!(plain.lines().count() > 1000);

    for name in ["1904", "merged"] {
        let dir = tempfile::tempdir().unwrap();
        let inputs = inputs_with(dir.path(), &[(2020, variant(2020, name))]);
        let figures = indicators(&pipeline, &inputs, &dir.path().join("out"));
        assert!(figures == plain, "the {name} workbook gives other figures");
    }

    // The monthly workbooks' sheets (the same names in 2019, read for N-1),
    // as another reader lists them.
    let monthly = [
        (2019, variant(2019, "monthly")),
        (2020, variant(2020, "monthly")),
    ];
    let sheets = calamine::open_workbook_auto(&monthly[1].1)
        .unwrap()
        .sheet_names();
    let of = |prefix: &str| -> Vec<String> {
        sheets
            .iter()
            .filter(|s| s.starts_with(&format!("{prefix} ")))
            .cloned()
            .collect()
    };
    assert!(of("Orientations").len() > 12, "{sheets:?}");
    let dir = tempfile::tempdir().unwrap();
    let listing = pipeline_listing(
        dir.path(),
        &[
            ("Orientations", of("Orientations")),
            ("Accueil social", of("Accueil social")),
        ],
    );
    let inputs = inputs_with(dir.path(), &monthly);
    let figures = indicators(&listing, &inputs, &dir.path().join("out"));
    assert!(figures == plain, "the monthly workbook gives other figures");
}

/// `check` counts, per sheet, the cells of the merged workbook that took a
/// merged commune: each merged range's cells but its first, as calamine
/// lists the ranges.
#[test]
fn check_counts_the_merged_communes_of_each_sheet() {
    let workbook = variant(2020, "merged");
    let mut book = calamine::open_workbook::<calamine::Xlsx<_>, _>(&workbook).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs_with(dir.path(), &[(2020, workbook.clone())]);
    let output = suivi(&[
        "check",
        arg(&root().join("pipelines/loire.toml")),
        "--inputs",
        arg(&inputs),
    ]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    for sheet in book.sheet_names() {
        let merged: u64 = book
            .merge_cells_by_sheet_name(&sheet)
            .unwrap()
            .iter()
            .map(|d| (d.end.0 - d.start.0 + 1) as u64 * (d.end.1 - d.start.1 + 1) as u64 - 1)
            .sum();
        assert!(merged > 0, "{sheet}");
        let line = format!(
            "departement_insertion_2020.xlsx, sheet '{sheet}': {merged} cells took their value \
             from a merged range"
        );
        assert!(out.contains(&line), "{line}\n{out}");
    }
}
