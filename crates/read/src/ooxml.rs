//! What an office program opens in an xlsx or xlsm archive but calamine
//! refuses, found before calamine reads it and, where the content is whole,
//! mended in a copy of the archive:
//!
//! - a macro sheet (`xl/macrosheets/`, Excel 4 macros) among the sheets:
//!   calamine knows no such relationship type and refuses the whole
//!   workbook, so its type is rewritten to a dialog sheet's, which calamine
//!   lists as a sheet that is not a worksheet, as a macro sheet is not;
//! - a `<dimension>` whose reference calamine cannot parse (LibreOffice's
//!   whole rows, `1:4`): calamine refuses the sheet, though the dimension
//!   is only a hint that our reader does not use, so it is left out;
//! - a sheet listed in `workbook.xml` whose relationship or part is
//!   missing: no relationship made calamine refuse the whole workbook, so
//!   one is added (to no part); such a sheet is then refused when it is
//!   read, by name, and the others stay readable.
//!
//! Only the parts that change are rewritten: the others are copied still
//! compressed.

use crate::error::{Error, Result};
use crate::grid::Merged;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;
use std::io::{Cursor, Read, Write};

type Archive<'b> = zip::ZipArchive<Cursor<&'b [u8]>>;

/// What an archive needs before calamine reads it.
#[derive(Default)]
pub struct Mended {
    /// The archive with its parts mended, when one had to be.
    pub bytes: Option<Vec<u8>>,
    /// The sheets the workbook lists whose content the archive lacks.
    pub missing: Vec<String>,
    /// Each worksheet's part in the archive, by the sheet's name.
    pub parts: HashMap<String, String>,
}

/// The relationship type calamine lists as a sheet that is not a
/// worksheet (any prefix: calamine reads the last segment).
const DIALOG_SHEET: &str = "relationships/dialogsheet";
/// Excel 4 macro sheets, and their international variant.
const MACRO_SHEETS: [&str; 2] = [
    "relationships/xlMacrosheet",
    "relationships/xlIntlMacrosheet",
];
const WORKSHEET: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet";

/// Bytes of a worksheet read to find its `<dimension>`, which comes
/// before its cells, after at most a few short elements.
const HEAD: u64 = 16 << 10;

/// Largest workbook part or relationships part read whole to be checked
/// (they take kilobytes, a few megabytes with many defined names): a
/// larger one is left for calamine, which reads it as a stream.
const MAX_TEXT: u64 = 64 << 20;

/// Finds what calamine would refuse in the xlsx or xlsm archive `bytes`
/// though an office program opens it, and mends it in a copy. An archive
/// that is not an xlsx one (xlsb, damaged) is left for calamine to tell.
pub fn mend(bytes: &[u8]) -> Result<Mended> {
    let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(Mended::default());
    };
    let Some(workbook) = workbook_part(&mut archive) else {
        return Ok(Mended::default());
    };
    let folder = workbook.rfind('/').map_or("", |i| &workbook[..=i]);
    let rels_path = format!("{folder}_rels/{}.rels", &workbook[folder.len()..]);
    let (Some(listed), Some(rels_name)) = (
        text(&mut archive, &workbook).and_then(|x| sheets(&x)),
        member(&archive, &rels_path),
    ) else {
        return Ok(Mended::default());
    };
    let Some(rels) = text(&mut archive, &rels_name) else {
        return Ok(Mended::default());
    };
    let Some(relationships) = relationships(&rels) else {
        return Ok(Mended::default());
    };
    // By id, the last of an id winning, as in calamine.
    let relationships: HashMap<_, _> = relationships
        .into_iter()
        .map(|(id, kind, target)| (id, (kind, target)))
        .collect();
    let mut new_rels = rels.clone();
    for macros in MACRO_SHEETS {
        new_rels = new_rels.replace(macros, DIALOG_SHEET);
    }
    let mut mended = Mended::default();
    let mut undimensioned = Vec::new();
    for (name, id) in listed {
        let Some((kind, target)) = relationships.get(&id) else {
            // Calamine needs a relationship for every sheet listed.
            let Some(end) = new_rels.rfind("</") else {
                return Ok(Mended::default());
            };
            let id = quick_xml::escape::escape(&id);
            let added = format!(r##"<Relationship Id="{id}" Type="{WORKSHEET}" Target="#"/>"##);
            new_rels.insert_str(end, &added);
            mended.missing.push(name);
            continue;
        };
        let part = match target.strip_prefix('/') {
            Some(absolute) => absolute.to_owned(),
            None => format!("{folder}{target}"),
        };
        match member(&archive, &part) {
            None => mended.missing.push(name),
            Some(part) if kind.ends_with("/worksheet") => {
                if let Some(span) = bad_dimension(&mut archive, &part)? {
                    undimensioned.push((part.clone(), span));
                }
                mended.parts.insert(name, part);
            }
            Some(_) => {}
        }
    }
    if new_rels != rels || !undimensioned.is_empty() {
        let changed = (rels_name, new_rels);
        mended.bytes = Some(rewrite(&mut archive, changed, &undimensioned)?);
    }
    Ok(mended)
}

