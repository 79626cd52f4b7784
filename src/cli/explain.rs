//! `suivi explain`: one published cell, its figure and the partner rows
//! that make it (the whole listing with `--out`).

use super::PipelineArgs;
use super::run::Diffusion;
use std::io::Write;
use std::path::PathBuf;
use suivi_core::explain::{self, Explanation, write};
use suivi_core::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// The indicator's id, e.g. RSA-05.
    indicator: String,
    /// A territory (default: the département).
    #[arg(long)]
    territoire: Option<String>,
    /// A month of the year: 3, 03/2020 or 2020-03 (default: the year).
    #[arg(long)]
    mois: Option<String>,
    /// A breakdown value, e.g. CAF (default: the indicator's total).
    #[arg(long)]
    ventilation: Option<String>,
    /// `publique` (default): a masked cell is refused (exit 5) with the
    /// reason. `interne`: every cell is explained.
    #[arg(long, value_enum, default_value_t = Diffusion::Publique)]
    diffusion: Diffusion,
    /// Write the whole listing: FILE.csv (UTF-8, `;`) or FILE.xlsx (a
    /// workbook marked for internal use).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// How many lines of the listing to print.
    #[arg(long, default_value_t = 20)]
    show: usize,
}

pub fn run(args: ExplainArgs) -> Result<()> {
    let pipeline = args.pipeline.load()?;
    let cell = explain::Cell {
        indicator: args.indicator.clone(),
        territory: args.territoire.clone(),
        month: args.mois.clone(),
        breakdown: args.ventilation.clone(),
        internal: args.diffusion == Diffusion::Interne,
    };
    let explanation = explain::explain(&pipeline, &cell)?;
    if let Some(path) = &args.out {
        write::write(&pipeline, &explanation, path)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    print(&mut out, &explanation, args.show, args.out.as_deref())
        .map_err(|e| Error::io("writing to stdout", e))
}

fn print(
    out: &mut impl Write,
    e: &Explanation,
    show: usize,
    written: Option<&std::path::Path>,
) -> std::io::Result<()> {
    let period = match e.month {
        Some(m) => format!("{m:02}/{}", e.year),
        None => e.year.to_string(),
    };
    let breakdown = e
        .breakdown
        .as_ref()
        .map(|b| format!(", {b}"))
        .unwrap_or_default();
    writeln!(
        out,
        "{} {} ({}), {}, {period}{breakdown}",
        e.indicator,
        e.label,
        e.kind.name(),
        e.territory
    )?;
    let figure = |v: Option<f64>| write::number(v).chars().take(14).collect::<String>();
    writeln!(
        out,
        "value {}  numerator {}  denominator {}",
        or_dash(figure(e.value)),
        or_dash(figure(e.numerator)),
        or_dash(figure(e.denominator))
    )?;
    writeln!(
        out,
        "{} units, {} partner rows (checked: the contributions give the published figure)",
        e.units,
        e.lines.len()
    )?;
    let mut header: Vec<String> = write::COLUMNS.iter().map(|c| c.to_string()).collect();
    header.extend(e.columns.iter().cloned());
    let records: Vec<Vec<String>> = write::records(e).into_iter().take(show).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            records
                .iter()
                .map(|r| r[c].chars().count())
                .chain(std::iter::once(header[c].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "\n{}", line(&header))?;
    for record in &records {
        writeln!(out, "{}", line(record))?;
    }
    match written {
        Some(path) => writeln!(out, "\nthe whole listing: {}", path.display()),
        None if e.lines.len() > records.len() => writeln!(
            out,
            "... and {} more lines (--out FILE.csv or FILE.xlsx writes them all)",
            e.lines.len() - records.len()
        ),
        None => Ok(()),
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}
