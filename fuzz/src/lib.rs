//! What every fuzz target does with what it opens: every sheet's every
//! cell read, as ingest reads them.

use std::io::{Cursor, Read, Write};
use suivi_read::{Grid, Workbook};
use zip::write::SimpleFileOptions;

/// Silences the panic hook libFuzzer sets (which aborts at once): a panic
/// the crate catches (inside calamine, told as a broken file) is then no
/// finding, while one that escapes the crate still aborts the run.
pub fn let_the_crate_catch_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// Reads every cell of `grid`, up to a bound: a grid's size is what the
/// reader let through, and the reading itself must not fail.
pub fn touch(grid: &dyn Grid) {
    let (height, width) = (grid.height().min(2_000), grid.width().min(200));
    for row in 0..height {
        let _ = grid.row_is_blank(row);
        for (_, cell) in grid.row_cells(row) {
            let _ = cell.display();
        }
        for col in 0..width {
            let _ = grid.cell(row, col).is_blank();
        }
    }
}

/// Opens `bytes` as a workbook and reads every sheet of it.
pub fn workbook(bytes: &[u8]) {
    let_the_crate_catch_panics();
    let Ok(mut workbook) = Workbook::open(bytes) else {
        return;
    };
    for sheet in workbook.sheets() {
        if let Ok(grid) = workbook.grid(&sheet.name) {
            touch(grid.as_ref());
        }
        let _ = workbook.merged_regions(&sheet.name);
    }
}

/// The archive `template` with the member `name` holding `content`
/// instead (stored, not compressed): the fuzzer works on the XML, not on
/// the archive's checksums.
pub fn with_member(template: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(template)).expect("a valid template");
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).expect("a valid template");
        let member_name = member.name().expect("a valid template").into_owned();
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).expect("a valid template");
        let bytes = if member_name == name { content } else { &bytes[..] };
        out.start_file(member_name, stored).expect("in memory");
        out.write_all(bytes).expect("in memory");
    }
    out.finish().expect("in memory").into_inner()
}
