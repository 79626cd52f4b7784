use super::simulate::{Referentiel, THIN_SMALL_COUNT, THIN_SMALL_MONTH, THIN_ZERO_MONTH};
use super::*;
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, BTreeSet};

fn opts(year: i32, scale: f64, messy: bool) -> SampleOptions {
    SampleOptions {
        year,
        scale,
        seed: 7,
        messy,
    }
}

#[test]
fn build_is_deterministic_and_years_differ() {
    let a = build(&opts(2019, 0.1, false));
    let b = build(&opts(2019, 0.1, false));
    assert_eq!(a, b);
    let c = build(&opts(2020, 0.1, false));
    assert_ne!(a.caf[..50], c.caf[..50]);
}

fn sums(data: &SampleData) -> (usize, f64, f64) {
    let etat: f64 = data.convention.iter().filter_map(|l| l.montant_etat).sum();
    let dep: f64 = data
        .convention
        .iter()
        .filter_map(|l| l.montant_departement)
        .sum();
    (data.convention.len(), etat, dep)
}

#[test]
fn convention_totals_are_the_real_ones() {
    assert_eq!(
        sums(&build(&opts(2019, 0.05, false))),
        (10, 575_041.0, 875_400.0)
    );
    assert_eq!(
        sums(&build(&opts(2020, 0.05, false))),
        (31, 1_088_327.0, 2_110_143.0)
    );
    assert_eq!(
        sums(&build(&opts(2022, 0.05, false))),
        (31, 1_088_327.0, 2_110_143.0)
    );
}

#[test]
fn scale_one_has_the_loire_volume() {
    let data = build(&opts(2019, 1.0, false));
    let n = data.caf.len();
    assert!((230_000..=270_000).contains(&n), "{n} CAF rows");
    let december = data
        .caf
        .iter()
        .filter(|r| r.moisref.month() == 12 && r.etatdrt == 2)
        .count();
    assert!(
        (17_000..=23_000).contains(&december),
        "{december} paid in December"
    );
}

#[test]
fn commune_codes_are_current_or_old() {
    let refs = Referentiel::load();
    for year in [2019, 2022] {
        let d = build(&opts(year, 0.2, false));
        let codes = d
            .caf
            .iter()
            .map(|r| &r.codcom)
            .chain(d.orientations.iter().map(|r| &r.commune))
            .chain(d.contrats_aides.iter().map(|r| &r.commune))
            .chain(d.jeunes_ase.iter().map(|r| &r.commune))
            .chain(d.accueil_social.iter().map(|r| &r.commune))
            .chain(d.initiatives.iter().map(|r| &r.commune))
            .chain(d.brsa.iter().map(|r| &r.commune));
        let mut old = 0;
        for code in codes {
            assert!(refs.is_known(code), "unknown commune {code} in {year}");
            if !refs.communes.iter().any(|c| &c.code == code) {
                old += 1;
            }
        }
        if year <= 2021 {
            assert!(old > 0, "no old code in {year}");
        } else {
            assert_eq!(old, 0, "old codes in {year}");
        }
    }
}

