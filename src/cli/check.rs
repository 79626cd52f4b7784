//! `suivi check`: validate the pipeline and read every source, printing what
//! happened to every row, without writing reports.

use super::PipelineArgs;
use std::io::Write;
use std::path::PathBuf;
use suivi_core::ingest::{self, SourceTable, pseudo::Pseudonymizer};
use suivi_core::reference::Reference;
use suivi_core::text::row_ranges;
use suivi_core::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// How many rejected rows to print per file.
    #[arg(long, default_value_t = 10)]
    show: usize,
    /// Also write every rejected row to this CSV file (`;`-separated, UTF-8).
    #[arg(long)]
    rejects: Option<PathBuf>,
    #[command(flatten)]
    delivery: super::DeliveryArgs,
}

pub fn run(args: CheckArgs) -> Result<()> {
    let pipeline = args.pipeline.load()?;
    let reference = Reference::load(&pipeline)?;
    if !Pseudonymizer::key_in_env() {
        println!(
            "note: no {} or {} is set, so identifiers are pseudonymised with a key drawn for \
             each run. The figures do not depend on it; to keep pseudonyms the same from run \
             to run (nightly jobs comparing listings), point {} at a file holding a secret of \
             at least 16 bytes (README, Personal data).\n",
            suivi_core::ingest::pseudo::KEY_ENV,
            suivi_core::ingest::pseudo::KEY_FILE_ENV,
            suivi_core::ingest::pseudo::KEY_FILE_ENV,
        );
    }
    let pseudonymizer = Pseudonymizer::from_env()?;
    let unbuilt = suivi_core::indicators::unbuilt_columns(&pipeline);
    let tables = ingest::read_sources(
        &pipeline,
        &reference,
        &pseudonymizer,
        &Default::default(),
        &unbuilt,
    )?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    print_summary(&mut out, &pipeline, &tables, args.show)
        .map_err(|e| Error::io("writing to stdout", e))?;
    let deliveries = suivi_core::delivery::deliveries(
        &pipeline,
        tables.iter().map(|t| (t.name.as_str(), &t.frame)),
    );
    let late = super::delivery::print(
        &mut out,
        &deliveries,
        pipeline.year,
        args.delivery.run_date(),
    )
    .map_err(|e| Error::io("writing to stdout", e))?;
    out.flush().map_err(|e| Error::io("writing to stdout", e))?;
    if let Some(path) = &args.rejects {
        write_rejects(path, &tables)?;
    }
    ingest::enforce_reject_limit(&pipeline, &tables)?;
    // The dry run computes everything a run would, and writes nothing.
    let frames = tables.into_iter().map(|t| (t.name, t.frame)).collect();
    let computed = suivi_core::indicators::compute(&pipeline, frames, &reference)?;
    if args.delivery.strict && !late.is_empty() {
        return Err(suivi_core::delivery::strict_error(&late));
    }
    writeln!(
        out,
        "\ncomputed {} derived tables, {} indicators, {} findings and {} coverage measures: \
         the run would succeed",
        pipeline.tables.len(),
        pipeline.indicators.len(),
        computed.findings.len(),
        computed.coverage.len()
    )
    .map_err(|e| Error::io("writing to stdout", e))
}

