//! `suivi bench`: end-to-end runs on generated samples, timed per stage,
//! against the floor no implementation can go under: reading every input
//! cell (calamine, the CSV reader) and writing every output cell
//! (rust_xlsxwriter), measured in the same process and session.

use crate::failure::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use suivi_core::Error;
use suivi_sample::SampleOptions;

/// The year the benchmark simulates and runs.
const YEAR: i32 = 2020;

pub struct BenchOptions {
    pub pipeline: PathBuf,
    pub scales: Vec<f64>,
    pub deliveries: Vec<Delivery>,
    pub runs: usize,
    pub seed: u64,
    /// Where samples and outputs go (kept for inspection).
    pub dir: PathBuf,
    /// Scales from which every source is delivered as CSV (a national
    /// dataset: no spreadsheet holds it), read through a copy of the
    /// pipeline whose sources name those files.
    pub csv_from_scale: f64,
}

/// How the sample's files are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Delivery {
    /// Exactly the layouts of the domain document.
    Clean,
    /// The same records as real exports drift: the generator's messy mode
    /// (titles, reordered and undeclared columns, serial dates, bad rows),
    /// and, where LibreOffice is installed, the Pôle emploi workbook saved
    /// as `.xls` and the finance workbook as `.ods`.
    Messy,
}

impl Delivery {
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Clean => "clean",
            Delivery::Messy => "messy",
        }
    }
}

/// The medians of one scale and delivery.
pub struct ScaleFigures {
    pub scale: f64,
    pub delivery: Delivery,
    /// `xlsx + csv` (as partners deliver) or `csv` (every source).
    pub inputs: &'static str,
    pub input_rows: usize,
    pub end_to_end: Duration,
    pub stages: BTreeMap<String, Duration>,
    pub sources: Vec<SourceFigures>,
    /// Per input file: a workbook that several sources read is opened once
    /// and that opening is carried by whichever source comes first, so a
    /// file's figure is the one comparable between deliveries.
    pub files: Vec<SourceFigures>,
    /// Per file the pipeline names, its sources read by themselves in this
    /// process with every core, from opening the file to their tables: the
    /// sources of a run are read concurrently, so a figure in `files`
    /// depends on what the others cost at the same time.
    pub alone: Vec<SourceFigures>,
    pub peak_memory_mib: f64,
    pub floor_read: Duration,
    pub floor_write: Duration,
}

/// How long one source (or one file, for all the sources that read it)
/// took to read (parsed and typed, before duplicates are looked for across
/// files), median of the runs.
pub struct SourceFigures {
    /// The source's name, or the file's name without its extension (the
    /// messy delivery saves some workbooks in other formats) and the
    /// sources that read it.
    pub source: String,
    /// The extensions of its files (`csv`, `xlsx`, `xls`, `ods`).
    pub format: String,
    pub rows: usize,
    pub read: Duration,
}

impl ScaleFigures {
    pub fn floor(&self) -> Duration {
        self.floor_read + self.floor_write
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    match values.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2,
    }
}

/// Generates each scale's samples, then runs them in turn, one run of each
/// delivery after the other: on a shared machine whose speed drifts within
/// minutes, the clean and messy figures of a run come from the same minute.
pub fn bench(options: &BenchOptions, progress: &dyn Fn(&str)) -> Result<Vec<ScaleFigures>> {
    let mut figures = Vec::new();
    for &scale in &options.scales {
        let all_csv = scale >= options.csv_from_scale;
        let mut samples = Vec::new();
        for &delivery in &options.deliveries {
            let label = label(scale, delivery);
            if all_csv && delivery == Delivery::Messy {
                progress(&format!(
                    "{label}: skipped (from --csv-from-scale on, samples are clean CSV files)"
                ));
                continue;
            }
            let inputs = options
                .dir
                .join(format!("scale-{scale}-{}", delivery.name()));
            progress(&format!("{label}: generating the sample"));
            let pipeline = generate(options, scale, delivery, all_csv, &inputs, progress)?;
            let kind = if all_csv { "csv" } else { "xlsx + csv" };
            let sample = Sample {
                scale,
                delivery,
                kind,
                pipeline,
                inputs,
            };
            let readers = Readers::of(&sample)?;
            samples.push((sample, Measured::default(), readers));
        }
        let groups: BTreeSet<(String, Vec<String>)> = samples
            .iter()
            .flat_map(|(_, _, readers)| file_groups(&readers.pipeline))
            .collect();
        for run in 1..=options.runs {
            for (sample, measured, _) in &mut samples {
                let label = label(sample.scale, sample.delivery);
                progress(&format!("{label}: run {run} of {}", options.runs));
                measured.run(sample, &label)?;
                progress(&format!("{label}: floor {run} of {}", options.runs));
                measured.floor(sample)?;
            }
            // Each file alone, clean and messy back to back: read seconds
            // apart, their ratio moved from one run of the bench to the next.
            progress(&format!(
                "scale {scale}: each file alone, {run} of {}",
                options.runs
            ));
            for (file, sources) in &groups {
                for (_, measured, readers) in &mut samples {
                    measured.read_alone(readers, file, sources)?;
                }
            }
        }
        figures.extend(samples.into_iter().map(|(sample, m, _)| m.figures(&sample)));
    }
    Ok(figures)
}

