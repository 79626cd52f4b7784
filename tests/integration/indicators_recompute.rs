//! "Correctness is the product": every indicator of the Loire catalogue is
//! recomputed here, independently of the engine, from the clean records of
//! the sample generator, and compared cell by cell (indicator × territory ×
//! month × breakdown) with the `indicateurs_<Y>.csv` that `suivi run` writes.
//!
//! The rules implemented below are docs/DOMAIN.md's "Indicator catalogue" (with
//! its "General rules"), in the interpretation `pipelines/loire.toml`
//! documents. Nothing of the crate is used but the sample generator
//! (`suivi_sample`): the computation is plain Rust over the records, the
//! territory and passage tables are read from `inputs/referentiel/` here.
//!
//! Four cases:
//! - the public table of the clean 2020 files: the CSV has exactly the
//!   expected cells, every unmasked value, numerator, denominator, target and
//!   attainment matches, masked cells show no figure, FIN is never masked;
//! - the internal table (`--diffusion interne`, nothing masked) with the 2019
//!   files present: every cell matches, and every cell's `valeur_n1` is the
//!   2019 figure recomputed here;
//! - messy files of 2020 (same seed): the engine writes exactly the same CSV
//!   (bad rows rejected, duplicates counted once);
//! - the public tables of 2019 and of 2020 (2019 files present): 2019's
//!   unmasked cells match, and 2020's `valeur_n1` is the 2019 figure
//!   recomputed here, except for cells masked in 2019's own publication,
//!   which stay hidden (no figure); the rest equals the 2020-only table.

use crate::common;

use chrono::{Datelike, Months, NaiveDate};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use suivi_sample::{self as sample, SampleData, SampleOptions};

const SEED: u64 = 20_240_611;
const YEAR: i32 = 2020;
const SCALE: f64 = 0.1;
const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/loire.toml");
const TERRITORIES_CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/inputs/referentiel/territoires_loire.csv"
);
const PASSAGE_CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/inputs/referentiel/passage_communes_loire.csv"
);
const PSEUDONYM_KEY: &str = "test-key-0123456789abcdef";
/// The département's name: the `territoire` of département-level cells.
const DEPARTEMENT: &str = "Loire";
/// Parameters of the pipeline (docs/DOMAIN.md: 30 and 15 days).
const DELAI_ORIENTATION_MAX: i64 = 30;
const DELAI_RDV_MAX: i64 = 15;
const COLUMNS: [&str; 13] = [
    "indicateur",
    "action",
    "libelle",
    "territoire",
    "mois",
    "ventilation",
    "valeur",
    "numerateur",
    "denominateur",
    "cible",
    "atteinte",
    "valeur_n1",
    "masque",
];
const MAX_REPORTED: usize = 30;

// ---------------------------------------------------------------------------
// Reference tables

struct Reference {
    /// Current commune code → territory.
    territory_of: HashMap<String, String>,
    /// Old commune code → current code.
    passage: HashMap<String, String>,
    /// Territory names, sorted, unique.
    territories: Vec<String>,
}

fn read_reference_csv(path: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b',')
        .from_path(path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let headers = reader.headers().expect("a header").clone();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h.trim() == *c)
                .unwrap_or_else(|| panic!("{path} has no column {c}"))
        })
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a readable record");
            index.iter().map(|&i| r[i].trim().to_owned()).collect()
        })
        .collect()
}

impl Reference {
    fn load() -> Self {
        let mut territory_of = HashMap::new();
        for row in read_reference_csv(TERRITORIES_CSV, &["code_commune", "territoire"]) {
            territory_of.insert(row[0].clone(), row[1].clone());
        }
        let mut passage = HashMap::new();
        for row in read_reference_csv(PASSAGE_CSV, &["code_ancien", "code_actuel"]) {
            passage.insert(row[0].clone(), row[1].clone());
        }
        let territories: BTreeSet<String> = territory_of.values().cloned().collect();
        assert!(!territories.is_empty(), "the territory table is empty");
        Reference {
            territory_of,
            passage,
            territories: territories.into_iter().collect(),
        }
    }

    /// The current code of a commune written in a file (old codes mapped).
    fn code(&self, written: &str) -> String {
        let code = self
            .passage
            .get(written)
            .map(String::as_str)
            .unwrap_or(written);
        assert!(
            self.territory_of.contains_key(code),
            "the clean sample has an unknown commune {written}"
        );
        code.to_owned()
    }

    fn territory(&self, current_code: &str) -> String {
        self.territory_of[current_code].clone()
    }
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(Reference::load)
}

// ---------------------------------------------------------------------------
// Expected cells

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Count,
    Sum,
    Mean,
    Median,
    Share,
    Ratio,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    /// Met when the value is at most this.
    Max(f64),
    /// Met when the value is at least this.
    Min(f64),
}

impl Target {
    fn value(self) -> f64 {
        match self {
            Target::Max(v) | Target::Min(v) => v,
        }
    }
    fn met(self, value: f64) -> bool {
        match self {
            Target::Max(t) => value <= t,
            Target::Min(t) => value >= t,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    id: &'static str,
    kind: Kind,
    /// Given per month as well as for the year.
    dated: bool,
    /// Given per territory as well as for the département.
    by_territory: bool,
    target: Option<Target>,
    /// Amounts of money: relative tolerance 1e-9 on sums.
    amount: bool,
}

const fn spec(id: &'static str, kind: Kind) -> Spec {
    Spec {
        id,
        kind,
        dated: true,
        by_territory: true,
        target: None,
        amount: false,
    }
}

const fn year_only(mut s: Spec) -> Spec {
    s.dated = false;
    s
}

const fn target(mut s: Spec, t: Target) -> Spec {
    s.target = Some(t);
    s
}

const fn amount(mut s: Spec) -> Spec {
    s.amount = true;
    s
}

const fn departement_only(mut s: Spec) -> Spec {
    s.by_territory = false;
    s
}

/// The catalogue of docs/DOMAIN.md, with its targets.
const CATALOGUE: [Spec; 34] = [
    spec("RSA-01", Kind::Count),
    year_only(spec("RSA-02", Kind::Count)),
    spec("RSA-03", Kind::Count),
    target(spec("RSA-04", Kind::Mean), Target::Max(30.0)),
    spec("RSA-13", Kind::Median),
    target(spec("RSA-05", Kind::Share), Target::Min(1.0)),
    target(spec("RSA-06", Kind::Share), Target::Min(1.0)),
    spec("RSA-07", Kind::Mean),
    target(spec("RSA-08", Kind::Share), Target::Min(1.0)),
    spec("RSA-09", Kind::Share),
    spec("RSA-10", Kind::Count),
    year_only(spec("RSA-11", Kind::Count)),
    spec("RSA-12", Kind::Share),
    spec("CA-01", Kind::Count),
    spec("CA-02", Kind::Share),
    spec("ASE-01", Kind::Count),
    spec("ASE-02", Kind::Count),
    target(spec("ASE-03", Kind::Share), Target::Min(1.0)),
    spec("ASE-04", Kind::Share),
    spec("ASE-05", Kind::Share),
    spec("ASE-06", Kind::Share),
    target(spec("ASE-07", Kind::Share), Target::Min(1.0)),
    spec("ACC-01", Kind::Sum),
    spec("ACC-02", Kind::Sum),
    spec("ACC-03", Kind::Sum),
    spec("INI-01", Kind::Sum),
    spec("INI-02", Kind::Count),
    amount(spec("INI-05", Kind::Sum)),
    spec("INI-06", Kind::Share),
    spec("INI-03", Kind::Sum),
    spec("INI-04", Kind::Count),
    spec("INI-07", Kind::Share),
    target(
        amount(departement_only(spec("FIN-01", Kind::Ratio))),
        Target::Min(1.0),
    ),
    target(
        amount(departement_only(spec("FIN-02", Kind::Ratio))),
        Target::Min(1.0),
    ),
];

fn catalogue() -> impl Iterator<Item = &'static Spec> {
    CATALOGUE.iter()
}

fn spec_of(id: &str) -> &'static Spec {
    catalogue()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} is not in the catalogue"))
}

