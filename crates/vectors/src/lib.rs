//! Nearest-neighbour search over embeddings, in process, for the knowledge service's semantic
//! leg (the machine's Postgres has no `vector` extension, so vectors are stored as `bytea` and
//! searched here).
//!
//! - [`VectorIndex`]: (id, vector) pairs, cosine similarity. Below
//!   [`IndexParams::exact_below`] live vectors it searches exactly (a brute-force scan with a
//!   vectorisable dot product); from there on it builds an HNSW graph. Inserts and removals
//!   are cheap (new vectors are scanned exactly next to the graph, removed ones are
//!   tombstoned) until [`VectorIndex::needs_rebuild`] says the graph has drifted too far; then
//!   [`VectorIndex::rebuild`] compacts and rebuilds it. Searches take an optional allow-set of
//!   ids and are never silently short: when filtering leaves the graph's candidates short of
//!   `top_k`, the search falls back to an exact scan of the allowed ids.
//! - [`encode`]/[`decode`]: the compact `bytea` form (little-endian `f32`).
//! - [`reciprocal_rank_fusion`]: merging the lexical and semantic legs by rank.
//!
//! Building a graph and scanning many vectors are CPU work: async callers run
//! [`VectorIndex::build`], [`VectorIndex::rebuild`] and large searches on a blocking thread
//! (`tokio::task::spawn_blocking`).
//!
//! # Why `instant-distance`
//! Evaluated for this crate (December 2026): `instant-distance` 0.6 (pure Rust; parking_lot,
//! rayon, rand, ordered-float, num_cpus), `hnsw_rs` 0.3 (pure Rust, but also pulls mmap-rs,
//! env_logger, cpu-time, anndists, lazy_static, anyhow, indexmap, hashbrown; it can insert
//! after building and filter during search, but not delete either), and `usearch` (C++ through
//! cxx: a C++ toolchain in every build, the opposite of lean, although it can delete).
//! `instant-distance` is the smallest, seeds its level assignment, keeps the graph in
//! flat arrays of `u32` (about 300 bytes a vector at M=32) and shares the vectors with this
//! crate through `Arc`s, so each vector is held once. Its limits — build-once graphs, a fixed
//! `M` of 32 and `ef_search` set at build time — are covered by the delta/tombstone scheme
//! above and by the exact fallback. The measured trade-offs are in `docs/performance.md`,
//! "Vector search: exact vs approximate".

mod codec;
mod exact;
mod fusion;
mod index;

pub use codec::{decode, decode_dims, encode};
pub use exact::{dot, normalise};
pub use fusion::{DEFAULT_K, Fused, reciprocal_rank_fusion};
pub use index::{Hit, IndexParams, Strategy, VectorIndex};

/// Why a vector operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VectorError {
    /// A vector or query has a different number of dimensions than the index (typically an
    /// embedding-model change: re-embed, or search with the matching model).
    #[error("vector has {actual} dimensions, the index expects {expected}")]
    DimensionMismatch { expected: usize, actual: usize },
    /// A component is NaN or infinite.
    #[error("vector component {position} is not a finite number")]
    NotFinite { position: usize },
    /// An all-zero vector has no direction, so its cosine similarity is undefined.
    #[error("vector is all zeros; cosine similarity is undefined")]
    Zero,
    /// Bytes read back from storage are not a vector written by [`encode`].
    #[error("stored vector is corrupt: {detail}")]
    Corrupt { detail: String },
    /// An index must have at least one dimension.
    #[error("an index needs at least one dimension")]
    NoDimensions,
}
