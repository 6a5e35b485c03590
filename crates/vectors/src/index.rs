//! [`VectorIndex`]: live vectors by id, an HNSW graph over a snapshot of them, and the policy
//! that picks exact or approximate search.
//!
//! Layout: `slots` holds every vector added since the last (re)build, in order; the first
//! `graph_len` of them are in the graph, the rest are *fresh* and scanned exactly next to it.
//! A removed or replaced vector's slot is tombstoned (`live = false`) and skipped. The graph
//! never changes after it is built (the crate cannot insert or delete), so drift is bounded
//! by [`VectorIndex::needs_rebuild`] and repaired by [`VectorIndex::rebuild`].
//!
//! Search policy, for `top_k` results among the allowed live vectors:
//! 1. no graph (fewer than `exact_below` vectors at the last build) → exact scan;
//! 2. an allow-set smaller than `exact_below` → exact scan of just those ids (cheaper than the
//!    graph, and exact);
//! 3. otherwise the graph's `ef_search` candidates, minus tombstones and disallowed ids, merged
//!    with an exact scan of the fresh slots; if that leaves fewer than
//!    `min(top_k, allowed live vectors)` hits, an exact scan of the allowed set instead —
//!    a filtered search is never silently short.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use instant_distance::{Builder, HnswMap, Point, Search};
use uuid::Uuid;

use crate::VectorError;
use crate::exact::{best_k, dot, normalise};

/// Tuning of a [`VectorIndex`]; the defaults are the measured choice documented in
/// `docs/performance.md` ("Vector search: exact vs approximate").
#[derive(Debug, Clone, PartialEq)]
pub struct IndexParams {
    /// Below this many live vectors no graph is built and every search is exact.
    pub exact_below: usize,
    /// Candidate list size while building the graph (quality of the graph vs build time).
    pub ef_construction: usize,
    /// Candidate list size while searching (recall vs query time); also the most hits a graph
    /// search can return before filtering.
    pub ef_search: usize,
    /// Rebuild once vectors added or removed since the last build exceed this fraction of the
    /// graph's size.
    pub rebuild_fraction: f64,
    /// Seed of the graph's level assignment. Insertion runs on several threads, so two builds
    /// of the same vectors can still differ slightly.
    pub seed: u64,
}

impl Default for IndexParams {
    fn default() -> Self {
        Self {
            exact_below: 20_000,
            ef_construction: 100,
            ef_search: 100,
            rebuild_fraction: 0.1,
            seed: 0x7e3b_05ee,
        }
    }
}

/// How a search was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// A scan of every allowed live vector.
    Exact,
    /// The HNSW graph (plus a scan of vectors added since it was built).
    Approximate,
    /// The graph left too few allowed hits, so the allowed set was scanned.
    ExactFallback,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: Uuid,
    /// Cosine similarity to the query, in `[-1, 1]`.
    pub score: f32,
}

/// A unit vector shared by the slot table and the graph.
#[derive(Clone)]
struct Unit(Arc<[f32]>);

impl Point for Unit {
    fn distance(&self, other: &Self) -> f32 {
        // Cosine distance of unit vectors; clamped so rounding never makes it negative.
        (1.0 - dot(&self.0, &other.0)).max(0.0)
    }
}

struct Slot {
    id: Uuid,
    vector: Unit,
    live: bool,
}

/// Cosine nearest-neighbour search over `(Uuid, vector)` pairs of one dimension count.
pub struct VectorIndex {
    dims: usize,
    params: IndexParams,
    slots: Vec<Slot>,
    by_id: HashMap<Uuid, usize>,
    /// The graph over `slots[..graph_len]`; values are slot numbers.
    graph: Option<HnswMap<Unit, u32>>,
    graph_len: usize,
    /// Tombstoned slots (anywhere in `slots`).
    dead: usize,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("dims", &self.dims)
            .field("live", &self.len())
            .field("graph_len", &self.graph.as_ref().map(|_| self.graph_len))
            .field("dead", &self.dead)
            .finish()
    }
}

