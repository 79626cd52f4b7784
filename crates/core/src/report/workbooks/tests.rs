//! Workbooks written from a small hand-made context and read back: masks,
//! text that looks like a formula, the internal banner, the rejects cap.

use super::styles::RESTRICTED_BANNER;
use super::*;
use crate::indicators::double_entries::{DoubleEntries, DoubleEntry};
use crate::indicators::rows::Row;
use crate::indicators::{CoverageResult, Figure, FindingResult, IndicatorFigures};
use crate::ingest::{FileReport, Reason, Reject};
use crate::parse::Problem;
use crate::pipeline::Pipeline;
use crate::report::Confidentiality;
use calamine::{Data, Reader, open_workbook_auto};
use polars::prelude::*;

/// Values that only masked cells hold: none may appear as a number.
const MASKED_VALUES: [f64; 4] = [4.0, 7.0, 0.123456, 3.0];
const FORMULA_LIKE: &str = "=1+1";

fn pipeline() -> Pipeline {
    let path = crate::repository().join("pipelines/loire.toml");
    crate::pipeline::load(&path, Some(2020), None).expect("the sample pipeline loads")
}

fn row(indicator: &str, territory: &str, month: Option<u32>, value: f64) -> Row {
    Row {
        indicator: indicator.to_owned(),
        action: String::new(),
        label: String::new(),
        territory: territory.to_owned(),
        is_total: territory == "Loire",
        month,
        breakdown: None,
        value: Some(value),
        numerator: None,
        denominator: None,
        target: None,
        met: None,
        previous: None,
        masked: false,
        units: value,
    }
}

fn masked(mut row: Row) -> Row {
    row.masked = true;
    row
}

fn rows(pipeline: &Pipeline) -> Vec<Row> {
    let mut rows = vec![
        Row {
            previous: Some(110.0),
            ..row("RSA-01", "Loire", None, 120.0)
        },
        row("RSA-01", "Loire", Some(1), 7.0),
        row("RSA-01", "Loire", Some(2), 113.0),
        row("RSA-01", "Loire", Some(3), 114.0),
        row("RSA-01", "Loire", Some(4), 115.0),
        row("RSA-01", "Loire", Some(5), 116.0),
        row("RSA-01", "Loire", Some(6), 117.0),
        row("RSA-01", "Loire", Some(7), 118.0),
        row("RSA-01", "Loire", Some(8), 119.0),
        masked(row("RSA-01", "Forez", None, 4.0)),
        row("RSA-01", "Roannais", None, 116.0),
        masked(Row {
            previous: Some(0.5),
            met: Some(false),
            ..row("RSA-05", "Loire", None, 0.123456)
        }),
        row("ACC-03", "Loire", None, 50.0),
        Row {
            breakdown: Some(FORMULA_LIKE.to_owned()),
            ..row("ACC-03", "Loire", None, 47.0)
        },
        masked(Row {
            breakdown: Some("CAF".to_owned()),
            ..row("ACC-03", "Loire", None, 3.0)
        }),
        Row {
            numerator: Some(900.0),
            denominator: Some(1000.0),
            ..row("FIN-01", "Loire", None, 0.9)
        },
        Row {
            breakdown: Some("Action A".to_owned()),
            numerator: Some(900.0),
            denominator: Some(1000.0),
            ..row("FIN-01", "Loire", None, 0.9)
        },
    ];
    rows[1] = masked(rows[1].clone());
    for r in &mut rows {
        let indicator = pipeline
            .indicators
            .iter()
            .find(|i| i.id() == r.indicator)
            .expect("a catalogue indicator");
        r.action = indicator.action.clone();
        r.label = indicator.label.clone();
    }
    rows
}

fn files(rejects: usize) -> Vec<FileReport> {
    vec![FileReport {
        source: "caf_rsa".to_owned(),
        path: "inputs/caf_rsa_2020.csv".into(),
        sheet: None,
        merged_cells: 0,
        sha256: "ab".repeat(32),
        encoding: Some("windows-1252"),
        header_row: 1,
        rows_read: rejects + 10,
        read_ms: 0.0,
        accepted: 8,
        skipped: 1,
        totals: 0,
        inner_totals: 0,
        notes: 0,
        rejects: (0..rejects)
            .map(|i| Reject {
                row: i + 2,
                column: "DTOUVDRT".to_owned(),
                value: format!("{FORMULA_LIKE}{i}"),
                reason: Reason::Cell(Problem::Date),
            })
            .collect(),
        repeats: Vec::new(),
        mapped: Vec::new(),
        absent_columns: Vec::new(),
    }]
}

struct Fixture {
    pipeline: Pipeline,
    rows: Vec<Row>,
    files: Vec<FileReport>,
    findings: Vec<FindingResult>,
    coverage: Vec<CoverageResult>,
    double_entries: DoubleEntries,
    changes: crate::report::changes::Changes,
}