/// Writes a sample into `inputs`; returns the pipeline that reads it.
fn generate(
    options: &BenchOptions,
    scale: f64,
    delivery: Delivery,
    all_csv: bool,
    inputs: &Path,
    progress: &dyn Fn(&str),
) -> Result<PathBuf> {
    let sample_options = SampleOptions {
        year: YEAR,
        scale,
        seed: options.seed,
        messy: delivery == Delivery::Messy,
    };
    if all_csv {
        suivi_sample::write_csv(&sample_options, inputs)?;
        return Ok(suivi_sample::csv_pipeline(&options.pipeline, inputs)?);
    }
    let written = suivi_sample::write(
        &suivi_sample::build(&sample_options),
        &sample_options,
        inputs,
    )?;
    if delivery == Delivery::Messy {
        // The Pôle emploi and finance workbooks, as older software saves them.
        for (path, format) in [(&written[2], "xls"), (&written[3], "ods")] {
            if !save_as(path, format)? {
                progress(&format!(
                    "LibreOffice (soffice) is not installed: {} stays .xlsx",
                    path.display()
                ));
            }
        }
    }
    Ok(options.pipeline.clone())
}

/// Saves a workbook in another format with LibreOffice, in place of the
/// original; false when LibreOffice is not installed.
fn save_as(path: &Path, format: &str) -> Result<bool> {
    let folder = path.parent().unwrap_or(Path::new("."));
    // A profile of its own: a LibreOffice already open would take the job.
    let profile = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    let status = std::process::Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().display()
        ))
        .args(["--headless", "--convert-to", format, "--outdir"])
        .arg(folder)
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("running LibreOffice", e).into()),
        Ok(status) if !status.success() || !path.with_extension(format).is_file() => {
            Err(Error::Usage(format!(
                "LibreOffice could not save {} as .{format} ({status})",
                path.display()
            ))
            .into())
        }
        Ok(_) => {
            std::fs::remove_file(path)
                .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
            Ok(true)
        }
    }
}

/// How progress messages name a sample.
fn label(scale: f64, delivery: Delivery) -> String {
    format!("scale {scale}, {}", delivery.name())
}

/// A sample written, and the pipeline that reads it.
struct Sample {
    scale: f64,
    delivery: Delivery,
    /// `xlsx + csv` or `csv`.
    kind: &'static str,
    pipeline: PathBuf,
    inputs: PathBuf,
}

/// A sample's figures run after run: its end-to-end times, stages, read
/// times per source and file, peaks and floors.
#[derive(Default)]
struct Measured {
    peaks: Vec<u64>,
    totals: Vec<Duration>,
    stages: BTreeMap<String, Vec<Duration>>,
    sources: ReadsByName,
    files: ReadsByName,
    alone: ReadsByName,
    floor_reads: Vec<Duration>,
    floor_writes: Vec<Duration>,
}

/// What reading a sample's sources in this process takes, loaded once.
struct Readers {
    pipeline: suivi_core::pipeline::Pipeline,
    reference: suivi_core::reference::Reference,
    pseudonymizer: suivi_core::ingest::pseudo::Pseudonymizer,
    unbuilt: BTreeMap<String, BTreeSet<String>>,
}