#[test]
fn records_have_expected_shapes() {
    let d = build(&opts(2019, 0.1, false));
    for r in &d.caf {
        assert_eq!(r.numalloc.len(), 7);
        assert!(r.numalloc.bytes().all(|b| b.is_ascii_digit()));
    }
    assert!(d.caf.iter().any(|r| r.numalloc.starts_with('0')));
    assert!(d.caf.iter().any(|r| [3, 4].contains(&r.etatdrt)));
    assert!(d.caf.iter().any(|r| [5, 6].contains(&r.etatdrt)));
    // No exact duplicate among rows that identify a person or a household;
    // rows without an identifier (sessions, payments) repeat as events do.
    fn repeats<T: std::fmt::Debug>(rows: &[T]) -> usize {
        let set: BTreeSet<String> = rows.iter().map(|r| format!("{r:?}")).collect();
        rows.len() - set.len()
    }
    assert_eq!(repeats(&d.caf), 0);
    assert_eq!(repeats(&d.orientations), 0);
    assert_eq!(repeats(&d.contrats_aides), 0);
    assert_eq!(repeats(&d.jeunes_ase), 0);
    assert_eq!(repeats(&d.brsa), 0);
    assert!(repeats(&d.accueil_social) > 0);
    assert!(repeats(&d.mandats) > 0);
    let individual: Vec<&Initiative> = d
        .initiatives
        .iter()
        .filter(|r| r.identifiant_beneficiaire.is_some())
        .collect();
    assert_eq!(repeats(&individual), 0);
    // People with several rows, in several communes.
    let several = |ids: Vec<(&str, &str)>| {
        let mut communes: BTreeMap<&str, BTreeSet<&str>> = Default::default();
        let mut rows: BTreeMap<&str, usize> = Default::default();
        for (id, commune) in ids {
            communes.entry(id).or_default().insert(commune);
            *rows.entry(id).or_default() += 1;
        }
        (
            rows.values().any(|&n| n > 1),
            communes.values().any(|c| c.len() > 1),
        )
    };
    assert_eq!(
        several(
            d.jeunes_ase
                .iter()
                .map(|j| (j.identifiant.as_str(), j.commune.as_str()))
                .collect()
        ),
        (true, true)
    );
    let big = build(&opts(2019, 1.0, false));
    assert_eq!(
        several(
            big.contrats_aides
                .iter()
                .map(|c| (c.numalloc.as_str(), c.commune.as_str()))
                .collect()
        ),
        (true, true)
    );
    // Two December rows of one household.
    let december: Vec<&str> = d
        .caf
        .iter()
        .filter(|r| r.moisref.month() == 12)
        .map(|r| r.numalloc.as_str())
        .collect();
    assert!(december.len() > december.iter().collect::<BTreeSet<_>>().len());
    // A first appointment before the orientation.
    assert!(d.orientations.iter().any(|o| {
        matches!((o.date_orientation, o.date_premier_rdv), (Some(a), Some(r)) if r < a)
    }));
    // Nothing after the extraction date.
    let cap = NaiveDate::from_ymd_opt(2020, 1, 31).unwrap();
    for o in &d.orientations {
        assert!(o.date_orientation.is_none_or(|x| x <= cap));
        assert!(o.date_premier_rdv.is_none_or(|x| x <= cap));
    }
    // Some orientations dated before the opening, some in January Y+1.
    assert!(d.orientations.iter().any(|o| {
        o.date_orientation
            .is_some_and(|x| x < o.date_ouverture_droit)
    }));
    assert!(
        d.orientations
            .iter()
            .any(|o| o.date_orientation.is_some_and(|x| x.year() == 2020))
    );
    assert!(d.jeunes_ase.iter().any(|j| j.date_naissance.year() == 2001));
    assert!(d.jeunes_ase.iter().any(|j| j.date_naissance.year() != 2001));
}

#[test]
fn thin_territory_has_small_and_empty_months() {
    let refs = Referentiel::load();
    let thin = refs.thin_territory();
    for scale in [0.05, 1.0] {
        let d = build(&opts(2019, scale, false));
        // New entrants: earliest row of Y, opening in Y, SDD on some row.
        let mut first: BTreeMap<&str, (NaiveDate, &str, NaiveDate)> = BTreeMap::new();
        let mut sdd: BTreeSet<&str> = BTreeSet::new();
        for r in &d.caf {
            if r.sdd {
                sdd.insert(&r.numalloc);
            }
            let e = first
                .entry(&r.numalloc)
                .or_insert((r.moisref, &r.codcom, r.dtouvdrt));
            if r.moisref < e.0 {
                *e = (r.moisref, &r.codcom, r.dtouvdrt);
            }
        }
        let mut cells: BTreeMap<u32, usize> = BTreeMap::new();
        for (num, (_, code, open)) in &first {
            if open.year() == 2019
                && sdd.contains(num)
                && refs.territoire_of(code) == Some(thin.as_str())
            {
                *cells.entry(open.month()).or_default() += 1;
            }
        }
        assert_eq!(cells.get(&THIN_ZERO_MONTH), None, "scale {scale}");
        assert_eq!(
            cells.get(&THIN_SMALL_MONTH),
            Some(&THIN_SMALL_COUNT),
            "scale {scale}"
        );
    }
}

