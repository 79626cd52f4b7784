//! One indicator evaluated from the rows of its table at every level:
//! territory × month, territory × year, département × month, département ×
//! year, each also per breakdown value. Every level is aggregated from the
//! rows, never from another level.

use super::rows::Place;
use super::sql::{Frames, render};
use crate::error::{Error, Result};
use crate::pipeline::{Indicator, Kind, Pipeline};
use chrono::NaiveDate;
use polars::prelude::*;
use polars::sql::sql_expr;
use std::collections::{BTreeSet, HashMap};

/// One figure of one indicator at one level.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// None for the département.
    pub territory: Option<String>,
    /// 1 to 12; None for the year.
    pub month: Option<u32>,
    /// The breakdown value; None for the indicator's total.
    pub breakdown: Option<String>,
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    /// How many units (people, households, values) are behind the figure.
    pub units: f64,
}

const T: &str = "_territoire";
const M: &str = "_mois";
const V: &str = "_ventilation";

pub fn evaluate(
    indicator: &Indicator,
    pipeline: &Pipeline,
    tables: &Frames,
    territories: &DataFrame,
    all_territories: &[String],
) -> Result<Vec<Figure>> {
    let table = tables.get(&indicator.table).expect("validated table name");
    let lf = indicator_rows(indicator, pipeline, table, territories, &[])?;
    let id = indicator.id();
    let polars_error = |e: PolarsError| {
        pipeline.error_at(
            indicator.id.span(),
            format!("indicator {id}, evaluation: {e}"),
        )
    };
    evaluate_rows(indicator, tables, lf, all_territories).map_err(polars_error)
}

/// The indicator's rows of `table`: its population, in the year (a ratio
/// keeps every row, its denominator being the year's), each with its date
/// (`_date`), commune, key, measure, condition, denominator, breakdown value,
/// month and territory; `carry` are more columns kept beside them (`suivi
/// explain` keeps the row's place in its file and the values it reads).
pub(crate) fn indicator_rows(
    indicator: &Indicator,
    pipeline: &Pipeline,
    table: LazyFrame,
    territories: &DataFrame,
    carry: &[Expr],
) -> Result<LazyFrame> {
    let id = indicator.id();
    let spec_error = |what: &str, e: String| {
        pipeline.error_at(indicator.id.span(), format!("indicator {id}, {what}: {e}"))
    };
    let expr = |what: &str, sql: &str| -> Result<Expr> {
        let rendered = render(sql, pipeline).map_err(|e| spec_error(what, e))?;
        sql_expr(&rendered).map_err(|e| spec_error(what, e.to_string()))
    };

    let mut lf = table;
    if let Some(population) = &indicator.population {
        lf = lf.filter(expr("population", population)?);
    }
    let year = pipeline.year;
    let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year");
    let end = NaiveDate::from_ymd_opt(year, 12, 31).expect("valid year");
    let dated = indicator.date.is_some();
    let null_of = |dtype: DataType| lit(Null {}).cast(dtype);
    let date = match &indicator.date {
        Some(d) => expr("date", d)?.cast(DataType::Date),
        None => null_of(DataType::Date),
    };
    let commune = if indicator.by_territory() {
        col(indicator.commune.as_str()).cast(DataType::String)
    } else {
        null_of(DataType::String)
    };
    let key = match &indicator.key {
        Some(k) => col(k.as_str()),
        None => null_of(DataType::Int64),
    };
    let measure = match &indicator.measure {
        Some(m) => expr("measure", m)?.cast(DataType::Float64),
        None => null_of(DataType::Float64),
    };
    let condition = match &indicator.condition {
        Some(c) => expr("condition", c)?.fill_null(lit(false)),
        None => lit(false),
    };
    let denominator = match &indicator.denominator {
        Some(d) => expr("denominator", d)?.cast(DataType::Float64),
        None => null_of(DataType::Float64),
    };
    let breakdown = match &indicator.breakdown {
        Some(b) => expr("breakdown", b)?.cast(DataType::String),
        None => null_of(DataType::String),
    };
    let in_year = if dated {
        col("_date")
            .gt_eq(lit(start))
            .and(col("_date").lt_eq(lit(end)))
            .fill_null(lit(false))
    } else {
        lit(true)
    };
    let mut selected = vec![
        date.alias("_date"),
        commune.alias("_commune"),
        key.alias("_key"),
        measure.alias("_val"),
        condition.alias("_cond"),
        denominator.alias("_den"),
        breakdown.alias(V),
    ];
    selected.extend_from_slice(carry);
    let mut lf = lf.select(selected).with_column(in_year.alias("_in_year"));
    if indicator.kind != Kind::Ratio {
        lf = lf.filter(col("_in_year"));
    }
    let month = when(col("_in_year").and(col("_date").is_not_null()))
        .then(col("_date").dt().month().cast(DataType::Int32))
        .otherwise(null_of(DataType::Int32));
    Ok(lf.with_column(month.alias(M)).join(
        territories.clone().lazy(),
        [col("_commune")],
        [col("code_commune")],
        JoinArgs::new(JoinType::Left),
    ))
}

