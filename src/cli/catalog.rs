//! `suivi catalog`: the pipeline's indicators, for documentation.

use std::io::Write;
use std::path::PathBuf;
use suivi_core::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct CatalogArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Csv,
    Markdown,
}

const HEADER: [&str; 8] = [
    "id",
    "action",
    "libelle",
    "type",
    "table",
    "population",
    "unite",
    "definition",
];

pub fn run(args: CatalogArgs) -> Result<()> {
    let pipeline = suivi_core::pipeline::load(&args.pipeline, None, None)?;
    let rows: Vec<[String; 8]> = pipeline
        .indicators
        .iter()
        .map(|i| {
            [
                i.id().to_owned(),
                i.action.clone(),
                i.label.clone(),
                i.kind.name().to_owned(),
                i.table.clone(),
                i.population.clone().unwrap_or_default(),
                i.unit.clone(),
                i.definition.clone(),
            ]
        })
        .collect();
    let mut buffer = Vec::new();
    match args.format {
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(b';')
                .from_writer(&mut buffer);
            writer
                .write_record(HEADER)
                .and_then(|_| rows.iter().try_for_each(|r| writer.write_record(r)))
                .map_err(|e| Error::io("writing the catalogue", e.into()))?;
            writer
                .flush()
                .map_err(|e| Error::io("writing the catalogue", e))?;
        }
        Format::Markdown => {
            let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
            writeln!(buffer, "| {} |", HEADER.join(" | ")).expect("writing to memory");
            writeln!(buffer, "|{}", "---|".repeat(HEADER.len())).expect("writing to memory");
            for row in &rows {
                writeln!(
                    buffer,
                    "| {} |",
                    row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                )
                .expect("writing to memory");
            }
        }
        Format::Table => {
            for row in &rows {
                writeln!(
                    buffer,
                    "{:<8} {:<9} {:<20} {}",
                    row[0], row[3], row[4], row[2]
                )
                .expect("writing to memory");
                if !row[5].is_empty() {
                    writeln!(buffer, "         population: {}", row[5]).expect("writing to memory");
                }
                writeln!(buffer, "         {}", row[7]).expect("writing to memory");
            }
        }
    }
    match &args.out {
        Some(path) => suivi_core::output::write_atomic(path, |f| {
            f.write_all(&buffer)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))
        })
        .map(|_| ()),
        None => std::io::stdout()
            .write_all(&buffer)
            .map_err(|e| Error::io("writing to stdout", e)),
    }
}
