//! `suivi bilan`: the convention over several years, side by side. Each
//! year is computed from its own deliveries and masked as its own
//! publication is (never recomputed from other years), then the years are
//! written together: `bilan_convention_<Y1>-<Y2>.xlsx` and `.csv`.

use crate::confidentiality;
use crate::error::{Error, Result};
use crate::file_hash::HashBook;
use crate::indicators::rows::{self, Row};
use crate::ingest::{self, FileReport, pseudo::Pseudonymizer};
use crate::pipeline::{Pipeline, YEARS};
use crate::reference::Reference;
use crate::report::changes::Changes;
use crate::report::{Confidentiality, ReportContext, indicator_table, workbooks, write_atomic};
use crate::run::{Timings, compute_year, open_output_folder};
use chrono::NaiveDate;
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

/// One year of the bilan: its published rows (masked as in that year's
/// publication) and its input files.
pub struct BilanYear {
    pub year: i32,
    pub rows: Vec<Row>,
    pub files: Vec<FileReport>,
    pub as_of: NaiveDate,
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
        .flat_map(|y| ingest::missing_files(&of_year(y)))
        .collect();
    if !missing.is_empty() {
        return Err(Error::input(
            &pipeline.inputs,
            None,
            format!(
                "the bilan {from}-{to} needs every year's deliveries; missing: {}",
                missing.join(", ")
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
    let context = ReportContext {
        pipeline: &last,
        rows: &years[years.len() - 1].rows,
        changes: &changes,
        files: &files,
        findings: &[],
        coverage: &[],
        as_of: years.iter().map(|y| y.as_of).max().unwrap_or_default(),
        deliveries: &[],
        has_previous: false,
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
    let csv = write_csv(
        &options.out.join(format!("{stem}.csv")),
        &years,
        &context.confidentiality.symbol,
    )?;
    let xlsx = workbooks::write_bilan(&context, &years, &options.out.join(format!("{stem}.xlsx")))?;
    Ok(vec![xlsx, csv])
}

/// One row per indicator × territory × year × breakdown value, for the
/// year level, figures as `indicateurs_<Y>.csv` writes them.
fn write_csv(path: &Path, years: &[BilanYear], symbol: &str) -> Result<PathBuf> {
    write_atomic(path, |file| {
        let fail = |e: csv::Error| Error::io(format!("writing {}", path.display()), e.into());
        let mut writer = csv::WriterBuilder::new().delimiter(b';').from_writer(file);
        writer.write_record(COLUMNS).map_err(fail)?;
        for year in years {
            let annee = year.year.to_string();
            for row in year.rows.iter().filter(|r| r.month.is_none()) {
                let r = indicator_table::record(row, symbol, false);
                writer
                    .write_record([
                        &r[0], &r[3], &annee, &r[5], &r[6], &r[7], &r[8], &r[9], &r[10], &r[12],
                    ])
                    .map_err(fail)?;
            }
        }
        writer
            .flush()
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    })
}
