//! Workbooks (xlsx, xlsm, xlsb, xls read with calamine, ods with our own
//! reader): one sheet of the file, as a grid of cells.

use super::{BROKEN, Format, Opened, ods};
use crate::error::{Error, Result};
use crate::ingest::columns::Context;
use crate::ingest::grid::{Grid, MAX_COLUMNS, MAX_ROWS, SheetGrid, SparseGrid};
use crate::ingest::header;
use crate::ingest::rows::{self, FileRows};
use crate::pipeline::Source;
use calamine::{Reader, SheetType, SheetVisible};
use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Workbooks several sources read a sheet of, opened once in a run: a
/// workbook's shared strings, styles and sheet list are parsed when it is
/// opened (an xlsx file's shared strings were half of a small sheet's read
/// time, parsed again for each of the five sources of the Loire workbook).
#[derive(Default)]
pub struct Workbooks {
    /// The files more than one source reads.
    shared: HashSet<PathBuf>,
    opened: Mutex<HashMap<PathBuf, Arc<OpenWorkbook>>>,
}

struct OpenWorkbook {
    /// The bytes it was opened from: a file read again by another source
    /// is the same workbook only if they are equal.
    bytes: Arc<[u8]>,
    workbook: Mutex<Book<Arc<[u8]>>>,
}

/// An open workbook, whichever reader reads it.
enum Book<B: AsRef<[u8]>> {
    Calamine(Box<calamine::Sheets<Cursor<B>>>),
    Ods(ods::Workbook),
}

impl<B: AsRef<[u8]>> Book<B> {
    fn sheets_metadata(&self) -> Vec<calamine::Sheet> {
        match self {
            Book::Calamine(workbook) => workbook.sheets_metadata().to_vec(),
            Book::Ods(workbook) => workbook.sheets_metadata(),
        }
    }
}

impl Workbooks {
    pub fn new(shared: HashSet<PathBuf>) -> Self {
        Workbooks {
            shared,
            opened: Mutex::default(),
        }
    }

    /// Opens a sheet of the workbook of `path`, opened from `bytes` or
    /// earlier from the same bytes (see [`open_sheet`]).
    fn open_sheet(
        &self,
        path: &Path,
        bytes: &[u8],
        wanted: Option<&str>,
    ) -> Result<(Box<dyn Grid>, String)> {
        if !self.shared.contains(path) {
            return open_sheet(path, &mut open_workbook(path, bytes)?, wanted);
        }
        let opened = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .filter(|o| *o.bytes == *bytes)
            .cloned();
        let opened = match opened {
            Some(opened) => opened,
            // Opened outside the lock: two sources meeting here at once
            // each open it (the work of one more opening), and never wait
            // for the opening of another workbook.
            None => {
                let bytes: Arc<[u8]> = bytes.into();
                let opened = Arc::new(OpenWorkbook {
                    workbook: Mutex::new(open_workbook(path, bytes.clone())?),
                    bytes,
                });
                self.opened
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(path.to_owned(), opened.clone());
                opened
            }
        };
        match opened.workbook.lock() {
            Ok(mut workbook) => open_sheet(path, &mut workbook, wanted),
            // A reader panicked in it (and its source failed): read afresh.
            Err(_) => open_sheet(path, &mut open_workbook(path, bytes)?, wanted),
        }
    }
}

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
        let (grid, sheet) = context
            .workbooks
            .open_sheet(path, bytes, source.sheet.as_deref())?;
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
        let (grid, sheet) = open_sheet(path, &mut open_workbook(path, bytes)?, sheet)?;
        Ok(Opened {
            grid,
            sheet: Some(sheet),
            encoding: None,
        })
    }

    fn sheets(&self, path: &Path, bytes: &[u8]) -> Result<Vec<calamine::Sheet>> {
        Ok(open_workbook(path, bytes)?.sheets_metadata())
    }
}

