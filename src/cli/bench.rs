//! `suivi bench`: the benchmark (build with `--release`).

use crate::bench::{self, BenchOptions, Delivery};
use crate::failure::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The pipeline to run.
    #[arg(long, default_value = "pipelines/loire.toml")]
    pipeline: PathBuf,
    /// Sample scales (1 is the real Loire, about 250,000 CAF rows).
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    scales: Vec<f64>,
    /// Deliveries measured at each scale: clean files, messy ones, or both
    /// (messy samples are workbooks: none from --csv-from-scale on).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "clean,messy")]
    deliveries: Vec<Delivery>,
    /// Runs per scale and delivery; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// From this scale on, every source is generated as CSV (no spreadsheet
    /// holds a national dataset) and read through a copy of the pipeline
    /// naming those files.
    #[arg(long, default_value_t = 20.0)]
    csv_from_scale: f64,
    /// Where to write samples and outputs and keep them for inspection
    /// (default: a temporary folder, removed at the end; scale 100 needs
    /// about 1.3 GB).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; run `cargo run --release -- bench` for meaningful figures"
        );
    }
    // Removed when it goes out of scope, after the figures are printed.
    let temporary;
    let dir = match args.dir {
        Some(dir) => dir,
        None => {
            temporary = tempfile::Builder::new()
                .prefix("suivi-bench-")
                .tempdir()
                .map_err(|e| suivi_core::Error::io("creating a temporary folder", e))?;
            temporary.path().to_owned()
        }
    };
    let options = BenchOptions {
        pipeline: args.pipeline,
        scales: args.scales,
        deliveries: args.deliveries,
        runs: args.runs.max(1),
        seed: args.seed,
        dir,
        csv_from_scale: args.csv_from_scale,
    };
    let figures = bench::bench(&options, &|message| eprintln!("{message}"))?;
    println!("{}", bench::table(&figures));
    println!("{}", bench::sources_table(&figures));
    println!("{}", bench::files_table(&figures));
    println!("{}", bench::alone_table(&figures));
    for delivery in [Delivery::Clean, Delivery::Messy] {
        let of: Vec<&bench::ScaleFigures> =
            figures.iter().filter(|f| f.delivery == delivery).collect();
        if let [first, rest @ ..] = &of[..] {
            let per_row =
                |f: &bench::ScaleFigures| f.end_to_end.as_secs_f64() / f.input_rows.max(1) as f64;
            for f in rest {
                println!(
                    "{}: time per input row at scale {} / at scale {}: {:.2} (1.00 is linear)",
                    delivery.name(),
                    f.scale,
                    first.scale,
                    per_row(f) / per_row(first)
                );
            }
        }
    }
    for messy in figures.iter().filter(|f| f.delivery == Delivery::Messy) {
        if let Some(clean) = figures
            .iter()
            .find(|f| f.scale == messy.scale && f.delivery == Delivery::Clean)
        {
            println!(
                "end to end, messy / clean at scale {}: {:.2}",
                messy.scale,
                messy.end_to_end.as_secs_f64() / clean.end_to_end.as_secs_f64()
            );
        }
    }
    Ok(())
}
