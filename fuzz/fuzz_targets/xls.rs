//! .xls: the fuzzed bytes are a whole file (an OLE compound file), read by
//! our BIFF8 reader (sector chains, records, strings, decryption).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    suivi_read_fuzz::workbook(bytes);
});