/// Every level's figures from [`indicator_rows`].
fn evaluate_rows(
    indicator: &Indicator,
    tables: &Frames,
    mut lf: LazyFrame,
    all_territories: &[String],
) -> PolarsResult<Vec<Figure>> {
    let null_of = |dtype: DataType| lit(Null {}).cast(dtype);

    // A unit (household, person) is placed in the territory, and for unit
    // counts the month, of its earliest row; it meets a share's condition if
    // one of its rows does.
    if indicator.key.is_some() {
        let keyed = lf
            .clone()
            .filter(col("_key").is_not_null())
            .select([
                col("_key"),
                col("_date"),
                col("_commune"),
                col(T),
                col(M),
                col(V),
                col("_cond"),
            ])
            .collect_with_engine(tables.engine(&indicator.table))
            .map(|result| result.unwrap_single())?;
        let units = first_rows(&keyed)?.lazy();
        lf = match indicator.kind {
            Kind::Distinct | Kind::Share => units.with_columns([
                lit(true).alias("_in_year"),
                null_of(DataType::Float64).alias("_val"),
                null_of(DataType::Float64).alias("_den"),
            ]),
            _ => lf
                .join(
                    units.select([col("_key"), col(T).alias("_unit_territoire")]),
                    [col("_key")],
                    [col("_key")],
                    JoinArgs::new(JoinType::Left),
                )
                .with_column(coalesce(&[col("_unit_territoire"), col(T)]).alias(T)),
        };
    }
    let rows = lf
        .select([
            col("_key"),
            col(T),
            col(M),
            col(V),
            col("_val"),
            col("_cond"),
            col("_den"),
            col("_in_year"),
        ])
        .collect_with_engine(tables.engine(&indicator.table))
        .map(|result| result.unwrap_single())?;

    level_figures(rows, indicator, all_territories)
}

/// Sums are added as integers, in millionths: exact for every value with at
/// most six decimals (money, counts, days), and the same whatever order the
/// rows come in. Float sums are neither: a derived table from the streaming
/// engine comes in an order that varies between runs, and FIN-02's total
/// was 118827.71 in one run and 118827.70999999999 in the next.
const MILLIONTHS: f64 = 1e6;

/// Adds `_val_e` and `_den_e`, the measure and the denominator in
/// millionths, when no sum of them can overflow an i64. Otherwise (values
/// beyond 4.6 thousand billion in total, half an i64 of millionths, or not
/// finite) sorts the rows by value instead, so that float sums are at least
/// the same in every run.
fn prepare_sums(mut rows: DataFrame) -> PolarsResult<(DataFrame, bool)> {
    let mut magnitude = 0.0;
    for name in ["_val", "_den"] {
        magnitude += rows
            .column(name)?
            .f64()?
            .iter()
            .flatten()
            .map(f64::abs)
            .sum::<f64>();
    }
    // A margin of half the range for the rounding of each value.
    let fits = magnitude.is_finite() && magnitude * MILLIONTHS < i64::MAX as f64 / 2.0;
    if !fits {
        let mut sorted = rows.sort(["_val", "_den"], SortMultipleOptions::default())?;
        sorted.rechunk_mut();
        return Ok((sorted, false));
    }
    for (name, exact) in [("_val", "_val_e"), ("_den", "_den_e")] {
        let millionths: Int64Chunked = rows
            .column(name)?
            .f64()?
            .apply_nonnull_values_generic(DataType::Int64, |x| (x * MILLIONTHS).round() as i64);
        rows.with_column(millionths.with_name(exact.into()).into_column())?;
    }
    Ok((rows, true))
}

