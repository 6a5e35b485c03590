//! Cache configuration: where Redis is, how keys are prefixed, how big L1 may grow and how long
//! a single Redis operation may take.

use std::fmt;
use std::time::Duration;

/// Configuration for [`Cache::connect`](crate::Cache::connect).
///
/// `Debug` redacts the credentials of `redis_url`.
#[derive(Clone)]
pub struct CacheConfig {
    /// Redis URL (`REDIS_URL`), e.g. `redis://127.0.0.1:6379`. `None` runs the cache on L1 only.
    pub redis_url: Option<String>,
    /// First segment of every Redis key and of the pub/sub channel. Default `"tn"`.
    /// Tests use a unique prefix each so they never see each other's data.
    pub key_prefix: String,
    /// Maximum number of L1 entries across all categories. Default `100_000`.
    pub l1_max_entries: u64,
    /// Upper bound for one Redis operation (pool checkout included). Default 200 ms.
    pub redis_timeout: Duration,
}

impl CacheConfig {
    /// Default configuration pointed at `redis_url`.
    pub fn with_redis(redis_url: impl Into<String>) -> Self {
        Self {
            redis_url: Some(redis_url.into()),
            ..Self::default()
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: "tn".to_owned(),
            l1_max_entries: 100_000,
            redis_timeout: Duration::from_millis(200),
        }
    }
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheConfig")
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("key_prefix", &self.key_prefix)
            .field("l1_max_entries", &self.l1_max_entries)
            .field("redis_timeout", &self.redis_timeout)
            .finish()
    }
}

/// Replaces the user-info part of a URL (`user:password@`) with `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_redis_credentials() {
        let config = CacheConfig::with_redis("redis://user:s3cret@redis.internal:6379/0");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(
            debug.contains("redis://***@redis.internal:6379/0"),
            "{debug}"
        );
    }

    #[test]
    fn urls_without_credentials_are_shown_unchanged() {
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
