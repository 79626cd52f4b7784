//! OpenDocument spreadsheets (.ods), read in one streaming pass over the
//! archive's `content.xml` into sparse grids.
//!
//! calamine's reader parses every sheet into two dense ranges (values and
//! formulas) when the workbook opens, copies a range again when it is asked
//! for, and writes out a row's repeated cells before it checks any limit,
//! so a small file could make it allocate without bound and the reader
//! needed a separate checking pass first: an .ods sheet took 2.3 times as
//! long as the same sheet in .xlsx. Here each cell with content is stored
//! once, every limit is checked before what it guards is allocated, and the
//! file is parsed once. The values are calamine's (its `Data`), so every
//! workbook format gives the rest of the reader the same cells.

use crate::error::{CellProblem, Error, Result};
use crate::grid::{Merged, SparseGrid, cell_bytes};
use crate::limits::{
    MAX_CELL_TEXT_BYTES, MAX_CELLS, MAX_COLUMNS, MAX_MEMBER_BYTES, MAX_REPEATED_TEXT_BYTES,
    MAX_ROW_REPEATS, MAX_ROWS, MAX_SHEET_BYTES, MAX_SPACES,
};
use calamine::{Data, Sheet, SheetType, SheetVisible};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek};
use std::sync::Arc;

const MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// Whether a zip archive is an OpenDocument file (its content is `content.xml`).
pub fn is_ods<R: Read + Seek>(archive: &zip::ZipArchive<R>) -> bool {
    archive.index_for_name("content.xml").is_some()
}

/// An .ods workbook: its sheets in the file's order, each read or refused.
pub struct Workbook {
    sheets: Vec<(Sheet, Result<Arc<SparseGrid>>)>,
    /// The document's null date is 1904-01-01 (`table:null-date`).
    pub dates_from_1904: bool,
}

impl Workbook {
    /// Reads every sheet of the .ods file in `bytes`. A sheet that breaks a
    /// limit is refused when it is opened, not when another one is.
    pub fn open(bytes: &[u8]) -> Result<Self> {
        let damaged = |why: &dyn std::fmt::Display| Error::Damaged {
            why: format!("the .ods reader found: {why}"),
        };
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| damaged(&e))?;
        let mut mimetype = Vec::new();
        archive
            .by_name("mimetype")
            .map_err(|e| damaged(&e))?
            .take(MIMETYPE.len() as u64 + 1)
            .read_to_end(&mut mimetype)
            .map_err(|e| damaged(&e))?;
        if mimetype != MIMETYPE {
            return Err(Error::NotASpreadsheet);
        }
        if is_encrypted(&mut archive) {
            return Err(Error::Encrypted);
        }
        let content = archive.by_name("content.xml").map_err(|e| damaged(&e))?;
        // The archive's announced sizes were checked; a member that lies about
        // its size ends here, as a truncated document.
        let content = content.take(MAX_MEMBER_BYTES);
        read_content(BufReader::new(content)).map_err(|e| damaged(&e))
    }

    pub fn sheets_metadata(&self) -> Vec<Sheet> {
        self.sheets.iter().map(|(sheet, _)| sheet.clone()).collect()
    }

    /// The sheet named `name` (one of [`Self::sheets_metadata`]'s).
    pub fn grid(&self, name: &str) -> Result<Arc<SparseGrid>> {
        let (_, grid) = self
            .sheets
            .iter()
            .find(|(sheet, _)| sheet.name == name)
            .ok_or_else(|| Error::NoSuchSheet {
                name: name.to_owned(),
            })?;
        grid.clone()
    }
}

/// Whether the archive's manifest describes an encrypted part: what
/// LibreOffice writes for a file saved with a password.
fn is_encrypted<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> bool {
    let Ok(manifest) = archive.by_name("META-INF/manifest.xml") else {
        return false;
    };
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(manifest));
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e))
                if e.name() == QName("manifest:encryption-data") =>
            {
                return true;
            }
            Ok(Event::Eof) | Err(_) => return false,
            _ => buf.clear(),
        }
    }
}

/// Why a document's XML cannot be read.
#[derive(Debug, thiserror::Error)]
enum XmlError {
    #[error("{0}")]
    Xml(#[from] quick_xml::Error),
    #[error("{0}")]
    Attribute(#[from] quick_xml::events::attributes::AttrError),
    #[error("the entity &{0}; is not one XML defines")]
    Entity(String),
    #[error("the document ends inside a sheet")]
    Eof,
}

type Xml<R> = quick_xml::Reader<R>;

/// The sheets of `content.xml`, with their visibility from the automatic
/// styles that precede them.
fn read_content<R: BufRead>(content: R) -> std::result::Result<Workbook, XmlError> {
    let mut xml = Xml::from_reader(content);
    let mut buf = Vec::new();
    let mut hidden_styles = HashMap::new();
    let mut style = None;
    let mut sheets = Vec::new();
    let mut dates_from_1904 = false;
    loop {
        match xml.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) if e.name() == QName("table:null-date") => {
                dates_from_1904 =
                    attribute(&e, "table:date-value")?.as_deref() == Some("1904-01-01");
            }
            Event::Start(e) if e.name() == QName("style:style") => {
                style = attribute(&e, "style:name")?;
            }
            Event::End(e) if e.name() == QName("style:style") => style = None,
            Event::Start(e) | Event::Empty(e) if e.name() == QName("style:table-properties") => {
                if let Some(style) = &style {
                    let hidden = attribute(&e, "table:display")?.as_deref() == Some("false");
                    hidden_styles.insert(style.clone(), hidden);
                }
            }
            Event::Start(e) if e.name() == QName("table:table") => {
                let name = attribute(&e, "table:name")?;
                let hidden = attribute(&e, "table:style-name")?
                    .and_then(|s| hidden_styles.get(&s).copied())
                    .unwrap_or(false);
                let grid = read_table(&mut xml)?.map(Arc::new);
                // A sheet with no name cannot be asked for.
                if let Some(name) = name {
                    let visible = if hidden {
                        SheetVisible::Hidden
                    } else {
                        SheetVisible::Visible
                    };
                    let sheet = Sheet {
                        name,
                        typ: SheetType::WorkSheet,
                        visible,
                    };
                    sheets.push((sheet, grid));
                }
            }
            Event::Empty(e) if e.name() == QName("table:table") => {
                if let Some(name) = attribute(&e, "table:name")? {
                    let sheet = Sheet {
                        name,
                        typ: SheetType::WorkSheet,
                        visible: SheetVisible::Visible,
                    };
                    sheets.push((sheet, Ok(Arc::new(SparseGrid::new(Vec::new())))));
                }
            }
            Event::Eof => {
                return Ok(Workbook {
                    sheets,
                    dates_from_1904,
                });
            }
            _ => {}
        }
        buf.clear();
    }
}

