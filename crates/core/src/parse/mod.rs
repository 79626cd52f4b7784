//! Cell → typed value. Each function takes one [`Cell`] of any source format
//! and returns `Ok(None)` for an empty cell, the value, or the reason it
//! cannot be read.

mod date;
mod number;

pub use date::{excel_serial, parse_date, parse_date_in, parse_month};
pub use number::{parse_decimal, parse_integer};

use std::borrow::Cow;

/// One cell, whatever the file format it came from (the reading crate's).
pub use suivi_read::Cell;

/// Why a cell was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Problem {
    Missing,
    Date,
    Month,
    Number,
    Bool,
    Commune,
    Category,
    TooLong,
    CellError,
}

impl Problem {
    /// A short stable code, used in reject listings and tests.
    pub fn code(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Date => "date",
            Problem::Month => "month",
            Problem::Number => "number",
            Problem::Bool => "bool",
            Problem::Commune => "commune",
            Problem::Category => "category",
            Problem::TooLong => "too_long",
            Problem::CellError => "cell_error",
        }
    }

    /// What to do about it, where that is not obvious.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Problem::Commune => Some(
                "correct the file, or add the code to the commune passage table \
                 (reference.commune_passage) if it belongs to a former commune",
            ),
            _ => None,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Problem::Missing => "required value missing",
            Problem::Date => "unparseable date",
            Problem::Month => "unparseable month",
            Problem::Number => "not a number",
            Problem::Bool => "not a yes/no value",
            Problem::Commune => "unknown commune",
            Problem::Category => "value not in the declared list",
            Problem::TooLong => "value longer than 32,767 characters",
            Problem::CellError => "spreadsheet error value",
        }
    }
}

pub type Parsed<T> = Result<Option<T>, Problem>;

/// Longest text a spreadsheet cell can hold (Excel's limit).
pub const MAX_TEXT: usize = 32_767;

/// Trimmed text of a cell; numbers are written without a fractional part when integral.
pub fn parse_text(cell: Cell) -> Parsed<String> {
    parse_text_ref(cell).map(|t| t.map(Cow::into_owned))
}

/// [`parse_text`] borrowing the cell's text when it has some: no allocation
/// on the reading hot path.
pub fn parse_text_ref(cell: Cell<'_>) -> Parsed<Cow<'_, str>> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Text(s) => {
            let t = crate::text::trim(s);
            if t.is_empty() {
                Ok(None)
            } else if t.len() > MAX_TEXT && t.chars().count() > MAX_TEXT {
                Err(Problem::TooLong)
            } else {
                Ok(Some(Cow::Borrowed(t)))
            }
        }
        Cell::Int(i) => Ok(Some(i.to_string().into())),
        Cell::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            Ok(Some((f as i64).to_string().into()))
        }
        Cell::Float(f) => Ok(Some(f.to_string().into())),
        Cell::Bool(b) => Ok(Some(if b { "Oui" } else { "Non" }.into())),
        Cell::DateTime(d) => Ok(Some(d.format("%d/%m/%Y").to_string().into())),
        Cell::Error => Err(Problem::CellError),
    }
}

/// An identifier as text: digits-only values are left-padded with zeros to
/// `width` (partners that store numéros allocataires as numbers lose them).
pub fn parse_id(cell: Cell<'_>, width: Option<usize>) -> Parsed<Cow<'_, str>> {
    let Some(text) = parse_text_ref(cell)? else {
        return Ok(None);
    };
    match width {
        Some(w) if text.len() < w && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(format!("{text:0>w$}").into()))
        }
        _ => Ok(Some(text)),
    }
}

/// Oui/Non, O/N, 1/0, X/empty, Vrai/Faux, True/False, Yes/No; empty means no.
pub fn parse_bool(cell: Cell) -> Result<bool, Problem> {
    match cell {
        Cell::Empty => Ok(false),
        Cell::Bool(b) => Ok(b),
        Cell::Int(1) => Ok(true),
        Cell::Int(0) => Ok(false),
        Cell::Float(1.0) => Ok(true),
        Cell::Float(0.0) => Ok(false),
        // Spelled as listed (the common case) or after normalising accents and spaces.
        Cell::Text(s) => bool_word(crate::text::trim(s))
            .or_else(|| bool_word(&crate::text::normalize(s)))
            .ok_or(Problem::Bool),
        Cell::Error => Err(Problem::CellError),
        _ => Err(Problem::Bool),
    }
}

/// A yes/no word, case aside.
fn bool_word(s: &str) -> Option<bool> {
    const YES: [&str; 8] = ["oui", "o", "1", "x", "vrai", "true", "yes", "y"];
    const NO: [&str; 7] = ["non", "n", "0", "", "faux", "false", "no"];
    if YES.iter().any(|y| s.eq_ignore_ascii_case(y)) {
        Some(true)
    } else if NO.iter().any(|n| s.eq_ignore_ascii_case(n)) {
        Some(false)
    } else {
        None
    }
}

/// A commune code as written: five characters, a lost leading zero restored.
/// Mapping and checking against the reference happen in [`crate::reference`].
pub fn parse_commune_code(cell: Cell<'_>) -> Parsed<Cow<'_, str>> {
    let Some(text) = parse_text_ref(cell)? else {
        return Ok(None);
    };
    if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(format!("0{text}").into()));
    }
    if text.bytes().any(|b| b.is_ascii_lowercase()) {
        return Ok(Some(text.to_ascii_uppercase().into()));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for yes in ["Oui", "oui", "O", "1", "X", "x", "Vrai", "True", " OUI "] {
            assert_eq!(parse_bool(Cell::Text(yes)), Ok(true), "{yes}");
        }
        for no in ["Non", "N", "0", "", "  ", "Faux", "false"] {
            assert_eq!(parse_bool(Cell::Text(no)), Ok(false), "{no}");
        }
        assert_eq!(parse_bool(Cell::Empty), Ok(false));
        assert_eq!(parse_bool(Cell::Float(1.0)), Ok(true));
        assert_eq!(parse_bool(Cell::Text("peut-être")), Err(Problem::Bool));
    }

    #[test]
    fn identifiers_keep_leading_zeros() {
        assert_eq!(
            parse_id(Cell::Float(123456.0), Some(7)),
            Ok(Some("0123456".into()))
        );
        assert_eq!(
            parse_id(Cell::Text(" 0123456 "), Some(7)),
            Ok(Some("0123456".into()))
        );
        assert_eq!(
            parse_id(Cell::Text("J2019-00042"), Some(7)),
            Ok(Some("J2019-00042".into()))
        );
        assert_eq!(parse_id(Cell::Text(""), Some(7)), Ok(None));
    }

    #[test]
    fn commune_codes_are_text() {
        assert_eq!(
            parse_commune_code(Cell::Float(42218.0)),
            Ok(Some("42218".into()))
        );
        assert_eq!(
            parse_commune_code(Cell::Int(1004)),
            Ok(Some("01004".into()))
        );
        assert_eq!(
            parse_commune_code(Cell::Text("2a004")),
            Ok(Some("2A004".into()))
        );
    }

    #[test]
    fn huge_text_is_rejected() {
        let big = "a".repeat(100_000);
        assert_eq!(parse_text(Cell::Text(&big)), Err(Problem::TooLong));
    }
}
