//! One run end to end: lock the output folder, read, compute (the year and,
//! when its files are there, the previous one), protect, write every output
//! atomically, then the manifest.

use crate::confidentiality;
use crate::delivery;
use crate::error::{Error, Result};
use crate::file_hash::HashBook;
use crate::indicators::double_entries::{self, DoubleEntries};
use crate::indicators::rows::{self, CellKey};
use crate::indicators::{self, Computed, lineage};
use crate::ingest::{self, FileReport, pseudo::Pseudonymizer};
use crate::output::manifest::{self, Manifest};
use crate::pipeline::Pipeline;
use crate::reference::Reference;
use crate::report::{Confidentiality, CsvReader, ReportContext, workbooks};
use crate::report::{changes, indicator_table};
use chrono::NaiveDate;
use polars::prelude::{DataFrame, DataType};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

/// What the command line decides about a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    /// Internal mode: unmasked figures for the département's own statisticians.
    pub internal: bool,
    /// Skip the run when the manifest shows the same inputs, pipeline and tool.
    pub if_changed: bool,
    /// The run's date (`--as-of`, default today): what deliveries are
    /// expected to cover. It never reaches a workbook.
    pub run_date: NaiveDate,
    /// A late delivery stops the run before anything is written.
    pub strict: bool,
}

pub enum RunResult {
    /// `--if-changed` found nothing new: nothing was rewritten.
    Unchanged,
    Done(Box<Outcome>),
}

pub struct Outcome {
    pub files: Vec<FileReport>,
    /// The latest date in the inputs (capped at the end of the next year):
    /// what the outputs show as their as-of date and creation time, so that
    /// identical inputs give identical bytes.
    pub as_of: NaiveDate,
    pub computed: Computed,
    pub rows: Vec<rows::Row>,
    pub outputs: Vec<PathBuf>,
    /// Whether the previous year's figures could be computed.
    pub has_previous: bool,
    /// The previous year's deliveries missing, described for readers.
    pub previous_missing: Vec<String>,
    /// Published cells whose value changed since the previous run into the
    /// folder; None with no previous run.
    pub changed_cells: Option<usize>,
    /// The deliveries that stop earlier than the run's date lets one expect.
    pub late: Vec<delivery::Late>,
}

/// One year read and computed.
pub struct Year {
    pub files: Vec<FileReport>,
    pub computed: Computed,
    pub double_entries: DoubleEntries,
    pub as_of: NaiveDate,
    /// The months each time-placed source covers.
    pub deliveries: Vec<delivery::Delivery>,
}

/// Reads and computes one year, noting the time of each stage in `timings`.
pub fn compute_year(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
    known_hashes: &HashBook,
    timings: &mut Timings,
) -> Result<Year> {
    let tables = timings.time("read", || {
        ingest::read_sources(
            pipeline,
            reference,
            pseudonymizer,
            known_hashes,
            &indicators::unbuilt_columns(pipeline),
        )
    })?;
    ingest::enforce_reject_limit(pipeline, &tables)?;
    let mut files = Vec::new();
    let mut frames = BTreeMap::new();
    for table in tables {
        files.extend(table.files);
        frames.insert(table.name, table.frame);
    }
    let as_of = latest_date(pipeline.year, &frames);
    let deliveries = delivery::deliveries(pipeline, frames.iter().map(|(n, f)| (n.as_str(), f)));
    for (source, columns) in indicators::drop_unused_columns(pipeline, &mut frames) {
        tracing::debug!(
            source,
            columns = columns.join(", "),
            "columns no query reads, dropped"
        );
    }
    let (double_entries, computed) = timings.time("compute", || {
        let double_entries = double_entries::find(pipeline, &frames, &files, reference)?;
        Ok::<_, Error>((
            double_entries,
            indicators::compute(pipeline, frames, reference)?,
        ))
    })?;
    Ok(Year {
        files,
        computed,
        double_entries,
        as_of,
        deliveries,
    })
}

/// Milliseconds per stage, and who wants to hear when a stage starts.
#[derive(Default)]
pub struct Timings<'a> {
    pub ms: BTreeMap<String, u64>,
    on_stage: Option<&'a (dyn Fn(&str) + Sync)>,
}

impl Timings<'_> {
    pub fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        if let Some(on_stage) = self.on_stage {
            on_stage(stage);
        }
        let start = Instant::now();
        let result = f();
        *self.ms.entry(stage.to_owned()).or_default() += start.elapsed().as_millis() as u64;
        result
    }
}

fn latest_date(year: i32, frames: &BTreeMap<String, DataFrame>) -> NaiveDate {
    let cap = NaiveDate::from_ymd_opt(year + 1, 12, 31).expect("valid date");
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    frames
        .values()
        .flat_map(|f| f.columns())
        .filter(|c| c.dtype() == &DataType::Date)
        .filter_map(|c| {
            c.as_materialized_series()
                .date()
                .ok()?
                .physical()
                .iter()
                .flatten()
                .max()
        })
        .filter_map(|days| epoch.checked_add_signed(chrono::Duration::days(days as i64)))
        .filter(|d| *d <= cap)
        .max()
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 12, 31).expect("valid date"))
}

