//! Text normalisation shared by header matching, category values and commune names,
//! and the trimming of cells.

use icu_collator::options::CollatorOptions;
use icu_collator::{Collator, CollatorBorrowed};
use std::cmp::Ordering;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Orders two labels as a French reader sorts them ("Écrivains" among the
/// E, not after the Z), bytes breaking ties so that the order is total.
pub fn french_cmp(a: &str, b: &str) -> Ordering {
    // Compiled into the binary: the French data cannot be missing.
    static FRENCH: LazyLock<Option<CollatorBorrowed<'static>>> = LazyLock::new(|| {
        Collator::try_new(icu_locale::locale!("fr").into(), CollatorOptions::default()).ok()
    });
    match FRENCH.as_ref() {
        Some(collator) => collator.compare(a, b).then_with(|| a.cmp(b)),
        None => a.cmp(b),
    }
}

/// `str::trim`, fast on printable ASCII ends (the reading crate's).
pub use suivi_read::trim;

/// Lowercases, removes accents and punctuation (`°` and `º` included), and
/// collapses runs of spaces: `N° Allocataire ` and `Nº allocataire` both give
/// `n allocataire`; `Type d’orientation` gives `type d orientation`.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() && c != 'º' && c != 'ª' {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// Lowercased and without accents, punctuation kept: `Copie de Finances_2020 (1).XLSX`
/// gives `copie de finances_2020 (1).xlsx`.
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|&c| !is_combining_mark(c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Row numbers for readers, runs of adjacent rows shortened: `145-147, 150`.
pub fn row_ranges(rows: &[usize]) -> String {
    let mut sorted = rows.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for row in sorted {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == row => *last = row,
            _ => runs.push((row, row)),
        }
    }
    runs.iter()
        .map(|&(first, last)| match last - first {
            0 => first.to_string(),
            1 => format!("{first}, {last}"),
            _ => format!("{first}-{last}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `value` cut to `max` characters, with an ellipsis when it was longer.
pub fn shorten(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::{french_cmp, normalize, row_ranges, trim};

    #[test]
    fn trim_is_str_trim() {
        let cells = [
            "",
            " ",
            "42",
            " 42",
            "42 ",
            "\t42\r",
            "a",
            "\u{a0}12,5\u{a0}",
            "\u{2003}x",
            "é",
            " é ",
            "x\u{3000}",
            "-1",
            "N° 12",
        ];
        for cell in cells {
            assert_eq!(trim(cell), cell.trim(), "{cell:?}");
        }
    }

    #[test]
    fn labels_sort_as_in_french() {
        let mut actions = vec![
            "Épiceries solidaires",
            "Écrivains publics numériques",
            "Mobilité solidaire",
            "accueil social",
            "Aide au permis",
            "Ateliers numériques",
        ];
        actions.sort_by(|a, b| french_cmp(a, b));
        assert_eq!(
            actions,
            [
                "accueil social",
                "Aide au permis",
                "Ateliers numériques",
                "Écrivains publics numériques",
                "Épiceries solidaires",
                "Mobilité solidaire",
            ]
        );
    }

    #[test]
    fn header_variants_match() {
        assert_eq!(normalize("N° Allocataire "), "n allocataire");
        assert_eq!(normalize("Nº allocataire"), "n allocataire");
        assert_eq!(normalize("n° ALLOCATAIRE"), "n allocataire");
        assert_eq!(normalize("Type d’orientation"), "type d orientation");
        assert_eq!(normalize("DATE D'ORIENTATION"), "date d orientation");
        assert_eq!(
            normalize("  Écrivain   public numérique "),
            "ecrivain public numerique"
        );
        assert_eq!(normalize("Saint-Étienne"), "saint etienne");
    }

    #[test]
    fn adjacent_rows_read_as_ranges() {
        assert_eq!(
            row_ranges(&[147, 145, 146, 150, 152, 153]),
            "145-147, 150, 152, 153"
        );
        assert_eq!(row_ranges(&[7]), "7");
        assert_eq!(row_ranges(&[]), "");
    }
}