/// The value of the attribute `name` (qualified, as ODF documents write it).
fn attribute(e: &BytesStart, name: &str) -> std::result::Result<Option<String>, XmlError> {
    for a in e.attributes() {
        let a = a?;
        if a.key == QName(name) {
            let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0)?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// A repetition count (`number-rows-repeated`, `text:c`...): 1 if missing.
fn repeats(e: &BytesStart, name: &str) -> std::result::Result<u64, XmlError> {
    Ok(attribute(e, name)?.map_or(1, |value| count(&value)))
}

/// A repetition count's value: at least 1, and 1 if it is not a number.
fn count(value: &str) -> u64 {
    value.trim().parse().unwrap_or(1).max(1)
}

/// One sheet's cells with content, from after its `table:table` start to its
/// end. The outer error is the document's (unreadable XML), the inner one
/// the sheet's (a limit broken, a value that is not one).
fn read_table<R: BufRead>(xml: &mut Xml<R>) -> std::result::Result<Result<SparseGrid>, XmlError> {
    let mut buf = Vec::new();
    let mut rows: Vec<Vec<(u32, Data)>> = Vec::new();
    let mut stored = 0u64;
    let mut row_cells: Vec<(u32, Data)> = Vec::new();
    let mut row = 0u64;
    // Bytes the cells stored take (see `cell_bytes`), and bytes of text
    // copied by repeats.
    let (mut used, mut copied) = (0u64, 0u64);
    let mut refused = None;
    let mut merged: Vec<Merged> = Vec::new();
    let mut row_spans: Vec<Span> = Vec::new();
    loop {
        let event = xml.read_event_into(&mut buf)?;
        let (e, has_cells) = match event {
            Event::Start(e) if e.name() == QName("table:table-row") => (e, true),
            Event::Empty(e) if e.name() == QName("table:table-row") => (e, false),
            Event::Start(e) if e.name() == QName("table:table") => {
                // A table inside the sheet's own markup (not a cell's) has no place there.
                xml.read_to_end_into(e.name(), &mut Vec::new())?;
                buf.clear();
                continue;
            }
            Event::End(e) if e.name() == QName("table:table") => break,
            Event::Eof => return Err(XmlError::Eof),
            _ => {
                buf.clear();
                continue;
            }
        };
        let row_repeats = repeats(&e, "table:number-rows-repeated")?;
        row_cells.clear();
        row_spans.clear();
        let mut cost = RowCost::default();
        if has_cells {
            let left = RowCost {
                bytes: MAX_SHEET_BYTES.saturating_sub(used),
                text: 0,
                copied: MAX_REPEATED_TEXT_BYTES.saturating_sub(copied),
            };
            match read_row(xml, row, &mut row_cells, &mut row_spans, left)? {
                Ok(row_cost) => cost = row_cost,
                Err(refusal) => {
                    refused.get_or_insert(refusal);
                }
            }
        }
        if refused.is_none() && !row_cells.is_empty() {
            let stored_row = StoredRow {
                cells: &mut row_cells,
                cost,
                row,
                repeats: row_repeats,
            };
            refused = store_row(&mut rows, &mut stored, (&mut used, &mut copied), stored_row).err();
        }
        if refused.is_none() && !row_spans.is_empty() {
            // Within the sheet's limits: the row and its repeats were stored.
            for repeat in 0..row_repeats.min(MAX_ROW_REPEATS) {
                let first_row = (row + repeat) as u32;
                merged.extend(row_spans.iter().map(|span| Merged {
                    first_row,
                    first_col: span.col,
                    last_row: first_row.saturating_add(span.rows - 1),
                    last_col: span.col.saturating_add(span.cols - 1),
                }));
            }
        }
        row = row.saturating_add(row_repeats);
        buf.clear();
    }
    Ok(match refused {
        Some(refusal) => Err(refusal),
        None => {
            let mut grid = SparseGrid::from_rows(rows);
            let left = MAX_SHEET_BYTES.saturating_sub(used);
            grid.fill_merged_within(&merged, left).map(|()| grid)
        }
    })
}

/// A cell spanning more than itself (`number-rows-spanned`,
/// `number-columns-spanned`): a merged range from its column.
struct Span {
    col: u32,
    rows: u32,
    cols: u32,
}

/// What a row's cells with content take, written out once.
#[derive(Default, Clone, Copy)]
struct RowCost {
    /// In memory (see `cell_bytes`).
    bytes: u64,
    /// Bytes of their text.
    text: u64,
    /// Bytes of text its repeated cells copy.
    copied: u64,
}

/// A row's cells with content, to store `repeats` times from `row`.
struct StoredRow<'a> {
    cells: &'a mut Vec<(u32, Data)>,
    cost: RowCost,
    row: u64,
    repeats: u64,
}

/// Stores a row's cells as many times as it is repeated, refusing what
/// would break a limit before storing it. `stored`, `used`, `copied`: the
/// cells, the bytes they take, and the bytes of text repeats copied, so
/// far. Each copy is allocated to its size: grown cell by cell, a row of 20
/// cells took room for 32 (1.6 GB instead of 1.0 for a million rows).
fn store_row(
    rows: &mut Vec<Vec<(u32, Data)>>,
    stored: &mut u64,
    (used, copied): (&mut u64, &mut u64),
    StoredRow {
        cells: row_cells,
        cost,
        row,
        repeats,
    }: StoredRow,
) -> Result<()> {
    if repeats > MAX_ROW_REPEATS {
        return Err(Error::TooManyRepeats {
            row: row + 1,
            repeats,
        });
    }
    let last = row + repeats;
    if last > u64::from(MAX_ROWS) {
        let first_col = row_cells.first().map_or(0, |(c, _)| u64::from(*c));
        return Err(Error::BeyondSheetLimits {
            row: last,
            col: first_col + 1,
        });
    }
    let added = (row_cells.len() as u64).saturating_mul(repeats);
    if *stored + added > MAX_CELLS {
        return Err(Error::TooManyCells);
    }
    let added_copies = (cost.text.saturating_mul(repeats - 1)).saturating_add(cost.copied);
    if copied.saturating_add(added_copies) > MAX_REPEATED_TEXT_BYTES {
        return Err(Error::TooMuchText);
    }
    let added_bytes = cost.bytes.saturating_mul(repeats);
    if used.saturating_add(added_bytes) > MAX_SHEET_BYTES {
        return Err(Error::SheetTooLarge);
    }
    // Bounded by MAX_ROWS above; rows come in order, columns in order
    // within them. The last repetition takes the row's values.
    *stored += added;
    *used += added_bytes;
    *copied += added_copies;
    rows.resize_with(row as usize, Vec::new);
    for _ in 1..repeats {
        rows.push(row_cells.clone());
    }
    // Moved into a row of its size; `row_cells` keeps its room for the next.
    let mut values = Vec::with_capacity(row_cells.len());
    values.append(row_cells);
    rows.push(values);
    Ok(())
}

/// A row's cells with content, from after its `table:table-row` start to
/// its end, into `row_cells`, and what they take, within what is `left`
/// (of memory, and of text copied by repeats). Err: the row breaks a limit
/// or holds a value that is not one (its cells are read to the row's end
/// all the same).
fn read_row<R: BufRead>(
    xml: &mut Xml<R>,
    row: u64,
    row_cells: &mut Vec<(u32, Data)>,
    spans: &mut Vec<Span>,
    left: RowCost,
) -> std::result::Result<Result<RowCost>, XmlError> {
    let mut buf = Vec::new();
    let mut col = 0u64;
    let mut cost = RowCost::default();
    let mut refused = None;
    loop {
        let (start, has_content) = match xml.read_event_into(&mut buf)? {
            Event::Start(e) if is_cell(&e) => (CellStart::of(&e)?, true),
            Event::Empty(e) if is_cell(&e) => (CellStart::of(&e)?, false),
            // Anything else a row holds is not a cell: skipped whole.
            Event::Start(e) => {
                xml.read_to_end_into(e.name(), &mut Vec::new())?;
                buf.clear();
                continue;
            }
            Event::End(e) if e.name() == QName("table:table-row") => break,
            Event::Eof => return Err(XmlError::Eof),
            _ => {
                buf.clear();
                continue;
            }
        };
        buf.clear();
        let col_repeats = start.repeats;
        if (start.rows_spanned > 1 || start.cols_spanned > 1) && col < u64::from(MAX_COLUMNS) {
            spans.push(Span {
                col: col as u32,
                rows: start.rows_spanned.min(u64::from(MAX_ROWS)) as u32,
                cols: start.cols_spanned.min(u64::from(MAX_COLUMNS)) as u32,
            });
        }
        let value = read_cell(xml, start, has_content, &mut buf)?;
        match value {
            Ok(Data::Empty) => {}
            Ok(_) if refused.is_some() => {}
            Ok(value) => {
                let end = col.saturating_add(col_repeats);
                let text = text_len(&value);
                cost.bytes =
                    (cost.bytes).saturating_add(cell_bytes(&value).saturating_mul(col_repeats));
                cost.text = cost.text.saturating_add(text.saturating_mul(col_repeats));
                cost.copied = (cost.copied).saturating_add(text.saturating_mul(col_repeats - 1));
                if end > u64::from(MAX_COLUMNS) {
                    refused = Some(Error::BeyondSheetLimits {
                        row: row + 1,
                        col: end,
                    });
                } else if cost.copied > left.copied {
                    refused = Some(Error::TooMuchText);
                } else if cost.bytes > left.bytes {
                    refused = Some(Error::SheetTooLarge);
                } else {
                    // Bounded by MAX_COLUMNS above; the last column takes the value.
                    let values = std::iter::repeat_n(value, col_repeats as usize);
                    row_cells.extend((col as u32..end as u32).zip(values));
                }
            }
            Err(problem) => {
                refused.get_or_insert(Error::BadCell {
                    row: row + 1,
                    col: col + 1,
                    problem,
                });
            }
        }
        col = col.saturating_add(col_repeats);
        buf.clear();
    }
    Ok(match refused {
        Some(refusal) => Err(refusal),
        None => Ok(cost),
    })
}

/// The bytes of text a cell's value holds.
fn text_len(value: &Data) -> u64 {
    match value {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.len() as u64,
        _ => 0,
    }
}

fn is_cell(e: &BytesStart) -> bool {
    e.name() == QName("table:table-cell") || e.name() == QName("table:covered-table-cell")
}

/// What a cell's start tag says: the columns it covers and its value, as
/// calamine gives it: the first value attribute wins (`office:value` a
/// number, `office:string-value` text, `office:date-value` and
/// `office:time-value` ISO text, `office:boolean-value`).
struct CellStart {
    name: &'static str,
    repeats: u64,
    /// The rows and columns it spans, itself included: more than one for
    /// the first cell of a merged range.
    rows_spanned: u64,
    cols_spanned: u64,
    /// Err: the value is not one.
    value: Option<std::result::Result<Data, CellProblem>>,
    /// Whether its value type (`office:value-type`) is text or missing.
    text_type: bool,
    /// Whether LibreOffice marks it as a formula's error.
    is_error: bool,
}

impl CellStart {
    /// Reads the tag's attributes in one pass, without checking them for
    /// duplicates (the first value wins anyway): a sheet holds thousands.
    fn of(e: &BytesStart) -> std::result::Result<Self, XmlError> {
        let name = if e.name() == QName("table:table-cell") {
            "table:table-cell"
        } else {
            "table:covered-table-cell"
        };
        let mut start = CellStart {
            name,
            repeats: 1,
            rows_spanned: 1,
            cols_spanned: 1,
            value: None,
            text_type: true,
            is_error: false,
        };
        for a in e.attributes().with_checks(false) {
            let a = a?;
            let key = a.key.as_ref();
            match key {
                "table:number-columns-repeated" => start.repeats = count(&a.value),
                "table:number-rows-spanned" => start.rows_spanned = count(&a.value),
                "table:number-columns-spanned" => start.cols_spanned = count(&a.value),
                "calcext:value-type" => start.is_error = a.value == "error",
                _ if start.value.is_some() => {}
                "office:value-type" => start.text_type = a.value == "string",
                _ => {
                    let text = || a.normalized_value(quick_xml::XmlVersion::Implicit1_0);
                    start.value = match key {
                        "office:value" => {
                            let text = text()?;
                            Some(match text.trim().parse::<f64>() {
                                Ok(number) => Ok(Data::Float(number)),
                                Err(_) => Err(CellProblem::NotANumber(text.into_owned())),
                            })
                        }
                        "office:string-value" | "office:date-value" | "office:time-value"
                            if a.value.len() as u64 > MAX_CELL_TEXT_BYTES =>
                        {
                            Some(Err(CellProblem::TextTooLong(a.value.len() as u64)))
                        }
                        "office:string-value" => Some(Ok(Data::String(text()?.into_owned()))),
                        "office:date-value" => Some(Ok(Data::DateTimeIso(text()?.into_owned()))),
                        "office:time-value" => Some(Ok(Data::DurationIso(text()?.into_owned()))),
                        "office:boolean-value" => {
                            Some(Ok(Data::Bool(matches!(a.value.as_ref(), "true" | "TRUE"))))
                        }
                        _ => None,
                    };
                }
            }
        }
        Ok(start)
    }
}

/// A cell's value from its start tag and, for text, its paragraphs: a text
/// cell without a value attribute, or an error cell, holds its text there.
/// A cell with no value type but text is read as text too (LibreOffice
/// shows it). Reads the cell to its end when `has_content`. Err: the value
/// is not one.
fn read_cell<R: BufRead>(
    xml: &mut Xml<R>,
    start: CellStart,
    has_content: bool,
    buf: &mut Vec<u8>,
) -> std::result::Result<std::result::Result<Data, CellProblem>, XmlError> {
    let value = match start.value.transpose() {
        Ok(value) => value,
        Err(why) => {
            if has_content {
                xml.read_to_end_into(QName(start.name), buf)?;
            }
            return Ok(Err(why));
        }
    };
    let reads_text = match &value {
        None => start.text_type,
        Some(Data::String(s)) => start.is_error && s.is_empty(),
        Some(_) => false,
    };
    if !has_content {
        return Ok(Ok(value.unwrap_or(Data::Empty)));
    }
    if !reads_text {
        xml.read_to_end_into(QName(start.name), buf)?;
        return Ok(Ok(value.unwrap_or(Data::Empty)));
    }
    let text = read_text(xml, buf)?;
    Ok(text.map(|text| {
        if text.is_empty() {
            value.unwrap_or(Data::Empty)
        } else {
            Data::String(text)
        }
    }))
}

/// A cell's text, from after its start to its end: paragraphs joined by
/// line breaks, `text:s` as spaces, `text:tab` and `text:line-break` as
/// themselves, annotations (comments) left out.
fn read_text<R: BufRead>(
    xml: &mut Xml<R>,
    buf: &mut Vec<u8>,
) -> std::result::Result<std::result::Result<String, CellProblem>, XmlError> {
    let mut text = Text::default();
    // Elements open inside the cell: its end is the first end outside them.
    let mut depth = 0usize;
    loop {
        buf.clear();
        match xml.read_event_into(buf)? {
            // Measured before it is decoded (a copy when its line ends are).
            Event::Text(t) if text.fits(t.len()) => text.value.push_str(&t.xml10_content()),
            Event::CData(t) if text.fits(t.len()) => text.value.push_str(&t),
            Event::Text(_) | Event::CData(_) => {}
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref()? {
                    text.value.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_xml_entity(&r) {
                    text.value.push_str(s);
                } else {
                    return Err(XmlError::Entity(r.to_string()));
                }
            }
            Event::Start(e) if e.name() == QName("office:annotation") => {
                xml.read_to_end_into(e.name(), &mut Vec::new())?;
            }
            Event::Start(e) => {
                depth += 1;
                text.element(&e)?;
            }
            Event::Empty(e) => text.element(&e)?,
            Event::End(_) if depth == 0 => {
                return Ok(match text.refused {
                    Some(why) => Err(why),
                    None => Ok(text.value),
                });
            }
            Event::End(_) => depth -= 1,
            Event::Eof => return Err(XmlError::Eof),
            _ => {}
        }
    }
}

/// A cell's text as it is read.
#[derive(Default)]
struct Text {
    value: String,
    paragraphs: usize,
    /// Spaces its `text:s` elements stand for, so far.
    spaces: u64,
    refused: Option<CellProblem>,
}

impl Text {
    /// Whether `more` bytes of text fit in the cell: if not, it is
    /// refused, and its text so far dropped.
    fn fits(&mut self, more: usize) -> bool {
        let len = (self.value.len() as u64).saturating_add(more as u64);
        if len <= MAX_CELL_TEXT_BYTES {
            return true;
        }
        self.refused.get_or_insert(CellProblem::TextTooLong(len));
        self.value = String::new();
        false
    }

    /// What an element inside the cell adds to its text.
    fn element(&mut self, e: &BytesStart) -> std::result::Result<(), XmlError> {
        match e.name().as_ref() {
            "text:p" | "text:h" => {
                if self.paragraphs > 0 {
                    self.value.push('\n');
                }
                self.paragraphs += 1;
            }
            "text:s" => {
                // Each element is a few bytes of the file: the spaces of all
                // of a cell's are counted together.
                let count = repeats(e, "text:c")?;
                self.spaces = self.spaces.saturating_add(count);
                if self.spaces > MAX_SPACES {
                    let spaces = self.spaces;
                    self.refused
                        .get_or_insert(CellProblem::TooManySpaces(spaces));
                } else {
                    self.value.extend(std::iter::repeat_n(' ', count as usize));
                }
            }
            "text:tab" => self.value.push('\t'),
            "text:line-break" => self.value.push('\n'),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::Reader;
    use std::io::{Cursor, Write};
    use std::path::PathBuf;
    use zip::write::SimpleFileOptions;

    /// An .ods archive holding `content` as its `content.xml`.
    fn archive(mimetype: &[u8], content: &str, manifest: Option<&str>) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut add = |name: &str, bytes: &[u8]| {
            zip.start_file(name, stored).unwrap();
            zip.write_all(bytes).unwrap();
        };
        add("mimetype", mimetype);
        add("content.xml", content.as_bytes());
        if let Some(manifest) = manifest {
            add("META-INF/manifest.xml", manifest.as_bytes());
        }
        zip.finish().unwrap().into_inner()
    }

    fn ods(tables: &str) -> Vec<u8> {
        let manifest = r#"<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"#;
        archive(MIMETYPE, &document(tables), Some(manifest))
    }

    /// A `content.xml` whose body holds `tables`, with an automatic style
    /// `ta_hidden` for hidden sheets, as LibreOffice writes one.
    fn document(tables: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content
 xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
 xmlns:xlink="http://www.w3.org/1999/xlink"
 office:version="1.3">
<office:automatic-styles>
<style:style style:name="ta_hidden" style:family="table">
<style:table-properties table:display="false" style:writing-mode="lr-tb"/>
</style:style>
</office:automatic-styles>
<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>
</office:document-content>"#
        )
    }

    fn open(bytes: &[u8]) -> Result<Workbook> {
        Workbook::open(bytes)
    }

    fn message(error: Error) -> String {
        error.to_string()
    }

    fn calamine_book(bytes: &[u8]) -> calamine::Ods<Cursor<&[u8]>> {
        calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap()
    }

    /// The cells of sheet `name` as calamine reads them, from A1.
    fn calamine_cells(bytes: &[u8], name: &str) -> Vec<(usize, usize, Data)> {
        let mut book = calamine_book(bytes);
        let range = book.worksheet_range(name).unwrap();
        let (row0, col0) = range.start().unwrap_or((0, 0));
        let mut cells: Vec<_> = range
            .used_cells()
            .map(|(r, c, d)| (r + row0 as usize, c + col0 as usize, d.clone()))
            .collect();
        cells.sort_by_key(|(r, c, _)| (*r, *c));
        cells
    }

    fn our_cells(bytes: &[u8], name: &str) -> Vec<(usize, usize, Data)> {
        let grid = open(bytes).unwrap().grid(name).unwrap();
        grid.values()
            .into_iter()
            .map(|(r, c, d)| (r, c, d.clone()))
            .collect()
    }

    /// Every sheet of `bytes` reads as calamine reads it, with the same
    /// names, order and visibility.
    fn assert_reads_as_calamine(bytes: &[u8]) {
        let book = calamine_book(bytes);
        let theirs = book.sheets_metadata().to_vec();
        let ours = open(bytes).unwrap().sheets_metadata();
        assert_eq!(ours, theirs);
        for sheet in &ours {
            // calamine leaves the cells a merged range covers as the file
            // holds them: they are compared by `every_cell_of_a_merged_range_has_its_value`.
            let grid = open(bytes).unwrap().grid(&sheet.name).unwrap();
            let not_covered = |(r, c, _): &(usize, usize, Data)| !grid.covers(*r, *c);
            let theirs: Vec<_> = calamine_cells(bytes, &sheet.name)
                .into_iter()
                .filter(not_covered)
                .collect();
            let ours: Vec<_> = our_cells(bytes, &sheet.name)
                .into_iter()
                .filter(not_covered)
                .collect();
            assert_eq!(ours, theirs, "sheet {}", sheet.name);
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/ingest")
            .join(name);
        std::fs::read(path).unwrap()
    }

    #[test]
    fn libreoffice_files_read_as_calamine_reads_them() {
        for name in ["formats_table.ods", "hidden_sheet_first.ods"] {
            let bytes = fixture(name);
            assert!(
                !open(&bytes).unwrap().sheets_metadata().is_empty(),
                "{name}"
            );
            assert_reads_as_calamine(&bytes);
        }
    }

    /// Every kind of value and every way of repeating, spanning, grouping
    /// and annotating cells, on a visible and a hidden sheet.
    const VARIED: &str = r#"
<table:table table:name="Données">
 <table:table-column table:number-columns-repeated="5"/>
 <table:table-header-rows><table:table-row>
  <table:table-cell office:value-type="string" calcext:value-type="string"><text:p>Nom &amp; pr&#233;nom</text:p></table:table-cell>
  <table:table-cell office:value-type="float" office:value="12.5" calcext:value-type="float"><text:p>12,5</text:p></table:table-cell>
  <table:table-cell office:value-type="percentage" office:value="0.25"><text:p>25 %</text:p></table:table-cell>
  <table:table-cell office:value-type="currency" office:currency="EUR" office:value="1234.56"><text:p>1 234,56 €</text:p></table:table-cell>
  <table:table-cell office:value-type="boolean" office:boolean-value="true"><text:p>VRAI</text:p></table:table-cell>
 </table:table-row></table:table-header-rows>
 <table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="5"/></table:table-row>
 <table:table-row>
  <table:table-cell office:value-type="date" office:date-value="2024-03-15"><text:p>15/03/2024</text:p></table:table-cell>
  <table:table-cell office:value-type="time" office:time-value="PT13H45M00S"><text:p>13:45</text:p></table:table-cell>
  <table:table-cell table:number-columns-spanned="2" office:value-type="string"><text:p>ligne un</text:p><text:p>ligne <text:span text:style-name="T1">deux</text:span></text:p></table:table-cell>
  <table:covered-table-cell/>
  <table:table-cell office:value-type="string"><text:p>caf&#233;<text:s text:c="2"></text:s>fin<text:tab></text:tab>tab</text:p></table:table-cell>
 </table:table-row>
 <table:table-row-group><table:table-row table:number-rows-repeated="2">
  <table:table-cell table:number-columns-repeated="3" office:value-type="float" office:value="7"><text:p>7</text:p></table:table-cell>
  <table:table-cell office:value-type="string"><office:annotation><text:p>commentaire</text:p></office:annotation><text:p>noté</text:p></table:table-cell>
  <table:table-cell office:value-type="string"><text:p>voir <text:a xlink:href="https://example.org/" xlink:type="simple">le site</text:a></text:p></table:table-cell>
 </table:table-row></table:table-row-group>
 <table:table-row table:number-rows-repeated="1000"><table:table-cell table:number-columns-repeated="20"/></table:table-row>
</table:table>
<table:table table:name="Cachée" table:style-name="ta_hidden">
 <table:table-row><table:table-cell/><table:table-cell office:value-type="float" office:value="-3"><text:p>-3</text:p></table:table-cell></table:table-row>
</table:table>"#;

    #[test]
    fn values_repeats_spans_and_hidden_sheets_read_as_calamine_reads_them() {
        // calamine refuses whitespace between cells, which XML allows and
        // which this reader ignores.
        let packed: String = VARIED.lines().map(str::trim).collect();
        let bytes = ods(&packed);
        assert_reads_as_calamine(&bytes);
        assert_eq!(
            our_cells(&ods(VARIED), "Données"),
            our_cells(&bytes, "Données")
        );
        // What calamine is compared on, written out.
        let cells = our_cells(&bytes, "Données");
        // Row 5's text spans two columns: the covered one shows it too.
        assert_eq!(cells.len(), 5 + 5 + 2 * 5);
        assert_eq!(cells[0], (0, 0, Data::String("Nom & prénom".into())));
        assert_eq!(cells[3], (0, 3, Data::Float(1234.56)));
        assert_eq!(cells[4], (0, 4, Data::Bool(true)));
        assert_eq!(cells[5], (4, 0, Data::DateTimeIso("2024-03-15".into())));
        assert_eq!(cells[6], (4, 1, Data::DurationIso("PT13H45M00S".into())));
        let two_lines = Data::String("ligne un\nligne deux".into());
        assert_eq!(cells[7], (4, 2, two_lines.clone()));
        assert_eq!(cells[8], (4, 3, two_lines));
        assert_eq!(cells[9], (4, 4, Data::String("café  fin\ttab".into())));
        assert_eq!(cells[10], (5, 0, Data::Float(7.0)));
        assert_eq!(cells[13], (5, 3, Data::String("noté".into())));
        assert_eq!(cells[14], (5, 4, Data::String("voir le site".into())));
        assert_eq!(cells[18], (6, 3, Data::String("noté".into())));
        let sheets = open(&bytes).unwrap().sheets_metadata();
        assert_eq!(sheets[1].visible, SheetVisible::Hidden);
    }

    /// Where this reader is deliberately not calamine: empty `text:s`,
    /// `text:tab` and `text:line-break` elements (what LibreOffice writes)
    /// count, headings are paragraphs, and a cell with text but no value
    /// type is text.
    #[test]
    fn empty_text_elements_headings_and_untyped_text_are_read() {
        let bytes = ods(r#"<table:table table:name="T"><table:table-row>
 <table:table-cell office:value-type="string"><text:p>a<text:s text:c="3"/>b<text:s/>c</text:p></table:table-cell>
 <table:table-cell office:value-type="string"><text:p>x<text:tab/>y<text:line-break/>z</text:p></table:table-cell>
 <table:table-cell office:value-type="string"><text:h>Titre</text:h><text:p>corps</text:p></table:table-cell>
 <table:table-cell><text:p>sans type</text:p></table:table-cell>
 <table:table-cell office:value-type="string" office:string-value="attribut"><text:p>affiché</text:p></table:table-cell>
</table:table-row></table:table>"#);
        let text = |s: &str| Data::String(s.into());
        assert_eq!(
            our_cells(&bytes, "T"),
            vec![
                (0, 0, text("a   b c")),
                (0, 1, text("x\ty\nz")),
                (0, 2, text("Titre\ncorps")),
                (0, 3, text("sans type")),
                (0, 4, text("attribut")),
            ]
        );
    }

    fn sheet_error(tables: &str, name: &str) -> Error {
        let bytes = ods(tables);
        let workbook = open(&bytes).unwrap();
        workbook.grid(name).err().unwrap()
    }

    fn sheet_refusal(tables: &str, name: &str) -> String {
        message(sheet_error(tables, name))
    }

    fn one_row_sheet(row_repeats: u64, cells: &str) -> String {
        format!(
            r#"<table:table table:name="T"><table:table-row table:number-rows-repeated="{row_repeats}">{cells}</table:table-row></table:table>"#
        )
    }

    #[test]
    fn repeats_that_expand_without_bound_are_refused_before_they_are_stored() {
        // 251 columns over 100,000 rows: 25.1 million cells.
        let wide = r#"<table:table-cell table:number-columns-repeated="251" office:value-type="float" office:value="1"/>"#;
        let refusal = sheet_refusal(&one_row_sheet(100_000, wide), "T");
        assert!(refusal.contains("more than 25000000 cells"), "{refusal}");

        let cell = r#"<table:table-cell office:value-type="float" office:value="1"/>"#;
        let refusal = sheet_refusal(&one_row_sheet(100_001, cell), "T");
        assert!(
            refusal.contains("row 1 of the sheet repeats its content 100001 times"),
            "{refusal}"
        );

        let below = format!(
            r#"<table:table table:name="T"><table:table-row table:number-rows-repeated="1048576"/><table:table-row>{cell}</table:table-row></table:table>"#
        );
        let refusal = sheet_refusal(&below, "T");
        assert!(
            refusal.contains("a cell at row 1048577, column 1,"),
            "{refusal}"
        );

        let beyond = format!(r#"<table:table-cell table:number-columns-repeated="16384"/>{cell}"#);
        let refusal = sheet_refusal(&one_row_sheet(1, &beyond), "T");
        assert!(refusal.contains("row 1, column 16385"), "{refusal}");
    }

    #[test]
    fn text_that_expands_without_bound_is_refused_before_it_is_stored() {
        let copies = |cell_repeats: u64, row_repeats: u64, bytes: usize| {
            let long = "x".repeat(bytes);
            let cell = format!(
                r#"<table:table-cell table:number-columns-repeated="{cell_repeats}" office:value-type="string" office:string-value="{long}"/>"#
            );
            sheet_error(&one_row_sheet(row_repeats, &cell), "T")
        };
        // 70,000 bytes over 16,384 cells of one row: 1.07 GiB.
        assert!(matches!(copies(16_384, 1, 70_000), Error::TooMuchText));
        // 10,000 bytes over 1,000 cells of 200 rows: 1.9 GiB.
        assert!(matches!(copies(1000, 200, 10_000), Error::TooMuchText));
        // 1,000 bytes over 100 cells of 700 rows: 70 MB of copies.
        assert!(matches!(copies(100, 700, 1000), Error::TooMuchText));
        // 1,000 bytes over 100 cells of 600 rows: 60 MB of copies.
        let bytes = ods(&one_row_sheet(
            600,
            &format!(
                r#"<table:table-cell table:number-columns-repeated="100" office:value-type="string" office:string-value="{}"/>"#,
                "x".repeat(1000)
            ),
        ));
        assert_eq!(
            open(&bytes).unwrap().grid("T").unwrap().values().len(),
            60_000
        );

        // Three elements of 20,000 spaces: each within a cell's limit, not together.
        let many = r#"<table:table-cell office:value-type="string"><text:p>a<text:s text:c="20000"/>b<text:s text:c="20000"/><text:s text:c="20000"/></text:p></table:table-cell>"#;
        let refusal = sheet_refusal(&one_row_sheet(1, many), "T");
        assert!(
            refusal.contains("row 1, column 1: the cell's text announces 40000 spaces"),
            "{refusal}"
        );

        let spaces = r#"<table:table-cell office:value-type="string"><text:p>a<text:s text:c="4000000000"/></text:p></table:table-cell>"#;
        let refusal = sheet_refusal(&one_row_sheet(1, spaces), "T");
        assert!(
            refusal.contains("row 1, column 1: the cell's text announces 4000000000 spaces"),
            "{refusal}"
        );
    }

    /// A cell's text is held to a megabyte, in its paragraphs or its
    /// value attribute: held twice as it is read, a cell of 900 MB took 1.85 GB.
    #[test]
    fn a_cell_of_megabytes_of_text_is_refused() {
        let long = "x".repeat(1 << 20);
        let cells = [
            format!(
                r#"<table:table-cell office:value-type="string"><text:p>{long}</text:p></table:table-cell>"#
            ),
            format!(
                r#"<table:table-cell office:value-type="string"><text:p>{long}</text:p><text:p>x</text:p></table:table-cell>"#
            ),
            format!(
                r#"<table:table-cell office:value-type="string" office:string-value="{long}x"/>"#
            ),
        ];
        let read = |cell: &str| {
            let bytes = ods(&one_row_sheet(1, cell));
            open(&bytes)
                .unwrap()
                .grid("T")
                .map(|grid| grid.values().len())
        };
        assert_eq!(read(&cells[0]).unwrap(), 1);
        for cell in &cells[1..] {
            let refusal = read(cell).err().unwrap();
            assert!(
                matches!(
                    refusal,
                    Error::BadCell {
                        row: 1,
                        col: 1,
                        problem: CellProblem::TextTooLong(_)
                    }
                ),
                "{refusal:?}"
            );
        }
    }

    /// A fuzzer's finding: 35 KB of text over a row's 16,384 cells, 578 MB
    /// once written out (2.3 GB under the fuzzer's sanitizer), from a file
    /// of 36 KB.
    #[test]
    fn a_long_text_repeated_over_a_row_is_refused() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/hostile/fuzz_ods_long_text_repeated_over_a_row.ods");
        let workbook = open(&std::fs::read(path).unwrap()).unwrap();
        let refusal = workbook.grid("Lignes").err().unwrap();
        assert!(matches!(refusal, Error::TooMuchText), "{refusal:?}");
    }

    /// Cells and text share one budget: a long text merged over many cells
    /// is copied into each, as many copies as a long text repeated.
    #[test]
    fn a_long_text_merged_over_many_cells_is_refused() {
        // 10,000 bytes over 2,000 rows of 1,000 columns: 20 GB.
        let merged = format!(
            r#"<table:table table:name="T">
 <table:table-row><table:table-cell office:value-type="string" table:number-rows-spanned="2000" table:number-columns-spanned="1000"><text:p>{}</text:p></table:table-cell></table:table-row>
 <table:table-row table:number-rows-repeated="1998"><table:table-cell/></table:table-row>
 <table:table-row><table:table-cell table:number-columns-repeated="999"/><table:table-cell office:value-type="float" office:value="1"/></table:table-row>
</table:table>"#,
            "x".repeat(10_000)
        );
        assert!(matches!(sheet_error(&merged, "T"), Error::SheetTooLarge));
        // 10 bytes over 200 rows of 100 columns are no more than a sheet.
        let small = merged
            .replace("x".repeat(10_000).as_str(), "0123456789")
            .replace("1998", "198")
            .replace("\"2000\"", "\"200\"")
            .replace("\"1000\"", "\"100\"")
            .replace("\"999\"", "\"99\"");
        let grid = open(&ods(&small)).unwrap().grid("T").unwrap();
        use crate::Grid;
        assert_eq!(grid.merged_cells(), 200 * 100 - 1);
        assert_eq!(grid.cell(199, 98), crate::Cell::Text("0123456789"));
    }

    #[test]
    fn a_value_that_is_not_one_names_its_cell_and_spares_the_other_sheets() {
        let tables = r#"
<table:table table:name="Mauvaise">
 <table:table-row><table:table-cell office:value-type="string"><text:p>en-tête</text:p></table:table-cell></table:table-row>
 <table:table-row><table:table-cell/><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="float" office:value="douze"><text:p>douze</text:p></table:table-cell></table:table-row>
</table:table>
<table:table table:name="Bonne">
 <table:table-row><table:table-cell office:value-type="float" office:value="12"/></table:table-row>
</table:table>"#;
        let Error::BadCell { row, col, problem } = sheet_error(tables, "Mauvaise") else {
            panic!("not a bad cell");
        };
        assert_eq!(
            (row, col, problem),
            (2, 4, CellProblem::NotANumber("douze".into()))
        );
        assert_eq!(
            our_cells(&ods(tables), "Bonne"),
            vec![(0, 0, Data::Float(12.0))]
        );
    }

    #[test]
    fn files_that_are_not_readable_spreadsheets_are_refused_in_plain_words() {
        let table = one_row_sheet(1, "<table:table-cell/>");
        let text = archive(
            b"application/vnd.oasis.opendocument.text",
            &document(&table),
            None,
        );
        assert!(matches!(open(&text), Err(Error::NotASpreadsheet)));

        let manifest = r#"<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">
<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="x"/>
</manifest:file-entry></manifest:manifest>"#;
        let locked = archive(MIMETYPE, &document(&table), Some(manifest));
        assert!(matches!(open(&locked), Err(Error::Encrypted)));

        let whole = document(&table);
        let truncated = archive(MIMETYPE, &whole[..whole.len() - 120], None);
        let entity = archive(
            MIMETYPE,
            &document(&one_row_sheet(
                1,
                r#"<table:table-cell office:value-type="string"><text:p>&nbsp;</text:p></table:table-cell>"#,
            )),
            None,
        );
        for broken in [truncated, entity, b"PK\x03\x04 not a zip".to_vec()] {
            assert!(matches!(open(&broken), Err(Error::Damaged { .. })));
        }
    }
}
