//! Retention purges: expired rows are deleted in bounded batches — each batch one short
//! statement (`delete … where <key> in (select <key> … limit n)` on an index that supports the
//! predicate), so a purge never holds locks for long nor competes with the hot path for more
//! than a moment — and every deleted row is counted in
//! `temponest_retention_purged_rows_total{table}`.
//!
//! Callers run [`purge`] ([`purge_in_batches`] with the default batches) now and then (the scheduler's engine round, the webhooks
//! retention task, the auth service's throttle sweep) and, when [`Purged::more`] says a run
//! stopped at its batch cap, come back soon instead of waiting a whole interval.

/// The counter of purged rows (label `table`).
pub const PURGED_ROWS: &str = "temponest_retention_purged_rows_total";

/// Rows deleted per batch by default: small enough for a short statement, large enough that a
/// backlog of months drains in a few runs.
pub const DEFAULT_BATCH: i64 = 1_000;

/// Batches per run by default (then the caller comes back at once, see [`Purged::more`]).
pub const DEFAULT_MAX_BATCHES: u32 = 100;

/// One batch of a purge, as the module doc describes it: deletes the rows of `table` whose
/// `key` the subquery `select <key> from <table> where <expired>` picks (`expired` ends with
/// its order and `limit`), skipping rows another purge is deleting. Evaluates to
/// `sqlx::Result<u64>`, the rows deleted.
///
/// ```ignore
/// temponest_db::delete_batch!(pool, "agents.cost_records" by "id",
///     where "created_at < $1 order by created_at limit $2", [before, limit])
/// .await
/// ```
#[macro_export]
macro_rules! delete_batch {
    (
        $executor:expr, $table:literal by $key:literal,
        where $expired:literal, [$($arg:expr),* $(,)?] $(,)?
    ) => {
        async {
            let done = sqlx::query!(
                "delete from " + $table + " where " + $key + " in (select " + $key + " from "
                    + $table + " where " + $expired + " for update skip locked)",
                $($arg),*
            )
            .execute($executor)
            .await?;
            sqlx::Result::Ok(done.rows_affected())
        }
    };
}

/// What one run of [`purge_in_batches`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub rows: u64,
    /// The run stopped at its batch cap with full batches: more rows may be expired.
    pub more: bool,
}

/// Calls `delete_batch(batch)` — which must delete at most `batch` expired rows of `table`
/// and return how many it deleted — until a batch comes back short or `max_batches` ran;
/// counts the rows in [`PURGED_ROWS`].
pub async fn purge_in_batches<F, Fut>(
    table: &'static str,
    batch: i64,
    max_batches: u32,
    mut delete_batch: F,
) -> sqlx::Result<Purged>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = sqlx::Result<u64>>,
{
    let counter = metrics::counter!(PURGED_ROWS, "table" => table);
    // Exported at 0 from the start, so a rate over it exists before the first purge.
    counter.increment(0);
    let full = u64::try_from(batch.max(1)).unwrap_or(u64::MAX);
    let mut purged = Purged::default();
    for _ in 0..max_batches.max(1) {
        let rows = delete_batch(batch.max(1)).await?;
        counter.increment(rows);
        purged.rows += rows;
        if rows < full {
            return Ok(purged);
        }
    }
    purged.more = true;
    Ok(purged)
}

/// [`purge_in_batches`] with the default batch size and cap ([`DEFAULT_BATCH`],
/// [`DEFAULT_MAX_BATCHES`]): one run of a retention purge.
pub async fn purge<F, Fut>(table: &'static str, delete_batch: F) -> sqlx::Result<Purged>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = sqlx::Result<u64>>,
{
    purge_in_batches(table, DEFAULT_BATCH, DEFAULT_MAX_BATCHES, delete_batch).await
}

/// Calls `run_once` (one retention run; true when it has more to delete) at once and then
/// every `every` — again at once while it has more — until `cancel` fires or the pool it uses
/// is closed. Failures are logged and retried at the next interval (at most a minute later).
pub async fn run_every<F, Fut>(
    name: &'static str,
    every: std::time::Duration,
    cancel: tokio_util::sync::CancellationToken,
    mut run_once: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<bool>>,
{
    loop {
        let wait = match run_once().await {
            Ok(true) => std::time::Duration::ZERO,
            Ok(false) => every,
            Err(sqlx::Error::PoolClosed) => return,
            Err(err) => {
                tracing::warn!(purge = name, error = %err, "retention purge failed");
                every.min(std::time::Duration::from_secs(60))
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::future::{Ready, ready};
    use std::sync::{Arc, Mutex};

    /// Rows left and batches run.
    type Table = Arc<Mutex<(u64, u32)>>;

    /// A table of `rows` expired rows, deleted `limit` at a time.
    fn table(rows: u64) -> (Table, impl FnMut(i64) -> Ready<sqlx::Result<u64>>) {
        let state: Table = Arc::new(Mutex::new((rows, 0)));
        let shared = state.clone();
        let delete = move |limit: i64| {
            let mut s = shared.lock().unwrap();
            let n = s.0.min(limit as u64);
            s.0 -= n;
            s.1 += 1;
            ready(Ok(n))
        };
        (state, delete)
    }

    /// Each case: rows in the table, the run's batch cap, then what the run purged, whether it
    /// says there is more, the rows left and the batches run.
    #[tokio::test]
    async fn batches_run_until_one_comes_back_short_or_the_cap_is_reached() {
        let cases = [
            // A short batch ends the run.
            (2_500, 100, 2_500, false, 0, 3),
            // The cap stops a run and it says there is more.
            (5_000, 2, 2_000, true, 3_000, 2),
            // An exact multiple ends with an empty batch.
            (2_000, 100, 2_000, false, 0, 3),
        ];
        for (rows, cap, purged, more, left, batches) in cases {
            let (state, delete) = table(rows);
            let got = purge_in_batches("t", 1_000, cap, delete).await.unwrap();
            assert_eq!(got, Purged { rows: purged, more }, "{rows} rows, cap {cap}");
            assert_eq!(
                *state.lock().unwrap(),
                (left, batches),
                "{rows} rows, cap {cap}"
            );
        }
    }
}
