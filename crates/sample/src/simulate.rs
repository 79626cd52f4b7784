//! Building the clean records of a year from the seed.
//!
//! Every random draw comes from a `ChaCha8Rng` seeded from the options (seed
//! mixed with the year), one stream per file, so that a change in one part of
//! the simulation does not reshuffle the others. Collections iterated here are
//! vectors or B-tree sets: the output never depends on hash order or clocks.

use super::SampleOptions;
use super::model::*;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::fmt::Debug;

const COMMUNES_CSV: &str = include_str!("../../../inputs/referentiel/communes_loire.csv");
const PASSAGE_CSV: &str = include_str!("../../../inputs/referentiel/passage_communes_loire.csv");
const TERRITOIRES_CSV: &str = include_str!("../../../inputs/referentiel/territoires_loire.csv");

/// Month (1-12) in which the thinnest territory gets no new entrant at all.
pub(crate) const THIN_ZERO_MONTH: u32 = 8;
/// Month (1-12) in which the thinnest territory gets exactly
/// [`THIN_SMALL_COUNT`] new entrants.
pub(crate) const THIN_SMALL_MONTH: u32 = 5;
/// Number of new entrants of the thinnest territory in [`THIN_SMALL_MONTH`].
pub(crate) const THIN_SMALL_COUNT: usize = 3;

// ---------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------

/// A current commune of the Loire.
#[derive(Debug, Clone)]
pub(crate) struct Commune {
    pub code: String,
    pub nom: String,
    pub population: u64,
    pub territoire: String,
}

/// The embedded reference tables.
#[derive(Debug, Clone)]
pub(crate) struct Referentiel {
    /// Current communes, in file order (by code).
    pub communes: Vec<Commune>,
    /// `(code_ancien, code_actuel)` pairs of the passage table.
    pub passage: Vec<(String, String)>,
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .expect("embedded reference CSV has a header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            r.expect("embedded reference CSV is well formed")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    (headers, rows)
}

fn column(headers: &[String], name: &str) -> usize {
    headers
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("embedded reference CSV lacks column {name}"))
}

impl Referentiel {
    pub fn load() -> Self {
        let (th, trows) = csv_rows(TERRITOIRES_CSV);
        let (tc, tt) = (column(&th, "code_commune"), column(&th, "territoire"));
        let territory = |code: &str| -> String {
            trows
                .iter()
                .find(|r| r[tc] == code)
                .map(|r| r[tt].clone())
                .unwrap_or_else(|| "Hors territoire".to_string())
        };
        let (ch, crows) = csv_rows(COMMUNES_CSV);
        let (cc, cn, cp) = (
            column(&ch, "code_commune"),
            column(&ch, "nom_commune"),
            column(&ch, "population"),
        );
        let communes = crows
            .iter()
            .map(|r| Commune {
                code: r[cc].clone(),
                nom: r[cn].clone(),
                population: r[cp].parse().unwrap_or(0),
                territoire: territory(&r[cc]),
            })
            .collect();
        let (ph, prows) = csv_rows(PASSAGE_CSV);
        let (pa, pc) = (column(&ph, "code_ancien"), column(&ph, "code_actuel"));
        let passage = prows
            .iter()
            .map(|r| (r[pa].clone(), r[pc].clone()))
            .collect();
        Referentiel { communes, passage }
    }

    /// Current code of a current or old code.
    pub fn current_code<'a>(&'a self, code: &'a str) -> Option<&'a str> {
        if self.communes.iter().any(|c| c.code == code) {
            return Some(code);
        }
        self.passage
            .iter()
            .find(|(old, _)| old == code)
            .map(|(_, cur)| cur.as_str())
    }

    /// Whether a code is a current commune or an old code of the passage table.
    #[cfg(test)]
    pub fn is_known(&self, code: &str) -> bool {
        self.current_code(code).is_some()
    }

    /// Territory of a current or old code.
    pub fn territoire_of(&self, code: &str) -> Option<&str> {
        let cur = self.current_code(code)?;
        self.communes
            .iter()
            .find(|c| c.code == cur)
            .map(|c| c.territoire.as_str())
    }