impl Readers {
    fn of(sample: &Sample) -> Result<Self> {
        let pipeline =
            suivi_core::pipeline::load(&sample.pipeline, Some(YEAR), Some(&sample.inputs))?;
        Ok(Readers {
            reference: suivi_core::reference::Reference::load(&pipeline)?,
            // The pseudonyms are dropped: any key costs the same.
            pseudonymizer: suivi_core::ingest::pseudo::Pseudonymizer::with_key(&[0x5e; 32]),
            unbuilt: suivi_core::indicators::unbuilt_columns(&pipeline),
            pipeline,
        })
    }
}

impl Measured {
    /// Runs `suivi run` on the sample once.
    fn run(&mut self, sample: &Sample, label: &str) -> Result<()> {
        let exe = std::env::current_exe().map_err(|e| Error::io("finding the suivi binary", e))?;
        let out = sample.inputs.join("out");
        let start = Instant::now();
        let status = std::process::Command::new(&exe)
            .args(["-q", "run"])
            .arg(&sample.pipeline)
            .args(["--year", &YEAR.to_string(), "--inputs"])
            .arg(&sample.inputs)
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| Error::io("running suivi", e))?;
        self.totals.push(start.elapsed());
        if !status.success() {
            return Err(
                Error::Usage(format!("the benchmark run failed at {label} ({status})")).into(),
            );
        }
        let manifest = suivi_core::output::manifest::read(
            &out,
            &suivi_core::output::manifest::file_name(YEAR, false),
        )
        .ok_or_else(|| Error::Usage("the run wrote no manifest".into()))?;
        self.peaks.extend(manifest.peak_memory_mib);
        for (stage, ms) in manifest.timings_ms {
            self.stages
                .entry(stage)
                .or_default()
                .push(Duration::from_millis(ms));
        }
        let (by_source, by_file) = read_times(manifest.inputs);
        note(&mut self.sources, by_source);
        note(&mut self.files, by_file);
        Ok(())
    }

    /// Reads the `sources` of one `file` by themselves (those the sample's
    /// pipeline has), in this process, and notes how long that took, from
    /// opening the file to the sources' tables (a run's manifest gives each
    /// source's own read time, and those of a workbook's sources overlap).
    fn read_alone(&mut self, readers: &Readers, file: &str, sources: &[String]) -> Result<()> {
        let mut one = readers.pipeline.clone();
        one.sources.retain(|name, _| sources.contains(name));
        if one.sources.is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        let tables = suivi_core::ingest::read_sources(
            &one,
            &readers.reference,
            &readers.pseudonymizer,
            &Default::default(),
            &readers.unbuilt,
        )?;
        let took = start.elapsed();
        let inputs = tables
            .iter()
            .flat_map(|t| &t.files)
            .map(suivi_core::output::manifest::Input::from_report)
            .collect();
        let (by_source, _) = read_times(inputs);
        let entry = self
            .alone
            .entry(format!("{file} ({})", sources.join(", ")))
            .or_default();
        entry.0 = by_source.values().flat_map(|(f, _, _)| f.clone()).collect();
        entry.1 = by_source.values().map(|(_, rows, _)| rows).sum();
        entry.2.push(took);
        Ok(())
    }

    /// Times the floor of reading the sample's inputs and writing its outputs.
    fn floor(&mut self, sample: &Sample) -> Result<()> {
        self.floor_reads.push(read_floor(&sample.inputs)?);
        self.floor_writes
            .push(write_floor(&sample.inputs.join("out"))?);
        Ok(())
    }

    /// The medians.
    fn figures(self, sample: &Sample) -> ScaleFigures {
        ScaleFigures {
            scale: sample.scale,
            delivery: sample.delivery,
            inputs: sample.kind,
            input_rows: self.sources.values().map(|(_, rows, _)| rows).sum(),
            end_to_end: median(self.totals),
            stages: self
                .stages
                .into_iter()
                .map(|(k, v)| (k, median(v)))
                .collect(),
            sources: source_figures(self.sources),
            files: source_figures(self.files),
            alone: source_figures(self.alone),
            peak_memory_mib: self.peaks.into_iter().max().map_or(f64::NAN, |p| p as f64),
            floor_read: median(self.floor_reads),
            floor_write: median(self.floor_writes),
        }
    }
}

/// The runs' read times by source or file name, with its formats and rows.
type ReadsByName = BTreeMap<String, (BTreeSet<String>, usize, Vec<Duration>)>;

/// One run's formats, rows read and read milliseconds, per source and per
/// input file (named with the sources that read it).
type ReadTimes = BTreeMap<String, (BTreeSet<String>, usize, f64)>;