fn print_summary(
    out: &mut impl Write,
    pipeline: &suivi_core::pipeline::Pipeline,
    tables: &[SourceTable],
    show: usize,
) -> std::io::Result<()> {
    writeln!(
        out,
        "pipeline {} ({}), year {}",
        pipeline.settings.name,
        pipeline.path.display(),
        pipeline.year
    )?;
    writeln!(
        out,
        "{:<16} {:<36} {:<18} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "source",
        "file",
        "sheet",
        "header",
        "read",
        "accepted",
        "rejected",
        "skipped",
        "repeats",
        "mapped"
    )?;
    for report in tables.iter().flat_map(|t| &t.files) {
        writeln!(
            out,
            "{:<16} {:<36} {:<18} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
            report.source,
            report.file_name(),
            report.sheet.as_deref().unwrap_or("-"),
            report.header_row,
            report.rows_read,
            report.accepted,
            report.rejected(),
            report.skipped,
            report.repeated(),
            report.mapped_rows()
        )?;
    }
    writeln!(
        out,
        "(repeats: identical rows without an identifier, kept and counted as events; \
         mapped: accepted rows whose commune code was a former one)"
    )?;
    for report in tables.iter().flat_map(|t| &t.files) {
        for column in &report.absent_columns {
            writeln!(
                out,
                "\nWARNING: column '{column}' is absent from {}: the pipeline allows it \
                 (may_be_absent), so it is left empty and every figure that uses it is computed without it",
                place(report)
            )?;
        }
    }
    for report in tables.iter().flat_map(|t| &t.files) {
        if report.merged_cells > 0 {
            let n = report.merged_cells;
            writeln!(
                out,
                "\n{}: {n} cell{} took {} value from a merged range (a value merged down or \
                 across is the value of every row or column it covers, as the sheet shows it)",
                place(report),
                if n == 1 { "" } else { "s" },
                if n == 1 { "its" } else { "their" },
            )?;
        }
    }
    for report in tables.iter().flat_map(|t| &t.files) {
        if report.totals + report.notes > 0 {
            writeln!(
                out,
                "\n{}: skipped {} total or subtotal row{}{} (counted in `skipped`; reading went on after each)",
                place(report),
                report.totals,
                if report.totals == 1 { "" } else { "s" },
                if report.notes > 0 {
                    format!(
                        " and {} row{} of notes below the last total",
                        report.notes,
                        if report.notes == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            )?;
        }
    }
    let mapping: Vec<&ingest::FileReport> = tables
        .iter()
        .flat_map(|t| &t.files)
        .filter(|r| !r.mapped.is_empty())
        .collect();
    if !mapping.is_empty() {
        writeln!(
            out,
            "\nformer commune codes mapped through the passage table (code written -> current code: accepted rows):"
        )?;
    }
    for report in mapping {
        let codes: Vec<String> = report
            .mapped
            .iter()
            .map(|m| format!("{} -> {}: {}", m.former_named, m.current_named, m.rows))
            .collect();
        writeln!(out, "  {}: {}", place(report), codes.join(", "))?;
    }
    for report in tables.iter().flat_map(|t| &t.files) {
        if report.repeats.is_empty() {
            continue;
        }
        let (rows, groups) = (report.repeated(), report.repeats.len());
        writeln!(
            out,
            "\npossible double entries in {}: {}, each identical to an earlier row, in {} \
             (kept and counted; check them with the partner):",
            place(report),
            plural(rows, "row", "rows"),
            plural(groups, "group", "groups"),
        )?;
        for repeat in report.repeats.iter().take(show) {
            let at = if repeat.rows.len() == 1 {
                "row"
            } else {
                "rows"
            };
            let first = match &repeat.first_file {
                None => repeat.first_row.to_string(),
                Some(other) => format!("{} of {other}", repeat.first_row),
            };
            writeln!(
                out,
                "  row {first} repeated at {at} {} ({} identical rows)",
                row_ranges(&repeat.rows),
                repeat.rows.len() + 1
            )?;
        }
        if report.repeats.len() > show {
            writeln!(
                out,
                "  ... and {} more groups (the quality workbook lists them all)",
                report.repeats.len() - show
            )?;
        }
    }
    for report in tables.iter().flat_map(|t| &t.files) {
        if report.rejects.is_empty() {
            continue;
        }
        writeln!(
            out,
            "\n{} in {}:",
            plural(report.rejected(), "rejected row", "rejected rows"),
            place(report)
        )?;
        for reject in report.rejects.iter().take(show) {
            let column = if reject.column.is_empty() {
                String::new()
            } else {
                format!(", column '{}'", reject.column)
            };
            let value = if reject.value.is_empty() {
                String::new()
            } else {
                format!(" ('{}')", reject.value)
            };
            let hint = reject
                .reason
                .hint()
                .map(|h| format!(": {h}"))
                .unwrap_or_default();
            writeln!(
                out,
                "  row {}{column}: {}{value}{hint}",
                reject.row,
                reject.reason.message()
            )?;
        }
        if report.rejected() > show {
            writeln!(
                out,
                "  ... and {} more (--rejects FILE lists them all)",
                report.rejected() - show
            )?;
        }
    }
    Ok(())
}

/// `1 row`, `3 rows`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A file, and its sheet for workbooks, as messages name them.
fn place(report: &ingest::FileReport) -> String {
    match &report.sheet {
        Some(sheet) => format!("{}, sheet '{sheet}'", report.file_name()),
        None => report.file_name(),
    }
}

fn write_rejects(path: &std::path::Path, tables: &[SourceTable]) -> Result<()> {
    let fail = |e: csv::Error| Error::io(format!("writing {}", path.display()), e.into());
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .map_err(fail)?;
    writer
        .write_record([
            "file", "sheet", "row", "column", "reason", "message", "value",
        ])
        .map_err(fail)?;
    for report in tables.iter().flat_map(|t| &t.files) {
        for reject in &report.rejects {
            writer
                .write_record([
                    report.file_name().as_str(),
                    report.sheet.as_deref().unwrap_or(""),
                    &reject.row.to_string(),
                    &suivi_core::report::neutralise(&reject.column),
                    reject.reason.code(),
                    &reject.reason.explained(),
                    &suivi_core::report::neutralise(&reject.value),
                ])
                .map_err(fail)?;
        }
    }
    writer
        .flush()
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
