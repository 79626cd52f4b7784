//! `suivi bench`: end-to-end runs on generated samples, timed per stage,
//! against the floor no implementation can go under: reading every input
//! cell (calamine, the CSV reader) and writing every output cell
//! (rust_xlsxwriter), measured in the same process and session.

use crate::failure::Result;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use suivi_core::Error;
use suivi_sample::SampleOptions;

/// The year the benchmark simulates and runs.
const YEAR: i32 = 2020;

pub struct BenchOptions {
    pub pipeline: PathBuf,
    pub scales: Vec<f64>,
    pub runs: usize,
    pub seed: u64,
    /// Where samples and outputs go (kept for inspection).
    pub dir: PathBuf,
    /// Scales from which every source is delivered as CSV (a national
    /// dataset: no spreadsheet holds it), read through a copy of the
    /// pipeline whose sources name those files.
    pub csv_from_scale: f64,
}

/// The medians of one scale.
pub struct ScaleFigures {
    pub scale: f64,
    /// `xlsx + csv` (as partners deliver) or `csv` (every source).
    pub inputs: &'static str,
    pub input_rows: usize,
    pub end_to_end: Duration,
    pub stages: BTreeMap<String, Duration>,
    pub peak_memory_mib: f64,
    pub floor_read: Duration,
    pub floor_write: Duration,
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

pub fn bench(options: &BenchOptions, progress: &dyn Fn(&str)) -> Result<Vec<ScaleFigures>> {
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the suivi binary", e))?;
    let mut figures = Vec::new();
    for &scale in &options.scales {
        let inputs = options.dir.join(format!("scale-{scale}"));
        progress(&format!("scale {scale}: generating the sample"));
        let sample_options = SampleOptions {
            year: YEAR,
            scale,
            seed: options.seed,
            messy: false,
        };
        let all_csv = scale >= options.csv_from_scale;
        let pipeline = if all_csv {
            suivi_sample::write_csv(&sample_options, &inputs)?;
            suivi_sample::csv_pipeline(&options.pipeline, &inputs)?
        } else {
            suivi_sample::write(
                &suivi_sample::build(&sample_options),
                &sample_options,
                &inputs,
            )?;
            options.pipeline.clone()
        };
        let out = inputs.join("out");
        let mut peaks = Vec::new();
        let (mut totals, mut stages, mut floor_reads, mut floor_writes) = (
            Vec::new(),
            BTreeMap::<String, Vec<Duration>>::new(),
            Vec::new(),
            Vec::new(),
        );
        for run in 1..=options.runs {
            progress(&format!("scale {scale}: run {run} of {}", options.runs));
            let start = Instant::now();
            let status = std::process::Command::new(&exe)
                .args(["-q", "run"])
                .arg(&pipeline)
                .args(["--year", &YEAR.to_string(), "--inputs"])
                .arg(&inputs)
                .arg("--out")
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .status()
                .map_err(|e| Error::io("running suivi", e))?;
            totals.push(start.elapsed());
            if !status.success() {
                return Err(Error::Usage(format!(
                    "the benchmark run failed at scale {scale} ({status})"
                ))
                .into());
            }
            let manifest =
                suivi_core::manifest::read(&out, &suivi_core::manifest::file_name(YEAR, false))
                    .ok_or_else(|| Error::Usage("the run wrote no manifest".into()))?;
            peaks.extend(manifest.peak_memory_mib);
            for (stage, ms) in manifest.timings_ms {
                stages
                    .entry(stage)
                    .or_default()
                    .push(Duration::from_millis(ms));
            }
            progress(&format!("scale {scale}: floor {run} of {}", options.runs));
            floor_reads.push(read_floor(&inputs)?);
            floor_writes.push(write_floor(&out)?);
        }
        figures.push(ScaleFigures {
            scale,
            inputs: if all_csv { "csv" } else { "xlsx + csv" },
            input_rows: count_rows(&out),
            end_to_end: median(totals),
            stages: stages.into_iter().map(|(k, v)| (k, median(v))).collect(),
            peak_memory_mib: peaks.into_iter().max().map_or(f64::NAN, |p| p as f64),
            floor_read: median(floor_reads),
            floor_write: median(floor_writes),
        });
    }
    Ok(figures)
}

fn count_rows(out: &Path) -> usize {
    suivi_core::manifest::read(out, &suivi_core::manifest::file_name(YEAR, false))
        .map(|m| m.inputs.iter().map(|i| i.rows_read).sum())
        .unwrap_or(0)
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
            Some("xlsx") => {
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

/// The figures as a Markdown table, the README's Performance section.
pub fn table(figures: &[ScaleFigures]) -> String {
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64());
    let stage_names: Vec<String> = figures
        .iter()
        .flat_map(|f| f.stages.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = String::new();
    out.push_str(&format!(
        "| scale | inputs | input rows | end to end (s) | {} | rows/s | peak memory (MiB) | floor: read (s) | floor: write (s) | end to end / floor |\n",
        stage_names.iter().map(|s| format!("{s} (s)")).collect::<Vec<_>>().join(" | ")
    ));
    out.push_str(&format!("|{}\n", "---|".repeat(9 + stage_names.len())));
    for f in figures {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {:.2} |\n",
            f.scale,
            f.inputs,
            f.input_rows,
            ms(f.end_to_end),
            stage_names
                .iter()
                .map(|s| f.stages.get(s).map_or("-".into(), |d| ms(*d)))
                .collect::<Vec<_>>()
                .join(" | "),
            f.input_rows as f64 / f.end_to_end.as_secs_f64(),
            f.peak_memory_mib,
            ms(f.floor_read),
            ms(f.floor_write),
            f.end_to_end.as_secs_f64() / f.floor().as_secs_f64()
        ));
    }
    out
}