fn read_times(inputs: Vec<suivi_core::output::manifest::Input>) -> (ReadTimes, ReadTimes) {
    let (mut by_source, mut by_file) = (ReadTimes::new(), ReadTimes::new());
    let mut readers = BTreeMap::<String, BTreeSet<String>>::new();
    for input in inputs {
        let extension = input
            .file
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase());
        let name = stem(&input.file).to_owned();
        readers
            .entry(name.clone())
            .or_default()
            .insert(input.source.clone());
        for entry in [
            by_source.entry(input.source).or_default(),
            by_file.entry(name).or_default(),
        ] {
            entry.0.extend(extension.clone());
            entry.1 += input.rows_read;
            entry.2 += input.read_ms;
        }
    }
    let by_file = by_file
        .into_iter()
        .map(|(name, figures)| {
            let readers = readers[&name].iter().cloned().collect::<Vec<_>>();
            (format!("{name} ({})", readers.join(", ")), figures)
        })
        .collect();
    (by_source, by_file)
}

/// The pipeline's sources, grouped by the file they name (its pattern):
/// the sheets of one workbook are read together, as a run opens it once
/// for them all.
fn file_groups(pipeline: &suivi_core::pipeline::Pipeline) -> Vec<(String, Vec<String>)> {
    let mut by_file = BTreeMap::<String, Vec<String>>::new();
    for (name, source) in &pipeline.sources {
        by_file
            .entry(source.file.get_ref().clone())
            .or_default()
            .push(name.clone());
    }
    by_file.into_iter().collect()
}

/// Adds one run's read times to those of the runs before.
fn note(into: &mut ReadsByName, this_run: ReadTimes) {
    for (name, (formats, rows, ms)) in this_run {
        let entry = into.entry(name).or_default();
        (entry.0, entry.1) = (formats, rows);
        entry.2.push(Duration::from_secs_f64(ms / 1e3));
    }
}

/// A file's name without its folder and extension.
fn stem(file: &str) -> &str {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}

fn source_figures(measured: ReadsByName) -> Vec<SourceFigures> {
    measured
        .into_iter()
        .map(|(source, (formats, rows, reads))| SourceFigures {
            source,
            format: formats.into_iter().collect::<Vec<_>>().join(" + "),
            rows,
            read: median(reads),
        })
        .collect()
}

/// Reads every cell of every input: the CSV decoded and split, every sheet
/// of every workbook through calamine.
fn read_floor(inputs: &Path) -> suivi_core::Result<Duration> {
    let start = Instant::now();
    let mut cells = 0usize;
    for path in files(inputs)? {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => {
                let bytes = std::fs::read(&path)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(b';')
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(text.as_bytes());
                let mut record = csv::StringRecord::new();
                while reader
                    .read_record(&mut record)
                    .map_err(|e| Error::io("reading the CSV", e.into()))?
                {
                    cells += record.len();
                }
            }
            Some("xlsx" | "xls" | "ods") => {
                cells += sheets(&path)?
                    .iter()
                    .map(|range| range.used_cells().count())
                    .sum::<usize>();
            }
            _ => {}
        }
    }
    tracing::debug!(cells, "floor: every input cell read");
    Ok(start.elapsed())
}

/// Writes as many cells as the run's workbooks hold, with the same values,
/// through rust_xlsxwriter's constant-memory mode.
fn write_floor(out: &Path) -> suivi_core::Result<Duration> {
    use calamine::Data;
    let mut cells_by_sheet: Vec<Vec<(u32, u16, Data)>> = Vec::new();
    for path in files(out)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "xlsx"))
    {
        for range in sheets(&path)? {
            cells_by_sheet.push(
                range
                    .used_cells()
                    .map(|(r, c, d)| (r as u32, c as u16, d.clone()))
                    .collect(),
            );
        }
    }
    let start = Instant::now();
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let fail = |e: rust_xlsxwriter::XlsxError| {
        Error::io("writing the floor workbook", std::io::Error::other(e))
    };
    for cells in &cells_by_sheet {
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(fail)?;
        for (r, c, value) in cells {
            match value {
                Data::Float(f) => sheet.write_number(*r, *c, *f).map(|_| ()),
                Data::Int(i) => sheet.write_number(*r, *c, *i as f64).map(|_| ()),
                other => sheet.write_string(*r, *c, other.to_string()).map(|_| ()),
            }
            .map_err(fail)?;
        }
    }
    workbook.save_to_buffer().map_err(fail)?;
    Ok(start.elapsed())
}

