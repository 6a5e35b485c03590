//! Waking background workers on Postgres notifications.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Wakes `nudge` on every notification of `channel` until `cancel` fires or the pool is closed
/// (its listening connection is then closed too: a database cannot be dropped while a
/// detached listener still holds a session on it). Reconnects with
/// backoff (200 ms doubling to 10 s) and wakes once after each (re)connect, since
/// notifications sent meanwhile were missed. Workers still poll now and then: a notification
/// is a hint, never the only way work is found.
pub async fn listen(
    pool: PgPool,
    channel: &'static str,
    nudge: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut delay = Duration::from_millis(200);
    while !cancel.is_cancelled() && !pool.is_closed() {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(channel).await {
                Ok(()) => {
                    delay = Duration::from_millis(200);
                    nudge.notify_one();
                    loop {
                        let note = tokio::select! {
                            () = cancel.cancelled() => return,
                            () = pool.close_event() => return,
                            note = listener.recv() => note,
                        };
                        match note {
                            Ok(_) => nudge.notify_one(),
                            Err(err) => {
                                tracing::warn!(error = %err, channel, "listener lost its connection");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, channel, "could not listen"),
            },
            Err(err) => tracing::warn!(error = %err, channel, "could not connect a listener"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = pool.close_event() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