impl VectorIndex {
    /// An empty index for vectors of `dims` dimensions.
    pub fn new(dims: usize, params: IndexParams) -> Result<Self, VectorError> {
        if dims == 0 {
            return Err(VectorError::NoDimensions);
        }
        Ok(Self {
            dims,
            params,
            slots: Vec::new(),
            by_id: HashMap::new(),
            graph: None,
            graph_len: 0,
            dead: 0,
        })
    }

    /// An index over `pairs` (a later pair replaces an earlier one with the same id), with
    /// its graph built when there are at least `exact_below` of them. CPU-heavy: see the
    /// crate documentation.
    pub fn build(
        dims: usize,
        params: IndexParams,
        pairs: impl IntoIterator<Item = (Uuid, Vec<f32>)>,
    ) -> Result<Self, VectorError> {
        let mut index = Self::new(dims, params)?;
        for (id, vector) in pairs {
            index.insert(id, &vector)?;
        }
        index.rebuild();
        Ok(index)
    }

    /// Dimensions of every vector in the index.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn contains(&self, id: Uuid) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The parameters the index was created with.
    pub fn params(&self) -> &IndexParams {
        &self.params
    }

    /// Whether searches can use a graph (built at the last [`rebuild`](Self::rebuild)).
    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// Adds `vector` under `id`, replacing the vector `id` had. It is searchable at once (by
    /// a scan next to the graph until the next rebuild).
    pub fn insert(&mut self, id: Uuid, vector: &[f32]) -> Result<(), VectorError> {
        self.check_dims(vector)?;
        let unit = normalise(vector)?;
        self.remove(id);
        self.by_id.insert(id, self.slots.len());
        self.slots.push(Slot {
            id,
            vector: Unit(unit.into()),
            live: true,
        });
        Ok(())
    }

    /// Removes `id`; true when it was present. Its slot stays (tombstoned) until the next
    /// rebuild.
    pub fn remove(&mut self, id: Uuid) -> bool {
        match self.by_id.remove(&id) {
            Some(slot) => {
                self.slots[slot].live = false;
                self.dead += 1;
                true
            }
            None => false,
        }
    }

    /// Whether [`rebuild`](Self::rebuild) is due: a graph should exist but does not, one
    /// exists but is no longer worth keeping, or the vectors added and removed since it was
    /// built exceed `rebuild_fraction` of it (every search pays for them), or tombstones make
    /// up most of the slots.
    pub fn needs_rebuild(&self) -> bool {
        let live = self.len();
        let wants_graph = live >= self.params.exact_below;
        match &self.graph {
            None => wants_graph || self.dead > self.slots.len() / 2,
            Some(_) if !wants_graph => true,
            Some(_) => {
                let churn = (self.slots.len() - self.graph_len) + self.dead;
                churn as f64 > self.params.rebuild_fraction * self.graph_len as f64
            }
        }
    }

    /// Drops tombstones and rebuilds the graph over every live vector (or drops the graph
    /// when fewer than `exact_below` remain). CPU-heavy: the graph build uses all cores
    /// (rayon); run it on a blocking thread, or build a new index beside the one serving and
    /// swap them.
    pub fn rebuild(&mut self) {
        self.slots.retain(|slot| slot.live);
        self.dead = 0;
        self.by_id = self
            .slots
            .iter()
            .enumerate()
            .map(|(slot, s)| (s.id, slot))
            .collect();
        self.graph_len = self.slots.len();
        self.graph = (self.slots.len() >= self.params.exact_below).then(|| {
            let points = self.slots.iter().map(|s| s.vector.clone()).collect();
            let values = (0..self.slots.len() as u32).collect();
            Builder::default()
                .ef_construction(self.params.ef_construction)
                .ef_search(self.params.ef_search)
                .seed(self.params.seed)
                .build(points, values)
        });
    }

