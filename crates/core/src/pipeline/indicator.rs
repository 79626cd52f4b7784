//! The indicator part of the pipeline file: parameters, derived tables
//! (SQL over the sources) and indicator declarations.

use super::kind::Kind;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A named parameter, used in SQL as `{name}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Parameter {
    Integer(i64),
    Float(f64),
    /// Text is substituted as written: a column name, or a quoted SQL literal.
    Text(String),
}

impl std::fmt::Display for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Parameter::Integer(i) => write!(f, "{i}"),
            Parameter::Float(x) => write!(f, "{x}"),
            Parameter::Text(s) => f.write_str(s),
        }
    }
}

/// A table computed from sources and earlier derived tables by one SQL query.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedTable {
    pub name: Spanned<String>,
    /// What one row of the table is, for the definitions sheet.
    #[serde(default)]
    pub description: Option<String>,
    pub sql: String,
}

/// A data-quality finding: a query whose rows are problems to list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub id: Spanned<String>,
    /// French label for the quality workbook.
    pub label: String,
    pub sql: String,
}

/// A join-coverage measure for the quality workbook: a query returning one
/// row with columns `numerateur` and `denominateur`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub id: Spanned<String>,
    pub label: String,
    pub sql: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The value should be at least the target.
    Min,
    /// The value should be at most the target.
    Max,
}

/// An indicator's target as the pipeline declares it: a value, and the
/// values the convention's yearly amendments set for some years.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The target of the years `years` does not list.
    pub value: f64,
    pub direction: Direction,
    /// Year to that year's target (`years = { 2019 = 0.5 }`).
    #[serde(default, deserialize_with = "target_years")]
    pub years: BTreeMap<i32, f64>,
}

/// TOML keys are text: each must read as a plausible year, checked while
/// reading so that the error has its line.
fn target_years<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<i32, f64>, D::Error> {
    BTreeMap::<String, f64>::deserialize(d)?
        .into_iter()
        .map(|(key, value)| match key.trim().parse::<i32>() {
            Ok(year) if super::YEARS.contains(&year) => Ok((year, value)),
            _ => Err(serde::de::Error::custom(format!(
                "target year '{key}' is not a plausible year (expected {} to {})",
                super::YEARS.start(),
                super::YEARS.end()
            ))),
        })
        .collect()
}

impl Target {
    /// The target that applies to `year`.
    pub fn of_year(&self, year: i32) -> YearTarget {
        let value = self.years.get(&year).copied().unwrap_or(self.value);
        YearTarget {
            value,
            direction: self.direction,
        }
    }
}

/// The target of one year, the one a figure of that year is judged by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YearTarget {
    pub value: f64,
    pub direction: Direction,
}

impl YearTarget {
    pub fn met(&self, value: f64) -> bool {
        match self.direction {
            Direction::Min => value >= self.value - 1e-12,
            Direction::Max => value <= self.value + 1e-12,
        }
    }
}

/// How the confidentiality stage treats an indicator's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Secrecy {
    /// The kind decides: counts and sums of persons are masked from 1 to t-1,
    /// shares by their numerator and denominator, means and medians by their
    /// number of values.
    #[default]
    Auto,
    /// An amount paid to people: masked when 1 to t-1 units are behind it.
    Units,
    /// Public money (the convention's finances): never masked.
    Public,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub id: Spanned<String>,
    /// The action group, e.g. `Insertion des bénéficiaires du RSA`.
    pub action: String,
    pub label: String,
    /// Unit shown next to values: `foyers`, `personnes`, `jours`, `%`, `EUR`.
    #[serde(default)]
    pub unit: String,
    /// A source or derived table.
    pub table: String,
    pub kind: Kind,
    /// SQL condition selecting the rows the indicator is about.
    #[serde(default)]
    pub population: Option<String>,
    /// The column identifying a unit (household, person): distinct counts,
    /// per-unit shares, and territory taken from the unit's earliest row.
    #[serde(default)]
    pub key: Option<String>,
    /// SQL expression: summed (sum, ratio) or averaged (mean, median).
    #[serde(default)]
    pub measure: Option<String>,
    /// SQL condition: the share's numerator.
    #[serde(default)]
    pub condition: Option<String>,
    /// SQL expression summed as the ratio's denominator, over the year.
    #[serde(default)]
    pub denominator: Option<String>,
    /// SQL date expression placing a row in a month; rows outside the year
    /// are left out. Without it the indicator is a stock, given for the year only.
    #[serde(default)]
    pub date: Option<String>,
    /// The commune column giving the territory; `""` for département level only.
    #[serde(default = "default_commune")]
    pub commune: String,
    /// SQL expression splitting the indicator (e.g. by partner), with its French label.
    #[serde(default)]
    pub breakdown: Option<String>,
    #[serde(default)]
    pub breakdown_label: Option<String>,
    #[serde(default)]
    pub target: Option<Target>,
    #[serde(default)]
    pub secrecy: Secrecy,
    /// For a ratio of money paid over money agreed: the funder, as the
    /// finance workbook names it ("Crédits de l'État"), per `breakdown` action.
    #[serde(default)]
    pub funder: Option<String>,
    /// One line of French for the definitions sheet.
    pub definition: String,
}

fn default_commune() -> String {
    "commune".into()
}

impl Indicator {
    pub fn id(&self) -> &str {
        self.id.get_ref()
    }

    /// The target of `year`, if the indicator has one.
    pub fn target_of(&self, year: i32) -> Option<YearTarget> {
        self.target.as_ref().map(|t| t.of_year(year))
    }

    /// Whether figures exist per territory.
    pub fn by_territory(&self) -> bool {
        !self.commune.is_empty()
    }
}
