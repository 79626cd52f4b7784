//! The sheet writer: title lines, a table with its header, column widths
//! that follow the content, row heights for wrapped text, filters, frozen
//! headers and print setup; and valid, unique sheet names.

use super::measure::Measure;
use super::styles::{RESTRICTED_BANNER, Styles};
use crate::parse::excel_serial;
use crate::report::ReportContext;
use rust_xlsxwriter::{ColNum, Format, RowNum, Worksheet, XlsxError};

/// Widest a column gets, in character units.
pub const MAX_WIDTH: f64 = 60.0;

/// Narrowest a column gets.
const MIN_WIDTH: f64 = 6.0;

/// Excel's row count per sheet.
pub const EXCEL_ROWS: u32 = 1_048_576;

/// A sheet name Excel accepts: no `[]:*?/\`, no leading or trailing
/// apostrophe, at most 31 characters (cut at a word, without a dangling
/// article or preposition), unique among `used` ignoring case.
pub fn sheet_name(raw: &str, used: &mut Vec<String>) -> String {
    const MAX: usize = 31;
    const DANGLING: [&str; 17] = [
        "de", "du", "des", "d'", "la", "le", "les", "l'", "et", "à", "au", "aux", "en", "pour",
        "par", "sur", "-",
    ];
    let clean: String = raw
        .chars()
        .map(|c| match c {
            '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '-',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    let trim = |s: &str| {
        s.trim_matches(|c: char| c == '\'' || c.is_whitespace())
            .to_owned()
    };
    let cut = |s: &str, max: usize| -> String {
        if s.chars().count() <= max {
            return trim(s);
        }
        let head: String = s.chars().take(max).collect();
        let next_is_break = s.chars().nth(max).is_some_and(char::is_whitespace);
        let mut words: Vec<&str> = head.split(' ').collect();
        if !next_is_break && words.len() > 1 {
            words.pop();
        }
        while words.len() > 1
            && words
                .last()
                .is_some_and(|w| DANGLING.contains(&w.to_lowercase().as_str()) || w.is_empty())
        {
            words.pop();
        }
        trim(&words.join(" "))
    };
    let mut base = cut(&clean, MAX);
    if base.is_empty() {
        base = "Feuille".to_owned();
    }
    let taken =
        |name: &str, used: &[String]| used.iter().any(|u| u.to_lowercase() == name.to_lowercase());
    let mut name = base.clone();
    let mut n = 2;
    while taken(&name, used) || name.eq_ignore_ascii_case("history") {
        let suffix = format!(" ({n})");
        name = format!("{}{suffix}", cut(&base, MAX - suffix.chars().count()));
        n += 1;
    }
    used.push(name.clone());
    name
}

/// What a sheet's title lines say, above its table.
pub struct Preamble {
    lines: Vec<(String, LineKind)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Banner,
    Title,
    Note,
}

impl Preamble {
    /// The restricted banner first in internal mode, then the title.
    pub fn new(context: &ReportContext, title: impl Into<String>) -> Preamble {
        let mut lines = Vec::new();
        if context.confidentiality.internal {
            lines.push((RESTRICTED_BANNER.to_owned(), LineKind::Banner));
        }
        lines.push((title.into(), LineKind::Title));
        Preamble { lines }
    }

    pub fn note(mut self, text: impl Into<String>) -> Preamble {
        self.lines.push((text.into(), LineKind::Note));
        self
    }

    pub fn lines(&self) -> &[(String, LineKind)] {
        &self.lines
    }

    /// The row of the table's header: after the lines and a blank row.
    pub fn header_row(&self) -> RowNum {
        self.lines.len() as RowNum + 1
    }
}

/// One column of a table: its header, how wide it may get, and whether
/// longer text wraps (the row then grows to show it).
pub struct Column {
    pub header: String,
    pub max: f64,
    pub wrap: bool,
}

impl Column {
    pub fn new(header: impl Into<String>) -> Column {
        Column {
            header: header.into(),
            max: MAX_WIDTH,
            wrap: false,
        }
    }

    /// A column of long text, wrapped beyond `max` characters.
    pub fn wrapped(header: impl Into<String>, max: f64) -> Column {
        Column {
            header: header.into(),
            max,
            wrap: true,
        }
    }
}

/// How many lines `text` takes in a column `width` characters wide, wrapped
/// at spaces. A width counts digits; text letters are narrower on average.
pub fn wrapped_lines(text: &str, width: f64) -> usize {
    lines_at(text, ((width - 1.0) * 1.2).max(1.0) as usize)
}

/// The same for a bold header: its letters are as wide as digits.
fn header_lines(text: &str, width: f64) -> usize {
    lines_at(text, (width - 1.0).max(1.0) as usize)
}

/// How many lines `text` takes, `capacity` characters a line, wrapped at spaces.
fn lines_at(text: &str, capacity: usize) -> usize {
    text.split('\n')
        .map(|paragraph| {
            let mut lines = 1;
            let mut current = 0;
            for word in paragraph.split_whitespace() {
                let len = word.chars().count();
                if current == 0 {
                    lines += len.saturating_sub(1) / capacity;
                    current = len % capacity;
                } else if current + 1 + len <= capacity {
                    current += 1 + len;
                } else {
                    lines += 1 + len.saturating_sub(1) / capacity;
                    current = len % capacity;
                }
            }
            lines
        })
        .sum()
}

/// Points per line of 11-point text.
const LINE_HEIGHT: f64 = 15.0;

/// A worksheet being filled with one table under its title lines (or, for
/// free layouts, several blocks); it remembers how wide each column's
/// content is and which rows hold wrapped text.
pub struct Sheet<'w> {
    pub ws: &'w mut Worksheet,
    widths: Vec<f64>,
    maxima: Vec<f64>,
    wrap: Vec<bool>,
    /// The table's columns (0 for a free layout).
    declared: usize,
    /// Text of the wrapped columns' cells, to size their rows.
    wrapped: Vec<(RowNum, ColNum, String)>,
    /// Rows of header cells (bold, a little taller).
    header_rows: Vec<RowNum>,
    /// The table's header row; for a free layout, the first row under the title lines.
    pub header_row: RowNum,
}

