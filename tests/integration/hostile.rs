//! Broken and hostile partner files (issue 13), made by
//! `tests/fixtures/hostile/make_hostile.py`. Each used to crash, take memory
//! out of proportion or lose rows in silence. Every run here has its address
//! space capped (`ulimit -v`), so a file that balloons fails its test
//! instead of the machine.

use crate::common::{self, CheckRow};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Address space a run may take: the Loire's sample takes about 1 GB of it.
const MEMORY_CAP_KIB: u64 = 3_000_000;

/// A temporary input folder holding `fixture` as `data.<ext>`, and the
/// hostile pipeline reading it.
fn inputs_with(fixture: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let ext = fixture
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("csv");
    std::fs::copy(fixture, dir.path().join(format!("data.{ext}"))).expect("the fixture");
    let text = std::fs::read_to_string(common::fixture("hostile/hostile.toml")).unwrap();
    let reference = |name: &str| format!("{:?}", common::fixture(&format!("ingest/{name}")));
    let text = text
        .replace("\"territoires.csv\"", &reference("territoires.csv"))
        .replace("\"passage.csv\"", &reference("passage.csv"));
    let pipeline = dir.path().join("hostile.toml");
    std::fs::write(&pipeline, text).unwrap();
    (dir, pipeline)
}

/// `suivi` with its address space capped.
fn capped(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_suivi"))
        .args(args)
        .env("SUIVI_PSEUDONYM_KEY", common::PSEUDONYM_KEY)
        .env_remove("SUIVI_PSEUDONYM_KEY_FILE")
        .env_remove("SUIVI_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("sh runs")
}

/// `suivi check` on one file, capped.
fn check(fixture: &Path) -> Output {
    let (dir, pipeline) = inputs_with(fixture);
    capped(&[
        "check",
        common::arg(&pipeline),
        "--inputs",
        common::arg(dir.path()),
    ])
}

fn hostile(name: &str) -> PathBuf {
    common::fixture(&format!("hostile/{name}"))
}

/// The run failed with exit 3 and a message holding `words`, in plain words.
#[track_caller]
fn assert_refused(output: &Output, words: &str) {
    common::assert_exit(output, 3);
    let err = common::stderr(output);
    assert!(err.contains(words), "expected {words:?} in:\n{err}");
    for jargon in [
        "panicked",
        "Expecting",
        "Range is missing",
        "XlsxError",
        "Cannot detect",
    ] {
        assert!(
            !err.contains(jargon),
            "library wording {jargon:?} in:\n{err}"
        );
    }
}

/// The single source's line of the check table, every row accounted for.
#[track_caller]
fn table_row(output: &Output) -> CheckRow {
    common::assert_exit(output, 0);
    let table = common::check_table(&common::stdout(output));
    let row = common::check_row(&table, "lignes").clone();
    row.assert_reconciled();
    row
}

#[test]
fn dates_far_outside_excels_range_are_rejected_not_a_crash() {
    // -1e12 and -1e308 made chrono panic; 0 read as 30/12/1899 and 2958466 as 01/01/+10000.
    for name in [
        "date_minus_1e12.xlsx",
        "date_minus_1e308.xlsx",
        "date_serial_0.xlsx",
        "date_past_9999.xlsx",
    ] {
        let output = check(&hostile(name));
        let row = table_row(&output);
        // Header and five data rows; the third data row (row 4) has the bad date.
        assert_eq!((row.read, row.accepted, row.rejected), (6, 4, 1), "{name}");
        let out = common::stdout(&output);
        assert!(
            out.contains("row 4, column 'Date': unparseable date"),
            "{name}: {out}"
        );
    }
}

#[test]
fn a_shared_strings_count_of_four_billion_is_refused_before_allocating() {
    let output = check(&hostile("huge_unique_count.xlsx"));
    assert_refused(&output, "shared strings announce 4294967295 strings");
}

#[test]
fn a_cell_past_excels_last_row_or_column_is_refused() {
    for (name, words) in [
        ("row_4000000000.xlsx", "a cell at row 4000000000, column 1"),
        ("row_100000000.xlsx", "a cell at row 100000000, column 1"),
        ("column_zzzzz.xlsx", "beyond a spreadsheet's limits"),
    ] {
        assert_refused(&check(&hostile(name)), words);
    }
    // `inspect` took over 60 s on the column past XFD.
    let output = capped(&["inspect", common::arg(&hostile("column_zzzzz.xlsx"))]);
    assert_refused(&output, "beyond a spreadsheet's limits");
}

/// Found by the xlsx fuzz target: a cell reference of nine letters
/// overflowed the reader's column (a panic where overflows are checked, a
/// column far past XFD otherwise).
#[test]
fn a_cell_reference_of_nine_letters_is_refused_not_a_crash() {
    let output = check(&hostile("column_of_nine_letters.xlsx"));
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(
        err.contains("data.xlsx, sheet 'Lignes': the file's structure is broken")
            || err.contains("a cell at row 6, column 3963956382"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_ods_row_repeated_a_million_times_is_refused() {
    assert_refused(
        &check(&hostile("rows_repeated.ods")),
        "row 2 of the sheet repeats its content 1000000 times",
    );
}

#[test]
fn an_ods_row_of_numbers_repeated_into_30_million_cells_is_refused() {
    assert_refused(
        &check(&hostile("cells_repeated.ods")),
        "the sheet expands to more than 25000000 cells with content",
    );
}

#[test]
fn an_ods_text_repeated_over_a_whole_row_is_refused() {
    // 989 bytes on disk, 1.1 GB of text written out.
    assert_refused(
        &check(&hostile("text_repeated.ods")),
        "the sheet's repeated cells copy more than 64 MB of text",
    );
}

#[test]
fn subtotal_rows_in_the_middle_of_a_sheet_are_skipped_and_reading_goes_on() {
    // 149 data rows, "Total Saint-Étienne" at row 101, a grand total, a note.
    let output = check(&hostile("subtotal_row_101.xlsx"));
    let row = table_row(&output);
    assert_eq!((row.read, row.accepted, row.rejected), (153, 149, 0));
    // Two totals and the note (the header is counted apart).
    assert_eq!(row.skipped, 3);
    assert!(
        common::stdout(&output)
            .contains("skipped 2 total or subtotal rows and 1 row of notes below the last total"),
        "{}",
        common::stdout(&output)
    );
}

#[test]
fn a_total_line_in_the_middle_of_a_csv_drops_nothing() {
    let output = check(&hostile("total_in_the_middle.csv"));
    let row = table_row(&output);
    // Header, 19 rows, Total, 30 rows, TOTAL GÉNÉRAL.
    assert_eq!(
        (row.read, row.accepted, row.rejected, row.skipped),
        (52, 49, 0, 2)
    );
}

#[test]
fn a_file_mostly_skipped_as_totals_fails_like_too_many_rejects() {
    assert_refused(
        &check(&hostile("mostly_totals.csv")),
        "4 of 14 rows skipped as total rows with data below them",
    );
}

#[test]
fn a_quote_left_open_is_an_error_naming_its_line() {
    assert_refused(
        &check(&hostile("unbalanced_quote.csv")),
        "line 10: a quoted field starts on this line",
    );
    // Near the end the open quote spans three lines only: still found.
    assert_refused(
        &check(&hostile("unbalanced_quote_near_the_end.csv")),
        "line 19: a quoted field starts on this line",
    );
}

#[test]
fn lines_ending_with_a_lone_cr_are_all_read() {
    let row = table_row(&check(&hostile("lone_cr.csv")));
    assert_eq!((row.read, row.accepted, row.rejected), (31, 30, 0));
}

/// A record whose quoted field runs over several lines is one row read,
/// not one row and its other lines skipped; rows are still named by the
/// line they start on.
#[test]
fn a_record_over_several_lines_is_one_row_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("multiline.csv");
    let lines = [
        "N° allocataire;Date;Commune;Montant;Remarque",
        "1000001;01/01/2020;42005;1;\"first line",
        "second line\"",
        "1000002;02/01/2020;42005;2;plain",
        "1000003;03/01/2020;42005;3;\"a",
        "b",
        "c\"",
        "1000004;45/01/2020;42005;4;x",
        "",
        "1000005;05/01/2020;42005;5;\"y\"",
    ];
    std::fs::write(&file, lines.join("\r\n") + "\r\n").unwrap();
    let output = check(&file);
    let row = table_row(&output);
    // The header, five records and a blank line (skipped); the fourth
    // record (line 8) has a bad date.
    assert_eq!(
        (row.read, row.accepted, row.rejected, row.skipped),
        (7, 4, 1, 1)
    );
    let stdout = common::stdout(&output);
    assert!(
        stdout.contains("row 8, column 'Date': unparseable date ('45/01/2020')"),
        "{stdout}"
    );
}

#[test]
fn a_line_of_a_million_delimiters_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("million.csv");
    let text = format!(
        "N° allocataire;Date;Commune;Montant\n{}\n1000001;01/01/2020;42005;1\n",
        ";".repeat(1 << 20)
    );
    std::fs::write(&file, text).unwrap();
    assert_refused(
        &check(&file),
        "line 2 has 1048577 fields, more than the 16384 columns",
    );
    let output = capped(&["inspect", common::arg(&file)]);
    assert_refused(&output, "more than the 16384 columns");
}

#[test]
fn a_password_protected_workbook_says_so() {
    assert_refused(
        &check(&hostile("password.xlsx")),
        "the workbook is protected by a password",
    );
}

#[test]
fn a_damaged_xls_is_exit_3_naming_the_file_not_a_crash() {
    let output = check(&hostile("boundsheet_offset.xls"));
    assert_refused(&output, "data.xls: the file's structure is broken");
}

#[test]
fn an_xls_announcing_four_billion_rows_is_refused_before_allocating() {
    assert_refused(
        &check(&hostile("dimensions_rows.xls")),
        "a sheet announces 4294967295 rows",
    );
}

#[test]
fn an_xls_whose_sectors_chain_in_a_loop_is_refused() {
    assert_refused(
        &check(&hostile("fat_loop.xls")),
        "data.xls: the file's structure is broken",
    );
}

#[test]
fn a_pipeline_year_out_of_range_is_a_pipeline_error() {
    let (_dir, pipeline) = inputs_with(&hostile("lone_cr.csv"));
    let text = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, text.replace("year = 2020", "year = 20200")).unwrap();
    let output = capped(&["check", common::arg(&pipeline)]);
    common::assert_exit(&output, 2);
    let err = common::stderr(&output);
    assert!(err.contains("20200 is not a plausible year"), "{err}");
}

#[test]
fn a_megabyte_header_is_not_echoed_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wide_header.csv");
    let text = format!(
        "N° allocataire;Date;Commune;{}\n1000001;01/01/2020;42005;1\n",
        "X".repeat(1 << 20)
    );
    std::fs::write(&file, text).unwrap();
    let output = check(&file);
    assert_refused(&output, "declared column 'Montant' not found in the header");
    assert!(
        common::stderr(&output).len() < 2_000,
        "{}",
        common::stderr(&output).len()
    );
}

/// Rows below a total are notes only when they are a few: fifteen unreadable
/// rows after it are rejects, and fail the run like any rejects.
#[test]
fn many_unreadable_rows_below_a_total_are_rejects_not_notes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("after_total.csv");
    let mut lines = vec!["N° allocataire;Date;Commune;Montant".to_owned()];
    lines.extend((0..20).map(|i| format!("{:07};01/02/2020;42005;1", 1_000_001 + i)));
    lines.push("Total;;;20".to_owned());
    lines.extend((0..15).map(|i| format!("{:07};32/13/2020;42005;1", 2_000_001 + i)));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    assert_refused(&check(&file), "15 of 35 data rows rejected");
}