/// indicator, territory (or the département), month (None: the year),
/// breakdown value (None: the indicator's total).
type Key = (String, String, Option<u32>, Option<String>);

#[derive(Clone, Debug, PartialEq)]
struct Cell {
    value: Option<f64>,
    numerator: Option<f64>,
    denominator: Option<f64>,
}

type Expected = BTreeMap<Key, Cell>;

/// One unit or row feeding an indicator: where it is placed and what it
/// brings (1 for a count, an amount for a sum, a delay for a mean or a
/// median, whether it meets the condition for a share).
#[derive(Clone, Debug)]
struct Item {
    territory: String,
    month: Option<u32>,
    breakdown: Option<String>,
    x: f64,
    cond: bool,
}

impl Item {
    fn unit(territory: String, month: Option<u32>) -> Self {
        Item {
            territory,
            month,
            breakdown: None,
            x: 1.0,
            cond: false,
        }
    }
    fn measure(territory: String, month: Option<u32>, x: f64) -> Self {
        Item {
            x,
            ..Item::unit(territory, month)
        }
    }
    fn share(territory: String, month: Option<u32>, cond: bool) -> Self {
        Item {
            cond,
            ..Item::unit(territory, month)
        }
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

fn cell_of(kind: Kind, items: &[&Item]) -> Cell {
    let n = items.len() as f64;
    let sum: f64 = items.iter().map(|i| i.x).sum();
    match kind {
        Kind::Count => Cell {
            value: Some(n),
            numerator: None,
            denominator: None,
        },
        Kind::Sum => Cell {
            value: Some(sum),
            numerator: None,
            denominator: None,
        },
        Kind::Mean => Cell {
            value: (n > 0.0).then(|| sum / n),
            numerator: (n > 0.0).then_some(sum),
            denominator: Some(n),
        },
        Kind::Median => {
            let mut values: Vec<f64> = items.iter().map(|i| i.x).collect();
            Cell {
                value: median(&mut values),
                numerator: None,
                denominator: Some(n),
            }
        }
        Kind::Share => {
            let num = items.iter().filter(|i| i.cond).count() as f64;
            Cell {
                value: (n > 0.0).then(|| num / n),
                numerator: Some(num),
                denominator: Some(n),
            }
        }
        Kind::Ratio => unreachable!("ratios are computed by fin()"),
    }
}

/// Every level of an indicator from its items: each level is computed from
/// the items themselves (never from another level), and every territory,
/// month and breakdown value of the indicator gets a cell.
fn aggregate(spec: &Spec, items: &[Item], out: &mut Expected) {
    let reference = reference();
    let mut grouped: HashMap<Key, Vec<&Item>> = HashMap::new();
    let breakdowns: BTreeSet<String> = items.iter().filter_map(|i| i.breakdown.clone()).collect();
    for item in items {
        assert_eq!(
            item.month.is_some(),
            spec.dated,
            "{}: an item's month does not fit the indicator",
            spec.id
        );
        for territory in [item.territory.as_str(), DEPARTEMENT] {
            let months = if spec.dated {
                vec![item.month, None]
            } else {
                vec![None]
            };
            for month in months {
                let mut bds = vec![None];
                if item.breakdown.is_some() {
                    bds.push(item.breakdown.clone());
                }
                for breakdown in bds {
                    grouped
                        .entry((spec.id.to_owned(), territory.to_owned(), month, breakdown))
                        .or_default()
                        .push(item);
                }
            }
        }
    }
    let mut territories = vec![DEPARTEMENT.to_owned()];
    territories.extend(reference.territories.iter().cloned());
    let mut months = vec![None];
    if spec.dated {
        months.extend((1..=12).map(Some));
    }
    let mut bds = vec![None];
    bds.extend(breakdowns.into_iter().map(Some));
    for territory in &territories {
        for &month in &months {
            for breakdown in &bds {
                let key = (
                    spec.id.to_owned(),
                    territory.clone(),
                    month,
                    breakdown.clone(),
                );
                let cell = cell_of(
                    spec.kind,
                    grouped.get(&key).map(Vec::as_slice).unwrap_or(&[]),
                );
                out.insert(key, cell);
            }
        }
    }
    // No item may fall outside the cells (an unknown territory, a month 13).
    for key in grouped.keys() {
        assert!(out.contains_key(key), "{key:?} is not an expected cell");
    }
}

fn in_year(date: NaiveDate, year: i32) -> bool {
    date.year() == year
}

/// The unit's placement: its earliest row by (date, current commune code).
fn earliest<K: std::hash::Hash + Eq + Clone>(
    rows: impl Iterator<Item = (K, NaiveDate, String)>,
) -> HashMap<K, (NaiveDate, String)> {
    let mut first: HashMap<K, (NaiveDate, String)> = HashMap::new();
    for (key, date, commune) in rows {
        let candidate = (date, commune);
        match first.get(&key) {
            Some(current) if *current <= candidate => {}
            _ => {
                first.insert(key, candidate);
            }
        }
    }
    first
}

/// A new entrant of Y with what the RSA indicators need.
#[derive(Debug)]
struct NewEntrant {
    numalloc: String,
    territory: String,
    opening: NaiveDate,
    orientation: Option<NaiveDate>,
    orientation_type: Option<String>,
    appointment: Option<NaiveDate>,
    meeting: Option<NaiveDate>,
}

impl NewEntrant {
    fn month(&self) -> Option<u32> {
        Some(self.opening.month())
    }
    fn delay(&self) -> Option<i64> {
        self.orientation.map(|o| (o - self.opening).num_days())
    }
    fn delay_appointment(&self) -> Option<i64> {
        Some((self.appointment? - self.orientation?).num_days())
    }
    fn delay_meeting(&self) -> Option<i64> {
        self.meeting.map(|m| (m - self.opening).num_days())
    }
}

fn new_entrants(data: &SampleData) -> Vec<NewEntrant> {
    let reference = reference();
    let y = data.year;
    #[derive(Default)]
    struct Household {
        opening: Option<NaiveDate>,
        sdd: bool,
        first: Option<(NaiveDate, String)>,
    }
    let mut households: BTreeMap<&str, Household> = BTreeMap::new();
    for row in data.caf.iter().filter(|r| in_year(r.moisref, y)) {
        let h = households.entry(row.numalloc.as_str()).or_default();
        if in_year(row.dtouvdrt, y) {
            h.opening = Some(h.opening.map_or(row.dtouvdrt, |o| o.min(row.dtouvdrt)));
        }
        h.sdd |= row.sdd;
        let candidate = (row.moisref, reference.code(&row.codcom));
        if h.first.as_ref().is_none_or(|f| candidate < *f) {
            h.first = Some(candidate);
        }
    }
    let mut orientations: HashMap<&str, Vec<&sample::Orientation>> = HashMap::new();
    for o in &data.orientations {
        orientations.entry(o.numalloc.as_str()).or_default().push(o);
    }
    households
        .into_iter()
        .filter(|(_, h)| h.opening.is_some() && h.sdd)
        .map(|(numalloc, h)| {
            let opening = h.opening.unwrap();
            let rows = orientations.get(numalloc).map(Vec::as_slice).unwrap_or(&[]);
            let orientation = rows
                .iter()
                .filter_map(|o| o.date_orientation)
                .filter(|&d| d >= opening)
                .min();
            let orientation_type = orientation.and_then(|d| {
                rows.iter()
                    .filter(|o| o.date_orientation == Some(d))
                    .filter_map(|o| o.type_orientation.clone())
                    .min()
            });
            let appointment = orientation.and_then(|d| {
                rows.iter()
                    .filter_map(|o| o.date_premier_rdv)
                    .filter(|&r| r >= d)
                    .min()
            });
            let meeting = rows
                .iter()
                .filter_map(|o| o.date_reunion_collective)
                .filter(|&m| m >= opening)
                .min();
            NewEntrant {
                numalloc: numalloc.to_owned(),
                territory: reference.territory(&h.first.unwrap().1),
                opening,
                orientation,
                orientation_type,
                appointment,
                meeting,
            }
        })
        .collect()
}

fn within(delay: Option<i64>, max: i64) -> bool {
    delay.is_some_and(|d| (0..=max).contains(&d))
}

/// Every indicator of the catalogue for `data.year`, from the records.
fn expected(data: &SampleData) -> Expected {
    let reference = reference();
    let y = data.year;
    let mut out = Expected::new();
    let put = |id: &str, items: Vec<Item>, out: &mut Expected| {
        aggregate(spec_of(id), &items, out);
    };

    // --- New entrants (RSA-01, RSA-03 to RSA-09, RSA-13).
    let ne = new_entrants(data);
    let oriented: Vec<&NewEntrant> = ne.iter().filter(|n| n.orientation.is_some()).collect();
    put(
        "RSA-01",
        ne.iter()
            .map(|n| Item::unit(n.territory.clone(), n.month()))
            .collect(),
        &mut out,
    );
    put(
        "RSA-03",
        oriented
            .iter()
            .map(|n| Item::unit(n.territory.clone(), n.month()))
            .collect(),
        &mut out,
    );
    let delays: Vec<Item> = oriented
        .iter()
        .map(|n| Item::measure(n.territory.clone(), n.month(), n.delay().unwrap() as f64))
        .collect();
    put("RSA-04", delays.clone(), &mut out);
    put("RSA-13", delays, &mut out);
    put(
        "RSA-05",
        ne.iter()
            .map(|n| {
                Item::share(
                    n.territory.clone(),
                    n.month(),
                    within(n.delay(), DELAI_ORIENTATION_MAX),
                )
            })
            .collect(),
        &mut out,
    );
    put(
        "RSA-06",
        ne.iter()
            .map(|n| {
                Item::share(
                    n.territory.clone(),
                    n.month(),
                    within(n.delay_meeting(), DELAI_ORIENTATION_MAX),
                )
            })
            .collect(),
        &mut out,
    );
    put(
        "RSA-07",
        oriented
            .iter()
            .filter_map(|n| {
                let d = n.delay_appointment()?;
                Some(Item::measure(n.territory.clone(), n.month(), d as f64))
            })
            .collect(),
        &mut out,
    );
    put(
        "RSA-08",
        oriented
            .iter()
            .map(|n| {
                Item::share(
                    n.territory.clone(),
                    n.month(),
                    within(n.delay_appointment(), DELAI_RDV_MAX),
                )
            })
            .collect(),
        &mut out,
    );
    put(
        "RSA-09",
        oriented
            .iter()
            .map(|n| {
                Item::share(
                    n.territory.clone(),
                    n.month(),
                    n.orientation_type.as_deref() == Some("Professionnelle"),
                )
            })
            .collect(),
        &mut out,
    );

    // --- RSA-02: households paid in December, commune of the December row.
    let december = NaiveDate::from_ymd_opt(y, 12, 1).unwrap();
    let mut paid: BTreeMap<&str, String> = BTreeMap::new();
    for row in data
        .caf
        .iter()
        .filter(|r| r.moisref == december && r.etatdrt == 2)
    {
        let code = reference.code(&row.codcom);
        let entry = paid
            .entry(row.numalloc.as_str())
            .or_insert_with(|| code.clone());
        if code < *entry {
            *entry = code;
        }
    }
    put(
        "RSA-02",
        paid.values()
            .map(|c| Item::unit(reference.territory(c), None))
            .collect(),
        &mut out,
    );

    // --- RSA-10: households oriented in Y with L.O.I.R.E., at their earliest such row.
    let loire = earliest(
        data.orientations
            .iter()
            .filter(|o| o.accompagnement_loire)
            .filter_map(|o| {
                let d = o.date_orientation.filter(|&d| in_year(d, y))?;
                Some((o.numalloc.clone(), d, reference.code(&o.commune)))
            }),
    );
    put(
        "RSA-10",
        loire
            .values()
            .map(|(d, c)| Item::unit(reference.territory(c), Some(d.month())))
            .collect(),
        &mut out,
    );

    // --- RSA-11: people in global accompaniment during Y (smallest commune).
    let start = NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
    let end = NaiveDate::from_ymd_opt(y, 12, 31).unwrap();
    let mut global: BTreeMap<&str, String> = BTreeMap::new();
    for row in data.brsa.iter().filter(|r| {
        r.modalite == "Global"
            && r.date_entree_accompagnement_global
                .is_some_and(|e| e <= end)
            && r.date_sortie.is_none_or(|s| s >= start)
    }) {
        let code = reference.code(&row.commune);
        let entry = global
            .entry(row.numalloc_caf.as_str())
            .or_insert_with(|| code.clone());
        if code < *entry {
            *entry = code;
        }
    }
    put(
        "RSA-11",
        global
            .values()
            .map(|c| Item::unit(reference.territory(c), None))
            .collect(),
        &mut out,
    );

    // --- RSA-12: exits of Y (rows), positive ones.
    put(
        "RSA-12",
        data.brsa
            .iter()
            .filter(|r| r.modalite == "Global")
            .filter_map(|r| {
                let exit = r.date_sortie.filter(|&d| in_year(d, y))?;
                let positive = matches!(
                    r.motif_sortie.as_deref(),
                    Some("Reprise d'emploi") | Some("Entrée en formation")
                );
                Some(Item::share(
                    reference.territory(&reference.code(&r.commune)),
                    Some(exit.month()),
                    positive,
                ))
            })
            .collect(),
        &mut out,
    );

    // --- CA-01, CA-02: reinforced people whose contract ended in Y.
    let ca_rows: Vec<&sample::ContratAide> = data
        .contrats_aides
        .iter()
        .filter(|c| c.accompagnement_renforce && in_year(c.date_fin_contrat, y))
        .collect();
    let ca_first = earliest(ca_rows.iter().map(|c| {
        (
            c.numalloc.clone(),
            c.date_fin_contrat,
            reference.code(&c.commune),
        )
    }));
    let ca_positive: BTreeSet<&str> = ca_rows
        .iter()
        .filter(|c| matches!(c.situation_6_mois.as_str(), "Emploi" | "Formation"))
        .map(|c| c.numalloc.as_str())
        .collect();
    let mut ca_units: Vec<(&String, &(NaiveDate, String))> = ca_first.iter().collect();
    ca_units.sort();
    put(
        "CA-01",
        ca_units
            .iter()
            .map(|(_, (d, c))| Item::unit(reference.territory(c), Some(d.month())))
            .collect(),
        &mut out,
    );
    put(
        "CA-02",
        ca_units
            .iter()
            .map(|(id, (d, c))| {
                Item::share(
                    reference.territory(c),
                    Some(d.month()),
                    ca_positive.contains(id.as_str()),
                )
            })
            .collect(),
        &mut out,
    );

    // --- ASE: young people whose 18th birthday is in Y.
    let birthday = |j: &sample::JeuneAse| {
        j.date_naissance
            .checked_add_months(Months::new(18 * 12))
            .expect("a representable birthday")
    };
    let ase_rows: Vec<&sample::JeuneAse> = data
        .jeunes_ase
        .iter()
        .filter(|j| in_year(birthday(j), y))
        .collect();
    let ase_first = earliest(ase_rows.iter().map(|j| {
        (
            j.identifiant.clone(),
            birthday(j),
            reference.code(&j.commune),
        )
    }));
    let any = |id: &str, flag: fn(&sample::JeuneAse) -> bool| {
        ase_rows.iter().any(|j| j.identifiant == id && flag(j))
    };
    let ase_units: Vec<(&String, &(NaiveDate, String))> = ase_first.iter().collect();
    let ase_items = |flag: Option<fn(&sample::JeuneAse) -> bool>, filter: bool| -> Vec<Item> {
        ase_units
            .iter()
            .filter(|(id, _)| !filter || flag.is_some_and(|f| any(id, f)))
            .map(|(id, (d, c))| {
                Item::share(
                    reference.territory(c),
                    Some(d.month()),
                    flag.is_some_and(|f| any(id, f)),
                )
            })
            .collect()
    };
    put("ASE-01", ase_items(None, false), &mut out);
    // ASE-02: the ASE-01 people with a contract date, placed as in ASE-01
    // (the person's earliest row of Y).
    put(
        "ASE-02",
        ase_items(Some(|j| j.date_contrat_trajectoire.is_some()), true),
        &mut out,
    );
    put(
        "ASE-03",
        ase_items(Some(|j| j.referent_parcours), false),
        &mut out,
    );
    put(
        "ASE-04",
        ase_items(Some(|j| j.logement_stable), false),
        &mut out,
    );
    put("ASE-05", ase_items(Some(|j| j.ressources), false), &mut out);
    put(
        "ASE-06",
        ase_items(Some(|j| j.parcours_scolaire_pro), false),
        &mut out,
    );
    put(
        "ASE-07",
        ase_items(Some(|j| j.personne_confiance), false),
        &mut out,
    );

    // --- ACC: persons of the rows of Y, by type (and partner for ACC-03).
    for (id, kind) in [
        ("ACC-01", "Écrivain public numérique"),
        ("ACC-02", "Atelier numérique collectif"),
        ("ACC-03", "Accueil mutualisé"),
    ] {
        put(
            id,
            data.accueil_social
                .iter()
                .filter(|a| a.type_action == kind && in_year(a.date, y))
                .map(|a| Item {
                    breakdown: (id == "ACC-03").then(|| {
                        a.partenaire
                            .clone()
                            .unwrap_or_else(|| "non renseigné".to_owned())
                    }),
                    ..Item::measure(
                        reference.territory(&reference.code(&a.commune)),
                        Some(a.date.month()),
                        f64::from(a.nombre_personnes),
                    )
                })
                .collect(),
            &mut out,
        );
    }

    // --- INI sums of persons (row territory, row month).
    for (id, kinds) in [
        ("INI-01", &["Session sport", "Session culture"][..]),
        ("INI-03", &["Maison kangourou"][..]),
    ] {
        put(
            id,
            data.initiatives
                .iter()
                .filter(|i| kinds.contains(&i.type_initiative.as_str()) && in_year(i.date, y))
                .map(|i| {
                    Item::measure(
                        reference.territory(&reference.code(&i.commune)),
                        Some(i.date.month()),
                        f64::from(i.nombre_personnes),
                    )
                })
                .collect(),
            &mut out,
        );
    }

    // --- INI people: driving-licence aid (INI-02, INI-05, INI-06) and EAJE
    // (INI-04, INI-07).
    for (count_id, amount_id, share_id, kind) in [
        (
            "INI-02",
            Some("INI-05"),
            "INI-06",
            "Aide permis de conduire",
        ),
        ("INI-04", None, "INI-07", "Accompagnement EAJE"),
    ] {
        let rows: Vec<&sample::Initiative> = data
            .initiatives
            .iter()
            .filter(|i| i.type_initiative == kind && in_year(i.date, y))
            .collect();
        let first = earliest(rows.iter().filter_map(|i| {
            Some((
                i.identifiant_beneficiaire.clone()?,
                i.date,
                reference.code(&i.commune),
            ))
        }));
        let success: BTreeSet<&str> = rows
            .iter()
            .filter(|i| i.resultat == Some(true))
            .filter_map(|i| i.identifiant_beneficiaire.as_deref())
            .collect();
        let units: Vec<(&String, &(NaiveDate, String))> = first.iter().collect();
        put(
            count_id,
            units
                .iter()
                .map(|(_, (d, c))| Item::unit(reference.territory(c), Some(d.month())))
                .collect(),
            &mut out,
        );
        put(
            share_id,
            units
                .iter()
                .map(|(id, (d, c))| {
                    Item::share(
                        reference.territory(c),
                        Some(d.month()),
                        success.contains(id.as_str()),
                    )
                })
                .collect(),
            &mut out,
        );
        if let Some(amount_id) = amount_id {
            put(
                amount_id,
                rows.iter()
                    .filter_map(|i| {
                        let montant = i.montant?;
                        // The person's territory; rows without an identifier keep their own.
                        let code = match &i.identifiant_beneficiaire {
                            Some(id) => first[id].1.clone(),
                            None => reference.code(&i.commune),
                        };
                        Some(Item::measure(
                            reference.territory(&code),
                            Some(i.date.month()),
                            montant,
                        ))
                    })
                    .collect(),
                &mut out,
            );
        }
    }

    // --- FIN: execution rates, département only.
    fin(
        data,
        "FIN-01",
        sample::FINANCEUR_ETAT,
        |l| l.montant_etat,
        &mut out,
    );
    fin(
        data,
        "FIN-02",
        sample::FINANCEUR_DEPARTEMENT,
        |l| l.montant_departement,
        &mut out,
    );
    out
}

/// Payments of the funder dated in Y (per month, per year) over the year's
/// agreed amount, per action and in total; département level only. Amounts
/// are added in cents: the exact figure, whatever the order of the rows.
fn fin(
    data: &SampleData,
    id: &str,
    funder: &str,
    agreed_of: fn(&sample::ConventionLine) -> Option<f64>,
    out: &mut Expected,
) {
    let y = data.year;
    let payments: Vec<&sample::Mandat> = data
        .mandats
        .iter()
        .filter(|m| m.financeur == funder)
        .collect();
    let mut actions: BTreeSet<Option<String>> = BTreeSet::from([None]);
    actions.extend(data.convention.iter().map(|l| Some(l.action.clone())));
    actions.extend(payments.iter().map(|m| Some(m.action.clone())));
    // The funder's total counts the payments on actions it agreed to only.
    let agreed_to: BTreeSet<&str> = data
        .convention
        .iter()
        .filter(|l| agreed_of(l).is_some_and(|a| a > 0.0))
        .map(|l| l.action.as_str())
        .collect();
    for action in actions {
        let agreed = euros(
            data.convention
                .iter()
                .filter(|l| action.as_ref().is_none_or(|a| *a == l.action))
                .filter_map(agreed_of),
        );
        for month in std::iter::once(None).chain((1..=12).map(Some)) {
            let paid = euros(
                payments
                    .iter()
                    .filter(|m| match &action {
                        Some(a) => *a == m.action,
                        None => agreed_to.contains(m.action.as_str()),
                    })
                    .filter(|m| in_year(m.date_mandat, y))
                    .filter(|m| month.is_none_or(|mo| m.date_mandat.month() == mo))
                    .map(|m| m.montant),
            );
            out.insert(
                (id.to_owned(), DEPARTEMENT.to_owned(), month, action.clone()),
                Cell {
                    value: (agreed != 0.0).then(|| paid / agreed),
                    numerator: Some(paid),
                    denominator: Some(agreed),
                },
            );
        }
    }
}

/// The sum of amounts of money, added in cents.
fn euros(amounts: impl Iterator<Item = f64>) -> f64 {
    amounts.map(|a| (a * 100.0).round() as i64).sum::<i64>() as f64 / 100.0
}

// ---------------------------------------------------------------------------
// Running the engine and reading its CSV

fn build(year: i32, messy: bool) -> (SampleData, SampleOptions) {
    let opts = SampleOptions {
        year,
        scale: SCALE,
        seed: SEED,
        messy,
    };
    (sample::build(&opts), opts)
}

/// Which table a run writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Diffusion {
    /// `--diffusion publique` (the default): small cells masked.
    Public,
    /// `--diffusion interne`: every figure shown, files named `_interne`.
    Internal,
}

/// Runs `suivi run` for `year` on `inputs`; returns the CSV's text.
fn run_engine(inputs: &Path, year: i32, diffusion: Diffusion) -> String {
    run_engine_with_coverage(inputs, year, diffusion).0
}

/// The join coverage measures of the quality workbook: id -> (numerator, denominator).
type Coverage = BTreeMap<String, (f64, f64)>;

/// The indicator table, and the coverage measures of the quality workbook.
fn run_engine_with_coverage(inputs: &Path, year: i32, diffusion: Diffusion) -> (String, Coverage) {
    let out = run_suivi(inputs, year, diffusion);
    let file = match diffusion {
        Diffusion::Public => format!("indicateurs_{year}.csv"),
        Diffusion::Internal => format!("indicateurs_{year}_interne.csv"),
    };
    let path = out.path().join(file);
    let csv = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let quality = match diffusion {
        Diffusion::Public => format!("qualite_donnees_{year}.xlsx"),
        Diffusion::Internal => format!("qualite_donnees_{year}_interne.xlsx"),
    };
    (csv, coverage_of(&out.path().join(quality)))
}

/// `suivi run` on `inputs`, into a temporary folder.
fn run_suivi(inputs: &Path, year: i32, diffusion: Diffusion) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("a temporary folder");
    let mut command = Command::new(env!("CARGO_BIN_EXE_suivi"));
    command
        .args(["run", PIPELINE, "--year", &year.to_string(), "--inputs"])
        .arg(inputs)
        .arg("--out")
        .arg(out.path());
    if diffusion == Diffusion::Internal {
        command.args(["--diffusion", "interne"]);
    }
    let output = command
        .env("SUIVI_PSEUDONYM_KEY", PSEUDONYM_KEY)
        .env_remove("SUIVI_PSEUDONYM_KEY_FILE")
        .env_remove("SUIVI_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("the suivi binary runs");
    assert!(
        output.status.success(),
        "suivi run failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The rows of the quality workbook's coverage sheet: an id, a label, a
/// numerator and a denominator.
fn coverage_of(workbook: &Path) -> Coverage {
    use calamine::{Data, Reader};
    let mut workbook = calamine::open_workbook_auto(workbook).expect("the quality workbook opens");
    let mut coverage = Coverage::new();
    for name in workbook.sheet_names() {
        let range = workbook.worksheet_range(&name).expect("a sheet");
        for row in range.rows() {
            if let [Data::String(id), _, Data::Float(num), Data::Float(den), ..] = row
                && ["nouveaux_entrants_trouves", "orientations_sans_foyer"].contains(&id.as_str())
            {
                coverage.insert(id.clone(), (*num, *den));
            }
        }
    }
    coverage
}

/// Writes the files of `years` (clean unless `messy`) into a new folder.
fn generate(years: &[i32], messy: bool) -> (tempfile::TempDir, Vec<SampleData>) {
    let inputs = tempfile::tempdir().expect("a temporary folder");
    let mut datas = Vec::new();
    for &year in years {
        let (data, opts) = build(year, messy);
        sample::write(&data, &opts, inputs.path()).expect("the sample files are written");
        datas.push(data);
    }
    (inputs, datas)
}

/// The public run on the clean 2020 files alone, shared by the tests.
fn clean_run() -> &'static (String, SampleData) {
    &clean_run_with_coverage().0
}

fn clean_run_with_coverage() -> &'static ((String, SampleData), Coverage) {
    static CLEAN: OnceLock<((String, SampleData), Coverage)> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let (inputs, mut datas) = generate(&[YEAR], false);
        let (csv, coverage) = run_engine_with_coverage(inputs.path(), YEAR, Diffusion::Public);
        ((csv, datas.remove(0)), coverage)
    })
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    line: usize,
    indicator: String,
    action: String,
    label: String,
    territory: String,
    month: Option<u32>,
    breakdown: Option<String>,
    value: String,
    numerator: String,
    denominator: String,
    target: String,
    met: String,
    previous: String,
    masked: String,
}

