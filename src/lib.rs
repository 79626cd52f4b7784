//! `suivi`: partner spreadsheets in, indicator workbooks of a département's
//! poverty convention out. The binary is a thin layer over this library.

pub mod bench;
pub mod confidential;
pub mod error;
pub mod file_hash;
pub mod indicators;
pub mod ingest;
pub mod lock;
pub mod manifest;
pub mod output_set;
pub mod parse;
pub mod reference;
pub mod report;
pub mod run;
pub mod sample;
pub mod spec;
pub mod text;

pub use error::{Error, Result};