    /// [`rebuild`](Self::rebuild) when [`needs_rebuild`](Self::needs_rebuild); true when it
    /// rebuilt.
    pub fn rebuild_if_needed(&mut self) -> bool {
        let due = self.needs_rebuild();
        if due {
            self.rebuild();
        }
        due
    }

    /// The `top_k` live vectors most similar to `query` (cosine), best first, restricted to
    /// `allow` when given.
    pub fn search(
        &self,
        query: &[f32],
        top_k: usize,
        allow: Option<&HashSet<Uuid>>,
    ) -> Result<Vec<Hit>, VectorError> {
        self.search_explained(query, top_k, allow)
            .map(|(hits, _)| hits)
    }

    /// [`search`](Self::search), also saying which strategy answered.
    pub fn search_explained(
        &self,
        query: &[f32],
        top_k: usize,
        allow: Option<&HashSet<Uuid>>,
    ) -> Result<(Vec<Hit>, Strategy), VectorError> {
        self.check_dims(query)?;
        let query = normalise(query)?;
        if top_k == 0 || self.is_empty() {
            return Ok((Vec::new(), Strategy::Exact));
        }
        let Some(graph) = &self.graph else {
            return Ok((self.scan(&query, top_k, allow), Strategy::Exact));
        };
        if let Some(allow) = allow
            && allow.len() < self.params.exact_below
        {
            return Ok((self.scan_ids(&query, top_k, allow), Strategy::Exact));
        }
        let allowed = |id: &Uuid| allow.is_none_or(|allow| allow.contains(id));
        let query_point = Unit(query.clone().into());
        let mut search = Search::default();
        let mut scored: Vec<(f32, Uuid)> = graph
            .search(&query_point, &mut search)
            .filter_map(|item| {
                let slot = &self.slots[*item.value as usize];
                (slot.live && allowed(&slot.id)).then_some((1.0 - item.distance, slot.id))
            })
            .collect();
        for slot in &self.slots[self.graph_len..] {
            if slot.live && allowed(&slot.id) {
                scored.push((dot(&query, &slot.vector.0), slot.id));
            }
        }
        let expected = match allow {
            None => self.len().min(top_k),
            Some(allow) => allow
                .iter()
                .filter(|id| self.contains(**id))
                .count()
                .min(top_k),
        };
        if scored.len() < expected {
            return Ok((self.scan(&query, top_k, allow), Strategy::ExactFallback));
        }
        Ok((hits(best_k(scored, top_k)), Strategy::Approximate))
    }

    fn check_dims(&self, vector: &[f32]) -> Result<(), VectorError> {
        if vector.len() != self.dims {
            return Err(VectorError::DimensionMismatch {
                expected: self.dims,
                actual: vector.len(),
            });
        }
        Ok(())
    }

    /// Exact: every live (allowed) slot.
    fn scan(&self, query: &[f32], k: usize, allow: Option<&HashSet<Uuid>>) -> Vec<Hit> {
        let scored = self
            .slots
            .iter()
            .filter(|slot| slot.live && allow.is_none_or(|allow| allow.contains(&slot.id)))
            .map(|slot| (dot(query, &slot.vector.0), slot.id))
            .collect();
        hits(best_k(scored, k))
    }

    /// Exact: just the allowed ids.
    fn scan_ids(&self, query: &[f32], k: usize, allow: &HashSet<Uuid>) -> Vec<Hit> {
        let scored = allow
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .map(|&slot| {
                let slot = &self.slots[slot];
                (dot(query, &slot.vector.0), slot.id)
            })
            .collect();
        hits(best_k(scored, k))
    }
}

fn hits(scored: Vec<(f32, Uuid)>) -> Vec<Hit> {
    scored
        .into_iter()
        .map(|(score, id)| Hit { id, score })
        .collect()
}
