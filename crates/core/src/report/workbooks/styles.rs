//! The cell formats the three workbooks share, and their document properties.

use super::french::{NO, YES, french_date};
use super::measure::DATE;
use crate::report::ReportContext;
use rust_xlsxwriter::{
    ColNum, Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, RowNum,
    Workbook, Worksheet, XlsxError,
};

/// Printed on every sheet of an internal-mode workbook, and set as its status.
pub const RESTRICTED_BANNER: &str = "DIFFUSION RESTREINTE - usage interne au Département";

const HEADER_FILL: u32 = 0xDDE5F0;

const TOTAL_FILL: u32 = 0xF2F2F2;

const BANNER_RED: u32 = 0xC00000;

/// Excel's "good" and "bad" cell styles.
const GOOD_FILL: u32 = 0xC6EFCE;

const GOOD_FONT: u32 = 0x006100;

const BAD_FILL: u32 = 0xFFC7CE;

const BAD_FONT: u32 = 0x9C0006;

/// The formats the writers use.
pub struct Styles {
    pub title: Format,
    pub note: Format,
    /// A note on one line, running over the empty cells to its right.
    pub note_line: Format,
    pub banner: Format,
    pub header: Format,
    pub date: Format,
    pub mono: Format,
    pub good: Format,
    pub bad: Format,
    /// Whether this line is a total (bold, shaded): index 1 for totals.
    bold: [Format; 2],
}

impl Styles {
    pub fn new() -> Styles {
        let base = Format::new().set_align(FormatAlign::Top);
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            note: Format::new()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_italic()
                .set_font_color(Color::RGB(0x404040)),
            note_line: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x404040)),
            banner: Format::new()
                .set_bold()
                .set_font_size(12)
                .set_font_color(Color::White)
                .set_background_color(Color::RGB(BANNER_RED))
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(Color::RGB(HEADER_FILL))
                .set_border_bottom(FormatBorder::Thin)
                .set_border_top(FormatBorder::Thin),
            date: base
                .clone()
                .set_num_format(DATE)
                .set_align(FormatAlign::Left),
            mono: base.clone().set_font_name("Consolas").set_font_size(9),
            good: Format::new()
                .set_background_color(Color::RGB(GOOD_FILL))
                .set_font_color(Color::RGB(GOOD_FONT)),
            bad: Format::new()
                .set_background_color(Color::RGB(BAD_FILL))
                .set_font_color(Color::RGB(BAD_FONT)),
            bold: [
                base.clone(),
                base.set_bold()
                    .set_background_color(Color::RGB(TOTAL_FILL))
                    .set_border_top(FormatBorder::Hair),
            ],
        }
    }

    /// Text of a table line, bold and shaded on total lines.
    pub fn line(&self, total: bool) -> Format {
        self.bold[usize::from(total)].clone()
    }

    /// Wrapped text of a table line.
    pub fn line_wrap(&self, total: bool) -> Format {
        self.line(total).set_text_wrap()
    }

    /// A number of a table line.
    pub fn number(&self, num_format: &str, total: bool) -> Format {
        self.line(total)
            .set_num_format(num_format)
            .set_align(FormatAlign::Right)
    }

    /// A masked cell: the symbol, right-aligned like the figures around it.
    pub fn masked(&self, total: bool) -> Format {
        self.line(total).set_align(FormatAlign::Right)
    }
}

/// A new workbook titled `{what} {year} - {département}`, with its
/// document properties.
pub fn workbook(context: &ReportContext, what: &str) -> Result<Workbook, XlsxError> {
    titled_workbook(
        context,
        &format!(
            "{what} {} - {}",
            context.pipeline.year, context.pipeline.settings.departement
        ),
    )
}

/// A new workbook titled `title`, with its document properties.
pub fn titled_workbook(context: &ReportContext, title: &str) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(&properties(context, title)?);
    Ok(workbook)
}

/// Document properties: title, subject, author, company, and a creation
/// time taken from the data's as-of date, never the clock.
fn properties(context: &ReportContext, title: &str) -> Result<DocProperties, XlsxError> {
    use chrono::Datelike;
    let settings = &context.pipeline.settings;
    let created = ExcelDateTime::from_ymd(
        u16::try_from(context.as_of.year()).unwrap_or(1900),
        context.as_of.month() as u8,
        context.as_of.day() as u8,
    )?;
    let mut properties = DocProperties::new()
        .set_title(title)
        .set_subject(&settings.name)
        .set_company(&settings.departement)
        .set_comment(format!(
            "Produit par {}. Données au {}.",
            crate::TOOL_VERSION,
            french_date(context.as_of)
        ))
        .set_creation_datetime(&created);
    if let Some(author) = &settings.author {
        properties = properties.set_author(author);
    }
    if context.confidentiality.internal {
        properties = properties.set_status(RESTRICTED_BANNER);
    }
    Ok(properties)
}

/// The conditional formats colouring a `Oui`/`Non` column green and red.
pub fn yes_no_colours(
    ws: &mut Worksheet,
    first_row: RowNum,
    last_row: RowNum,
    col: ColNum,
    styles: &Styles,
    yes_is_good: bool,
) -> Result<(), XlsxError> {
    use rust_xlsxwriter::{ConditionalFormatCell, ConditionalFormatCellRule};
    if last_row < first_row {
        return Ok(());
    }
    let (yes, no) = if yes_is_good {
        (&styles.good, &styles.bad)
    } else {
        (&styles.bad, &styles.good)
    };
    for (value, format) in [(YES, yes), (NO, no)] {
        let rule = ConditionalFormatCell::new()
            .set_rule(ConditionalFormatCellRule::EqualTo(
                format!("\"{value}\"").as_str(),
            ))
            .set_format(format);
        ws.add_conditional_format(first_row, col, last_row, col, &rule)?;
    }
    Ok(())
}
