//! The semantic leg's in-process vector indexes: one [`VectorIndex`] per (tenant,
//! collection, collection version, embedding identity), loaded lazily from the chunks'
//! stored embeddings on the first semantic query that needs it.
//!
//! - **Consistency across replicas.** An index is valid for the collection version it was
//!   loaded at; every change to a collection's chunks bumps that version, so a query (which
//!   reads the current version first) never uses an index of an older state: it loads a new
//!   one. Changes are also announced with `NOTIFY knowledge_vectors` (payload: the collection
//!   id) in the changing transaction; every process listens ([`start_listener`]) and drops
//!   the indexes whose collection moved on or was deleted, so memory is freed at once rather
//!   than on eviction. The notification is a hint: correctness rests on the version.
//! - **Memory.** Indexes live in a moka cache bounded by [`IngestConfig::vector_cache_max_bytes`]
//!   (weighed by vectors, graph and key map, estimated), least recently used evicted first,
//!   and dropped after [`IngestConfig::vector_idle_secs`] without a query. Concurrent first
//!   queries of one index share one load.
//! - **CPU.** Decoding, building (an exact scan below `vector_graph_threshold` vectors, an
//!   HNSW graph above; see `crates/vectors`) and searching run on the blocking pool. Since
//!   an index is rebuilt from Postgres after every change to its collection, the threshold
//!   defaults high (200k): a graph build takes minutes at 100k vectors, an exact scan ~22 ms.
//!
//! [`IngestConfig::vector_cache_max_bytes`]: crate::config::IngestConfig::vector_cache_max_bytes
//! [`IngestConfig::vector_idle_secs`]: crate::config::IngestConfig::vector_idle_secs

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;
use temponest_vectors::{IndexParams, VectorError, VectorIndex};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::{chunks, collections};

/// A chunk's key: (document id, chunk index).
pub type ChunkKey = (Uuid, i32);

/// Estimated bytes per vector besides its components: the HNSW graph (about 300 bytes at
/// M = 32), the id maps and slot bookkeeping.
const OVERHEAD_PER_VECTOR: u64 = 400;

/// Which index: the collection's state and the model its vectors come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct IndexKey {
    tenant_id: Uuid,
    collection_id: Uuid,
    version: i64,
    identity: String,
}

/// The vectors of one collection, by one embedding model.
pub struct CollectionIndex {
    index: VectorIndex,
    keys: HashMap<Uuid, ChunkKey>,
}

impl std::fmt::Debug for CollectionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectionIndex")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Why a collection's vectors could not be searched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VectorsError {
    #[error("loading vectors failed: {0}")]
    Database(Arc<sqlx::Error>),
    #[error(transparent)]
    Vector(#[from] VectorError),
    #[error("vector index task failed: {0}")]
    Task(String),
    /// The index would not fit the cache's budget at all: loading it would take the whole
    /// budget's worth of memory again on every query. Such a collection is answered by the
    /// lexical leg until `vector_cache_max_bytes` is raised.
    #[error(
        "the collection's {vectors} vectors need about {needed_mib} MiB, more than \
         vector_cache_max_bytes ({budget_mib} MiB)"
    )]
    TooLarge {
        vectors: i64,
        needed_mib: u64,
        budget_mib: u64,
    },
}

impl From<sqlx::Error> for VectorsError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(Arc::new(err))
    }
}