/// The previous year's published values, for the indicators whose sources
/// are all in the input folder for that year (None when no indicator's
/// are), and the deliveries of that year that are missing or cannot be used,
/// described for readers: the indicators reading them have no N-1 value.
type Previous = (Option<HashMap<CellKey, Option<f64>>>, Vec<String>);

fn previous_year(
    pipeline: &Pipeline,
    reference: &Reference,
    pseudonymizer: &Pseudonymizer,
    known_hashes: &HashBook,
    internal: bool,
) -> Previous {
    let mut previous = pipeline.clone();
    previous.year -= 1;
    let missing = ingest::missing_sources(&previous);
    let absent: BTreeSet<String> = missing.iter().map(|m| m.source.clone()).collect();
    let missing = ingest::describe_all(&missing);
    for file in &missing {
        tracing::warn!(
            year = previous.year,
            "previous year's delivery missing, no N-1 value for the indicators that read it: {file}"
        );
    }
    let narrowed = lineage::narrowed(&previous, |indicator| {
        lineage::sources_of(&previous, indicator).is_disjoint(&absent)
    });
    if narrowed.indices.is_empty() {
        return (None, missing);
    }
    let previous = narrowed.pipeline;
    let year = compute_year(
        &previous,
        reference,
        pseudonymizer,
        known_hashes,
        &mut Timings::default(),
    );
    match year {
        Ok(year) => {
            let mut rows = rows::rows(&previous, &year.computed, None);
            // A cell masked in last year's publication stays hidden as N-1.
            // Nothing of last year is shown rather than something unprotected.
            if !internal && let Err(e) = confidentiality::protect(&previous, &mut rows) {
                tracing::warn!(year = previous.year, "no N-1 comparison: {e}");
                return (None, missing);
            }
            let values = rows
                .into_iter()
                .map(|r| (r.key(), if r.masked { None } else { r.value }))
                .collect();
            (Some(values), missing)
        }
        Err(e) => {
            tracing::warn!(
                year = previous.year,
                "the previous year's files can't be used, no N-1 comparison: {e}"
            );
            (None, missing)
        }
    }
}

