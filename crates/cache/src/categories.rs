//! Cache categories: the name that labels metrics and segments keys, and the TTL that applies
//! to every entry of the category in both tiers.

use std::time::Duration;

/// A cache category: its name (the `cache` metric label and a key segment) and its TTL.
///
/// Categories are plain constants; the seed set lives in this module. A service may declare
/// its own (`Category { name: "my_thing", ttl: Duration::from_secs(60) }`). The name must be
/// unique per meaning, stable across releases and must not contain `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// Metric label value and key segment, e.g. `"jwt"`.
    pub name: &'static str,
    /// How long an entry lives in L1 and in Redis.
    pub ttl: Duration,
}

impl Category {
    /// Declares a category; usable in `const` items.
    pub const fn new(name: &'static str, ttl: Duration) -> Self {
        Self { name, ttl }
    }
}

/// Verified JWT claims, keyed by a hash of the token.
pub const JWT: Category = Category::new("jwt", Duration::from_secs(30));
/// API-key introspection results, keyed by a hash of the key.
pub const INTROSPECTION: Category = Category::new("introspection", Duration::from_secs(30));
/// Resolved permission sets.
pub const PERMISSIONS: Category = Category::new("permissions", Duration::from_secs(300));
/// Agent configuration documents.
pub const AGENT_CONFIG: Category = Category::new("agent_config", Duration::from_secs(300));
/// Retrieval-augmented generation results.
pub const RAG: Category = Category::new("rag", Duration::from_secs(900));
/// Dependency health probes.
pub const HEALTH: Category = Category::new("health", Duration::from_secs(10));
/// Dashboard aggregates (a dashboard may be 30 s old).
pub const DASHBOARD: Category = Category::new("dashboard", Duration::from_secs(30));
/// Embedding vectors, keyed by a hash of the input.
pub const EMBEDDINGS: Category = Category::new("embeddings", Duration::from_secs(3600));

/// Every seed category, for documentation and start-up checks.
pub const ALL: [Category; 8] = [
    JWT,
    INTROSPECTION,
    PERMISSIONS,
    AGENT_CONFIG,
    RAG,
    HEALTH,
    DASHBOARD,
    EMBEDDINGS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_category_names_are_unique_and_usable_as_key_segments() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(!a.name.is_empty() && !a.name.contains(':'), "{}", a.name);
            assert!(a.ttl > Duration::ZERO, "{}", a.name);
            for b in &ALL[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }
}
