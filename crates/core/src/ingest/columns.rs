//! Column-wise conversion of sheet cells into typed vectors, and from there
//! into polars Series. A typed cell (number, date) never goes through a string.

use super::pseudo::Pseudonymizer;
use crate::parse::{self, Cell, Parsed, Problem};
use crate::pipeline::{Column as ColumnSpec, ColumnType};
use crate::reference::Reference;
use chrono::NaiveDate;
use polars::prelude::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use suivi_read::Grid;

/// One declared column's values over the data rows.
pub enum Values {
    Id(Vec<Option<i64>>),
    Date(Vec<Option<i32>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<bool>),
    Str(Vec<Option<String>>),
    /// Values from a closed list (communes, categories), as indexes into `labels`.
    Code {
        codes: Vec<Option<u32>>,
        labels: Arc<[String]>,
    },
}

/// The first problem found on a row, in declared column order.
#[derive(Debug, Clone)]
pub struct CellProblem {
    pub column: usize,
    pub problem: Problem,
    pub value: String,
}

/// What every file read of a run shares: the reference tables, the
/// pseudonymiser, the hashes already taken, the columns left unbuilt and the
/// workbooks several sources read.
pub struct Reading<'a> {
    pub reference: &'a Reference,
    pub pseudonymizer: &'a Pseudonymizer,
    /// Hashes of input files already computed in this run.
    pub known_hashes: &'a crate::file_hash::HashBook,
    /// Declared columns of the source read that no query reads: parsed
    /// (a bad value still rejects its row) but not built into the table.
    pub unbuilt: &'a std::collections::BTreeSet<String>,
    /// SharedWorkbooks opened in this run that several sources read.
    pub workbooks: &'a super::workbooks::SharedWorkbooks,
}

fn days(d: NaiveDate) -> i32 {
    const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;
    chrono::Datelike::num_days_from_ce(&d) - UNIX_EPOCH_DAYS_FROM_CE
}

/// What parsing noted about the data rows, besides their values.
#[derive(Default)]
pub struct Notes {
    /// The first problem of each row with one (sparse: most have none).
    pub problems: BTreeMap<usize, CellProblem>,
    /// Rows whose commune was written with a former code: (row index, index
    /// of the code in the reference's former codes).
    pub former: Vec<(usize, u32)>,
}

