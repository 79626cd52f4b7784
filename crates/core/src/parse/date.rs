//! Dates as partners write them: real Excel dates, Excel serial numbers,
//! `JJ/MM/AAAA`, `JJ/MM/AA`, `AAAA-MM-JJ`, `AAAAMMJJ`, with or without a time
//! part; months as `AAAAMM`, `MM/AAAA`, `AAAA-MM` or any date.

use super::{Cell, Parsed, Problem};
use chrono::{Datelike, NaiveDate};

/// Excel's day 0 in the 1900 system (serial 1 is 1900-01-01, with Excel's
/// phantom 29 February 1900 making every serial from 61 on line up).
fn excel_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid constant date")
}

/// The Excel serial number of a date (days since 1899-12-30), as workbooks store it.
pub fn excel_serial(date: NaiveDate) -> f64 {
    (date - excel_epoch()).num_days() as f64
}

/// Serials of 1 January 1910 to 31 December 2199: anything else is not a plausible date here.
const SERIAL_RANGE: std::ops::RangeInclusive<f64> = 3654.0..=109_573.0;

/// Days from Excel's 1900 day 0 (1899-12-30) to its 1904 day 0 (1904-01-01).
const DAYS_1900_TO_1904: f64 = 1462.0;

/// A date read in a workbook of either date system: a plain number is a
/// serial of the workbook's own system (cells formatted as dates were
/// converted by the reader already).
pub fn parse_date_in(cell: Cell, dates_from_1904: bool) -> Parsed<NaiveDate> {
    match cell {
        Cell::Int(_) | Cell::Float(_) if dates_from_1904 => {
            let f = match cell {
                Cell::Int(i) => i as f64,
                Cell::Float(f) => f,
                _ => unreachable!("matched above"),
            };
            if is_yyyymmdd(f) {
                number_date(f)
            } else {
                number_date(f + DAYS_1900_TO_1904)
            }
        }
        other => parse_date(other),
    }
}

fn is_yyyymmdd(f: f64) -> bool {
    f.fract() == 0.0 && (19_000_101.0..=21_991_231.0).contains(&f)
}

pub fn parse_date(cell: Cell) -> Parsed<NaiveDate> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::DateTime(dt) => Ok(Some(dt.date())),
        Cell::Int(i) => number_date(i as f64),
        Cell::Float(f) => number_date(f),
        Cell::Text(s) => text_date(crate::text::trim(s)),
        Cell::Error => Err(Problem::CellError),
        Cell::Bool(_) => Err(Problem::Date),
    }
}

pub fn parse_month(cell: Cell) -> Parsed<NaiveDate> {
    let month = match cell {
        Cell::Int(i) => month_number(i),
        Cell::Float(f) if f.fract() == 0.0 && (190_001.0..=219_912.0).contains(&f) => {
            month_number(f as i64)
        }
        Cell::Text(s) => month_text(crate::text::trim(s)),
        other => {
            return parse_date(other)
                .map(|d| d.map(first_of_month))
                .map_err(|_| Problem::Month);
        }
    };
    month.map_err(|_| Problem::Month)
}

fn number_date(f: f64) -> Parsed<NaiveDate> {
    if is_yyyymmdd(f) {
        return yyyymmdd(&(f as i64).to_string());
    }
    if !SERIAL_RANGE.contains(&f) {
        return Err(Problem::Date);
    }
    excel_epoch()
        .checked_add_days(chrono::Days::new(f.floor() as u64))
        .map(Some)
        .ok_or(Problem::Date)
}

fn text_date(s: &str) -> Parsed<NaiveDate> {
    if s.is_empty() {
        return Ok(None);
    }
    ten_byte_date(s.as_bytes()).unwrap_or_else(|| any_date(s))
}

