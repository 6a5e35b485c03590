//! Cost of the body scan every JSON request goes through (`json_scan::check`), next to the
//! deserialization it precedes, on a typical agent-create body (~1 KiB: strings, nested
//! metadata, a few floats and integers).
//!
//! - `json_scan/check`: the scan alone.
//! - `json_scan/deserialize`: `serde_json::from_slice::<Value>` of the same body, for scale.
//!
//! Run with `cargo bench -p temponest-web --bench json_scan`. On the shared 2-core dev machine
//! (December 2026): check ≈ 1.2 µs, deserialize ≈ 4.4 µs for this 909-byte body.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use temponest_web::json_scan;

const BODY: &str = r#"{
  "name": "Research assistant",
  "model": "llama3.2",
  "provider": "ollama",
  "description": "Finds sources, summarises them and keeps a reading list per project.",
  "system_prompt": "You are a careful research assistant. Cite every source you use, say \"I don't know\" when unsure, and never invent a reference.\nAnswer in the user's language.",
  "tools": ["web_search", "calculator", "http_get"],
  "rag_collection_ids": ["0193c5c1-6f4e-7a8b-9c0d-1e2f3a4b5c6d"],
  "max_iterations": 12,
  "temperature": 0.35,
  "metadata": {
    "team": "growth",
    "cost_center": 4411,
    "budget_usd": 125.5,
    "owners": ["ada@example.com", "grace@example.com"],
    "limits": {"tokens_per_day": 2000000, "ratio": 0.125, "burst": 1.5e3},
    "labels": {"env": "prod", "tier": "gold", "region": "eu-west-1"},
    "history": [{"v": 1, "at": "2026-01-02T03:04:05Z"}, {"v": 2, "at": "2026-02-03T04:05:06Z"}]
  }
}"#;

fn bench(c: &mut Criterion) {
    let body = BODY.as_bytes();
    assert!(json_scan::check(body).is_ok());
    c.bench_function("json_scan/check", |b| {
        b.iter(|| json_scan::check(black_box(body)))
    });
    c.bench_function("json_scan/deserialize", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
