//! Hybrid retrieval: the lexical and the semantic leg fused by reciprocal rank fusion.
//!
//! Rules ([`fuse`], a pure function):
//! - each leg contributes its best [`candidate_depth`] chunks (`4 × top_k`, at least 20, at
//!   most 400), so a chunk ranked modestly by both legs can still surface;
//! - a chunk at 1-based rank `r` in a leg scores `1 / (K + r)`, summed over the legs that
//!   found it, with [`K`] = 60 (the constant of the original paper, also Elasticsearch's and
//!   OpenSearch's default: rank 1 is worth 1/61, rank 10 1/70, so agreement between the legs
//!   outweighs one leg's top hit); ties keep the lexical leg's order first;
//! - the best `top_k` are the answer, `score` being the fused score (at most `2 / 61`).
//!
//! A metadata filter applies to both legs: in the lexical SQL, and as the allow-set of the
//! vector search (the keys of the chunks it matches, computed in SQL). When the collection
//! has no vectors by its model (documents ingested before a provider was configured), the
//! answer is the lexical leg's. `total_matches` counts the lexical matches plus the chunks
//! only the semantic leg found among its candidates.

use std::collections::HashMap;

use temponest_embeddings::Embedder;

use super::retrieval::{self, Query, RankedChunk, RetrievalError, Retrieved, Target};
use super::vectors::ChunkKey;
use crate::db::chunks;
use crate::state::AppState;

/// The reciprocal rank fusion constant (see the module documentation).
pub const K: f64 = temponest_vectors::DEFAULT_K;

/// Chunks each leg contributes to the fusion for `top_k` results.
pub fn candidate_depth(top_k: i64) -> i64 {
    (top_k.saturating_mul(4)).clamp(20, 400)
}

/// Fuses the lexical and semantic rankings (best first) and keeps the best `top_k`, with
/// their fused scores.
pub fn fuse(lexical: &[ChunkKey], semantic: &[ChunkKey], top_k: usize) -> Vec<(ChunkKey, f64)> {
    temponest_vectors::reciprocal_rank_fusion(&[lexical, semantic], K)
        .into_iter()
        .take(top_k)
        .map(|fused| (fused.item, fused.score))
        .collect()
}