impl Fixture {
    fn new(rejects: usize) -> Fixture {
        let pipeline = pipeline();
        Fixture {
            rows: rows(&pipeline),
            pipeline,
            files: files(rejects),
            findings: vec![FindingResult {
                id: "delais_negatifs".to_owned(),
                label: "Orientations datées avant l'ouverture".to_owned(),
                rows: df!("ligne" => [12i64, 40], "commune" => ["42218", FORMULA_LIKE])
                    .expect("a frame"),
            }],
            coverage: vec![CoverageResult {
                id: "trouves".to_owned(),
                label: "Part trouvée".to_owned(),
                numerator: 363.0,
                denominator: 385.0,
            }],
            changes: Default::default(),
            double_entries: Default::default(),
        }
    }

    fn context(&self, internal: bool) -> ReportContext<'_> {
        ReportContext {
            pipeline: &self.pipeline,
            rows: &self.rows,
            files: &self.files,
            findings: &self.findings,
            coverage: &self.coverage,
            double_entries: &self.double_entries,
            as_of: chrono::NaiveDate::from_ymd_opt(2020, 12, 31).expect("a date"),
            deliveries: &[],
            has_previous: true,
            previous_missing: &[],
            changes: &self.changes,
            confidentiality: Confidentiality {
                threshold: 5,
                symbol: "s".to_owned(),
                internal,
            },
        }
    }
}

/// Every sheet of a workbook: its name, values and formulas.
fn read(path: &Path) -> Vec<(String, calamine::Range<Data>, calamine::Range<String>)> {
    let mut workbook = open_workbook_auto(path).expect("the workbook opens");
    workbook
        .sheet_names()
        .into_iter()
        .map(|name| {
            let values = workbook.worksheet_range(&name).expect("values");
            let formulas = workbook.worksheet_formula(&name).expect("formulas");
            (name, values, formulas)
        })
        .collect()
}

/// The row of `sheet` whose column `col` holds `text`.
fn find_row<'a>(range: &'a calamine::Range<Data>, col: usize, text: &str) -> Vec<&'a [Data]> {
    range
        .rows()
        .filter(|r| {
            r.get(col)
                .is_some_and(|c| *c == Data::String(text.to_owned()))
        })
        .collect()
}

#[test]
fn masked_cells_show_the_symbol_and_never_their_number() {
    let fixture = Fixture::new(1);
    let dir = tempfile::tempdir().expect("a temp dir");
    let paths = write_all(&fixture.context(false), dir.path()).expect("workbooks written");
    assert_eq!(paths.len(), 3);
    let report = read(&dir.path().join("rapport_execution_2020.xlsx"));
    for (name, values, _) in &report {
        for cell in values.used_cells() {
            if let Data::Float(v) = cell.2 {
                assert!(
                    !MASKED_VALUES.iter().any(|m| (m - v).abs() < 1e-12),
                    "masked value {v} shown in sheet {name} at {:?}",
                    (cell.0, cell.1)
                );
            }
        }
    }
    let sheet = |name: &str| &report.iter().find(|s| s.0 == name).expect(name).1;
    let summary = sheet("Synthèse");
    let rsa05 = find_row(summary, 1, "RSA-05");
    let rsa05 = rsa05.first().expect("RSA-05 in the summary");
    assert_eq!(rsa05[4], Data::String("s".into()), "value");
    assert_eq!(rsa05[6], Data::Empty, "no attainment for a masked value");
    assert_eq!(rsa05[7], Data::Float(0.5), "N-1");
    assert_eq!(rsa05[8], Data::String("s".into()), "change");
    let rsa01 = find_row(summary, 1, "RSA-01");
    assert_eq!(rsa01[0][4], Data::Float(120.0));
    assert_eq!(rsa01[0][8], Data::Float(10.0));

    let territories = sheet("Par territoire");
    let header = find_row(territories, 0, "Indicateur")[0];
    let forez = header
        .iter()
        .position(|c| *c == Data::String("Forez".to_owned()))
        .expect("a Forez column");
    assert_eq!(
        find_row(territories, 0, "RSA-01")[0][forez],
        Data::String("s".into())
    );

    let insertion = sheet("Insertion des bénéficiaires");
    let loire = find_row(insertion, 0, "RSA-01");
    assert_eq!(loire[0][4], Data::String("s".into()), "January masked");
    assert_eq!(loire[0][5], Data::Float(113.0));
    // The chart reads a hidden copy of the line with January left empty.
    let copies: Vec<_> = insertion
        .rows()
        .filter(|r| r[0] == Data::Empty && r[5] == Data::Float(113.0))
        .collect();
    assert_eq!(copies.len(), 1, "one hidden copy for the chart");
    assert_eq!(copies[0][4], Data::Empty);
    assert_eq!(copies[0][11], Data::Float(119.0));
}

