//! Statistical confidentiality: small-cell suppression on the long table.
//!
//! **Primary rule** (threshold t from the pipeline): a count or sum of persons
//! from 1 to t−1 is masked; a share whose numerator or denominator is from 1
//! to t−1; a mean or median over 1 to t−1 values; an amount behind which 1 to
//! t−1 units stand (`secrecy = "units"`). Zero is never masked; public money
//! (`secrecy = "public"`) never is.
//!
//! **Secondary rule.** The outputs publish additive quantities (counts and
//! sums; a share's or mean's numerator and denominator; a median's number of
//! values) whose cells obey linear relations: territories add up to the
//! département, months to the year, breakdown values to the total. Quantities
//! of different indicators that are equal in every cell (RSA-05's denominator
//! is RSA-01) are one variable: hiding it masks every row that shows it.
//! 1. Line rule: while a relation (a line with its total) has exactly one
//!    hidden cell, hide its smallest published component (or its total).
//! 2. Audit: for each quantity, the hidden cells are the unknowns of the
//!    published relations; exact rational Gaussian elimination (reduced row
//!    echelon form) tells whether an unknown is determined. If one is, hide
//!    the smallest published cell of a relation holding it, then go back to 1.
//!
//! The result: no masked cell can be computed from the published cells
//! through these relations.

use crate::error::{Error, Result};
use crate::indicators::rows::{Place, Row};
use crate::pipeline::{Kind, Pipeline, Quantity, Secrecy};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A series' cells with the bits of their values: equal signatures, one quantity.
type Signature = Vec<(Place, u64)>;

/// A variable of the linear system: a quantity class and a cell.
type Var = usize;

struct System {
    /// Rows of the long table carrying each variable.
    carriers: Vec<Vec<usize>>,
    /// Each variable's value, to prefer hiding the smallest.
    values: Vec<f64>,
    /// Each variable's quantity class (relations never cross classes).
    class: Vec<usize>,
    /// The variables shown by each row, with their quantity in that row.
    row_vars: Vec<Vec<(Var, Quantity)>>,
    /// Relations: (total, components).
    relations: Vec<(Var, Vec<Var>)>,
    /// Relations holding each variable.
    relations_of: Vec<Vec<usize>>,
}

/// Masks the rows that the primary and secondary rules require. Fails,
/// rather than publish, when a row's indicator is unknown or the rules
/// cannot be shown to hold.
pub fn protect(pipeline: &Pipeline, rows: &mut [Row]) -> Result<()> {
    let threshold = f64::from(pipeline.settings.confidentiality_threshold);
    let small = |x: Option<f64>| x.is_some_and(|v| v >= 1.0 && v < threshold);
    let kinds: HashMap<&str, (Kind, Secrecy)> = pipeline
        .indicators
        .iter()
        .map(|i| (i.id(), (i.kind, i.secrecy)))
        .collect();
    let system = build_system(pipeline, rows);
    let mut masked = vec![false; rows.len()];
    for (r, row) in rows.iter().enumerate() {
        let Some(&(kind, secrecy)) = kinds.get(row.indicator.as_str()) else {
            return Err(Error::Confidentiality(format!(
                "a row of indicator {} is not in the pipeline, so its protection is unknown",
                row.indicator
            )));
        };
        let sensitive = primary(kind, secrecy, row, small);
        if !sensitive.is_empty() {
            masked[r] = true;
            for &(var, q) in &system.row_vars[r] {
                if sensitive.contains(&q) {
                    hide(&system, var, &mut masked);
                }
            }
        }
    }
    loop {
        apply_line_rule(&system, &mut masked);
        let hidden = hidden_variables(&system, &masked);
        let determined = determined_variables(&system, &hidden);
        let Some(&first) = determined.first() else {
            break;
        };
        let Some(extra) =
            smallest_published(&system, &hidden, system.relations_of[first].iter().copied())
        else {
            // A determined variable always has a published neighbour: if not, stop.
            return Err(Error::Confidentiality(
                "a masked cell can be computed from published ones and no other cell can be \
                 masked to prevent it"
                    .to_owned(),
            ));
        };
        hide(&system, extra, &mut masked);
    }
    for (row, m) in rows.iter_mut().zip(masked) {
        row.masked = m;
    }
    Ok(())
}

/// The quantities the primary rule protects in a row (none: the row is
/// not masked by it). `small` says whether a figure is from 1 to t-1.
pub fn primary(
    kind: Kind,
    secrecy: Secrecy,
    row: &Row,
    small: impl Fn(Option<f64>) -> bool,
) -> &'static [Quantity] {
    match secrecy {
        Secrecy::Public => &[],
        Secrecy::Units if small(Some(row.units)) => {
            &[Quantity::Value, Quantity::Numerator, Quantity::Denominator]
        }
        Secrecy::Units => &[],
        Secrecy::Auto => kind.sensitive(row.value, row.numerator, row.denominator, small),
    }
}