/// Every level's figures from the indicator's rows (`_key`, territory,
/// month, breakdown, `_val`, `_cond`, `_den`, `_in_year`).
fn level_figures(
    rows: DataFrame,
    indicator: &Indicator,
    all_territories: &[String],
) -> PolarsResult<Vec<Figure>> {
    let (rows, exact) = match indicator.kind {
        Kind::Sum | Kind::Mean | Kind::Ratio => prepare_sums(rows)?,
        _ => (rows, false),
    };
    let mut figures: HashMap<Place, Figure> = HashMap::new();
    let territory_levels: &[bool] = if indicator.by_territory() {
        &[true, false]
    } else {
        &[false]
    };
    let month_levels: &[bool] = if indicator.date.is_some() {
        &[true, false]
    } else {
        &[false]
    };
    let breakdown_levels: &[bool] = if indicator.breakdown.is_some() {
        &[true, false]
    } else {
        &[false]
    };
    let mut levels = Vec::new();
    for &by_t in territory_levels {
        for &by_m in month_levels {
            for &by_v in breakdown_levels {
                levels.push((by_t, by_m, by_v));
            }
        }
    }
    // One query for every level: a query has a fixed cost that, on small
    // tables, outweighs the work. In memory: `rows` is small by now.
    let plans = levels
        .iter()
        .map(|&(by_t, by_m, by_v)| {
            Ok(aggregate(&rows, indicator, exact, by_t, by_m, by_v)?.logical_plan)
        })
        .collect::<PolarsResult<_>>()?;
    let frames = LazyFrame::collect_all_with_engine(plans, Engine::Auto, OptFlags::default())?;
    for (&(by_t, by_m, by_v), frame) in levels.iter().zip(&frames) {
        for mut figure in read_figures(frame, by_t, by_m, by_v)? {
            in_units(
                &mut figure,
                indicator.kind,
                if exact { MILLIONTHS } else { 1.0 },
            );
            figures.insert(
                (
                    figure.territory.clone(),
                    figure.month,
                    figure.breakdown.clone(),
                ),
                figure,
            );
        }
    }
    Ok(complete(indicator, figures, all_territories))
}

/// A figure's sums from `scale`ths to units, and a mean's or share's value
/// from its numerator and denominator.
fn in_units(figure: &mut Figure, kind: Kind, scale: f64) {
    let scaled = |v: Option<f64>| v.map(|v| v / scale);
    let quotient = |figure: &Figure| match (figure.numerator, figure.denominator) {
        (Some(num), Some(den)) if den > 0.0 => Some(num / den),
        _ => None,
    };
    match kind {
        Kind::Sum => figure.value = scaled(figure.value),
        Kind::Mean => {
            figure.numerator = scaled(figure.numerator);
            figure.value = quotient(figure);
        }
        Kind::Share => figure.value = quotient(figure),
        Kind::Ratio => {
            figure.numerator = scaled(figure.numerator);
            figure.denominator = scaled(figure.denominator);
        }
        Kind::Count | Kind::Distinct | Kind::Median => {}
    }
}

