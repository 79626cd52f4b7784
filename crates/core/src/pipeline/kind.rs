//! Indicator kinds, in one place: what each needs in the pipeline file, how
//! it is labelled, what its figure is made of and which of its quantities
//! the confidentiality rules protect. Every match here is exhaustive: a new
//! kind does not compile until each question has its answer (how it
//! aggregates is in `indicators::eval`, matched exhaustively as well).

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Rows of the population.
    Count,
    /// Distinct `key` values of the population.
    Distinct,
    /// Sum of `measure`.
    Sum,
    /// Mean of `measure` over the rows where it has a value.
    Mean,
    /// Median of `measure` (midpoint of the two middle values for an even count).
    Median,
    /// Units (or rows, without `key`) meeting `condition`, over the population.
    Share,
    /// Sum of `measure` over sum of `denominator`.
    Ratio,
}

/// A quantity a published cell shows, which confidentiality may hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quantity {
    Value,
    Numerator,
    Denominator,
}

/// An indicator field that some kinds need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Key,
    Measure,
    Condition,
    Denominator,
}

impl Field {
    /// Its name in the pipeline file.
    pub fn name(self) -> &'static str {
        match self {
            Field::Key => "key",
            Field::Measure => "measure",
            Field::Condition => "condition",
            Field::Denominator => "denominator",
        }
    }
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Count => "count",
            Kind::Distinct => "distinct",
            Kind::Sum => "sum",
            Kind::Mean => "mean",
            Kind::Median => "median",
            Kind::Share => "share",
            Kind::Ratio => "ratio",
        }
    }

    /// The indicator fields the kind needs, beyond its table and population.
    pub fn needs(self) -> &'static [Field] {
        match self {
            Kind::Count => &[],
            Kind::Distinct => &[Field::Key],
            Kind::Sum | Kind::Mean | Kind::Median => &[Field::Measure],
            Kind::Share => &[Field::Condition],
            Kind::Ratio => &[Field::Measure, Field::Denominator],
        }
    }

    /// What the Définitions sheet calls it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Count => "Nombre de lignes",
            Kind::Distinct => "Nombre d'unités",
            Kind::Sum => "Somme",
            Kind::Mean => "Moyenne",
            Kind::Median => "Médiane",
            Kind::Share => "Part",
            Kind::Ratio => "Ratio de sommes",
        }
    }

    /// A total that adds up over territories and months (0 where nothing
    /// is counted), as opposed to a rate or a summary of values.
    pub fn is_total(self) -> bool {
        match self {
            Kind::Count | Kind::Distinct | Kind::Sum => true,
            Kind::Mean | Kind::Median | Kind::Share | Kind::Ratio => false,
        }
    }

    /// A fraction of two quantities, shown as a percentage by default.
    pub fn is_rate(self) -> bool {
        match self {
            Kind::Share | Kind::Ratio => true,
            Kind::Count | Kind::Distinct | Kind::Sum | Kind::Mean | Kind::Median => false,
        }
    }

    /// The quantities a cell of this kind reveals: the ones the secondary
    /// rule keeps from being computed back from published cells.
    pub fn revealed(self) -> &'static [Quantity] {
        match self {
            Kind::Count | Kind::Distinct | Kind::Sum => &[Quantity::Value],
            Kind::Share | Kind::Mean | Kind::Ratio => &[Quantity::Numerator, Quantity::Denominator],
            // The median itself reveals no sum; the count of values is.
            Kind::Median => &[Quantity::Denominator],
        }
    }

    /// The quantities of a cell that the primary rule hides under the
    /// `auto` secrecy: those that count fewer units than the threshold.
    pub fn sensitive(
        self,
        value: Option<f64>,
        numerator: Option<f64>,
        denominator: Option<f64>,
        small: impl Fn(Option<f64>) -> bool,
    ) -> &'static [Quantity] {
        match self {
            Kind::Count | Kind::Distinct | Kind::Sum => {
                if small(value) {
                    &[Quantity::Value]
                } else {
                    &[]
                }
            }
            Kind::Share | Kind::Ratio => match (small(numerator), small(denominator)) {
                (true, true) => &[Quantity::Numerator, Quantity::Denominator],
                (true, false) => &[Quantity::Numerator],
                (false, true) => &[Quantity::Denominator],
                (false, false) => &[],
            },
            // A mean over few values also reveals their sum.
            Kind::Mean | Kind::Median => {
                if small(denominator) {
                    &[Quantity::Numerator, Quantity::Denominator]
                } else {
                    &[]
                }
            }
        }
    }
}
