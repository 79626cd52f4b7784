//! Workbooks (xlsx, xlsm, xlsb read with calamine, xls and ods with our
//! own readers, told apart by their content): checked before a reader
//! trusts them (and an xlsx mended where calamine would refuse what an
//! office program opens, in `ooxml`), then read a sheet at a time into a
//! grid of cells, merged ranges filled.

use crate::error::{Error, Result};
use crate::grid::{Dates1904, Grid, Merged, SparseGrid};
use crate::limits::{MAX_COLUMNS, MAX_MEMBER_BYTES, MAX_ROWS};
use crate::{ods, ooxml, xls};
use calamine::{Reader, SheetType, SheetVisible};
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

/// A sheet of a workbook, as its list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub name: String,
    pub visibility: Visibility,
    /// A worksheet, not a chart sheet or a macro sheet.
    pub is_worksheet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Visible,
    Hidden,
    /// Hidden so that only a macro or the file's XML can show it.
    VeryHidden,
}

impl Sheet {
    fn of(sheet: &calamine::Sheet) -> Self {
        Sheet {
            name: sheet.name.clone(),
            visibility: match sheet.visible {
                SheetVisible::Visible => Visibility::Visible,
                SheetVisible::Hidden => Visibility::Hidden,
                SheetVisible::VeryHidden => Visibility::VeryHidden,
            },
            is_worksheet: sheet.typ == SheetType::WorkSheet,
        }
    }
}

/// An open workbook, whichever reader reads it; `B` holds its bytes.
pub struct Workbook<B: AsRef<[u8]>> {
    book: Book<B>,
    /// The sheets listed whose content the file lacks (xlsx).
    missing: Vec<String>,
    /// An xlsx archive as calamine reads it, and each worksheet's part in
    /// it: where the sheet's merged ranges are looked for.
    archive: Option<(Bytes<B>, HashMap<String, String>)>,
}

enum Book<B: AsRef<[u8]>> {
    Calamine(Box<calamine::Sheets<Cursor<Bytes<B>>>>),
    Xls(xls::Xls),
    Ods(ods::Workbook),
}

/// The bytes calamine reads: the workbook's, or a copy mended where
/// calamine would refuse what an office program opens (see `ooxml`);
/// cloned for each format calamine tries.
#[derive(Clone)]
enum Bytes<B> {
    Given(B),
    Mended(Arc<Vec<u8>>),
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for Bytes<B> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Given(bytes) => bytes.as_ref(),
            Bytes::Mended(bytes) => bytes.as_slice(),
        }
    }
}

impl<B: AsRef<[u8]> + Clone> Workbook<B> {
    /// A workbook in memory; its format (xlsx, xlsm, xlsb, xls, ods) is
    /// detected from its content, and its structure checked against the
    /// limits before a reader allocates what it announces.
    pub fn open(data: B) -> Result<Self> {
        let bytes = data.as_ref();
        if bytes.starts_with(CFB_MAGIC) {
            return Ok(Workbook {
                book: Book::Xls(xls::Xls::open(bytes)?),
                missing: Vec::new(),
                archive: None,
            });
        }
        if let Some(version) = xls::old_excel(bytes) {
            return Err(Error::OldExcel { version });
        }
        let mut mended = ooxml::Mended::default();
        if bytes.starts_with(b"PK") {
            if check_archive(bytes)? == Archive::Ods {
                return Ok(Workbook {
                    book: Book::Ods(ods::Workbook::open(bytes)?),
                    missing: Vec::new(),
                    archive: None,
                });
            }
            mended = ooxml::mend(bytes)?;
        }
        let bytes = match mended.bytes {
            Some(copy) => Bytes::Mended(Arc::new(copy)),
            None => Bytes::Given(data.clone()),
        };
        let workbook = calamine_call(|| {
            calamine::open_workbook_auto_from_rs(Cursor::new(bytes.clone())).map_err(|e| {
                Error::Damaged {
                    why: format!("the workbook reader said: {e}"),
                }
            })
        })?;
        Ok(Workbook {
            book: Book::Calamine(Box::new(workbook)),
            missing: mended.missing,
            archive: Some((bytes, mended.parts)),
        })
    }
}

impl<B: AsRef<[u8]>> Workbook<B> {
    /// Its sheets in the workbook's order, with their visibility.
    pub fn sheets(&self) -> Vec<Sheet> {
        match &self.book {
            Book::Calamine(workbook) => workbook.sheets_metadata().iter().map(Sheet::of).collect(),
            Book::Xls(xls) => xls.sheets(),
            Book::Ods(workbook) => workbook.sheets_metadata().iter().map(Sheet::of).collect(),
        }
    }

