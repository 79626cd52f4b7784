//! French text for readers: numbers with narrow no-break spaces and
//! decimal commas, amounts in euros, dates, month names, Oui/Non.

/// The month headers of the monthly series.
pub const MONTHS: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// A number in French for text: decimal comma, no trailing zeros.
pub fn french_number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    let (integer, fraction) = match text.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
        None => (text, None),
    };
    let (sign, digits) = match integer.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", integer.as_str()),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    match fraction {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// An amount in French text: `1 088 327,00 €`.
pub fn french_euros(value: f64) -> String {
    let text = format!("{:.2}", value);
    let (integer, fraction) = text.split_once('.').unwrap_or((&text, "00"));
    format!(
        "{},{fraction}\u{a0}€",
        french_number(integer.parse().unwrap_or(0.0), 0)
    )
}

/// A date in French text: `31/12/2020`.
pub fn french_date(date: chrono::NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

pub const YES: &str = "Oui";

pub const NO: &str = "Non";

/// `Oui`/`Non`.
pub fn yes_no(value: bool) -> &'static str {
    if value { YES } else { NO }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers() {
        assert_eq!(french_number(1088327.0, 0), "1\u{202f}088\u{202f}327");
        assert_eq!(french_number(0.5, 1), "0,5");
        assert_eq!(french_number(30.0, 1), "30");
        assert_eq!(french_euros(575041.0), "575\u{202f}041,00\u{a0}€");
        assert_eq!(french_euros(-12.5), "-12,50\u{a0}€");
    }
}