/// Runs the pipeline; `on_stage` hears the name of each stage as it starts
/// (a progress display on a terminal).
pub fn run(
    pipeline: &Pipeline,
    options: &RunOptions,
    on_stage: Option<&(dyn Fn(&str) + Sync)>,
) -> Result<RunResult> {
    let out = &options.out;
    let _lock = open_output_folder(out)?;
    crate::output::set::recover(out)?;
    let diffusion = if options.internal {
        "interne"
    } else {
        "publique"
    };
    let manifest_name = manifest::file_name(pipeline.year, options.internal);
    // Without --if-changed, the readers hash the inputs beside parsing them
    // and the fingerprint is made afterwards from their hashes: hashing a
    // national CAF file first kept one core busy and the other idle.
    let known_hashes = HashBook::default();
    let mut early_fingerprint = None;
    if options.if_changed {
        let fingerprint = manifest::fingerprint(pipeline, diffusion, &known_hashes)?;
        if manifest::is_current(out, &manifest_name, &fingerprint) {
            return Ok(RunResult::Unchanged);
        }
        early_fingerprint = Some(fingerprint);
    }
    let started_at = chrono::Local::now().to_rfc3339();
    let mut timings = Timings {
        ms: BTreeMap::new(),
        on_stage,
    };

    let reference = Reference::load(pipeline)?;
    let pseudonymizer = Pseudonymizer::from_env()?;
    let Year {
        files,
        computed,
        double_entries,
        as_of,
        deliveries,
    } = compute_year(
        pipeline,
        &reference,
        &pseudonymizer,
        &known_hashes,
        &mut timings,
    )?;
    let late = delivery::late(&deliveries, pipeline.year, options.run_date);
    for late in &late {
        tracing::warn!(
            source = late.source,
            "delivery {} (run date {})",
            late.message(),
            options.run_date
        );
    }
    if options.strict && !late.is_empty() {
        return Err(delivery::strict_error(&late));
    }
    let (previous, previous_missing) = timings.time("previous_year", || {
        previous_year(
            pipeline,
            &reference,
            &pseudonymizer,
            &known_hashes,
            options.internal,
        )
    });
    let fingerprint = match early_fingerprint {
        Some(fingerprint) => fingerprint,
        None => manifest::fingerprint(pipeline, diffusion, &known_hashes)?,
    };
    let mut rows = rows::rows(pipeline, &computed, previous.as_ref());
    if !options.internal {
        timings.time("confidentiality", || {
            confidentiality::protect(pipeline, &mut rows)
        })?;
    }

    let symbol = &pipeline.settings.mask_symbol;
    let table_name =
        crate::output::file_name(pipeline.year, options.internal, "indicateurs", "csv");
    let previous_run = manifest::read(out, &manifest_name);
    let changes = changes::since_previous_run(
        out,
        &table_name,
        previous_run.as_ref().map(|m| m.inputs.as_slice()),
        &rows,
        symbol,
        &files,
    );
    let context = ReportContext {
        pipeline,
        rows: &rows,
        changes: &changes,
        files: &files,
        findings: &computed.findings,
        coverage: &computed.coverage,
        double_entries: &double_entries,
        as_of,
        deliveries: &deliveries,
        has_previous: previous.is_some(),
        previous_missing: &previous_missing,
        confidentiality: Confidentiality {
            threshold: pipeline.settings.confidentiality_threshold,
            symbol: pipeline.settings.mask_symbol.clone(),
            internal: options.internal,
        },
    };
    let tag = format!(
        "{}{}",
        pipeline.year,
        if options.internal { "_interne" } else { "" }
    );
    let staging = crate::output::set::Staging::begin(out, &tag)?;
    let staged = staging.dir().to_owned();
    let outputs = timings.time("write", || -> Result<Vec<PathBuf>> {
        let mut outputs = vec![
            indicator_table::write_csv(
                &staged.join(context.file_name("indicateurs", "csv")),
                &rows,
                &context.confidentiality.symbol,
                CsvReader::Tools,
            )?,
            indicator_table::write_csv(
                &staged.join(context.file_name("indicateurs_excel", "csv")),
                &rows,
                &context.confidentiality.symbol,
                CsvReader::FrenchExcel,
            )?,
            indicator_table::write_parquet(
                &staged.join(context.file_name("indicateurs", "parquet")),
                &rows,
            )?,
            changes::write_csv(
                &staged.join(context.file_name("changements", "csv")),
                &changes,
                CsvReader::Tools,
            )?,
            changes::write_csv(
                &staged.join(context.file_name("changements_excel", "csv")),
                &changes,
                CsvReader::FrenchExcel,
            )?,
        ];
        outputs.extend(workbooks::write_all(&context, &staged)?);
        Ok(outputs)
    })?;
    let manifest = Manifest {
        tool: crate::TOOL_VERSION.to_owned(),
        pipeline: pipeline.path.display().to_string(),
        year: pipeline.year,
        diffusion: diffusion.to_owned(),
        fingerprint,
        inputs: files.iter().map(manifest::Input::from_report).collect(),
        outputs: outputs
            .iter()
            .map(|p| {
                Ok(manifest::Output {
                    file: p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    sha256: manifest::sha256_file(p)?,
                })
            })
            .collect::<Result<_>>()?,
        started_at,
        run_date: Some(options.run_date.to_string()),
        deliveries: deliveries
            .iter()
            .map(|d| manifest::Delivery::new(d, pipeline.year, options.run_date))
            .collect(),
        timings_ms: timings.ms,
        peak_memory_mib: manifest::peak_memory_mib(),
    };
    manifest::write(&staged, &manifest_name, &manifest)?;
    let mut names: Vec<String> = manifest.outputs.iter().map(|o| o.file.clone()).collect();
    // Last: a manifest in place says that its set is complete.
    names.push(manifest_name);
    let outputs = staging.commit(&names)?;
    Ok(RunResult::Done(Box::new(Outcome {
        changed_cells: changes.previous_run.then_some(changes.cells.len()),
        late,
        files,
        as_of,
        has_previous: previous.is_some(),
        previous_missing,
        computed,
        rows,
        outputs,
    })))
}

/// Creates the output folder if its parent exists, takes its lock and
/// removes what an interrupted run left there.
pub fn open_output_folder(out: &std::path::Path) -> Result<crate::output::lock::RunLock> {
    if !out.is_dir() {
        // An unmounted share must not silently get a local copy.
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
        if parent.is_some_and(|p| !p.is_dir()) {
            return Err(Error::Usage(format!(
                "the output folder {} can't be created: its parent folder does not exist \
                 (create it, or check that the share is mounted)",
                out.display()
            )));
        }
        std::fs::create_dir(out)
            .map_err(|e| Error::io(format!("creating the output folder {}", out.display()), e))?;
    }
    let lock = crate::output::lock::acquire(out)?;
    remove_stale_temporaries(out);
    Ok(lock)
}

/// Temporary files a killed run left behind (we hold the lock: no run is writing them).
fn remove_stale_temporaries(out: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(crate::output::TEMP_PREFIX)
        {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(
                    "removed {}, left by an interrupted run",
                    entry.path().display()
                ),
                Err(e) => tracing::warn!("cannot remove {}: {e}", entry.path().display()),
            }
        }
    }
}
