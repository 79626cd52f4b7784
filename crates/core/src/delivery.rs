//! Each delivery dated: the first and last month a time-placed source
//! covers, and whether it stops earlier than the run's date lets one
//! expect (a partner who stopped sending). The months come from the data
//! alone and may go into the workbooks; the expectation depends on the
//! run's date, so it goes to the terminal, the log and the manifest only,
//! keeping the workbooks byte-identical for identical inputs.

use crate::pipeline::Pipeline;
use chrono::{Datelike, NaiveDate};
use polars::prelude::{DataFrame, DataType};

/// The months one source's delivery covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub source: String,
    /// The source's French label (its name when it has none).
    pub label: String,
    /// The column placing its rows in time.
    pub column: String,
    /// First day of the first and of the last month with a dated row; None
    /// when no accepted row has a date there.
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    pub max_lag_months: u32,
}

/// The months of every time-placed source, in source order. `frames` are
/// the sources as read, before unused columns are dropped.
pub fn deliveries<'a>(
    pipeline: &Pipeline,
    frames: impl IntoIterator<Item = (&'a str, &'a DataFrame)>,
) -> Vec<Delivery> {
    let mut found: Vec<Delivery> = frames
        .into_iter()
        .filter_map(|(name, frame)| {
            let source = pipeline.sources.get(name)?;
            let column = pipeline.dated_by(source)?;
            let (first, last) = span(frame, column);
            Some(Delivery {
                source: name.to_owned(),
                label: source.label.clone().unwrap_or_else(|| name.to_owned()),
                column: column.to_owned(),
                first: first.map(month_of),
                last: last.map(month_of),
                max_lag_months: source.max_lag_months,
            })
        })
        .collect();
    found.sort_by(|a, b| a.source.cmp(&b.source));
    found
}

/// The earliest and latest date of a date column (months are stored as
/// their first day).
fn span(frame: &DataFrame, column: &str) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let Ok(column) = frame.column(column) else {
        return (None, None);
    };
    if column.dtype() != &DataType::Date {
        return (None, None);
    }
    let Ok(dates) = column.as_materialized_series().date() else {
        return (None, None);
    };
    let (mut first, mut last) = (None::<i32>, None::<i32>);
    for day in dates.physical().iter().flatten() {
        first = Some(first.map_or(day, |f| f.min(day)));
        last = Some(last.map_or(day, |l| l.max(day)));
    }
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let date = |d: Option<i32>| {
        d.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(i64::from(d))))
    };
    (date(first), date(last))
}

fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).expect("every month has a first day")
}

/// A delivery that stops earlier than expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Late {
    pub source: String,
    pub label: String,
    /// Its last month (None: no dated row at all).
    pub last: Option<NaiveDate>,
    /// The month it should reach at least.
    pub expected: NaiveDate,
}

impl Late {
    /// "caf_rsa (CAF - foyers RSA) stops at 09/2020, expected through 12/2020".
    pub fn message(&self) -> String {
        let last = match self.last {
            Some(last) => format!("stops at {}", month_text(last)),
            None => "has no dated row".to_owned(),
        };
        format!(
            "{} ({}) {last}, expected through {}",
            self.source,
            self.label,
            month_text(self.expected)
        )
    }
}

/// `09/2020`.
pub fn month_text(month: NaiveDate) -> String {
    month.format("%m/%Y").to_string()
}

impl Delivery {
    /// The last month this delivery should reach for a run of `year` on
    /// `as_of`: December for a past year; during the year, the run's month
    /// less `max_lag_months`; nothing for a year not begun, or when the lag
    /// reaches back before the year.
    pub fn expected(&self, year: i32, as_of: NaiveDate) -> Option<NaiveDate> {
        if year < as_of.year() {
            return NaiveDate::from_ymd_opt(year, 12, 1);
        }
        if year > as_of.year() {
            return None;
        }
        let months = as_of.year() * 12 + as_of.month0() as i32 - self.max_lag_months as i32;
        let expected =
            NaiveDate::from_ymd_opt(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1)?;
        (expected.year() == year).then_some(expected)
    }

    /// Whether it stops before what [`Delivery::expected`] says.
    pub fn late(&self, year: i32, as_of: NaiveDate) -> Option<Late> {
        let expected = self.expected(year, as_of)?;
        if self.last.is_some_and(|last| last >= expected) {
            return None;
        }
        Some(Late {
            source: self.source.clone(),
            label: self.label.clone(),
            last: self.last,
            expected,
        })
    }
}

/// What `--strict` stops with: every late delivery named (exit 3).
pub fn strict_error(late: &[Late]) -> crate::Error {
    let each: Vec<String> = late
        .iter()
        .map(|l| format!("delivery {}", l.message()))
        .collect();
    crate::Error::LateDelivery(each.join("; "))
}

/// Every late delivery among `deliveries` for a run of `year` on `as_of`.
pub fn late(deliveries: &[Delivery], year: i32, as_of: NaiveDate) -> Vec<Late> {
    deliveries
        .iter()
        .filter_map(|d| d.late(year, as_of))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(last: Option<(i32, u32)>, lag: u32) -> Delivery {
        let month = |(y, m): (i32, u32)| NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        Delivery {
            source: "caf_rsa".into(),
            label: "CAF".into(),
            column: "moisref".into(),
            first: Some(month((2020, 1))),
            last: last.map(month),
            max_lag_months: lag,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_past_year_is_expected_through_december() {
        let cut = delivery(Some((2020, 9)), 2);
        let late = cut.late(2020, day(2021, 1, 5)).unwrap();
        assert_eq!(late.expected, day(2020, 12, 1));
        assert_eq!(
            late.message(),
            "caf_rsa (CAF) stops at 09/2020, expected through 12/2020"
        );
        assert_eq!(
            delivery(Some((2020, 12)), 2).late(2020, day(2026, 1, 1)),
            None
        );
    }

    #[test]
    fn during_the_year_a_delivery_may_lag_by_its_months() {
        // On 15 November, with 2 months of lag: September is expected.
        let as_of = day(2020, 11, 15);
        assert_eq!(delivery(Some((2020, 9)), 2).late(2020, as_of), None);
        let late = delivery(Some((2020, 8)), 2).late(2020, as_of).unwrap();
        assert_eq!(late.expected, day(2020, 9, 1));
        assert!(delivery(Some((2020, 9)), 1).late(2020, as_of).is_some());
        // Early in the year nothing is expected yet, nor for a future year.
        assert_eq!(delivery(None, 2).late(2020, day(2020, 2, 10)), None);
        assert_eq!(delivery(None, 2).late(2021, as_of), None);
        // A source with no dated row at all, in a past year.
        assert_eq!(
            delivery(None, 2).late(2019, as_of).unwrap().message(),
            "caf_rsa (CAF) has no dated row, expected through 12/2019"
        );
    }
}