#[test]
fn finance_execution_shapes() {
    for year in [2019, 2020] {
        let d = build(&opts(year, 1.0, false));
        assert!(
            (100..=400).contains(&d.mandats.len()),
            "{}",
            d.mandats.len()
        );
        let mut zero = 0;
        let mut undefined = 0;
        for line in &d.convention {
            let paid: f64 = d
                .mandats
                .iter()
                .filter(|m| {
                    m.action == line.action
                        && m.financeur == FINANCEUR_ETAT
                        && m.date_mandat.year() == year
                })
                .map(|m| m.montant)
                .sum();
            match line.montant_etat {
                Some(a) if paid == 0.0 => {
                    zero += 1;
                    assert!(a > 0.0);
                }
                Some(a) => {
                    let rate = paid / a;
                    assert!((0.69..=0.96).contains(&rate), "{} {rate}", line.action);
                }
                None => {
                    assert!(paid > 0.0);
                    undefined += 1;
                }
            }
        }
        assert_eq!((zero, undefined), (1, 1));
        assert!(d.mandats.iter().any(|m| m.date_mandat.year() == year - 1));
        assert!(d.mandats.iter().any(|m| m.date_mandat.year() == year + 1));
    }
}

#[test]
fn written_files_are_deterministic_and_rejects_point_at_bad_rows() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let o = opts(2019, 0.05, true);
    let data = build(&o);
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = write(&data, &o, dir_a.path()).unwrap();
    let b = write(&data, &o, dir_b.path()).unwrap();
    assert_eq!(a.len(), 5);
    for (pa, pb) in a.iter().zip(&b) {
        assert_eq!(
            std::fs::read(pa).unwrap(),
            std::fs::read(pb).unwrap(),
            "{pa:?}"
        );
    }

    let rejects = std::fs::read_to_string(dir_a.path().join("expected_rejects.csv")).unwrap();
    let mut lines = rejects.lines();
    assert_eq!(lines.next(), Some("file;sheet;row;column;reason"));
    let rejects: Vec<Vec<&str>> = lines.map(|l| l.split(';').collect()).collect();
    let count = |file: &str, sheet: &str, reason: &str| {
        rejects
            .iter()
            .filter(|r| r[0].starts_with(file) && r[1] == sheet && r[4] == reason)
            .count()
    };
    assert!(count("caf_rsa", "", "date") >= 2);
    assert!(count("caf_rsa", "", "commune") >= 2);
    assert!(count("caf_rsa", "", "duplicate") >= 2);
    for sheet in ["Orientations", "Accueil social", "Initiatives", "BRSA"] {
        for reason in ["date", "commune"] {
            assert!(count("", sheet, reason) >= 1, "{sheet} {reason}");
        }
    }
    // Copies of rows that identify someone are duplicates; an equal session is another event.
    for sheet in ["Orientations", "Initiatives", "BRSA"] {
        assert!(count("", sheet, "duplicate") >= 1, "{sheet} duplicate");
    }
    assert_eq!(count("", "Accueil social", "duplicate"), 0);

    // CSV: line numbers.
    let bytes = std::fs::read(dir_a.path().join("caf_rsa_2019.csv")).unwrap();
    let (csv, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(csv.starts_with("Extraction CAF de la Loire – RSA – année 2019\r\n\r\n"));
    let csv_lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        csv_lines[2],
        "NumAlloc;MOISREF;CODCOM;Libellé commune;DTOUVDRT;SDD;ETATDRT;NBPERS ;MTRSAVERS"
    );
    let header: Vec<&str> = csv_lines[2].split(';').collect();
    // The undeclared column names each row's commune as the reference tables do.
    // A former code without a name of its own takes its current commune's.
    let mut names = std::collections::HashMap::new();
    let referentiel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../inputs/referentiel");
    let mut passage =
        csv::Reader::from_path(referentiel.join("passage_communes_loire.csv")).unwrap();
    for record in passage.records().map(Result::unwrap) {
        let name = if record[1].is_empty() {
            &record[3]
        } else {
            &record[1]
        };
        names.insert(record[0].to_string(), name.to_string());
    }
    let mut communes = csv::Reader::from_path(referentiel.join("communes_loire.csv")).unwrap();
    for record in communes.records().map(Result::unwrap) {
        names.insert(record[0].to_string(), record[1].to_string());
    }
    let data_lines: Vec<Vec<&str>> = csv_lines[3..]
        .iter()
        .map(|l| l.split(';').collect::<Vec<_>>())
        .filter(|cells| cells.len() == 9 && !cells[0].is_empty())
        .collect();
    assert!(data_lines.len() >= data.caf.len());
    for cells in &data_lines {
        let expected = names.get(cells[2]).map_or("", String::as_str);
        assert_eq!(cells[3], expected, "{cells:?}");
    }
    assert!(data_lines.iter().any(|cells| cells[3] == "Saint-Étienne"));
    for r in rejects.iter().filter(|r| r[0] == "caf_rsa_2019.csv") {
        let n: usize = r[2].parse().unwrap();
        let cells: Vec<&str> = csv_lines[n - 1].split(';').collect();
        match r[4] {
            "duplicate" => assert!(csv_lines[3..n - 1].contains(&csv_lines[n - 1])),
            reason => {
                let c = header.iter().position(|h| h.trim() == r[3]).unwrap();
                let bad = [
                    "31/02/2019",
                    "pas de date",
                    "2019-13-45",
                    "42999",
                    "69123",
                    "deux",
                ];
                assert!(bad.contains(&cells[c]), "{reason}: {}", cells[c]);
            }
        }
    }

    // Workbooks: spreadsheet row numbers.
    for file in [
        "departement_insertion_2019.xlsx",
        "pole_emploi_brsa_2019.xlsx",
    ] {
        let mut wb: Xlsx<_> = open_workbook(dir_a.path().join(file)).unwrap();
        for r in rejects.iter().filter(|r| r[0] == file) {
            let range = wb.worksheet_range(r[1]).unwrap();
            let row = r[2].parse::<u32>().unwrap() - 1;
            let width = range.end().unwrap().1;
            let get = |row: u32, col: u32| range.get_value((row, col)).cloned();
            let header: Vec<String> = (0..=width)
                .map(|c| get(3, c).map(|v| v.to_string()).unwrap_or_default())
                .collect();
            match r[4] {
                "duplicate" => {
                    let this: Vec<_> = (0..=width).map(|c| get(row, c)).collect();
                    assert!(
                        (4..row)
                            .any(|o| (0..=width).map(|c| get(o, c)).collect::<Vec<_>>() == this),
                        "{file} {} row {}",
                        r[1],
                        r[2]
                    );
                }
                _ => {
                    let c = header.iter().position(|h| h == r[3]).unwrap() as u32;
                    let v = get(row, c).unwrap();
                    let ok = match &v {
                        Data::String(s) => {
                            ["31/02/2019", "pas de date", "2019-13-45", "42999", "69123"]
                                .contains(&s.as_str())
                        }
                        Data::Float(x) => *x == 42999.0 || *x == 69123.0,
                        _ => false,
                    };
                    assert!(ok, "{file} {} row {}: {v:?}", r[1], r[2]);
                }
            }
        }
    }
}