impl<'w> Sheet<'w> {
    /// Names the sheet and writes the table's header row.
    pub fn new(
        ws: &'w mut Worksheet,
        name: &str,
        preamble: &Preamble,
        columns: &[Column],
        styles: &Styles,
    ) -> Result<Sheet<'w>, XlsxError> {
        let mut sheet = Sheet::free(ws, name, preamble)?;
        sheet.declared = columns.len();
        sheet.widths = vec![0.0; columns.len()];
        sheet.maxima = columns.iter().map(|c| c.max).collect();
        sheet.wrap = columns.iter().map(|c| c.wrap).collect();
        let header_row = sheet.header_row;
        for (i, column) in columns.iter().enumerate() {
            sheet.header(header_row, i as ColNum, &column.header, styles)?;
        }
        Ok(sheet)
    }

    /// A sheet without one table: blocks written anywhere under the title lines.
    pub fn free(
        ws: &'w mut Worksheet,
        name: &str,
        preamble: &Preamble,
    ) -> Result<Sheet<'w>, XlsxError> {
        ws.set_name(name)?;
        Ok(Sheet {
            ws,
            widths: Vec::new(),
            maxima: Vec::new(),
            wrap: Vec::new(),
            declared: 0,
            wrapped: Vec::new(),
            header_rows: Vec::new(),
            header_row: preamble.header_row(),
        })
    }

    /// A header cell: wrapped, so its longest word and at most 16 characters count.
    pub fn header(
        &mut self,
        row: RowNum,
        col: ColNum,
        text: &str,
        styles: &Styles,
    ) -> Result<(), XlsxError> {
        self.ws
            .write_string_with_format(row, col, text, &styles.header)?;
        let longest_word = text
            .split_whitespace()
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0);
        self.fit(col, longest_word.max(text.chars().count().min(16)));
        self.wrapped.push((row, col, text.to_owned()));
        if !self.header_rows.contains(&row) {
            self.header_rows.push(row);
        }
        Ok(())
    }

    fn grow(&mut self, col: ColNum) {
        let needed = col as usize + 1;
        if self.widths.len() < needed {
            self.widths.resize(needed, 0.0);
            self.maxima.resize(needed, MAX_WIDTH);
            self.wrap.resize(needed, false);
        }
    }

    /// Records that `chars` characters are shown in `col`.
    pub fn fit(&mut self, col: ColNum, chars: usize) {
        self.grow(col);
        let w = &mut self.widths[col as usize];
        *w = w.max(chars as f64);
    }
    /// Text from anywhere (inputs, pipeline): always a string, never a formula.
    pub fn text(
        &mut self,
        row: RowNum,
        col: ColNum,
        text: &str,
        format: &Format,
    ) -> Result<(), XlsxError> {
        let wraps = self.wrap.get(col as usize).copied().unwrap_or(false);
        let wrapped_format;
        let format = if wraps {
            wrapped_format = format.clone().set_text_wrap();
            self.wrapped.push((row, col, text.to_owned()));
            &wrapped_format
        } else {
            format
        };
        if !text.is_empty() {
            self.ws.write_string_with_format(row, col, text, format)?;
        } else {
            self.ws.write_blank(row, col, format)?;
        }
        let longest_line = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        self.fit(col, longest_line);
        Ok(())
    }

    pub fn number(
        &mut self,
        row: RowNum,
        col: ColNum,
        value: f64,
        format: &Format,
        measure: Measure,
    ) -> Result<(), XlsxError> {
        self.ws.write_number_with_format(row, col, value, format)?;
        self.fit(col, measure.display_len(value));
        Ok(())
    }

    /// A count of rows or files: `#,##0`.
    pub fn count(
        &mut self,
        row: RowNum,
        col: ColNum,
        value: usize,
        styles: &Styles,
        total: bool,
    ) -> Result<(), XlsxError> {
        let format = styles.number(Measure::Count.num_format(), total);
        self.number(row, col, value as f64, &format, Measure::Count)
    }

    pub fn blank(&mut self, row: RowNum, col: ColNum, format: &Format) -> Result<(), XlsxError> {
        self.ws.write_blank(row, col, format)?;
        Ok(())
    }

    pub fn date(
        &mut self,
        row: RowNum,
        col: ColNum,
        date: chrono::NaiveDate,
        styles: &Styles,
    ) -> Result<(), XlsxError> {
        self.ws
            .write_number_with_format(row, col, excel_serial(date), &styles.date)?;
        self.fit(col, 10);
        Ok(())
    }

    /// A published figure: the mask symbol as text when the cell is masked,
    /// blank without a value, else the number.
    #[allow(clippy::too_many_arguments)]
    pub fn figure(
        &mut self,
        row: RowNum,
        col: ColNum,
        value: Option<f64>,
        masked: bool,
        symbol: &str,
        measure: Measure,
        styles: &Styles,
        total: bool,
    ) -> Result<(), XlsxError> {
        match value {
            Some(_) if masked => self.text(row, col, symbol, &styles.masked(total)),
            Some(v) if v.is_finite() => {
                let format = styles.number(measure.num_format(), total);
                self.number(row, col, v, &format, measure)
            }
            _ => self.blank(row, col, &styles.line(total)),
        }
    }

    /// Column widths, row heights, filter, frozen header, print setup, title
    /// lines. `last_row` is the table's last row (the header row for an
    /// empty table); free layouts get no filter and no frozen rows.
    pub fn finish(
        self,
        preamble: &Preamble,
        last_row: RowNum,
        styles: &Styles,
        footer: &str,
    ) -> Result<(), XlsxError> {
        let widths: Vec<f64> = self
            .widths
            .iter()
            .zip(&self.maxima)
            .map(|(&w, &max)| (w * 1.1 + 2.0).clamp(MIN_WIDTH, max.max(MIN_WIDTH)))
            .collect();
        for (i, width) in widths.iter().enumerate() {
            self.ws.set_column_width(i as ColNum, *width)?;
        }
        // Applications don't size rows of wrapped text written by a library: do it here.
        let mut lines: std::collections::BTreeMap<RowNum, usize> = Default::default();
        for (row, col, text) in &self.wrapped {
            let width = widths[*col as usize];
            let n = if self.header_rows.contains(row) {
                header_lines(text, width)
            } else {
                wrapped_lines(text, width)
            };
            let entry = lines.entry(*row).or_insert(1);
            *entry = (*entry).max(n);
        }
        for (row, n) in lines {
            let header = self.header_rows.contains(&row);
            if n > 1 || header {
                // Bold headers need a little more than a plain line.
                let extra = if header { 4.0 } else { 1.0 };
                self.ws
                    .set_row_height(row, n as f64 * LINE_HEIGHT + extra)?;
            }
        }
        let (last_col, width) = if self.declared > 0 {
            (self.declared - 1, widths[..self.declared].iter().sum())
        } else {
            (widths.len().saturating_sub(1), widths.iter().sum())
        };
        let last_col = last_col as ColNum;
        if self.declared > 0 {
            self.ws.autofilter(self.header_row, 0, last_row, last_col)?;
            self.ws.set_freeze_panes(self.header_row + 1, 0)?;
        }
        write_preamble(self.ws, preamble, last_col, width, styles)?;
        let repeat = (self.declared > 0).then_some(self.header_row);
        print_setup(self.ws, repeat, footer)?;
        Ok(())
    }
}

