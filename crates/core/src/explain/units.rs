//! The units behind one cell and what each contributes. The rules are the
//! catalogue's (docs/DOMAIN.md), written here over plain rows so that the
//! listing can be checked against the engine's own figure: a keyed unit
//! is placed by its earliest row (date, then commune, then table order)
//! and meets a share's condition if one of its rows does.

use crate::error::{Error, Result};
use crate::indicators::rows::{Place, Row};
use crate::pipeline::{Indicator, Kind};
use polars::prelude::*;
use std::collections::HashMap;

/// The column numbering the rows of the indicator's table, from 0.
pub const RANK: &str = "_rang";

/// What a breakdown level calls a row without a value.
const NO_VALUE: &str = "non renseigné";

/// One row of the indicator's table behind the cell, and its contribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Its index among the selected rows.
    pub index: usize,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
}

/// A unit (a keyed household or person) or an event (a row), its placing
/// row first.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub parts: Vec<Part>,
}

/// The selected rows' fields the rules read.
struct Fields {
    date: Vec<Option<i32>>,
    commune: Vec<Option<String>>,
    key: Vec<Option<String>>,
    val: Vec<Option<f64>>,
    cond: Vec<bool>,
    den: Vec<Option<f64>>,
    breakdown: Vec<Option<String>>,
    in_year: Vec<bool>,
    month: Vec<Option<i32>>,
    territory: Vec<Option<String>>,
    rank: Vec<u32>,
}

pub(super) fn strings(frame: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(frame
        .column(name)?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect())
}

fn floats(frame: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(frame
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .collect())
}

impl Fields {
    fn read(frame: &DataFrame) -> PolarsResult<Fields> {
        let bools = |name: &str| -> PolarsResult<Vec<bool>> {
            Ok(frame
                .column(name)?
                .bool()?
                .iter()
                .map(|b| b.unwrap_or(false))
                .collect())
        };
        Ok(Fields {
            date: frame.column("_date")?.date()?.physical().iter().collect(),
            commune: strings(frame, "_commune")?,
            key: strings(frame, "_key")?,
            val: floats(frame, "_val")?,
            cond: bools("_cond")?,
            den: floats(frame, "_den")?,
            breakdown: strings(frame, "_ventilation")?,
            in_year: bools("_in_year")?,
            month: frame
                .column("_mois")?
                .cast(&DataType::Int32)?
                .i32()?
                .iter()
                .collect(),
            territory: strings(frame, "_territoire")?,
            rank: frame
                .column(RANK)?
                .cast(&DataType::UInt32)?
                .u32()?
                .iter()
                .map(|r| r.unwrap_or(0))
                .collect(),
        })
    }

    /// A row's order within its unit: earliest date, then smallest
    /// commune (missing ones last), then first in the table.
    fn order(&self, i: usize) -> impl Ord + '_ {
        (
            self.date[i].is_none(),
            self.date[i],
            self.commune[i].is_none(),
            self.commune[i].as_deref(),
            self.rank[i],
        )
    }
}

