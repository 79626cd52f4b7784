//! Workbooks (xlsx, xlsm, xlsb read with calamine, xls and ods with our
//! own readers, told apart by their content): checked before a reader
//! trusts them, then read a sheet at a time into a grid of cells.

use crate::error::{Error, Result};
use crate::grid::{Dates1904, Grid, SheetGrid, SparseGrid};
use crate::limits::{MAX_COLUMNS, MAX_MEMBER_BYTES, MAX_ROWS};
use crate::{ods, xls};
use calamine::{Reader, SheetType, SheetVisible};
use std::io::Cursor;

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
}

enum Book<B: AsRef<[u8]>> {
    Calamine(Box<calamine::Sheets<Cursor<B>>>),
    Xls(xls::Xls),
    Ods(ods::Workbook),
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
            });
        }
        if let Some(version) = xls::old_excel(bytes) {
            return Err(Error::OldExcel { version });
        }
        if bytes.starts_with(b"PK") && check_archive(bytes)? == Archive::Ods {
            return Ok(Workbook {
                book: Book::Ods(ods::Workbook::open(bytes)?),
            });
        }
        let workbook = calamine_call(|| {
            calamine::open_workbook_auto_from_rs(Cursor::new(data.clone())).map_err(|e| {
                Error::Damaged {
                    why: format!("the workbook reader said: {e}"),
                }
            })
        })?;
        Ok(Workbook {
            book: Book::Calamine(Box::new(workbook)),
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

    /// The merged regions of the sheet named `name`: (first row, first
    /// column, last row, last column), counted from 0, each within the
    /// sheet and the right way up. Read from `.xls` files only: the other
    /// formats give none here.
    pub fn merged_regions(&self, name: &str) -> Result<Vec<(u32, u32, u32, u32)>> {
        match &self.book {
            Book::Xls(xls) => xls.merged_regions(name),
            _ => Ok(Vec::new()),
        }
    }

    /// The sheet named `name` (exactly, one of [`Self::sheets`]'), its rows
    /// and columns counted from A1; it tells its workbook's date system.
    pub fn grid(&mut self, name: &str) -> Result<Box<dyn Grid + Send>> {
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
                Box::new(SparseGrid::new(cells)) as Box<dyn Grid + Send>
            }};
        }
        Ok(match &mut self.book {
            Book::Ods(ods) => Box::new(ods.grid(name)?),
            Book::Xls(xls) => Box::new(xls.grid(name)?),
            Book::Calamine(book) => calamine_call(|| {
                Ok(match book.as_mut() {
                    calamine::Sheets::Xlsx(xlsx) => sparse!(xlsx.worksheet_cells_reader(name)),
                    calamine::Sheets::Xlsb(xlsb) => sparse!(xlsb.worksheet_cells_reader(name)),
                    other => Box::new(SheetGrid::new(
                        other
                            .worksheet_range(name)
                            .map_err(|e| fail(e.to_string()))?,
                    )),
                })
            })?,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
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
        ] {
            assert!(read_all(&hostile(name)).is_err(), "{name}");
        }
    }
}
