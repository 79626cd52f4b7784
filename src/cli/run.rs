//! `suivi run`: the main job, from partner files to published outputs.

use super::PipelineArgs;
use std::path::PathBuf;
use suivi_core::Result;

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
    /// Do nothing (exit 0) when the manifest of this year and diffusion shows the same inputs, pipeline and tool.
    #[arg(long)]
    if_changed: bool,
    #[command(flatten)]
    delivery: super::DeliveryArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Diffusion {
    Publique,
    Interne,
}

pub fn run(args: RunArgs, progress: bool) -> Result<()> {
    let pipeline = args.pipeline.load()?;
    let options = suivi_core::run::RunOptions {
        out: args.out.clone(),
        internal: args.diffusion == Diffusion::Interne,
        if_changed: args.if_changed,
        run_date: args.delivery.run_date(),
        strict: args.delivery.strict,
    };
    let spinner = progress.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let on_stage = |stage: &str| {
        if let Some(bar) = &spinner {
            bar.set_message(stage.replace('_', " "));
        }
    };
    let result = suivi_core::run::run(&pipeline, &options, Some(&on_stage));
    if let Some(bar) = &spinner {
        bar.finish_and_clear();
    }
    let outcome = match result? {
        suivi_core::run::RunResult::Unchanged => {
            tracing::info!(
                year = pipeline.year,
                "inputs, pipeline and tool unchanged since the last run: nothing rewritten"
            );
            return Ok(());
        }
        suivi_core::run::RunResult::Done(outcome) => outcome,
    };
    let rejected: usize = outcome.files.iter().map(|f| f.rejected()).sum();
    let read: usize = outcome.files.iter().map(|f| f.rows_read).sum();
    let paths: std::collections::BTreeSet<&std::path::Path> =
        outcome.files.iter().map(|f| f.path.as_path()).collect();
    let sheets = outcome.files.iter().filter(|f| f.sheet.is_some()).count();
    let texts = outcome.files.len() - sheets;
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let read_in = match (sheets, texts) {
        (0, _) => count(paths.len(), "file", "files"),
        (_, 0) => format!(
            "{} ({})",
            count(paths.len(), "workbook", "workbooks"),
            count(sheets, "sheet", "sheets")
        ),
        _ => format!(
            "{} ({} and {})",
            count(paths.len(), "file", "files"),
            count(sheets, "sheet of a workbook", "sheets of workbooks"),
            count(texts, "CSV file", "CSV files")
        ),
    };
    tracing::info!(
        year = pipeline.year,
        rows_read = read,
        rejected,
        files = paths.len(),
        indicators = outcome.computed.indicators.len(),
        previous_year = outcome.has_previous,
        changed_cells = outcome.changed_cells,
        late_deliveries = outcome.late.len(),
        late_sources = outcome
            .late
            .iter()
            .map(|l| l.source.as_str())
            .collect::<Vec<_>>()
            .join(","),
        "{} {}: {read} rows read from {read_in}, {rejected} rejected; {} indicators{}; {}",
        pipeline.settings.departement,
        pipeline.year,
        outcome.computed.indicators.len(),
        if outcome.has_previous {
            ", compared with the previous year"
        } else {
            ""
        },
        match outcome.changed_cells {
            Some(n) => format!("{n} published cells changed since the previous run"),
            None => "no previous run to compare with".to_owned(),
        }
    );
    for path in &outcome.outputs {
        println!("{}", path.display());
    }
    Ok(())
}
