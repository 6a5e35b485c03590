//! Exact vs approximate search, measured: build time, query latency (p50/p99 over the query
//! set), recall@10 of the graph against the exact answer, and resident memory.
//!
//! ```text
//! cargo bench -p temponest-vectors --bench ann                     # 10k and 100k × 384 and 768
//! cargo bench -p temponest-vectors --bench ann -- 10000 384        # one size
//! cargo bench -p temponest-vectors --bench ann -- scan             # exact latency by size only
//! ```
//! `EF_CONSTRUCTION=.. EF_SEARCH=..` override the defaults. The corpus is seeded and shaped
//! like embeddings (see [`corpus`]); queries are 200 fresh draws from the same distribution.
//! Run it alone on the machine.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use temponest_vectors::{IndexParams, Strategy, VectorIndex};
use uuid::Uuid;

const QUERIES: usize = 200;
const TOP_K: usize = 10;
const TOPICS: usize = 256;
const LATENT: usize = 32;

/// Vectors with their ids.
type Corpus = Vec<(Uuid, Vec<f32>)>;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.first().map(String::as_str) == Some("scan") {
        scan_sweep();
        return;
    }
    let sizes: Vec<usize> = match args.first() {
        Some(n) => vec![n.parse().expect("a corpus size")],
        None => vec![10_000, 100_000],
    };
    let dims: Vec<usize> = match args.get(1) {
        Some(d) => vec![d.parse().expect("a dimension count")],
        None => vec![384, 768],
    };
    let defaults = params(0);
    println!(
        "graph: M=32 (fixed by instant-distance), ef_construction={}, ef_search={}; {QUERIES} queries, top {TOP_K}",
        defaults.ef_construction, defaults.ef_search
    );
    println!(
        "| vectors | dims | search | build | p50 | p99 | recall@10 | RSS added |\n|---|---|---|---|---|---|---|---|"
    );
    for &n in &sizes {
        for &d in &dims {
            compare(n, d);
        }
    }
}

fn compare(n: usize, dims: usize) {
    let (data, queries) = corpus(n, dims);

    let rss = rss_bytes();
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let exact = build(dims, usize::MAX, &data);
    let exact_build = (started.elapsed(), cpu_seconds() - cpu);
    let exact_rss = rss_bytes().saturating_sub(rss);
    let (exact_times, truth) = run(&exact, &queries, Strategy::Exact);
    row(n, dims, "exact", exact_build, &exact_times, None, exact_rss);

    let rss = rss_bytes();
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let graph = build(dims, 0, &data);
    let graph_build = (started.elapsed(), cpu_seconds() - cpu);
    let graph_rss = rss_bytes().saturating_sub(rss);
    let (graph_times, found) = run(&graph, &queries, Strategy::Approximate);
    let hits: usize = truth
        .iter()
        .zip(&found)
        .map(|(truth, found)| found.iter().filter(|id| truth.contains(id)).count())
        .sum();
    let recall = hits as f64 / (truth.len() * TOP_K) as f64;
    row(
        n,
        dims,
        "HNSW",
        graph_build,
        &graph_times,
        Some(recall),
        graph_rss,
    );
}

/// Exact p50/p99 by corpus size at 768 dimensions, to place the threshold.
fn scan_sweep() {
    println!("| vectors (768 dims) | exact p50 | exact p99 |\n|---|---|---|");
    for n in [1_000, 2_000, 5_000, 10_000, 20_000, 50_000] {
        let (data, queries) = corpus(n, 768);
        let index = build(768, usize::MAX, &data);
        let (mut times, _) = run(&index, &queries, Strategy::Exact);
        times.sort();
        println!(
            "| {n} | {} | {} |",
            ms(percentile(&times, 0.50)),
            ms(percentile(&times, 0.99))
        );
    }
}

fn build(dims: usize, exact_below: usize, data: &[(Uuid, Vec<f32>)]) -> VectorIndex {
    VectorIndex::build(dims, params(exact_below), data.iter().cloned()).expect("valid vectors")
}

/// The defaults, with `EF_CONSTRUCTION` / `EF_SEARCH` from the environment for sweeps.
fn params(exact_below: usize) -> IndexParams {
    let defaults = IndexParams::default();
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .map_or(default, |v| v.parse().expect("a number"))
    };
    IndexParams {
        exact_below,
        ef_construction: env("EF_CONSTRUCTION", defaults.ef_construction),
        ef_search: env("EF_SEARCH", defaults.ef_search),
        ..defaults
    }
}

/// Times each query; returns the times and each query's top ids.
fn run(
    index: &VectorIndex,
    queries: &[Vec<f32>],
    expected: Strategy,
) -> (Vec<Duration>, Vec<HashSet<Uuid>>) {
    let mut times = Vec::with_capacity(queries.len());
    let mut answers = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        let (hits, strategy) = index
            .search_explained(query, TOP_K, None)
            .expect("a search");
        times.push(started.elapsed());
        assert_eq!(strategy, expected);
        answers.push(hits.iter().map(|hit| hit.id).collect());
    }
    (times, answers)
}

fn row(
    n: usize,
    dims: usize,
    kind: &str,
    (build, build_cpu): (Duration, f64),
    times: &[Duration],
    recall: Option<f64>,
    rss: u64,
) {
    let mut times = times.to_vec();
    times.sort();
    println!(
        "| {n} | {dims} | {kind} | {:.2} s ({build_cpu:.1} CPU-s) | {} | {} | {} | {} MiB |",
        build.as_secs_f64(),
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99)),
        recall.map_or("1 (reference)".to_owned(), |r| format!("{r:.3}")),
        rss >> 20
    );
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

/// A corpus of `n` vectors and [`QUERIES`] queries with the structure of text embeddings:
/// points of a [`LATENT`]-dimensional mixture of [`TOPICS`] topics, mapped into `dims`
/// dimensions by a fixed random projection, plus a little isotropic noise. (I.i.d. noise in
/// all 768 dimensions would make every pair of vectors nearly equidistant — a case no
/// embedding model produces, and one where any graph index degenerates to a scan.)
fn corpus(n: usize, dims: usize) -> (Corpus, Vec<Vec<f32>>) {
    let mut rng = StdRng::seed_from_u64(20_261_204 + dims as u64);
    let projection: Vec<Vec<f32>> = (0..LATENT)
        .map(|_| (0..dims).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let topics: Vec<Vec<f32>> = (0..TOPICS)
        .map(|_| (0..LATENT).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let draw = |rng: &mut StdRng| -> Vec<f32> {
        let topic = &topics[rng.random_range(0..TOPICS)];
        let mut vector: Vec<f32> = (0..dims).map(|_| rng.random_range(-0.1f32..0.1)).collect();
        for (centre, row) in topic.iter().zip(&projection) {
            let weight = centre + rng.random_range(-0.5f32..0.5);
            for (v, p) in vector.iter_mut().zip(row) {
                *v += weight * p;
            }
        }
        vector
    };
    let data = (0..n)
        .map(|i| (Uuid::from_u128(i as u128 + 1), draw(&mut rng)))
        .collect();
    let queries = (0..QUERIES).map(|_| draw(&mut rng)).collect();
    (data, queries)
}

/// CPU time of this process so far (user + system, all threads), from `/proc/self/stat`;
/// unlike wall time it does not grow when other processes take the cores.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

/// Resident set size of this process (Linux `/proc/self/statm`), 0 elsewhere.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