/// The units of `selected` (the indicator's rows) behind the cell at `place`.
pub fn units(
    indicator: &Indicator,
    selected: &DataFrame,
    place: &Place,
) -> PolarsResult<Vec<Unit>> {
    let f = Fields::read(selected)?;
    let n = f.rank.len();
    // Each keyed row's unit, and each unit's rows in order.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    if indicator.key.is_some() {
        let mut unit_of: HashMap<&str, usize> = HashMap::new();
        for i in 0..n {
            if let Some(key) = f.key[i].as_deref() {
                let next = groups.len();
                let unit = *unit_of.entry(key).or_insert(next);
                if unit == next {
                    groups.push(Vec::new());
                }
                groups[unit].push(i);
            }
        }
        for rows in &mut groups {
            rows.sort_by(|&a, &b| f.order(a).cmp(&f.order(b)));
        }
    }
    let territory_ok = |t: &Option<String>| place.0.is_none() || *t == place.0;
    let month_ok = |m: Option<i32>| place.1.is_none_or(|want| m == Some(want as i32));
    let breakdown_ok = |v: &Option<String>| match &place.2 {
        None => true,
        Some(want) => v.as_deref().unwrap_or(NO_VALUE) == want,
    };
    let mut units = Vec::new();
    match (indicator.kind, indicator.key.is_some()) {
        // A unit counted once, where its first row places it.
        (Kind::Distinct | Kind::Share, true) => {
            for rows in groups {
                let first = rows[0];
                let placed = territory_ok(&f.territory[first])
                    && month_ok(f.month[first])
                    && breakdown_ok(&f.breakdown[first]);
                if !placed {
                    continue;
                }
                let met = rows.iter().any(|&i| f.cond[i]);
                let (numerator, denominator) = match indicator.kind {
                    Kind::Distinct => (Some(1.0), None),
                    _ => (met.then_some(1.0), Some(1.0)),
                };
                let mut parts: Vec<Part> = rows
                    .iter()
                    .map(|&index| Part {
                        index,
                        numerator: None,
                        denominator: None,
                        value: None,
                    })
                    .collect();
                parts[0].numerator = numerator;
                parts[0].denominator = denominator;
                units.push(Unit { parts });
            }
        }
        // Every row counts by itself; a keyed row takes its unit's territory.
        (kind, keyed) => {
            let mut unit_territory: Vec<Option<String>> = f.territory.clone();
            if keyed {
                for rows in &groups {
                    let placed = f.territory[rows[0]].clone();
                    for &i in rows {
                        unit_territory[i] = placed.clone().or(f.territory[i].clone());
                    }
                }
            }
            // A ratio's total counts only the breakdown values something
            // was planned for, within the cell's territory (as
            // `eval::aggregate` does): a payment outside the convention
            // has its own line, never the total's.
            let planned_per = |i: usize| {
                let territory = place.0.as_ref().and(f.territory[i].as_deref());
                (f.breakdown[i].as_deref(), territory)
            };
            let mut planned: HashMap<(Option<&str>, Option<&str>), f64> = HashMap::new();
            if kind == Kind::Ratio && indicator.breakdown.is_some() && place.2.is_none() {
                for i in 0..n {
                    *planned.entry(planned_per(i)).or_default() += f.den[i].unwrap_or(0.0);
                }
            }
            let part = |i: usize| -> Option<Part> {
                if !territory_ok(&unit_territory[i]) || !breakdown_ok(&f.breakdown[i]) {
                    return None;
                }
                if !planned.is_empty() && planned.get(&planned_per(i)).is_none_or(|d| *d <= 0.0) {
                    return None;
                }
                let in_cell = month_ok(f.month[i]);
                let (numerator, denominator, value) = match kind {
                    Kind::Count | Kind::Distinct => (Some(1.0), None, None),
                    Kind::Sum => (f.val[i], None, None),
                    Kind::Mean | Kind::Median => match f.val[i] {
                        Some(v) => ((kind == Kind::Mean).then_some(v), Some(1.0), Some(v)),
                        None => (None, None, None),
                    },
                    Kind::Share => (f.cond[i].then_some(1.0), Some(1.0), None),
                    // The numerator is the year's (or the month's) rows;
                    // the denominator the year's, whatever the month.
                    Kind::Ratio => {
                        let num = (f.in_year[i] && in_cell).then_some(f.val[i]).flatten();
                        let num = num.filter(|v| *v != 0.0);
                        let den = f.den[i].filter(|v| *v != 0.0);
                        if num.is_none() && den.is_none() {
                            return None;
                        }
                        (num, den, None)
                    }
                };
                if kind != Kind::Ratio && !in_cell {
                    return None;
                }
                Some(Part {
                    index: i,
                    numerator,
                    denominator,
                    value,
                })
            };
            if keyed {
                let mut lone = Vec::new();
                for i in (0..n).filter(|&i| f.key[i].is_none()) {
                    lone.push(vec![i]);
                }
                for rows in groups.into_iter().chain(lone) {
                    let parts: Vec<Part> = rows.into_iter().filter_map(part).collect();
                    if !parts.is_empty() {
                        units.push(Unit { parts });
                    }
                }
            } else {
                units.extend((0..n).filter_map(part).map(|p| Unit { parts: vec![p] }));
            }
        }
    }
    units.sort_by_key(|u| f.rank[u.parts[0].index]);
    Ok(units)
}

/// The listing checks itself: its contributions add up to the published
/// numerator and denominator (or value), its values give the published
/// mean or median. Otherwise the listing is wrong, a bug: exit 1.
pub fn check(indicator: &Indicator, units: &[Unit], row: &Row) -> Result<()> {
    let parts = || units.iter().flat_map(|u| &u.parts);
    let numerator: f64 = parts().filter_map(|p| p.numerator).sum();
    let denominator: f64 = parts().filter_map(|p| p.denominator).sum();
    let mut values: Vec<f64> = parts().filter_map(|p| p.value).collect();
    let close = |listed: f64, published: Option<f64>| {
        let published = published.unwrap_or(0.0);
        (listed - published).abs() <= 1e-6 * published.abs().max(1.0)
    };
    let same = |listed: Option<f64>, published: Option<f64>| match (listed, published) {
        (Some(l), Some(p)) => close(l, Some(p)),
        (l, p) => l.is_none() && p.is_none(),
    };
    let mut wrong = Vec::new();
    let mut expect = |what: &str, ok: bool, listed: String, published: Option<f64>| {
        if !ok {
            wrong.push(format!("{what} {listed} listed, {published:?} published"));
        }
    };
    match indicator.kind {
        Kind::Count | Kind::Distinct | Kind::Sum => expect(
            "value",
            close(numerator, row.value),
            numerator.to_string(),
            row.value,
        ),
        Kind::Share | Kind::Ratio => {
            expect(
                "numerator",
                close(numerator, row.numerator),
                numerator.to_string(),
                row.numerator,
            );
            expect(
                "denominator",
                close(denominator, row.denominator),
                denominator.to_string(),
                row.denominator,
            );
        }
        Kind::Mean => {
            expect(
                "numerator",
                close(numerator, row.numerator),
                numerator.to_string(),
                row.numerator,
            );
            expect(
                "denominator",
                close(denominator, row.denominator),
                denominator.to_string(),
                row.denominator,
            );
            let mean =
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
            expect(
                "mean",
                same(mean, row.value),
                format!("{mean:?}"),
                row.value,
            );
        }
        Kind::Median => {
            expect(
                "denominator",
                close(denominator, row.denominator),
                denominator.to_string(),
                row.denominator,
            );
            let median = median(&mut values);
            expect(
                "median",
                same(median, row.value),
                format!("{median:?}"),
                row.value,
            );
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Error::Explain(format!(
            "the listing of {} does not give its published figure ({}): this is a bug, please \
             report it",
            indicator.id(),
            wrong.join("; ")
        )))
    }
}

/// The midpoint of the two middle values for an even count.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_median_of_an_even_count_is_the_midpoint() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 10.0]), Some(3.5));
        assert_eq!(median(&mut [7.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&mut []), None);
    }
}