/// The id a chunk has in a [`VectorIndex`]: the first 16 bytes of
/// `sha256(document id ‖ chunk index)`, so a filter's allow-set maps to ids without a lookup.
pub fn chunk_id((document_id, chunk_index): ChunkKey) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(document_id.as_bytes());
    hasher.update(chunk_index.to_le_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

impl CollectionIndex {
    /// Builds the index of `stored` vectors with `dims` components (CPU work: call on the
    /// blocking pool). Vectors that do not decode to `dims` components are skipped (logged).
    pub fn build(
        dims: usize,
        stored: Vec<chunks::StoredVector>,
        params: IndexParams,
    ) -> Result<Self, VectorError> {
        let mut keys = HashMap::with_capacity(stored.len());
        let mut pairs = Vec::with_capacity(stored.len());
        for row in stored {
            let key = (row.document_id, row.chunk_index);
            match temponest_vectors::decode_dims(&row.embedding, dims) {
                Ok(vector) => {
                    let id = chunk_id(key);
                    keys.insert(id, key);
                    pairs.push((id, vector));
                }
                Err(err) => tracing::warn!(
                    document = %row.document_id,
                    chunk = row.chunk_index,
                    error = %err,
                    "stored embedding skipped"
                ),
            }
        }
        Ok(Self {
            index: VectorIndex::build(dims, params, pairs)?,
            keys,
        })
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The `limit` chunks nearest to `query`, best first with their cosine similarity,
    /// among `allowed` when given (CPU work: call on the blocking pool for large indexes).
    pub fn search(
        &self,
        query: &[f32],
        limit: usize,
        allowed: Option<&[ChunkKey]>,
    ) -> Result<Vec<(ChunkKey, f32)>, VectorError> {
        let allow: Option<HashSet<Uuid>> =
            allowed.map(|keys| keys.iter().copied().map(chunk_id).collect());
        let hits = self.index.search(query, limit, allow.as_ref())?;
        Ok(hits
            .into_iter()
            .filter_map(|hit| self.keys.get(&hit.id).map(|key| (*key, hit.score)))
            .collect())
    }

    fn weight(&self) -> u32 {
        u32::try_from(estimated_bytes(self.len() as u64, self.index.dims())).unwrap_or(u32::MAX)
    }
}

/// The estimated memory of an index of `vectors` vectors of `dims` components (its cache
/// weight).
fn estimated_bytes(vectors: u64, dims: usize) -> u64 {
    vectors * (dims as u64 * 4 + OVERHEAD_PER_VECTOR)
}

/// This process's vector indexes; cheap to clone.
#[derive(Clone)]
pub struct VectorIndexes {
    pool: PgPool,
    params: IndexParams,
    max_bytes: u64,
    indexes: moka::future::Cache<IndexKey, Arc<CollectionIndex>>,
}

impl std::fmt::Debug for VectorIndexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndexes")
            .field("indexes", &self.indexes.entry_count())
            .finish_non_exhaustive()
    }
}