    /// Whether the workbook counts its dates from 1904 (xlsx `date1904`,
    /// xls `DATEMODE`, the ods null date); xlsb is taken as 1900.
    pub fn dates_from_1904(&self) -> bool {
        match &self.book {
            Book::Ods(ods) => ods.dates_from_1904,
            Book::Xls(xls) => xls.dates_from_1904,
            Book::Calamine(book) => match book.as_ref() {
                calamine::Sheets::Xlsx(xlsx) => xlsx.has_1904_epoch(),
                _ => false,
            },
        }
    }

    /// The sheet named `name` (exactly, one of [`Self::sheets`]'), its rows
    /// and columns counted from A1; it tells its workbook's date system.
    pub fn grid(&mut self, name: &str) -> Result<Box<dyn Grid + Send>> {
        if self.missing.iter().any(|m| m == name) {
            return Err(Error::SheetPartMissing {
                sheet: name.to_owned(),
            });
        }
        let grid = self.sheet_grid(name)?;
        Ok(if self.dates_from_1904() {
            Box::new(Dates1904(grid))
        } else {
            grid
        })
    }

    fn sheet_grid(&mut self, name: &str) -> Result<Box<dyn Grid + Send>> {
        let fail = |why: String| Error::DamagedSheet {
            why: format!("the sheet reader said: {why}"),
        };
        // xlsx and xlsb are read cell by cell into a sparse grid: a dense range
        // would allocate every cell up to a stray one in the sheet's far corner.
        macro_rules! sparse {
            ($reader:expr) => {{
                let mut reader = $reader.map_err(|e| fail(e.to_string()))?;
                let mut cells = Vec::new();
                while let Some(cell) = reader.next_cell().map_err(|e| fail(e.to_string()))? {
                    let (row, col) = cell.get_position();
                    // Checked before the grid allocates a row per row up to this cell.
                    if row >= MAX_ROWS || col >= MAX_COLUMNS {
                        return Err(Error::BeyondSheetLimits {
                            row: u64::from(row) + 1,
                            col: u64::from(col) + 1,
                        });
                    }
                    let value = calamine::Data::from(cell.get_value().clone());
                    if value != calamine::Data::Empty {
                        cells.push((row, col, value));
                    }
                }
                SparseGrid::new(cells)
            }};
        }
        let archive = &self.archive;
        let book = match &mut self.book {
            Book::Ods(ods) => return Ok(Box::new(ods.grid(name)?)),
            Book::Xls(xls) => {
                let mut grid = xls.grid(name)?;
                let ranges: Vec<Merged> = xls
                    .merged_regions(name)?
                    .into_iter()
                    .map(|(first_row, first_col, last_row, last_col)| Merged {
                        first_row,
                        first_col,
                        last_row,
                        last_col,
                    })
                    .collect();
                grid.fill_merged(&ranges)?;
                return Ok(Box::new(grid));
            }
            Book::Calamine(book) => book,
        };
        let grid = calamine_call(|| {
            Ok(match book.as_mut() {
                calamine::Sheets::Xlsx(xlsx) => {
                    // Read as a worksheet, a dialog sheet fails as if it were damaged.
                    let listed = xlsx.sheets_metadata().iter().find(|s| s.name == name);
                    if listed.is_some_and(|s| s.typ != SheetType::WorkSheet) {
                        return Err(Error::NotAWorksheet {
                            name: name.to_owned(),
                        });
                    }
                    let mut grid = sparse!(xlsx.worksheet_cells_reader(name));
                    if let Some((bytes, parts)) = archive
                        && let Some(part) = parts.get(name)
                    {
                        grid.fill_merged(&ooxml::merged_ranges(bytes.as_ref(), part)?)?;
                    }
                    grid
                }
                // calamine does not read an xlsb sheet's merged ranges.
                calamine::Sheets::Xlsb(xlsb) => sparse!(xlsb.worksheet_cells_reader(name)),
                other => sparse_of(
                    &other
                        .worksheet_range(name)
                        .map_err(|e| fail(e.to_string()))?,
                ),
            })
        })?;
        Ok(Box::new(grid))
    }
}

/// A calamine range's cells with content, rows and columns counted from A1.
fn sparse_of(range: &calamine::Range<calamine::Data>) -> SparseGrid {
    let (row0, col0) = range.start().unwrap_or((0, 0));
    SparseGrid::new(
        range
            .used_cells()
            .map(|(r, c, value)| (row0 + r as u32, col0 + c as u32, value.clone()))
            .collect(),
    )
}