/// Each unit's first row (earliest date, then smallest commune code, then
/// first in the table; missing dates and communes last) with its key,
/// territory, month and breakdown value, and whether any of its rows meets
/// the condition (`_cond`). One pass over each unit's rows, where sorting
/// every row by the three keys (row-encoded) costs a sort of the whole
/// table for what is a minimum per unit.
fn first_rows(keyed: &DataFrame) -> PolarsResult<DataFrame> {
    let dates: Vec<Option<i32>> = keyed.column("_date")?.date()?.physical().iter().collect();
    let communes: Vec<Option<&str>> = keyed.column("_commune")?.str()?.iter().collect();
    let conditions: Vec<bool> = keyed
        .column("_cond")?
        .bool()?
        .iter()
        .map(|c| c.unwrap_or(false))
        .collect();
    // Nulls last, then the table's order among ties.
    let order = |row: IdxSize| {
        let row = row as usize;
        (
            dates[row].is_none(),
            dates[row],
            communes[row].is_none(),
            communes[row],
            row,
        )
    };
    let mut units = Units::default();
    let key = keyed.column("_key")?;
    match key.dtype() {
        // Identifiers (pseudonyms): one pass with a map from key to unit,
        // where polars' groups hold a vector of rows per unit (millions of
        // small vectors at national scale).
        DataType::Int64 if key.null_count() == 0 => {
            let mut unit_of: hashbrown::HashMap<i64, usize> = hashbrown::HashMap::new();
            for (row, key) in key.i64()?.iter().enumerate() {
                let row = row as IdxSize;
                let next = units.first.len();
                let unit = *unit_of.entry(key.unwrap_or_default()).or_insert(next);
                units.consider(unit, row, order, &conditions);
            }
        }
        _ => {
            let grouped = keyed.group_by(["_key"])?;
            for (unit, group) in grouped.get_groups().iter().enumerate() {
                let mut consider = |row| units.consider(unit, row, order, &conditions);
                match group {
                    GroupsIndicator::Idx((_, rows)) => rows.iter().copied().for_each(&mut consider),
                    GroupsIndicator::Slice([start, len]) => (start..start + len).for_each(consider),
                }
            }
        }
    }
    let mut table = keyed
        .select(["_key", T, M, V])?
        .take(&IdxCa::from_vec("first".into(), units.first))?;
    table.with_column(Column::new("_cond".into(), units.any))?;
    Ok(table)
}

/// Each unit's first row so far, and whether any of its rows meets the condition.
#[derive(Default)]
struct Units {
    first: Vec<IdxSize>,
    any: Vec<bool>,
}

impl Units {
    /// Takes `row` into `unit` (the next unit, or one already seen).
    fn consider<O: Ord>(
        &mut self,
        unit: usize,
        row: IdxSize,
        order: impl Fn(IdxSize) -> O,
        conditions: &[bool],
    ) {
        let met = conditions[row as usize];
        if unit == self.first.len() {
            self.first.push(row);
            self.any.push(met);
        } else {
            self.any[unit] |= met;
            if order(row) < order(self.first[unit]) {
                self.first[unit] = row;
            }
        }
    }
}