impl Row {
    fn key(&self) -> Key {
        (
            self.indicator.clone(),
            self.territory.clone(),
            self.month,
            self.breakdown.clone(),
        )
    }
}

fn parse_csv(text: &str) -> Vec<Row> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(headers, COLUMNS, "the CSV's header");
    reader
        .records()
        .enumerate()
        .map(|(i, r)| {
            let r = r.unwrap_or_else(|e| panic!("CSV record {}: {e}", i + 2));
            assert_eq!(
                r.len(),
                COLUMNS.len(),
                "CSV line {} has {} fields",
                i + 2,
                r.len()
            );
            let month = match &r[4] {
                "" => None,
                m => {
                    let m: u32 = m
                        .parse()
                        .unwrap_or_else(|_| panic!("CSV line {}: mois {m:?}", i + 2));
                    assert!((1..=12).contains(&m), "CSV line {}: mois {m}", i + 2);
                    Some(m)
                }
            };
            Row {
                line: i + 2,
                indicator: r[0].to_owned(),
                action: r[1].to_owned(),
                label: r[2].to_owned(),
                territory: r[3].to_owned(),
                month,
                breakdown: (!r[5].is_empty()).then(|| r[5].to_owned()),
                value: r[6].to_owned(),
                numerator: r[7].to_owned(),
                denominator: r[8].to_owned(),
                target: r[9].to_owned(),
                met: r[10].to_owned(),
                previous: r[11].to_owned(),
                masked: r[12].to_owned(),
            }
        })
        .collect()
}

