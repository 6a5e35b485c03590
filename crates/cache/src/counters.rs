//! The cache's metrics, recorded through the `metrics` facade (the binary installs the
//! exporter). Names and labels are fixed here so dashboards have one place to look:
//!
//! - `cache_hits_total{cache, tier="l1"|"l2"}`: a value served from L1 or from Redis. Callers
//!   that waited for another call's in-flight load of the same key count as L1 hits.
//! - `cache_misses_total{cache}`: neither tier had the value (the loader ran, or `get` returned
//!   `None`).
//! - `cache_errors_total{cache}`: Redis failed, timed out or was skipped during its back-off,
//!   or a stored value could not be (de)serialized. Errors of the invalidation subscriber are
//!   labelled `cache="invalidation_bus"`.

use metrics::counter;

/// Metric name for hits.
pub const HITS: &str = "cache_hits_total";
/// Metric name for misses.
pub const MISSES: &str = "cache_misses_total";
/// Metric name for errors.
pub const ERRORS: &str = "cache_errors_total";
/// `cache` label value for failures of the invalidation subscriber.
pub const BUS_LABEL: &str = "invalidation_bus";

/// The tier that served a hit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tier {
    L1,
    L2,
}

pub(crate) fn hit(cache: &'static str, tier: Tier) {
    let tier = match tier {
        Tier::L1 => "l1",
        Tier::L2 => "l2",
    };
    counter!(HITS, "cache" => cache, "tier" => tier).increment(1);
}

pub(crate) fn miss(cache: &'static str) {
    counter!(MISSES, "cache" => cache).increment(1);
}

pub(crate) fn error(cache: &'static str) {
    counter!(ERRORS, "cache" => cache).increment(1);
}
