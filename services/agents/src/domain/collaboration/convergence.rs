//! When the iterative pattern stops: successive outputs are compared with the **token-set
//! Jaccard similarity** — each text is lowercased and split into words (maximal runs of
//! letters and digits), and the similarity is |A ∩ B| / |A ∪ B| of the two sets of words, in
//! [0, 1]. Two empty texts are identical (1); an empty and a non-empty text share nothing
//! (0). A session converges when the similarity of a step's output to the previous step's
//! output reaches `convergence_threshold`.
//!
//! Why this measure: it is cheap (linear in the text), deterministic, independent of word
//! order and repetition, and insensitive to case and punctuation — so a model that only
//! rephrases punctuation or reorders sentences counts as converged, while a model that still
//! adds or removes content does not.

use std::collections::HashSet;

/// The token-set Jaccard similarity of `a` and `b`, in [0, 1].
pub fn similarity(a: &str, b: &str) -> f64 {
    let a = words(a);
    let b = words(b);
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let shared = a.intersection(&b).count();
    let all = a.len() + b.len() - shared;
    shared as f64 / all as f64
}

/// Whether `current` is close enough to `previous` to stop.
pub fn converged(previous: &str, current: &str, threshold: f64) -> bool {
    similarity(previous, current) >= threshold
}

pub(crate) fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_texts_up_to_case_punctuation_and_order_are_fully_similar() {
        assert_eq!(similarity("The cat sat.", "sat, the CAT"), 1.0);
        assert_eq!(similarity("", "  ..."), 1.0);
    }

    #[test]
    fn similarity_is_shared_words_over_all_words() {
        // {a, b, c} vs {b, c, d}: 2 shared of 4.
        assert_eq!(similarity("a b c", "b c d"), 0.5);
        assert_eq!(similarity("a", ""), 0.0);
        assert_eq!(similarity("x y", "z"), 0.0);
    }

    #[test]
    fn convergence_is_reached_at_the_threshold_inclusive() {
        assert!(converged("a b c", "b c d", 0.5));
        assert!(!converged("a b c", "b c d", 0.51));
    }
}
