//! The workbooks of a run: a workbook several sources read a sheet of is
//! opened once, and a source's sheet is found by its name as the pipeline
//! writes it (or is the first visible worksheet).

use super::file::read_error;
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use suivi_read::{Grid, Sheet, Visibility, Workbook};

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
    workbook: Mutex<Workbook<Arc<[u8]>>>,
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
    pub fn open_sheet(
        &self,
        path: &Path,
        bytes: &[u8],
        wanted: Option<&str>,
    ) -> Result<(Box<dyn Grid + Send>, String)> {
        let open = |bytes| Workbook::open(bytes).map_err(|e| read_error(path, None, e));
        if !self.shared.contains(path) {
            return open_sheet(path, &mut open(bytes)?, wanted);
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
                    workbook: Mutex::new(
                        Workbook::open(bytes.clone()).map_err(|e| read_error(path, None, e))?,
                    ),
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
            Err(_) => open_sheet(path, &mut open(bytes)?, wanted),
        }
    }
}

/// Opens the named sheet (or the first visible worksheet) of a workbook:
/// the name as written, else the one equal once normalised.
pub fn open_sheet<B: AsRef<[u8]>>(
    path: &Path,
    workbook: &mut Workbook<B>,
    wanted: Option<&str>,
) -> Result<(Box<dyn Grid + Send>, String)> {
    let name = sheet_name(path, &workbook.sheets(), wanted)?;
    let grid = workbook
        .grid(&name)
        .map_err(|e| read_error(path, Some(&name), e))?;
    Ok((grid, name))
}

fn sheet_name(path: &Path, sheets: &[Sheet], wanted: Option<&str>) -> Result<String> {
    let Some(w) = wanted else {
        return sheets
            .iter()
            .find(|s| s.visibility == Visibility::Visible && s.is_worksheet)
            .map(|s| s.name.clone())
            .ok_or_else(|| Error::input(path, None, "the workbook has no visible worksheet"));
    };
    sheets
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
        })
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