/// Parses one declared column over `rows`, noting problems and former
/// commune codes in `notes`.
pub fn parse_column(
    grid: &dyn Grid,
    position: Option<usize>,
    index: usize,
    column: &ColumnSpec,
    rows: &[u32],
    reading: &Reading,
    notes: &mut Notes,
) -> Values {
    let Notes { problems, former } = notes;
    let cell = |row: u32| position.map_or(Cell::Empty, |c| grid.cell(row as usize, c));
    let mut note = |i: usize, problem: Problem, value: String| {
        problems.entry(i).or_insert(CellProblem {
            column: index,
            problem,
            value,
        });
    };
    // Applies `parse` to every row, turning a missing required value into a problem.
    macro_rules! typed {
        ($parse:expr) => {{
            let mut out = Spare::take(rows.len());
            for (i, &row) in rows.iter().enumerate() {
                let c = cell(row);
                let parsed: Parsed<_> = $parse(c);
                let value = match parsed {
                    Ok(None) if column.required => {
                        note(i, Problem::Missing, String::new());
                        None
                    }
                    Ok(v) => v,
                    Err(problem) => {
                        let shown = if column.kind == ColumnType::Id {
                            masked_id()
                        } else {
                            c.display()
                        };
                        note(i, problem, shown);
                        None
                    }
                };
                out.push(value);
            }
            out
        }};
    }
    // As `typed!`, reusing the previous row's value when its text is the
    // same (a file sorted by month repeats the month on every row): for
    // parsers whose value depends on the cell alone. A column whose cells
    // seldom repeat (identifiers, dates) stops being compared after 64
    // rows: the comparisons cost more than they saved.
    macro_rules! typed_again {
        ($parse:expr) => {{
            let (mut last, mut tries, mut hits) = (None, 0u32, 0u32);
            typed!(|c| {
                let worth = tries < 64 || hits * 2 >= tries;
                if let (true, Cell::Text(text), Some((before, value))) = (worth, c, last) {
                    tries += 1;
                    if text == before {
                        hits += 1;
                        return Ok(Some(value));
                    }
                }
                let parsed = $parse(c);
                if let (true, Cell::Text(text), Ok(Some(value))) = (worth, c, &parsed) {
                    last = Some((text, *value));
                }
                parsed
            })
        }};
    }
    match column.kind {
        ColumnType::Id => Values::Id(typed_again!(|c| parse::parse_id(c, column.width)
            .map(|v| v.map(|id| reading.pseudonymizer.pseudonym(&id))))),
        ColumnType::Date => {
            let from_1904 = grid.dates_from_1904();
            Values::Date(typed_again!(
                |c| parse::parse_date_in(c, from_1904).map(|d| d.map(days))
            ))
        }
        ColumnType::Month => {
            Values::Date(typed_again!(|c| parse::parse_month(c).map(|d| d.map(days))))
        }
        ColumnType::Integer => Values::Int(typed_again!(parse::parse_integer)),
        ColumnType::Decimal => Values::Float(typed_again!(parse::parse_decimal)),
        ColumnType::Text => Values::Str(typed!(parse::parse_text)),
        ColumnType::Commune => {
            let mut row = 0;
            let codes = typed!(|c| {
                let at = row;
                row += 1;
                parse::parse_commune_code(c).and_then(|code| match code {
                    None => Ok(None),
                    Some(code) => {
                        let located = reading.reference.locate(&code).ok_or(Problem::Commune)?;
                        if let Some(code) = located.former {
                            former.push((at, code));
                        }
                        Ok(Some(located.index))
                    }
                })
            });
            Values::Code {
                codes,
                labels: reading.reference.commune_codes().clone(),
            }
        }
        ColumnType::Category => {
            let normalized: Vec<String> = column
                .values
                .iter()
                .map(|v| crate::text::normalize(v))
                .collect();
            // The exact spelling is the common case: no normalisation for it.
            let find = |t: &str| {
                column
                    .values
                    .iter()
                    .position(|v| v == t)
                    .or_else(|| {
                        let n = crate::text::normalize(t);
                        normalized.iter().position(|v| *v == n)
                    })
                    .map(|i| i as u32)
            };
            Values::Code {
                codes: typed!(|c| parse::parse_text_ref(c).and_then(|t| match t {
                    None => Ok(None),
                    Some(t) => find(&t).map(Some).ok_or(Problem::Category),
                })),
                labels: column.values.clone().into(),
            }
        }
        ColumnType::Bool => {
            let mut out = Spare::take(rows.len());
            out.extend(rows.iter().enumerate().map(|(i, &row)| {
                let c = cell(row);
                parse::parse_bool(c).unwrap_or_else(|problem| {
                    note(i, problem, c.display());
                    false
                })
            }));
            Values::Bool(out)
        }
    }
}

/// Folds a value into a hash (the folded multiply of foldhash): every bit of
/// both reaches the high and the low bits the hash table uses.
pub fn mix(hash: u64, value: u64) -> u64 {
    let product = u128::from(hash ^ value) * u128::from(0x9e37_79b9_7f4a_7c15_u64);
    (product as u64) ^ ((product >> 64) as u64)
}

/// What a reject listing shows instead of an identifier.
pub fn masked_id() -> String {
    "(identifiant masqué)".to_owned()
}

impl Values {
    /// Mixes each row's value into that row's hash, a column at a time.
    pub fn mix_into(&self, hashes: &mut [u64]) {
        fn each<T: Copy>(values: &[T], hashes: &mut [u64], bits: impl Fn(T) -> u64) {
            for (h, &v) in hashes.iter_mut().zip(values) {
                *h = mix(*h, bits(v));
            }
        }
        // Any constant: equal hashes are always confirmed by comparing values.
        const NONE: u64 = 0x5bd1_e995_7f4a_7c15;
        match self {
            Values::Id(v) | Values::Int(v) => each(v, hashes, |x| x.map_or(NONE, |x| x as u64)),
            Values::Date(v) => each(v, hashes, |x| x.map_or(NONE, |x| x as u32 as u64)),
            Values::Float(v) => each(v, hashes, |x| x.map_or(NONE, f64::to_bits)),
            Values::Bool(v) => each(v, hashes, u64::from),
            Values::Code { codes, .. } => each(codes, hashes, |x| x.map_or(NONE, u64::from)),
            Values::Str(v) => {
                let state = foldhash::fast::FixedState::default();
                for (h, s) in hashes.iter_mut().zip(v) {
                    *h = mix(*h, s.as_deref().map_or(NONE, |s| state.hash_one(s)));
                }
            }
        }
    }