/// A variable is hidden when every row showing it is masked.
fn hidden_variables(system: &System, masked: &[bool]) -> Vec<bool> {
    system
        .carriers
        .iter()
        .map(|rows| rows.iter().all(|&r| masked[r]))
        .collect()
}

fn quantity_of(row: &Row, q: Quantity) -> f64 {
    match q {
        Quantity::Value => row.value,
        Quantity::Numerator => row.numerator,
        Quantity::Denominator => row.denominator,
    }
    .unwrap_or(0.0)
}

fn build_system(pipeline: &Pipeline, rows: &[Row]) -> System {
    // Each series: an indicator's quantity over its cells.
    let mut series: BTreeMap<(usize, Quantity), BTreeMap<Place, usize>> = BTreeMap::new();
    let position: HashMap<&str, usize> = pipeline
        .indicators
        .iter()
        .enumerate()
        .map(|(i, ind)| (ind.id(), i))
        .collect();
    for (r, row) in rows.iter().enumerate() {
        let Some(&index) = position.get(row.indicator.as_str()) else {
            continue;
        };
        let indicator = &pipeline.indicators[index];
        if indicator.secrecy == Secrecy::Public {
            continue;
        }
        let key = row.place();
        for &q in indicator.kind.revealed() {
            series.entry((index, q)).or_default().insert(key.clone(), r);
        }
    }
    // Series equal in every cell are one quantity class.
    let mut classes: BTreeMap<Signature, Vec<(usize, Quantity)>> = BTreeMap::new();
    for (id, cells) in &series {
        let signature = cells
            .iter()
            .map(|(k, &r)| (k.clone(), quantity_of(&rows[r], id.1).to_bits()))
            .collect();
        classes.entry(signature).or_default().push(*id);
    }
    let mut system = System {
        carriers: Vec::new(),
        values: Vec::new(),
        class: Vec::new(),
        row_vars: vec![Vec::new(); rows.len()],
        relations: Vec::new(),
        relations_of: Vec::new(),
    };
    for (class, (signature, members)) in classes.iter().enumerate() {
        let mut var_of: BTreeMap<&Place, Var> = BTreeMap::new();
        for (key, bits) in signature {
            let var = system.values.len();
            system.values.push(f64::from_bits(*bits));
            system.class.push(class);
            let carriers: Vec<usize> = members.iter().map(|m| series[m][key]).collect();
            for (member, &r) in members.iter().zip(&carriers) {
                system.row_vars[r].push((var, member.1));
            }
            system.carriers.push(carriers);
            var_of.insert(key, var);
        }
        add_relations(&mut system, &var_of);
    }
    system.relations_of = vec![Vec::new(); system.values.len()];
    for (i, (total, parts)) in system.relations.iter().enumerate() {
        for &v in std::iter::once(total).chain(parts) {
            system.relations_of[v].push(i);
        }
    }
    system
}

/// Territories → département, months → year, breakdown values → total; only
/// the relations that hold in the figures (a relation that doesn't hold
/// reveals nothing).
fn add_relations(system: &mut System, var_of: &BTreeMap<&Place, Var>) {
    let mut lines: BTreeMap<(u8, Place), Vec<Var>> = BTreeMap::new();
    for ((t, m, b), &var) in var_of {
        let m = *m;
        if t.is_some() {
            lines
                .entry((0, (None, m, b.clone())))
                .or_default()
                .push(var);
        }
        if m.is_some() {
            lines
                .entry((1, (t.clone(), None, b.clone())))
                .or_default()
                .push(var);
        }
        if b.is_some() {
            lines
                .entry((2, (t.clone(), m, None)))
                .or_default()
                .push(var);
        }
    }
    for ((_, total_key), parts) in lines {
        let Some(&total) = var_of.get(&total_key) else {
            continue;
        };
        let sum: f64 = parts.iter().map(|&v| system.values[v]).sum();
        if (sum - system.values[total]).abs() <= 1e-6 * system.values[total].abs().max(1.0) {
            system.relations.push((total, parts));
        } else {
            tracing::debug!("confidentiality: a line does not add up to its total, no relation");
        }
    }
}

/// Hides a variable: masks every row showing it.
fn hide(system: &System, var: Var, masked: &mut [bool]) {
    for &r in &system.carriers[var] {
        masked[r] = true;
    }
}

fn apply_line_rule(system: &System, masked: &mut [bool]) {
    loop {
        let hidden = hidden_variables(system, masked);
        let lone = system
            .relations
            .iter()
            .enumerate()
            .find_map(|(i, (total, parts))| {
                let count = std::iter::once(total)
                    .chain(parts)
                    .filter(|&&v| hidden[v])
                    .count();
                (count == 1)
                    .then(|| smallest_published(system, &hidden, std::iter::once(i)))
                    .flatten()
            });
        match lone {
            Some(var) => hide(system, var, masked),
            None => break,
        }
    }
}

