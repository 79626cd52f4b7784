//! `suivi bilan`: several years of the convention side by side.

use super::run::Diffusion;
use std::path::PathBuf;
use suivi_core::Result;

#[derive(clap::Args, Debug)]
pub struct BilanArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// The first year of the bilan.
    #[arg(long)]
    from: i32,
    /// The last year of the bilan.
    #[arg(long)]
    to: i32,
    /// The folder of input files, holding every year's deliveries (default: the pipeline's `inputs`).
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// The output folder (created if missing).
    #[arg(long, default_value = "outputs")]
    out: PathBuf,
    /// `publique` (default): each year masked as its publication is. `interne`: unmasked, named `_interne`.
    #[arg(long, value_enum, default_value_t = Diffusion::Publique)]
    diffusion: Diffusion,
}

pub fn run(args: BilanArgs) -> Result<()> {
    let pipeline =
        suivi_core::pipeline::load(&args.pipeline, Some(args.to), args.inputs.as_deref())?;
    let options = suivi_core::bilan::BilanOptions {
        out: args.out,
        from: args.from,
        to: args.to,
        internal: args.diffusion == Diffusion::Interne,
    };
    let written = suivi_core::bilan::bilan(&pipeline, &options)?;
    for path in &written {
        println!("{}", path.display());
    }
    tracing::info!(
        from = args.from,
        to = args.to,
        "{} {}-{}: bilan written",
        pipeline.settings.departement,
        args.from,
        args.to
    );
    Ok(())
}
