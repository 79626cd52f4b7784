//! The published indicator table, as rows: one per indicator × territory ×
//! period × breakdown value. Confidentiality masks them, the reports write
//! them (`indicateurs_<Y>.csv`, `.parquet`, the workbooks).

use crate::indicators::{self, Computed};
use crate::pipeline::Pipeline;
use std::collections::HashMap;

/// Where a figure sits within its indicator: territory (None: the
/// département), month (None: the year), breakdown value (None: the total).
pub type Place = (Option<String>, Option<u32>, Option<String>);

/// A published cell's identity, the same from one year to the next: its
/// indicator and its place.
pub type CellKey = (String, Place);

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub indicator: String,
    pub action: String,
    pub label: String,
    /// The territory's name, or the département's for the total.
    pub territory: String,
    pub is_total: bool,
    pub month: Option<u32>,
    pub breakdown: Option<String>,
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub target: Option<f64>,
    pub met: Option<bool>,
    pub previous: Option<f64>,
    pub masked: bool,
    /// Units behind the figure, for the confidentiality stage; never written.
    pub units: f64,
}

impl Row {
    pub fn place(&self) -> Place {
        let territory = (!self.is_total).then(|| self.territory.clone());
        (territory, self.month, self.breakdown.clone())
    }

    pub fn key(&self) -> CellKey {
        (self.indicator.clone(), self.place())
    }
}

/// Rows in catalogue order, then département before territories, year
/// before months, total before breakdown values; territories and values in
/// French order.
pub fn rows(
    pipeline: &Pipeline,
    computed: &Computed,
    previous: Option<&HashMap<CellKey, Option<f64>>>,
) -> Vec<Row> {
    let departement = &pipeline.settings.departement;
    let mut rows = Vec::new();
    for result in &computed.indicators {
        let indicator = &pipeline.indicators[result.index];
        let mut figures: Vec<_> = result.figures.iter().collect();
        let french = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => crate::text::french_cmp(a, b),
            _ => a.cmp(b),
        };
        figures.sort_by(|a, b| {
            french(&a.territory, &b.territory)
                .then(a.month.cmp(&b.month))
                .then_with(|| french(&a.breakdown, &b.breakdown))
        });
        for figure in figures {
            let territory = figure
                .territory
                .clone()
                .unwrap_or_else(|| departement.clone());
            let mut row = Row {
                indicator: indicator.id().to_owned(),
                action: indicator.action.clone(),
                label: indicator.label.clone(),
                territory,
                is_total: figure.territory.is_none(),
                month: figure.month,
                breakdown: figure.breakdown.clone(),
                value: figure.value,
                numerator: figure.numerator,
                denominator: figure.denominator,
                target: indicator.target_of(pipeline.year).map(|t| t.value),
                met: indicators::attainment(indicator, pipeline.year, figure.value),
                previous: None,
                masked: false,
                units: figure.units,
            };
            row.previous = previous.and_then(|p| p.get(&row.key()).copied().flatten());
            rows.push(row);
        }
    }
    rows
}
