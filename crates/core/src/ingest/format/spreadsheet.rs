//! Workbooks (xlsx, xlsm, xlsb, xls, ods), read with calamine: one sheet of
//! the file, as a grid of cells.

use super::{Format, Opened};
use crate::error::{Error, Result};
use crate::ingest::columns::Context;
use crate::ingest::grid::{Grid, MAX_COLUMNS, MAX_ROWS, SheetGrid, SparseGrid};
use crate::ingest::header;
use crate::ingest::rows::{self, FileRows};
use crate::pipeline::Source;
use calamine::{Reader, SheetType, SheetVisible};
use std::path::Path;

pub struct Spreadsheet;

impl Format for Spreadsheet {
    fn reads(&self, _path: &Path) -> bool {
        // Told apart by content: see `FORMATS`.
        true
    }

    fn parse(
        &self,
        source: &Source,
        path: &Path,
        bytes: &[u8],
        context: &Context,
    ) -> Result<FileRows> {
        // The bytes hashed are the ones parsed: one read of the file.
        let (grid, sheet) = open_sheet(path, bytes, source.sheet.as_deref())?;
        let layout = header::locate(grid.as_ref(), source, path, Some(&sheet))?;
        let rows = layout.header_row + 1..grid.height();
        Ok(FileRows {
            path: path.to_owned(),
            parts: vec![rows::parse_rows(
                grid.as_ref(),
                &layout,
                source,
                rows,
                context,
                path,
            )?],
            layout,
            height: grid.height(),
            sheet: Some(sheet),
            encoding: None,
        })
    }

    fn open(
        &self,
        path: &Path,
        bytes: &[u8],
        sheet: Option<&str>,
        _encoding: &str,
        _delimiter: &str,
    ) -> Result<Opened> {
        let (grid, sheet) = open_sheet(path, bytes, sheet)?;
        Ok(Opened {
            grid,
            sheet: Some(sheet),
            encoding: None,
        })
    }

    fn sheets(&self, path: &Path, bytes: &[u8]) -> Result<Vec<calamine::Sheet>> {
        Ok(open_workbook(path, bytes)?.sheets_metadata().to_vec())
    }
}

/// A workbook in memory; its format (xlsx, xlsm, xlsb, xls, ods) is detected from its content.
fn open_workbook<'b>(
    path: &Path,
    bytes: &'b [u8],
) -> Result<calamine::Sheets<std::io::Cursor<&'b [u8]>>> {
    if bytes.starts_with(CFB_MAGIC) && is_encrypted(bytes) {
        return Err(Error::input(
            path,
            None,
            "the workbook is protected by a password: save it again without one",
        ));
    }
    if bytes.starts_with(b"PK") {
        check_archive(path, bytes)?;
    }
    calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| {
        tracing::debug!(file = %path.display(), "the workbook reader said: {e}");
        Error::input(
            path,
            None,
            "cannot open the workbook: it is damaged, truncated or not a spreadsheet",
        )
    })
}

/// The first bytes of an OLE compound file: `.xls`, and an encrypted `.xlsx`.
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Whether a compound file holds an `EncryptionInfo` stream: what Excel
/// writes for a workbook saved with a password.
fn is_encrypted(bytes: &[u8]) -> bool {
    let name: Vec<u8> = "EncryptionInfo"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    memchr::memmem::find(bytes, &name).is_some()
}

/// Largest a member of a workbook's archive may be once decompressed.
const MAX_MEMBER_BYTES: u64 = 4 << 30;

/// Checks an xlsx/xlsm/xlsb/ods archive before the reader trusts it: no member
/// decompresses beyond [`MAX_MEMBER_BYTES`], and the shared strings table does
/// not announce more strings than it can hold (the reader reserves memory for
/// the announced count).
fn check_archive(path: &Path, bytes: &[u8]) -> Result<()> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        // Not a readable archive: the reader says so in its own terms.
        return Ok(());
    };
    let refuse = |message: String| Err(Error::input(path, None, message));
    for i in 0..archive.len() {
        let Ok(member) = archive.by_index_raw(i) else {
            continue;
        };
        if member.size() > MAX_MEMBER_BYTES {
            return refuse(format!(
                "the workbook's part '{}' would take {} MB once decompressed, more than the \
                 {} MB limit: the file is damaged or hostile",
                member.name().unwrap_or_default(),
                member.size() >> 20,
                MAX_MEMBER_BYTES >> 20
            ));
        }
    }
    let Ok(strings) = archive.by_name("xl/sharedStrings.xml") else {
        return Ok(());
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
        return refuse(format!(
            "the workbook's shared strings announce {count} strings, more than its {size} \
             bytes can hold: the file is damaged or hostile"
        ));
    }
    Ok(())
}

/// Opens the named sheet (or the first visible worksheet) of a workbook.
fn open_sheet(path: &Path, bytes: &[u8], wanted: Option<&str>) -> Result<(Box<dyn Grid>, String)> {
    let mut workbook = open_workbook(path, bytes)?;
    let sheets = workbook.sheets_metadata().to_vec();
    let name = match wanted {
        Some(w) => sheets
            .iter()
            .find(|s| s.name == w)
            .or_else(|| {
                sheets
                    .iter()
                    .find(|s| crate::text::normalize(&s.name) == crate::text::normalize(w))
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                let names: Vec<String> = sheets.iter().map(|s| format!("'{}'", s.name)).collect();
                let has = if names.is_empty() {
                    "the workbook has no sheet at all".to_owned()
                } else {
                    format!("the workbook has {}", names.join(", "))
                };
                Error::input(path, Some(w), format!("no such sheet; {has}"))
            })?,
        None => sheets
            .iter()
            .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
            .map(|s| s.name.clone())
            .ok_or_else(|| Error::input(path, None, "the workbook has no visible worksheet"))?,
    };
    let fail = |e: String| {
        tracing::debug!(file = %path.display(), sheet = %name, "the sheet reader said: {e}");
        Error::input(
            path,
            Some(&name),
            "cannot read the sheet: its content is damaged or not what a spreadsheet program writes",
        )
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
                    return Err(beyond_limits(path, &name, row, col));
                }
                let value = calamine::Data::from(cell.get_value().clone());
                if value != calamine::Data::Empty {
                    cells.push((row, col, value));
                }
            }
            Box::new(SparseGrid::new(cells)) as Box<dyn Grid>
        }};
    }
    let grid = match &mut workbook {
        calamine::Sheets::Xlsx(xlsx) => sparse!(xlsx.worksheet_cells_reader(&name)),
        calamine::Sheets::Xlsb(xlsb) => sparse!(xlsb.worksheet_cells_reader(&name)),
        other => Box::new(SheetGrid::new(
            other
                .worksheet_range(&name)
                .map_err(|e| fail(e.to_string()))?,
        )),
    };
    Ok((grid, name))
}

/// A cell past Excel's last row or column: the file was not written by a
/// spreadsheet program, and reading it would take memory out of proportion.
fn beyond_limits(path: &Path, sheet: &str, row: u32, col: u32) -> Error {
    Error::input(
        path,
        Some(sheet),
        format!(
            "the sheet has a cell at row {}, column {}, beyond a spreadsheet's limits \
             ({} rows, {} columns): the file is damaged or was not written by a spreadsheet program",
            u64::from(row) + 1,
            u64::from(col) + 1,
            MAX_ROWS,
            MAX_COLUMNS
        ),
    )
}
