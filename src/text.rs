//! Text normalisation shared by header matching, category values and commune names.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

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

#[cfg(test)]
mod tests {
    use super::normalize;

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
