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
    calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| {
        Error::input(
            path,
            None,
            format!("cannot open the workbook (corrupt, truncated or not a spreadsheet): {e}"),
        )
    })
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
                Error::input(
                    path,
                    Some(w),
                    format!("no such sheet; the workbook has {}", names.join(", ")),
                )
            })?,
        None => sheets
            .iter()
            .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
            .map(|s| s.name.clone())
            .ok_or_else(|| Error::input(path, None, "the workbook has no visible worksheet"))?,
    };
    let fail = |e: String| Error::input(path, Some(&name), format!("cannot read the sheet: {e}"));
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
