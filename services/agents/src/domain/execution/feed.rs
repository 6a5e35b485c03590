//! The tenant-wide feed of execution changes behind `GET /executions/events`.
//!
//! Every new execution and every change of its status or totals is announced by Postgres at
//! commit on [`CHANNEL`] (a trigger on `agents.executions`, migration
//! `notify_execution_changes`), with the execution's summary as the payload — whichever
//! process or replica wrote it. Each process holds **one** listening connection
//! ([`ExecutionFeed::listen`]) and fans the changes out in memory through a bounded
//! broadcast; each subscriber keeps only its own tenant's ([`ExecutionChange::visible_to`]).
//! That connection is opened with the pool's settings but outside it: a listener holds its
//! connection for good, and the pool's are for requests.
//!
//! A subscriber is told to re-read ([`FeedItem::Resync`]) whenever it may have missed a
//! change: it fell more than [`CAPACITY`] changes behind, or the listening connection was
//! (re)established (notifications sent while it was down are lost).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::{ExecutionOutcome, ExecutionStatus};

/// The notification channel the trigger announces changes on.
pub const CHANNEL: &str = "agents_execution_changes";

/// How many changes a subscriber may fall behind before it is told to re-read.
pub const CAPACITY: usize = 1024;

/// How long a new subscriber waits for the listener of a process that is still connecting
/// it (start-up, or after losing its connection) before it is answered anyway; it is then
/// told to re-read once the listener is back.
const READY_WAIT: Duration = Duration::from_secs(5);

/// An execution as the trigger announces it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExecutionChange {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub agent_id: Uuid,
    pub status: ExecutionStatus,
    pub outcome: Option<ExecutionOutcome>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_nanos: i64,
    pub unpriced: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// What a subscriber wants to see besides its tenant: the list's own filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedFilter {
    pub tenant_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub status: Option<ExecutionStatus>,
}

impl ExecutionChange {
    /// Whether a subscriber with `filter` is shown this change: never another tenant's.
    pub fn visible_to(&self, filter: &FeedFilter) -> bool {
        self.tenant_id == filter.tenant_id
            && filter.agent_id.is_none_or(|agent| agent == self.agent_id)
            && filter.status.is_none_or(|status| status == self.status)
    }
}

/// What the feed hands its subscribers.
#[derive(Debug, Clone)]
pub enum FeedItem {
    Change(std::sync::Arc<ExecutionChange>),
    /// Changes may have been missed (the listener reconnected): read the list again.
    Resync,
}

/// The process's feed: one broadcast fed by one listening connection.
#[derive(Clone)]
pub struct ExecutionFeed {
    changes: broadcast::Sender<FeedItem>,
    listening: watch::Sender<bool>,
}

impl Default for ExecutionFeed {
    fn default() -> Self {
        Self {
            changes: broadcast::channel(CAPACITY).0,
            listening: watch::channel(false).0,
        }
    }
}

