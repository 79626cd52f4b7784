//! One cell, whatever the file format it came from.

use chrono::NaiveDateTime;

/// One cell, whatever the file format it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A cell Excel stores as a date (xlsx, xls).
    DateTime(NaiveDateTime),
    /// An error value such as `#N/A` or `#REF!`.
    Error,
}

impl std::fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Empty => Ok(()),
            Cell::Text(s) => f.write_str(s),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::DateTime(d) if d.time() == chrono::NaiveTime::MIN => {
                write!(f, "{}", d.format("%d/%m/%Y"))
            }
            Cell::DateTime(d) => write!(f, "{}", d.format("%d/%m/%Y %H:%M:%S")),
            Cell::Error => f.write_str("#ERREUR"),
        }
    }
}

impl Cell<'_> {
    /// Empty, or text holding only spaces.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => trim(s).is_empty(),
            _ => false,
        }
    }

    /// The cell as text, for messages and header matching.
    pub fn display(&self) -> String {
        self.to_string()
    }
}

/// `str::trim`, without decoding a character at either end when both end
/// bytes are printable ASCII (no space there), as in nearly every cell.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}
