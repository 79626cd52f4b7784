//! `suivi check` on generated partner files: the clean sample is accepted
//! whole, the messy one loses exactly the bad rows the generator injected.

use crate::common;

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

/// A delimiter is cut at as a byte before a line is decoded: `§` is two
/// bytes in UTF-8, and its first one would split a UTF-8 file at every `°`.
#[test]
fn a_delimiter_that_is_not_one_ascii_character_is_refused() {
    for delimiter in ["§", "\\\"", ";;"] {
        let dir = tempfile::tempdir().unwrap();
        let bad = pipeline_copy(dir.path(), |text| {
            text.replacen(
                "file = \"caf_rsa_{year}.csv\"",
                &format!("file = \"caf_rsa_{{year}}.csv\"\ndelimiter = \"{delimiter}\""),
                1,
            )
        });
        let output = common::suivi(&["check", common::arg(&bad)]);
        common::assert_exit(&output, 2);
        let err = common::stderr(&output);
        let text = std::fs::read_to_string(&bad).unwrap();
        let line = 1 + text
            .lines()
            .position(|l| l.starts_with("delimiter"))
            .unwrap();
        assert!(
            err.contains(&format!(
                "line {line}: the delimiter must be \"auto\" or one ASCII character"
            )),
            "{delimiter}: {err}"
        );
    }
}