/// The merged ranges of the worksheet at `part` in the archive `bytes`.
/// They follow the sheet's cells, so the part is searched for them as
/// bytes, not read again as XML: most sheets have none.
pub fn merged_ranges(bytes: &[u8], part: &str) -> Result<Vec<Merged>> {
    let damaged = |why: &dyn std::fmt::Display| Error::DamagedSheet {
        why: format!("reading its merged cells: {why}"),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| damaged(&e))?;
    let mut xml = Vec::new();
    archive
        .by_name(part)
        .map_err(|e| damaged(&e))?
        .take(crate::limits::MAX_MEMBER_BYTES)
        .read_to_end(&mut xml)
        .map_err(|e| damaged(&e))?;
    let Some(at) = memchr::memmem::rfind(&xml, b"<mergeCells")
        .or_else(|| memchr::memmem::rfind(&xml, b":mergeCells"))
    else {
        return Ok(Vec::new());
    };
    let mut reader = quick_xml::Reader::from_reader(&xml[at.saturating_sub(1)..]);
    let mut ranges = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "mergeCell" => {
                let reference = e
                    .try_get_attribute("ref")
                    .ok()
                    .flatten()
                    .map(|a| a.value.to_string());
                if let Some(range) = reference.as_deref().and_then(merged_range) {
                    ranges.push(range);
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "mergeCells" => break,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(ranges)
}

/// `A1:C3` as a merged range; anything else (one cell, a bad reference) none.
fn merged_range(reference: &str) -> Option<Merged> {
    let (first, last) = reference.split_once(':')?;
    let (first_row, first_col) = cell_position(first)?;
    let (last_row, last_col) = cell_position(last)?;
    Some(Merged {
        first_row,
        first_col,
        last_row,
        last_col,
    })
}

/// `B3` as (row, column), counted from 0, within a sheet's limits.
fn cell_position(reference: &str) -> Option<(u32, u32)> {
    let reference = reference.trim().trim_start_matches('$');
    let letters = reference
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .count();
    if letters == 0 || letters > 3 {
        return None;
    }
    let col = reference[..letters].bytes().fold(0u32, |n, b| {
        n * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1)
    });
    let row: u32 = reference[letters..].trim_start_matches('$').parse().ok()?;
    let (row, col) = (row.checked_sub(1)?, col - 1);
    (row < crate::limits::MAX_ROWS && col < crate::limits::MAX_COLUMNS).then_some((row, col))
}

/// The workbook part `_rels/.rels` names, if XML (not an xlsb's binary one).
fn workbook_part(archive: &mut Archive) -> Option<String> {
    let rels = relationships(&text(archive, "_rels/.rels")?)?;
    // The last, as calamine takes it.
    let (_, _, target) = rels
        .into_iter()
        .rev()
        .find(|(_, kind, _)| kind.ends_with("/relationships/officeDocument"))?;
    let target = target.strip_prefix('/').unwrap_or(&target);
    let xml = target.to_ascii_lowercase().ends_with(".xml");
    xml.then(|| target.to_owned())
}

/// The name of the member at `path` as calamine finds it: exactly, or
/// ignoring ASCII case with backslashes read as slashes.
fn member(archive: &Archive, path: &str) -> Option<String> {
    if archive.index_for_name(path).is_some() {
        return Some(path.to_owned());
    }
    let wanted = path.to_ascii_lowercase();
    archive
        .file_names()
        .flatten()
        .find(|name| name.replace('\\', "/").to_ascii_lowercase() == wanted)
        .map(|name| name.into_owned())
}

/// A workbook part or a relationships part as text, up to [`MAX_TEXT`].
fn text(archive: &mut Archive, path: &str) -> Option<String> {
    let name = member(archive, path)?;
    let member = archive.by_name(&name).ok()?;
    if member.size() > MAX_TEXT {
        return None;
    }
    let mut text = String::new();
    member.take(MAX_TEXT).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of the attribute whose local name is `name`.
fn attribute(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == name)
            .then(|| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
            .flatten()
            .map(|v| v.into_owned())
    })
}