/// `JJ/MM/AAAA` or `AAAA-MM-JJ` (with any of `/`, `-`, `.` between), the
/// shape of nearly every date cell, read digit by digit; `None` for any
/// other text, left to [`any_date`], which reads these the same way. A
/// split and three integer parses per cell are too dear on a national file,
/// with a date cell on every row.
fn ten_byte_date(s: &[u8]) -> Option<Parsed<NaiveDate>> {
    let &[a, b, c, d, e, f, g, h, i, j] = s else {
        return None;
    };
    let between = |x: u8| matches!(x, b'/' | b'-' | b'.');
    let (year, month, day) = if between(c) && between(f) {
        ([g, h, i, j], [d, e], [a, b])
    } else if between(e) && between(h) {
        ([a, b, c, d], [f, g], [i, j])
    } else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &x| {
            let digit = x.wrapping_sub(b'0');
            (digit < 10).then_some(n * 10 + u32::from(digit))
        })
    };
    Some(calendar(
        number(&year)? as i32,
        number(&month)?,
        number(&day)?,
    ))
}

/// A date's text in any of the shapes `parse_date` reads.
fn any_date(s: &str) -> Parsed<NaiveDate> {
    // Drop a time part: `03/02/2020 14:05`, `2020-02-03T14:05:00`.
    let day_part = s.split([' ', 'T']).next().unwrap_or(s);
    let digits_only = day_part.bytes().all(|b| b.is_ascii_digit());
    if digits_only {
        return match day_part.len() {
            8 => yyyymmdd(day_part),
            5 => number_date(day_part.parse::<f64>().map_err(|_| Problem::Date)?),
            _ => Err(Problem::Date),
        };
    }
    // Split without collecting: one date cell per row of a national file.
    let mut parts = day_part.split(['/', '-', '.']);
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Problem::Date);
    };
    let num = |p: &str| -> Result<u32, Problem> {
        if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Problem::Date);
        }
        p.parse().map_err(|_| Problem::Date)
    };
    let (year, month, day) = if a.len() == 4 {
        (num(a)? as i32, num(b)?, num(c)?)
    } else {
        let year = match c.len() {
            4 => num(c)? as i32,
            // Two-digit years: 00-68 are 2000s, 69-99 are 1900s (POSIX `%y`).
            2 => {
                let y = num(c)? as i32;
                if y <= 68 { 2000 + y } else { 1900 + y }
            }
            _ => return Err(Problem::Date),
        };
        (year, num(b)?, num(a)?)
    };
    calendar(year, month, day)
}

/// The day, if the calendar has it, from 1900 to 2199.
fn calendar(year: i32, month: u32, day: u32) -> Parsed<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
        .filter(|d| (1900..=2199).contains(&d.year()))
        .map(Some)
        .ok_or(Problem::Date)
}

fn yyyymmdd(s: &str) -> Parsed<NaiveDate> {
    let (y, m, d) = (&s[..4], &s[4..6], &s[6..8]);
    let parse = |p: &str| p.parse::<u32>().map_err(|_| Problem::Date);
    NaiveDate::from_ymd_opt(parse(y)? as i32, parse(m)?, parse(d)?)
        .map(Some)
        .ok_or(Problem::Date)
}

fn month_number(n: i64) -> Parsed<NaiveDate> {
    let (year, month) = (n / 100, n % 100);
    NaiveDate::from_ymd_opt(year as i32, month as u32, 1)
        .filter(|d| (1900..=2199).contains(&d.year()))
        .map(Some)
        .ok_or(Problem::Month)
}