/// Runs a call into calamine: a panic in it (a structure it does not
/// expect, such as a cell reference of nine letters, whose column overflows)
/// is a broken file, not a crash.
fn calamine_call<T>(read: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or(Err(Error::Broken))
}

/// The first bytes of an OLE compound file: `.xls`, and an encrypted `.xlsx`
/// (told apart by `xls`).
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// What a workbook's zip archive holds.
#[derive(PartialEq)]
enum Archive {
    /// An OpenDocument file.
    Ods,
    /// Anything else: for calamine to tell.
    Other,
}

/// Checks an xlsx/xlsm/xlsb/ods archive before a reader trusts it: no member
/// decompresses beyond [`MAX_MEMBER_BYTES`], and the shared strings table does
/// not announce more strings than it can hold (calamine reserves memory for
/// the announced count).
fn check_archive(bytes: &[u8]) -> Result<Archive> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        // Not a readable archive: the reader says so in its own terms.
        return Ok(Archive::Other);
    };
    if archive.has_duplicate_names() {
        return Err(Error::DuplicatePart {
            name: duplicate_name(bytes, archive.central_directory_start()).unwrap_or_default(),
        });
    }
    for i in 0..archive.len() {
        let Ok(member) = archive.by_index_raw(i) else {
            continue;
        };
        if member.size() > MAX_MEMBER_BYTES {
            return Err(Error::MemberTooLarge {
                name: member.name().unwrap_or_default().into_owned(),
                bytes: member.size(),
            });
        }
    }
    if ods::is_ods(&archive) {
        return Ok(Archive::Ods);
    }
    let Ok(strings) = archive.by_name("xl/sharedStrings.xml") else {
        return Ok(Archive::Other);
    };
    let size = strings.size();
    let mut head = Vec::with_capacity(4096);
    // Reading a prefix of a member cannot fail in a way that matters here.
    let _ = std::io::Read::read_to_end(&mut std::io::Read::take(strings, 4096), &mut head);
    let head = String::from_utf8_lossy(&head);
    const ATTRIBUTE: &str = "uniqueCount=\"";
    let announced = head.find(ATTRIBUTE).map(|at| {
        let digits: String = head[at + ATTRIBUTE.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u64>().unwrap_or(u64::MAX)
    });
    // Each string takes at least `<si/>`: 5 bytes.
    if let Some(count) = announced
        && count > size / 5 + 1
    {
        return Err(Error::TooManyStrings { count, bytes: size });
    }
    Ok(Archive::Other)
}