#[test]
fn clean_mode_writes_exact_headers_and_empty_rejects() {
    use calamine::{Reader, Xlsx, open_workbook};
    let o = opts(2020, 0.02, false);
    let data = build(&o);
    let dir = tempfile::tempdir().unwrap();
    write(&data, &o, dir.path()).unwrap();
    let rejects = std::fs::read_to_string(dir.path().join("expected_rejects.csv")).unwrap();
    assert_eq!(rejects, "file;sheet;row;column;reason\n");
    let bytes = std::fs::read(dir.path().join("caf_rsa_2020.csv")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("MOISREF;NUMALLOC;DTOUVDRT;CODCOM;SDD;ETATDRT;NBPERS;MTRSAVERS\r\n"));
    assert_eq!(text.lines().count(), data.caf.len() + 1);
    let mut wb: Xlsx<_> =
        open_workbook(dir.path().join("departement_insertion_2020.xlsx")).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "Orientations",
            "Contrats aidés",
            "Jeunes ASE",
            "Accueil social",
            "Initiatives"
        ]
    );
    let range = wb.worksheet_range("Orientations").unwrap();
    assert_eq!(
        range.get_value((0, 2)).unwrap().to_string(),
        "Date d'orientation"
    );
    assert_eq!(range.height(), data.orientations.len() + 1);
}
