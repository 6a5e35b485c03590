//! Helpers: per-test configuration, a counting loader, a bounded wait-until, and a TCP proxy in
//! front of Redis that a test can cut and restore to simulate an outage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deadpool_redis::redis;
use temponest_cache::{Cache, CacheConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A port nothing listens on: connections are refused at once.
pub const UNREACHABLE_REDIS: &str = "redis://127.0.0.1:1";

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Configuration for the real Redis under a fresh, unique key prefix.
pub fn config() -> CacheConfig {
    CacheConfig {
        redis_url: Some(redis_url().into()),
        key_prefix: format!("tn-test-{}", Uuid::new_v4()),
        ..CacheConfig::default()
    }
}

/// Two instances ("replicas") sharing one fresh prefix.
pub async fn two_replicas() -> (Cache, Cache) {
    let config = config();
    let a = Cache::connect(config.clone()).await;
    let b = Cache::connect(config).await;
    (a, b)
}

/// A cache whose Redis URL points at a closed port.
pub async fn cache_without_reachable_redis() -> Cache {
    Cache::connect(CacheConfig {
        redis_url: Some(UNREACHABLE_REDIS.into()),
        ..config()
    })
    .await
}

/// Counts loader runs. Use as `|| loads.load(value)`.
#[derive(Clone, Default)]
pub struct Loads(Arc<AtomicUsize>);

impl Loads {
    pub async fn load<T>(&self, value: T) -> Result<T, String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(value)
    }

    pub async fn fail<T>(&self, error: &str) -> Result<T, String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(error.to_owned())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls `condition` until it holds, failing the test after 10 s. The short pause between
/// polls only yields; nothing here assumes how long the awaited event takes.
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::task::yield_now().await;
    }
}

/// Number of subscribers of a channel, asked from Redis directly.
pub async fn subscriber_count(channel: &str) -> i64 {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut conn)
        .await
        .unwrap();
    count
}

/// A server that accepts connections and never answers, like a Redis behind a black hole.
/// Returns its URL; it lives until the test's runtime ends.
pub async fn silent_redis() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// A TCP proxy to Redis that can be cut (every connection dropped, new ones refused) and
/// restored, to exercise outages without stopping the shared Redis.
pub struct FlakyProxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    accept_loop: JoinHandle<()>,
}

impl FlakyProxy {
    pub async fn start() -> Self {
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let up_for_loop = up.clone();
        let accept_loop = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*up_for_loop.borrow() {
                    continue; // refused: dropped at once
                }
                let mut down = up_for_loop.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self {
            addr,
            up,
            accept_loop,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.up.send_replace(false);
    }
}
