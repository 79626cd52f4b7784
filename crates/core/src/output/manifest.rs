//! `manifest.json`: what a run read and wrote, so that a nightly job can
//! skip a run whose inputs did not change (`--if-changed`) and an operator
//! can see what produced the files.

use crate::error::{Error, Result};
use crate::file_hash::{self, HashBook};
use crate::ingest::{self, FileReport};
use crate::pipeline::Pipeline;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One manifest per year and diffusion: `manifest_2020.json`, `manifest_2020_interne.json`.
pub fn file_name(year: i32, internal: bool) -> String {
    crate::output::file_name(year, internal, "manifest", "json")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub pipeline: String,
    pub year: i32,
    pub diffusion: String,
    /// A hash of the tool version, the pipeline, the reference tables and
    /// every input file of the year and the previous year: equal
    /// fingerprints mean an identical run.
    pub fingerprint: String,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    /// Wall-clock start of the run (the only place the clock appears).
    pub started_at: String,
    /// The run's date, against which deliveries were judged (absent from
    /// older manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_date: Option<String>,
    /// The months each time-placed source covers.
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
    pub timings_ms: BTreeMap<String, u64>,
    /// The run's peak resident memory (Linux; absent elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_mib: Option<u64>,
}

/// This process's peak resident memory, from `VmHWM` in /proc/self/status:
/// it counts this program only, where getrusage's figure also takes in the
/// memory of the process that started it (kept across `exec`).
pub fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.div_ceil(1024))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Input {
    /// The pipeline source the file was read for (absent from older manifests).
    #[serde(default)]
    pub source: String,
    pub file: String,
    pub sheet: Option<String>,
    pub sha256: String,
    pub rows_read: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub skipped: usize,
    /// Milliseconds spent reading the file (absent from older manifests).
    #[serde(default)]
    pub read_ms: f64,
}

/// A source's delivery: its months (`2020-01`), the month expected at the
/// run's date and whether it stops before.
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivery {
    pub source: String,
    pub column: String,
    pub first_month: Option<String>,
    pub last_month: Option<String>,
    pub expected_through: Option<String>,
    pub late: bool,
}

impl Delivery {
    pub fn new(
        delivery: &crate::delivery::Delivery,
        year: i32,
        run_date: chrono::NaiveDate,
    ) -> Self {
        let month = |d: chrono::NaiveDate| d.format("%Y-%m").to_string();
        Delivery {
            source: delivery.source.clone(),
            column: delivery.column.clone(),
            first_month: delivery.first.map(month),
            last_month: delivery.last.map(month),
            expected_through: delivery.expected(year, run_date).map(month),
            late: delivery.late(year, run_date).is_some(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Output {
    pub file: String,
    pub sha256: String,
}

impl Input {
    pub fn from_report(report: &FileReport) -> Self {
        Input {
            source: report.source.clone(),
            file: report.file_name(),
            sheet: report.sheet.clone(),
            sha256: report.sha256.clone(),
            rows_read: report.rows_read,
            accepted: report.accepted,
            rejected: report.rejected(),
            skipped: report.skipped,
            read_ms: report.read_ms,
        }
    }
}

pub fn sha256_file(path: &Path) -> Result<String> {
    Ok(file_hash::hash_file(path)?.sha256)
}

/// The fingerprint of a run: the tool, the diffusion, the year and the hash
/// of every file the run reads or could read. Files `book` holds a hash of
/// are not hashed again (the readers', taken of the version they read).
pub fn fingerprint(pipeline: &Pipeline, diffusion: &str, book: &HashBook) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(crate::TOOL_VERSION.as_bytes());
    hasher.update(diffusion.as_bytes());
    hasher.update(pipeline.year.to_le_bytes());
    let mut files: Vec<PathBuf> = vec![
        pipeline.path.clone(),
        pipeline.reference_path(&pipeline.reference.territories),
    ];
    if let Some(passage) = &pipeline.reference.commune_passage {
        files.push(pipeline.reference_path(passage));
    }
    let mut previous = pipeline.clone();
    previous.year -= 1;
    files.extend(ingest::input_files(pipeline));
    files.extend(ingest::input_files(&previous));
    let hashes: Vec<String> = files
        .par_iter()
        .map(|file| book.hash(file))
        .collect::<Result<_>>()?;
    for (file, hash) in files.iter().zip(&hashes) {
        hasher.update(
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
                .as_bytes(),
        );
        hasher.update(hash.as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The manifest `name` in `out`, if there is a readable one.
pub fn read(out: &Path, name: &str) -> Option<Manifest> {
    let text = std::fs::read_to_string(out.join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether the previous run had this fingerprint and its outputs are intact.
pub fn is_current(out: &Path, name: &str, fingerprint: &str) -> bool {
    let Some(manifest) = read(out, name) else {
        return false;
    };
    manifest.fingerprint == fingerprint
        && manifest
            .outputs
            .iter()
            .all(|o| sha256_file(&out.join(&o.file)).is_ok_and(|h| h == o.sha256))
}

/// Writes the manifest as `dir/name`.
pub fn write(dir: &Path, name: &str, manifest: &Manifest) -> Result<PathBuf> {
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::io("serialising the manifest", e.into()))?;
    crate::output::write_atomic(&dir.join(name), |file| {
        std::io::Write::write_all(file, text.as_bytes())
            .map_err(|e| Error::io("writing the manifest", e))
    })
}
