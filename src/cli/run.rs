//! `suivi run`: the main job, from partner files to published outputs.

use super::PipelineArgs;
use std::path::PathBuf;
use suivi::Result;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// The output folder (created if missing).
    #[arg(long, default_value = "outputs")]
    out: PathBuf,
    /// `publique` (default): small counts masked, publishable. `interne`:
    /// unmasked figures for the département's own statisticians, every file
    /// named `_interne` and marked restricted.
    #[arg(long, value_enum, default_value_t = Diffusion::Publique)]
    diffusion: Diffusion,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Diffusion {
    Publique,
    Interne,
}

pub fn run(args: RunArgs) -> Result<()> {
    let pipeline = args.pipeline.load()?;
    let options = suivi::run::RunOptions {
        out: args.out.clone(),
        internal: args.diffusion == Diffusion::Interne,
    };
    let outcome = suivi::run::run(&pipeline, &options)?;
    let rejected: usize = outcome.files.iter().map(|f| f.rejected()).sum();
    let read: usize = outcome.files.iter().map(|f| f.rows_read).sum();
    eprintln!(
        "{} {}: {} rows read in {} files, {rejected} rejected; {} indicators{}",
        pipeline.settings.departement,
        pipeline.year,
        read,
        outcome.files.len(),
        outcome.computed.indicators.len(),
        if outcome.has_previous {
            ", compared with the previous year"
        } else {
            ""
        }
    );
    for path in &outcome.outputs {
        println!("{}", path.display());
    }
    Ok(())
}
