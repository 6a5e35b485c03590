//! What the cache logs: one warning per Redis outage, not one per call, and never a key.

use std::io::Write;
use std::sync::{Arc, Mutex};

use temponest_cache::categories;
use tracing::Level;

use crate::support::{Loads, cache_without_reachable_redis};

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_redis_outage_logs_one_warning_for_many_calls_and_no_keys() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _local = tracing::subscriber::set_default(subscriber);
    let secret_key = "sha256-of-a-bearer-token";

    let cache = cache_without_reachable_redis().await;
    let loads = Loads::default();
    for _ in 0..20 {
        let _ = cache
            .get_or_load(&categories::JWT, secret_key, || loads.load(1))
            .await;
        cache.invalidate(&categories::JWT, secret_key).await;
    }

    let text = logs.text();
    assert_eq!(text.matches(" WARN ").count(), 1, "{text}");
    assert!(
        text.contains("jwt") || text.contains("invalidation_bus"),
        "{text}"
    );
    assert!(!text.contains(secret_key), "{text}");
}