/// A number as the CSV writes it: decimal point, no exponent, at most 9
/// decimals; Err with the reason otherwise.
fn parse_number(text: &str) -> Result<f64, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac
            .is_none_or(|f| !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(format!(
            "{text:?} is not a number with a decimal point and at most 9 decimals"
        ));
    }
    text.parse().map_err(|e| format!("{text:?}: {e}"))
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "(empty)".to_owned(), |v| format!("{v}"))
}

fn describe(key: &Key) -> String {
    let (indicator, territory, month, breakdown) = key;
    format!(
        "{indicator} | {territory} | mois {} | ventilation {}",
        month.map_or_else(|| "année".to_owned(), |m| m.to_string()),
        breakdown.as_deref().unwrap_or("(total)")
    )
}

/// Compares one figure (empty or a number) with its expected value.
fn check_figure(
    mismatches: &mut Vec<String>,
    key: &Key,
    field: &str,
    expected: Option<f64>,
    actual: &str,
    amount: bool,
) {
    let actual_value = if actual.is_empty() {
        None
    } else {
        match parse_number(actual) {
            Ok(v) => Some(v),
            Err(e) => {
                mismatches.push(format!("{} | {field}: {e}", describe(key)));
                return;
            }
        }
    };
    let ok = match (expected, actual_value) {
        (None, None) => true,
        (Some(e), Some(a)) => {
            let tolerance = if amount {
                (1e-9 * e.abs()).max(1e-6)
            } else {
                1e-6
            };
            (e - a).abs() <= tolerance
        }
        _ => false,
    };
    if !ok {
        mismatches.push(format!(
            "{} | {field}: expected {}, engine {}",
            describe(key),
            show(expected),
            if actual.is_empty() { "(empty)" } else { actual }
        ));
    }
}

