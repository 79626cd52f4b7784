//! The months each delivery covers, as `check` prints them, with a warning
//! for each one that stops earlier than the run's date lets one expect.

use std::io::Write;
use suivi_core::delivery::{self, Delivery, Late, month_text};

/// Prints the table of deliveries and the warnings; returns the late ones.
pub fn print(
    out: &mut impl Write,
    deliveries: &[Delivery],
    year: i32,
    run_date: chrono::NaiveDate,
) -> std::io::Result<Vec<Late>> {
    let late = delivery::late(deliveries, year, run_date);
    if deliveries.is_empty() {
        return Ok(late);
    }
    writeln!(
        out,
        "\nmonths each delivery covers (run date {run_date}):\n{:<16} {:<24} {:>8} {:>8} {:>9} {:>4}",
        "source", "dated by", "first", "last", "expected", "lag"
    )?;
    let month = |m: Option<chrono::NaiveDate>| m.map_or_else(|| "-".to_owned(), month_text);
    for d in deliveries {
        let status = if late.iter().any(|l| l.source == d.source) {
            "  LATE"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<16} {:<24} {:>8} {:>8} {:>9} {:>4}{status}",
            d.source,
            d.column,
            month(d.first),
            month(d.last),
            month(d.expected(year, run_date)),
            d.max_lag_months,
        )?;
    }
    for l in &late {
        writeln!(
            out,
            "\nWARNING: delivery {}: the partner may have stopped sending (--strict makes this exit 3)",
            l.message()
        )?;
    }
    Ok(late)
}
