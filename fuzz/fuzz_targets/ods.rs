//! .ods: the fuzzed bytes are the `content.xml` of an OpenDocument
//! spreadsheet (with its mimetype), read by our streaming reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

fuzz_target!(|content: &[u8]| {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("content.xml", stored).unwrap();
    zip.write_all(content).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    suivi_read_fuzz::workbook(&bytes);
});
