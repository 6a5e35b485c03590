//! Cache configuration: where Redis is, how keys are prefixed, how big L1 may grow and how long
//! a single Redis operation may take.

use std::time::Duration;

use temponest_secrets::SecretUrl;

/// Configuration for [`Cache::connect`](crate::Cache::connect).
///
/// `Debug` redacts the password of `redis_url`.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Redis URL (`REDIS_URL`), e.g. `redis://127.0.0.1:6379`. `None` runs the cache on L1 only.
    pub redis_url: Option<SecretUrl>,
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
            redis_url: Some(SecretUrl(redis_url.into())),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_redis_credentials() {
        let config = CacheConfig::with_redis("redis://user:s3cret@redis.internal:6379/0");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(
            debug.contains("redis://user:***@redis.internal:6379/0"),
            "{debug}"
        );
    }
}