fn month_text(s: &str) -> Parsed<NaiveDate> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        return month_number(s.parse().map_err(|_| Problem::Month)?);
    }
    let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
    if let [a, b] = parts[..] {
        let (y, m) = if a.len() == 4 { (a, b) } else { (b, a) };
        if y.len() == 4 && (1..=2).contains(&m.len()) {
            let y: i32 = y.parse().map_err(|_| Problem::Month)?;
            let m: u32 = m.parse().map_err(|_| Problem::Month)?;
            return NaiveDate::from_ymd_opt(y, m, 1)
                .map(Some)
                .ok_or(Problem::Month);
        }
        return Err(Problem::Month);
    }
    text_date(s).map(|d| d.map(first_of_month))
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn dates_in_every_partner_shape() {
        let cases = [
            ("03/02/2020", ymd(2020, 2, 3)),
            ("3/2/2020", ymd(2020, 2, 3)),
            ("03/02/20", ymd(2020, 2, 3)),
            ("2020-02-03", ymd(2020, 2, 3)),
            ("03/02/2020 14:05", ymd(2020, 2, 3)),
            ("2020-02-03T14:05:00", ymd(2020, 2, 3)),
            ("03-02-2020", ymd(2020, 2, 3)),
            ("20200203", ymd(2020, 2, 3)),
            ("43831", ymd(2020, 1, 1)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_date(Cell::Text(text)), Ok(want), "{text}");
        }
        assert_eq!(parse_date(Cell::Float(43831.0)), Ok(ymd(2020, 1, 1)));
        assert_eq!(parse_date(Cell::Float(43831.75)), Ok(ymd(2020, 1, 1)));
        assert_eq!(parse_date(Cell::Int(20190131)), Ok(ymd(2019, 1, 31)));
    }

    /// The ten-byte shapes, read digit by digit, give the day they were
    /// written from, for every day of two years in three spellings; near
    /// misses get the answer the general path gives (a date, a rejection).
    #[test]
    fn the_ten_byte_fast_path_reads_every_day_and_near_misses_as_the_general_one() {
        let mut day = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        while day.year() < 2021 {
            for shape in ["%d/%m/%Y", "%Y-%m-%d", "%d.%m-%Y"] {
                let text = day.format(shape).to_string();
                assert!(ten_byte_date(text.as_bytes()).is_some(), "{text}");
                assert_eq!(text_date(&text), Ok(Some(day)), "{text}");
            }
            day = day.succ_opt().unwrap();
        }
        let near_misses = [
            ("31/02/2020", None),
            ("00/01/2020", None),
            ("01/13/2020", None),
            ("01/00/2020", None),
            ("1a/01/2020", None),
            ("01/01/1899", None),
            ("31/12/2199", ymd(2199, 12, 31)),
            ("01/01/2200", None),
            ("2020/02/30", None),
            // Not the fast path's shape; the general one reads a day of up to four digits.
            ("2020-1-031", ymd(2020, 1, 31)),
            // `JJ/MM/AA` and a time part.
            ("01/01/20 1", ymd(2020, 1, 1)),
            ("0001-01-01", None),
            ("ab/cd/efgh", None),
            ("01//01/202", None),
            // `AAAA-MM-J` and the `T` of a time.
            ("2020-02-3T", ymd(2020, 2, 3)),
        ];
        for (text, want) in near_misses {
            let read = text_date(text);
            assert_eq!(read, any_date(text), "{text}");
            assert_eq!(read.ok().flatten(), want, "{text}");
        }
    }

    #[test]
    fn impossible_dates_are_rejected() {
        for bad in [
            "31/02/2019",
            "pas de date",
            "2019-13-45",
            "12/2019",
            "1/1/1",
            "00/00/0000",
        ] {
            assert_eq!(parse_date(Cell::Text(bad)), Err(Problem::Date), "{bad}");
        }
        assert_eq!(parse_date(Cell::Float(12.0)), Err(Problem::Date));
        assert_eq!(parse_date(Cell::Text("")), Ok(None));
    }

    #[test]
    fn months() {
        assert_eq!(parse_month(Cell::Text("201912")), Ok(ymd(2019, 12, 1)));
        assert_eq!(parse_month(Cell::Text("12/2019")), Ok(ymd(2019, 12, 1)));
        assert_eq!(parse_month(Cell::Text("2019-12")), Ok(ymd(2019, 12, 1)));
        assert_eq!(parse_month(Cell::Int(201903)), Ok(ymd(2019, 3, 1)));
        assert_eq!(parse_month(Cell::Text("15/03/2019")), Ok(ymd(2019, 3, 1)));
        assert_eq!(parse_month(Cell::Text("201913")), Err(Problem::Month));
    }
}
