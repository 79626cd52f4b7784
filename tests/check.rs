//! `suivi check` on generated partner files: the clean sample is accepted
//! whole, the messy one loses exactly the bad rows the generator injected.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

fn pipeline() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/loire.toml")
}

/// (file, sheet, row, column, reason) lines of a `;` CSV with that header prefix.
fn reject_keys(path: &Path) -> BTreeSet<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().take(5).map(str::to_owned).collect())
        .collect()
}

#[test]
fn committed_samples_are_accepted_whole() {
    for year in ["2019", "2020"] {
        let output = common::suivi(&["check", common::arg(&pipeline()), "--year", year]);
        common::assert_exit(&output, 0);
        let table = common::check_table(&common::stdout(&output));
        assert_eq!(table.len(), 9, "nine sources in {year}");
        for row in &table {
            row.assert_reconciled();
            assert_eq!(row.rejected, 0, "{year}: rejects in {row:?}");
        }
    }
}

#[test]
fn messy_exports_lose_exactly_the_injected_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("messy");
    let sample = common::suivi(&[
        "sample",
        "--year",
        "2019",
        "--scale",
        "0.1",
        "--seed",
        "7",
        "--messy",
        "--out",
        common::arg(&inputs),
    ]);
    common::assert_exit(&sample, 0);
    let rejects = dir.path().join("rejects.csv");
    let output = common::suivi(&[
        "check",
        common::arg(&pipeline()),
        "--year",
        "2019",
        "--inputs",
        common::arg(&inputs),
        "--rejects",
        common::arg(&rejects),
    ]);
    common::assert_exit(&output, 0);
    for row in common::check_table(&common::stdout(&output)) {
        row.assert_reconciled();
    }
    let expected = reject_keys(&inputs.join("expected_rejects.csv"));
    assert!(
        expected.len() >= 15,
        "the generator injects bad rows: {expected:?}"
    );
    assert_eq!(reject_keys(&rejects), expected);
}

#[test]
fn an_out_of_range_setting_is_reported_with_its_line() {
    let text = std::fs::read_to_string(pipeline()).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("max_reject_rate"))
        .unwrap()
        + 1;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("max_reject_rate = 0.10", "max_reject_rate = 10"),
    )
    .unwrap();
    let output = common::suivi(&["check", common::arg(&bad)]);
    common::assert_exit(&output, 2);
    let err = common::stderr(&output);
    assert!(
        err.contains(&format!("line {line}:")) && err.contains("from 0 to 1"),
        "{err}"
    );
}
