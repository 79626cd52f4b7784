use super::*;
use crate::Grid;
use calamine::Reader;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.xls` of the suite that must be read: the ingest fixtures, and
/// the copies LibreOffice made of the others (`ingest/xls/make_xls.py`).
fn readable_xls() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in ["ingest", "ingest/xls"] {
        for entry in std::fs::read_dir(fixtures().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "xls") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A sheet's cells with content, as calamine reads them: (row, column, value).
fn calamine_cells(
    xls: &mut calamine::Xls<std::io::Cursor<Vec<u8>>>,
    name: &str,
) -> Vec<(usize, usize, Data)> {
    let range = xls.worksheet_range(name).unwrap();
    let (row0, col0) = range.start().unwrap_or((0, 0));
    range
        .used_cells()
        .map(|(r, c, value)| (row0 as usize + r, col0 as usize + c, value.clone()))
        .collect()
}

/// Every `.xls` fixture read by our reader and by calamine: the same
/// sheets (names, visibility, kind), the same cells (value and type).
#[test]
fn our_reader_reads_every_fixture_as_calamine_does() {
    let files = readable_xls();
    assert!(files.len() >= 15, "{files:?}");
    let mut compared = 0;
    for path in files {
        let bytes = read(&path);
        let ours = Xls::open(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let mut theirs = calamine::Xls::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let expected: Vec<Sheet> = theirs
            .sheets_metadata()
            .iter()
            .map(|s| Sheet {
                name: s.name.clone(),
                visibility: match s.visible {
                    calamine::SheetVisible::Visible => Visibility::Visible,
                    calamine::SheetVisible::Hidden => Visibility::Hidden,
                    calamine::SheetVisible::VeryHidden => Visibility::VeryHidden,
                },
                is_worksheet: s.typ == calamine::SheetType::WorkSheet,
            })
            .collect();
        assert_eq!(ours.sheets(), expected, "{}", path.display());
        assert_eq!(
            ours.dates_from_1904,
            theirs.has_1904_epoch(),
            "{}",
            path.display()
        );
        for sheet in &expected {
            let want = calamine_cells(&mut theirs, &sheet.name);
            let grid = ours.grid(&sheet.name).unwrap();
            let got: Vec<(usize, usize, Data)> = grid
                .values()
                .into_iter()
                .map(|(r, c, d)| (r, c, d.clone()))
                .collect();
            assert_eq!(got.len(), want.len(), "{} {}", path.display(), sheet.name);
            for (got, want) in got.iter().zip(&want) {
                assert_eq!(got, want, "{} {}", path.display(), sheet.name);
            }
            compared += want.len();
            let theirs_merged: Vec<(u32, u32, u32, u32)> = theirs
                .merge_cells_by_sheet_name(&sheet.name)
                .unwrap()
                .iter()
                .map(|d| (d.start.0, d.start.1, d.end.0, d.end.1))
                .collect();
            assert_eq!(ours.merged_regions(&sheet.name).unwrap(), theirs_merged);
        }
    }
    assert!(compared > 3000, "{compared}");
}

/// The test compares what it should: a changed value fails it.
#[test]
fn the_comparison_sees_a_changed_value() {
    let bytes = read(&fixtures().join("ingest/xls/merged.xls"));
    let ours = Xls::open(&bytes).unwrap();
    let mut theirs = calamine::Xls::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let want = calamine_cells(&mut theirs, "Fusions");
    let grid = ours.grid("Fusions").unwrap();
    let mut got: Vec<(usize, usize, Data)> = grid
        .values()
        .into_iter()
        .map(|(r, c, d)| (r, c, d.clone()))
        .collect();
    assert_eq!(got, want);
    got[1].2 = Data::Float(2.5);
    assert_ne!(got, want);
}

/// A cell in A1 and one in IV65536: two entries, nothing between them.
#[test]
fn a_far_cell_is_stored_alone() {
    let ours = Xls::open(&read(&fixtures().join("ingest/xls/far_corner.xls"))).unwrap();
    let grid = ours.grid("Lignes").unwrap();
    assert_eq!(
        grid.values(),
        [
            (0, 0, &Data::String("début".into())),
            (65535, 255, &Data::Int(42))
        ]
    );
    assert_eq!((grid.height(), grid.width()), (65536, 256));
}

/// The regions `make_xls.py` merged, counted from 0.
#[test]
fn merged_regions_are_kept_per_sheet() {
    let ours = Xls::open(&read(&fixtures().join("ingest/xls/merged.xls"))).unwrap();
    let mut regions = ours.merged_regions("Fusions").unwrap();
    regions.sort();
    assert_eq!(regions, [(0, 0, 0, 3), (2, 0, 4, 0), (9, 2, 11, 4)]);
    assert!(matches!(
        ours.merged_regions("Nope"),
        Err(Error::NoSuchSheet { .. })
    ));
    // A region upside down, or past an .xls sheet's last column, is refused.
    let stream = workbook_stream(&read(&fixtures().join("ingest/xls/merged.xls")));
    let (kind, data) = Records::new(&stream)
        .map_while(Result::ok)
        .find(|(kind, _)| *kind == MERGEDCELLS)
        .unwrap();
    assert_eq!(kind, MERGEDCELLS);
    let at = data.as_ptr() as usize - stream.as_ptr() as usize;
    for (offset, value) in [(2, u16::MAX), (8, 256)] {
        // The first region's first row after its last; its last column at 256.
        let mut damaged = stream.clone();
        damaged[at + offset..at + offset + 2].copy_from_slice(&value.to_le_bytes());
        let xls = Xls::open(&with_stream(&damaged)).unwrap();
        assert!(
            matches!(
                xls.merged_regions("Fusions"),
                Err(Error::DamagedSheet { .. })
            ),
            "{offset}"
        );
    }
}

/// The cells `make_xls.py` wrote: strings cut across CONTINUE records,
/// formulas' cached values, hidden and very hidden sheets.
#[test]
fn strings_formulas_and_hidden_sheets_are_read() {
    let ours = Xls::open(&read(&fixtures().join("ingest/xls/strings.xls"))).unwrap();
    let visibility: Vec<_> = ours
        .sheets()
        .into_iter()
        .map(|s| (s.name, s.visibility))
        .collect();
    assert_eq!(
        visibility,
        [
            ("Textes".to_string(), Visibility::Visible),
            ("Cachée".to_string(), Visibility::Hidden),
            ("Très cachée".to_string(), Visibility::VeryHidden),
        ]
    );
    let grid = ours.grid("Textes").unwrap();
    let words = [
        "allocataire",
        "Saint-Étienne",
        "Œuvre",
        "日本語",
        "naïve",
        "ÉÈÊ",
    ];
    for i in 0..1500 {
        let word = words.get(i % 7).map_or("x".repeat(60), |w| w.to_string());
        assert_eq!(
            grid.cell(i, 0),
            crate::Cell::Text(&format!("{word} {i}")),
            "row {i}"
        );
    }
    assert_eq!(
        grid.cell(0, 2),
        crate::Cell::Text(&format!("long {}", "é".repeat(9000)))
    );
    assert_eq!(
        grid.cell(1, 2),
        crate::Cell::Text("allocataire 0 et Saint-Étienne 1")
    );
    assert_eq!(grid.cell(2, 2), crate::Cell::Float(3.0));
    assert_eq!(grid.cell(3, 2), crate::Cell::Bool(true));
    assert_eq!(grid.cell(4, 2), crate::Cell::Error);
    assert!(grid.cell(5, 2).is_blank());
    assert_eq!(grid.cell(6, 2), crate::Cell::Bool(true));
    assert_eq!(grid.cell(7, 2), crate::Cell::Int(-123456789));
    assert_eq!(grid.cell(8, 2), crate::Cell::Float(0.1));
    assert_eq!(
        ours.grid("Très cachée").unwrap().cell(0, 0),
        crate::Cell::Text("très caché")
    );
}

fn hostile(name: &str) -> Vec<u8> {
    read(&fixtures().join("hostile").join(name))
}

/// The cells of the table `make_xls.py` writes for the protection tests:
/// a header, then 300 rows (identifier, amount).
fn assert_is_the_protection_table(xls: &Xls) {
    assert_eq!(xls.sheets().len(), 1);
    let grid = xls.grid("Lignes").unwrap();
    assert_eq!(grid.height(), 301);
    assert_eq!(grid.cell(0, 0), crate::Cell::Text("N° allocataire"));
    assert_eq!(grid.cell(0, 1), crate::Cell::Text("Montant"));
    for i in 0..300 {
        assert_eq!(
            grid.cell(i + 1, 0),
            crate::Cell::Text(&format!("{}", 2_000_000 + i))
        );
        let amount = i as f64 * 1.25;
        let cell = grid.cell(i + 1, 1);
        assert!(
            cell == crate::Cell::Float(amount) || cell == crate::Cell::Int(amount as i64),
            "row {i}: {cell:?}"
        );
    }
}

/// Write protection (WRITEPROT, FILESHARING) and an unencrypted structure
/// protection: Excel opens such files without asking for a password.
#[test]
fn a_write_protected_workbook_is_read() {
    for name in ["write_protected.xls", "structure_protected.xls"] {
        let xls = Xls::open(&read(&fixtures().join("ingest/xls").join(name))).unwrap();
        assert_is_the_protection_table(&xls);
    }
}

/// LibreOffice and Excel encrypt an .xls whose structure is protected
/// with the default password (RC4; RC4 CryptoAPI from Excel 2002 on): it
/// is decrypted and read.
#[test]
fn a_workbook_encrypted_with_the_default_password_is_read() {
    for name in [
        "structure_protected.xls",
        "structure_protected_cryptoapi.xls",
    ] {
        let bytes = read(&fixtures().join("ingest/xls/encrypted").join(name));
        assert!(
            matches!(
                calamine::Xls::new(std::io::Cursor::new(bytes.clone())),
                Err(calamine::XlsError::Password)
            ),
            "{name}"
        );
        assert_is_the_protection_table(&Xls::open(&bytes).unwrap());
    }
}

/// A password of the user's own is refused; the file holds the table,
/// encrypted with it (`make_hostile.py`), which that password opens.
#[test]
fn a_workbook_protected_by_a_password_is_refused_as_such() {
    for name in ["password.xls", "password_xor.xls"] {
        let refusal = crate::Workbook::open(hostile(name)).err();
        assert!(
            matches!(refusal, Some(Error::Encrypted)),
            "{name}: {refusal:?}"
        );
    }
    assert_is_the_protection_table(&Xls::open_with(&hostile("password.xls"), "secret").unwrap());
}

/// Excel 2.x to 95 files are refused with the advice to save them again,
/// whatever calamine makes of them.
#[test]
fn old_excel_files_are_refused_with_their_version() {
    for (name, expected) in [
        ("excel_2.xls", "Excel 2.x"),
        ("excel_4.xls", "Excel 4.0"),
        ("excel_95.xls", "Excel 5.0/95"),
        ("excel_95_workbook_stream.xls", "Excel 5.0/95"),
    ] {
        match crate::Workbook::open(hostile(name)) {
            Err(Error::OldExcel { version }) => assert_eq!(version, expected, "{name}"),
            other => panic!("{name}: {:?}", other.err()),
        }
    }
    // Excel 3.0's BOF (no fixture): a bare stream told as such; a file
    // starting with the same two bytes but no BOF's length is not.
    let biff3 = [0x09, 0x02, 0x06, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00];
    assert_eq!(old_excel(&biff3), Some("Excel 3.0"));
    assert_eq!(old_excel(&[0x09, 0x02, 0xFF, 0x7F]), None);
    assert_eq!(old_excel(b"\x09"), None);
    // An Excel 95 file protected by a password: its version tells first.
    let stream = workbook_stream(&hostile("excel_95_workbook_stream.xls"));
    let bof = 4 + usize::from(u16::from_le_bytes([stream[2], stream[3]]));
    let filepass = [0x2F, 0, 4, 0, 0x12, 0x34, 0x56, 0x78];
    let protected = [&stream[..bof], &filepass, &stream[bof..]].concat();
    assert!(matches!(
        Xls::open(&with_stream(&protected)),
        Err(Error::OldExcel { .. })
    ));
    // The Excel 95 fixture is sound: calamine reads the cells written in it.
    let mut theirs = calamine::Xls::new(std::io::Cursor::new(hostile("excel_95.xls"))).unwrap();
    let cells = calamine_cells(&mut theirs, "Lignes");
    assert_eq!(cells[0], (0, 0, Data::String("Commune".into())));
    assert_eq!(cells[3], (1, 1, Data::Float(10.5)));
}

/// The damaged .xls files the compound-file checks refused before this
/// reader are refused as they were.
#[test]
fn damaged_xls_files_are_refused_as_before() {
    for name in ["boundsheet_offset.xls", "fat_loop.xls"] {
        let refusal = crate::Workbook::open(hostile(name)).err();
        assert!(
            matches!(refusal, Some(Error::Broken)),
            "{name}: {refusal:?}"
        );
    }
    let refusal = crate::Workbook::open(hostile("dimensions_rows.xls")).err();
    assert!(
        matches!(refusal, Some(Error::XlsTooLarge { rows: u32::MAX, .. })),
        "{refusal:?}"
    );
}

/// The Workbook stream of an .xls file.
fn workbook_stream(bytes: &[u8]) -> Vec<u8> {
    let mut file = cfb::CompoundFile::open(std::io::Cursor::new(bytes)).unwrap();
    let mut stream = Vec::new();
    std::io::Read::read_to_end(&mut file.open_stream("/Workbook").unwrap(), &mut stream).unwrap();
    stream
}

/// An .xls file holding `stream` as its Workbook stream.
fn with_stream(stream: &[u8]) -> Vec<u8> {
    let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    std::io::Write::write_all(&mut file.create_stream("/Workbook").unwrap(), stream).unwrap();
    file.flush().unwrap();
    file.into_inner().into_inner()
}

/// Streams with bytes changed or cut at random (counts, lengths, offsets,
/// string flags, the encrypted bytes): each is read or refused, never a
/// panic, and reading it takes no memory out of proportion.
#[test]
fn damaged_streams_are_read_or_refused_without_a_panic() {
    let sources = [
        fixtures().join("ingest/xls/merged.xls"),
        fixtures().join("ingest/xls/formats_table_from_xlsx.xls"),
        fixtures().join("ingest/xls/encrypted/structure_protected.xls"),
        fixtures().join("ingest/xls/encrypted/structure_protected_cryptoapi.xls"),
        fixtures().join("ingest/dates_1904.xls"),
        fixtures().join("ingest/xls/beyond_calamine/long_formula_text.xls"),
    ];
    let mut rng = crate::TestRng::new(38);
    for source in sources {
        let stream = workbook_stream(&read(&source));
        // The stream as it is, wrapped again: read.
        assert!(
            Xls::open(&with_stream(&stream)).is_ok(),
            "{}",
            source.display()
        );
        for _ in 0..150 {
            let mut damaged = stream.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(damaged.len());
                damaged[at] = match rng.below(4) {
                    0 => 0,
                    1 => 0xFF,
                    _ => rng.below(256) as u8,
                };
            }
            if rng.below(4) == 0 {
                damaged.truncate(rng.below(damaged.len()));
            }
            if let Ok(xls) = Xls::open(&with_stream(&damaged)) {
                for sheet in xls.sheets() {
                    let _ = xls.grid(&sheet.name);
                    let _ = xls.merged_regions(&sheet.name);
                }
            }
        }
    }
}

/// The stream of `bytes` with the type of each record of type `from` (in
/// sheets, where a record's type follows the previous record) set to `to`.
fn retyped(bytes: &[u8], from: u16, to: u16) -> Vec<u8> {
    let mut stream = workbook_stream(bytes);
    let mut at = 0;
    while at + 4 <= stream.len() {
        let kind = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        if kind == from {
            stream[at..at + 2].copy_from_slice(&to.to_le_bytes());
        }
        at += 4 + len;
    }
    with_stream(&stream)
}

/// FORMULA records numbered as Excel 3.0 and 4.0 did are read as formulas;
/// an Excel 2.x cell record refuses the sheet rather than lose its cell.
#[test]
fn older_cell_records_are_read_or_refuse_the_sheet() {
    let bytes = read(&fixtures().join("ingest/xls/strings.xls"));
    let expected = Xls::open(&bytes).unwrap().grid("Textes").unwrap();
    for old in [0x0206, 0x0406] {
        let xls = Xls::open(&retyped(&bytes, FORMULA, old)).unwrap();
        assert_eq!(
            xls.grid("Textes").unwrap().values(),
            expected.values(),
            "{old:#06x}"
        );
    }
    let xls = Xls::open(&retyped(&bytes, LABELSST, 0x0004)).unwrap();
    assert!(matches!(
        xls.grid("Textes"),
        Err(Error::DamagedSheet { .. })
    ));
}

/// Streams whose records' data have a few bytes changed at random (their
/// headers and the sheets' offsets kept: both readers walk the same
/// records), read by both readers: where both read a sheet, they read the
/// same cells.
#[test]
fn damaged_streams_both_readers_read_give_the_same_cells() {
    let sources = [
        fixtures().join("ingest/xls/merged.xls"),
        fixtures().join("ingest/xls/formats_table_from_xlsx.xls"),
        fixtures().join("ingest/xls/strings.xls"),
        fixtures().join("ingest/dates_1904.xls"),
        fixtures().join("ingest/xls/mixed_types_from_xlsx.xls"),
    ];
    let mut rng = crate::TestRng::new(7);
    let mut both = 0;
    for source in sources {
        let stream = workbook_stream(&read(&source));
        // Where each record's data lies, and its type.
        let mut records = Vec::new();
        let mut at = 0;
        for (kind, data) in Records::new(&stream).map_while(Result::ok) {
            let skip = if kind == BOUNDSHEET { 4 } else { 0 };
            if data.len() > skip {
                records.push((kind, at + 4 + skip..at + 4 + data.len()));
            }
            at += 4 + data.len();
        }
        for _ in 0..100 {
            let mut damaged = stream.clone();
            for _ in 0..1 + rng.below(3) {
                let (_, range) = &records[rng.below(records.len())];
                damaged[range.start + rng.below(range.len())] = rng.below(256) as u8;
            }
            // calamine reserves what DIMENSIONS announces: made small. It
            // decodes BIFF8's strings through CODEPAGE, which BIFF8 says
            // nothing of (ours reads them as UTF-16): kept at 1200, UTF-16.
            for (kind, range) in &records {
                match *kind {
                    DIMENSIONS if range.len() >= 12 => damaged[range.start..range.start + 12]
                        .copy_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]),
                    CODEPAGE if range.len() == 2 => {
                        damaged[range.clone()].copy_from_slice(&1200u16.to_le_bytes())
                    }
                    _ => {}
                }
            }
            let bytes = with_stream(&damaged);
            let Ok(ours) = Xls::open(&bytes) else {
                continue;
            };
            // calamine's dense ranges: what would take too much memory is left out.
            if ours.sheets().iter().any(|s| {
                ours.grid(&s.name)
                    .ok()
                    .is_none_or(|g| g.height() * g.width() > 5_000_000)
            }) {
                continue;
            }
            let theirs = std::panic::catch_unwind(|| {
                calamine::Xls::new(std::io::Cursor::new(bytes.clone()))
            });
            let Ok(Ok(mut theirs)) = theirs else { continue };
            for sheet in ours.sheets() {
                let Ok(grid) = ours.grid(&sheet.name) else {
                    continue;
                };
                let Ok(range) = theirs.worksheet_range(&sheet.name) else {
                    continue;
                };
                let (row0, col0) = range.start().unwrap_or((0, 0));
                let want: Vec<(usize, usize, Data)> = range
                    .used_cells()
                    .map(|(r, c, value)| (row0 as usize + r, col0 as usize + c, value.clone()))
                    .collect();
                let got: Vec<(usize, usize, Data)> = grid
                    .values()
                    .into_iter()
                    .map(|(r, c, d)| (r, c, d.clone()))
                    .collect();
                both += 1;
                assert_eq!(got, want, "{} {}", source.display(), sheet.name);
            }
        }
    }
    assert!(both > 100, "{both}");
}

/// A formula's text longer than a record holds runs on in CONTINUE
/// records: read whole (calamine keeps the first record's part).
#[test]
fn a_long_formula_text_is_read_whole() {
    let bytes = read(&fixtures().join("ingest/xls/beyond_calamine/long_formula_text.xls"));
    let grid = Xls::open(&bytes).unwrap().grid("Formules").unwrap();
    assert_eq!(grid.cell(0, 0), crate::Cell::Text(&"é".repeat(9000)));
    assert_eq!(grid.cell(1, 0), crate::Cell::Text(&"日".repeat(5000)));
    assert_eq!(grid.cell(2, 0), crate::Cell::Text("après"));
    let mut theirs = calamine::Xls::new(std::io::Cursor::new(bytes)).unwrap();
    let cells = calamine_cells(&mut theirs, "Formules");
    let Data::String(first) = &cells[0].2 else {
        panic!("{cells:?}")
    };
    assert!(
        first.chars().count() < 9000,
        "the fixture's text fits in one record"
    );
}

/// An encrypted .xlsx (a compound file with an EncryptionInfo stream) is
/// told by its stream; an .xls merely holding the name in its text is read.
#[test]
fn encryption_is_told_by_the_stream_not_by_the_name_in_the_text() {
    assert!(matches!(
        crate::Workbook::open(hostile("password.xlsx")),
        Err(Error::Encrypted)
    ));
    let stream = workbook_stream(&read(&fixtures().join("ingest/xls/merged.xls")));
    let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    std::io::Write::write_all(&mut file.create_stream("/Workbook").unwrap(), &stream).unwrap();
    let note: Vec<u8> = "EncryptionInfo"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::io::Write::write_all(&mut file.create_stream("/Note").unwrap(), &note).unwrap();
    file.flush().unwrap();
    let bytes = file.into_inner().into_inner();
    let mut workbook = crate::Workbook::open(bytes).unwrap();
    assert_eq!(
        workbook.grid("Fusions").unwrap().cell(9, 2),
        crate::Cell::Text("bloc")
    );
}
