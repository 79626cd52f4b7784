//! Statistical confidentiality and personal data, proved from the outside:
//! an independent solver tries to recover every masked cell from the
//! published cells, on generated tables and on the committed sample's
//! outputs; every output file is scanned for identifiers and pseudonyms.

use crate::common;

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use suivi_core::indicators::rows::Row;

const THRESHOLD: f64 = 5.0;

// ---------------------------------------------------------------------------
// An independent exact solver: over the prime field GF(2^61 - 1), an unknown
// is determined by the equations iff adding "x_i = c" leaves the rank
// unchanged. (Rank over GF(p) equals rank over Q for these 0/±1 systems
// unless p divides a minor, which for p ≈ 2.3e18 and a few hundred unknowns
// does not happen.)

const P: u128 = (1 << 61) - 1;

fn rank(mut rows: Vec<Vec<u128>>, columns: usize) -> usize {
    let mut rank = 0;
    for col in 0..columns {
        let Some(pivot) = (rank..rows.len()).find(|&r| rows[r][col] != 0) else {
            continue;
        };
        rows.swap(rank, pivot);
        let inv = pow(rows[rank][col], P - 2);
        rows[rank].iter_mut().for_each(|x| *x = *x * inv % P);
        for r in 0..rows.len() {
            if r != rank && rows[r][col] != 0 {
                let f = rows[r][col];
                let pivot = rows[rank].clone();
                for (x, p) in rows[r].iter_mut().zip(&pivot) {
                    *x = (*x + P - f * p % P) % P;
                }
            }
        }
        rank += 1;
    }
    rank
}

fn pow(mut b: u128, mut e: u128) -> u128 {
    let mut r = 1;
    while e > 0 {
        if e & 1 == 1 {
            r = r * b % P;
        }
        b = b * b % P;
        e >>= 1;
    }
    r
}

/// Linear relations "total = sum of parts" over named cells (`quantity|cell`:
/// relations never mix quantities); returns the unknown cells that the
/// published ones determine.
fn recoverable(relations: &[(String, Vec<String>)], unknown: &BTreeSet<String>) -> Vec<String> {
    let quantity = |name: &str| name.split('|').next().unwrap_or("").to_owned();
    let quantities: BTreeSet<String> = unknown.iter().map(|u| quantity(u)).collect();
    quantities
        .into_iter()
        .flat_map(|q| {
            let relations: Vec<_> = relations
                .iter()
                .filter(|(total, _)| quantity(total) == q)
                .cloned()
                .collect();
            let unknown: BTreeSet<String> = unknown
                .iter()
                .filter(|u| quantity(u) == q)
                .cloned()
                .collect();
            recoverable_in_one_quantity(&relations, &unknown)
        })
        .collect()
}

fn recoverable_in_one_quantity(
    relations: &[(String, Vec<String>)],
    unknown: &BTreeSet<String>,
) -> Vec<String> {
    let index: BTreeMap<&String, usize> = unknown.iter().enumerate().map(|(i, u)| (u, i)).collect();
    let n = index.len();
    let equations: Vec<Vec<u128>> = relations
        .iter()
        .filter_map(|(total, parts)| {
            let mut row = vec![0u128; n];
            let mut any = false;
            for (cell, sign) in std::iter::once((total, 1i8)).chain(parts.iter().map(|p| (p, -1))) {
                if let Some(&i) = index.get(cell) {
                    row[i] = (row[i] + if sign > 0 { 1 } else { P - 1 }) % P;
                    any = true;
                }
            }
            any.then_some(row)
        })
        .collect();
    let base = rank(equations.clone(), n);
    unknown
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            let mut with = equations.clone();
            let mut e = vec![0u128; n];
            e[i] = 1;
            with.push(e);
            rank(with, n) == base
        })
        .map(|(_, u)| u.clone())
        .collect()
}

// ---------------------------------------------------------------------------
// Generated tables.

