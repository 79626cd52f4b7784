//! Why a cell is masked, in words that reveal no more than the mask does:
//! the primary rule names the quantity under the threshold, never its
//! value; the secondary rule names the relations of the cell that hold
//! another masked cell, which the mask keeps from being solved.

use crate::confidentiality;
use crate::indicators::rows::Row;
use crate::pipeline::{Indicator, Pipeline, Quantity};

pub fn reason(pipeline: &Pipeline, indicator: &Indicator, row: &Row, rows: &[Row]) -> String {
    let t = pipeline.settings.confidentiality_threshold;
    let threshold = f64::from(t);
    let small = |x: Option<f64>| x.is_some_and(|v| v >= 1.0 && v < threshold);
    let cell = describe(pipeline, row);
    let primary = confidentiality::primary(indicator.kind, indicator.secrecy, row, small);
    if !primary.is_empty() {
        let what: Vec<&str> = primary
            .iter()
            .map(|q| match q {
                Quantity::Value => "its value",
                Quantity::Numerator => "its numerator",
                Quantity::Denominator => "its denominator",
            })
            .collect();
        return format!(
            "{cell} is masked by the primary rule: {} is between 1 and {} (threshold {t}), too \
             few to publish; nothing is listed (an internal explanation needs --diffusion interne)",
            what.join(" and "),
            t - 1
        );
    }
    let same = |r: &&Row| r.indicator == row.indicator && r.masked && !std::ptr::eq(*r, row);
    let (territory, month, breakdown) = row.place();
    let mut relations = Vec::new();
    let masked_in = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(same).any(f);
    if masked_in(&|r| r.month == month && r.breakdown == breakdown && r.place().0 != territory) {
        relations.push(match month {
            Some(m) => format!(
                "the territories of {m:02}/{} add up to the département",
                pipeline.year
            ),
            None => "the territories add up to the département".to_owned(),
        });
    }
    if masked_in(&|r| r.place().0 == territory && r.breakdown == breakdown && r.month != month) {
        relations.push(format!(
            "the months of {} add up to its year",
            row.territory
        ));
    }
    if masked_in(&|r| r.place().0 == territory && r.month == month && r.breakdown != breakdown) {
        relations.push("the breakdown values add up to the indicator's total".to_owned());
    }
    if relations.is_empty() {
        relations.push(
            "a quantity it shares with another indicator (a share's denominator is a count \
             published elsewhere)"
                .to_owned(),
        );
    }
    format!(
        "{cell} is masked by the secondary rule: otherwise a masked cell could be computed back \
         through {}; nothing is listed (an internal explanation needs --diffusion interne)",
        relations.join(", or ")
    )
}

/// "RSA-05, Forez, 03/2020".
fn describe(pipeline: &Pipeline, row: &Row) -> String {
    let mut parts = vec![row.indicator.clone(), row.territory.clone()];
    match row.month {
        Some(m) => parts.push(format!("{m:02}/{}", pipeline.year)),
        None => parts.push(pipeline.year.to_string()),
    }
    if let Some(b) = &row.breakdown {
        parts.push(b.clone());
    }
    parts.join(", ")
}