/// The title lines above a table: merged across its width, notes wrapped
/// with a row height that fits them.
pub fn write_preamble(
    ws: &mut Worksheet,
    preamble: &Preamble,
    last_col: ColNum,
    total_width: f64,
    styles: &Styles,
) -> Result<(), XlsxError> {
    for (row, (text, kind)) in preamble.lines.iter().enumerate() {
        let row = row as RowNum;
        match kind {
            LineKind::Title => {
                // A title stays on one line and may run over the empty cells to its right.
                ws.write_string_with_format(row, 0, text, &styles.title)?;
                ws.set_row_height(row, 21.0)?;
            }
            LineKind::Banner | LineKind::Note => {
                let format = if *kind == LineKind::Banner {
                    &styles.banner
                } else {
                    &styles.note
                };
                if last_col > 0 {
                    ws.merge_range(row, 0, row, last_col, text, format)?;
                } else {
                    ws.write_string_with_format(row, 0, text, format)?;
                }
                let height = if *kind == LineKind::Banner {
                    21.0
                } else {
                    wrapped_lines(text, total_width) as f64 * LINE_HEIGHT + 2.0
                };
                ws.set_row_height(row, height)?;
            }
        }
    }
    Ok(())
}

/// Landscape A4, one page wide, header row repeated, page numbers.
pub fn print_setup(
    ws: &mut Worksheet,
    header_row: Option<RowNum>,
    footer: &str,
) -> Result<(), XlsxError> {
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    if let Some(row) = header_row {
        ws.set_repeat_rows(row, row)?;
    }
    ws.set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3);
    // `&` starts a code in headers and footers; Excel caps them at 255 characters.
    let footer: String = footer.replace('&', "&&").chars().take(150).collect();
    ws.set_footer(format!("&L&8{footer}&R&8Page &P / &N"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_cut_at_a_word_without_a_dangling_article() {
        let mut used = vec!["Synthèse".to_owned()];
        assert_eq!(
            sheet_name("Insertion des bénéficiaires du RSA", &mut used),
            "Insertion des bénéficiaires"
        );
        assert_eq!(
            sheet_name("Prévention des sorties sèches de l'ASE", &mut used),
            "Prévention des sorties sèches"
        );
        assert_eq!(sheet_name("Accueil social", &mut used), "Accueil social");
        assert_eq!(sheet_name("synthèse", &mut used), "synthèse (2)");
        assert_eq!(sheet_name("a/b: c*d?[e]", &mut used), "a-b- c-d--e-");
        assert_eq!(sheet_name("'quoted'", &mut used), "quoted");
        let long = sheet_name(&"x".repeat(40), &mut used);
        assert_eq!(long.chars().count(), 31);
        let again = sheet_name(&"x".repeat(40), &mut used);
        assert!(again.ends_with(" (2)") && again.chars().count() <= 31);
        assert!(used.iter().all(|n| n.chars().count() <= 31));
    }

    #[test]
    fn bold_headers_wrap_where_plain_text_would_not() {
        // The width its column gets: 16 characters counted, as `Sheet::header` does.
        let width = 16.0 * 1.1 + 2.0;
        assert_eq!(wrapped_lines("Montant conventionné", width), 1);
        assert_eq!(header_lines("Montant conventionné", width), 2);
        assert_eq!(header_lines("Montant payé", width), 1);
    }

    #[test]
    fn wrapped_lines_count_words() {
        assert_eq!(wrapped_lines("", 10.0), 1);
        assert_eq!(wrapped_lines("abc def", 20.0), 1);
        assert_eq!(wrapped_lines("abcd efgh ijkl", 11.0), 2);
        assert_eq!(wrapped_lines("a\nb", 20.0), 2);
        assert_eq!(wrapped_lines(&"x".repeat(25), 11.0), 3);
    }
}
