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

/// The total count of a list page read with `count(*) over ()`: the first row's, none for an
/// empty first page, else what `count` reads (a page past the end still reports the total,
/// like every list). `count` is a future: it runs only in that last case.
pub async fn page_total(
    first: Option<i64>,
    skip: i64,
    count: impl Future<Output = sqlx::Result<i64>>,
) -> sqlx::Result<i64> {
    match first {
        Some(total) => Ok(total),
        None if skip == 0 => Ok(0),
        None => count.await,
    }
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
