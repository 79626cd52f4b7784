//! Guesses about a file no pipeline describes yet, for `suivi inspect`:
//! where its header is, what type each column holds, which columns look
//! like personal data (their values are never shown).

use crate::parse::{self, Cell};
use crate::text::normalize;
use suivi_read::Grid;

/// The first row with the most titles among the first 50: text cells that
/// are not numbers or dates, since in a CSV file every cell is text and a
/// data row would otherwise outnumber a header whose first title is empty
/// (an index column).
pub fn header_row(grid: &dyn Grid) -> Option<usize> {
    let is_title = |cell: Cell| match cell {
        Cell::Text(t) => {
            !t.trim().is_empty()
                && parse::parse_decimal(cell).is_err()
                && parse::parse_date(cell).is_err()
        }
        _ => false,
    };
    let texts = |row: usize| {
        (0..grid.width())
            .filter(|&c| is_title(grid.cell(row, c)))
            .count()
    };
    let mut best: Option<(usize, usize)> = None;
    for row in 0..grid.height().min(50) {
        let n = texts(row);
        if n > 0 && best.is_none_or(|(b, _)| n > b) {
            best = Some((n, row));
        }
    }
    best.map(|(_, row)| row)
}

/// Header words of personal data: such columns' values are never printed.
const PERSONAL_WORDS: [&str; 17] = [
    "allocataire",
    "alloc",
    "numalloc",
    "identifiant",
    "id",
    "nir",
    "matricule",
    "nom",
    "prenom",
    "naissance",
    "securite",
    "telephone",
    "tel",
    "mail",
    "email",
    "courriel",
    "adresse",
];

pub fn looks_personal(title: &str) -> bool {
    let t = normalize(title);
    t.split(' ').any(|word| PERSONAL_WORDS.contains(&word))
        || ["alloc", "mail", "phone"].iter().any(|w| t.contains(w))
}

pub fn column_type(title: &str, cells: &[Cell]) -> &'static str {
    if looks_personal(title) {
        return "id";
    }
    if cells.is_empty() {
        return "text";
    }
    // Before dates: a code like 42218 is also a plausible Excel serial date.
    if normalize(title).contains("commune") || normalize(title).contains("codcom") {
        return "commune";
    }
    let all = |f: &dyn Fn(Cell) -> bool| cells.iter().all(|&c| f(c));
    if all(&|c| matches!(c, Cell::DateTime(_)))
        || (all(&|c| parse::parse_date(c).is_ok())
            && !all(&|c| matches!(c, Cell::Int(_) | Cell::Float(_))))
    {
        return "date";
    }
    if all(&|c| matches!(c, Cell::Text(t) if t.trim().len() == 6) && parse::parse_month(c).is_ok())
    {
        return "month";
    }
    if all(&|c| parse::parse_integer(c).is_ok()) {
        // Long unique digit strings are identifiers too.
        let distinct: std::collections::HashSet<String> =
            cells.iter().map(|c| c.display()).collect();
        if distinct.len() == cells.len()
            && cells.len() > 20
            && cells.iter().all(|c| c.display().trim().len() >= 7)
        {
            return "id";
        }
        if all(&|c| matches!(parse::parse_integer(c), Ok(Some(0 | 1)))) {
            return "bool";
        }
        return "integer";
    }
    if all(&|c| parse::parse_decimal(c).is_ok()) {
        return "decimal";
    }
    if all(&|c| parse::parse_bool(c).is_ok()) {
        return "bool";
    }
    let distinct: std::collections::BTreeSet<String> = cells
        .iter()
        .map(|c| c.display().trim().to_owned())
        .collect();
    if distinct.len() <= 12 && cells.len() >= 2 * distinct.len() {
        return "category";
    }
    "text"
}