impl VectorIndexes {
    /// Indexes within `max_bytes` (estimated), dropped after `idle` without a query, exact
    /// below `graph_threshold` vectors.
    pub fn new(pool: PgPool, max_bytes: u64, idle: Duration, graph_threshold: usize) -> Self {
        Self {
            pool,
            max_bytes,
            params: IndexParams {
                exact_below: graph_threshold,
                ..IndexParams::default()
            },
            indexes: moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_key: &IndexKey, index: &Arc<CollectionIndex>| index.weight())
                .time_to_idle(idle)
                .build(),
        }
    }

    /// The index of a collection of the tenant at `version` for vectors stamped `identity`
    /// (`provider/model@dims`), loaded from Postgres unless this process has it.
    pub async fn get(
        &self,
        tenant_id: Uuid,
        collection_id: Uuid,
        version: i64,
        identity: &temponest_embeddings::EmbeddingIdentity,
    ) -> Result<Arc<CollectionIndex>, VectorsError> {
        let key = IndexKey {
            tenant_id,
            collection_id,
            version,
            identity: identity.to_string(),
        };
        let dims = identity.dims;
        let identity = key.identity.clone();
        if !self.indexes.contains_key(&key) {
            // An index heavier than the whole budget would be evicted as soon as it is
            // inserted and loaded again by the next query: refuse it before loading.
            let vectors =
                chunks::vector_count(&self.pool, tenant_id, collection_id, &identity).await?;
            let needed = estimated_bytes(u64::try_from(vectors).unwrap_or(0), dims);
            if needed > self.max_bytes {
                return Err(VectorsError::TooLarge {
                    vectors,
                    needed_mib: needed >> 20,
                    budget_mib: self.max_bytes >> 20,
                });
            }
        }
        let load = async move {
            let stored = chunks::vectors(&self.pool, tenant_id, collection_id, &identity).await?;
            let params = self.params.clone();
            let count = stored.len();
            let started = std::time::Instant::now();
            let index =
                tokio::task::spawn_blocking(move || CollectionIndex::build(dims, stored, params))
                    .await
                    .map_err(|e| VectorsError::Task(e.to_string()))??;
            tracing::debug!(
                collection = %collection_id,
                version,
                vectors = count,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "vector index loaded"
            );
            Ok::<_, VectorsError>(Arc::new(index))
        };
        let index = self
            .indexes
            .try_get_with(key, load)
            .await
            .map_err(|err: Arc<VectorsError>| (*err).clone())?;
        self.drop_other_versions(collection_id, version);
        Ok(index)
    }

    /// The versions of `collection_id` this process holds an index for (for tests and
    /// diagnostics).
    pub fn cached_versions(&self, collection_id: Uuid) -> Vec<i64> {
        self.indexes
            .iter()
            .filter(|(key, _)| key.collection_id == collection_id)
            .map(|(key, _)| key.version)
            .collect()
    }

    /// Drops the indexes of `collection_id` at other versions than `version`.
    fn drop_other_versions(&self, collection_id: Uuid, version: i64) {
        for (key, _) in self.indexes.iter() {
            if key.collection_id == collection_id && key.version != version {
                let indexes = self.indexes.clone();
                let key = (*key).clone();
                tokio::spawn(async move { indexes.invalidate(&key).await });
            }
        }
    }

    /// Drops the indexes whose collection has moved to another version or no longer
    /// exists. Returns how many were dropped.
    pub async fn drop_stale(&self) -> sqlx::Result<usize> {
        let held: Vec<IndexKey> = self.indexes.iter().map(|(key, _)| (*key).clone()).collect();
        if held.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = held.iter().map(|k| k.collection_id).collect();
        let current: HashMap<Uuid, i64> = collections::versions(&self.pool, &ids)
            .await?
            .into_iter()
            .collect();
        let mut dropped = 0;
        for key in held {
            if current.get(&key.collection_id) != Some(&key.version) {
                self.indexes.invalidate(&key).await;
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}

/// Listens on [`collections::VECTORS_CHANNEL`] and drops stale indexes on every
/// notification (and after each reconnect, when notifications may have been missed), until
/// `cancel` fires or the pool closes.
pub fn start_listener(indexes: VectorIndexes, cancel: CancellationToken) {
    let nudge = Arc::new(Notify::new());
    tokio::spawn(temponest_db::listen(
        indexes.pool.clone(),
        collections::VECTORS_CHANNEL,
        nudge.clone(),
        cancel.clone(),
    ));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = indexes.pool.close_event() => return,
                () = nudge.notified() => {}
            }
            match indexes.drop_stale().await {
                Ok(0) => {}
                Ok(dropped) => tracing::debug!(dropped, "stale vector indexes dropped"),
                Err(err) => tracing::warn!(error = %err, "could not check vector indexes"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(document_id: Uuid, chunk_index: i32, vector: &[f32]) -> chunks::StoredVector {
        chunks::StoredVector {
            document_id,
            chunk_index,
            embedding: temponest_vectors::encode(vector),
        }
    }

    #[test]
    fn chunk_ids_are_stable_and_distinct() {
        let doc = Uuid::now_v7();
        assert_eq!(chunk_id((doc, 1)), chunk_id((doc, 1)));
        assert_ne!(chunk_id((doc, 1)), chunk_id((doc, 2)));
        assert_ne!(chunk_id((doc, 1)), chunk_id((Uuid::now_v7(), 1)));
    }

    #[test]
    fn search_maps_hits_back_to_chunks_and_respects_the_allow_set() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let index = CollectionIndex::build(
            2,
            vec![
                stored(a, 0, &[1.0, 0.0]),
                stored(a, 1, &[0.7, 0.7]),
                stored(b, 0, &[0.0, 1.0]),
                // Another model's 3-dimensional vector: skipped, not an error.
                stored(b, 1, &[1.0, 0.0, 0.0]),
            ],
            IndexParams::default(),
        )
        .unwrap();
        assert_eq!(index.len(), 3);
        let hits = index.search(&[1.0, 0.1], 2, None).unwrap();
        let keys: Vec<ChunkKey> = hits.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [(a, 0), (a, 1)]);
        let only_b = index.search(&[1.0, 0.1], 2, Some(&[(b, 0)])).unwrap();
        assert_eq!(only_b.len(), 1);
        assert_eq!(only_b[0].0, (b, 0));
    }
}