/// Every sheet of a workbook, read whole by calamine.
fn sheets(path: &Path) -> suivi_core::Result<Vec<calamine::Range<calamine::Data>>> {
    use calamine::Reader;
    let mut workbook =
        calamine::open_workbook_auto(path).map_err(|e| Error::input(path, None, e.to_string()))?;
    workbook
        .sheet_names()
        .into_iter()
        .map(|name| {
            workbook
                .worksheet_range(&name)
                .map_err(|e| Error::input(path, Some(&name), e.to_string()))
        })
        .collect()
}

fn files(dir: &Path) -> suivi_core::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The figures as a Markdown table, the one of docs/PERFORMANCE.md.
pub fn table(figures: &[ScaleFigures]) -> String {
    let stage_names: Vec<String> = figures
        .iter()
        .flat_map(|f| f.stages.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = String::new();
    out.push_str(&format!(
        "| scale | delivery | inputs | input rows | end to end (s) | {} | rows/s | peak memory (MiB) | floor: read (s) | floor: write (s) | end to end / floor |\n",
        stage_names.iter().map(|s| format!("{s} (s)")).collect::<Vec<_>>().join(" | ")
    ));
    out.push_str(&format!("|{}\n", "---|".repeat(10 + stage_names.len())));
    for f in figures {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {:.2} |\n",
            f.scale,
            f.delivery.name(),
            f.inputs,
            f.input_rows,
            seconds(f.end_to_end),
            stage_names
                .iter()
                .map(|s| f.stages.get(s).map_or("-".into(), |d| seconds(*d)))
                .collect::<Vec<_>>()
                .join(" | "),
            f.input_rows as f64 / f.end_to_end.as_secs_f64(),
            f.peak_memory_mib,
            seconds(f.floor_read),
            seconds(f.floor_write),
            f.end_to_end.as_secs_f64() / f.floor().as_secs_f64()
        ));
    }
    out
}

/// Each source's read time, clean beside messy at each scale where both
/// were measured, with the ratio of their times.
pub fn sources_table(figures: &[ScaleFigures]) -> String {
    clean_beside_messy(figures, "source", |f| &f.sources)
}

/// Each input file's read time when its sources are read by themselves,
/// clean beside messy.
pub fn alone_table(figures: &[ScaleFigures]) -> String {
    clean_beside_messy(figures, "file (sources), read alone", |f| &f.alone)
}

/// Each input file's read time (all the sources that read it), clean
/// beside messy at each scale where both were measured.
pub fn files_table(figures: &[ScaleFigures]) -> String {
    clean_beside_messy(figures, "file (sources)", |f| &f.files)
}