/// The query of one level's figures: rows grouped by the chosen keys.
fn aggregate(
    rows: &DataFrame,
    indicator: &Indicator,
    exact: bool,
    by_t: bool,
    by_m: bool,
    by_v: bool,
) -> PolarsResult<LazyFrame> {
    let mut lf = rows.clone().lazy();
    // A ratio's total compares what was done on the items that were planned
    // with what was planned: a payment on an action the funder agreed
    // nothing to is shown on its own line, never in the rate (FIN-01). The
    // planned amounts are undated: weighed before months are kept.
    if indicator.kind == Kind::Ratio && indicator.breakdown.is_some() && !by_v {
        let mut planned_per = vec![col(V)];
        if by_t {
            planned_per.push(col(T));
        }
        lf = lf.filter(col("_den").sum().over(planned_per)?.gt(lit(0.0)));
    }
    let mut keys = Vec::new();
    if by_t {
        lf = lf.filter(col(T).is_not_null());
        keys.push(col(T));
    }
    if by_m {
        lf = lf.filter(col(M).is_not_null());
        keys.push(col(M));
    }
    if by_v {
        keys.push(col(V).fill_null(lit("non renseigné")));
    }
    // Each aggregation appears once: polars 0.55's common-subexpression
    // elimination fails on a select repeating `len()` ("height of column
    // __POLARS_CSER... does not match"). Derived columns come after.
    let f = |e: Expr| e.cast(DataType::Float64);
    // The sum of a column (`_val`, `_den`), in millionths when exact:
    // `in_units` divides. Not polars, which divides a column by a number as
    // a product by its inverse (42546190000 * 1e-6 = 42546.189999999995).
    let sum = |name: &str, year_only: bool| {
        let (values, zero) = if exact {
            (col(format!("{name}_e")), lit(0i64))
        } else {
            (col(name), lit(0.0))
        };
        let values = if year_only {
            when(col("_in_year")).then(values).otherwise(zero)
        } else {
            values
        };
        f(values.sum())
    };
    let aggs = match indicator.kind {
        Kind::Count | Kind::Distinct => vec![f(len()).alias("value")],
        Kind::Sum if indicator.key.is_some() => vec![
            sum("_val", false).alias("value"),
            f(col("_key").drop_nulls().n_unique()).alias("units"),
        ],
        Kind::Sum => vec![sum("_val", false).alias("value"), f(len()).alias("units")],
        Kind::Mean => vec![
            sum("_val", false).alias("num"),
            f(col("_val").count()).alias("den"),
        ],
        Kind::Median => vec![
            col("_val").median().alias("value"),
            f(col("_val").count()).alias("den"),
        ],
        Kind::Share => vec![f(col("_cond")).sum().alias("num"), f(len()).alias("den")],
        // The denominator is the year's, whatever the month: see `complete`.
        Kind::Ratio => vec![
            sum("_val", true).alias("num"),
            sum("_den", false).alias("den"),
            f(len()).alias("units"),
        ],
    };
    let lf = if keys.is_empty() {
        lf.select(aggs)
    } else {
        lf.group_by(keys).agg(aggs)
    };
    let null_f = || lit(Null {}).cast(DataType::Float64);
    let derived = match indicator.kind {
        Kind::Count | Kind::Distinct => vec![
            null_f().alias("num"),
            null_f().alias("den"),
            col("value").alias("units"),
        ],
        Kind::Sum => vec![null_f().alias("num"), null_f().alias("den")],
        Kind::Mean => vec![null_f().alias("value"), col("den").alias("units")],
        Kind::Median => vec![null_f().alias("num"), col("den").alias("units")],
        Kind::Share => vec![null_f().alias("value"), col("den").alias("units")],
        Kind::Ratio => vec![null_f().alias("value")],
    };
    Ok(lf.with_columns(derived))
}

fn read_figures(
    frame: &DataFrame,
    by_t: bool,
    by_m: bool,
    by_v: bool,
) -> PolarsResult<Vec<Figure>> {
    let f64s = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
        Ok(frame
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let strings = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(frame
            .column(name)?
            .str()?
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect())
    };
    let (value, num, den, units) = (f64s("value")?, f64s("num")?, f64s("den")?, f64s("units")?);
    let territory = if by_t {
        strings(T)?
    } else {
        vec![None; frame.height()]
    };
    let breakdown = if by_v {
        strings(V)?
    } else {
        vec![None; frame.height()]
    };
    let month: Vec<Option<u32>> = if by_m {
        frame
            .column(M)?
            .i32()?
            .iter()
            .map(|m| m.map(|m| m as u32))
            .collect()
    } else {
        vec![None; frame.height()]
    };
    Ok((0..frame.height())
        .map(|i| Figure {
            territory: territory[i].clone(),
            month: month[i],
            breakdown: breakdown[i].clone(),
            // 0/0 can come out as NaN on an empty frame, whatever `when` says.
            value: value[i].filter(|v| v.is_finite()),
            numerator: num[i],
            denominator: den[i],
            units: units[i].unwrap_or(0.0),
        })
        .collect())
}