/// The shipped 2020 sample copied into a new folder.
fn sample_2020() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs");
    for name in [
        "caf_rsa_2020.csv",
        "departement_insertion_2020.xlsx",
        "pole_emploi_brsa_2020.xlsx",
        "finances_2020.xlsx",
    ] {
        std::fs::copy(inputs.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// A copy of the Loire pipeline, edited, whose reference tables are the shipped ones.
fn pipeline_copy(dir: &Path, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(pipeline()).unwrap();
    let referentiel = Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs/referentiel/");
    let text = edit(text.replace("../inputs/referentiel/", common::arg(&referentiel)));
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check_on(pipeline: &Path, inputs: &Path) -> std::process::Output {
    common::suivi(&[
        "check",
        common::arg(pipeline),
        "--year",
        "2020",
        "--inputs",
        common::arg(inputs),
    ])
}

/// Issue 15: a renamed header used to leave its column empty with a mere
/// warning (RSA-01 computed without `SDD`).
#[test]
fn a_declared_column_absent_from_a_file_stops_the_run_naming_the_closest_header() {
    let inputs = sample_2020();
    let caf = inputs.path().join("caf_rsa_2020.csv");
    let bytes = std::fs::read(&caf).unwrap();
    let text = String::from_utf8_lossy(&bytes[..200]).into_owned();
    assert!(text.contains(";SDD;"), "{text}");
    let renamed = [
        text.replacen(";SDD;", ";SDDX;", 1).as_bytes(),
        &bytes[200..],
    ]
    .concat();
    std::fs::write(&caf, renamed).unwrap();

    let output = check_on(&pipeline(), inputs.path());
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(err.contains("caf_rsa_2020.csv"), "{err}");
    assert!(
        err.contains("declared column 'SDD' (did you mean 'SDDX'?"),
        "{err}"
    );
    let out = tempfile::tempdir().unwrap();
    let run = common::suivi(&[
        "run",
        common::arg(&pipeline()),
        "--year",
        "2020",
        "--inputs",
        common::arg(inputs.path()),
        "--out",
        common::arg(out.path()),
    ]);
    common::assert_exit(&run, 3);
    assert!(!out.path().join("indicateurs_2020.csv").exists());

    // Allowed to be absent: the run goes on, and check says so.
    let dir = tempfile::tempdir().unwrap();
    let tolerant = pipeline_copy(dir.path(), |t| {
        t.replace(
            r#"{ name = "sdd", header = "SDD", type = "bool" }"#,
            r#"{ name = "sdd", header = "SDD", type = "bool", may_be_absent = true }"#,
        )
    });
    let output = check_on(&tolerant, inputs.path());
    common::assert_exit(&output, 0);
    let out = common::stdout(&output);
    assert!(
        out.contains("WARNING: column 'SDD' is absent from caf_rsa_2020.csv"),
        "{out}"
    );
}

/// Issue 15: `check` is the dry run: an error in a derived table's SQL shows
/// there, not in that night's run.
#[test]
fn check_computes_every_derived_table_and_indicator() {
    let output = check_on(
        &pipeline(),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs"),
    );
    common::assert_exit(&output, 0);
    let out = common::stdout(&output);
    assert!(
        out.contains("computed 5 derived tables, 34 indicators"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let broken = pipeline_copy(dir.path(), |t| {
        t.replacen("FROM caf_rsa\n", "FROM caf_rsa_typo\n", 1)
    });
    let output = check_on(
        &broken,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs"),
    );
    common::assert_exit(&output, 2);
    let err = common::stderr(&output);
    assert!(err.contains("table 'foyers'"), "{err}");
}

/// Issue 15: a source that gathers several files finds duplicates across
/// them by the same rule as within one file. The CAF file is split in two,
/// the second with its columns in another order and 40 rows copied from the
/// first: those 40 are rejected, and every figure equals the single file's.
#[test]
fn a_source_of_several_files_rejects_rows_copied_from_another_file() {
    let inputs = sample_2020();
    let whole = std::fs::read_to_string(inputs.path().join("caf_rsa_2020.csv")).unwrap();
    std::fs::remove_file(inputs.path().join("caf_rsa_2020.csv")).unwrap();
    // Two undeclared columns, which the second file writes in the other order.
    let lines: Vec<String> = whole
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{l};Agence;Remarque"),
            _ => format!("{l};Loire Sud;RAS"),
        })
        .collect();
    let (header, rows) = (lines[0].as_str(), &lines[1..]);
    let (first, second) = rows.split_at(rows.len() / 2);
    let copied = &first[100..140];
    std::fs::write(
        inputs.path().join("caf_rsa_2020_a.csv"),
        format!("{header}\n{}\n", first.join("\n")),
    )
    .unwrap();
    // The second file's columns in reverse order: rows are compared by column name.
    let reversed = |line: &str| line.split(';').rev().collect::<Vec<_>>().join(";");
    let second: Vec<String> = second.iter().chain(copied).map(|l| reversed(l)).collect();
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    std::fs::write(
        inputs.path().join("caf_rsa_2020_b.csv"),
        format!("{}\n{}\n", reversed(header), second.join("\n")),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gathering = pipeline_copy(dir.path(), |t| {
        t.replacen(
            "file = \"caf_rsa_{year}.csv\"\n",
            "file = \"caf_rsa_{year}_*.csv\"\nseveral_files = true\n",
            1,
        )
    });
    let output = check_on(&gathering, inputs.path());
    common::assert_exit(&output, 0);
    let out = common::stdout(&output);
    let table = common::check_table(&out);
    let caf: Vec<&common::CheckRow> = table.iter().filter(|r| r.source == "caf_rsa").collect();
    assert_eq!(caf.len(), 2, "{out}");
    caf.iter().for_each(|r| r.assert_reconciled());
    assert_eq!((caf[0].accepted, caf[0].rejected), (first.len(), 0));
    assert_eq!(
        (caf[1].accepted, caf[1].rejected),
        (rows.len() - first.len(), copied.len())
    );
    assert!(
        out.contains("exact duplicate of row 102 of caf_rsa_2020_a.csv"),
        "{out}"
    );

    // The published figures are the single file's.
    let run = |pipeline: &Path, inputs: &Path, out: &Path| {
        let output = common::suivi(&[
            "run",
            common::arg(pipeline),
            "--year",
            "2020",
            "--inputs",
            common::arg(inputs),
            "--out",
            common::arg(out),
        ]);
        common::assert_exit(&output, 0);
        std::fs::read_to_string(out.join("indicateurs_2020.csv")).unwrap()
    };
    let single = run(
        &pipeline(),
        sample_2020().path(),
        &dir.path().join("single"),
    );
    let gathered = run(&gathering, inputs.path(), &dir.path().join("gathered"));
    let differing: Vec<(&str, &str)> = single
        .lines()
        .zip(gathered.lines())
        .filter(|(a, b)| a != b)
        .take(3)
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
    assert_eq!(single.lines().count(), gathered.lines().count());
}

/// Issues 15 and 36: a copy of a delivery beside it, named as a browser,
/// Windows or a user names copies, stops the run naming both files, where
/// `finances_2020.old.xlsx` doubled the State's agreed money and
/// `finances_2020 (1).xlsx` was ignored in silence.
#[test]
fn a_copy_beside_a_delivery_stops_the_run_naming_both() {
    for copy in [
        "finances_2020 (1).xlsx",
        "Copie de finances_2020.xlsx",
        "finances_2020 - Copie.xlsx",
        "finances_2020.old.xlsx",
        "finances_2020.xlsx.bak",
        "Finances_2020.xlsx",
    ] {
        let inputs = sample_2020();
        std::fs::copy(
            inputs.path().join("finances_2020.xlsx"),
            inputs.path().join(copy),
        )
        .unwrap();
        let output = check_on(&pipeline(), inputs.path());
        common::assert_exit(&output, 3);
        let err = common::stderr(&output);
        assert!(err.contains(copy), "{copy}: {err}");
        assert!(
            err.contains("looks like a copy of the file expected as 'finances_2020.*'"),
            "{copy}: {err}"
        );
        assert!(
            err.contains("finances_2020.xlsx is (modified "),
            "{copy}: {err}"
        );
        assert!(!err.contains("several_files"), "{copy}: {err}");
    }
}

/// A file that differs from the expected name only by case is not
/// "missing": the message says what it is.
#[test]
fn a_delivery_named_in_another_case_is_named_in_the_error() {
    let inputs = sample_2020();
    std::fs::rename(
        inputs.path().join("finances_2020.xlsx"),
        inputs.path().join("FINANCES_2020.XLSX"),
    )
    .unwrap();
    let output = check_on(&pipeline(), inputs.path());
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(err.contains("FINANCES_2020.XLSX"), "{err}");
    assert!(
        err.contains("no file is named 'finances_2020.*' itself"),
        "{err}"
    );
}

/// Names the pipeline says to ignore are neither read nor taken for copies.
#[test]
fn names_listed_in_ignore_files_are_left_alone() {
    let inputs = sample_2020();
    std::fs::write(inputs.path().join("finances_2020 (1).xlsx"), b"not read").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ignoring = pipeline_copy(dir.path(), |t| {
        t.replacen(
            "[pipeline]\n",
            "[pipeline]\nignore_files = [\"* (1).*\"]\n",
            1,
        )
    });
    let output = check_on(&ignoring, inputs.path());
    common::assert_exit(&output, 0);
}

/// Two files of one name pattern: identical ones are called copies; the
/// `several_files` hint is only for files that hold different rows; and
/// two files sharing most of their rows are refused even when the pipeline
/// gathers several files, since every amount would count twice.
#[test]
fn two_files_of_a_source_that_reads_one_or_copies_under_several_files() {
    let inputs = sample_2020();
    let finances = inputs.path().join("finances_2020.xlsx");
    std::fs::copy(&finances, inputs.path().join("finances_2020_v2.xlsx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let loose = pipeline_copy(dir.path(), |t| {
        t.replace("finances_{year}.*", "finances_{year}*")
    });
    let output = check_on(&loose, inputs.path());
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(err.contains("they are identical copies: keep one"), "{err}");
    assert!(!err.contains("several_files"), "{err}");

    // Different bytes, same rows: the hint names several_files, and
    // following it is refused as copies.
    let other = inputs.path().join("pole_emploi_brsa_2020.xlsx");
    std::fs::copy(&other, inputs.path().join("finances_2020_v2.xlsx")).unwrap();
    let output = check_on(&loose, inputs.path());
    common::assert_exit(&output, 3);
    assert!(common::stderr(&output).contains("declare `several_files = true`"));

    std::fs::copy(&finances, inputs.path().join("finances_2020_v2.xlsx")).unwrap();
    let gathering = pipeline_copy(dir.path(), |t| {
        t.replace(
            "file = \"finances_{year}.*\"\n",
            "file = \"finances_{year}*\"\nseveral_files = true\n",
        )
    });
    let output = check_on(&gathering, inputs.path());
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(err.contains("finances_2020_v2.xlsx"), "{err}");
    assert!(
        err.contains("data rows are also in finances_2020.xlsx: the two look like copies"),
        "{err}"
    );
}

/// Issue 36: a recoded commune is shown with its name beside its code, the
/// former one's too where the passage table keeps it (the sample writes
/// both kinds: inputs/referentiel/passage_communes_loire.csv names Amions
/// 42004, not 42057).
#[test]
fn recoded_communes_are_named_beside_their_codes() {
    let output = check_on(
        &pipeline(),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs"),
    );
    common::assert_exit(&output, 0);
    let out = common::stdout(&output);
    let caf = out
        .lines()
        .find(|l| l.starts_with("  caf_rsa_2020.csv: "))
        .unwrap_or_else(|| panic!("no mapped codes for the CAF file:\n{out}"));
    assert!(
        caf.contains("42004 Amions -> 42268 Vézelin-sur-Loire: "),
        "{caf}"
    );
    assert!(caf.contains("42057 -> 42095 Firminy: "), "{caf}");
}

/// Issue 36: "5 possible double entries" was followed by 4 groups. The
/// heading now counts rows and groups, and agrees with the table and with
/// the lines under it; adjacent rows read as a range.
#[test]
fn double_entries_are_counted_as_rows_and_groups() {
    let output = check_on(
        &pipeline(),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs"),
    );
    common::assert_exit(&output, 0);
    let out = common::stdout(&output);
    let table = common::check_table(&out);
    let mut headings = 0;
    for row in table.iter().filter(|r| r.repeats > 0) {
        let place = match &row.sheet {
            Some(sheet) => format!("{}, sheet '{sheet}'", row.file),
            None => row.file.clone(),
        };
        let heading = format!("possible double entries in {place}: ");
        let (at, line) = out
            .lines()
            .enumerate()
            .find(|(_, l)| l.starts_with(&heading))
            .unwrap_or_else(|| panic!("no heading for {place}:\n{out}"));
        let groups = out
            .lines()
            .skip(at + 1)
            .take_while(|l| l.starts_with("  row "))
            .count();
        let rows = if row.repeats == 1 { "row" } else { "rows" };
        let counted = if groups == 1 { "group" } else { "groups" };
        assert!(
            line.contains(&format!(
                "{} {rows}, each identical to an earlier row, in {groups} {counted}",
                row.repeats
            )),
            "{line}"
        );
        headings += 1;
    }
    assert!(headings > 0, "the sample holds repeated rows:\n{out}");
}

/// Issue 36: every file that cannot be read is named at once, not the
/// first one met.
#[test]
fn every_unreadable_file_is_named_at_once() {
    let inputs = sample_2020();
    for name in ["pole_emploi_brsa_2020.xlsx", "finances_2020.xlsx"] {
        std::fs::write(inputs.path().join(name), b"not a workbook").unwrap();
    }
    let output = check_on(&pipeline(), inputs.path());
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(err.contains("3 sources cannot be read:"), "{err}");
    for name in ["pole_emploi_brsa_2020.xlsx", "finances_2020.xlsx"] {
        assert!(err.contains(name), "{name}: {err}");
    }
}