/// The elements of local name `element` of an XML text, each given to `each`;
/// `None` if the XML does not parse.
fn elements(xml: &str, element: &str, mut each: impl FnMut(&BytesStart)) -> Option<()> {
    let mut reader = quick_xml::Reader::from_str(xml);
    // As calamine reads it.
    reader.config_mut().check_end_names = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == element => each(&e),
            Event::Eof => return Some(()),
            _ => {}
        }
    }
}

/// A relationships part: each relationship's id, type and target, in order.
fn relationships(xml: &str) -> Option<Vec<(String, String, String)>> {
    let mut found = Vec::new();
    elements(xml, "Relationship", |e| {
        if let Some(id) = attribute(e, "Id") {
            let kind = attribute(e, "Type").unwrap_or_default();
            found.push((id, kind, attribute(e, "Target").unwrap_or_default()));
        }
    })?;
    Some(found)
}

/// The sheets `workbook.xml` lists: their names and relationship ids.
fn sheets(xml: &str) -> Option<Vec<(String, String)>> {
    let mut found = Vec::new();
    elements(xml, "sheet", |e| {
        if let (Some(name), Some(id)) = (attribute(e, "name"), attribute(e, "id")) {
            found.push((name, id));
        }
    })?;
    Some(found)
}

/// Where, in the first bytes of the worksheet `part`, a `<dimension>`
/// element calamine cannot parse lies (a range of bytes), if one does.
fn bad_dimension(archive: &mut Archive, part: &str) -> Result<Option<(usize, usize)>> {
    let mut head = Vec::new();
    let member = archive.by_name(part).map_err(|_| Error::Broken)?;
    member
        .take(HEAD)
        .read_to_end(&mut head)
        .map_err(|_| Error::Broken)?;
    let mut reader = quick_xml::Reader::from_reader(&head[..]);
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                "dimension" => {
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    let readable = attribute(&e, "ref").is_some_and(|r| calamine_reads(&r));
                    // An element with content (never written) is left as it is.
                    let empty = matches!(head.get(end.wrapping_sub(2)..end), Some(b"/>"));
                    return Ok((!readable && empty).then_some((start, end)));
                }
                "sheetData" => return Ok(None),
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => return Ok(None),
            _ => {}
        }
    }
}

/// Whether calamine parses a dimension reference: a cell (`A1`) or two, the
/// second not before the first (it subtracts them), each of letters then
/// digits, within the number of letters and digits that do not overflow.
fn calamine_reads(reference: &str) -> bool {
    let cell = |c: &str| {
        let letters = c.bytes().take_while(u8::is_ascii_alphabetic).count();
        let digits = &c[letters..];
        let shape = (1..=3).contains(&letters)
            && (1..=7).contains(&digits.len())
            && digits.bytes().all(|d| d.is_ascii_digit());
        if !shape {
            return None;
        }
        let column = c[..letters].bytes().fold(0u32, |n, l| {
            n * 26 + u32::from(l.to_ascii_uppercase() - b'A') + 1
        });
        let row = digits.parse::<u32>().ok().filter(|&row| row >= 1)?;
        Some((row, column))
    };
    let cells: Option<Vec<(u32, u32)>> = reference.split(':').map(cell).collect();
    match cells.as_deref() {
        Some([_]) => true,
        Some([first, last]) => first.0 <= last.0 && first.1 <= last.1,
        _ => false,
    }
}

