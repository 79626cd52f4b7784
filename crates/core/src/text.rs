//! Text normalisation shared by header matching, category values and commune names.

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
    use super::{french_cmp, normalize};

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
}