/// The published component (or, failing that, total) with the smallest
/// value among the given relations; ties go to the first variable.
fn smallest_published(
    system: &System,
    hidden: &[bool],
    relations: impl Iterator<Item = usize>,
) -> Option<Var> {
    let mut best: Option<(bool, f64, Var)> = None;
    for i in relations {
        let (total, parts) = &system.relations[i];
        let candidates = parts
            .iter()
            .map(|&v| (false, v))
            .chain(std::iter::once((true, *total)));
        for (is_total, v) in candidates {
            if hidden[v] {
                continue;
            }
            let key = (is_total, system.values[v], v);
            if best.is_none_or(|b| (key.0, key.1, key.2) < (b.0, b.1, b.2)) {
                best = Some(key);
            }
        }
    }
    best.map(|(_, _, v)| v)
}

/// Hidden variables whose value follows from the published ones.
fn determined_variables(system: &System, hidden: &[bool]) -> Vec<Var> {
    let classes: BTreeSet<usize> = (0..hidden.len())
        .filter(|&v| hidden[v])
        .map(|v| system.class[v])
        .collect();
    let mut determined = Vec::new();
    for class in classes {
        let unknowns: Vec<Var> = (0..hidden.len())
            .filter(|&v| hidden[v] && system.class[v] == class)
            .collect();
        let column: HashMap<Var, usize> =
            unknowns.iter().enumerate().map(|(c, &v)| (v, c)).collect();
        let equations: Vec<Vec<i128>> = system
            .relations
            .iter()
            .filter(|(total, _)| system.class[*total] == class)
            .filter_map(|(total, parts)| {
                let mut row = vec![0i128; unknowns.len()];
                let mut any = false;
                for (&v, coefficient) in
                    std::iter::once((total, 1)).chain(parts.iter().map(|p| (p, -1)))
                {
                    if let Some(&c) = column.get(&v) {
                        row[c] += coefficient;
                        any = true;
                    }
                }
                any.then_some(row)
            })
            .collect();
        determined.extend(
            solvable_columns(equations, unknowns.len())
                .into_iter()
                .map(|c| unknowns[c]),
        );
    }
    determined
}

/// Columns whose unknown is fixed by the equations: in the reduced row
/// echelon form (exact integer arithmetic), a pivot row with no other
/// non-zero entry.
pub(crate) fn solvable_columns(mut rows: Vec<Vec<i128>>, columns: usize) -> Vec<usize> {
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    let mut next = 0;
    for col in 0..columns {
        let Some(found) = (next..rows.len()).find(|&r| rows[r][col] != 0) else {
            continue;
        };
        rows.swap(next, found);
        for r in 0..rows.len() {
            if r != next && rows[r][col] != 0 {
                let (a, b) = (rows[next][col], rows[r][col]);
                let pivot_row = rows[next].clone();
                for (x, p) in rows[r].iter_mut().zip(&pivot_row) {
                    *x = *x * a - p * b;
                }
                normalise(&mut rows[r]);
            }
        }
        pivots.push((next, col));
        next += 1;
    }
    pivots
        .into_iter()
        .filter(|&(r, col)| rows[r].iter().enumerate().all(|(c, &x)| c == col || x == 0))
        .map(|(_, col)| col)
        .collect()
}

/// Divides a row by the gcd of its entries, keeping numbers small.
fn normalise(row: &mut [i128]) {
    let g = row.iter().fold(0i128, |g, &x| gcd(g, x.abs()));
    if g > 1 {
        row.iter_mut().for_each(|x| *x /= g);
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::{Row, protect, solvable_columns};

    #[test]
    fn a_lone_unknown_in_a_line_is_solvable() {
        // x0 + x1 = known, x1 alone in another line: both determined.
        assert_eq!(
            solvable_columns(vec![vec![1, 1], vec![0, 1]], 2),
            vec![0, 1]
        );
        // x0 + x1 = known only: neither is.
        assert!(solvable_columns(vec![vec![1, 1]], 2).is_empty());
        // A 2×2 block masked in a table (4 unknowns, 4 line relations): none.
        let block = vec![
            vec![1, 1, 0, 0],
            vec![0, 0, 1, 1],
            vec![1, 0, 1, 0],
            vec![0, 1, 0, 1],
        ];
        assert!(solvable_columns(block, 4).is_empty());
    }

    /// Issue 12: a row whose protection is unknown stops the run instead of
    /// being published unmasked.
    #[test]
    fn a_row_of_an_unknown_indicator_fails_closed() {
        let pipeline = crate::pipeline::load(
            &crate::repository().join("pipelines/loire.toml"),
            Some(2020),
            None,
        )
        .unwrap();
        let row = Row {
            indicator: "XXX-99".to_owned(),
            action: String::new(),
            label: String::new(),
            territory: "Roannais".to_owned(),
            is_total: false,
            month: None,
            breakdown: None,
            value: Some(2.0),
            numerator: None,
            denominator: None,
            target: None,
            met: None,
            previous: None,
            masked: false,
            units: 2.0,
        };
        let mut rows = vec![row];
        let err = protect(&pipeline, &mut rows).unwrap_err();
        assert!(err.to_string().contains("XXX-99"), "{err}");
        assert_eq!(err.exit_code(), crate::error::exit::INTERNAL);
    }
}
