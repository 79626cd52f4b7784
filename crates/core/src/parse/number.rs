//! Numbers as partners write them: `1 234,56`, `1234.56`, `1 234,56 €`,
//! `1.234,56`, with normal, non-breaking or narrow spaces.

use super::{Cell, Parsed, Problem};

pub fn parse_decimal(cell: Cell) -> Parsed<f64> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Int(i) => Ok(Some(i as f64)),
        Cell::Float(f) if f.is_finite() => Ok(Some(f)),
        Cell::Text(s) => decimal_text(s),
        Cell::Error => Err(Problem::CellError),
        _ => Err(Problem::Number),
    }
}

pub fn parse_integer(cell: Cell) -> Parsed<i64> {
    // Plain digits, the common case, read as an integer: through a float,
    // each CAF row's two integer cells cost two float parses.
    if let Cell::Text(s) = cell {
        let t = crate::text::trim(s);
        let digits = t.strip_prefix('-').unwrap_or(t);
        if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().map(Some).map_err(|_| Problem::Number);
        }
    }
    match parse_decimal(cell)? {
        None => Ok(None),
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(_) => Err(Problem::Number),
    }
}

fn decimal_text(s: &str) -> Parsed<f64> {
    // Fast path, no allocation: plain digits with at most one decimal comma or point.
    let t = crate::text::trim(s);
    if !t.is_empty() && t.len() <= 32 && t.bytes().filter(|b| matches!(b, b',' | b'.')).count() <= 1
    {
        let mut buffer = [0u8; 32];
        let mut plain = true;
        for (i, b) in t.bytes().enumerate() {
            buffer[i] = match b {
                b',' => b'.',
                b'0'..=b'9' | b'.' | b'-' => b,
                _ => {
                    plain = false;
                    break;
                }
            };
        }
        if plain {
            let text = std::str::from_utf8(&buffer[..t.len()]).expect("ASCII");
            return text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or(Problem::Number);
        }
    }
    let mut cleaned = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '€' => {}
            _ => cleaned.push(c),
        }
    }
    let cleaned = cleaned.strip_suffix("EUR").unwrap_or(&cleaned);
    if cleaned.is_empty() {
        return Ok(None);
    }
    // With both separators, the last one is the decimal mark; a lone comma is decimal.
    let normalized = match (cleaned.rfind(','), cleaned.rfind('.')) {
        (Some(c), Some(d)) if c > d => cleaned.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => cleaned.replace(',', ""),
        (Some(_), None) if cleaned.matches(',').count() == 1 => cleaned.replace(',', "."),
        (Some(_), None) => return Err(Problem::Number),
        _ => cleaned.to_owned(),
    };
    if !normalized
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        return Err(Problem::Number);
    }
    normalized
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Some)
        .ok_or(Problem::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_english_decimals() {
        let cases = [
            ("1 234,56", 1234.56),
            ("1\u{a0}234,56", 1234.56),
            ("1\u{202f}234,56 €", 1234.56),
            ("1234.56", 1234.56),
            ("1.234,56", 1234.56),
            ("1,234.56", 1234.56),
            ("559,74", 559.74),
            ("-12,5", -12.5),
            ("300 EUR", 300.0),
        ];
        for (text, want) in cases {
            assert_eq!(parse_decimal(Cell::Text(text)), Ok(Some(want)), "{text}");
        }
        assert_eq!(parse_decimal(Cell::Text("NC")), Err(Problem::Number));
        assert_eq!(parse_decimal(Cell::Text("<5")), Err(Problem::Number));
        assert_eq!(parse_decimal(Cell::Text("1,2,3")), Err(Problem::Number));
        assert_eq!(parse_decimal(Cell::Text(" ")), Ok(None));
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer(Cell::Text("12")), Ok(Some(12)));
        assert_eq!(parse_integer(Cell::Text(" 0042 ")), Ok(Some(42)));
        assert_eq!(parse_integer(Cell::Text("-7")), Ok(Some(-7)));
        assert_eq!(
            parse_integer(Cell::Text("123456789012345")),
            Ok(Some(123_456_789_012_345))
        );
        assert_eq!(
            parse_integer(Cell::Text("1234567890123456")),
            Ok(Some(1_234_567_890_123_456))
        );
        assert_eq!(parse_integer(Cell::Text("2,0")), Ok(Some(2)));
        assert_eq!(parse_integer(Cell::Text("-")), Err(Problem::Number));
        assert_eq!(parse_integer(Cell::Text("1-2")), Err(Problem::Number));
        assert_eq!(parse_integer(Cell::Float(3.0)), Ok(Some(3)));
        assert_eq!(parse_integer(Cell::Text("1 200")), Ok(Some(1200)));
        assert_eq!(parse_integer(Cell::Float(2.5)), Err(Problem::Number));
    }
}