fn clean_beside_messy(
    figures: &[ScaleFigures],
    what: &str,
    measured: impl Fn(&ScaleFigures) -> &[SourceFigures],
) -> String {
    let mut out = format!(
        "| scale | {what} | clean: format | clean: rows | clean: read (ms) | clean: rows/s | messy: format | messy: rows | messy: read (ms) | messy: rows/s | messy / clean |\n",
    );
    out.push_str(&format!("|{}\n", "---|".repeat(11)));
    let of = |scale: f64, delivery| {
        figures
            .iter()
            .find(|f| f.scale == scale && f.delivery == delivery)
    };
    let mut scales: Vec<f64> = figures.iter().map(|f| f.scale).collect();
    scales.dedup();
    for scale in scales {
        let (clean, messy) = (of(scale, Delivery::Clean), of(scale, Delivery::Messy));
        let names: BTreeSet<&str> = [clean, messy]
            .into_iter()
            .flatten()
            .flat_map(|f| measured(f).iter().map(|s| s.source.as_str()))
            .collect();
        for name in names {
            let [c, m] = [clean, messy]
                .map(|f| f.and_then(|f| measured(f).iter().find(|s| s.source == name)));
            let cells = |s: Option<&SourceFigures>| match s {
                Some(s) => format!(
                    "{} | {} | {:.1} | {:.0}",
                    s.format,
                    s.rows,
                    s.read.as_secs_f64() * 1e3,
                    s.rows as f64 / s.read.as_secs_f64().max(1e-6)
                ),
                None => "- | - | - | -".into(),
            };
            let ratio = match (c, m) {
                (Some(c), Some(m)) => format!(
                    "{:.2}",
                    m.read.as_secs_f64() / c.read.as_secs_f64().max(1e-6)
                ),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "| {scale} | {name} | {} | {} | {ratio} |\n",
                cells(c),
                cells(m)
            ));
        }
    }
    out
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use suivi_core::output::manifest::Input;

    fn input(source: &str, file: &str, rows_read: usize, read_ms: f64) -> Input {
        Input {
            source: source.into(),
            file: file.into(),
            sheet: None,
            sha256: String::new(),
            rows_read,
            accepted: rows_read,
            rejected: 0,
            skipped: 0,
            read_ms,
        }
    }

    #[test]
    fn a_file_read_by_several_sources_is_timed_as_one() {
        let (by_source, by_file) = read_times(vec![
            input("orientations", "social_2020.xlsx", 100, 3.0),
            input("accueil", "social_2020.xlsx", 10, 0.5),
            input("caf", "caf_2020_a.csv", 1000, 7.0),
            input("caf", "caf_2020_b.CSV", 500, 4.0),
        ]);
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(by_source["caf"], (set(&["csv"]), 1500, 11.0));
        assert_eq!(by_source["accueil"], (set(&["xlsx"]), 10, 0.5));
        let names: Vec<&String> = by_file.keys().collect();
        assert_eq!(
            names,
            [
                "caf_2020_a (caf)",
                "caf_2020_b (caf)",
                "social_2020 (accueil, orientations)"
            ]
        );
        assert_eq!(
            by_file["social_2020 (accueil, orientations)"],
            (set(&["xlsx"]), 110, 3.5)
        );
        assert_eq!(stem("inputs/pe_2020.xls"), "pe_2020");
        assert_eq!(stem("C:\\x\\pe.2020.ods"), "pe.2020");
    }

    /// Each file read by itself, its sources together, reads the rows a run
    /// reads of it.
    #[test]
    fn each_file_read_alone_reads_what_a_run_reads() {
        let dir = tempfile::tempdir().unwrap();
        let options = SampleOptions {
            year: YEAR,
            scale: 0.1,
            seed: 3,
            messy: true,
        };
        suivi_sample::write(&suivi_sample::build(&options), &options, dir.path()).unwrap();
        let sample = Sample {
            scale: 0.1,
            delivery: Delivery::Messy,
            kind: "xlsx + csv",
            pipeline: "pipelines/loire.toml".into(),
            inputs: dir.path().to_owned(),
        };
        let readers = Readers::of(&sample).unwrap();
        let mut measured = Measured::default();
        let groups = file_groups(&readers.pipeline);
        // The Loire's social workbook holds five sources, its finance one two.
        let mut sizes: Vec<usize> = groups.iter().map(|(_, s)| s.len()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 1, 2, 5]);
        for (file, sources) in &groups {
            measured.read_alone(&readers, file, sources).unwrap();
        }
        // A source the pipeline does not have is passed over.
        measured
            .read_alone(&readers, "none.csv", &["no_such_source".into()])
            .unwrap();

        let together = suivi_core::ingest::read_sources(
            &readers.pipeline,
            &readers.reference,
            &readers.pseudonymizer,
            &Default::default(),
            &readers.unbuilt,
        )
        .unwrap();
        let inputs = together
            .iter()
            .flat_map(|t| &t.files)
            .map(suivi_core::output::manifest::Input::from_report)
            .collect();
        // Named by the sources that read each file: the run's names are the
        // files', the alone reads' the pipeline's patterns.
        let sources_of = |name: &str| name.split_once(" (").unwrap().1.to_owned();
        let rows_together: BTreeMap<String, usize> = read_times(inputs)
            .1
            .into_iter()
            .map(|(file, (_, rows, _))| (sources_of(&file), rows))
            .collect();
        let rows_alone: BTreeMap<String, usize> = measured
            .alone
            .iter()
            .map(|(name, (_, rows, reads))| {
                assert_eq!(reads.len(), 1, "{name}");
                assert!(reads[0] > Duration::ZERO, "{name}");
                (sources_of(name), *rows)
            })
            .collect();
        assert_eq!(rows_alone, rows_together);
        assert_eq!(rows_alone.len(), 4, "{rows_alone:?}");
        assert!(rows_alone.values().all(|&rows| rows > 0));
    }
}