impl ExecutionFeed {
    /// A receiver of every change from now on. Waits (up to a few seconds) until the
    /// listener is listening, so a caller answered afterwards misses nothing it causes next.
    pub async fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        let mut listening = self.listening.subscribe();
        let _ = tokio::time::timeout(READY_WAIT, listening.wait_for(|on| *on)).await;
        self.changes.subscribe()
    }

    /// Listens on [`CHANNEL`] and broadcasts every change, for as long as the pool is open
    /// (its connection is then closed too, so the database can be dropped). Reconnects with
    /// backoff (200 ms doubling to 10 s); after every (re)connect subscribers are told to
    /// re-read.
    pub async fn listen(self, pool: PgPool) {
        // A pool of one, only to (re)connect the listener.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with((*pool.connect_options()).clone());
        self.listen_on(&pool, &own).await;
        own.close().await;
    }

    async fn listen_on(&self, pool: &PgPool, own: &PgPool) {
        let mut delay = Duration::from_millis(200);
        while !pool.is_closed() {
            match PgListener::connect_with(own).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => {
                        delay = Duration::from_millis(200);
                        // Those already subscribed may have missed changes; those who
                        // subscribe from now on (once `listening`) miss none.
                        let _ = self.changes.send(FeedItem::Resync);
                        self.listening.send_replace(true);
                        let lost = self.relay(pool, &mut listener).await;
                        self.listening.send_replace(false);
                        if !lost {
                            return;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not listen for execution changes")
                    }
                },
                Err(err) => tracing::warn!(error = %err, "could not connect the execution feed"),
            }
            tokio::select! {
                () = pool.close_event() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    /// Broadcasts notifications until the pool closes (false) or the connection is lost for
    /// good (true). A connection the listener re-establishes by itself (sqlx reconnects and
    /// listens again) may have missed notifications: subscribers are told to re-read.
    async fn relay(&self, pool: &PgPool, listener: &mut PgListener) -> bool {
        loop {
            let note = tokio::select! {
                () = pool.close_event() => return false,
                note = listener.try_recv() => note,
            };
            match note {
                Ok(Some(note)) => match serde_json::from_str::<ExecutionChange>(note.payload()) {
                    // No subscriber is not an error: the change is simply not wanted here.
                    Ok(change) => {
                        let _ = self.changes.send(FeedItem::Change(change.into()));
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "unreadable execution change notification");
                    }
                },
                Ok(None) => {
                    tracing::warn!("the execution feed reconnected its listener");
                    let _ = self.changes.send(FeedItem::Resync);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the execution feed lost its connection");
                    return true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(tenant_id: Uuid, agent_id: Uuid, status: ExecutionStatus) -> ExecutionChange {
        ExecutionChange {
            tenant_id,
            id: Uuid::now_v7(),
            agent_id,
            status,
            outcome: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_nanos: 0,
            unpriced: false,
            created_at: Utc::now(),
            started_at: None,
            completed_at: None,
        }
    }

    #[test]
    fn a_subscriber_sees_only_its_tenants_changes_that_match_its_filters() {
        let (tenant, other, agent) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let all = FeedFilter {
            tenant_id: tenant,
            agent_id: None,
            status: None,
        };
        assert!(change(tenant, agent, ExecutionStatus::Pending).visible_to(&all));
        assert!(!change(other, agent, ExecutionStatus::Pending).visible_to(&all));
        let running_of_agent = FeedFilter {
            agent_id: Some(agent),
            status: Some(ExecutionStatus::Running),
            ..all
        };
        assert!(change(tenant, agent, ExecutionStatus::Running).visible_to(&running_of_agent));
        assert!(!change(tenant, agent, ExecutionStatus::Completed).visible_to(&running_of_agent));
        assert!(
            !change(tenant, Uuid::now_v7(), ExecutionStatus::Running).visible_to(&running_of_agent)
        );
        assert!(!change(other, agent, ExecutionStatus::Running).visible_to(&running_of_agent));
    }

    #[test]
    fn the_triggers_payload_is_read_with_postgres_timestamps() {
        let payload = r#"{"tenant_id" : "0193a8f0-0000-7000-8000-000000000001", "id" : "0193a8f0-0000-7000-8000-000000000002", "agent_id" : "0193a8f0-0000-7000-8000-000000000003", "status" : "completed", "outcome" : "completed", "prompt_tokens" : 12, "completion_tokens" : 4, "cost_nanos" : 1500, "unpriced" : false, "created_at" : "2026-12-05T06:00:00.123456+00:00", "started_at" : "2026-12-05T06:00:00.2+01:00", "completed_at" : null}"#;
        let change: ExecutionChange = serde_json::from_str(payload).unwrap();
        assert_eq!(change.status, ExecutionStatus::Completed);
        assert_eq!(change.outcome, Some(ExecutionOutcome::Completed));
        assert_eq!(change.cost_nanos, 1500);
        assert_eq!(
            change.started_at.unwrap().to_rfc3339(),
            "2026-12-05T05:00:00.200+00:00"
        );
        assert_eq!(change.completed_at, None);
    }
}
