//! The arithmetic of exact search: a dot product written so the compiler vectorises it (eight
//! independent accumulators over fixed-size chunks, no bounds checks in the loop), L2
//! normalisation, and top-k selection over a scan.

use std::cmp::Ordering;

use uuid::Uuid;

use crate::VectorError;

/// `Σ aᵢ·bᵢ` over the common length. For unit vectors this is their cosine similarity.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let (a_chunks, a_rest) = a.as_chunks::<8>();
    let (b_chunks, b_rest) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for lane in 0..8 {
            acc[lane] += x[lane] * y[lane];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += x * y;
    }
    sum
}

/// `vector / ‖vector‖`, refusing non-finite components and the zero vector.
pub fn normalise(vector: &[f32]) -> Result<Vec<f32>, VectorError> {
    if let Some(position) = vector.iter().position(|v| !v.is_finite()) {
        return Err(VectorError::NotFinite { position });
    }
    let norm = dot(vector, vector).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return Err(VectorError::Zero);
    }
    Ok(vector.iter().map(|v| v / norm).collect())
}

/// Orders hits best first: higher score, then the smaller id (so equal scores come out in a
/// stable order).
pub(crate) fn best_first(a: &(f32, Uuid), b: &(f32, Uuid)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The best `k` of `scored`, best first.
pub(crate) fn best_k(mut scored: Vec<(f32, Uuid)>, k: usize) -> Vec<(f32, Uuid)> {
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, best_first);
        scored.truncate(k);
    }
    scored.sort_unstable_by(best_first);
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_the_naive_sum_for_every_tail_length() {
        for len in 0..40 {
            let a: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| 1.0 - i as f32 * 0.25).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-3, "len {len}");
        }
    }

    #[test]
    fn normalising_gives_unit_length_and_refuses_zero_and_nan() {
        let unit = normalise(&[3.0, 4.0]).unwrap();
        assert_eq!(unit, [0.6, 0.8]);
        assert_eq!(normalise(&[0.0, 0.0]), Err(VectorError::Zero));
        assert_eq!(
            normalise(&[1.0, f32::NAN]),
            Err(VectorError::NotFinite { position: 1 })
        );
    }

    #[test]
    fn best_k_keeps_the_best_in_order_with_ties_by_id() {
        let ids: Vec<Uuid> = (0..5u128).map(Uuid::from_u128).collect();
        let scored = vec![
            (0.1, ids[0]),
            (0.9, ids[1]),
            (0.5, ids[3]),
            (0.5, ids[2]),
            (0.7, ids[4]),
        ];
        let best = best_k(scored.clone(), 3);
        assert_eq!(best, [(0.9, ids[1]), (0.7, ids[4]), (0.5, ids[2])]);
        assert_eq!(best_k(scored.clone(), 10).len(), 5);
        assert!(best_k(scored, 0).is_empty());
    }
}
