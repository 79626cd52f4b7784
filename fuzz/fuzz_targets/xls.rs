//! .xls: the fuzzed bytes are a whole file (an OLE compound file), checked
//! (password, sector chains, DIMENSIONS) before calamine reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    suivi_read_fuzz::workbook(bytes);
});
