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
    let opened = ingest::open_grid(&args.file, args.sheet.as_deref(), "auto", "auto")?;
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
        writeln!(out, "no data: the sheet is empty")?;
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
    let mut suggestion = Vec::new();
    for col in 0..grid.width() {
        let title = grid.cell(header, col).display().trim().to_owned();
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
        suggestion.push(format!(
            "  {{ name = \"{}\", header = {}, type = \"{kind}\"{values} }},",
            normalize(&title).replace(' ', "_"),
            toml_string(&title)
        ));
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

/// A TOML basic string: quotes and backslashes escaped.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
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