    /// Every row, as a polars column named `name`, straight into polars'
    /// buffers.
    pub fn to_column(&self, name: &str) -> PolarsResult<Column> {
        let name = PlSmallStr::from(name);
        let series = match self {
            Values::Id(v) | Values::Int(v) => {
                Int64Chunked::from_iter_options(name, v.iter().copied()).into_series()
            }
            Values::Date(v) => Int32Chunked::from_iter_options(name, v.iter().copied())
                .into_series()
                .cast(&DataType::Date)?,
            Values::Float(v) => {
                Float64Chunked::from_iter_options(name, v.iter().copied()).into_series()
            }
            Values::Bool(v) => {
                BooleanChunked::from_iter_values(name, v.iter().copied()).into_series()
            }
            Values::Str(v) => {
                StringChunked::from_iter_options(name, v.iter().map(|s| s.as_deref())).into_series()
            }
            Values::Code { codes, labels } => StringChunked::from_iter_options(
                name,
                codes.iter().map(|c| c.map(|c| labels[c as usize].as_str())),
            )
            .into_series(),
        };
        Ok(series.into_column())
    }

    /// Hands the buffer to the next batch parsed on this thread.
    pub fn recycle(self) {
        SPARE.with_borrow_mut(|spare| match self {
            Values::Id(v) | Values::Int(v) => spare.i64s.give(v),
            Values::Date(v) => spare.i32s.give(v),
            Values::Float(v) => spare.f64s.give(v),
            Values::Bool(v) => spare.bools.give(v),
            Values::Str(v) => spare.texts.give(v),
            Values::Code { codes, .. } => spare.codes.give(codes),
        });
    }
}

thread_local! {
    /// Value buffers of batches parsed on this thread, emptied, for the next
    /// ones: a buffer freed is handed back to the kernel at once (see
    /// `main.rs`) and a new one is fresh memory, which the kernel zeroes
    /// page by page (docs/PERFORMANCE.md says what that cost).
    static SPARE: RefCell<Spare> = RefCell::default();
}

/// Empty buffers by type of value.
#[derive(Default)]
pub struct Spare {
    i64s: Buffers<Option<i64>>,
    i32s: Buffers<Option<i32>>,
    f64s: Buffers<Option<f64>>,
    bools: Buffers<bool>,
    texts: Buffers<Option<String>>,
    codes: Buffers<Option<u32>>,
}

impl Spare {
    /// A buffer for `rows` values, from this thread's spare ones if it can.
    fn take<T>(rows: usize) -> Vec<T>
    where
        Spare: Pick<T>,
    {
        let mut out = SPARE.with_borrow_mut(|spare| spare.pick().0.pop().unwrap_or_default());
        out.reserve(rows);
        out
    }

    /// Frees this thread's spare buffers (once the sources are read).
    pub fn release() {
        SPARE.take();
    }
}

/// Spare buffers of one type, a few: as many as a batch has columns.
struct Buffers<T>(Vec<Vec<T>>);

impl<T> Default for Buffers<T> {
    fn default() -> Self {
        Buffers(Vec::new())
    }
}

impl<T> Buffers<T> {
    const KEPT: usize = 16;

    fn give(&mut self, mut buffer: Vec<T>) {
        if self.0.len() < Self::KEPT {
            buffer.clear();
            self.0.push(buffer);
        }
    }
}

/// The spare buffers of values of type `T`.
trait Pick<T> {
    fn pick(&mut self) -> &mut Buffers<T>;
}

macro_rules! pick {
    ($($field:ident: $t:ty),*) => {$(
        impl Pick<$t> for Spare {
            fn pick(&mut self) -> &mut Buffers<$t> {
                &mut self.$field
            }
        }
    )*};
}
pick!(i64s: Option<i64>, i32s: Option<i32>, f64s: Option<f64>, bools: bool, texts: Option<String>, codes: Option<u32>);
