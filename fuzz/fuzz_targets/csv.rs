//! CSV: the whole-file read and the block-by-block read into a sink (small
//! blocks, so that records, quotes, CRLFs and accents fall on their edges),
//! with the options the first byte picks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suivi_read::csv::{self, Batching, CsvGrid, Delimiter, Encoding, Options, Sink};

struct Touch;

impl Sink for Touch {
    type Part = usize;
    type Error = ();

    fn first(&mut self, grid: &CsvGrid) -> Result<usize, ()> {
        self.batch(grid)
    }

    fn batch(&self, grid: &CsvGrid) -> Result<usize, ()> {
        suivi_read_fuzz::touch(grid);
        Ok(grid.records())
    }
}

fuzz_target!(|data: &[u8]| {
    suivi_read_fuzz::let_the_crate_catch_panics();
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let options = Options {
        encoding: [Encoding::Auto, Encoding::Utf8, Encoding::Windows1252][usize::from(pick % 3)],
        delimiter: [Delimiter::Auto, Delimiter::Byte(b';'), Delimiter::Byte(b',')]
            [usize::from(pick / 3 % 3)],
    };
    if let Ok((grid, _)) = csv::read(data, options) {
        suivi_read_fuzz::touch(&grid);
    }
    let block = 16 + usize::from(pick / 9 % 8) * 16;
    let batching = Batching {
        first: 2,
        rest: 3,
        block,
        margin: 64,
    };
    let _ = csv::read_batches(std::io::Cursor::new(data), options, &batching, true, &mut Touch);
});