/// What `valeur_n1` should be checked against.
enum Previous<'a> {
    /// No previous year's files: every `valeur_n1` is empty.
    None,
    /// Every cell's `valeur_n1` is the previous year's value of the same
    /// cell (empty when that cell did not exist), except for the cells of
    /// `hidden` (masked in the previous year's publication), which show none.
    Values {
        last_year: &'a Expected,
        hidden: &'a BTreeSet<Key>,
    },
}

/// Every difference between the engine's rows and the expected cells.
fn compare(expected: &Expected, rows: &[Row], previous: Previous) -> Vec<String> {
    let mut mismatches = Vec::new();
    let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
    let mut meta: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for row in rows {
        let key = row.key();
        if let Some(line) = seen.insert(key.clone(), row.line) {
            mismatches.push(format!(
                "{} | cell written twice (lines {line} and {})",
                describe(&key),
                row.line
            ));
        }
        let (action, label) = meta
            .entry(row.indicator.as_str())
            .or_insert((row.action.as_str(), row.label.as_str()));
        if row.action.is_empty()
            || row.label.is_empty()
            || *action != row.action
            || *label != row.label
        {
            mismatches.push(format!(
                "{} | action/libelle {:?}/{:?} empty or not constant for the indicator",
                describe(&key),
                row.action,
                row.label
            ));
        }
    }
    for key in expected.keys().filter(|k| !seen.contains_key(*k)) {
        mismatches.push(format!("{} | missing from the engine's CSV", describe(key)));
    }
    for key in seen.keys().filter(|k| !expected.contains_key(*k)) {
        mismatches.push(format!(
            "{} | unexpected cell in the engine's CSV",
            describe(key)
        ));
    }
    for row in rows {
        let key = row.key();
        let Some(cell) = expected.get(&key) else {
            continue;
        };
        let spec = spec_of(&row.indicator);
        // Target and attainment.
        let target = spec.target.map(Target::value);
        check_figure(&mut mismatches, &key, "cible", target, &row.target, false);
        match row.masked.as_str() {
            "non" => {
                check_figure(
                    &mut mismatches,
                    &key,
                    "valeur",
                    cell.value,
                    &row.value,
                    spec.amount,
                );
                check_figure(
                    &mut mismatches,
                    &key,
                    "numerateur",
                    cell.numerator,
                    &row.numerator,
                    spec.amount,
                );
                check_figure(
                    &mut mismatches,
                    &key,
                    "denominateur",
                    cell.denominator,
                    &row.denominator,
                    spec.amount,
                );
                // Attainment of the engine's own value when present (a value
                // mismatch is reported above), of ours otherwise.
                let value = parse_number(&row.value).ok().or(cell.value);
                let met = match (spec.target, value) {
                    (Some(t), Some(v)) => {
                        if t.met(v) {
                            "oui"
                        } else {
                            "non"
                        }
                    }
                    _ => "",
                };
                if row.met != met {
                    mismatches.push(format!(
                        "{} | atteinte: expected {met:?}, engine {:?}",
                        describe(&key),
                        row.met
                    ));
                }
            }
            "oui" => {
                // A masked cell shows no figure.
                for (field, text) in [
                    ("valeur", &row.value),
                    ("numerateur", &row.numerator),
                    ("denominateur", &row.denominator),
                ] {
                    if parse_number(text).is_ok() || !(text.is_empty() || text == "s") {
                        mismatches.push(format!(
                            "{} | masked cell shows {field} {text:?}",
                            describe(&key)
                        ));
                    }
                }
                if !row.met.is_empty() {
                    mismatches.push(format!(
                        "{} | masked cell shows atteinte {:?}",
                        describe(&key),
                        row.met
                    ));
                }
            }
            other => mismatches.push(format!("{} | masque {other:?}", describe(&key))),
        }
        match &previous {
            Previous::None => {
                if !row.previous.is_empty() {
                    mismatches.push(format!(
                        "{} | valeur_n1 {:?} without the previous year's files",
                        describe(&key),
                        row.previous
                    ));
                }
            }
            Previous::Values { last_year, hidden } => {
                let value = if hidden.contains(&key) {
                    None
                } else {
                    last_year.get(&key).and_then(|c| c.value)
                };
                check_figure(
                    &mut mismatches,
                    &key,
                    "valeur_n1",
                    value,
                    &row.previous,
                    spec.amount,
                );
            }
        }
    }
    mismatches
}