fn two_indicator_pipeline(dir: &Path) -> suivi_core::pipeline::Pipeline {
    let text = format!(
        r#"
[pipeline]
name = "essai"
departement = "Dept"
year = 2020
confidentiality_threshold = {THRESHOLD}

[reference]
territories = "{root}/inputs/referentiel/territoires_loire.csv"

[sources.t]
file = "t.csv"
columns = [{{ name = "commune", header = "commune", type = "commune" }}]

[[indicators]]
id = "C"
action = "a"
label = "count"
table = "t"
kind = "count"
date = "x"
definition = "d"

[[indicators]]
id = "S"
action = "a"
label = "share"
table = "t"
kind = "share"
condition = "y"
date = "x"
definition = "d"
"#,
        root = env!("CARGO_MANIFEST_DIR")
    );
    let path = dir.join("p.toml");
    std::fs::write(&path, text).unwrap();
    suivi_core::pipeline::load(&path, None, None).unwrap()
}

fn row(
    id: &str,
    territory: Option<&str>,
    month: Option<u32>,
    value: Option<f64>,
    num: Option<f64>,
    den: Option<f64>,
) -> Row {
    Row {
        indicator: id.into(),
        action: "a".into(),
        label: id.into(),
        territory: territory.unwrap_or("Dept").into(),
        is_total: territory.is_none(),
        month,
        breakdown: None,
        value,
        numerator: num,
        denominator: den,
        target: None,
        met: None,
        previous: None,
        masked: false,
        units: den.or(value).unwrap_or(0.0),
    }
}

/// The count table C (territory × month) and the share S whose denominator is C.
fn build_rows(counts: &[Vec<u32>], hits: &[Vec<u32>]) -> Vec<Row> {
    let names = ["T1", "T2", "T3", "T4", "T5"];
    let mut rows = Vec::new();
    let territories = counts.len();
    let cell = |table: &[Vec<u32>], t: Option<usize>, m: Option<usize>| -> f64 {
        let ts: Vec<usize> = t.map_or((0..territories).collect(), |t| vec![t]);
        let ms: Vec<usize> = m.map_or((0..12).collect(), |m| vec![m]);
        ts.iter()
            .flat_map(|&t| ms.iter().map(move |&m| (t, m)))
            .map(|(t, m)| f64::from(table[t][m]))
            .sum()
    };
    for t in std::iter::once(None).chain((0..territories).map(Some)) {
        for m in std::iter::once(None).chain((0..12).map(Some)) {
            let name = t.map(|t| names[t]);
            let month = m.map(|m| m as u32 + 1);
            let c = cell(counts, t, m);
            let h = cell(hits, t, m);
            rows.push(row("C", name, month, Some(c), None, None));
            rows.push(row(
                "S",
                name,
                month,
                (c > 0.0).then(|| h / c),
                Some(h),
                Some(c),
            ));
        }
    }
    rows
}

/// Relations and unknowns as a reader of the published table sees them.
fn audit(rows: &[Row]) -> (Vec<String>, Vec<String>) {
    // Variables: C value ≡ S denominator (equal by construction), S numerator.
    let key = |r: &Row| format!("{}|{:?}", r.territory, r.month);
    let mut known = BTreeSet::new();
    let mut all = BTreeSet::new();
    for r in rows {
        let names: Vec<String> = match r.indicator.as_str() {
            "C" => vec![format!("n|{}", key(r))],
            _ => vec![format!("n|{}", key(r)), format!("h|{}", key(r))],
        };
        for n in names {
            all.insert(n.clone());
            if !r.masked {
                known.insert(n);
            }
        }
    }
    let unknown: BTreeSet<String> = all.difference(&known).cloned().collect();
    let territories: BTreeSet<String> = rows
        .iter()
        .filter(|r| !r.is_total)
        .map(|r| r.territory.clone())
        .collect();
    let mut relations = Vec::new();
    for q in ["n", "h"] {
        for m in std::iter::once(None).chain((1..=12).map(Some)) {
            let total = format!("{q}|Dept|{m:?}");
            relations.push((
                total,
                territories
                    .iter()
                    .map(|t| format!("{q}|{t}|{m:?}"))
                    .collect(),
            ));
        }
        for t in territories.iter().map(String::as_str).chain(["Dept"]) {
            relations.push((
                format!("{q}|{t}|None"),
                (1..=12).map(|m| format!("{q}|{t}|{:?}", Some(m))).collect(),
            ));
        }
    }
    let small = |v: Option<f64>| v.is_some_and(|x| (1.0..THRESHOLD).contains(&x));
    let published_small: Vec<String> = rows
        .iter()
        .filter(|r| !r.masked)
        .filter(|r| {
            if r.indicator == "C" {
                small(r.value)
            } else {
                small(r.numerator) || small(r.denominator)
            }
        })
        .map(key)
        .collect();
    (recoverable(&relations, &unknown), published_small)
}