/// The hybrid answer to `query` (see the module documentation). Failures of the provider or
/// the index are [`RetrievalError::Semantic`].
pub async fn retrieve(
    state: &AppState,
    embedder: &Embedder,
    target: &Target,
    query: &Query,
) -> Result<Retrieved, RetrievalError> {
    let depth = candidate_depth(query.top_k);
    let (lexical, embedded) = tokio::join!(
        retrieval::lexical(&state.pool, target, query, depth),
        embedder.embed_batch(&target.embedding_model, vec![query.text.clone()]),
    );
    let mut lexical = lexical?;
    let top_k = usize::try_from(query.top_k).unwrap_or(0);
    let embedded = embedded.map_err(|e| semantic_failed(e, &lexical, top_k))?;
    let (Some(identity), Some(vector)) = (embedded.identity, embedded.vectors.into_iter().next())
    else {
        return Err(semantic_failed(
            "the provider returned no vector",
            &lexical,
            top_k,
        ));
    };
    let index = state
        .vectors
        .get(
            target.tenant_id,
            target.collection_id,
            target.version,
            &identity,
        )
        .await
        .map_err(|e| semantic_failed(e, &lexical, top_k))?;
    if index.is_empty() {
        lexical.chunks.truncate(top_k);
        return Ok(lexical);
    }
    let allowed = match &query.filter {
        Some(filter) => Some(
            chunks::matching_filter(
                &state.pool,
                target.tenant_id,
                target.collection_id,
                filter.as_json(),
            )
            .await?,
        ),
        None => None,
    };
    let limit = usize::try_from(depth).unwrap_or(0);
    let semantic =
        tokio::task::spawn_blocking(move || index.search(&vector, limit, allowed.as_deref()))
            .await
            .map_err(|e| semantic_failed(e, &lexical, top_k))?
            .map_err(|e| semantic_failed(e, &lexical, top_k))?;

    let lexical_keys: Vec<ChunkKey> = lexical
        .chunks
        .iter()
        .map(|c| (c.document_id, c.chunk_index))
        .collect();
    let semantic_keys: Vec<ChunkKey> = semantic.iter().map(|(key, _)| *key).collect();
    let only_semantic = semantic_keys
        .iter()
        .filter(|key| !lexical_keys.contains(key))
        .count();
    let fused = fuse(&lexical_keys, &semantic_keys, top_k);

    let mut rows: HashMap<ChunkKey, RankedChunk> = lexical
        .chunks
        .into_iter()
        .map(|c| ((c.document_id, c.chunk_index), c))
        .collect();
    let missing: Vec<ChunkKey> = fused
        .iter()
        .map(|(key, _)| *key)
        .filter(|key| !rows.contains_key(key))
        .collect();
    if !missing.is_empty() {
        let (documents, indexes): (Vec<_>, Vec<_>) = missing.into_iter().unzip();
        let fetched = chunks::by_keys(
            &state.pool,
            target.tenant_id,
            target.collection_id,
            &documents,
            &indexes,
        )
        .await?;
        rows.extend(fetched.into_iter().map(|row| {
            let key = (row.document_id, row.chunk_index);
            (key, ranked(row))
        }));
    }
    // A chunk deleted since the index was loaded has no row: it is left out.
    let chunks = fused
        .into_iter()
        .filter_map(|(key, score)| {
            rows.remove(&key).map(|mut chunk| {
                chunk.score = score;
                chunk
            })
        })
        .collect();
    Ok(Retrieved {
        chunks,
        total_matches: lexical.total_matches + i64::try_from(only_semantic).unwrap_or(0),
    })
}

/// The semantic leg failed: the error carries the lexical leg's answer (already computed,
/// with the fusion's deeper candidate list) cut to `top_k`, which is what the lexical leg
/// alone answers.
fn semantic_failed(reason: impl ToString, lexical: &Retrieved, top_k: usize) -> RetrievalError {
    let mut lexical = lexical.clone();
    lexical.chunks.truncate(top_k);
    RetrievalError::Semantic {
        reason: reason.to_string(),
        lexical: Box::new(lexical),
    }
}

fn ranked(row: chunks::ChunkRow) -> RankedChunk {
    RankedChunk {
        document_id: row.document_id,
        chunk_index: row.chunk_index,
        content: row.content,
        metadata: row.metadata,
        heading_path: serde_json::from_value(row.heading_path).unwrap_or_default(),
        char_start: row.char_start,
        char_end: row.char_end,
        filename: row.filename,
        score: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn candidate_depth_is_four_times_top_k_within_bounds() {
        assert_eq!(candidate_depth(1), 20);
        assert_eq!(candidate_depth(10), 40);
        assert_eq!(candidate_depth(100), 400);
        assert_eq!(candidate_depth(i64::MAX), 400);
    }

    #[test]
    fn a_chunk_only_the_semantic_leg_finds_can_lead_and_agreement_ranks_first() {
        let doc = Uuid::now_v7();
        let (a, b, c, d) = ((doc, 0), (doc, 1), (doc, 2), (doc, 3));
        // Lexical: a, b. Semantic: c first, then b.
        let fused = fuse(&[a, b], &[c, b], 3);
        let order: Vec<ChunkKey> = fused.iter().map(|(k, _)| *k).collect();
        // b: 1/62 + 1/62 beats a (1/61) and c (1/61); a before c (lexical leg first).
        assert_eq!(order, [b, a, c]);
        assert!((fused[0].1 - 2.0 / 62.0).abs() < 1e-12);
        // With no lexical match at all, the semantic order is the answer.
        let fused = fuse(&[], &[d, c], 5);
        assert_eq!(fused.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [d, c]);
    }
}
