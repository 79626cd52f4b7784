//! `suivi sample`: synthetic partner files for demos, tests and benchmarks.

use crate::failure::Result;
use std::path::PathBuf;
use suivi_sample::SampleOptions;

#[derive(clap::Args, Debug)]
pub struct SampleArgs {
    /// The year the files cover.
    #[arg(long)]
    year: i32,
    /// 1 is the real Loire (about 250,000 CAF rows a year); 0.1 a tenth of it.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Same seed, same files, byte for byte.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the files (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Write the files the way real exports drift, with documented bad rows (expected_rejects.csv).
    #[arg(long, conflicts_with = "csv")]
    messy: bool,
    /// Write every sheet as its own CSV file (`<workbook>_<sheet>.csv`), the
    /// CAF rows streamed: for national scales (`--scale 100`, 25 million rows).
    #[arg(long)]
    csv: bool,
}

pub fn run(args: SampleArgs) -> Result<()> {
    if !(args.scale > 0.0 && args.scale <= 1000.0) {
        return Err(suivi_core::Error::Usage(format!(
            "--scale {} must be above 0 and at most 1000",
            args.scale
        ))
        .into());
    }
    let options = SampleOptions {
        year: args.year,
        scale: args.scale,
        seed: args.seed,
        messy: args.messy,
    };
    let written = if args.csv {
        suivi_sample::write_csv(&options, &args.out)?
    } else {
        suivi_sample::write(&suivi_sample::build(&options), &options, &args.out)?
    };
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