fn table_strategy() -> impl Strategy<Value = (Vec<Vec<u32>>, Vec<Vec<u32>>)> {
    (2usize..=4).prop_flat_map(|territories| {
        // Many small cells, some zeros, some large ones.
        let value = prop_oneof![3 => 0u32..5, 2 => 5u32..15, 1 => 15u32..60];
        proptest::collection::vec(proptest::collection::vec(value, 12), territories).prop_flat_map(
            |counts| {
                let hits: Vec<_> = counts
                    .iter()
                    .map(|row| row.iter().map(|&c| 0..=c).collect::<Vec<_>>())
                    .collect();
                (Just(counts), hits)
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_masked_cell_of_a_generated_table_can_be_recovered((counts, hits) in table_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = two_indicator_pipeline(dir.path());
        let mut rows = build_rows(&counts, &hits);
        suivi_core::confidentiality::protect(&pipeline, &mut rows).expect("protected");
        let (recovered, small) = audit(&rows);
        prop_assert!(recovered.is_empty(), "recoverable masked cells: {recovered:?}");
        prop_assert!(small.is_empty(), "published small cells: {small:?}");
        // Zero is never masked by the primary rule: a table without small cells stays whole.
        if counts.iter().flatten().all(|&c| c == 0 || c >= 5) && hits.iter().flatten().all(|&h| h == 0 || h >= 5) {
            prop_assert!(rows.iter().all(|r| !r.masked));
        }
    }
}

// ---------------------------------------------------------------------------
// The committed sample's real outputs.

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(out: &Path, extra: &[&str]) {
    let pipeline = root().join("pipelines/loire.toml");
    let mut args = vec![
        "run",
        common::arg(&pipeline),
        "--year",
        "2020",
        "--out",
        common::arg(out),
    ];
    args.extend_from_slice(extra);
    common::assert_exit(&common::suivi(&args), 0);
}

/// Territory, month, breakdown.
type Cell = (String, String, String);

type Table = BTreeMap<(String, String, String, String), Vec<String>>;

fn read_table(path: &Path) -> Table {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                (r[0].into(), r[3].into(), r[4].into(), r[5].into()),
                r.iter().skip(6).map(str::to_owned).collect(),
            )
        })
        .collect()
}

#[test]
fn published_sample_outputs_hide_small_cells_for_good() {
    let public = tempfile::tempdir().unwrap();
    let internal = tempfile::tempdir().unwrap();
    run(public.path(), &[]);
    run(internal.path(), &["--diffusion", "interne"]);
    let published = read_table(&public.path().join("indicateurs_2020.csv"));
    let truth = read_table(&internal.path().join("indicateurs_2020_interne.csv"));
    assert_eq!(
        published.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>()
    );
    assert!(
        truth.values().all(|v| v[6] == "non"),
        "internal mode masks nothing"
    );

    let pipeline =
        suivi_core::pipeline::load(&root().join("pipelines/loire.toml"), Some(2020), None).unwrap();
    let kinds: HashMap<String, (suivi_core::pipeline::Kind, suivi_core::pipeline::Secrecy)> =
        pipeline
            .indicators
            .iter()
            .map(|i| (i.id().to_owned(), (i.kind, i.secrecy)))
            .collect();
    let f = |s: &str| -> f64 { s.parse().unwrap_or(0.0) };
    let small = |s: &str| (1.0..THRESHOLD).contains(&f(s));
    let mut masked = 0;
    for (key, row) in &published {
        let real = &truth[key];
        // [valeur, numerateur, denominateur, cible, atteinte, valeur_n1, masque]
        if row[6] == "oui" {
            masked += 1;
            for (i, cell) in row[..3].iter().enumerate() {
                assert!(
                    cell == "s" || (cell.is_empty() && real[i].is_empty()),
                    "{key:?}: a masked cell shows {cell}"
                );
            }
            assert_eq!(
                row[4], "",
                "{key:?}: a masked cell says whether it meets its target"
            );
            continue;
        }
        assert_eq!(
            row[..5],
            real[..5],
            "{key:?}: published figures differ from the internal ones"
        );
        // Last year's value is hidden where last year's publication masked it.
        assert!(
            row[5] == real[5] || row[5].is_empty(),
            "{key:?}: N-1 value differs"
        );
        let (kind, secrecy) = kinds[&key.0];
        use suivi_core::pipeline::{Kind, Secrecy};
        let exposed = match (secrecy, kind) {
            (Secrecy::Public | Secrecy::Units, _) => false,
            (_, Kind::Count | Kind::Distinct | Kind::Sum) => small(&row[0]),
            (_, Kind::Share | Kind::Ratio) => small(&row[1]) || small(&row[2]),
            (_, Kind::Mean | Kind::Median) => small(&row[2]),
        };
        assert!(
            !exposed,
            "{key:?}: a count from 1 to 4 is published: {row:?}"
        );
    }
    assert!(
        masked > 0,
        "the sample has small cells: some must be masked"
    );

    // Rebuild the published relations from the internal figures, then try to
    // solve for every masked quantity.
    let quantities = |kind: suivi_core::pipeline::Kind| -> &'static [usize] {
        use suivi_core::pipeline::Kind::*;
        match kind {
            Count | Distinct | Sum => &[0],
            Share | Mean | Ratio => &[1, 2],
            Median => &[2],
        }
    };
    let mut series: BTreeMap<(String, usize), BTreeMap<Cell, String>> = BTreeMap::new();
    for ((id, t, m, b), real) in &truth {
        let (kind, secrecy) = kinds[id];
        if secrecy == suivi_core::pipeline::Secrecy::Public {
            continue;
        }
        for &q in quantities(kind) {
            series
                .entry((id.clone(), q))
                .or_default()
                .insert((t.clone(), m.clone(), b.clone()), real[q].clone());
        }
    }
    // Series equal in every cell are the same published quantity.
    let mut class_of: BTreeMap<(String, usize), String> = BTreeMap::new();
    let mut by_values: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (id, cells) in &series {
        let name = by_values
            .entry(cells.values().cloned().collect())
            .or_insert_with(|| format!("{}#{}", id.0, id.1))
            .clone();
        class_of.insert(id.clone(), name);
    }
    let mut known = BTreeSet::new();
    let mut all = BTreeSet::new();
    for ((id, q), cells) in &series {
        for (t, m, b) in cells.keys() {
            let var = format!("{}|{t}|{m}|{b}", class_of[&(id.clone(), *q)]);
            all.insert(var.clone());
            if published[&(id.clone(), t.clone(), m.clone(), b.clone())][6] == "non" {
                known.insert(var);
            }
        }
    }
    let unknown: BTreeSet<String> = all.difference(&known).cloned().collect();
    let departement = &pipeline.settings.departement;
    let mut relations = Vec::new();
    let mut seen_classes = BTreeSet::new();
    for ((id, q), cells) in &series {
        let class = &class_of[&(id.clone(), *q)];
        if !seen_classes.insert(class.clone()) {
            continue;
        }
        let mut lines: BTreeMap<(u8, String, String, String), Vec<Cell>> = BTreeMap::new();
        for (t, m, b) in cells.keys() {
            if t != departement {
                lines
                    .entry((0, departement.clone(), m.clone(), b.clone()))
                    .or_default()
                    .push((t.clone(), m.clone(), b.clone()));
            }
            if !m.is_empty() {
                lines
                    .entry((1, t.clone(), String::new(), b.clone()))
                    .or_default()
                    .push((t.clone(), m.clone(), b.clone()));
            }
            if !b.is_empty() {
                lines
                    .entry((2, t.clone(), m.clone(), String::new()))
                    .or_default()
                    .push((t.clone(), m.clone(), b.clone()));
            }
        }
        for ((_, t, m, b), parts) in lines {
            let Some(total) = cells.get(&(t.clone(), m.clone(), b.clone())) else {
                continue;
            };
            let sum: f64 = parts.iter().map(|p| f(&cells[p])).sum();
            if (sum - f(total)).abs() > 1e-6 * f(total).abs().max(1.0) {
                continue;
            }
            let name = |(t, m, b): &(String, String, String)| format!("{class}|{t}|{m}|{b}");
            relations.push((name(&(t, m, b)), parts.iter().map(name).collect()));
        }
    }
    let recovered = recoverable(&relations, &unknown);
    assert!(
        recovered.is_empty(),
        "{} masked quantities can be recomputed, e.g. {:?}",
        recovered.len(),
        &recovered[..recovered.len().min(5)]
    );
}

