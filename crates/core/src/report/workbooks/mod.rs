//! The three workbooks: execution report, finance follow-up, data quality.
//! Each is built in memory by its module, saved to a buffer, then written
//! atomically; identical inputs give identical bytes.

mod bilan;
mod execution;
mod explanation;
mod finance;
mod french;
mod measure;
mod quality;
mod sheet;
mod styles;

pub use bilan::BilanYear;
pub use finance::REFACTION_RISK_THRESHOLD;

use super::ReportContext;
use crate::error::{Error, Result};
use crate::output::write_atomic;
use rust_xlsxwriter::{Workbook, XlsxError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes every workbook into `out`, each atomically; returns their paths.
pub fn write_all(context: &ReportContext, out: &Path) -> Result<Vec<PathBuf>> {
    type Build = fn(&ReportContext) -> Result<Workbook, XlsxError>;
    let workbooks: [(&str, Build); 3] = [
        ("rapport_execution", execution::build),
        ("suivi_financier", finance::build),
        ("qualite_donnees", quality::build),
    ];
    let mut paths = Vec::with_capacity(workbooks.len());
    for (stem, build) in workbooks {
        let name = context.file_name(stem, "xlsx");
        let path = out.join(&name);
        let bytes = build(context)
            .and_then(|mut workbook| workbook.save_to_buffer())
            .map_err(|e| xlsx_error(&path, e))?;
        paths.push(write_atomic(&path, |file| {
            file.write_all(&bytes)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))
        })?);
    }
    Ok(paths)
}

/// Writes the multi-year bilan workbook to `path`, atomically.
pub fn write_bilan(context: &ReportContext, years: &[BilanYear], path: &Path) -> Result<PathBuf> {
    let bytes = bilan::build(context, years)
        .and_then(|mut workbook| workbook.save_to_buffer())
        .map_err(|e| xlsx_error(path, e))?;
    write_atomic(path, |file| {
        file.write_all(&bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    })
}

/// Writes one cell's explanation (`suivi explain --out FILE.xlsx`),
/// atomically; internal use, marked so.
pub fn write_explanation(
    pipeline: &crate::pipeline::Pipeline,
    explanation: &crate::explain::Explanation,
    path: &Path,
) -> Result<PathBuf> {
    let changes = super::changes::Changes::default();
    let double_entries = Default::default();
    let context = ReportContext {
        pipeline,
        rows: &[],
        changes: &changes,
        files: &[],
        findings: &[],
        coverage: &[],
        double_entries: &double_entries,
        previous_missing: &[],
        // The year's last day: no clock in the workbook.
        as_of: chrono::NaiveDate::from_ymd_opt(pipeline.year, 12, 31).unwrap_or_default(),
        deliveries: &[],
        has_previous: false,
        confidentiality: super::Confidentiality {
            threshold: pipeline.settings.confidentiality_threshold,
            symbol: pipeline.settings.mask_symbol.clone(),
            internal: true,
        },
    };
    let bytes = explanation::build(&context, explanation)
        .and_then(|mut workbook| workbook.save_to_buffer())
        .map_err(|e| xlsx_error(path, e))?;
    write_atomic(path, |file| {
        file.write_all(&bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    })
}

/// A workbook that can't be built is a bug or a limit of the format: an
/// internal error naming the file.
fn xlsx_error(path: &Path, error: XlsxError) -> Error {
    Error::io(
        format!("building the workbook {}", path.display()),
        std::io::Error::other(error),
    )
}

/// What the masks mean and which rule was applied, for the workbooks that
/// show indicators.
fn confidentiality_note(context: &ReportContext) -> String {
    let c = &context.confidentiality;
    let t = c.threshold;
    if t < 2 {
        return format!(
            "Secret statistique : seuil t = {t}, aucun effectif n'est assez petit pour être \
             masqué. Le symbole « {} » signalerait une valeur masquée.",
            c.symbol
        );
    }
    let small = t - 1;
    if c.internal {
        format!(
            "Diffusion interne : aucune valeur n'est masquée. Ce fichier ne doit pas être diffusé ; \
             la version publique applique le secret statistique (seuil t = {t} : effectifs de 1 à \
             {small} masqués, plus un secret secondaire)."
        )
    } else {
        format!(
            "Secret statistique (seuil t = {t}) : tout effectif de 1 à {small} est masqué, de même \
             que les parts dont le numérateur ou le dénominateur vaut de 1 à {small} et les \
             moyennes ou médianes calculées sur 1 à {small} valeurs ; d'autres cases sont masquées \
             en complément (secret secondaire) pour qu'aucune valeur masquée ne puisse être \
             recalculée à partir des totaux (territoires, mois, ventilations). Le symbole « {} » \
             signale une valeur masquée. Les montants financiers de la convention sont publics et \
             ne sont jamais masqués.",
            c.symbol
        )
    }
}

/// The months each time-placed delivery covers, from the data alone (never
/// the run's date: identical inputs give identical workbooks); None when no
/// source is placed in time.
fn deliveries_note(context: &ReportContext) -> Option<String> {
    if context.deliveries.is_empty() {
        return None;
    }
    let months = |d: &crate::delivery::Delivery| match (d.first, d.last) {
        (Some(first), Some(last)) => format!(
            "{} à {}",
            crate::delivery::month_text(first),
            crate::delivery::month_text(last)
        ),
        _ => "aucune ligne datée".to_owned(),
    };
    let each: Vec<String> = context
        .deliveries
        .iter()
        .map(|d| format!("{} : {}", d.label, months(d)))
        .collect();
    Some(format!(
        "Mois couverts par les fichiers reçus (premier et dernier mois daté) : {}.",
        each.join(" ; ")
    ))
}

/// One line for the sheets that show figures: the symbol and the blanks.
fn symbol_note(context: &ReportContext) -> String {
    let c = &context.confidentiality;
    let mask = if c.internal {
        "Diffusion interne : aucune valeur masquée".to_owned()
    } else {
        format!(
            "« {} » : valeur masquée (secret statistique, seuil {})",
            c.symbol, c.threshold
        )
    };
    format!(
        "{mask} ; case vide : pas de valeur (indicateur de stock donné pour l'année seulement, \
         dénominateur nul ou indicateur départemental seulement)."
    )
}

/// The footer of every printed page, marked in internal mode.
fn footer(context: &ReportContext, what: &str) -> String {
    footer_for(context, &format!("{what} {}", context.pipeline.year))
}

/// The footer for `what` over a period of its own (the bilan's years).
fn footer_for(context: &ReportContext, what: &str) -> String {
    let restricted = if context.confidentiality.internal {
        "DIFFUSION RESTREINTE - "
    } else {
        ""
    };
    format!(
        "{restricted}{} - {what}",
        context.pipeline.settings.departement
    )
}

#[cfg(test)]
mod tests;