/// Every territory, month and breakdown value gets a figure, computed or
/// empty (0 for counts and sums; no value for shares, means and medians).
fn complete(
    indicator: &Indicator,
    mut figures: HashMap<Place, Figure>,
    all_territories: &[String],
) -> Vec<Figure> {
    let mut territories: Vec<Option<String>> = vec![None];
    if indicator.by_territory() {
        territories.extend(all_territories.iter().cloned().map(Some));
    }
    let mut months: Vec<Option<u32>> = vec![None];
    if indicator.date.is_some() {
        months.extend((1..=12).map(Some));
    }
    let mut breakdowns: Vec<Option<String>> = vec![None];
    if indicator.breakdown.is_some() {
        let seen: BTreeSet<String> = figures.keys().filter_map(|(_, _, b)| b.clone()).collect();
        breakdowns.extend(seen.into_iter().map(Some));
    }
    let mut out = Vec::with_capacity(territories.len() * months.len() * breakdowns.len());
    for territory in &territories {
        for breakdown in &breakdowns {
            // A ratio's denominator is the year's agreed amount, in every month.
            let year_denominator = figures
                .get(&(territory.clone(), None, breakdown.clone()))
                .and_then(|f| f.denominator);
            for &month in &months {
                let level = (territory.clone(), month, breakdown.clone());
                let mut figure = figures
                    .remove(&level)
                    .unwrap_or_else(|| empty_figure(indicator.kind, &level));
                if indicator.kind == Kind::Ratio {
                    let numerator = figure.numerator.unwrap_or(0.0);
                    let denominator = year_denominator.unwrap_or(0.0);
                    figure.numerator = Some(numerator);
                    figure.denominator = Some(denominator);
                    figure.value = (denominator != 0.0).then(|| numerator / denominator);
                }
                out.push(figure);
            }
        }
    }
    out
}

fn empty_figure(kind: Kind, (territory, month, breakdown): &Place) -> Figure {
    let zero = matches!(kind, Kind::Count | Kind::Distinct | Kind::Sum).then_some(0.0);
    let counts = matches!(kind, Kind::Share | Kind::Mean | Kind::Median).then_some(0.0);
    Figure {
        territory: territory.clone(),
        month: *month,
        breakdown: breakdown.clone(),
        value: zero,
        numerator: if kind == Kind::Share { counts } else { None },
        denominator: counts,
        units: 0.0,
    }
}