// ---------------------------------------------------------------------------
// Personal data.

/// Every file under `dir`, xlsx members unzipped, Parquet read back as text.
fn output_texts(dir: &Path) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("xlsx") => {
                let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
                for i in 0..archive.len() {
                    let mut member = archive.by_index(i).unwrap();
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut member, &mut text).ok();
                    texts.push((
                        format!("{name}:{}", member.name().unwrap_or_default()),
                        text,
                    ));
                }
            }
            Some("parquet") => {
                use polars::prelude::*;
                let frame = ParquetReader::new(std::io::Cursor::new(bytes))
                    .finish()
                    .unwrap();
                let mut text = String::new();
                for column in frame.columns() {
                    let column = column.cast(&DataType::String).unwrap();
                    for value in column.str().unwrap().iter().flatten() {
                        text.push_str(value);
                        text.push('\n');
                    }
                }
                texts.push((name, text));
            }
            _ => texts.push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    texts
}

/// `needle` standing alone: not inside a longer number or word.
fn contains_alone(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[test]
fn no_identifier_or_pseudonym_reaches_any_output() {
    // The committed sample, rebuilt from its seeds to know every identifier.
    let mut ids = BTreeSet::new();
    for year in [2019, 2020] {
        let data = suivi_sample::build(&suivi_sample::SampleOptions {
            year,
            scale: 0.1,
            seed: year as u64,
            messy: false,
        });
        ids.extend(data.caf.iter().map(|r| r.numalloc.clone()));
        ids.extend(data.orientations.iter().map(|r| r.numalloc.clone()));
        ids.extend(data.contrats_aides.iter().map(|r| r.numalloc.clone()));
        ids.extend(data.brsa.iter().map(|r| r.numalloc_caf.clone()));
        ids.extend(data.jeunes_ase.iter().map(|r| r.identifiant.clone()));
        ids.extend(
            data.initiatives
                .iter()
                .filter_map(|r| r.identifiant_beneficiaire.clone()),
        );
    }
    // Make sure this is the committed sample: its CAF file holds these numbers.
    let caf =
        String::from_utf8_lossy(&std::fs::read(root().join("inputs/caf_rsa_2020.csv")).unwrap())
            .into_owned();
    let sample = suivi_sample::build(&suivi_sample::SampleOptions {
        year: 2020,
        scale: 0.1,
        seed: 2020,
        messy: false,
    });
    assert!(
        sample
            .caf
            .iter()
            .take(100)
            .all(|r| caf.contains(&r.numalloc)),
        "the committed sample was not generated with seeds 2019 and 2020"
    );
    let pseudonymizer =
        suivi_core::ingest::pseudo::Pseudonymizer::with_key(common::PSEUDONYM_KEY.as_bytes());
    let pseudonyms: Vec<String> = ids
        .iter()
        .map(|id| pseudonymizer.pseudonym(id).to_string())
        .collect();

    let out = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--diffusion", "interne"][..]] {
        run(out.path(), extra);
    }
    let texts = output_texts(out.path());
    assert!(
        texts.len() >= 4,
        "outputs: {:?}",
        texts.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for (name, text) in &texts {
        for id in ids.iter().chain(&pseudonyms) {
            assert!(
                !contains_alone(text, id),
                "{name} contains an identifier or pseudonym"
            );
        }
    }
}