/// A copy of the archive with `rels` (a name and its new text) and the
/// worksheets of `undimensioned` without the bytes at their range.
fn rewrite(
    archive: &mut Archive,
    (rels_name, rels): (String, String),
    undimensioned: &[(String, (usize, usize))],
) -> Result<Vec<u8>> {
    let broken = |_| Error::Broken;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    for i in 0..archive.len() {
        let name = archive.name_for_index(i).and_then(|n| n.ok());
        let name = name.map(|n| n.into_owned()).unwrap_or_default();
        if name == rels_name {
            out.start_file(name, options).map_err(broken)?;
            out.write_all(rels.as_bytes()).map_err(Error::from)?;
        } else if let Some((_, (start, end))) = undimensioned.iter().find(|(p, _)| *p == name) {
            let mut member = archive.by_index(i).map_err(broken)?;
            let mut head = vec![0; *end];
            member.read_exact(&mut head).map_err(Error::from)?;
            out.start_file(name, options).map_err(broken)?;
            out.write_all(&head[..*start]).map_err(Error::from)?;
            std::io::copy(&mut member, &mut out).map_err(Error::from)?;
        } else {
            out.raw_copy_file(archive.by_index_raw(i).map_err(broken)?)
                .map_err(broken)?;
        }
    }
    Ok(out.finish().map_err(broken)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merged ranges as Excel and LibreOffice write them, absolute or not;
    /// a single cell, a row 0 or a column past XFD is no range.
    #[test]
    fn merged_references_are_read_as_ranges() {
        let range = |a, b, c, d| Merged {
            first_row: a,
            first_col: b,
            last_row: c,
            last_col: d,
        };
        assert_eq!(merged_range("A1:C3"), Some(range(0, 0, 2, 2)));
        assert_eq!(merged_range("$B$2:$AA$10"), Some(range(1, 1, 9, 26)));
        assert_eq!(
            merged_range("XFD1048576:XFD1048576"),
            Some(range(1_048_575, 16_383, 1_048_575, 16_383))
        );
        for bad in ["A1", "A0:B1", "XFE1:XFE2", "ZZZZ1:A1", "1:4", ":"] {
            assert_eq!(merged_range(bad), None, "{bad}");
        }
    }

    /// Workbooks as openpyxl, Excel's Strict format and LibreOffice
    /// (awkward_titles.xlsx) write them are read as they are, not copied.
    #[test]
    fn workbooks_that_need_nothing_are_not_mended() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        for name in [
            "ingest/awkward_titles.xlsx",
            "ingest/dates_1904.xlsx",
            "ingest/formats_table.xlsx",
            "ingest/hidden_sheet_first.xlsx",
            "ingest/long_text.xlsx",
            "ingest/strict.xlsx",
            "hostile/subtotal_row_101.xlsx",
        ] {
            let mended = mend(&std::fs::read(folder.join(name)).unwrap()).unwrap();
            assert!(
                mended.bytes.is_none() && mended.missing.is_empty(),
                "{name}"
            );
        }
    }

    /// `archive` with the member `name` holding `content` instead.
    fn with_member(archive: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
        rebuilt(archive, |member, bytes| match member == name {
            true => (member.to_owned(), content.to_vec()),
            false => (member.to_owned(), bytes),
        })
    }

    /// `archive` with each member's name and content as `change` gives them.
    fn rebuilt(archive: &[u8], change: impl Fn(&str, Vec<u8>) -> (String, Vec<u8>)) -> Vec<u8> {
        let mut archive = zip::ZipArchive::new(Cursor::new(archive)).unwrap();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for i in 0..archive.len() {
            let mut member = archive.by_index(i).unwrap();
            let name = member.name().unwrap().into_owned();
            let mut bytes = Vec::new();
            member.read_to_end(&mut bytes).unwrap();
            let (name, bytes) = change(&name, bytes);
            out.start_file(name, options).unwrap();
            out.write_all(&bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    /// calamine finds a part whatever the case of its name, and with
    /// backslashes for slashes: so is it found here, neither called
    /// missing nor left unmended.
    #[test]
    fn parts_are_found_as_calamine_finds_them() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let macros = std::fs::read(folder.join("ingest/macro_and_dialog_sheets.xlsm")).unwrap();
        let undimensioned = std::fs::read(folder.join("ingest/dimension_whole_rows.xlsx")).unwrap();
        let renamed = |bytes: &[u8]| {
            rebuilt(bytes, |name, content| {
                let name = match name {
                    "xl/worksheets/sheet1.xml" => r"xl\worksheets\Sheet1.xml",
                    "xl/_rels/workbook.xml.rels" => "xl/_rels/Workbook.xml.rels",
                    other => other,
                };
                (name.to_owned(), content)
            })
        };
        for bytes in [renamed(&macros), renamed(&undimensioned)] {
            let mended = mend(&bytes).unwrap();
            assert!(mended.missing.is_empty() && mended.bytes.is_some());
            let mut workbook = crate::Workbook::open(bytes).unwrap();
            let grid = workbook.grid("Données").unwrap();
            assert_eq!(grid.cell(2, 1), crate::Cell::Text("Roanne"));
        }
    }

    /// Random dimension references, of the characters references are made
    /// of: every sheet is read, whether calamine parses its dimension or
    /// the element is left out (a reference calamine refuses but that is
    /// told as readable would fail the sheet), and none panics.
    #[test]
    fn sheets_read_whatever_their_dimension() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let template = std::fs::read(folder.join("ingest/dimension_whole_rows.xlsx")).unwrap();
        let sheet = {
            let mut archive = zip::ZipArchive::new(Cursor::new(&template[..])).unwrap();
            let mut text = String::new();
            let member = archive.by_name("xl/worksheets/sheet1.xml").unwrap();
            member.take(1 << 20).read_to_string(&mut text).unwrap();
            text
        };
        let pieces = [
            "A", "d", "XFD", "1", "4", "0", "1048576", ":", "$", " ", "Z9",
        ];
        let letters = ["A", "d", "XFD", "ZZZZ"];
        let digits = ["1", "4", "0", "1048576", "99999999"];
        let mut rng = crate::TestRng::new(38);
        let cell = |rng: &mut crate::TestRng| {
            letters[rng.below(letters.len())].to_owned() + digits[rng.below(digits.len())]
        };
        let (mut readable, mut mended) = (0, 0);
        for _ in 0..300 {
            // Random pieces, a cell, or two.
            let reference: String = match rng.below(3) {
                0 => (0..rng.below(6))
                    .map(|_| pieces[rng.below(pieces.len())])
                    .collect(),
                1 => cell(&mut rng),
                _ => cell(&mut rng) + ":" + &cell(&mut rng),
            };
            let xml = sheet.replace(r#"ref="1:4""#, &format!(r#"ref="{reference}""#));
            let bytes = with_member(&template, "xl/worksheets/sheet1.xml", xml.as_bytes());
            let mut workbook = crate::Workbook::open(bytes).unwrap();
            let grid = workbook.grid("Données");
            let grid = grid.unwrap_or_else(|e| panic!("{reference:?}: {e:?}"));
            assert_eq!(
                grid.cell(2, 1),
                crate::Cell::Text("Roanne"),
                "{reference:?}"
            );
            match calamine_reads(&reference) {
                true => readable += 1,
                false => mended += 1,
            }
        }
        assert!(
            readable > 20 && mended > 20,
            "{readable} read as they were, {mended} mended"
        );
    }

    #[test]
    fn dimension_references_calamine_parses_are_told() {
        for ok in ["A1", "A1:D4", "a1:d4", "XFD1048576", "B2:B2"] {
            assert!(calamine_reads(ok), "{ok}");
        }
        for bad in [
            "1:4",
            "A:D",
            "",
            "A1:D4:E5",
            "$A$1:$D$4",
            "D4:A1",
            "AAAA1",
            "A0",
        ] {
            assert!(!calamine_reads(bad), "{bad}");
        }
    }
}
