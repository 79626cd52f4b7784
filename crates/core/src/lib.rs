//! `suivi`: partner spreadsheets in, indicator workbooks of a département's
//! poverty convention out. The binary is a thin layer over this library.

pub mod bilan;
pub mod confidentiality;
pub mod delivery;
pub mod error;
pub mod explain;
pub mod file_hash;
pub mod indicators;
pub mod ingest;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod reference;
pub mod report;
pub mod run;
pub mod text;

pub use error::{Error, Result};

/// The tool's version, shown in the sources sheet and the manifest.
pub const TOOL_VERSION: &str = concat!("suivi ", env!("CARGO_PKG_VERSION"));

/// The repository's root, where the unit tests find the Loire pipeline and
/// the test fixtures.
#[cfg(test)]
pub(crate) fn repository() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
