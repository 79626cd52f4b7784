//! The workbooks of a run: a workbook several sources read a sheet of is
//! opened once, and a source's sheets are found by their names as the
//! pipeline writes them, by a pattern, or are the first visible worksheet.

use crate::error::{Error, Result};
use crate::pipeline::Sheets;
use crate::text::{fold, normalize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use suivi_read::{Grid, Sheet, Visibility, Workbook};

/// The workbooks several sources read a sheet of, opened once in a run: a
/// workbook's shared strings, styles and sheet list are parsed when it is
/// opened, and would be parsed again for each source.
#[derive(Default)]
pub struct SharedWorkbooks {
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

impl SharedWorkbooks {
    pub fn new(shared: HashSet<PathBuf>) -> Self {
        SharedWorkbooks {
            shared,
            opened: Mutex::default(),
        }
    }

    /// Opens the sheets `wanted` of the workbook of `path`, opened from
    /// `bytes` or earlier from the same bytes, in the workbook's order.
    pub fn open_sheets(
        &self,
        path: &Path,
        bytes: &[u8],
        wanted: &Sheets,
    ) -> Result<Vec<(Box<dyn Grid + Send>, String)>> {
        let open = |bytes| Workbook::open(bytes).map_err(|e| Error::unreadable(path, None, e));
        if !self.shared.contains(path) {
            return open_sheets(path, &mut open(bytes)?, wanted);
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
                        Workbook::open(bytes.clone())
                            .map_err(|e| Error::unreadable(path, None, e))?,
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
            Ok(mut workbook) => open_sheets(path, &mut workbook, wanted),
            // A reader panicked in it (and its source failed): read afresh.
            Err(_) => open_sheets(path, &mut open(bytes)?, wanted),
        }
    }
}

/// Opens the sheets `wanted` of a workbook, in the workbook's order.
pub fn open_sheets<B: AsRef<[u8]>>(
    path: &Path,
    workbook: &mut Workbook<B>,
    wanted: &Sheets,
) -> Result<Vec<(Box<dyn Grid + Send>, String)>> {
    sheet_names(path, &workbook.sheets(), wanted)?
        .into_iter()
        .map(|name| {
            let grid = workbook
                .grid(&name)
                .map_err(|e| Error::unreadable(path, Some(&name), e))?;
            Ok((grid, name))
        })
        .collect()
}

/// Opens the named sheet (or the first visible worksheet) of a workbook.
pub fn open_sheet<B: AsRef<[u8]>>(
    path: &Path,
    workbook: &mut Workbook<B>,
    wanted: Option<&str>,
) -> Result<(Box<dyn Grid + Send>, String)> {
    let wanted = wanted.map_or(Sheets::First, |name| Sheets::Named(name.to_owned()));
    let mut opened = open_sheets(path, workbook, &wanted)?;
    Ok(opened.remove(0))
}

/// The names of the sheets `wanted`, in the workbook's order: a name as
/// written, else the one equal once normalised; a pattern matches visible
/// worksheets, as written, else without case or accents.
fn sheet_names(path: &Path, sheets: &[Sheet], wanted: &Sheets) -> Result<Vec<String>> {
    let is_shown = |s: &&Sheet| s.visibility == Visibility::Visible && s.is_worksheet;
    let find = |w: &str| {
        sheets.iter().position(|s| s.name == w).or_else(|| {
            sheets
                .iter()
                .position(|s| normalize(&s.name) == normalize(w))
        })
    };
    let listed = || {
        let names: Vec<String> = sheets.iter().map(|s| format!("'{}'", s.name)).collect();
        if names.is_empty() {
            "the workbook has no sheet at all".to_owned()
        } else {
            format!("the workbook has {}", names.join(", "))
        }
    };
    let mut found: Vec<usize> = match wanted {
        Sheets::First => {
            return sheets
                .iter()
                .find(is_shown)
                .map(|s| vec![s.name.clone()])
                .ok_or_else(|| Error::input(path, None, "the workbook has no visible worksheet"));
        }
        Sheets::Named(w) => {
            vec![find(w).ok_or_else(|| {
                Error::input(path, Some(w), format!("no such sheet; {}", listed()))
            })?]
        }
        Sheets::Listed(names) => {
            let missing: Vec<String> = names
                .iter()
                .filter(|w| find(w).is_none())
                .map(|w| format!("'{w}'"))
                .collect();
            if !missing.is_empty() {
                let (no, them) = if missing.len() == 1 {
                    ("no sheet named", "it")
                } else {
                    ("no sheets named", "them")
                };
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "{no} {}, which the pipeline lists; {}. Correct the list in the \
                         pipeline, or ask the partner for the workbook with {them}",
                        missing.join(", "),
                        listed()
                    ),
                ));
            }
            names.iter().filter_map(|w| find(w)).collect()
        }
        Sheets::Matching(pattern) => {
            let bad = |e: glob::PatternError| {
                Error::input(path, None, format!("bad sheet pattern '{pattern}': {e}"))
            };
            let exact = glob::Pattern::new(pattern).map_err(bad)?;
            let loose = glob::Pattern::new(&fold(pattern)).map_err(bad)?;
            let matched: Vec<usize> = (0..sheets.len())
                .filter(|&i| is_shown(&&sheets[i]))
                .filter(|&i| {
                    exact.matches(&sheets[i].name) || loose.matches(&fold(&sheets[i].name))
                })
                .collect();
            if matched.is_empty() {
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "no visible worksheet matches the pattern '{pattern}'; {}",
                        listed()
                    ),
                ));
            }
            matched
        }
    };
    found.sort_unstable();
    found.dedup();
    Ok(found.into_iter().map(|i| sheets[i].name.clone()).collect())
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

    fn first_cell(workbooks: &SharedWorkbooks, path: &Path, bytes: &[u8], sheet: &str) -> String {
        let mut opened = workbooks
            .open_sheets(path, bytes, &Sheets::Named(sheet.to_owned()))
            .unwrap();
        let (grid, name) = opened.remove(0);
        assert_eq!(name, sheet);
        grid.cell(0, 0).to_string()
    }

    /// A workbook several sources read is opened once, and only for the
    /// bytes it was opened from: the same file read again after it changed
    /// is the new workbook.
    #[test]
    fn a_shared_workbook_is_reused_only_for_the_same_bytes() {
        let path = Path::new("finances.xlsx");
        let workbooks = SharedWorkbooks::new([path.to_owned()].into());
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