#[test]
fn text_that_looks_like_a_formula_is_written_as_text() {
    let fixture = Fixture::new(3);
    let dir = tempfile::tempdir().expect("a temp dir");
    write_all(&fixture.context(false), dir.path()).expect("workbooks written");
    let mut seen = 0;
    for file in [
        "rapport_execution_2020.xlsx",
        "suivi_financier_2020.xlsx",
        "qualite_donnees_2020.xlsx",
    ] {
        for (name, values, formulas) in read(&dir.path().join(file)) {
            seen += values
                .used_cells()
                .filter(|c| matches!(c.2, Data::String(s) if s.starts_with(FORMULA_LIKE)))
                .count();
            for (row, col, formula) in formulas.used_cells() {
                assert!(
                    file.starts_with("suivi_financier") && !formula.is_empty(),
                    "formula {formula} in {file}, sheet {name}, at {row},{col}"
                );
            }
        }
    }
    // The breakdown value, three rejected values, one finding value.
    assert_eq!(seen, 5);
}

#[test]
fn internal_mode_marks_every_sheet_and_names_files_interne() {
    let fixture = Fixture::new(0);
    let dir = tempfile::tempdir().expect("a temp dir");
    let paths = write_all(&fixture.context(true), dir.path()).expect("workbooks written");
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with("_2020_interne.xlsx"), "{name}");
        for (sheet, values, _) in read(path) {
            assert_eq!(
                values.get_value((0, 0)),
                Some(&Data::String(RESTRICTED_BANNER.into())),
                "{name}, sheet {sheet}"
            );
        }
    }
}

#[test]
fn rejected_rows_are_capped_with_a_note() {
    let fixture = Fixture::new(10);
    let context = fixture.context(false);
    let mut workbook = Workbook::new();
    quality::rejects_capped(&mut workbook, &context, 4).expect("sheet written");
    let bytes = workbook.save_to_buffer().expect("saved");
    let mut xlsx: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("opens");
    let range = xlsx.worksheet_range("Lignes rejetées").expect("the sheet");
    let text: Vec<String> = range.rows().map(|r| r[0].to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("Liste tronquée") && t.contains("10")),
        "{text:?}"
    );
    let header = text.iter().position(|t| t == "Source").expect("a header");
    let listed: Vec<_> = range
        .rows()
        .skip(header + 1)
        .filter(|r| r[3] != Data::Empty)
        .collect();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[0][3], Data::Float(2.0));
    assert_eq!(listed[0][6], Data::String("date illisible".into()));
}

#[test]
fn finance_names_double_entries_and_a_verdict_they_would_change() {
    let mut fixture = Fixture::new(0);
    let fin01 = fixture
        .pipeline
        .indicators
        .iter()
        .position(|i| i.id() == "FIN-01")
        .expect("FIN-01");
    // Action A: 900 paid of 1,000 agreed (90 %); 200 of it twice keyed.
    fixture.double_entries = DoubleEntries {
        entries: vec![DoubleEntry {
            source: "Finances - mandats".to_owned(),
            file: "finances_2020.xlsx".to_owned(),
            sheet: Some("Mandats".to_owned()),
            first_row: 12,
            first_file: None,
            rows: vec![13, 14, 15, 20],
            values: vec![("Montant".to_owned(), AnyValue::Float64(100.0))],
        }],
        without: vec![IndicatorFigures {
            index: fin01,
            figures: vec![Figure {
                territory: None,
                month: None,
                breakdown: None,
                value: Some(0.7),
                numerator: Some(700.0),
                denominator: Some(1000.0),
                units: 3.0,
            }],
        }],
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    write_all(&fixture.context(false), dir.path()).expect("workbooks written");
    let finance = read(&dir.path().join("suivi_financier_2020.xlsx"));
    let sheet = |name: &str| &finance.iter().find(|s| s.0 == name).expect(name).1;
    let notes: Vec<String> = sheet("Synthèse")
        .rows()
        .map(|r| r[0].to_string().replace(['\u{a0}', '\u{202f}'], " "))
        .collect();
    let note = notes
        .iter()
        .find(|n| n.contains("doubles saisies"))
        .expect("a note on double entries");
    assert!(note.contains("comptent pour 200,00 €"), "{note}");
    assert!(
        note.contains("le taux d'exécution serait de 70 %"),
        "{note}"
    );
    assert!(
        note.contains("le risque de réfaction serait « Oui » au lieu de « Non »"),
        "{note}"
    );
    let listed = find_row(sheet("Doubles saisies"), 1, "finances_2020.xlsx");
    let listed = listed.first().expect("the entry listed");
    assert_eq!(listed[3], Data::String("12".into()));
    assert_eq!(listed[4], Data::String("13-15, 20".into()));
    assert_eq!(listed[5], Data::String("Montant : 100".into()));
}
