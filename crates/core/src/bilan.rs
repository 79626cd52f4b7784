//! `suivi bilan`: the convention over several years, side by side. Each
//! year is computed from its own deliveries and masked as its own
//! publication is (never recomputed from other years), then the years are
//! written together: `bilan_convention_<Y1>-<Y2>.xlsx` and `.csv`.

use crate::confidentiality;
use crate::error::{Error, Result};
use crate::file_hash::HashBook;
use crate::indicators::rows;
use crate::ingest::{self, FileReport, pseudo::Pseudonymizer};
use crate::pipeline::{Pipeline, YEARS};
use crate::reference::Reference;
use crate::report::changes::Changes;
pub use crate::report::workbooks::BilanYear;
use crate::report::{
    Confidentiality, CsvReader, ReportContext, indicator_table, workbooks, write_csv_table,
};
use crate::run::{Timings, compute_year, open_output_folder};
use std::path::{Path, PathBuf};

/// Most years one bilan spans: a convention runs a few years.
const MAX_YEARS: i32 = 20;

pub struct BilanOptions {
    pub out: PathBuf,
    pub from: i32,
    pub to: i32,
    /// Internal diffusion: unmasked figures, files marked restricted.
    pub internal: bool,
}

/// The columns of `bilan_convention_<Y1>-<Y2>.csv`.
pub const COLUMNS: [&str; 10] = [
    "indicateur",
    "territoire",
    "annee",
    "ventilation",
    "valeur",
    "numerateur",
    "denominateur",
    "cible",
    "atteinte",
    "masque",
];

/// Computes every year from `from` to `to` and writes the bilan into the
/// output folder; returns the paths written.
pub fn bilan(pipeline: &Pipeline, options: &BilanOptions) -> Result<Vec<PathBuf>> {
    let (from, to) = (options.from, options.to);
    if !(YEARS.contains(&from) && YEARS.contains(&to) && from <= to && to - from < MAX_YEARS) {
        return Err(Error::Usage(format!(
            "--from {from} --to {to}: expected two plausible years, the first at most the \
             second, at most {MAX_YEARS} years apart"
        )));
    }
    let of_year = |year: i32| {
        let mut p = pipeline.clone();
        p.year = year;
        p
    };
    // Every missing delivery of every year, named at once.
    let missing: Vec<String> = (from..=to)
        .flat_map(|y| ingest::describe_all(&ingest::missing_sources(&of_year(y))))
        .collect();
    if !missing.is_empty() {
        return Err(Error::input(
            &pipeline.inputs,
            None,
            format!(
                "the bilan {from}-{to} needs every year's deliveries, and {} of them cannot be \
                 used:\n  {}",
                missing.len(),
                missing.join("\n  ")
            ),
        ));
    }
    let _lock = open_output_folder(&options.out)?;
    let reference = Reference::load(pipeline)?;
    let pseudonymizer = Pseudonymizer::from_env()?;
    let mut years = Vec::new();
    for year in from..=to {
        let p = of_year(year);
        let computed = compute_year(
            &p,
            &reference,
            &pseudonymizer,
            &HashBook::default(),
            &mut Timings::default(),
        )?;
        let mut rows = rows::rows(&p, &computed.computed, None);
        if !options.internal {
            confidentiality::protect(&p, &mut rows)?;
        }
        tracing::info!(year, "year computed for the bilan");
        years.push(BilanYear {
            year,
            rows,
            files: computed.files,
            as_of: computed.as_of,
        });
    }
    let last = of_year(to);
    let files: Vec<FileReport> = years.iter().flat_map(|y| y.files.clone()).collect();
    let changes = Changes::default();
    let double_entries = Default::default();
    let context = ReportContext {
        pipeline: &last,
        rows: &years[years.len() - 1].rows,
        changes: &changes,
        files: &files,
        findings: &[],
        coverage: &[],
        double_entries: &double_entries,
        as_of: years.iter().map(|y| y.as_of).max().unwrap_or_default(),
        deliveries: &[],
        has_previous: false,
        previous_missing: &[],
        confidentiality: Confidentiality {
            threshold: pipeline.settings.confidentiality_threshold,
            symbol: pipeline.settings.mask_symbol.clone(),
            internal: options.internal,
        },
    };
    let stem = format!(
        "bilan_convention_{from}-{to}{}",
        if options.internal { "_interne" } else { "" }
    );
    let symbol = &context.confidentiality.symbol;
    let csv = write_csv(
        &options.out.join(format!("{stem}.csv")),
        &years,
        symbol,
        CsvReader::Tools,
    )?;
    let excel_stem = stem.replacen("bilan_convention_", "bilan_convention_excel_", 1);
    let excel_csv = write_csv(
        &options.out.join(format!("{excel_stem}.csv")),
        &years,
        symbol,
        CsvReader::FrenchExcel,
    )?;
    let xlsx = workbooks::write_bilan(&context, &years, &options.out.join(format!("{stem}.xlsx")))?;
    Ok(vec![xlsx, csv, excel_csv])
}

/// One row per indicator × territory × year × breakdown value, for the
/// year level, figures as `indicateurs_<Y>.csv` writes them.
fn write_csv(path: &Path, years: &[BilanYear], symbol: &str, reader: CsvReader) -> Result<PathBuf> {
    let records = years.iter().flat_map(|year| {
        let annee = year.year.to_string();
        year.rows
            .iter()
            .filter(|r| r.month.is_none())
            .map(move |row| {
                let r = indicator_table::record(row, symbol);
                [
                    &r[0], &r[3], &annee, &r[5], &r[6], &r[7], &r[8], &r[9], &r[10], &r[12],
                ]
                .map(|f| f.to_owned())
            })
    });
    write_csv_table(path, &COLUMNS, records, reader)
}