/// The first name the central directory starting at `start` gives twice
/// (the archive reader keeps one member per name and cannot tell it).
fn duplicate_name(bytes: &[u8], start: u64) -> Option<String> {
    // A central directory header: its signature, then fixed fields up to
    // byte 46, of which the lengths of the name (at 28), of the extra field
    // (30) and of the comment (32); then the name.
    const SIGNATURE: &[u8] = b"PK\x01\x02";
    let length = |at: usize| usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let mut seen = std::collections::HashSet::new();
    let mut at = usize::try_from(start).ok()?;
    while bytes.get(at..at + 4) == Some(SIGNATURE) && at + 46 <= bytes.len() {
        let name = bytes.get(at + 46..at + 46 + length(at + 28))?;
        if !seen.insert(name) {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at += 46 + length(at + 28) + length(at + 30) + length(at + 32);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cell;
    use std::path::PathBuf;

    fn hostile(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/hostile")
            .join(name);
        std::fs::read(path).unwrap()
    }

    /// Every sheet of `bytes` read, or the first refusal.
    fn read_all(bytes: &[u8]) -> Result<()> {
        let mut workbook = Workbook::open(bytes)?;
        for sheet in workbook.sheets() {
            workbook.grid(&sheet.name)?;
        }
        Ok(())
    }

    fn ingest(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/ingest")
            .join(name);
        std::fs::read(path).unwrap()
    }

    /// merged_cells.fods merges A1:C1 (a title), A3:A5 (a commune) and
    /// B3:B4 (a date); LibreOffice saved it as xlsx, xls and ods. Each
    /// cell of a merged range reads as its first cell, and the sheet counts
    /// the 2 + 2 + 1 cells that took a value from a range.
    #[test]
    fn every_cell_of_a_merged_range_has_its_value() {
        for name in ["merged_cells.xlsx", "merged_cells.xls", "merged_cells.ods"] {
            let mut workbook = Workbook::open(ingest(name)).unwrap();
            let grid = workbook.grid("Séances").unwrap();
            let text = |row, col| grid.cell(row, col).to_string();
            let title = "Ateliers collectifs 2020";
            assert_eq!([text(0, 0), text(0, 1), text(0, 2)], [title; 3], "{name}");
            assert_eq!(text(1, 0), "Commune", "{name}");
            let communes: Vec<String> = (2..6).map(|r| text(r, 0)).collect();
            assert_eq!(communes, ["42218", "42218", "42218", "42207"], "{name}");
            // 2 March 2020 is Excel serial 43892; the ods reader gives it as ISO text.
            let date = |row| match grid.cell(row, 1) {
                crate::Cell::Float(serial) => serial.to_string(),
                crate::Cell::DateTime(at) => at.date().to_string(),
                other => other.to_string(),
            };
            assert!(
                ["43892", "2020-03-02"].contains(&date(2).as_str()),
                "{name}: {}",
                date(2)
            );
            assert_eq!(date(3), date(2), "{name}");
            assert_ne!(date(4), date(2), "{name}");
            let participants: Vec<String> = (2..6).map(|r| text(r, 2)).collect();
            assert_eq!(participants, ["5", "7", "4", "6"], "{name}");
            assert_eq!(grid.merged_cells(), 5, "{name}");
            assert_eq!(grid.height(), 6, "{name}");
        }
    }

    /// A range merged far past the sheet's last row adds no row, and one of
    /// a sheet's size is refused rather than written out cell by cell.
    #[test]
    fn a_merged_range_is_cut_to_the_used_rows_and_bounded() {
        use calamine::Data;
        let text = |s: &str| Data::String(s.to_owned());
        let mut grid = SparseGrid::new(vec![(0, 0, text("a")), (1, 1, text("b"))]);
        let range = |last_row, last_col| Merged {
            first_row: 0,
            first_col: 0,
            last_row,
            last_col,
        };
        grid.fill_merged(&[range(1_048_575, 0)]).unwrap();
        assert_eq!(grid.height(), 2);
        assert_eq!(grid.cell(1, 0).to_string(), "a");
        assert_eq!(grid.merged_cells(), 1);
        let wide: Vec<(u32, u32, Data)> = (0..6000).map(|r| (r, 5000, text("x"))).collect();
        let mut grid = SparseGrid::new([vec![(0, 0, text("a"))], wide].concat());
        assert!(matches!(
            grid.fill_merged(&[range(5999, 4999)]),
            Err(Error::TooManyCells)
        ));
    }

    /// The first four columns of a sheet, as text.
    fn rows<B: AsRef<[u8]> + Clone>(workbook: &mut Workbook<B>, sheet: &str) -> Vec<Vec<String>> {
        let grid = workbook.grid(sheet).unwrap();
        (0..grid.height())
            .map(|r| (0..4).map(|c| grid.cell(r, c).display()).collect())
            .collect()
    }

    /// The table of `tests/fixtures/make_formats.py`, whose last column
    /// holds dates.
    fn table() -> Vec<Vec<String>> {
        [
            ["Commune", "Libellé", "Montant", "Date"],
            ["42218", "Saint-Étienne", "12.5", "01/03/2020"],
            ["42187", "Roanne", "7", "15/03/2020"],
            ["42094", "Feurs", "3.25", "01/04/2020"],
        ]
        .map(|row| row.map(str::to_owned).to_vec())
        .to_vec()
    }

    fn worksheet(name: &str, is_worksheet: bool) -> Sheet {
        Sheet {
            name: name.into(),
            visibility: Visibility::Visible,
            is_worksheet,
        }
    }

    /// Excel's "Strict Open XML Spreadsheet": calamine matches elements by
    /// their local name and relationship types by their last segment, so
    /// the purl.oclc.org namespaces read as the transitional ones. Its
    /// dates are ISO 8601 text (t="d"), given as text as .ods dates are:
    /// the date parser reads them.
    #[test]
    fn strict_open_xml_is_read() {
        let mut workbook = Workbook::open(ingest("strict.xlsx")).unwrap();
        assert_eq!(workbook.sheets(), [worksheet("Données", true)]);
        let mut expected = table();
        for (row, day) in expected[1..].iter_mut().zip(["03-01", "03-15", "04-01"]) {
            row[3] = format!("2020-{day}T00:00:00");
        }
        assert_eq!(rows(&mut workbook, "Données"), expected);
        let grid = workbook.grid("Données").unwrap();
        assert_eq!(grid.cell(1, 2), Cell::Float(12.5));
        assert_eq!(grid.cell(1, 3), Cell::Text("2020-03-01T00:00:00"));
    }

    /// A macro sheet's relationship type made calamine refuse the whole
    /// workbook: its worksheets are read, its macro and dialog sheets
    /// listed as not worksheets, and refused as such when asked for.
    #[test]
    fn macro_and_dialog_sheets_are_listed_as_not_worksheets() {
        let mut workbook = Workbook::open(ingest("macro_and_dialog_sheets.xlsm")).unwrap();
        let sheets = [
            worksheet("Données", true),
            worksheet("Macro1", false),
            worksheet("Dialogue1", false),
            worksheet("Macro2", false),
            worksheet("Notes", true),
        ];
        assert_eq!(workbook.sheets(), sheets);
        assert_eq!(rows(&mut workbook, "Données"), table());
        assert_eq!(rows(&mut workbook, "Notes")[1][0], "Rien à signaler");
        for name in ["Macro1", "Dialogue1", "Macro2"] {
            let refusal = workbook.grid(name).err().unwrap();
            assert!(
                matches!(refusal, Error::NotAWorksheet { .. }),
                "{refusal:?}"
            );
        }
    }

    /// Dimensions calamine cannot parse (whole rows as LibreOffice writes
    /// them, whole columns, empty, three cells) made it refuse the sheet:
    /// the dimension is only a hint, the sheets are read.
    #[test]
    fn sheets_with_odd_dimensions_are_read() {
        let mut workbook = Workbook::open(ingest("dimension_whole_rows.xlsx")).unwrap();
        assert_eq!(rows(&mut workbook, "Données"), table());
        let mut workbook = Workbook::open(ingest("dimension_odd_refs.xlsx")).unwrap();
        for sheet in ["Feuille1", "Feuille2", "Feuille3"] {
            assert_eq!(rows(&mut workbook, sheet), table(), "{sheet}");
        }
    }

    /// A sheet listed without its part, or without the relationship that
    /// leads to it (then calamine refused the whole workbook): that sheet
    /// is refused by name, the other read.
    #[test]
    fn a_sheet_listed_without_its_content_is_refused_by_name() {
        for name in ["sheet_part_missing.xlsx", "sheet_relationship_missing.xlsx"] {
            let mut workbook = Workbook::open(hostile(name)).unwrap();
            let sheets = [worksheet("Données", true), worksheet("Absente", true)];
            assert_eq!(workbook.sheets(), sheets, "{name}");
            assert_eq!(rows(&mut workbook, "Données"), table(), "{name}");
            let refusal = workbook.grid("Absente").err().unwrap();
            assert!(
                matches!(&refusal, Error::SheetPartMissing { sheet } if sheet == "Absente"),
                "{name}: {refusal:?}"
            );
        }
    }

    /// Found by the xlsx fuzz target: calamine's column of a nine-letter
    /// cell reference overflows (a panic where overflows are checked).
    #[test]
    fn a_cell_reference_of_nine_letters_is_refused_not_a_panic() {
        let refusal = read_all(&hostile("column_of_nine_letters.xlsx")).unwrap_err();
        assert!(
            matches!(
                refusal,
                Error::Broken | Error::BeyondSheetLimits { row: 6, .. }
            ),
            "{refusal:?}"
        );
    }

    /// Two members named xl/worksheets/sheet1.xml (the reader took the
    /// last, holding other amounts): refused, naming the part.
    #[test]
    fn an_archive_holding_two_parts_of_one_name_is_refused() {
        let refusal = read_all(&hostile("duplicate_part.xlsx")).unwrap_err();
        assert!(
            matches!(&refusal, Error::DuplicatePart { name } if name == "xl/worksheets/sheet1.xml"),
            "{refusal:?}"
        );
    }

    /// Every hostile workbook of the suite is refused with an error, never
    /// a panic out of the crate.
    #[test]
    fn hostile_workbooks_are_refused_without_a_panic() {
        for name in [
            "boundsheet_offset.xls",
            "dimensions_rows.xls",
            "fat_loop.xls",
            "password.xlsx",
            "password.xls",
            "password_cryptoapi.xls",
            "password_xor.xls",
            "excel_2.xls",
            "excel_4.xls",
            "excel_95.xls",
            "excel_95_workbook_stream.xls",
            "huge_unique_count.xlsx",
            "row_4000000000.xlsx",
            "row_100000000.xlsx",
            "column_zzzzz.xlsx",
            "column_of_nine_letters.xlsx",
            "rows_repeated.ods",
            "cells_repeated.ods",
            "text_repeated.ods",
            "fuzz_ods_long_text_repeated_over_a_row.ods",
            "duplicate_part.xlsx",
            "sheet_part_missing.xlsx",
            "sheet_relationship_missing.xlsx",
        ] {
            assert!(read_all(&hostile(name)).is_err(), "{name}");
        }
    }
}
