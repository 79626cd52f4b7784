//! `suivi inspect`: what a partner file holds, to write its source mapping.
//! Never prints values of columns that look like personal identifiers.

use std::io::Write;
use std::path::PathBuf;
use suivi_core::ingest::{self, guess};
use suivi_core::parse::Cell;
use suivi_core::text::{normalize, shorten};
use suivi_core::{Error, Result};
use suivi_read::{Grid, Sheet, Visibility};

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// A spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods) or a CSV file.
    file: PathBuf,
    /// The sheet to describe (default: the first visible one).
    #[arg(long)]
    sheet: Option<String>,
}

/// Rows looked at to guess the header and the types.
const SAMPLE_ROWS: usize = 2000;

pub fn run(args: InspectArgs) -> Result<()> {
    let sheets = ingest::list_sheets(&args.file)?;
    let opened = ingest::open_grid(&args.file, args.sheet.as_deref())?;
    let grid = opened.grid.as_ref();
    let mut out = std::io::stdout().lock();
    describe(&mut out, &args, &sheets, &opened, grid).map_err(|e| Error::io("writing to stdout", e))
}

fn describe(
    out: &mut impl Write,
    args: &InspectArgs,
    sheets: &[Sheet],
    opened: &ingest::OpenedFile,
    grid: &dyn Grid,
) -> std::io::Result<()> {
    writeln!(out, "file {}", args.file.display())?;
    writeln!(out, "sha256 {}", opened.sha256)?;
    if let Some(encoding) = opened.encoding {
        writeln!(out, "encoding {encoding}")?;
    }
    if !sheets.is_empty() {
        writeln!(out, "sheets:")?;
        for sheet in sheets {
            let mark = match sheet.visibility {
                Visibility::Visible => "",
                Visibility::Hidden => " (hidden)",
                Visibility::VeryHidden => " (very hidden)",
            };
            let chosen = if opened.sheet.as_deref() == Some(sheet.name.as_str()) {
                "  <- described below"
            } else {
                ""
            };
            writeln!(out, "  {}{mark}{chosen}", sheet.name)?;
        }
    }
    let Some(header) = guess::header_row(grid) else {
        let filled = (0..grid.height().min(SAMPLE_ROWS))
            .filter(|&r| (0..grid.width()).any(|c| !grid.cell(r, c).is_blank()))
            .count();
        if filled == 0 {
            writeln!(out, "no data: the sheet is empty")?;
        } else {
            writeln!(
                out,
                "no row of titles: the sheet holds values only (numbers or dates) in {filled} \
                 of its first {} rows and {} columns; give its columns titles in a row above \
                 them, then inspect it again for a mapping",
                grid.height().min(SAMPLE_ROWS),
                grid.width()
            )?;
        }
        return Ok(());
    };
    let last = grid.height().min(header + 1 + SAMPLE_ROWS);
    writeln!(
        out,
        "rows {} (header guessed at row {})",
        grid.height(),
        header + 1
    )?;
    writeln!(out, "columns:")?;
    let titles: Vec<String> = (0..grid.width())
        .map(|col| one_line(&grid.cell(header, col).display()))
        .collect();
    let names = column_names(&titles);
    let mut suggestion = Vec::new();
    for col in 0..grid.width() {
        let title = titles[col].clone();
        let cells: Vec<Cell> = (header + 1..last)
            .map(|r| grid.cell(r, col))
            .filter(|c| !c.is_blank())
            .collect();
        if title.is_empty() && cells.is_empty() {
            continue;
        }
        let kind = guess::column_type(&title, &cells);
        let examples = if kind == "id" {
            "(values not shown: looks like a personal identifier)".to_owned()
        } else {
            examples(&cells)
        };
        let letter = column_letter(col);
        writeln!(out, "  {letter:<3} {title:<40} {kind:<9} {examples}")?;
        // A category needs its values: the ones seen, so that the line pastes as it is.
        let values = if kind == "category" {
            let seen: std::collections::BTreeSet<String> = cells
                .iter()
                .map(|c| c.display().trim().to_owned())
                .collect();
            let quoted: Vec<String> = seen.iter().map(|v| toml_string(v)).collect();
            format!(", values = [{}]", quoted.join(", "))
        } else {
            String::new()
        };
        let line = format!(
            "{{ name = \"{}\", header = {}, type = \"{kind}\"{values} }},",
            names[col],
            toml_string(&title)
        );
        suggestion.push(if title.is_empty() {
            // A pipeline finds a column by its title: this one has none.
            format!("  # {line}  (column {letter} has no title: give it one in the file)")
        } else {
            format!("  {line}")
        });
    }
    writeln!(
        out,
        "\nsuggested mapping (check names, types and `required`):\ncolumns = ["
    )?;
    for line in suggestion {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "]")
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A title on one line: line breaks (Alt+Enter) and other control
/// characters read as spaces, runs of spaces as one. Headers are matched
/// ignoring spaces and punctuation, so this still finds the column.
fn one_line(title: &str) -> String {
    title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A column name a pipeline accepts for each title (SQL: ASCII lowercase
/// letters, digits and `_`, a letter first), distinct: letters transliterated
/// (`Œuvre` gives `oeuvre`), a title starting with a digit prefixed (`2019`
/// gives `c_2019`), an untitled column named from its letter (`colonne_c`),
/// a name met again numbered (`montant_2`).
fn column_names(titles: &[String]) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    titles
        .iter()
        .enumerate()
        .map(|(col, title)| {
            let words: String = normalize(title)
                .chars()
                .map(|c| match c {
                    'œ' => "oe".to_owned(),
                    'æ' => "ae".to_owned(),
                    'ø' => "o".to_owned(),
                    'ß' => "ss".to_owned(),
                    'ł' => "l".to_owned(),
                    'đ' | 'ð' => "d".to_owned(),
                    'þ' => "th".to_owned(),
                    ' ' => "_".to_owned(),
                    c if c.is_ascii_alphanumeric() => c.to_string(),
                    _ => String::new(),
                })
                .collect();
            let base = match words.chars().next() {
                None => format!("colonne_{}", column_letter(col).to_lowercase()),
                Some(c) if c.is_ascii_digit() => format!("c_{words}"),
                Some(_) => words,
            };
            let mut name = base.clone();
            let mut n = 1;
            while !used.insert(name.clone()) {
                n += 1;
                name = format!("{base}_{n}");
            }
            name
        })
        .collect()
}

fn examples(cells: &[Cell]) -> String {
    const SHOWN: usize = 30;
    let mut seen = Vec::new();
    for c in cells {
        let shown = shorten(c.display().trim(), SHOWN);
        if !seen.contains(&shown) {
            seen.push(shown);
        }
        if seen.len() == 4 {
            break;
        }
    }
    seen.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_letter(mut col: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_title_gives_a_name_a_pipeline_accepts() {
        let titles: Vec<String> = [
            "2019",
            "1er RDV",
            "Œuvre sociale",
            "Søren",
            "Montant",
            "Montant",
            "",
            "Date\nd'entrée",
            "N° allocataire",
        ]
        .iter()
        .map(|t| one_line(t))
        .collect();
        assert_eq!(
            column_names(&titles),
            [
                "c_2019",
                "c_1er_rdv",
                "oeuvre_sociale",
                "soren",
                "montant",
                "montant_2",
                "colonne_g",
                "date_d_entree",
                "n_allocataire",
            ]
        );
        assert_eq!(titles[7], "Date d'entrée");
    }

    #[test]
    fn titles_are_escaped_as_toml_strings() {
        let line = format!("x = {}", toml_string("a \"b\" c\\d\u{1}"));
        let value: toml::Value = toml::from_str(&line).expect("valid TOML");
        assert_eq!(value["x"].as_str(), Some("a \"b\" c\\d\u{1}"));
    }
}
