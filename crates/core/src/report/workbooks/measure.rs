//! How a figure is shown, from its unit and kind: its Excel number format,
//! its change from last year, its target, how wide it is.

use crate::pipeline::{Direction, Kind};

/// How a figure is shown, from its unit (and its kind for units that don't say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Persons, households, rows: `#,##0`.
    Count,
    /// A share from 0 to 1: `0.0%`.
    Share,
    /// Euros: `#,##0.00 €`.
    Euro,
    /// Days (means and medians of delays): `0.0`.
    Days,
    /// Any other non-integer figure: `#,##0.0`.
    Decimal,
}

impl Measure {
    pub fn of(unit: &str, kind: Kind) -> Measure {
        match unit.trim().to_lowercase().as_str() {
            "%" => Measure::Share,
            "eur" | "€" | "euro" | "euros" => Measure::Euro,
            "jours" | "jour" | "j" => Measure::Days,
            _ if kind.is_rate() => Measure::Share,
            _ if !kind.is_total() => Measure::Decimal,
            _ => Measure::Count,
        }
    }

    /// The number format, in US syntax (Excel shows the reader's separators).
    pub fn num_format(self) -> &'static str {
        match self {
            Measure::Count => "#,##0",
            Measure::Share => "0.0%",
            Measure::Euro => EURO,
            Measure::Days => "0.0",
            Measure::Decimal => "#,##0.0",
        }
    }

    /// The format of a change from N-1: signed; shares change in percentage points.
    pub fn change_format(self) -> &'static str {
        match self {
            Measure::Count => "+#,##0;-#,##0;0",
            Measure::Share => "+0.0\" pt\";-0.0\" pt\";0.0\" pt\"",
            Measure::Euro => "+#,##0.00 \"€\";-#,##0.00 \"€\";0.00 \"€\"",
            Measure::Days => "+0.0;-0.0;0.0",
            Measure::Decimal => "+#,##0.0;-#,##0.0;0.0",
        }
    }

    /// The change from `previous` to `value` as written: points for shares,
    /// rounded to the decimals shown, so that a change too small to show is
    /// a plain 0 (never `-0,0 pt`).
    pub fn change(self, value: f64, previous: f64) -> f64 {
        let (raw, decimals) = match self {
            Measure::Share => ((value - previous) * 100.0, 1),
            Measure::Count => (value - previous, 0),
            Measure::Euro => (value - previous, 2),
            Measure::Days | Measure::Decimal => (value - previous, 1),
        };
        let factor = 10f64.powi(decimals);
        let rounded = (raw * factor).round() / factor;
        if rounded == 0.0 { 0.0 } else { rounded }
    }

    /// A target shown as a number with its direction: `≤ 30.0`, `≥ 100.0%`.
    pub fn target_format(self, direction: Direction) -> String {
        let sign = match direction {
            Direction::Min => "≥ ",
            Direction::Max => "≤ ",
        };
        format!("\"{sign}\"{}", self.num_format())
    }

    /// Roughly how many characters the figure takes once formatted.
    pub fn display_len(self, value: f64) -> usize {
        let (scaled, decimals, suffix) = match self {
            Measure::Count => (value, 0, 0),
            Measure::Share => (value * 100.0, 1, 2),
            Measure::Euro => (value, 2, 2),
            Measure::Days | Measure::Decimal => (value, 1, 0),
        };
        number_len(scaled, decimals) + suffix
    }
}

/// Euros with two decimals: `#,##0.00 €`, negative amounts in red.
pub const EURO: &str = "#,##0.00 \"€\";[Red]-#,##0.00 \"€\"";

/// Dates, shown as `jj/mm/aaaa` in a French Excel.
pub const DATE: &str = "dd/mm/yyyy";

/// Characters of a number with thousands separators and `decimals` decimals.
pub fn number_len(value: f64, decimals: usize) -> usize {
    let text = format!("{:.*}", decimals, value.abs());
    let integer = text.split('.').next().unwrap_or("").len();
    let separators = integer.saturating_sub(1) / 3;
    text.len() + separators + usize::from(value < 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_from_units() {
        assert_eq!(Measure::of("%", Kind::Share), Measure::Share);
        assert_eq!(Measure::of("EUR", Kind::Sum), Measure::Euro);
        assert_eq!(Measure::of("jours", Kind::Mean), Measure::Days);
        assert_eq!(Measure::of("foyers", Kind::Count), Measure::Count);
        assert_eq!(Measure::of("personnes", Kind::Mean), Measure::Decimal);
        assert_eq!(Measure::Share.change(0.5, 0.25), 25.0);
        assert_eq!(Measure::Count.display_len(1234567.0), 9);
    }

    /// Issue 15: a share down by 0.04 point showed `-0,0 pt`.
    #[test]
    fn a_change_too_small_to_show_is_a_positive_zero() {
        let change = Measure::Share.change(0.5, 0.5004);
        assert_eq!(change, 0.0);
        assert!(change.is_sign_positive());
        assert_eq!(Measure::Share.change(0.40, 0.5), -10.0);
        assert_eq!(Measure::Euro.change(10.004, 10.0), 0.0);
        assert_eq!(Measure::Count.change(12.0, 10.0), 2.0);
    }
}