    /// Distinct territories, sorted.
    pub fn territoires(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .communes
            .iter()
            .map(|c| c.territoire.as_str())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// The territory with the smallest population: the one thinned out.
    pub fn thin_territory(&self) -> String {
        self.territoires()
            .into_iter()
            .min_by_key(|t| {
                self.communes
                    .iter()
                    .filter(|c| &c.territoire == t)
                    .map(|c| c.population)
                    .sum::<u64>()
            })
            .expect("at least one territory")
    }

    /// Old codes (no longer current) that map to a current code.
    fn retired_codes_of(&self, current: &str) -> Vec<&str> {
        self.passage
            .iter()
            .filter(|(old, cur)| cur == current && !self.communes.iter().any(|c| &c.code == old))
            .map(|(old, _)| old.as_str())
            .collect()
    }
}

/// The name of every current and former commune code, as exports print it
/// beside the code (a former code without a name of its own gets the name
/// of the commune it merged into).
pub(crate) fn commune_names() -> std::collections::HashMap<String, String> {
    let (ch, crows) = csv_rows(COMMUNES_CSV);
    let (cc, cn) = (column(&ch, "code_commune"), column(&ch, "nom_commune"));
    let (ph, prows) = csv_rows(PASSAGE_CSV);
    let (pa, pn, pcn) = (
        column(&ph, "code_ancien"),
        column(&ph, "nom_ancien"),
        column(&ph, "nom_actuel"),
    );
    let former = prows.iter().map(|r| {
        let name = if r[pn].is_empty() { &r[pcn] } else { &r[pn] };
        (r[pa].clone(), name.clone())
    });
    // Current names last: a code that is both keeps its current name.
    former
        .chain(crows.iter().map(|r| (r[cc].clone(), r[cn].clone())))
        .collect()
}

/// Population-weighted draw among a subset of communes.
struct Picker {
    idx: Vec<usize>,
    cum: Vec<u64>,
}

impl Picker {
    fn new(refs: &Referentiel, keep: &dyn Fn(&Commune) -> bool) -> Self {
        let mut idx = Vec::new();
        let mut cum = Vec::new();
        let mut total = 0u64;
        for (i, c) in refs.communes.iter().enumerate() {
            if keep(c) && c.population > 0 {
                total += c.population;
                idx.push(i);
                cum.push(total);
            }
        }
        if idx.is_empty() {
            // Degenerate reference data: fall back to every commune.
            return Picker::new(refs, &|_| true);
        }
        Picker { idx, cum }
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = *self.cum.last().expect("non-empty picker");
        let u = rng.random_range(0..total);
        self.idx[self.cum.partition_point(|&c| c <= u)]
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// A random stream for one part of the simulation or of the writing.
pub(crate) fn stream(opts: &SampleOptions, tag: u64) -> ChaCha8Rng {
    let mixed = opts.seed ^ (opts.year as i64 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = ChaCha8Rng::seed_from_u64(mixed);
    rng.set_stream(tag);
    rng
}

pub(crate) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let next = if m == 12 {
        ymd(y + 1, 1, 1)
    } else {
        ymd(y, m + 1, 1)
    };
    (next - ymd(y, m, 1)).num_days() as u32
}

fn day_in_month(rng: &mut ChaCha8Rng, y: i32, m: u32) -> NaiveDate {
    ymd(y, m, rng.random_range(1..=days_in_month(y, m)))
}

fn day_between(rng: &mut ChaCha8Rng, a: NaiveDate, b: NaiveDate) -> NaiveDate {
    let span = (b - a).num_days().max(0);
    a + Duration::days(rng.random_range(0..=span))
}

fn day_in_year(rng: &mut ChaCha8Rng, y: i32) -> NaiveDate {
    day_between(rng, ymd(y, 1, 1), ymd(y, 12, 31))
}

fn weekday_between(rng: &mut ChaCha8Rng, a: NaiveDate, b: NaiveDate) -> NaiveDate {
    for _ in 0..50 {
        let d = day_between(rng, a, b);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            return d;
        }
    }
    a
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Index drawn from cumulative-free weights.
fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

fn pick_label(rng: &mut ChaCha8Rng, labels: &[&str], weights: &[f64]) -> String {
    labels[weighted(rng, weights)].to_string()
}

/// Records a row's full content; false when an equal row was already built.
fn first_time<T: Debug>(seen: &mut BTreeSet<String>, rec: &T) -> bool {
    seen.insert(format!("{rec:?}"))
}

/// Unique numéros allocataires.
struct IdPool {
    used: BTreeSet<u32>,
}

impl IdPool {
    fn fresh(&mut self, rng: &mut ChaCha8Rng) -> String {
        // About one in eight numbers starts with a zero (kept as text).
        let upper = if rng.random_bool(0.12) {
            1_000_000
        } else {
            10_000_000
        };
        loop {
            let n = rng.random_range(100..upper);
            if self.used.insert(n) {
                return format!("{n:07}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Simulation context
// ---------------------------------------------------------------------------

struct Ctx {
    year: i32,
    scale: f64,
    refs: Referentiel,
    all: Picker,
    /// Date of the extraction cut-off: no date after it exists in the files.
    cap: NaiveDate,
    ids: IdPool,
}

impl Ctx {
    /// A scaled count, with a floor so that small scales still have a few.
    fn n(&self, base: f64, min: usize) -> usize {
        ((base * self.scale).round() as usize).max(min)
    }

    /// Commune code written for commune `idx`, for years up to 2021: a
    /// former code of a merged commune with probability `p`. Small merged
    /// communes are recent mergers whose former parts files still name; a
    /// town's former codes date from the 1970s and are rare (1 %).
    fn written_code(&self, idx: usize, rng: &mut ChaCha8Rng, p: f64) -> String {
        let commune = &self.refs.communes[idx];
        if self.year <= 2021 {
            let olds = self.refs.retired_codes_of(&commune.code);
            let p = if commune.population < 10_000 { p } else { 0.01 };
            if !olds.is_empty() && rng.random_bool(p) {
                return olds[rng.random_range(0..olds.len())].to_string();
            }
        }
        commune.code.clone()
    }

    /// Commune code to write for a household living in commune `idx`.
    fn household_code(&self, idx: usize, rng: &mut ChaCha8Rng) -> String {
        self.written_code(idx, rng, 0.7)
    }

    /// Commune code for a partner row: former codes appear half the time.
    fn partner_code(&self, idx: usize, rng: &mut ChaCha8Rng) -> String {
        self.written_code(idx, rng, 0.5)
    }

    fn draw_code(&self, rng: &mut ChaCha8Rng) -> String {
        let idx = self.all.pick(rng);
        self.partner_code(idx, rng)
    }
}

// ---------------------------------------------------------------------------
// CAF households
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sdd {
    Always,
    FromSecond,
    Never,
}

#[derive(Debug, Clone)]
struct Household {
    numalloc: String,
    dtouvdrt: NaiveDate,
    first_month: u32,
    /// Closing month and ETATDRT (5 or 6).
    exit: Option<(u32, u8)>,
    /// Written commune code on the first row.
    commune: String,
    /// From that month on, the household lives in that commune.
    moved: Option<(u32, String)>,
    sdd: Sdd,
    nbpers: u32,
    ratio: f64,
    entrant: bool,
}

impl Household {
    fn last_month(&self) -> u32 {
        self.exit.map_or(12, |(m, _)| m)
    }

    /// New entrant subject to rights and duties (population NE).
    fn is_ne(&self) -> bool {
        self.entrant && self.sdd != Sdd::Never
    }
}

/// RSA lump sum for a single person, by year (EUR).
fn rsa_base(year: i32) -> f64 {
    match year {
        ..=2018 => 550.93,
        2019 => 559.74,
        2020 => 564.78,
        2021 => 565.34,
        2022 => 598.54,
        2023 => 607.75,
        2024 => 635.71,
        _ => 646.52,
    }
}

fn household_factor(nbpers: u32) -> f64 {
    match nbpers {
        0 | 1 => 1.0,
        2 => 1.5,
        3 => 1.8,
        n => 1.8 + 0.4 * f64::from(n - 3),
    }
}

fn households(ctx: &mut Ctx, rng: &mut ChaCha8Rng) -> Vec<Household> {
    let y = ctx.year;
    let thin = ctx.refs.thin_territory();
    let not_thin = Picker::new(&ctx.refs, &|c| c.territoire != thin);
    let thin_only = Picker::new(&ctx.refs, &|c| c.territoire == thin);
    // Communes whose households write an old code (for Y <= 2021).
    let merged: Vec<usize> = ctx
        .refs
        .communes
        .iter()
        .enumerate()
        .filter(|(_, c)| !ctx.refs.retired_codes_of(&c.code).is_empty())
        .map(|(i, _)| i)
        .collect();
    let merged_not_thin: Vec<usize> = merged
        .iter()
        .copied()
        .filter(|&i| ctx.refs.communes[i].territoire != thin)
        .collect();

    let p_exit = 0.0165;
    let mut out = Vec::new();
    let n_stock = ctx.n(20_000.0, 40);
    let n_entrants = ctx.n(4_200.0, 40);

    for k in 0..(n_stock + n_entrants + THIN_SMALL_COUNT) {
        let stock = k < n_stock;
        let forced_thin = k >= n_stock + n_entrants;
        let (dtouvdrt, first_month) = if stock {
            let u = rng.random::<f64>();
            let d = if u < 0.40 {
                day_in_year(rng, y - 1)
            } else if u < 0.65 {
                day_in_year(rng, y - 2)
            } else {
                let yy = rng.random_range(y - 12..=y - 3);
                day_in_year(rng, yy)
            };
            (d, 1)
        } else if forced_thin {
            (day_in_month(rng, y, THIN_SMALL_MONTH), THIN_SMALL_MONTH)
        } else {
            let m = rng.random_range(1..=12);
            (day_in_month(rng, y, m), m)
        };
        let avoid_thin = !stock
            && !forced_thin
            && (first_month == THIN_ZERO_MONTH || first_month == THIN_SMALL_MONTH);
        let idx = if forced_thin {
            thin_only.pick(rng)
        } else if rng.random_bool(0.015) {
            let pool = if avoid_thin {
                &merged_not_thin
            } else {
                &merged
            };
            if pool.is_empty() {
                if avoid_thin {
                    not_thin.pick(rng)
                } else {
                    ctx.all.pick(rng)
                }
            } else {
                pool[rng.random_range(0..pool.len())]
            }
        } else if avoid_thin {
            not_thin.pick(rng)
        } else {
            ctx.all.pick(rng)
        };
        let commune = ctx.household_code(idx, rng);

        let mut exit = None;
        for m in first_month..=12 {
            let can_close = stock || m > first_month;
            if can_close && rng.random_bool(p_exit) {
                exit = Some((m, if rng.random_bool(0.7) { 5 } else { 6 }));
                break;
            }
        }
        let last = exit.map_or(12, |(m, _)| m);
        let sdd = if forced_thin {
            Sdd::Always
        } else if stock {
            if rng.random_bool(0.92) {
                Sdd::Always
            } else {
                Sdd::Never
            }
        } else {
            let u = rng.random::<f64>();
            if u < 0.10 {
                Sdd::Never
            } else if u < 0.235 && last > first_month {
                Sdd::FromSecond
            } else {
                Sdd::Always
            }
        };
        let moved = if last > first_month && rng.random_bool(0.03) {
            let month = rng.random_range(first_month + 1..=last);
            let mut new_idx = ctx.all.pick(rng);
            while new_idx == idx {
                new_idx = ctx.all.pick(rng);
            }
            Some((month, ctx.household_code(new_idx, rng)))
        } else {
            None
        };
        let nbpers =
            [1, 2, 3, 4, 5, 6, 7][weighted(rng, &[0.50, 0.18, 0.14, 0.09, 0.05, 0.03, 0.01])];
        out.push(Household {
            numalloc: ctx.ids.fresh(rng),
            dtouvdrt,
            first_month,
            exit,
            commune,
            moved,
            sdd,
            nbpers,
            ratio: rng.random_range(0.2..1.0),
            entrant: !stock,
        });
    }
    out
}

/// One CAF row before it is written: its household and what varies by month.
/// 16 bytes: a national-scale year (25 million rows) fits in memory.
#[derive(Debug, Clone, Copy)]
struct CafDraw {
    household: u32,
    month: u8,
    etatdrt: u8,
    sdd: bool,
    mtrsavers: f64,
}

/// The CAF file of a year, row by row in file order (month, then numéro
/// allocataire), without holding the rows.
pub(crate) struct CafRows {
    year: i32,
    households: Vec<Household>,
    draws: Vec<CafDraw>,
}

impl CafRows {
    pub(crate) fn iter(&self) -> impl Iterator<Item = CafRow> + '_ {
        self.draws.iter().map(|d| {
            let h = &self.households[d.household as usize];
            let month = u32::from(d.month);
            let codcom = match &h.moved {
                Some((mm, code)) if month >= *mm => code.clone(),
                _ => h.commune.clone(),
            };
            CafRow {
                moisref: ymd(self.year, month, 1),
                numalloc: h.numalloc.clone(),
                dtouvdrt: h.dtouvdrt,
                codcom,
                sdd: d.sdd,
                etatdrt: d.etatdrt,
                nbpers: h.nbpers,
                mtrsavers: d.mtrsavers,
            }
        })
    }
}

fn caf_rows(ctx: &Ctx, rng: &mut ChaCha8Rng, hh: Vec<Household>) -> CafRows {
    let base = rsa_base(ctx.year);
    let mut draws = Vec::with_capacity(hh.len() * 12);
    for (index, h) in hh.iter().enumerate() {
        let max = base * household_factor(h.nbpers);
        for m in h.first_month..=h.last_month() {
            let etatdrt = match h.exit {
                Some((em, code)) if em == m => code,
                _ if rng.random_bool(0.03) => {
                    if rng.random_bool(0.5) {
                        3
                    } else {
                        4
                    }
                }
                _ => 2,
            };
            let sdd = match h.sdd {
                Sdd::Always => true,
                Sdd::Never => false,
                Sdd::FromSecond => m != h.first_month,
            };
            let mtrsavers = if etatdrt == 2 {
                round2(max * h.ratio * rng.random_range(0.97..=1.0))
            } else {
                0.0
            };
            draws.push(CafDraw {
                household: index as u32,
                month: m as u8,
                etatdrt,
                sdd,
                mtrsavers,
            });
            // A regularisation: a second December row of a paid household.
            if m == 12 && etatdrt == 2 && rng.random_bool(0.005) {
                draws.push(CafDraw {
                    household: index as u32,
                    month: 12,
                    etatdrt,
                    sdd,
                    mtrsavers: round2(mtrsavers * 0.1),
                });
            }
        }
    }
    draws.sort_by(|a, b| {
        let numalloc = |d: &CafDraw| hh[d.household as usize].numalloc.as_str();
        (a.month, numalloc(a)).cmp(&(b.month, numalloc(b)))
    });
    CafRows {
        year: ctx.year,
        households: hh,
        draws,
    }
}

// ---------------------------------------------------------------------------
// Département: Orientations
// ---------------------------------------------------------------------------

/// Delay from opening to orientation: mostly 5-90 days, mean about 40,
/// about half within 30.
fn orientation_delay(rng: &mut ChaCha8Rng) -> i64 {
    let u = rng.random::<f64>();
    if u < 0.50 {
        rng.random_range(5..=30)
    } else if u < 0.85 {
        rng.random_range(31..=70)
    } else {
        rng.random_range(71..=110)
    }
}

fn meeting_delay(rng: &mut ChaCha8Rng) -> i64 {
    if rng.random_bool(0.75) {
        rng.random_range(0..=30)
    } else {
        rng.random_range(31..=45)
    }
}

fn capped(d: NaiveDate, cap: NaiveDate) -> Option<NaiveDate> {
    (d <= cap).then_some(d)
}

fn oriented_row(
    ctx: &Ctx,
    rng: &mut ChaCha8Rng,
    numalloc: &str,
    opening: NaiveDate,
    date: NaiveDate,
    commune: &str,
    p_meeting: f64,
) -> Orientation {
    let t = weighted(rng, &[0.45, 0.40, 0.15]);
    let organisme = match t {
        0 => "Pôle emploi".to_string(),
        1 => pick_label(rng, &["Département", "CCAS", "PLIE"], &[0.6, 0.3, 0.1]),
        _ => pick_label(
            rng,
            &["Département", "PLIE", "CCAS", "Pôle emploi"],
            &[0.45, 0.35, 0.15, 0.05],
        ),
    };
    let rdv = if rng.random_bool(0.02) {
        // Data-quality trap: an appointment dated before the orientation.
        Some(date - days(rng.random_range(1..=10)))
    } else if rng.random_bool(0.90) {
        let d = if rng.random_bool(0.55) {
            rng.random_range(0..=15)
        } else {
            rng.random_range(16..=40)
        };
        capped(date + days(d), ctx.cap)
    } else {
        None
    };
    let meeting = if rng.random_bool(p_meeting) {
        capped(opening + days(meeting_delay(rng)), ctx.cap)
    } else {
        None
    };
    let cer = if rng.random_bool(0.5) {
        capped(date + days(rng.random_range(10..=90)), ctx.cap)
    } else {
        None
    };
    Orientation {
        numalloc: numalloc.to_string(),
        date_ouverture_droit: opening,
        date_orientation: Some(date),
        type_orientation: Some(TYPES_ORIENTATION[t].to_string()),
        organisme_referent: Some(organisme),
        date_premier_rdv: rdv,
        date_reunion_collective: meeting,
        date_signature_cer: cer,
        commune: commune.to_string(),
        accompagnement_loire: rng.random_bool(0.30),
    }
}

fn to_orient_row(
    ctx: &Ctx,
    rng: &mut ChaCha8Rng,
    numalloc: &str,
    opening: NaiveDate,
    commune: &str,
) -> Orientation {
    let meeting = if rng.random_bool(0.5) {
        capped(opening + days(meeting_delay(rng)), ctx.cap)
    } else {
        None
    };
    Orientation {
        numalloc: numalloc.to_string(),
        date_ouverture_droit: opening,
        date_orientation: None,
        type_orientation: None,
        organisme_referent: None,
        date_premier_rdv: None,
        date_reunion_collective: meeting,
        date_signature_cer: None,
        commune: commune.to_string(),
        accompagnement_loire: false,
    }
}

fn orientations(ctx: &mut Ctx, rng: &mut ChaCha8Rng, hh: &[Household]) -> Vec<Orientation> {
    let y = ctx.year;
    let mut out = Vec::new();
    // New entrants subject to rights and duties.
    for h in hh.iter().filter(|h| h.is_ne()) {
        let open = h.dtouvdrt;
        let u = rng.random::<f64>();
        if u < 0.015 {
            // Data-quality trap: orientation dated before the opening.
            let d = open - days(rng.random_range(1..=25));
            out.push(oriented_row(
                ctx,
                rng,
                &h.numalloc,
                open,
                d,
                &h.commune,
                0.7,
            ));
        } else if u < 0.015 + 0.87 {
            let d = open + days(orientation_delay(rng));
            if d <= ctx.cap {
                out.push(oriented_row(
                    ctx,
                    rng,
                    &h.numalloc,
                    open,
                    d,
                    &h.commune,
                    0.7,
                ));
                if rng.random_bool(0.04) {
                    let d2 = d + days(rng.random_range(30..=150));
                    if d2 <= ctx.cap {
                        out.push(oriented_row(
                            ctx,
                            rng,
                            &h.numalloc,
                            open,
                            d2,
                            &h.commune,
                            0.0,
                        ));
                    }
                }
            } else {
                out.push(to_orient_row(ctx, rng, &h.numalloc, open, &h.commune));
            }
        } else if rng.random_bool(0.5) {
            out.push(to_orient_row(ctx, rng, &h.numalloc, open, &h.commune));
        }
    }
    // Older households (opening before Y) oriented or re-oriented in Y.
    let mut stock: Vec<&Household> = hh
        .iter()
        .filter(|h| !h.entrant && h.sdd == Sdd::Always)
        .collect();
    stock.shuffle(rng);
    let n_old = ctx.n(2_500.0, 10).min(stock.len());
    for h in &stock[..n_old] {
        let open = h.dtouvdrt;
        let natural = open + days(orientation_delay(rng));
        let d = if natural.year() == y {
            natural
        } else {
            day_in_year(rng, y)
        };
        let p_meeting = if open >= ymd(y - 1, 10, 1) { 0.7 } else { 0.05 };
        out.push(oriented_row(
            ctx,
            rng,
            &h.numalloc,
            open,
            d,
            &h.commune,
            p_meeting,
        ));
    }
    // A few households oriented in Y-1 (not of Y).
    let rest: Vec<&Household> = stock[n_old..]
        .iter()
        .copied()
        .filter(|h| h.dtouvdrt.year() == y - 1 && h.dtouvdrt.month() <= 10)
        .collect();
    let n_prev = ctx.n(100.0, 3).min(rest.len());
    for h in &rest[..n_prev] {
        let open = h.dtouvdrt;
        let d = open + days(rng.random_range(5..=60));
        if d.year() == y - 1 {
            out.push(oriented_row(
                ctx,
                rng,
                &h.numalloc,
                open,
                d,
                &h.commune,
                0.7,
            ));
        }
    }
    // Households no longer in the CAF file of Y.
    for _ in 0..ctx.n(80.0, 3) {
        let numalloc = ctx.ids.fresh(rng);
        let open = day_between(rng, ymd(y - 2, 1, 1), ymd(y - 1, 11, 30));
        let d = day_between(rng, ymd(y, 1, 1), ymd(y, 6, 30));
        let commune = ctx.draw_code(rng);
        out.push(oriented_row(ctx, rng, &numalloc, open, d, &commune, 0.05));
    }
    out.sort_by(|a, b| {
        (a.date_ouverture_droit, &a.numalloc, a.date_orientation).cmp(&(
            b.date_ouverture_droit,
            &b.numalloc,
            b.date_orientation,
        ))
    });
    out
}

// ---------------------------------------------------------------------------
// Département: Contrats aidés, Jeunes ASE, Accueil social, Initiatives
// ---------------------------------------------------------------------------

fn situation(rng: &mut ChaCha8Rng, end: NaiveDate, year: i32) -> String {
    let w: &[f64] = if end > ymd(year, 7, 31) {
        &[0.20, 0.10, 0.30, 0.40]
    } else {
        &[0.32, 0.16, 0.34, 0.18]
    };
    pick_label(rng, &SITUATIONS_6_MOIS, w)
}

fn contrat_row(
    ctx: &Ctx,
    rng: &mut ChaCha8Rng,
    numalloc: &str,
    end: NaiveDate,
    commune: &str,
) -> ContratAide {
    let renforce = rng.random_bool(0.60);
    let debut = if renforce {
        capped(end + days(rng.random_range(-60..=20)), ctx.cap)
    } else {
        None
    };
    ContratAide {
        numalloc: numalloc.to_string(),
        date_fin_contrat: end,
        accompagnement_renforce: renforce,
        date_debut_accompagnement: debut,
        commune: commune.to_string(),
        situation_6_mois: situation(rng, end, ctx.year),
    }
}

fn contrats_aides(ctx: &mut Ctx, rng: &mut ChaCha8Rng, hh: &[Household]) -> Vec<ContratAide> {
    let y = ctx.year;
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for _ in 0..ctx.n(400.0, 8) {
        let (numalloc, commune) = if rng.random_bool(0.75) {
            loop {
                let h = &hh[rng.random_range(0..hh.len())];
                if taken.insert(h.numalloc.clone()) {
                    break (h.numalloc.clone(), h.commune.clone());
                }
            }
        } else {
            (ctx.ids.fresh(rng), ctx.draw_code(rng))
        };
        let end = if rng.random_bool(0.90) {
            day_in_year(rng, y)
        } else {
            day_between(rng, ymd(y - 1, 9, 1), ymd(y - 1, 12, 31))
        };
        out.push(contrat_row(ctx, rng, &numalloc, end, &commune));
        if rng.random_bool(0.06) {
            let end2 = day_in_year(rng, y);
            // Half of them moved before their second contract ended.
            let commune2 = if rng.random_bool(0.5) {
                ctx.draw_code(rng)
            } else {
                commune.clone()
            };
            if end2 != end {
                out.push(contrat_row(ctx, rng, &numalloc, end2, &commune2));
            }
        }
    }
    out.sort_by(|a, b| (a.date_fin_contrat, &a.numalloc).cmp(&(b.date_fin_contrat, &b.numalloc)));
    out
}

fn jeunes_ase(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<JeuneAse> {
    let y = ctx.year;
    let n18 = ctx.n(300.0, 8);
    let n_other = ctx.n(100.0, 3);
    let mut numbers = BTreeSet::new();
    while numbers.len() < n18 + n_other {
        numbers.insert(rng.random_range(1..100_000u32));
    }
    let mut numbers: Vec<u32> = numbers.into_iter().collect();
    numbers.shuffle(rng);
    let mut out = Vec::new();
    for (k, num) in numbers.into_iter().enumerate() {
        let birth_year = if k < n18 {
            y - 18
        } else if rng.random_bool(0.5) {
            y - 17
        } else {
            y - 19
        };
        let birth = day_in_year(rng, birth_year);
        let majority = birth
            .with_year(birth.year() + 18)
            .unwrap_or_else(|| ymd(birth.year() + 18, 3, 1));
        let contrat = if rng.random_bool(0.5) {
            capped(majority + days(rng.random_range(-60..=150)), ctx.cap)
        } else {
            None
        };
        out.push(JeuneAse {
            identifiant: format!("J{y}-{num:05}"),
            date_naissance: birth,
            commune: ctx.draw_code(rng),
            date_contrat_trajectoire: contrat,
            referent_parcours: rng.random_bool(0.80),
            logement_stable: rng.random_bool(0.60),
            ressources: rng.random_bool(0.55),
            parcours_scolaire_pro: rng.random_bool(0.65),
            personne_confiance: rng.random_bool(0.70),
        });
    }
    // A few young people have a second row (a later situation, sometimes
    // in another commune): counted once, a yes on either row counts.
    let mut seconds = Vec::new();
    for j in &out {
        if !rng.random_bool(0.05) {
            continue;
        }
        let commune = if rng.random_bool(0.5) {
            ctx.draw_code(rng)
        } else {
            j.commune.clone()
        };
        seconds.push(JeuneAse {
            commune,
            referent_parcours: true,
            logement_stable: rng.random_bool(0.70),
            ressources: rng.random_bool(0.65),
            // Never equal to the first row: that would be a duplicate.
            parcours_scolaire_pro: !j.parcours_scolaire_pro,
            personne_confiance: rng.random_bool(0.80),
            ..j.clone()
        });
    }
    out.extend(seconds);
    out.sort_by(|a, b| a.identifiant.cmp(&b.identifiant));
    out
}

fn lieu(rng: &mut ChaCha8Rng, nom: &str) -> String {
    let templates = [
        "Maison départementale de ",
        "Mairie de ",
        "Médiathèque de ",
        "Espace France services de ",
        "Centre social de ",
    ];
    let t = templates[rng.random_range(0..templates.len())];
    format!("{t}{nom}")
}

fn accueil_social(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<AccueilSocial> {
    let y = ctx.year;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for _ in 0..ctx.n(2_000.0, 20) {
        loop {
            let date = if rng.random_bool(0.02) {
                weekday_between(rng, ymd(y - 1, 12, 1), ymd(y - 1, 12, 31))
            } else {
                weekday_between(rng, ymd(y, 1, 1), ymd(y, 12, 31))
            };
            let idx = ctx.all.pick(rng);
            let commune = ctx.partner_code(idx, rng);
            let lieu = lieu(rng, &ctx.refs.communes[idx].nom);
            let t = weighted(rng, &[0.45, 0.25, 0.30]);
            let partenaire = if t == 2 {
                if rng.random_bool(0.04) {
                    None
                } else {
                    Some(pick_label(rng, &PARTENAIRES, &[0.45, 0.30, 0.25]))
                }
            } else if rng.random_bool(0.15) {
                Some(pick_label(rng, &PARTENAIRES, &[0.4, 0.3, 0.3]))
            } else {
                None
            };
            let nombre_personnes = match t {
                0 => rng.random_range(1..=8),
                1 => rng.random_range(3..=15),
                _ => rng.random_range(1..=25),
            };
            let rec = AccueilSocial {
                date,
                lieu,
                commune,
                type_action: TYPES_ACTION_ACCUEIL[t].to_string(),
                partenaire,
                nombre_personnes,
            };
            if first_time(&mut seen, &rec) {
                out.push(rec);
                break;
            }
        }
    }
    // Two small sessions of the same day, place, type and size: equal rows,
    // both real (about 4 % of rows; a few three times).
    let mut copies = Vec::new();
    for rec in out.iter().filter(|r| r.nombre_personnes <= 3) {
        if rng.random_bool(0.18) {
            copies.push(rec.clone());
            if rng.random_bool(0.1) {
                copies.push(rec.clone());
            }
        }
    }
    out.extend(copies);
    out.sort_by(|a, b| (a.date, &a.commune).cmp(&(b.date, &b.commune)));
    out
}

fn resultat(rng: &mut ChaCha8Rng, p_oui: f64, p_non: f64) -> Option<bool> {
    match weighted(rng, &[p_oui, p_non, 1.0 - p_oui - p_non]) {
        0 => Some(true),
        1 => Some(false),
        _ => None,
    }
}

fn beneficiaire_id(rng: &mut ChaCha8Rng, used: &mut BTreeSet<u32>) -> String {
    loop {
        let n = rng.random_range(1..1_000_000u32);
        if used.insert(n) {
            return format!("B{n:06}");
        }
    }
}

fn initiatives(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<Initiative> {
    let y = ctx.year;
    let mut seen = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    let in_y = |rng: &mut ChaCha8Rng| weekday_between(rng, ymd(y, 1, 1), ymd(y, 12, 31));
    let kangourou = Picker::new(&ctx.refs, &|c| c.territoire == "Gier-Ondaine-Pilat");

    // Collective sessions: sport and culture, maison kangourou.
    let n_sessions = ctx.n(160.0, 6);
    let n_kangourou = ctx.n(60.0, 4);
    for k in 0..(n_sessions + n_kangourou) {
        loop {
            let date = in_y(rng);
            let rec = if k < n_sessions {
                let t = if rng.random_bool(0.55) { 0 } else { 1 };
                Initiative {
                    date,
                    type_initiative: TYPES_INITIATIVE[t].to_string(),
                    commune: ctx.draw_code(rng),
                    identifiant_beneficiaire: None,
                    nombre_personnes: rng.random_range(3..=20),
                    montant: None,
                    resultat: None,
                }
            } else {
                let idx = kangourou.pick(rng);
                Initiative {
                    date,
                    type_initiative: TYPES_INITIATIVE[3].to_string(),
                    commune: ctx.partner_code(idx, rng),
                    identifiant_beneficiaire: None,
                    nombre_personnes: rng.random_range(1..=8),
                    montant: None,
                    resultat: None,
                }
            };
            if first_time(&mut seen, &rec) {
                out.push(rec);
                break;
            }
        }
    }
    // Collective sessions repeated on the same day and place with the same
    // size: equal rows, both real (4 to 15 a year at the Loire's scale).
    let copies: Vec<Initiative> = out
        .iter()
        .filter(|r| r.nombre_personnes <= 8)
        .filter(|_| rng.random_bool(0.06))
        .cloned()
        .collect();
    out.extend(copies);

    // Individual aids: driving licence (with an amount) and EAJE.
    let n_permis = ctx.n(150.0, 6);
    let n_eaje = ctx.n(120.0, 6);
    for k in 0..(n_permis + n_eaje) {
        let permis = k < n_permis;
        let t = if permis { 2 } else { 4 };
        let id = beneficiaire_id(rng, &mut ids);
        let commune = ctx.draw_code(rng);
        let last = if rng.random_bool(0.03) {
            // Someone entirely of Y-1: not counted for Y.
            weekday_between(rng, ymd(y - 1, 9, 1), ymd(y - 1, 12, 31))
        } else {
            in_y(rng)
        };
        let two_rows = rng.random_bool(if permis { 0.12 } else { 0.08 });
        let amount = |rng: &mut ChaCha8Rng| {
            permis.then(|| f64::from(rng.random_range(30_000..=120_000u32)) / 100.0)
        };
        if two_rows {
            // The first row may fall in Y-1 (the person counts from the second).
            let first = if rng.random_bool(0.2) {
                weekday_between(rng, ymd(y - 1, 10, 1), ymd(y - 1, 12, 31))
            } else {
                weekday_between(rng, ymd(y, 1, 1), last.max(ymd(y, 1, 2)) - days(1))
            };
            // Some people moved between their two rows.
            let first_commune = if rng.random_bool(0.3) {
                ctx.draw_code(rng)
            } else {
                commune.clone()
            };
            if first < last {
                out.push(Initiative {
                    date: first,
                    type_initiative: TYPES_INITIATIVE[t].to_string(),
                    commune: first_commune,
                    identifiant_beneficiaire: Some(id.clone()),
                    nombre_personnes: 1,
                    montant: amount(rng),
                    resultat: None,
                });
            }
        }
        let res = if permis {
            resultat(rng, 0.55, 0.25)
        } else {
            resultat(rng, 0.60, 0.25)
        };
        out.push(Initiative {
            date: last,
            type_initiative: TYPES_INITIATIVE[t].to_string(),
            commune,
            identifiant_beneficiaire: Some(id),
            nombre_personnes: 1,
            montant: amount(rng),
            resultat: res,
        });
    }
    out.sort_by(|a, b| {
        (a.date, &a.type_initiative, &a.identifiant_beneficiaire).cmp(&(
            b.date,
            &b.type_initiative,
            &b.identifiant_beneficiaire,
        ))
    });
    out
}

// ---------------------------------------------------------------------------
// Pôle emploi: BRSA
// ---------------------------------------------------------------------------

fn agence(rng: &mut ChaCha8Rng, territoire: Option<&str>) -> String {
    let choices: &[&str] = match territoire {
        Some("Saint-Étienne") => &[
            "Saint-Étienne Centre",
            "Saint-Étienne Nord",
            "Saint-Étienne Sud",
        ],
        Some("Roannais") => &["Roanne"],
        Some("Forez") => &["Montbrison", "Feurs", "Andrézieux-Bouthéon"],
        Some("Gier-Ondaine-Pilat") => &["Firminy", "Rive-de-Gier", "Saint-Chamond"],
        _ => &["Saint-Étienne Centre"],
    };
    choices[rng.random_range(0..choices.len())].to_string()
}

fn brsa(ctx: &mut Ctx, rng: &mut ChaCha8Rng, hh: &[Household]) -> Vec<BrsaRow> {
    let y = ctx.year;
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    let n = ctx.n(3_000.0, 20).min(hh.len());
    for _ in 0..n {
        let (numalloc, commune) = if rng.random_bool(0.88) {
            loop {
                let h = &hh[rng.random_range(0..hh.len())];
                if taken.insert(h.numalloc.clone()) {
                    break (h.numalloc.clone(), h.commune.clone());
                }
            }
        } else {
            (ctx.ids.fresh(rng), ctx.draw_code(rng))
        };
        let agence = agence(rng, ctx.refs.territoire_of(&commune));
        let rows = if rng.random_bool(0.02) { 2 } else { 1 };
        let mut previous_exit: Option<NaiveDate> = None;
        for r in 0..rows {
            let inscription = match previous_exit {
                Some(d) => {
                    let d = d + days(rng.random_range(20..=120));
                    if d > ctx.cap {
                        break;
                    }
                    d
                }
                None => {
                    let u = rng.random::<f64>();
                    if u < 0.20 {
                        day_between(rng, ymd(y - 3, 1, 1), ymd(y - 2, 12, 31))
                    } else if u < 0.55 {
                        day_in_year(rng, y - 1)
                    } else {
                        day_in_year(rng, y)
                    }
                }
            };
            let modalite = pick_label(rng, &MODALITES_PE, &[0.20, 0.30, 0.25, 0.25]);
            let entree = (modalite == "Global").then(|| {
                let d = inscription + days(rng.random_range(0..=120));
                if d <= ctx.cap {
                    d
                } else {
                    inscription + (ctx.cap - inscription) / 2
                }
            });
            let start = entree.unwrap_or(inscription);
            // A first row of a two-row person always ends before the second.
            let u = if r + 1 < rows {
                0.0
            } else {
                rng.random::<f64>()
            };
            let sortie = if u < 0.04 && start < ymd(y - 1, 12, 1) {
                Some(day_between(rng, start + days(1), ymd(y - 1, 12, 31)))
            } else if u < 0.04 && r + 1 < rows {
                Some(day_between(
                    rng,
                    start + days(1),
                    (start + days(200)).min(ymd(y, 12, 31)),
                ))
            } else if u < 0.44 && start < ymd(y, 12, 31) {
                let from = (start + days(1)).max(ymd(y, 1, 1));
                Some(day_between(rng, from, ymd(y, 12, 31)))
            } else if u < 0.45 && start < ymd(y + 1, 1, 1) {
                Some(day_between(rng, ymd(y + 1, 1, 1), ctx.cap))
            } else {
                None
            };
            let motif =
                sortie.map(|_| pick_label(rng, &MOTIFS_SORTIE, &[0.30, 0.15, 0.25, 0.10, 0.20]));
            out.push(BrsaRow {
                numalloc_caf: numalloc.clone(),
                date_inscription: inscription,
                categorie: pick_label(rng, &CATEGORIES_PE, &[0.60, 0.15, 0.15, 0.05, 0.05]),
                modalite,
                date_entree_accompagnement_global: entree,
                date_sortie: sortie,
                motif_sortie: motif,
                agence: agence.clone(),
                commune: commune.clone(),
            });
            match sortie {
                Some(d) => previous_exit = Some(d),
                None => break,
            }
        }
    }
    out.sort_by(|a, b| {
        (a.date_inscription, &a.numalloc_caf).cmp(&(b.date_inscription, &b.numalloc_caf))
    });
    out
}

// ---------------------------------------------------------------------------
// Finance
// ---------------------------------------------------------------------------

/// One convention line: action, State amount, Département amount (EUR).
type ConventionEntry = (&'static str, Option<u32>, Option<u32>);

/// (action, State amount, Département amount) of the 2019 convention.
const CONVENTION_2019: [ConventionEntry; 10] = [
    (
        "Accompagnement global L.O.I.R.E.",
        Some(120_000),
        Some(180_000),
    ),
    (
        "Accueil des nouveaux bénéficiaires du RSA",
        Some(95_000),
        Some(140_000),
    ),
    (
        "Accompagnement renforcé des fins de contrats aidés",
        Some(60_000),
        Some(90_000),
    ),
    ("Référents de parcours ASE", Some(85_041), Some(120_000)),
    ("Contrat trajectoire autonomie", Some(40_000), Some(85_400)),
    ("Écrivains publics numériques", Some(45_000), Some(60_000)),
    ("Ateliers numériques collectifs", Some(30_000), Some(40_000)),
    ("Accueil social mutualisé", Some(50_000), Some(70_000)),
    ("Aide au permis de conduire", Some(50_000), Some(60_000)),
    ("Maison kangourou itinérante", None, Some(30_000)),
];
/// 2019 action with no State payment at all (0 % execution).
const ZERO_2019: &str = "Ateliers numériques collectifs";

/// (action, State amount, Département amount) of the 2020 amendment.
const CONVENTION_2020: [ConventionEntry; 31] = [
    (
        "Accompagnement global L.O.I.R.E.",
        Some(120_000),
        Some(220_000),
    ),
    (
        "Correspondants sociaux départementaux",
        Some(62_000),
        Some(95_000),
    ),
    (
        "Accueil des nouveaux bénéficiaires du RSA",
        Some(98_000),
        Some(150_000),
    ),
    (
        "Réunions d'information collectives RSA",
        Some(24_000),
        Some(40_000),
    ),
    (
        "Accompagnement renforcé des fins de contrats aidés",
        Some(55_000),
        Some(90_000),
    ),
    ("Plateforme d'orientation RSA", Some(40_000), Some(85_000)),
    ("Référents uniques RSA", Some(30_000), Some(130_000)),
    (
        "Parcours renforcés en insertion par l'activité économique",
        Some(38_000),
        Some(100_000),
    ),
    (
        "Garantie d'activité départementale",
        Some(48_000),
        Some(110_000),
    ),
    (
        "Coaching vers l'emploi des bénéficiaires du RSA",
        Some(30_000),
        Some(55_000),
    ),
    ("Référents de parcours ASE", Some(85_000), Some(130_000)),
    ("Contrat trajectoire autonomie", Some(52_000), Some(95_000)),
    (
        "Réseau partenarial des jeunes majeurs",
        Some(18_000),
        Some(30_000),
    ),
    (
        "Logement des jeunes sortants de l'ASE",
        Some(35_000),
        Some(75_000),
    ),
    ("Parrainage des jeunes majeurs", Some(12_000), Some(20_000)),
    (
        "Accès aux droits des jeunes sortants de l'ASE",
        Some(15_000),
        Some(25_000),
    ),
    ("Écrivains publics numériques", Some(48_000), Some(70_000)),
    ("Ateliers numériques collectifs", Some(26_000), Some(45_000)),
    (
        "Accueil social mutualisé avec la CAF",
        Some(22_000),
        Some(40_000),
    ),
    (
        "Accueil social mutualisé avec Pôle emploi",
        Some(20_000),
        Some(35_000),
    ),
    (
        "Accueil social mutualisé avec les intercommunalités",
        Some(18_000),
        Some(30_000),
    ),
    (
        "Premier accueil social inconditionnel",
        Some(32_000),
        Some(80_000),
    ),
    (
        "Formation des travailleurs sociaux",
        Some(14_000),
        Some(25_000),
    ),
    ("Sessions sport et insertion", Some(16_000), Some(28_000)),
    ("Sessions culture et insertion", Some(15_000), Some(26_000)),
    ("Aide au permis de conduire", Some(45_000), Some(90_000)),
    ("Maison kangourou itinérante", None, Some(60_000)),
    (
        "Accompagnement des familles vers les EAJE",
        Some(21_000),
        Some(40_000),
    ),
    ("Mobilité solidaire", Some(19_000), Some(45_000)),
    (
        "Lutte contre la précarité alimentaire",
        Some(17_000),
        Some(35_000),
    ),
    ("Épiceries solidaires", Some(13_327), Some(11_143)),
];
/// 2020 action with no State payment at all (0 % execution).
const ZERO_2020: &str = "Formation des travailleurs sociaux";

fn convention(year: i32) -> (Vec<ConventionLine>, &'static str) {
    let (table, zero): (&[ConventionEntry], &str) = if year <= 2019 {
        (&CONVENTION_2019, ZERO_2019)
    } else {
        (&CONVENTION_2020, ZERO_2020)
    };
    let lines = table
        .iter()
        .map(|(action, etat, dep)| ConventionLine {
            action: action.to_string(),
            montant_etat: etat.map(f64::from),
            montant_departement: dep.map(f64::from),
        })
        .collect();
    (lines, zero)
}

fn mandats(ctx: &Ctx, rng: &mut ChaCha8Rng, lines: &[ConventionLine], zero: &str) -> Vec<Mandat> {
    let y = ctx.year;
    let per_scale = ctx.scale.max(0.0001).powf(0.25);
    let (lo, hi) = if lines.len() <= 10 { (4, 8) } else { (3, 6) };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut push = |out: &mut Vec<Mandat>, m: Mandat| {
        let mut m = m;
        while !first_time(&mut seen, &m) {
            m.date_mandat = m.date_mandat.succ_opt().expect("date in range");
        }
        out.push(m);
    };
    for line in lines {
        for (funder, agreed) in [
            (FINANCEUR_ETAT, line.montant_etat),
            (FINANCEUR_DEPARTEMENT, line.montant_departement),
        ] {
            let target_cents: i64 = match agreed {
                Some(_) if funder == FINANCEUR_ETAT && line.action == zero => 0,
                Some(a) => {
                    let rate = if funder == FINANCEUR_ETAT {
                        rng.random_range(0.70..=0.95)
                    } else {
                        rng.random_range(0.65..=1.0)
                    };
                    (a * 100.0 * rate).round() as i64
                }
                // A payment with no amount agreed: its rate is undefined.
                None if funder == FINANCEUR_ETAT => rng.random_range(200_000..=800_000),
                None => 0,
            };
            if target_cents == 0 {
                continue;
            }
            let k = rng.random_range(lo..=hi);
            let n = ((f64::from(k) * per_scale).round() as usize).max(if agreed.is_some() {
                2
            } else {
                1
            });
            let weights: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..1.5)).collect();
            let total_w: f64 = weights.iter().sum();
            let mut left = target_cents;
            let mut dates: Vec<NaiveDate> = (0..n)
                .map(|_| weekday_between(rng, ymd(y, 1, 15), ymd(y, 12, 20)))
                .collect();
            dates.sort();
            for (i, (w, date)) in weights.iter().zip(dates).enumerate() {
                let cents = if i + 1 == n {
                    left
                } else {
                    ((target_cents as f64) * w / total_w).round() as i64
                };
                left -= cents;
                push(
                    &mut out,
                    Mandat {
                        date_mandat: date,
                        action: line.action.clone(),
                        financeur: funder.to_string(),
                        montant: cents as f64 / 100.0,
                    },
                );
            }
        }
    }
    // One payment made as two equal installments on the same day: two
    // equal rows, both real (the total paid is unchanged).
    let even: Vec<usize> = (0..out.len())
        .filter(|&i| (out[i].montant * 100.0).round() as i64 % 2 == 0)
        .collect();
    if !even.is_empty() {
        let i = even[rng.random_range(0..even.len())];
        let half = ((out[i].montant * 100.0).round() / 2.0).round() / 100.0;
        out[i].montant = half;
        out.insert(i + 1, out[i].clone());
    }
    // Payments outside Y: December Y-1 and January Y+1 (they do not count).
    let funded: Vec<&ConventionLine> = lines
        .iter()
        .filter(|l| l.montant_etat.is_some() && l.montant_departement.is_some() && l.action != zero)
        .collect();
    for k in 0..5 {
        let line = funded[rng.random_range(0..funded.len())];
        let date = if k < 2 {
            weekday_between(rng, ymd(y - 1, 12, 1), ymd(y - 1, 12, 31))
        } else {
            weekday_between(rng, ymd(y + 1, 1, 5), ymd(y + 1, 1, 30))
        };
        let funder = if rng.random_bool(0.5) {
            FINANCEUR_ETAT
        } else {
            FINANCEUR_DEPARTEMENT
        };
        push(
            &mut out,
            Mandat {
                date_mandat: date,
                action: line.action.clone(),
                financeur: funder.to_string(),
                montant: f64::from(rng.random_range(50_000..=1_500_000u32)) / 100.0,
            },
        );
    }
    out.sort_by(|a, b| {
        (a.date_mandat, &a.action, &a.financeur).cmp(&(b.date_mandat, &b.action, &b.financeur))
    });
    out
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/// Builds all the clean records of a year.
pub(crate) fn build(opts: &SampleOptions) -> SampleData {
    let (mut data, caf) = build_streamed(opts);
    data.caf = caf.iter().collect();
    data
}

/// The clean records of a year, the CAF rows left to be produced one by one
/// (`caf` is empty in the data returned).
pub(crate) fn build_streamed(opts: &SampleOptions) -> (SampleData, CafRows) {
    let refs = Referentiel::load();
    let all = Picker::new(&refs, &|_| true);
    let mut ctx = Ctx {
        year: opts.year,
        scale: if opts.scale.is_finite() && opts.scale > 0.0 {
            opts.scale
        } else {
            0.0
        },
        refs,
        all,
        cap: ymd(opts.year + 1, 1, 31),
        ids: IdPool {
            used: BTreeSet::new(),
        },
    };
    let hh = households(&mut ctx, &mut stream(opts, 1));
    let orientations = orientations(&mut ctx, &mut stream(opts, 3), &hh);
    let contrats_aides = contrats_aides(&mut ctx, &mut stream(opts, 4), &hh);
    let jeunes_ase = jeunes_ase(&ctx, &mut stream(opts, 5));
    let accueil_social = accueil_social(&ctx, &mut stream(opts, 6));
    let initiatives = initiatives(&ctx, &mut stream(opts, 7));
    let brsa = brsa(&mut ctx, &mut stream(opts, 8), &hh);
    let (convention, zero) = convention(opts.year);
    let mandats = mandats(&ctx, &mut stream(opts, 9), &convention, zero);
    let caf = caf_rows(&ctx, &mut stream(opts, 2), hh);
    let data = SampleData {
        year: opts.year,
        caf: Vec::new(),
        orientations,
        contrats_aides,
        jeunes_ase,
        accueil_social,
        initiatives,
        brsa,
        convention,
        mandats,
    };
    (data, caf)
}
