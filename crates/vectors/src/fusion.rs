//! Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): merges ranked lists
//! (the lexical and the semantic leg of a hybrid query) using ranks only, so the legs' scores,
//! which are not comparable (`ts_rank` vs cosine), never have to be normalised.
//!
//! Rules, for legs `L₁..Lₙ` and constant `k`:
//! - an item at 1-based rank `r` in a leg contributes `1 / (k + r)`; an item absent from a leg
//!   contributes nothing for it; its fused score is the sum over legs;
//! - an item listed twice in one leg counts once, at its best (first) rank;
//! - results are ordered by fused score, descending; ties go to the item with the better best
//!   rank in any leg, then to the earlier leg, then to the earlier position — so the output
//!   is deterministic and a single leg passes through in its own order;
//! - every result carries its rank in each leg (`None` where absent), so a caller can show
//!   why a chunk was returned.
//!
//! `k = 60` ([`DEFAULT_K`]) is the value of the original paper, also used by Elasticsearch,
//! OpenSearch and pgvector's hybrid examples. It flattens the curve: rank 1 is worth
//! `1/61`, rank 10 `1/70`, so an item found by both legs at modest ranks beats one found by
//! a single leg at the top. A small `k` (Qdrant uses 2) trusts each leg's top hits more.

use std::collections::HashMap;
use std::hash::Hash;

/// The usual RRF constant (see the module documentation).
pub const DEFAULT_K: f64 = 60.0;

/// One fused result.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused<T> {
    pub item: T,
    /// `Σ 1/(k + rank)` over the legs that contain the item.
    pub score: f64,
    /// The item's 1-based rank in each leg, in the order the legs were given.
    pub ranks: Vec<Option<usize>>,
}

/// Fuses ranked `legs` (best first) with constant `k` (use [`DEFAULT_K`] unless measured
/// otherwise; values ≤ 0 are treated as [`DEFAULT_K`] since they would divide by zero or
/// reward lower ranks).
pub fn reciprocal_rank_fusion<T>(legs: &[&[T]], k: f64) -> Vec<Fused<T>>
where
    T: Eq + Hash + Clone,
{
    let k = if k > 0.0 && k.is_finite() {
        k
    } else {
        DEFAULT_K
    };
    // Position of each item in `fused`, so each is scored once per leg without an N² scan.
    let mut index: HashMap<&T, usize> = HashMap::new();
    // (fused, best rank, leg of the best rank, position of the best rank).
    let mut fused: Vec<(Fused<T>, usize, usize, usize)> = Vec::new();
    for (leg, items) in legs.iter().enumerate() {
        for (position, item) in items.iter().enumerate() {
            let rank = position + 1;
            let slot = *index.entry(item).or_insert_with(|| {
                fused.push((
                    Fused {
                        item: item.clone(),
                        score: 0.0,
                        ranks: vec![None; legs.len()],
                    },
                    rank,
                    leg,
                    position,
                ));
                fused.len() - 1
            });
            let entry = &mut fused[slot];
            if entry.0.ranks[leg].is_some() {
                continue; // listed twice in one leg: the first rank stands
            }
            entry.0.ranks[leg] = Some(rank);
            entry.0.score += 1.0 / (k + rank as f64);
            if rank < entry.1 {
                (entry.1, entry.2, entry.3) = (rank, leg, position);
            }
        }
    }
    fused.sort_by(|a, b| {
        b.0.score
            .total_cmp(&a.0.score)
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    fused.into_iter().map(|(fused, ..)| fused).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order<T: Clone>(fused: &[Fused<T>]) -> Vec<T> {
        fused.iter().map(|f| f.item.clone()).collect()
    }

    #[test]
    fn an_item_found_by_both_legs_beats_one_leg_top_hits() {
        let lexical = ["a", "b", "c"];
        let semantic = ["d", "c", "a"];
        let fused = reciprocal_rank_fusion(&[&lexical, &semantic], DEFAULT_K);
        // a: 1/61 + 1/63; c: 1/63 + 1/62; d: 1/61; b: 1/62.
        assert_eq!(order(&fused), ["a", "c", "d", "b"]);
        assert!((fused[0].score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
        assert_eq!(fused[0].ranks, [Some(1), Some(3)]);
        assert_eq!(fused[2].ranks, [None, Some(1)]);
        assert_eq!(fused[3].ranks, [Some(2), None]);
    }

    #[test]
    fn ties_go_to_the_better_rank_then_the_earlier_leg() {
        // x and y each have one rank-1 hit: same score, x's leg comes first.
        let fused = reciprocal_rank_fusion(&[&["x"], &["y"]], 60.0);
        assert_eq!(order(&fused), ["x", "y"]);
        let fused = reciprocal_rank_fusion(&[&["y"], &["x"]], 60.0);
        assert_eq!(order(&fused), ["y", "x"]);
    }

    #[test]
    fn a_single_leg_passes_through_in_order_and_duplicates_count_once() {
        let leg = [3, 1, 2, 1];
        let fused = reciprocal_rank_fusion(&[&leg], DEFAULT_K);
        assert_eq!(order(&fused), [3, 1, 2]);
        assert_eq!(fused[1].ranks, [Some(2)]);
        assert!((fused[1].score - 1.0 / 62.0).abs() < 1e-12);
    }

    #[test]
    fn k_changes_how_much_the_top_of_a_leg_is_trusted() {
        // b is 1st in one leg only; a is 3rd in both.
        let one = ["b", "z1", "a"];
        let two = ["z2", "z3", "a"];
        let flat = reciprocal_rank_fusion(&[&one, &two], 60.0);
        assert_eq!(flat[0].item, "a", "with k=60 agreement wins");
        let steep = reciprocal_rank_fusion(&[&one, &two], 0.5);
        assert_eq!(
            steep[0].item, "b",
            "with k=0.5 a top hit wins (1/1.5 > 2/3.5)"
        );
    }

    #[test]
    fn empty_and_invalid_inputs() {
        assert!(reciprocal_rank_fusion::<u8>(&[], 60.0).is_empty());
        assert!(reciprocal_rank_fusion::<u8>(&[&[], &[]], 60.0).is_empty());
        let fused = reciprocal_rank_fusion(&[&[7u8]], 0.0);
        assert!((fused[0].score - 1.0 / 61.0).abs() < 1e-12, "k=0 → default");
    }
}
