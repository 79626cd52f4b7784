//! Reading partner files as they really come: titles above the header, Total
//! rows, mixed cell shapes, legacy formats, hidden sheets, CSV encodings, and
//! broken inputs. Fixtures and pipelines are in tests/fixtures/ingest (made
//! by make_fixtures.py there); every expected figure below was worked out by
//! hand from that script's tables.

use crate::common;

use chrono::NaiveDate;
use common::*;
use polars::prelude::*;
use std::path::{Path, PathBuf};
use suivi_core::ingest::{self, SourceTable, pseudo::Pseudonymizer};
use suivi_core::reference::Reference;

fn pipeline(name: &str) -> PathBuf {
    fixture(&format!("ingest/{name}"))
}

/// Reads the pipeline's sources through the library, to look at the values.
fn read_tables(pipeline: &Path) -> Vec<SourceTable> {
    let pipeline = suivi_core::pipeline::load(pipeline, None, None).expect("the pipeline loads");
    let reference = Reference::load(&pipeline).expect("the reference loads");
    let pseudonymizer = Pseudonymizer::with_key(PSEUDONYM_KEY.as_bytes());
    ingest::read_sources(
        &pipeline,
        &reference,
        &pseudonymizer,
        &Default::default(),
        &Default::default(),
    )
    .expect("the sources read")
}

fn frame_of<'a>(tables: &'a [SourceTable], name: &str) -> &'a DataFrame {
    &tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name}"))
        .frame
}

fn rows(frame: &DataFrame) -> Vec<u32> {
    frame
        .column(ingest::ROW_COLUMN)
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .map(|r| r.expect("every row has its number"))
        .collect()
}

fn dates(frame: &DataFrame, name: &str) -> Vec<Option<NaiveDate>> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    frame
        .column(name)
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(|d| d.map(|d| epoch + chrono::TimeDelta::days(d.into())))
        .collect()
}

fn texts(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
    frame
        .column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect()
}

fn decimals(frame: &DataFrame, name: &str) -> Vec<Option<f64>> {
    frame.column(name).unwrap().f64().unwrap().iter().collect()
}

fn integers(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
    frame.column(name).unwrap().i64().unwrap().iter().collect()
}

fn bools(frame: &DataFrame, name: &str) -> Vec<bool> {
    frame
        .column(name)
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|b| b.expect("booleans are never null"))
        .collect()
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn some<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    values.iter().cloned().map(Some).collect()
}

