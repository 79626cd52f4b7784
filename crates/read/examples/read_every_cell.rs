//! Reads every cell of every sheet of a workbook, as the fuzz targets do
//! (with no bound on the rows and columns read): to measure what a file
//! costs, e.g. `/usr/bin/time -v target/debug/examples/read_every_cell
//! file.ods`. A `.xml` file is read as the `content.xml` of an .ods
//! file, as the ods fuzz target reads its input.

use std::io::{Cursor, Write};
use suivi_read::Workbook;

fn main() {
    let path = std::env::args().nth(1).expect("a file to read");
    let mut bytes = std::fs::read(&path).expect("a readable file");
    if path.ends_with(".xml") {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("mimetype", stored).unwrap();
        zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        zip.start_file("content.xml", stored).unwrap();
        zip.write_all(&bytes).unwrap();
        bytes = zip.finish().unwrap().into_inner();
    }
    let mut workbook = match Workbook::open(&bytes[..]) {
        Ok(workbook) => workbook,
        Err(e) => return println!("refused: {e:?}"),
    };
    for sheet in workbook.sheets() {
        match workbook.grid(&sheet.name) {
            Ok(grid) => {
                let (mut cells, mut text) = (0usize, 0usize);
                for row in 0..grid.height() {
                    for (_, cell) in grid.row_cells(row) {
                        cells += 1;
                        text += cell.display().len();
                    }
                }
                let (height, width) = (grid.height(), grid.width());
                println!(
                    "{}: {height} rows, {width} columns, {cells} cells, {text} bytes of text",
                    sheet.name
                );
            }
            Err(e) => println!("{}: refused: {e:?}", sheet.name),
        }
    }
}
