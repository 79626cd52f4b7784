//! Goldens: what the committed sample publishes, committed beside the
//! tests, so that a change of wording, layout, number format or figure
//! shows to a reviewer as a diff of `tests/golden/`. The catalogue in
//! Markdown, the indicator table, and every workbook cell by cell (sheet,
//! cell, value, number format, formula), read from the workbook's XML.
//!
//! A change that is meant: `SUIVI_BLESS=1 cargo test --test integration
//! goldens` rewrites the files, and the diff goes into the commit.

use crate::common;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

const BLESS: &str = "SUIVI_BLESS";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` with the golden file `name`, or rewrites it when
/// blessing.
fn assert_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os(BLESS).is_some() {
        std::fs::create_dir_all(golden_dir()).expect("the golden folder");
        std::fs::write(&path, actual).expect("the golden file is written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `{BLESS}=1 cargo test --test integration goldens` to write it",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (old, new): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = old
        .iter()
        .zip(&new)
        .position(|(a, b)| a != b)
        .unwrap_or(old.len().min(new.len()));
    let show = |lines: &[&str]| {
        lines[first.min(lines.len())..(first + 5).min(lines.len())]
            .iter()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{name} differs from its golden file from line {} ({} lines now, {} before):\n  \
         golden:\n{}\n  now:\n{}\nIf the change is meant, run `{BLESS}=1 cargo test --test \
         integration goldens` and commit the diff of tests/golden/.",
        first + 1,
        new.len(),
        old.len(),
        show(&old),
        show(&new)
    );
}

/// One run of the committed 2020 sample, public diffusion.
fn sample_outputs() -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("a temp dir");
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/loire.toml");
    let output = common::suivi(&[
        "run",
        common::arg(&pipeline),
        "--year",
        "2020",
        "--out",
        common::arg(out.path()),
    ]);
    common::assert_exit(&output, 0);
    out
}

/// An archive member as text; empty when absent.
fn member(archive: &mut zip::ZipArchive<std::fs::File>, name: &str) -> String {
    let Ok(mut file) = archive.by_name(name) else {
        return String::new();
    };
    let mut text = String::new();
    file.read_to_string(&mut text).expect("UTF-8 XML");
    text
}

fn attribute(element: &quick_xml::events::BytesStart, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.0 == name)
        .and_then(|a| {
            quick_xml::escape::unescape(&a.value)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// A character or predefined entity reference as its text.
fn entity(r: &quick_xml::events::BytesRef) -> String {
    match r.resolve_char_ref().expect("a character reference") {
        Some(c) => c.to_string(),
        None => quick_xml::escape::resolve_xml_entity(r)
            .expect("a predefined entity")
            .to_owned(),
    }
}

/// The text of every `<si>` (shared strings) in order.
fn shared_strings(xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut strings, mut current, mut in_text) = (Vec::new(), String::new(), false);
    loop {
        match reader.read_event().expect("shared strings XML") {
            Event::Start(e) if e.name().0 == "t" => in_text = true,
            Event::End(e) if e.name().0 == "t" => in_text = false,
            Event::Text(t) if in_text => current.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => current.push_str(&entity(&r)),
            Event::End(e) if e.name().0 == "si" => strings.push(std::mem::take(&mut current)),
            Event::Eof => break,
            _ => {}
        }
    }
    strings
}

/// The number format of each cell style index (`cellXfs`), by its code.
fn number_formats(xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut custom: HashMap<String, String> = HashMap::new();
    let (mut formats, mut in_xfs) = (Vec::new(), false);
    loop {
        match reader.read_event().expect("styles XML") {
            Event::Empty(e) | Event::Start(e) if e.name().0 == "numFmt" => {
                if let (Some(id), Some(code)) =
                    (attribute(&e, "numFmtId"), attribute(&e, "formatCode"))
                {
                    custom.insert(id, code);
                }
            }
            Event::Start(e) if e.name().0 == "cellXfs" => in_xfs = true,
            Event::End(e) if e.name().0 == "cellXfs" => in_xfs = false,
            Event::Empty(e) | Event::Start(e) if in_xfs && e.name().0 == "xf" => {
                let id = attribute(&e, "numFmtId").unwrap_or_else(|| "0".to_owned());
                formats.push(custom.get(&id).cloned().unwrap_or(match id.as_str() {
                    "0" => "General".to_owned(),
                    other => format!("builtin {other}"),
                }));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    formats
}

/// Every cell of every sheet of an `.xlsx` written by `suivi`, one line
/// each: sheet, cell, value, number format, formula.
fn cell_dump(path: &Path) -> String {
    use quick_xml::events::Event;
    let file = std::fs::File::open(path).expect("the workbook");
    let mut archive = zip::ZipArchive::new(file).expect("a zip archive");
    let strings = shared_strings(&member(&mut archive, "xl/sharedStrings.xml"));
    let formats = number_formats(&member(&mut archive, "xl/styles.xml"));
    let workbook = member(&mut archive, "xl/workbook.xml");
    let mut sheets = Vec::new();
    let mut reader = quick_xml::Reader::from_str(&workbook);
    loop {
        match reader.read_event().expect("workbook XML") {
            Event::Empty(e) | Event::Start(e) if e.name().0 == "sheet" => {
                sheets.push(attribute(&e, "name").expect("a sheet name"));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut out = String::new();
    // rust_xlsxwriter names the parts sheet1.xml... in workbook order.
    for (i, sheet) in sheets.iter().enumerate() {
        let xml = member(&mut archive, &format!("xl/worksheets/sheet{}.xml", i + 1));
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut cell: Option<(String, String, String)> = None;
        let (mut value, mut formula, mut field) = (String::new(), String::new(), "");
        loop {
            match reader.read_event().expect("sheet XML") {
                Event::Start(e) if e.name().0 == "c" => {
                    cell = Some((
                        attribute(&e, "r").expect("a cell reference"),
                        attribute(&e, "t").unwrap_or_default(),
                        attribute(&e, "s").unwrap_or_else(|| "0".to_owned()),
                    ));
                }
                Event::Start(e) => {
                    field = match e.name().0 {
                        "v" => "v",
                        "f" => "f",
                        "t" => "t",
                        _ => field,
                    }
                }
                Event::End(e) if matches!(e.name().0, "v" | "f" | "t") => field = "",
                Event::Text(t) => {
                    let text = t.xml10_content();
                    match field {
                        "v" | "t" => value.push_str(&text),
                        "f" => formula.push_str(&text),
                        _ => {}
                    }
                }
                Event::GeneralRef(r) => {
                    let text = entity(&r);
                    match field {
                        "v" | "t" => value.push_str(&text),
                        "f" => formula.push_str(&text),
                        _ => {}
                    }
                }
                Event::End(e) if e.name().0 == "c" => {
                    let (reference, kind, style) = cell.take().expect("a cell");
                    let shown = match kind.as_str() {
                        "s" => strings[value.parse::<usize>().expect("a string index")].clone(),
                        _ => std::mem::take(&mut value),
                    };
                    value.clear();
                    let format = &formats[style.parse::<usize>().expect("a style index")];
                    if !shown.is_empty() || !formula.is_empty() {
                        let escape = |s: &str| {
                            s.replace('\\', "\\\\")
                                .replace('\n', "\\n")
                                .replace('\t', "\\t")
                        };
                        out.push_str(&format!(
                            "{sheet}\t{reference}\t{}\t{format}\t{}\n",
                            escape(&shown),
                            escape(&formula)
                        ));
                    }
                    formula.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    out
}

#[test]
fn goldens_of_the_committed_sample() {
    let out = sample_outputs();
    let table = std::fs::read_to_string(out.path().join("indicateurs_2020.csv")).unwrap();
    assert_golden("indicateurs_2020.csv", &table);
    for workbook in [
        "rapport_execution_2020.xlsx",
        "suivi_financier_2020.xlsx",
        "qualite_donnees_2020.xlsx",
    ] {
        let dump = cell_dump(&out.path().join(workbook));
        assert!(dump.lines().count() > 20, "{workbook}: {dump}");
        assert_golden(&format!("{workbook}.cells.tsv"), &dump);
    }
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/loire.toml");
    let catalog = common::suivi(&["catalog", common::arg(&pipeline), "--format", "markdown"]);
    common::assert_exit(&catalog, 0);
    assert_golden("catalog.md", &common::stdout(&catalog));
}