fn some_str(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

fn pseudonyms(ids: &[&str]) -> Vec<Option<i64>> {
    let p = Pseudonymizer::with_key(PSEUDONYM_KEY.as_bytes());
    ids.iter().map(|id| Some(p.pseudonym(id))).collect()
}

#[track_caller]
fn assert_all_reconciled(table: &[CheckRow]) {
    assert!(!table.is_empty(), "no file in the check table");
    for row in table {
        row.assert_reconciled();
    }
}

fn keys(rejects: &[RejectLine]) -> Vec<(usize, &str, &str)> {
    rejects.iter().map(RejectLine::key).collect()
}

// --- titles, Total row, header spellings -------------------------------------------

#[test]
fn title_rows_total_row_and_header_spellings() {
    let (output, table, rejects) = check_with_rejects(&pipeline("title_rows.toml"), &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    let row = check_row(&table, "orientations");
    assert_eq!(row.file, "title_rows_and_total.xlsx");
    assert_eq!(row.sheet.as_deref(), Some("Orientations"));
    // Rows 1-2 titles, 3 empty, 4 header, 9 empty, 14 Total, 15-16 blank.
    assert_eq!(row.figures(), [4, 16, 8, 0, 7]);
    assert!(rejects.is_empty(), "{rejects:#?}");

    let tables = read_tables(&pipeline("title_rows.toml"));
    let frame = frame_of(&tables, "orientations");
    assert_eq!(rows(frame), [5, 6, 7, 8, 10, 11, 12, 13]);
    assert_eq!(
        texts(frame, "type_orientation"),
        some_str(&[
            "Professionnelle",
            "Sociale",
            "Socio-professionnelle",
            "Sociale",
            "Socio-professionnelle",
            "Professionnelle",
            "Sociale",
            "Professionnelle",
        ])
    );
    assert_eq!(
        texts(frame, "organisme_referent"),
        some_str(&[
            "Pôle emploi",
            "Département",
            "CCAS",
            "PLIE",
            "Pôle emploi",
            "Département",
            "CCAS",
            "Pôle emploi",
        ])
    );
    assert_eq!(
        dates(frame, "date_orientation"),
        [
            ymd(2020, 1, 6),
            ymd(2020, 1, 13),
            ymd(2020, 2, 3),
            ymd(2020, 2, 17),
            ymd(2020, 3, 2),
            ymd(2020, 3, 16),
            ymd(2020, 4, 6),
            ymd(2020, 4, 20),
        ]
    );
    assert_eq!(
        texts(frame, "commune"),
        some_str(&[
            "42218", "42218", "42187", "42005", "42094", "42207", "42332", "42217"
        ])
    );
}

// --- one shape per row -----------------------------------------------------------------

#[test]
fn mixed_cell_shapes_give_the_same_values() {
    let (output, table, rejects) = check_with_rejects(&pipeline("mixed_types.toml"), &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    let row = check_row(&table, "mixed");
    assert_eq!(row.sheet.as_deref(), Some("Données"));
    assert_eq!(row.figures(), [1, 16, 13, 2, 0]);
    // Nothing but the two intended bad rows.
    assert_eq!(
        rejects,
        [
            RejectLine {
                file: "mixed_types.xlsx".into(),
                sheet: "Données".into(),
                row: 15,
                column: "Date d'ouverture".into(),
                reason: "date".into(),
                message: "unparseable date".into(),
                value: "31/02/2020".into(),
            },
            RejectLine {
                file: "mixed_types.xlsx".into(),
                sheet: "Données".into(),
                row: 16,
                column: "Montant".into(),
                reason: "number".into(),
                message: "not a number".into(),
                value: "1,2,3".into(),
            },
        ]
    );

    let tables = read_tables(&pipeline("mixed_types.toml"));
    let frame = frame_of(&tables, "mixed");
    assert_eq!(rows(frame), (2..=14).collect::<Vec<u32>>());
    // Rows 2-13: the same date in 12 shapes (Excel date, serial number,
    // JJ/MM/AAAA, JJ/MM/AA, AAAA-MM-JJ, with a time part, AAAAMMJJ...).
    let mut want = vec![ymd(2020, 2, 3); 12];
    want.push(ymd(2019, 12, 31));
    assert_eq!(dates(frame, "date_ouverture"), want);
    // Rows 2-13: 1234.56 in 12 shapes (spaces, U+00A0, U+202F, €, EUR, text...).
    let mut want = vec![Some(1234.56); 12];
    want.push(None);
    assert_eq!(decimals(frame, "montant"), want);
    assert_eq!(
        integers(frame, "nb_personnes"),
        (1..=13).map(Some).collect::<Vec<Option<i64>>>()
    );
    assert_eq!(
        bools(frame, "accompagnement"),
        [
            true,  // Oui
            false, // Non
            true,  // O
            false, // N
            true,  // 1
            false, // 0
            true,  // X
            false, // empty
            true,  // Vrai
            false, // Faux
            true,  // TRUE (a boolean cell)
            true,  // vrai
            false, // faux
        ]
    );
    // Numbers, text, the old code 42072 (now 42217), a commune name, padded text.
    assert_eq!(
        texts(frame, "commune"),
        some_str(&[
            "42218", "42218", "42217", "42217", "42187", "42005", "42094", "42207", "42332",
            "42218", "42218", "42217", "42218",
        ])
    );
    // Identifiers stored as numbers get their leading zeros back (width 7).
    assert_eq!(
        integers(frame, "numalloc"),
        pseudonyms(&[
            "0123456", "0234567", "0345678", "0456789", "0567890", "0678901", "0789012", "0890123",
            "0901234", "1012345", "1123456", "1234567", "0012345",
        ])
    );
    assert_eq!(
        texts(frame, "observation")[0].as_deref(),
        Some("date Excel")
    );
}

// --- .xlsx, .xls, .ods -----------------------------------------------------------------

#[test]
fn xlsx_xls_and_ods_give_identical_figures() {
    let (output, table, rejects) = check_with_rejects(&pipeline("formats.toml"), &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    for (source, file) in [
        ("fmt_xlsx", "formats_table.xlsx"),
        ("fmt_xls", "formats_table.xls"),
        ("fmt_ods", "formats_table.ods"),
    ] {
        let row = check_row(&table, source);
        assert_eq!(row.file, file);
        assert_eq!(row.sheet.as_deref(), Some("Tableau"));
        // Title row 1, empty row 2, header row 3, TOTAL row 10, blank row 11.
        assert_eq!(row.figures(), [3, 11, 5, 1, 4], "{file}");
        let of_file: Vec<_> = rejects.iter().filter(|r| r.file == file).collect();
        assert_eq!(of_file.len(), 1, "{file}: {rejects:#?}");
        assert_eq!(
            of_file[0].key(),
            (7, "Date d'orientation", "date"),
            "{file}"
        );
        assert_eq!(of_file[0].value, "32/13/2020", "{file}");
    }
    assert_eq!(rejects.len(), 3, "{rejects:#?}");

    let tables = read_tables(&pipeline("formats.toml"));
    let xlsx = frame_of(&tables, "fmt_xlsx");
    assert_eq!(rows(xlsx), [4, 5, 6, 8, 9]);
    assert_eq!(
        dates(xlsx, "date_orientation"),
        [
            ymd(2020, 1, 6),
            ymd(2020, 2, 3),
            ymd(2020, 3, 17),
            ymd(2020, 6, 3),
            ymd(2020, 6, 30)
        ]
    );
    assert_eq!(
        decimals(xlsx, "montant"),
        some(&[559.74, 1234.5, 1012.3, 0.0, 99.99])
    );
    assert_eq!(
        bools(xlsx, "accompagnement_loire"),
        [true, true, false, false, true]
    );
    assert_eq!(
        texts(xlsx, "commune"),
        some_str(&["42218", "42217", "42187", "42005", "42094"])
    );
    assert_eq!(
        integers(xlsx, "numalloc"),
        pseudonyms(&["0123456", "0234567", "0345678", "0567890", "0678901"])
    );
    for other in ["fmt_xls", "fmt_ods"] {
        let frame = frame_of(&tables, other);
        assert!(
            xlsx.equals_missing(frame),
            "{other} differs from fmt_xlsx:\n{xlsx}\n{frame}"
        );
    }
}

// --- hidden sheet ----------------------------------------------------------------------

#[test]
fn hidden_first_sheet_is_passed_over() {
    let (output, table, rejects) = check_with_rejects(&pipeline("hidden_sheet.toml"), &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    let tables = read_tables(&pipeline("hidden_sheet.toml"));
    for ext in ["xlsx", "xls", "ods"] {
        let source = format!("hidden_{ext}");
        let row = check_row(&table, &source);
        assert_eq!(row.sheet.as_deref(), Some("Données"), "{ext}");
        assert_eq!(row.figures(), [1, 5, 4, 0, 0], "{ext}");
        assert_eq!(
            decimals(frame_of(&tables, &source), "montant"),
            some(&[10.0, 20.0, 30.0, 40.0]),
            "{ext}"
        );

        let file = pipeline(&format!("hidden_sheet_first.{ext}"));
        let output = suivi(&["inspect", arg(&file)]);
        assert_exit(&output, 0);
        let out = stdout(&output);
        let sheet_lines: Vec<&str> = out
            .lines()
            .skip_while(|l| *l != "sheets:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(str::trim)
            .collect();
        assert_eq!(
            sheet_lines,
            ["Paramètres (hidden)", "Données  <- described below"],
            "{out}"
        );
        assert!(out.contains("header guessed at row 1"), "{out}");
        // Identifier values are never printed, hidden sheet or not.
        for id in ["7654321", "7654322", "7654323", "7654324", "9999991"] {
            assert!(
                !out.contains(id),
                "inspect printed the identifier {id}:\n{out}"
            );
        }
    }
    assert!(rejects.is_empty(), "{rejects:#?}");
}

#[test]
fn inspect_finds_the_header_under_title_rows() {
    let file = pipeline("title_rows_and_total.xlsx");
    let output = suivi(&["inspect", arg(&file)]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(out.contains("  Orientations  <- described below"), "{out}");
    assert!(out.contains("rows 16 (header guessed at row 4)"), "{out}");
    let kind = |letter: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(letter))
            .and_then(|l| {
                l.split("  ")
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .nth(2)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("no column {letter}:\n{out}"))
    };
    assert_eq!(kind("A"), "id");
    assert_eq!(kind("B"), "date");
    assert_eq!(kind("E"), "commune");
    for id in ["0123456", "0234567", "0890123"] {
        assert!(
            !out.contains(id),
            "inspect printed the identifier {id}:\n{out}"
        );
    }
    // --sheet matches like headers do (case, accents).
    let output = suivi(&["inspect", arg(&file), "--sheet", "lisez-moi"]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("  Lisez-moi  <- described below"),
        "{}",
        stdout(&output)
    );
}

/// Emails, phone numbers and short forms of the numéro allocataire are
/// personal data: `inspect` must not print them either.
#[test]
fn inspect_hides_emails_phones_and_short_id_headers() {
    let output = suivi(&["inspect", arg(&pipeline("identifier_headers.csv"))]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    for value in [
        "marie.dupont@example.fr",
        "jean.martin@example.fr",
        "06 12 34 56 78",
        "0123456",
    ] {
        assert!(!out.contains(value), "inspect printed {value}:\n{out}");
    }
    // Other columns still show examples.
    assert!(out.contains("'12,50'"), "{out}");
}

// --- CSV -----------------------------------------------------------------------------------

#[test]
fn csv_encodings_and_delimiters_are_detected() {
    let (output, table, rejects) = check_with_rejects(&pipeline("csv_files.toml"), &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    let cp1252 = check_row(&table, "caf_cp1252");
    assert_eq!(cp1252.file, "cp1252_decimal_comma.csv");
    assert_eq!(cp1252.sheet, None);
    // Line 1 title, 2 empty, 3 header, 4-8 data (8: 31/02/2019).
    assert_eq!(cp1252.figures(), [3, 8, 4, 1, 2]);
    assert_eq!(check_row(&table, "caf_bom").figures(), [1, 4, 3, 0, 0]);
    assert_eq!(check_row(&table, "caf_comma").figures(), [1, 4, 3, 0, 0]);
    assert_eq!(
        rejects,
        [RejectLine {
            file: "cp1252_decimal_comma.csv".into(),
            sheet: String::new(),
            row: 8,
            column: "DTOUVDRT".into(),
            reason: "date".into(),
            message: "unparseable date".into(),
            value: "31/02/2019".into(),
        }]
    );

    let tables = read_tables(&pipeline("csv_files.toml"));
    let frame = frame_of(&tables, "caf_cp1252");
    assert_eq!(rows(frame), [4, 5, 6, 7]);
    assert_eq!(
        texts(frame, "libelle_commune"),
        some_str(&[
            "Saint-Étienne",
            "Andrézieux-Bouthéon",
            "La Côte-en-Couzan",
            "Roanne"
        ])
    );
    assert_eq!(
        decimals(frame, "montant_verse"),
        some(&[559.74, 1012.3, 123.0, 0.0])
    );
    assert_eq!(
        texts(frame, "commune"),
        some_str(&["42218", "42005", "42217", "42187"])
    );
    assert_eq!(dates(frame, "moisref"), vec![ymd(2020, 1, 1); 4]);
    assert_eq!(
        integers(frame, "numalloc"),
        pseudonyms(&["0123456", "0234567", "0345678", "0456789"])
    );
    assert_eq!(bools(frame, "sdd"), [true, false, true, true]);

    let frame = frame_of(&tables, "caf_bom");
    assert_eq!(rows(frame), [2, 3, 4]);
    assert_eq!(dates(frame, "moisref"), vec![ymd(2020, 2, 1); 3]);
    assert_eq!(
        texts(frame, "libelle_commune"),
        some_str(&[
            "Saint-Étienne",
            "Andrézieux-Bouthéon",
            "La Côte-Saint-Didier"
        ])
    );
    assert_eq!(bools(frame, "sdd"), [true, false, true]);
    assert_eq!(
        decimals(frame, "montant_verse"),
        some(&[559.74, 1012.3, 123.0])
    );

    let frame = frame_of(&tables, "caf_comma");
    assert_eq!(rows(frame), [2, 3, 4]);
    assert_eq!(dates(frame, "moisref"), vec![ymd(2020, 3, 1); 3]);
    assert_eq!(
        texts(frame, "libelle_commune"),
        some_str(&[
            "Saint-Étienne, centre",
            "Andrézieux-Bouthéon",
            "La Côte-en-Couzan"
        ])
    );
    assert_eq!(
        dates(frame, "date_ouverture"),
        [ymd(2018, 3, 15), ymd(2019, 9, 1), ymd(2019, 12, 12)]
    );
    assert_eq!(
        decimals(frame, "montant_verse"),
        some(&[559.74, 1012.3, 123.0])
    );
    assert_eq!(integers(frame, "etat_droit"), some(&[2, 2, 4]));

    for (file, encoding) in [
        ("cp1252_decimal_comma.csv", "windows-1252"),
        ("utf8_bom.csv", "UTF-8"),
        ("comma_utf8.csv", "UTF-8"),
    ] {
        let output = suivi(&["inspect", arg(&pipeline(file))]);
        assert_exit(&output, 0);
        let out = stdout(&output);
        assert!(
            out.lines().any(|l| l == format!("encoding {encoding}")),
            "{file}:\n{out}"
        );
        assert!(out.contains("LIBCOM"), "{file}:\n{out}");
    }
}

/// `inspect` suggests a type per column: a commune code column written as
/// text (every CSV) must come out as `commune`, not `date`.
#[test]
fn inspect_infers_commune_codes_written_as_text() {
    let output = suivi(&["inspect", arg(&pipeline("cp1252_decimal_comma.csv"))]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    let line = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("CODCOM"))
        .unwrap_or_else(|| panic!("no CODCOM column:\n{out}"));
    assert_eq!(line.split_whitespace().nth(2), Some("commune"), "{line}");
}

// --- bad inputs --------------------------------------------------------------------------

#[test]
fn missing_input_file_exits_3_naming_it() {
    let output = suivi(&["check", arg(&pipeline("bad_missing_file.toml"))]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(err.contains("absent_2020.xlsx"), "{err}");
    assert!(err.contains("no input file matches"), "{err}");
    // --year changes the name looked for.
    let output = suivi(&[
        "check",
        arg(&pipeline("bad_missing_file.toml")),
        "--year",
        "2021",
    ]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("absent_2021.xlsx"),
        "{}",
        stderr(&output)
    );
    // So does --inputs, and a folder that does not exist is named too.
    let missing = pipeline("no_such_folder");
    let output = suivi(&[
        "check",
        arg(&pipeline("title_rows.toml")),
        "--inputs",
        arg(&missing),
    ]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("no_such_folder"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn truncated_workbook_exits_3_naming_it() {
    let output = suivi(&["check", arg(&pipeline("bad_truncated.toml"))]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(err.contains("truncated.xlsx"), "{err}");
    assert!(err.contains("cannot open the workbook"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let output = suivi(&["inspect", arg(&pipeline("truncated.xlsx"))]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("truncated.xlsx"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_sheet_exits_3_listing_the_sheets() {
    let output = suivi(&["check", arg(&pipeline("bad_sheet.toml"))]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(
        err.contains("title_rows_and_total.xlsx, sheet 'Orientations 2020': no such sheet"),
        "{err}"
    );
    assert!(
        err.contains("the workbook has 'Orientations', 'Lisez-moi'"),
        "{err}"
    );
    let output = suivi(&[
        "inspect",
        arg(&pipeline("title_rows_and_total.xlsx")),
        "--sheet",
        "Orientations 2020",
    ]);
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("'Lisez-moi'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_required_column_exits_3_naming_it() {
    let output = suivi(&["check", arg(&pipeline("bad_column.toml"))]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(
        err.contains("title_rows_and_total.xlsx, sheet 'Orientations'"),
        "{err}"
    );
    assert!(
        err.contains("declared column 'Date signature CER' not found in the header (row 4)"),
        "{err}"
    );
    // The headers found are listed as written, to spot a spelling.
    assert!(err.contains("'DATE D'ORIENTATION'"), "{err}");
}

#[test]
fn empty_csv_exits_3() {
    let output = suivi(&["check", arg(&pipeline("bad_empty_csv.toml"))]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(err.contains("empty.csv: the file is empty"), "{err}");
}

#[test]
fn csv_declared_utf8_holding_windows_1252_exits_3() {
    let output = suivi(&["check", arg(&pipeline("bad_encoding.toml"))]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(
        err.contains("cp1252_decimal_comma.csv: not valid UTF-8 text (first bad byte on line 1)"),
        "{err}"
    );
}

#[test]
fn pipeline_key_typo_exits_2_with_its_line() {
    let output = suivi(&["check", arg(&pipeline("bad_typo_key.toml"))]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("bad_typo_key.toml, line 18"), "{err}");
    assert!(err.contains("unknown field `requried`"), "{err}");
}

#[test]
fn pipeline_unknown_type_exits_2_with_its_line() {
    let output = suivi(&["check", arg(&pipeline("bad_unknown_type.toml"))]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("bad_unknown_type.toml, line 17"), "{err}");
    assert!(err.contains("unknown variant `datetime`"), "{err}");
}

#[test]
fn bad_rows_are_listed_with_their_row_and_column() {
    let pipeline = pipeline("rejects.toml");
    let (output, table, rejects) = check_with_rejects(&pipeline, &["--show", "3"]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    // Title row 1, header row 2, data rows 3-14.
    assert_eq!(check_row(&table, "mouvements").figures(), [2, 14, 5, 7, 1]);
    assert_eq!(
        keys(&rejects),
        [
            (5, "Date mouvement", "date"),
            (7, "Commune", "commune"),
            (9, "", "duplicate"),
            (11, "Commune", "missing"),
            // Row 12 repeats row 4 in other shapes (id as a number, date as
            // text, upper case category, "200,00"): the same values.
            (12, "", "duplicate"),
            (13, "N° allocataire", "cell_error"),
            (14, "Montant", "cell_error"),
        ]
    );
    let values: Vec<(&str, &str)> = rejects
        .iter()
        .map(|r| (r.message.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(
        values,
        [
            ("unparseable date", "mardi 3 mars"),
            (
                "unknown commune: correct the file, or add the code to the commune passage table (reference.commune_passage) if it belongs to a former commune",
                "99999"
            ),
            ("exact duplicate of row 3", ""),
            ("required value missing", ""),
            ("exact duplicate of row 4", ""),
            // Whatever an identifier cell holds, it is not listed.
            ("spreadsheet error value", "(identifiant masqué)"),
            ("spreadsheet error value", "#ERREUR"),
        ]
    );
    assert!(
        rejects
            .iter()
            .all(|r| r.file == "rejects.xlsx" && r.sheet == "Mouvements")
    );

    let out = stdout(&output);
    let listed: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("7 rejected rows in rejects.xlsx, sheet 'Mouvements':"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        listed,
        [
            "  row 5, column 'Date mouvement': unparseable date ('mardi 3 mars')",
            "  row 7, column 'Commune': unknown commune ('99999'): correct the file, or add the code to the commune passage table (reference.commune_passage) if it belongs to a former commune",
            "  row 9: exact duplicate of row 3",
            "  ... and 4 more (--rejects FILE lists them all)",
        ],
        "{out}"
    );
}

/// docs/DOMAIN.md: a row that repeats an earlier row in every column is a
/// duplicate (here forced by `duplicates = "reject"`). Two rows that differ
/// in a column the pipeline does not declare (here `N° mandat`) are not
/// copies of each other.
#[test]
fn rows_differing_in_an_undeclared_column_are_not_duplicates() {
    let (output, table, rejects) = check_with_rejects(&pipeline("undeclared_column.toml"), &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    assert_eq!(check_row(&table, "mandats").figures(), [1, 4, 2, 1, 0]);
    assert_eq!(keys(&rejects), [(4, "", "duplicate")]);
    assert_eq!(rejects[0].message, "exact duplicate of row 2");
}

#[test]
fn reject_rate_above_the_limit_exits_3() {
    let (output, table, rejects) = check_with_rejects(&pipeline("reject_rate.toml"), &[]);
    assert_exit(&output, 3);
    // The table and the rejects file are still written, to see why.
    assert_all_reconciled(&table);
    assert_eq!(check_row(&table, "mouvements").figures(), [2, 14, 5, 7, 1]);
    assert_eq!(rejects.len(), 7);
    let err = stderr(&output);
    assert!(
        err.contains(
            "rejects.xlsx, sheet 'Mouvements': 7 of 12 data rows rejected (58.3 %), above the pipeline's limit of 10.0 %"
        ),
        "{err}"
    );
}

#[test]
fn hundred_thousand_character_cell_is_rejected_as_too_long() {
    let (output, table, rejects) = check_with_rejects(&pipeline("long_text.toml"), &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    assert_eq!(check_row(&table, "actions").figures(), [1, 4, 2, 1, 0]);
    assert_eq!(keys(&rejects), [(3, "Lieu", "too_long")]);
    assert_eq!(rejects[0].message, "value longer than 32,767 characters");
    // The listing shows the start of the value, not 100,000 characters.
    assert_eq!(rejects[0].value, format!("{}…", "x".repeat(80)));
    assert!(
        output.stdout.len() < 2_000,
        "{} bytes on stdout",
        output.stdout.len()
    );
}

/// A header, 3 data rows, then a lone blank-looking cell on row 1,000,000:
/// the used range spans a million rows. Generated here, too big to commit.
#[test]
fn million_row_sheet_with_three_data_rows() {
    use rust_xlsxwriter::{Format, Workbook};
    const LAST_ROW: u32 = 999_999; // 0-based: row 1,000,000

    let dir = tempfile::tempdir().unwrap();
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory().unwrap();
    sheet.set_name("Paiements").unwrap();
    for (col, header) in ["N° allocataire", "Date", "Commune", "Montant"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    for (i, (id, date, commune, amount)) in [
        ("0123456", "02/03/2020", 42218.0, 10.5),
        ("0234567", "03/03/2020", 42187.0, 20.0),
        ("0345678", "04/03/2020", 42072.0, 30.25),
    ]
    .into_iter()
    .enumerate()
    {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, id).unwrap();
        sheet.write_string(row, 1, date).unwrap();
        sheet.write_number(row, 2, commune).unwrap();
        sheet.write_number(row, 3, amount).unwrap();
    }
    // A cell holding a space, as left behind by clearing a cell with the space bar.
    sheet.write_string(LAST_ROW, 3, " ").unwrap();
    workbook.save(dir.path().join("huge_sheet.xlsx")).unwrap();

    let started = std::time::Instant::now();
    let (output, table, rejects) =
        check_with_rejects(&pipeline("huge_sheet.toml"), &["--inputs", arg(dir.path())]);
    let elapsed = started.elapsed();
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    assert_eq!(
        check_row(&table, "huge").figures(),
        [1, 1_000_000, 3, 0, 999_996]
    );
    assert!(rejects.is_empty(), "{rejects:#?}");
    assert!(elapsed.as_secs() < 20, "took {elapsed:?}");

    // A formatted but empty cell far down: no value, so not a row of data.
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory().unwrap();
    for (col, header) in ["N° allocataire", "Date", "Commune", "Montant"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "0123456").unwrap();
    sheet.write_string(1, 1, "02/03/2020").unwrap();
    sheet.write_number(1, 2, 42218.0).unwrap();
    sheet
        .write_blank(LAST_ROW, 3, &Format::new().set_bold())
        .unwrap();
    workbook.save(dir.path().join("huge_sheet.xlsx")).unwrap();
    let (output, table, _) =
        check_with_rejects(&pipeline("huge_sheet.toml"), &["--inputs", arg(dir.path())]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    let row = check_row(&table, "huge");
    assert_eq!((row.header_row, row.accepted, row.rejected), (1, 1, 0));
}

/// One stray space in the last column (XFD) a million rows down: a file of a
/// few KB whose used range is 16,384 columns by 1,000,000 rows. Reading it
/// must not materialise 16 billion cells. The binary runs under a 4 GB
/// address-space limit so that a failure is an abort, not a swapping machine.
#[test]
fn stray_cell_far_down_and_far_right_does_not_crash() {
    use rust_xlsxwriter::Workbook;
    let dir = tempfile::tempdir().unwrap();
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory().unwrap();
    for (col, header) in ["N° allocataire", "Date", "Commune", "Montant"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "0123456").unwrap();
    sheet.write_string(1, 1, "02/03/2020").unwrap();
    sheet.write_number(1, 2, 42218.0).unwrap();
    sheet.write_string(999_999, 16_383, " ").unwrap();
    workbook.save(dir.path().join("huge_sheet.xlsx")).unwrap();

    let limited = |args: &[&str]| {
        let command = suivi_command(&[]);
        let binary = command.get_program().to_owned();
        let mut shell = std::process::Command::new("sh");
        shell
            .arg("-c")
            .arg("ulimit -v 4000000 && exec \"$0\" \"$@\"")
            .arg(binary)
            .args(args);
        for (key, value) in command.get_envs() {
            match value {
                Some(v) => shell.env(key, v),
                None => shell.env_remove(key),
            };
        }
        shell.output().unwrap()
    };
    let output = limited(&[
        "check",
        arg(&pipeline("huge_sheet.toml")),
        "--inputs",
        arg(dir.path()),
    ]);
    assert_exit(&output, 0);
    let table = check_table(&stdout(&output));
    assert_all_reconciled(&table);
    let row = check_row(&table, "huge");
    assert_eq!((row.header_row, row.accepted, row.rejected), (1, 1, 0));

    let output = limited(&["inspect", arg(&dir.path().join("huge_sheet.xlsx"))]);
    assert_exit(&output, 0);
}

/// Issue 15: inspect's suggested mapping pastes as it is (a category with
/// the values it saw), and long examples are cut with an ellipsis.
#[test]
fn inspect_suggests_a_mapping_that_pastes_as_it_is() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs/departement_insertion_2020.xlsx");
    let output = suivi(&["inspect", arg(&file), "--sheet", "Accueil social"]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    let mapping: String = out
        .lines()
        .skip_while(|l| *l != "columns = [")
        .take_while(|l| *l != "]")
        .chain(["]"])
        .collect::<Vec<_>>()
        .join("\n");
    assert!(mapping.contains("values = ["), "{mapping}");
    let dir = tempfile::tempdir().unwrap();
    let territories =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs/referentiel/territoires_loire.csv");
    let passage =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("inputs/referentiel/passage_communes_loire.csv");
    let pipeline = format!(
        "[pipeline]\nname = \"inspect\"\ndepartement = \"Loire\"\nyear = 2020\ninputs = {:?}\n\n\
         [reference]\nterritories = {:?}\ncommune_passage = {:?}\n\n\
         [sources.accueil]\nfile = \"departement_insertion_2020.xlsx\"\nsheet = \"Accueil social\"\n{mapping}\n",
        file.parent().unwrap(),
        territories,
        passage
    );
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, pipeline).unwrap();
    let output = suivi(&["check", arg(&path)]);
    assert_exit(&output, 0);
    let table = check_table(&stdout(&output));
    assert_eq!(check_row(&table, "accueil").rejected, 0);
}

/// `duplicates = "keep"`: copies of rows that identify someone (rows 9 and
/// 12 of rejects.xlsx) are kept and listed instead of rejected.
#[test]
fn the_keep_override_keeps_identified_copies_as_possible_double_entries() {
    let text = std::fs::read_to_string(pipeline("rejects.toml")).unwrap();
    let dir = fixture("ingest");
    let text = text
        .replace(
            "sheet = \"Mouvements\"\n",
            "sheet = \"Mouvements\"\nduplicates = \"keep\"\n",
        )
        .replace("inputs = \".\"", &format!("inputs = {:?}", dir))
        .replace(
            "\"territoires.csv\"",
            &format!("{:?}", dir.join("territoires.csv")),
        )
        .replace("\"passage.csv\"", &format!("{:?}", dir.join("passage.csv")));
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("keep.toml");
    std::fs::write(&path, text).unwrap();
    let (output, table, rejects) = check_with_rejects(&path, &[]);
    assert_exit(&output, 0);
    let row = check_row(&table, "mouvements");
    row.assert_reconciled();
    // Of the 12 data rows, 7 were rejected, 2 of them as duplicates.
    assert_eq!((row.accepted, row.rejected, row.repeats), (7, 5, 2));
    assert!(
        keys(&rejects)
            .iter()
            .all(|(_, _, reason)| *reason != "duplicate")
    );
    assert!(
        stdout(&output).contains("row 3 repeated at row 9 (2 identical rows)"),
        "{}",
        stdout(&output)
    );
}

/// Duplicates over a source of two CSV files of 100,000 rows each: copies
/// within a block of lines, across blocks (a CSV file is parsed in batches
/// of 65,536 lines) and across files, and copies without an identifier
/// (kept, listed). The expectation is worked out here, from the lines
/// written, with a plain map of lines seen.
#[test]
fn duplicates_are_found_across_blocks_and_files_of_a_large_source() {
    use std::collections::HashMap;
    const ROWS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let fixtures = fixture("ingest");
    let line = |k: usize| {
        // Every 1,000th row has no identifier; `nb` makes every generated row unique.
        let id = if k % 1_000 == 7 {
            String::new()
        } else {
            format!("{:07}", k * 7_919 % 10_000_000)
        };
        format!("{id};2020-{:02};{k}", k % 12 + 1)
    };
    let mut files: Vec<Vec<String>> = vec![
        (0..ROWS).map(line).collect(),
        (ROWS..2 * ROWS).map(line).collect(),
    ];
    // (file, 0-based data row) of each copy and of its original.
    let copies = [
        ((0, 9), (0, 11)),         // same block
        ((0, 10), (0, 70_000)),    // next block
        ((0, 7), (0, 90_000)),     // no identifier: kept
        ((0, 99_999), (1, 3)),     // next file
        ((1, 2_007), (1, 99_000)), // no identifier, second file
        ((0, 10), (1, 50_000)),    // a third copy, in the next file
        ((1, 60_000), (1, 60_001)),
    ];
    for ((f, r), (g, s)) in copies {
        files[g][s] = files[f][r].clone();
    }
    let names = ["mouvements_1.csv", "mouvements_2.csv"];
    let mut expected_rejects = Vec::new();
    let mut expected_repeats = 0;
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for (f, lines) in files.iter().enumerate() {
        for (r, text) in lines.iter().enumerate() {
            // Line 1 is the header: data row r is on line r + 2.
            match seen.get(text.as_str()) {
                None => {
                    seen.insert(text, (f, r + 2));
                }
                Some(_) if text.starts_with(';') => expected_repeats += 1,
                Some(&(g, row)) => {
                    let of = if g == f {
                        String::new()
                    } else {
                        format!(" of {}", names[g])
                    };
                    expected_rejects.push((
                        names[f].to_string(),
                        r + 2,
                        format!("exact duplicate of row {row}{of}"),
                    ));
                }
            }
        }
    }
    assert_eq!((expected_rejects.len(), expected_repeats), (5, 2));
    for (name, lines) in names.iter().zip(&files) {
        let text = format!("numalloc;mois;nb\n{}\n", lines.join("\n"));
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let pipeline = dir.path().join("large.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"[pipeline]
name = "Ingest tests - large source"
departement = "Loire"
year = 2020
inputs = {inputs:?}
max_reject_rate = 0.5

[reference]
territories = {territories:?}

[sources.mouvements]
file = "mouvements_*.csv"
several_files = true
columns = [
  {{ name = "numalloc", header = "numalloc", type = "id", width = 7 }},
  {{ name = "mois", header = "mois", type = "month", required = true }},
  {{ name = "nb", header = "nb", type = "integer", required = true }},
]
"#,
            inputs = dir.path(),
            territories = fixtures.join("territoires.csv"),
        ),
    )
    .unwrap();
    let (output, table, rejects) = check_with_rejects(&pipeline, &[]);
    assert_exit(&output, 0);
    assert_all_reconciled(&table);
    let found: Vec<(String, usize, String)> = rejects
        .iter()
        .map(|r| {
            assert_eq!(r.reason, "duplicate");
            (r.file.clone(), r.row, r.message.clone())
        })
        .collect();
    assert_eq!(found, expected_rejects);
    let repeats: usize = table.iter().map(|row| row.repeats).sum();
    let accepted: usize = table.iter().map(|row| row.accepted).sum();
    assert_eq!(repeats, expected_repeats);
    assert_eq!(accepted, 2 * ROWS - expected_rejects.len());
}

/// Issue 38: `inspect`'s suggested mapping pastes. For every spreadsheet and
/// CSV fixture of the suite that `inspect` describes, its `columns = [...]`
/// goes as it is into a pipeline, and `check` accepts the pipeline (exit 0,
/// or 3 when the file itself is refused; never 2, a pipeline it cannot read).
#[test]
fn inspect_suggestions_paste_into_a_pipeline_that_check_accepts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pasted = 0;
    for folder in ["tests/fixtures/ingest", "tests/fixtures/hostile"] {
        let folder = root.join(folder);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("csv" | "xlsx" | "xls" | "ods")
                )
            })
            .collect();
        files.sort();
        for file in files {
            let output = suivi(&["inspect", arg(&file)]);
            let out = stdout(&output);
            let Some(start) = out.find("columns = [") else {
                continue;
            };
            let columns = &out[start..];
            let sheet = out
                .lines()
                .find_map(|l| l.strip_suffix("  <- described below"))
                .map(|s| format!("sheet = {:?}\n", s.trim()))
                .unwrap_or_default();
            let dir = tempfile::tempdir().unwrap();
            let pipeline = dir.path().join("pasted.toml");
            std::fs::write(
                &pipeline,
                format!(
                    "[pipeline]\nname = \"Pasted\"\ndepartement = \"Loire\"\nyear = 2020\n\
                     inputs = {:?}\nmax_reject_rate = 1.0\n\n[reference]\nterritories = {:?}\n\n\
                     [sources.pasted]\nfile = {:?}\n{sheet}{columns}",
                    folder.to_str().unwrap(),
                    root.join("inputs/referentiel/territoires_loire.csv")
                        .to_str()
                        .unwrap(),
                    file.file_name().unwrap().to_str().unwrap(),
                ),
            )
            .unwrap();
            let checked = suivi(&["check", arg(&pipeline)]);
            assert_ne!(
                checked.status.code(),
                Some(2),
                "{}: the suggestion does not paste:\n{columns}\n{}",
                file.display(),
                stderr(&checked)
            );
            pasted += 1;
        }
    }
    assert!(pasted >= 15, "{pasted} suggestions pasted");
}

/// Issue 38: a CSV whose first title is empty (an index column, as pandas
/// writes it) keeps its first row as the header; a sheet of numbers only is
/// described, not called empty; awkward titles (saved by LibreOffice from
/// `2019`, `1er RDV`, `Œuvre`, `Søren`, a repeated title, an untitled
/// column, a title over two lines) give names a pipeline accepts.
#[test]
fn inspect_reads_awkward_headers_as_a_person_would() {
    let index = stdout(&suivi(&[
        "inspect",
        arg(&fixture("ingest/index_column.csv")),
    ]));
    assert!(index.contains("(header guessed at row 1)"), "{index}");
    assert!(
        index.contains("# { name = \"colonne_a\", header = \"\""),
        "{index}"
    );

    let numbers = stdout(&suivi(&[
        "inspect",
        arg(&fixture("ingest/numbers_only.csv")),
    ]));
    assert!(numbers.contains("no row of titles"), "{numbers}");
    assert!(!numbers.contains("empty"), "{numbers}");

    let awkward = stdout(&suivi(&[
        "inspect",
        arg(&fixture("ingest/awkward_titles.xlsx")),
    ]));
    for line in [
        "{ name = \"c_2019\", header = \"2019\"",
        "{ name = \"c_1er_rdv\", header = \"1er RDV\"",
        "{ name = \"oeuvre\", header = \"Œuvre\"",
        "{ name = \"soren\", header = \"Søren\"",
        "{ name = \"montant\", header = \"Montant\"",
        "{ name = \"montant_2\", header = \"Montant\"",
        "# { name = \"colonne_g\", header = \"\"",
        "{ name = \"date_d_entree\", header = \"Date d'entrée\"",
    ] {
        assert!(awkward.contains(line), "{line}:\n{awkward}");
    }
}

/// Issue 38: a workbook in the 1904 date system (Excel for Mac's option)
/// whose dates are plain numbers: each is counted from 1 January 1904, not
/// 1900, in xlsx, xls and ods alike. The months are those of the dates the
/// fixture's comment gives (15/01, 02/03, 31/03, 31/12/2020): read from 1900
/// they would all fall in 2016 and every count of 2020 would be 0.
#[test]
fn dates_of_a_1904_workbook_are_counted_from_1904() {
    let out = tempfile::tempdir().unwrap();
    let output = suivi(&[
        "run",
        arg(&pipeline("dates_1904.toml")),
        "--out",
        arg(out.path()),
        "--diffusion",
        "interne",
    ]);
    assert_exit(&output, 0);
    let table = std::fs::read_to_string(out.path().join("indicateurs_2020_interne.csv")).unwrap();
    for id in ["X-01", "X-02", "X-03"] {
        let value = |month: &str| -> String {
            table
                .lines()
                .map(|l| l.split(';').collect::<Vec<_>>())
                .find(|f| f[0] == id && f[3] == "Loire" && f[4] == month && f[5].is_empty())
                .map(|f| f[6].to_owned())
                .unwrap_or_else(|| panic!("{id} month {month:?} not in the table"))
        };
        assert_eq!(value(""), "4", "{id}");
        assert_eq!(
            ["1", "2", "3", "12"].map(value),
            ["1", "0", "2", "1"].map(str::to_owned),
            "{id}"
        );
    }
}

/// Issue 38: a form export (Démarches simplifiées) with answers of 20 to 44
/// lines in quotes, holding commas and semicolons: the unclosed-quote guard
/// counts the lines of one field, not of the record, and the delimiter is
/// sniffed following quotes across lines, so all 30 records are read.
#[test]
fn a_form_export_with_long_answers_over_many_lines_is_read_whole() {
    let output = suivi(&["check", arg(&pipeline("demarches_simplifiees.toml"))]);
    assert_exit(&output, 0);
    let table = check_table(&stdout(&output));
    let row = check_row(&table, "dossiers");
    row.assert_reconciled();
    assert_eq!((row.accepted, row.rejected), (30, 0), "{row:?}");
}

/// The value of indicator `id` for the département over the year, from a
/// run's `indicateurs_<Y>_interne.csv`.
fn yearly_value(table: &str, id: &str) -> String {
    table
        .lines()
        .map(|l| l.split(';').collect::<Vec<_>>())
        .find(|f| f[0] == id && f[3] == "Loire" && f[4].is_empty() && f[5].is_empty())
        .map(|f| f[6].to_owned())
        .unwrap_or_else(|| panic!("{id} not in the table"))
}

/// `indicateurs_2020_interne.csv` of a run of sheets.toml.
fn sheets_indicators() -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = suivi(&[
        "run",
        arg(&pipeline("sheets.toml")),
        "--out",
        arg(dir.path()),
        "--diffusion",
        "interne",
    ]);
    assert_exit(&output, 0);
    std::fs::read_to_string(dir.path().join("indicateurs_2020_interne.csv")).unwrap()
}

/// Issue 38: merged_cells.* merge the commune down over three sessions
/// and a date over two (sheets.toml says how they were made). Every row
/// reads the merged value, as the sheet shows it: 4 sessions and 22
/// participants (5 + 7 + 4 + 6) in each format, none rejected, and `check`
/// says how many cells took a merged value (2 + 2 + 1, the title's included).
#[test]
fn merged_cells_give_their_value_to_every_row_they_cover() {
    let output = suivi(&["check", arg(&pipeline("sheets.toml"))]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    let table = check_table(&out);
    for (source, file) in [
        ("merged_xlsx", "merged_cells.xlsx"),
        ("merged_xls", "merged_cells.xls"),
        ("merged_ods", "merged_cells.ods"),
    ] {
        let row = check_row(&table, source);
        row.assert_reconciled();
        assert_eq!(
            (row.header_row, row.accepted, row.rejected),
            (2, 4, 0),
            "{row:?}"
        );
        assert!(
            out.contains(&format!(
                "{file}, sheet 'Séances': 5 cells took their value from a merged range"
            )),
            "{out}"
        );
    }
    let table = sheets_indicators();
    for id in ["S-01", "S-02", "S-03"] {
        assert_eq!(yearly_value(&table, id), "22", "{id}");
    }
}

/// Issue 38: a source reads a sheet per month, listed (in any order and
/// with another case or accents) or matched by a pattern, in the workbook's
/// order; the hidden `2020-00 Modèle` (99 participants) matches the pattern
/// but is not read. Each sheet has its own line, and a row of `Mars`
/// identical to one of `Janvier` is found across the sheets. Participants:
/// 5 + 3 + 4 + 4 + 6 + 5 = 27 in every format.
#[test]
fn a_source_reads_a_sheet_per_month_listed_or_matched() {
    let output = suivi(&["check", arg(&pipeline("sheets.toml"))]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    let table = check_table(&out);
    let months = ["2020-01 Janvier", "2020-02 Février", "2020-03 Mars"];
    for (source, file) in [
        ("listed_xlsx", "sheet_per_month.xlsx"),
        ("listed_xls", "sheet_per_month.xls"),
        ("pattern_ods", "sheet_per_month.ods"),
        ("pattern_xlsx", "sheet_per_month.xlsx"),
    ] {
        let rows: Vec<&CheckRow> = table.iter().filter(|r| r.source == source).collect();
        let sheets: Vec<&str> = rows.iter().filter_map(|r| r.sheet.as_deref()).collect();
        assert_eq!(sheets, months, "{source}");
        for row in &rows {
            row.assert_reconciled();
            assert_eq!((row.accepted, row.rejected), (2, 0), "{row:?}");
        }
        assert_eq!(
            rows.iter().map(|r| r.repeats).collect::<Vec<_>>(),
            [0, 1, 1]
        );
        assert!(
            out.contains(&format!(
                "row 2 of {file} (2020-01 Janvier) repeated at row 3"
            )),
            "{out}"
        );
    }
    let table = sheets_indicators();
    for id in ["S-04", "S-05", "S-06", "S-07"] {
        assert_eq!(yearly_value(&table, id), "27", "{id}");
    }
}

/// sheets.toml with its first source reading `sheet` = `written` instead,
/// its paths made absolute, in `dir`.
fn sheets_pipeline_reading(dir: &Path, written: &str) -> PathBuf {
    let fixtures = pipeline("sheets.toml").parent().unwrap().to_owned();
    let text = std::fs::read_to_string(pipeline("sheets.toml"))
        .unwrap()
        .replace(
            "inputs = \".\"",
            &format!("inputs = {:?}", fixtures.display().to_string()),
        )
        .replace(
            "territories = \"territoires.csv\"",
            &format!(
                "territories = {:?}",
                fixtures.join("territoires.csv").display().to_string()
            ),
        )
        .replacen(
            "sheet = [\"2020-01 Janvier\", \"2020-02 Février\", \"2020-03 Mars\"]",
            &format!("sheet = {written}"),
            1,
        );
    let path = dir.join("sheets.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A listed sheet that is missing stops the run (exit 3) naming it and the
/// sheets there are; so does a pattern that no visible sheet matches (the
/// hidden one does not count); an empty list is a pipeline error (exit 2).
#[test]
fn a_missing_listed_sheet_stops_the_run_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let listed = sheets_pipeline_reading(dir.path(), r#"["2020-01 Janvier", "2020-04 Avril"]"#);
    let output = suivi(&["check", arg(&listed)]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(err.contains("no sheet named '2020-04 Avril'"), "{err}");
    assert!(err.contains("'2020-00 Modèle', '2020-02 Février'"), "{err}");
    let pattern = sheets_pipeline_reading(dir.path(), r#""2020-00*""#);
    let output = suivi(&["check", arg(&pattern)]);
    assert_exit(&output, 3);
    let err = stderr(&output);
    assert!(
        err.contains("no visible worksheet matches the pattern '2020-00*'"),
        "{err}"
    );
    let empty = sheets_pipeline_reading(dir.path(), "[]");
    let output = suivi(&["check", arg(&empty)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("the list of sheets is empty"));
}
