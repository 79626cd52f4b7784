//! The library's one error type. Each variant says what a user can act on
//! (which file, sheet, row, column) and maps to a documented exit code.

use std::path::PathBuf;

/// Exit codes of the `suivi` binary, documented in the README and `--help`.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const INPUT: i32 = 3;
    pub const LOCKED: i32 = 4;
    pub const MASKED: i32 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad command-line value that clap cannot catch by itself.
    #[error("{0}")]
    Usage(String),

    /// The pipeline file is unreadable, not valid TOML, or inconsistent.
    #[error("pipeline file {path}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Pipeline {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    /// A reference table (territories, commune passage) is missing or inconsistent.
    #[error("reference table {path}: {message}")]
    Reference { path: PathBuf, message: String },

    /// An input file failed validation: missing, unreadable, missing sheet or column.
    #[error("{}: {message}", location(file, sheet.as_deref()))]
    Input {
        file: PathBuf,
        sheet: Option<String>,
        message: String,
    },

    /// Deliveries of the year missing from the input folder, or ambiguous
    /// there: every one named, with the years the folder does hold.
    #[error(
        "{}: {} of the {year} deliveries cannot be used:\n{}\n{}",
        tidy(folder).display(),
        problems.len(),
        problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"),
        match years_present.as_slice() {
            [] => "The folder holds a complete set of deliveries for no year.".to_owned(),
            years => format!(
                "The folder holds a complete set of deliveries for {}.",
                years.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
            ),
        }
    )]
    Deliveries {
        folder: PathBuf,
        year: i32,
        /// `label (pattern): what is wrong`, one per source.
        problems: Vec<String>,
        years_present: Vec<i32>,
    },

    /// Several files could not be read: each error on its line.
    #[error("{} sources cannot be read:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Several(Vec<Error>),

    /// Too many rows of a source were rejected for its figures to be trusted.
    #[error(
        "{}: {rejected} of {data_rows} data rows rejected ({:.1} %), above the pipeline's limit of {:.1} %",
        location(file, sheet.as_deref()),
        100.0 * *rejected as f64 / (*data_rows).max(1) as f64,
        100.0 * limit
    )]
    RejectRate {
        file: PathBuf,
        sheet: Option<String>,
        rejected: usize,
        data_rows: usize,
        limit: f64,
    },

    /// Too many rows of a file were skipped as totals amid the data:
    /// they may be data that the reader took for something else.
    #[error(
        "{}: {skipped} of {rows} rows skipped as total rows with data below them ({:.1} %), \
         above the pipeline's limit of {:.1} %: check that they are not data",
        location(file, sheet.as_deref()),
        100.0 * *skipped as f64 / (*rows).max(1) as f64,
        100.0 * limit
    )]
    SkipRate {
        file: PathBuf,
        sheet: Option<String>,
        skipped: usize,
        rows: usize,
        limit: f64,
    },

    /// `--strict`: deliveries stop earlier than the run's date lets one
    /// expect (a partner stopped sending).
    #[error("--strict: {0}; nothing was written")]
    LateDelivery(String),

    /// `suivi explain` in public diffusion: the cell is masked, so it is
    /// not listed; the reason.
    #[error("{0}")]
    Masked(String),

    /// `suivi explain`'s listing does not give the published figure: a bug.
    #[error("{0}")]
    Explain(String),

    /// The confidentiality rules could not be shown to hold: nothing is published.
    #[error("confidentiality: {0}; nothing was written")]
    Confidentiality(String),

    /// Another run holds the output folder's lock.
    #[error("another run is writing to this folder ({holder}); lock file {path}")]
    Locked { path: PathBuf, holder: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{context}: {source}")]
    Polars {
        context: String,
        #[source]
        source: polars::error::PolarsError,
    },
}

fn location(file: &std::path::Path, sheet: Option<&str>) -> String {
    let file = tidy(file);
    match sheet {
        Some(s) => format!("{}, sheet '{s}'", file.display()),
        None => file.display().to_string(),
    }
}

/// A path as messages show it: `pipelines/../inputs/x.csv` reads
/// `inputs/x.csv` (the input folder is written relative to the pipeline).
pub fn tidy(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir if !out.is_empty() => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Pipeline { .. } | Error::Reference { .. } => exit::USAGE,
            Error::Input { .. }
            | Error::Deliveries { .. }
            | Error::RejectRate { .. }
            | Error::SkipRate { .. }
            | Error::LateDelivery(_) => exit::INPUT,
            Error::Several(errors) => errors
                .iter()
                .map(Error::exit_code)
                .min()
                .unwrap_or(exit::INPUT),
            Error::Locked { .. } => exit::LOCKED,
            Error::Masked(_) => exit::MASKED,
            Error::Io { .. }
            | Error::Polars { .. }
            | Error::Confidentiality(_)
            | Error::Explain(_) => exit::INTERNAL,
        }
    }

    pub fn input(
        file: impl Into<PathBuf>,
        sheet: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::Input {
            file: file.into(),
            sheet: sheet.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A reading crate's refusal of `path` (of its `sheet`, when it is
    /// about one), as the user is told it.
    pub fn unreadable(
        path: &std::path::Path,
        sheet: Option<&str>,
        error: suivi_read::Error,
    ) -> Self {
        use suivi_read::Error as E;
        if let E::Damaged { why } | E::DamagedSheet { why } = &error {
            tracing::debug!(file = %path.display(), sheet, "{why}");
        }
        let message = match error {
            // A file marked UTF-16 or UTF-32 says its encoding itself.
            E::NotInEncoding { encoding, .. }
                if encoding.starts_with("UTF-16") || encoding.starts_with("UTF-32") =>
            {
                format!("{error}; save the file again as UTF-8 (CSV UTF-8 in Excel)")
            }
            E::NotInEncoding { .. } => {
                format!("{error}; set `encoding` in the pipeline (\"utf-8\" or \"windows-1252\")")
            }
            _ => error.to_string(),
        };
        Error::input(path, sheet, message)
    }

    /// One error, or every error of a list at once.
    pub fn all(mut errors: Vec<Error>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Several(errors)),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn polars(context: impl Into<String>, source: polars::error::PolarsError) -> Self {
        Error::Polars {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