/// The territory reference as a table for joins.
pub fn territory_table(reference: &crate::reference::Reference) -> Result<DataFrame> {
    let (codes, names): (Vec<&str>, Vec<&str>) = reference.communes().into_iter().unzip();
    df!("code_commune" => codes, T => names)
        .map_err(|e| Error::polars("building the territory table", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(kind: &str, extra: &str) -> Indicator {
        toml::from_str(&format!(
            "id = \"T-01\"\naction = \"a\"\nlabel = \"l\"\ntable = \"t\"\n\
             kind = \"{kind}\"\nmeasure = \"v\"\ndefinition = \"d\"\n{extra}"
        ))
        .unwrap()
    }

    /// The rows `level_figures` reads, one per amount, all in territory
    /// "A", month 3 and the year.
    fn amount_rows(values: &[f64], denominators: Option<&[f64]>) -> DataFrame {
        let n = values.len();
        let denominators: Vec<Option<f64>> = match denominators {
            Some(d) => d.iter().copied().map(Some).collect(),
            None => vec![None; n],
        };
        df!(
            "_key" => vec![None::<i64>; n],
            T => vec!["A"; n],
            M => vec![3i32; n],
            V => vec![None::<&str>; n],
            "_val" => values,
            "_cond" => vec![false; n],
            "_den" => denominators,
            "_in_year" => vec![true; n],
        )
        .unwrap()
    }

    fn year_total(figures: &[Figure]) -> &Figure {
        figures
            .iter()
            .find(|f| f.territory.is_none() && f.month.is_none() && f.breakdown.is_none())
            .unwrap()
    }

    /// Amounts in cents, and the same amounts in the reverse order.
    fn cents_both_ways() -> (Vec<i64>, Vec<f64>, Vec<f64>) {
        // 0.1 + 0.2 + 0.3 is 0.6000000000000001 in floats, in this order.
        let mut cents = vec![10i64, 20, 30];
        cents.extend((1..=500).map(|i| (i * 7_919) % 100_003));
        let forward: Vec<f64> = cents.iter().map(|&c| c as f64 / 100.0).collect();
        let backward: Vec<f64> = forward.iter().rev().copied().collect();
        (cents, forward, backward)
    }

    #[test]
    fn sums_are_exact_in_cents_and_the_same_in_any_row_order() {
        let (cents, forward, backward) = cents_both_ways();
        let want = cents.iter().sum::<i64>() as f64 / 100.0;
        let float_sum: f64 = forward.iter().sum();
        assert_ne!(float_sum, want, "the case must trip float sums");
        let sum = indicator("sum", "");
        let territories = ["A".to_owned()];
        let one = level_figures(amount_rows(&forward, None), &sum, &territories).unwrap();
        let other = level_figures(amount_rows(&backward, None), &sum, &territories).unwrap();
        assert_eq!(year_total(&one).value, Some(want));
        assert_eq!(one, other);
        // 42546190000 millionths times 1e-6 is 42546.189999999995.
        let single = level_figures(amount_rows(&[42546.19], None), &sum, &territories).unwrap();
        assert_eq!(year_total(&single).value, Some(42546.19));

        // A mean is the exact sum over the count.
        let mean = indicator("mean", "");
        let figures = level_figures(amount_rows(&forward, None), &mean, &territories).unwrap();
        let total = year_total(&figures);
        assert_eq!(total.numerator, Some(want));
        assert_eq!(total.value, Some(want / cents.len() as f64));
    }

    #[test]
    fn a_ratio_adds_payments_and_agreed_amounts_exactly() {
        let (cents, forward, backward) = cents_both_ways();
        let agreed_cents: Vec<i64> = cents.iter().map(|c| c * 3 + 1).collect();
        let agreed: Vec<f64> = agreed_cents.iter().map(|&c| c as f64 / 100.0).collect();
        let agreed_backward: Vec<f64> = agreed.iter().rev().copied().collect();
        let ratio = indicator("ratio", "denominator = \"d\"");
        let territories = ["A".to_owned()];
        let one =
            level_figures(amount_rows(&forward, Some(&agreed)), &ratio, &territories).unwrap();
        let other = level_figures(
            amount_rows(&backward, Some(&agreed_backward)),
            &ratio,
            &territories,
        )
        .unwrap();
        let (paid, due) = (
            cents.iter().sum::<i64>() as f64 / 100.0,
            agreed_cents.iter().sum::<i64>() as f64 / 100.0,
        );
        let total = year_total(&one);
        assert_eq!(total.numerator, Some(paid));
        assert_eq!(total.denominator, Some(due));
        assert_eq!(total.value, Some(paid / due));
        assert_eq!(one, other);
    }

    #[test]
    fn a_ratio_total_leaves_out_payments_on_actions_nothing_was_agreed_to() {
        // Action "a": 100.00 agreed, 70.00 paid; action "b": nothing agreed,
        // 30.00 paid. The total is 70 / 100, and "b" keeps its own line.
        let ratio = indicator(
            "ratio",
            "denominator = \"d\"\nbreakdown = \"b\"\ncommune = \"\"\ndate = \"dt\"",
        );
        let rows = df!(
            "_key" => [None::<i64>; 4],
            T => [None::<&str>; 4],
            M => [Some(3i32), Some(4), None, Some(5)],
            V => ["a", "a", "a", "b"],
            "_val" => [40.0, 30.0, 0.0, 30.0],
            "_cond" => [false; 4],
            "_den" => [0.0, 0.0, 100.0, 0.0],
            "_in_year" => [true, true, false, true],
        )
        .unwrap();
        let figures = level_figures(rows, &ratio, &[]).unwrap();
        let find = |month: Option<u32>, action: Option<&str>| {
            figures
                .iter()
                .find(|f| f.month == month && f.breakdown.as_deref() == action)
                .unwrap()
        };
        let total = find(None, None);
        assert_eq!(total.numerator, Some(70.0));
        assert_eq!(total.denominator, Some(100.0));
        assert_eq!(total.value, Some(0.7));
        let outside = find(None, Some("b"));
        assert_eq!(outside.numerator, Some(30.0));
        assert_eq!(outside.value, None);
        assert_eq!(find(Some(5), None).numerator, Some(0.0));
        assert_eq!(find(Some(3), None).numerator, Some(40.0));
    }

    #[test]
    fn sums_too_large_for_millionths_are_still_the_same_in_any_row_order() {
        // In floats, 1e16 + 1 + 1 is 1e16 (each 1 is lost) and 1 + 1 + 1e16
        // is 1e16 + 2: too large for millionths, the rows are added smallest
        // first, in whatever order they come.
        let sum = indicator("sum", "");
        let territories = ["A".to_owned()];
        let one = level_figures(amount_rows(&[1e16, 1.0, 1.0], None), &sum, &territories).unwrap();
        let other =
            level_figures(amount_rows(&[1.0, 1.0, 1e16], None), &sum, &territories).unwrap();
        assert_eq!(year_total(&one).value, Some(1e16 + 2.0));
        assert_eq!(one, other);
    }

    #[test]
    fn a_unit_takes_its_earliest_row_nulls_last_then_the_first_among_ties() {
        // Integer keys take a path of their own: both give the same units.
        for key_type in [DataType::Int64, DataType::String] {
            units_of_each_key(key_type);
        }
    }

    fn units_of_each_key(key_type: DataType) {
        let d = |day: i32| Some(day);
        let keyed = df!(
            "_key" => [1i64, 1, 1, 2, 2, 2, 3, 3, 4, 4],
            // Days since 1970: 1 has 18300 twice and 18290 once; 2 has its
            // 18300 on two communes; 3 has no dates; 4 one row per commune.
            "_date" => [d(18300), d(18290), d(18300), d(18300), d(18300), None, None, None, None, d(18400)],
            "_commune" => [Some("42218"), Some("42005"), Some("42001"), Some("42330"), Some("42001"), Some("42000"), None, Some("42100"), Some("42001"), None],
            T => ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"],
            M => [Some(1i32), Some(2), Some(3), Some(4), Some(5), None, None, None, None, Some(6)],
            V => ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10"],
            "_cond" => [false, false, true, false, false, false, false, false, false, false],
        )
        .unwrap()
        .lazy()
        .with_columns([
            col("_date").cast(DataType::Date),
            col("_key").cast(key_type.clone()),
        ])
        .collect()
        .unwrap();
        let units = first_rows(&keyed)
            .unwrap()
            .sort(["_key"], SortMultipleOptions::default())
            .unwrap();
        let strings = |name: &str| -> Vec<String> {
            units
                .column(name)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|s| s.unwrap().to_owned())
                .collect()
        };
        // 1: the earliest date wins whatever the commune; 2: the smaller
        // commune code among equal dates; 3: a commune before none when no
        // row has a date; 4: a date before none, even without a commune.
        assert_eq!(strings(T), ["B", "E", "H", "J"]);
        assert_eq!(strings(V), ["v2", "v5", "v8", "v10"]);
        let conditions: Vec<Option<bool>> = units
            .column("_cond")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(
            conditions,
            [Some(true), Some(false), Some(false), Some(false)]
        );

        // Identical date and commune: the first row in the table.
        let ties = df!(
            "_key" => [7i64, 7, 7],
            "_date" => [Some(18300), Some(18300), Some(18300)],
            "_commune" => ["42218", "42218", "42218"],
            T => ["A", "A", "A"],
            M => [1i32, 1, 1],
            V => ["second", "first", "third"],
            "_cond" => [false, false, false],
        )
        .unwrap()
        .lazy()
        .with_columns([
            col("_date").cast(DataType::Date),
            col("_key").cast(key_type.clone()),
        ])
        .collect()
        .unwrap();
        let units = first_rows(&ties).unwrap();
        let breakdown = units
            .column(V)
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .map(str::to_owned);
        assert_eq!(breakdown.as_deref(), Some("second"));
    }
}