/// Panics with the count of mismatches per indicator and the first ones.
#[track_caller]
fn assert_no_mismatch(what: &str, mismatches: &[String]) {
    if mismatches.is_empty() {
        return;
    }
    let mut per_indicator: BTreeMap<&str, usize> = BTreeMap::new();
    for m in mismatches {
        *per_indicator
            .entry(m.split(" | ").next().unwrap_or(""))
            .or_default() += 1;
    }
    let shown: Vec<&str> = mismatches
        .iter()
        .take(MAX_REPORTED)
        .map(String::as_str)
        .collect();
    panic!(
        "{what}: {} mismatching cells (per indicator: {per_indicator:?}); the first {}:\n{}",
        mismatches.len(),
        shown.len(),
        shown.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn every_indicator_matches_an_independent_recomputation() {
    let (csv, data) = clean_run();
    let expected = expected(data);
    // Sanity of the recomputation itself: the sample exercises what we check.
    let year_cell = |id: &str| {
        expected[&(id.to_owned(), DEPARTEMENT.to_owned(), None, None)]
            .value
            .unwrap_or_default()
    };
    for id in [
        "RSA-01", "RSA-02", "RSA-03", "RSA-10", "RSA-11", "CA-01", "ASE-01", "INI-02", "INI-04",
    ] {
        assert!(year_cell(id) > 0.0, "the sample has no unit for {id}");
    }
    assert!(
        expected.keys().any(|k| k.0 == "ACC-03" && k.3.is_some()),
        "the sample has no ACC-03 partner"
    );

    let rows = parse_csv(csv);
    let mut mismatches = compare(&expected, &rows, Previous::None);
    // The comparison is not vacuous: the département's year figures of the
    // large new-entrant indicators are published, and the convention's money
    // (FIN) is public, never masked (docs/DOMAIN.md, "Statistical confidentiality").
    for row in &rows {
        let big = ["RSA-01", "RSA-02", "RSA-03", "RSA-04", "RSA-05"]
            .contains(&row.indicator.as_str())
            && row.territory == DEPARTEMENT
            && row.month.is_none();
        if (big || row.indicator.starts_with("FIN-")) && row.masked != "non" {
            mismatches.push(format!(
                "{} | masked, but must be published",
                describe(&row.key())
            ));
        }
    }
    let compared = rows.iter().filter(|r| r.masked == "non").count();
    eprintln!(
        "{} cells in the CSV, {compared} unmasked ones compared with the recomputation",
        rows.len()
    );
    assert_no_mismatch("clean 2020 run vs recomputation", &mismatches);
}

#[test]
fn every_cell_of_the_internal_table_matches_including_last_year() {
    // The internal table masks nothing: every cell is compared, and every
    // cell's valeur_n1 is the 2019 figure recomputed here.
    let (inputs, datas) = generate(&[YEAR - 1, YEAR], false);
    let csv = run_engine(inputs.path(), YEAR, Diffusion::Internal);
    let last_year = expected(&datas[0]);
    let this_year = expected(&datas[1]);
    let rows = parse_csv(&csv);
    let mut mismatches = compare(
        &this_year,
        &rows,
        Previous::Values {
            last_year: &last_year,
            hidden: &BTreeSet::new(),
        },
    );
    for row in rows.iter().filter(|r| r.masked != "non") {
        mismatches.push(format!(
            "{} | masque {:?} in the internal table",
            describe(&row.key()),
            row.masked
        ));
    }
    assert_no_mismatch(
        "internal 2020 run (2019 files present) vs recomputation",
        &mismatches,
    );
}

#[test]
fn messy_files_give_the_same_indicators_as_clean_ones() {
    let (clean_csv, clean_data) = clean_run();
    let (inputs, messy_data) = generate(&[YEAR], true);
    assert!(
        &messy_data[0] == clean_data,
        "the messy writer must hold the same clean records (same seed)"
    );
    let messy_csv = run_engine(inputs.path(), YEAR, Diffusion::Public);
    let clean = parse_csv(clean_csv);
    let messy = parse_csv(&messy_csv);
    let mut mismatches = Vec::new();
    let messy_by_key: BTreeMap<Key, &Row> = messy.iter().map(|r| (r.key(), r)).collect();
    let clean_keys: BTreeSet<Key> = clean.iter().map(Row::key).collect();
    for row in &clean {
        let key = row.key();
        match messy_by_key.get(&key) {
            None => mismatches.push(format!("{} | missing from the messy run", describe(&key))),
            Some(other) => {
                let a = (
                    &row.value,
                    &row.numerator,
                    &row.denominator,
                    &row.met,
                    &row.masked,
                );
                let b = (
                    &other.value,
                    &other.numerator,
                    &other.denominator,
                    &other.met,
                    &other.masked,
                );
                if a != b {
                    mismatches.push(format!(
                        "{} | clean (valeur, numerateur, denominateur, atteinte, masque) {a:?}, messy {b:?}",
                        describe(&key)
                    ));
                }
            }
        }
    }
    for key in messy_by_key.keys().filter(|k| !clean_keys.contains(*k)) {
        mismatches.push(format!("{} | only in the messy run", describe(key)));
    }
    assert_no_mismatch("messy 2020 run vs clean 2020 run", &mismatches);
    assert!(
        clean_csv == &messy_csv,
        "the messy run's CSV differs from the clean run's (same cells and figures, other bytes)"
    );
}

#[test]
fn previous_year_values_of_the_public_table_match_a_recomputation_of_2019() {
    let (inputs, datas) = generate(&[YEAR - 1, YEAR], false);
    let (clean_csv, clean_data) = clean_run();
    assert!(
        &datas[1] == clean_data,
        "the same seed gives the same 2020 records"
    );
    let last_year = expected(&datas[0]);
    assert!(
        last_year[&("RSA-01".to_owned(), DEPARTEMENT.to_owned(), None, None)]
            .value
            .unwrap_or_default()
            > 0.0,
        "the 2019 sample has new entrants"
    );

    // 2019's own publication (no 2018 files: no N-1 there), checked too;
    // its masked cells must not reappear as N-1 in 2020.
    let published_2019 = parse_csv(&run_engine(inputs.path(), YEAR - 1, Diffusion::Public));
    let mut mismatches = compare(&last_year, &published_2019, Previous::None);
    let hidden: BTreeSet<Key> = published_2019
        .iter()
        .filter(|r| r.masked != "non")
        .map(Row::key)
        .collect();

    let rows = parse_csv(&run_engine(inputs.path(), YEAR, Diffusion::Public));
    let this_year = expected(&datas[1]);
    mismatches.extend(compare(
        &this_year,
        &rows,
        Previous::Values {
            last_year: &last_year,
            hidden: &hidden,
        },
    ));
    // valeur_n1 aside, the table is the one of the 2020 files alone.
    let clean = parse_csv(clean_csv);
    if clean.len() != rows.len() {
        mismatches.push(format!(
            "with the 2019 files: {} rows, without: {}",
            rows.len(),
            clean.len()
        ));
    }
    for (with, without) in rows.iter().zip(&clean) {
        let strip = |r: &Row| Row {
            previous: String::new(),
            ..r.clone()
        };
        if strip(with) != strip(without) {
            mismatches.push(format!(
                "{} | line {} differs with the 2019 files present (valeur_n1 aside)",
                describe(&with.key()),
                with.line
            ));
        }
    }
    assert_no_mismatch("public 2019 and 2020 runs (valeur_n1)", &mismatches);
}

// ---------------------------------------------------------------------------
// Deliveries as partners send them (issue 11)

/// Applies `f(written code, row index)` to the commune of every row of every
/// source that has one.
fn rewrite_communes(data: &mut SampleData, f: &dyn Fn(&str, usize) -> String) {
    fn each<T>(
        rows: &mut [T],
        field: fn(&mut T) -> &mut String,
        f: &dyn Fn(&str, usize) -> String,
    ) {
        for (i, row) in rows.iter_mut().enumerate() {
            let code = field(row);
            *code = f(code, i);
        }
    }
    each(&mut data.caf, |r| &mut r.codcom, f);
    each(&mut data.orientations, |r| &mut r.commune, f);
    each(&mut data.contrats_aides, |r| &mut r.commune, f);
    each(&mut data.jeunes_ase, |r| &mut r.commune, f);
    each(&mut data.accueil_social, |r| &mut r.commune, f);
    each(&mut data.initiatives, |r| &mut r.commune, f);
    each(&mut data.brsa, |r| &mut r.commune, f);
}

/// Runs `suivi check` on the Loire pipeline over `inputs`; returns its table.
fn check_table_of(inputs: &Path, pipeline: &Path) -> Vec<common::CheckRow> {
    let output = common::suivi(&[
        "check",
        common::arg(pipeline),
        "--year",
        &YEAR.to_string(),
        "--inputs",
        common::arg(inputs),
    ]);
    common::assert_exit(&output, 0);
    common::check_table(&common::stdout(&output))
}

/// A delivery that writes the communes merged since with their former
/// codes gives exactly the indicators of the same delivery written with
/// current codes, and `check` counts every mapped row, source by source.
#[test]
fn former_commune_codes_give_the_same_indicators_as_current_ones() {
    let reference = reference();
    let (mut current, opts) = build(YEAR, false);
    // Every source gets rows in Vézelin-sur-Loire (42268, formed in 2022 from
    // Amions 42004, Dancé 42082 and Saint-Paul-de-Vézelin 42268), whatever the draw.
    rewrite_communes(&mut current, &|code, i| {
        if i % 7 == 3 {
            "42268".to_owned()
        } else {
            reference.code(code)
        }
    });
    let mut formers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (old, new) in &reference.passage {
        if old != new {
            formers.entry(new.as_str()).or_default().push(old.as_str());
        }
    }
    formers.values_mut().for_each(|codes| codes.sort_unstable());
    let mut former = current.clone();
    rewrite_communes(&mut former, &|code, i| match formers.get(code) {
        Some(olds) => olds[i % olds.len()].to_owned(),
        None => code.to_owned(),
    });
    // Independently: rows written with a former code, per source.
    let count = |codes: Vec<&String>| {
        codes
            .iter()
            .filter(|c| !reference.territory_of.contains_key(c.as_str()))
            .count()
    };
    let expected_mapped = BTreeMap::from([
        (
            "caf_rsa",
            count(former.caf.iter().map(|r| &r.codcom).collect()),
        ),
        (
            "orientations",
            count(former.orientations.iter().map(|r| &r.commune).collect()),
        ),
        (
            "contrats_aides",
            count(former.contrats_aides.iter().map(|r| &r.commune).collect()),
        ),
        (
            "jeunes_ase",
            count(former.jeunes_ase.iter().map(|r| &r.commune).collect()),
        ),
        (
            "accueil_social",
            count(former.accueil_social.iter().map(|r| &r.commune).collect()),
        ),
        (
            "initiatives",
            count(former.initiatives.iter().map(|r| &r.commune).collect()),
        ),
        (
            "brsa",
            count(former.brsa.iter().map(|r| &r.commune).collect()),
        ),
    ]);
    for (source, n) in &expected_mapped {
        assert!(*n > 0, "{source}: the test delivery must use former codes");
    }

    let current_dir = tempfile::tempdir().expect("a temporary folder");
    let former_dir = tempfile::tempdir().expect("a temporary folder");
    sample::write(&current, &opts, current_dir.path()).expect("the files are written");
    sample::write(&former, &opts, former_dir.path()).expect("the files are written");

    let pipeline = Path::new(PIPELINE);
    for row in check_table_of(former_dir.path(), pipeline) {
        let expected = expected_mapped
            .get(row.source.as_str())
            .copied()
            .unwrap_or(0);
        assert_eq!(row.mapped, expected, "rows mapped in {}", row.source);
        assert_eq!(row.rejected, 0, "rows rejected in {}", row.source);
    }
    for row in check_table_of(current_dir.path(), pipeline) {
        assert_eq!(
            row.mapped, 0,
            "rows mapped in {} (current codes)",
            row.source
        );
    }

    let with_current = run_engine(current_dir.path(), YEAR, Diffusion::Internal);
    let with_former = run_engine(former_dir.path(), YEAR, Diffusion::Internal);
    assert_no_mismatch(
        "current codes, internal table",
        &compare(
            &expected(&current),
            &parse_csv(&with_current),
            Previous::None,
        ),
    );
    assert!(
        with_current == with_former,
        "former codes give other indicators than current codes"
    );
}

/// Rows equal in every column: sessions and payments (no identifier) are
/// all kept and counted, and listed as possible double entries; copies of
/// rows that identify someone are duplicates. A pipeline may force either.
#[test]
fn identical_sessions_are_counted_listed_and_never_rejected() {
    let (_, data) = clean_run();
    fn repeats<T: std::fmt::Debug>(rows: impl Iterator<Item = T>) -> usize {
        let mut seen = BTreeSet::new();
        rows.filter(|r| !seen.insert(format!("{r:?}"))).count()
    }
    let accueil = repeats(data.accueil_social.iter());
    let sessions = repeats(
        data.initiatives
            .iter()
            .filter(|r| r.identifiant_beneficiaire.is_none()),
    );
    let mandats = repeats(data.mandats.iter());
    assert!(
        accueil > 0 && sessions + mandats > 0,
        "the sample must repeat sessions"
    );

    let (inputs, _) = generate(&[YEAR], false);
    let pipeline = Path::new(PIPELINE);
    let table = check_table_of(inputs.path(), pipeline);
    let figures = |table: &[common::CheckRow], source: &str| {
        let row = common::check_row(table, source);
        (row.repeats, row.rejected)
    };
    assert_eq!(figures(&table, "accueil_social"), (accueil, 0));
    assert_eq!(figures(&table, "initiatives"), (sessions, 0));
    assert_eq!(figures(&table, "mandats"), (mandats, 0));
    assert_eq!(figures(&table, "caf_rsa"), (0, 0));

    // The ACC sums count every session: the total of ACC-01, ACC-02 and
    // ACC-03 over the year is every person of every row of Y.
    let (csv, _) = clean_run();
    let persons: u32 = data
        .accueil_social
        .iter()
        .filter(|r| in_year(r.date, YEAR))
        .map(|r| r.nombre_personnes)
        .sum();
    let published: f64 = parse_csv(csv)
        .iter()
        .filter(|r| {
            ["ACC-01", "ACC-02", "ACC-03"].contains(&r.indicator.as_str())
                && r.territory == DEPARTEMENT
                && r.month.is_none()
                && r.breakdown.is_none()
        })
        .map(|r| parse_number(&r.value).expect("the département's yearly ACC sums are published"))
        .sum();
    assert_eq!(published, f64::from(persons));

    // The override `reject` makes them duplicates (`keep`: tests/ingest.rs).
    let text = std::fs::read_to_string(pipeline).expect("the pipeline");
    let overridden = text
        .replace(
            "[sources.accueil_social]\n",
            "[sources.accueil_social]\nduplicates = \"reject\"\n",
        )
        .replace(
            "../inputs/referentiel/",
            &format!("{}/inputs/referentiel/", env!("CARGO_MANIFEST_DIR")),
        );
    let dir = tempfile::tempdir().expect("a temporary folder");
    let copy = dir.path().join("pipeline.toml");
    std::fs::write(&copy, overridden).expect("the pipeline copy is written");
    let table = check_table_of(inputs.path(), &copy);
    assert_eq!(figures(&table, "accueil_social"), (0, accueil));
    assert_eq!(figures(&table, "initiatives"), (sessions, 0));
}

/// The quality workbook's join coverage, recomputed from the records: the
/// new entrants found in the orientations file, and the orientation rows
/// whose household is nowhere in the CAF file (any month).
fn expected_coverage(data: &SampleData) -> Coverage {
    let entrants = new_entrants(data);
    let oriented: BTreeSet<&str> = data
        .orientations
        .iter()
        .map(|o| o.numalloc.as_str())
        .collect();
    let found = entrants
        .iter()
        .filter(|e| oriented.contains(e.numalloc.as_str()))
        .count();
    let households: BTreeSet<&str> = data.caf.iter().map(|r| r.numalloc.as_str()).collect();
    let orphans = data
        .orientations
        .iter()
        .filter(|o| !households.contains(o.numalloc.as_str()))
        .count();
    // Not vacuous: the sample has new entrants both found and not, and
    // orientation rows both with and without a household.
    assert!(
        0 < found && found < entrants.len(),
        "{found} of {}",
        entrants.len()
    );
    assert!(
        0 < orphans && orphans < data.orientations.len(),
        "{orphans}"
    );
    Coverage::from([
        (
            "nouveaux_entrants_trouves".to_owned(),
            (found as f64, entrants.len() as f64),
        ),
        (
            "orientations_sans_foyer".to_owned(),
            (orphans as f64, data.orientations.len() as f64),
        ),
    ])
}

#[test]
fn join_coverage_matches_an_independent_recomputation() {
    let ((_, data), coverage) = clean_run_with_coverage();
    assert_eq!(coverage, &expected_coverage(data));
}

/// A CAF extraction that overlaps the year before (rows of its December):
/// those rows open no right in the year, place no new entrant in a month or
/// a commune, and count for no December stock, but their households are in
/// the CAF file for the orientations coverage.
#[test]
fn caf_rows_of_the_year_before_count_only_for_the_coverage() {
    let (mut data, opts) = build(YEAR, false);
    let before = NaiveDate::from_ymd_opt(YEAR - 1, 12, 1).unwrap();
    let opened_in_year = NaiveDate::from_ymd_opt(YEAR, 1, 2).unwrap();
    let other_commune = data.caf[0].codcom.clone();
    // A row of the year before for every 5th household, opened early in the
    // year, in another commune: counted, it would move the household's
    // opening date, first month and commune.
    let mut seen = BTreeSet::new();
    let mut extra: Vec<sample::CafRow> = data
        .caf
        .iter()
        .filter(|r| seen.insert(r.numalloc.clone()))
        .step_by(5)
        .map(|r| sample::CafRow {
            moisref: before,
            dtouvdrt: opened_in_year,
            codcom: other_commune.clone(),
            sdd: true,
            etatdrt: 2,
            ..r.clone()
        })
        .collect();
    // Households that are only in the year before, with orientation rows.
    let households: BTreeSet<&str> = data.caf.iter().map(|r| r.numalloc.as_str()).collect();
    let orphans: BTreeSet<String> = data
        .orientations
        .iter()
        .filter(|o| !households.contains(o.numalloc.as_str()))
        .map(|o| o.numalloc.clone())
        .step_by(2)
        .collect();
    assert!(
        !orphans.is_empty(),
        "the sample has orientations without a household"
    );
    let template = extra[0].clone();
    extra.extend(orphans.iter().map(|numalloc| sample::CafRow {
        numalloc: numalloc.clone(),
        ..template.clone()
    }));
    data.caf.extend(extra);
    let inputs = tempfile::tempdir().expect("a temporary folder");
    sample::write(&data, &opts, inputs.path()).expect("the files are written");
    let (csv, coverage) = run_engine_with_coverage(inputs.path(), YEAR, Diffusion::Public);
    assert_no_mismatch(
        "CAF rows of the year before",
        &compare(&expected(&data), &parse_csv(&csv), Previous::None),
    );
    assert_eq!(coverage, expected_coverage(&data));
}

/// Money is added exactly, whatever order the rows come in: in the
/// full-precision table (the CSV rounds), every FIN figure of the clean and
/// of the messy delivery is, to the last bit, the recomputation's, which adds
/// amounts in cents. Float sums gave 42546.189999999995 for 42546.19, and a
/// last digit that changed between runs.
#[test]
fn money_is_added_to_the_cent_in_the_full_precision_table() {
    use polars::prelude::*;
    let expected = expected(&clean_run().1);
    for messy in [false, true] {
        let (inputs, _) = generate(&[YEAR], messy);
        let out = run_suivi(inputs.path(), YEAR, Diffusion::Public);
        let path = out.path().join(format!("indicateurs_{YEAR}.parquet"));
        let table = ParquetReader::new(std::fs::File::open(&path).expect("the parquet table"))
            .finish()
            .expect("a parquet table");
        let strings = |name: &str| -> Vec<Option<String>> {
            let column = table.column(name).unwrap().str().unwrap();
            column.iter().map(|s| s.map(str::to_owned)).collect()
        };
        let floats = |name: &str| -> Vec<Option<f64>> {
            table.column(name).unwrap().f64().unwrap().iter().collect()
        };
        let months = table.column("mois").unwrap().i32().unwrap();
        let (ids, territories, breakdowns) = (
            strings("indicateur"),
            strings("territoire"),
            strings("ventilation"),
        );
        let (values, numerators, denominators) = (
            floats("valeur"),
            floats("numerateur"),
            floats("denominateur"),
        );
        let mut checked = 0;
        for row in 0..table.height() {
            let id = ids[row].clone().unwrap();
            if !id.starts_with("FIN-") {
                continue;
            }
            let key = (
                id,
                territories[row].clone().unwrap(),
                months.get(row).map(|m| m as u32),
                breakdowns[row].clone(),
            );
            let want = &expected[&key];
            let got = Cell {
                value: values[row],
                numerator: numerators[row],
                denominator: denominators[row],
            };
            assert_eq!(&got, want, "messy {messy}: {}", describe(&key));
            checked += 1;
        }
        assert!(checked > 100, "only {checked} FIN figures in the table");
    }
}
