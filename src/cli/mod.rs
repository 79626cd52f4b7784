//! One module per subcommand, each with a `run` taking its parsed arguments.

mod bench;
mod bilan;
mod catalog;
mod check;
mod delivery;
mod explain;
mod inspect;
mod run;
mod sample;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  internal error (a bug, or an output that could not be written)
  2  bad command line or pipeline file
  3  inputs failed validation (missing file, sheet or column, unreadable file, reject rate over the limit,
     or with --strict a delivery that stops early)
  4  another run holds the lock on the output folder
  5  explain, public diffusion: the cell is masked (the message says why)";

#[derive(Parser, Debug)]
#[command(name = "suivi", version, about = "Indicators of a département's poverty convention, from its partners' spreadsheets", after_help = EXIT_CODES)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(ClapArgs, Debug)]
pub struct LogArgs {
    /// More detail in logs (-v: debug, -vv: trace; default: info).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors in logs (nothing on stderr for a run that succeeds).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read every source, compute every indicator, write the outputs.
    Run(run::RunArgs),
    /// Several years of the convention side by side: bilan_convention_<Y1>-<Y2>.xlsx and .csv.
    Bilan(bilan::BilanArgs),
    /// Time end-to-end runs on generated samples against the read/write floor.
    Bench(bench::BenchArgs),
    /// Print the pipeline's indicator catalogue (table, CSV or Markdown).
    Catalog(catalog::CatalogArgs),
    /// One published cell and the partner rows that make it.
    Explain(explain::ExplainArgs),
    /// Validate a pipeline file and read every source, without writing reports.
    Check(check::CheckArgs),
    /// Show a spreadsheet's sheets, header row and columns, to write a source mapping.
    Inspect(inspect::InspectArgs),
    /// Write synthetic partner files (seeded, realistic volumes).
    Sample(sample::SampleArgs),
}

/// `progress`: whether a progress display may be drawn (stderr is a terminal,
/// logs are plain text and not quiet).
pub fn dispatch(command: Command, progress: bool) -> crate::failure::Result<()> {
    match command {
        Command::Run(args) => Ok(run::run(args, progress)?),
        Command::Bench(args) => bench::run(args),
        Command::Bilan(args) => Ok(bilan::run(args)?),
        Command::Catalog(args) => Ok(catalog::run(args)?),
        Command::Check(args) => Ok(check::run(args)?),
        Command::Explain(args) => Ok(explain::run(args)?),
        Command::Inspect(args) => Ok(inspect::run(args)?),
        Command::Sample(args) => sample::run(args),
    }
}

impl LogArgs {
    /// Progress bars only for a person at a terminal, never in cron output or JSON logs.
    pub fn allows_progress(&self) -> bool {
        !self.quiet
            && self.log_format == LogFormat::Text
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
    }
}

pub fn init_logging(args: &LogArgs) {
    let level = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SUIVI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("suivi={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match args.log_format {
        LogFormat::Text => builder.without_time().init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The pipeline and the overrides shared by `check` and `run`.
#[derive(ClapArgs, Debug)]
pub struct PipelineArgs {
    /// The pipeline file (TOML).
    pub pipeline: PathBuf,
    /// The year to process (default: the pipeline's `year`).
    #[arg(long)]
    pub year: Option<i32>,
    /// The folder of input files (default: the pipeline's `inputs`).
    #[arg(long)]
    pub inputs: Option<PathBuf>,
}

/// The run's date, against which each delivery's last month is judged.
#[derive(ClapArgs, Debug)]
pub struct DeliveryArgs {
    /// The run's date, AAAA-MM-JJ (default: today). A past year's deliveries
    /// must reach December; the current year's, this month less the
    /// source's `max_lag_months`. Never written into a workbook.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Exit 3, writing nothing, when a delivery stops earlier than expected.
    #[arg(long)]
    pub strict: bool,
}

impl DeliveryArgs {
    pub fn run_date(&self) -> chrono::NaiveDate {
        self.as_of
            .unwrap_or_else(|| chrono::Local::now().date_naive())
    }
}

impl PipelineArgs {
    pub fn load(&self) -> suivi_core::Result<suivi_core::pipeline::Pipeline> {
        if let Some(year) = self.year
            && !suivi_core::pipeline::YEARS.contains(&year)
        {
            return Err(suivi_core::Error::Usage(format!(
                "--year {year} is not a plausible year"
            )));
        }
        suivi_core::pipeline::load(&self.pipeline, self.year, self.inputs.as_deref())
    }
}