/// A workbook in memory; its format (xlsx, xlsm, xlsb, xls, ods) is detected from its content.
fn open_workbook<B: AsRef<[u8]> + Clone>(path: &Path, data: B) -> Result<Book<B>> {
    let bytes = data.as_ref();
    if bytes.starts_with(CFB_MAGIC) && is_encrypted(bytes) {
        return Err(Error::input(
            path,
            None,
            "the workbook is protected by a password: save it again without one",
        ));
    }
    if bytes.starts_with(CFB_MAGIC) {
        check_xls(path, bytes)?;
    }
    if bytes.starts_with(b"PK") && check_archive(path, bytes)? == Archive::Ods {
        return ods::Workbook::open(path, bytes).map(Book::Ods);
    }
    let workbook =
        calamine::open_workbook_auto_from_rs(Cursor::new(data.clone())).map_err(|e| {
            tracing::debug!(file = %path.display(), "the workbook reader said: {e}");
            Error::input(
                path,
                None,
                "cannot open the workbook: it is damaged, truncated or not a spreadsheet",
            )
        })?;
    Ok(Book::Calamine(Box::new(workbook)))
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

/// Checks an .xls workbook before the reader trusts it: its compound file
/// holds together (no sector chain that loops or points past the file), and
/// no DIMENSIONS record announces more than an .xls sheet holds (65,536 rows,
/// 256 columns), since the reader allocates what it announces.
fn check_xls(path: &Path, bytes: &[u8]) -> Result<()> {
    let broken = || Error::input(path, None, BROKEN);
    let mut file = cfb::CompoundFile::open(std::io::Cursor::new(bytes)).map_err(|_| broken())?;
    let Some(name) = ["/Workbook", "/Book"]
        .into_iter()
        .find(|n| file.is_stream(n))
    else {
        return Ok(());
    };
    let mut stream = Vec::new();
    std::io::Read::read_to_end(
        &mut file.open_stream(name).map_err(|_| broken())?,
        &mut stream,
    )
    .map_err(|_| broken())?;
    const DIMENSIONS: u16 = 0x0200;
    let mut at = 0;
    while let Some(header) = stream.get(at..at + 4) {
        let kind = u16::from_le_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        // BIFF8's DIMENSIONS: first row, last row + 1 (u32), first column, last column + 1 (u16).
        if kind == DIMENSIONS
            && let Some(data) = stream.get(at + 4..at + 4 + len)
            && len >= 12
        {
            let rows = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
            let columns = u16::from_le_bytes([data[10], data[11]]);
            if rows > 65_536 || columns > 256 {
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "a sheet announces {rows} rows and {columns} columns, more than an .xls \
                         sheet holds (65536 rows, 256 columns): the file is damaged or hostile"
                    ),
                ));
            }
        }
        at += 4 + len;
    }
    Ok(())
}

/// Largest a member of a workbook's archive may be once decompressed.
pub(super) const MAX_MEMBER_BYTES: u64 = 1 << 30;

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
fn check_archive(path: &Path, bytes: &[u8]) -> Result<Archive> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        // Not a readable archive: the reader says so in its own terms.
        return Ok(Archive::Other);
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
        return refuse(format!(
            "the workbook's shared strings announce {count} strings, more than its {size} \
             bytes can hold: the file is damaged or hostile"
        ));
    }
    Ok(Archive::Other)
}

/// Opens the named sheet (or the first visible worksheet) of a workbook.
fn open_sheet<B: AsRef<[u8]>>(
    path: &Path,
    workbook: &mut Book<B>,
    wanted: Option<&str>,
) -> Result<(Box<dyn Grid>, String)> {
    let sheets = workbook.sheets_metadata();
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
    let grid = match workbook {
        Book::Ods(ods) => Box::new(ods.grid(path, &name)?),
        Book::Calamine(book) => match book.as_mut() {
            calamine::Sheets::Xlsx(xlsx) => sparse!(xlsx.worksheet_cells_reader(&name)),
            calamine::Sheets::Xlsb(xlsb) => sparse!(xlsb.worksheet_cells_reader(&name)),
            other => Box::new(SheetGrid::new(
                other
                    .worksheet_range(&name)
                    .map_err(|e| fail(e.to_string()))?,
            )),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An xlsx workbook with one sheet, named `sheet`, holding `value` in A1.
    fn workbook(sheet: &str, value: &str) -> Vec<u8> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(sheet).unwrap();
        worksheet.write_string(0, 0, value).unwrap();
        workbook.save_to_buffer().unwrap()
    }

    fn first_cell(workbooks: &Workbooks, path: &Path, bytes: &[u8], sheet: &str) -> String {
        let (grid, name) = workbooks.open_sheet(path, bytes, Some(sheet)).unwrap();
        assert_eq!(name, sheet);
        grid.cell(0, 0).to_string()
    }

    /// A workbook several sources read is opened once, and only for the
    /// bytes it was opened from: the same file read again after it changed
    /// is the new workbook.
    #[test]
    fn a_shared_workbook_is_reused_only_for_the_same_bytes() {
        let path = Path::new("finances.xlsx");
        let workbooks = Workbooks::new([path.to_owned()].into());
        let (before, after) = (workbook("Mandats", "avant"), workbook("Mandats", "après"));
        let kept = || workbooks.opened.lock().unwrap()[path].clone();
        assert_eq!(first_cell(&workbooks, path, &before, "Mandats"), "avant");
        let first = kept();
        assert_eq!(first_cell(&workbooks, path, &before, "Mandats"), "avant");
        assert!(
            Arc::ptr_eq(&first, &kept()),
            "opened again for the same bytes"
        );
        assert_eq!(first_cell(&workbooks, path, &after, "Mandats"), "après");
        assert!(!Arc::ptr_eq(&first, &kept()), "kept the old workbook");
        assert_eq!(workbooks.opened.lock().unwrap().len(), 1);
        // A file no other source reads is never kept.
        let alone = Path::new("seul.xlsx");
        assert_eq!(first_cell(&workbooks, alone, &before, "Mandats"), "avant");
        assert!(!workbooks.opened.lock().unwrap().contains_key(alone));
    }
}
