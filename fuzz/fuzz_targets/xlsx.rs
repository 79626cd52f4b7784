//! .xlsx: the fuzzed bytes are the first worksheet's XML of a small
//! workbook (the hostile suite's `date_serial_0.xlsx`), read cell by cell
//! into a sparse grid behind the sheet-size checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TEMPLATE: &[u8] = include_bytes!("../../tests/fixtures/hostile/date_serial_0.xlsx");

fuzz_target!(|sheet: &[u8]| {
    let bytes = suivi_read_fuzz::with_member(TEMPLATE, "xl/worksheets/sheet1.xml", sheet);
    suivi_read_fuzz::workbook(&bytes);
});
