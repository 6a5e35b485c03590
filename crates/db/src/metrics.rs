//! Query-duration histogram and pool gauges.

use std::time::{Duration, Instant};

use sqlx::PgPool;

/// Runs a database future and records `db_query_duration_seconds{query}`.
pub async fn timed<T, F: Future<Output = T>>(query: &'static str, fut: F) -> T {
    let started = Instant::now();
    let out = fut.await;
    metrics::histogram!("db_query_duration_seconds", "query" => query)
        .record(started.elapsed().as_secs_f64());
    out
}

/// Publishes `db_connection_pool_size` and `db_connection_pool_idle` every few seconds until
/// the pool is closed.
pub fn spawn_pool_gauges(pool: PgPool, pool_name: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        while !pool.is_closed() {
            tick.tick().await;
            metrics::gauge!("db_connection_pool_size", "pool" => pool_name.clone())
                .set(f64::from(pool.size()));
            metrics::gauge!("db_connection_pool_idle", "pool" => pool_name.clone())
                .set(pool.num_idle() as f64);
            metrics::gauge!("db_connection_pool_max", "pool" => pool_name.clone())
                .set(f64::from(pool.options().get_max_connections()));
        }
    })
}
