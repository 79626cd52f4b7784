//! Reads every sheet of a workbook and prints its size: for measuring a
//! reader's peak memory (`/usr/bin/time -v`) on one file.

fn main() {
    let path = std::env::args().nth(1).expect("usage: read_workbook FILE");
    let bytes = std::fs::read(&path).expect("cannot read the file");
    let mut workbook = match suivi_read::Workbook::open(bytes) {
        Ok(workbook) => workbook,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(3);
        }
    };
    for sheet in workbook.sheets() {
        match workbook.grid(&sheet.name) {
            Ok(grid) => {
                let cells: usize = (0..grid.height()).map(|r| grid.row_cells(r).len()).sum();
                println!(
                    "{}: {} rows, {} columns, {cells} cells",
                    sheet.name,
                    grid.height(),
                    grid.width()
                );
            }
            Err(e) => println!("{}: {e}", sheet.name),
        }
    }
}
