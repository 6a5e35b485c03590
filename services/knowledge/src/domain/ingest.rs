//! The ingestion engine: turns uploaded documents into chunks, off the request path.
//!
//! Each round it fails the documents that ran out of attempts, claims up to `concurrency`
//! documents from the queue ([`crate::db::queue`]: `FOR UPDATE SKIP LOCKED`, a lease,
//! an attempt counted per claim), extracts and chunks them on the blocking pool, and writes
//! each document's chunks and its `ready` status in one transaction (or `failed` with the
//! reason when its content cannot be read). Rounds follow one another while there is work;
//! then the engine waits for an upload (in-process, or a Postgres notification from another
//! process) or the poll interval.
//!
//! Crash safety: a document is only ever `processing`, `ready` or `failed`. If its engine
//! dies mid-ingestion, the lease expires and the next claim resumes it from the start
//! (extraction is deterministic, and the chunk write replaces whatever was there); after
//! `max_attempts` claims it is marked failed with the reason, never left stuck. A transient
//! error (the database) gives the document back to the queue with a short delay.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::IngestConfig;
use crate::db::documents::WAKE_CHANNEL;
use crate::db::queue::{self, Claimed, NewChunk};
use crate::domain::chunking::{self, Sizes};
use crate::domain::formats::{self, ExtractError, Kind};
use crate::state::AppState;

/// The running engine; [`Engine::shutdown`] stops it (dropping it stops it without waiting).
pub struct Engine {
    id: Uuid,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts an ingestion engine (the service starts one unless `knowledge.run_engine` is off).
pub fn start(state: AppState) -> Engine {
    let id = Uuid::now_v7();
    let cancel = CancellationToken::new();
    let listener = tokio::spawn(temponest_db::listen(
        state.pool.clone(),
        WAKE_CHANNEL,
        state.ingest_wake.clone(),
        cancel.clone(),
    ));
    let worker = tokio::spawn(run(state, id, cancel.clone()));
    tracing::info!(engine = %id, "knowledge ingestion engine started");
    Engine {
        id,
        cancel,
        tasks: vec![listener, worker],
    }
}

impl Engine {
    /// This engine's id: the `leased_by` of the documents it holds.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Stops claiming, finishes the documents in hand and returns.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn run(state: AppState, engine: Uuid, cancel: CancellationToken) {
    let config = state.config.knowledge.clone();
    let poll = Duration::from_millis(config.poll_interval_ms);
    while !cancel.is_cancelled() {
        match round(&state.pool, &config, engine).await {
            Ok(claimed) if claimed > 0 => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "ingestion round failed"),
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = state.ingest_wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// One round: fail the exhausted, claim, ingest the claimed concurrently. Returns how many
/// documents were claimed.
async fn round(pool: &PgPool, config: &IngestConfig, engine: Uuid) -> sqlx::Result<usize> {
    let failed = queue::fail_exhausted(pool, config.max_attempts).await?;
    if failed > 0 {
        metrics::counter!("knowledge_ingestions_total", "outcome" => "exhausted").increment(failed);
        tracing::warn!(
            documents = failed,
            "documents failed after too many interrupted ingestions"
        );
    }
    let lease = Duration::from_secs(config.lease_secs);
    let limit = i64::try_from(config.concurrency).unwrap_or(1);
    let claimed = queue::claim(pool, engine, lease, config.max_attempts, limit).await?;
    futures::future::join_all(
        claimed
            .iter()
            .map(|document| ingest(pool, config, engine, document)),
    )
    .await;
    Ok(claimed.len())
}

/// Ingests one claimed document and records the outcome.
#[tracing::instrument(skip_all, fields(document = %claimed.id, attempt = claimed.attempts))]
async fn ingest(pool: &PgPool, config: &IngestConfig, engine: Uuid, claimed: &Claimed) {
    let started = std::time::Instant::now();
    let outcome = match prepare_claimed(pool, config, claimed).await {
        Ok(Some(Ok(chunks))) => queue::complete(pool, claimed, engine, &chunks)
            .await
            .map(|held| (held, "ready", chunks.len())),
        Ok(Some(Err(reason))) => queue::fail(pool, claimed.id, engine, &reason)
            .await
            .map(|held| (held, "failed", 0)),
        // Deleted while queued: nothing to do.
        Ok(None) => return,
        Err(err) => Err(err),
    };
    match outcome {
        Ok((true, status, chunks)) => {
            metrics::counter!("knowledge_ingestions_total", "outcome" => status).increment(1);
            metrics::histogram!("knowledge_ingestion_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            tracing::info!(
                status,
                chunks,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "document ingested"
            );
        }
        Ok((false, ..)) => {
            tracing::warn!("lease lost during ingestion; the engine holding it now finishes it");
        }
        Err(err) => {
            tracing::warn!(error = %err, "ingestion interrupted; the document goes back to the queue");
            let delay = Duration::from_secs(5 * u64::try_from(claimed.attempts).unwrap_or(1));
            if let Err(err) = queue::release(pool, claimed.id, engine, delay).await {
                tracing::warn!(error = %err, "could not release the document; its lease will expire");
            }
        }
    }
}

/// The chunks of a claimed document (`Err(reason)` when its content cannot be ingested), or
/// `None` when it no longer exists.
async fn prepare_claimed(
    pool: &PgPool,
    config: &IngestConfig,
    claimed: &Claimed,
) -> sqlx::Result<Option<Result<Vec<NewChunk>, String>>> {
    let Some(work) = queue::work(pool, claimed.id).await? else {
        return Ok(None);
    };
    let Ok(kind) = Kind::parse(&claimed.kind) else {
        return Ok(Some(Err(format!(
            "unknown document kind `{}`",
            claimed.kind
        ))));
    };
    let sizes = Sizes {
        chunk_size: usize::try_from(work.chunk_size).unwrap_or(1000),
        chunk_overlap: usize::try_from(work.chunk_overlap).unwrap_or(0),
    };
    let max_chunks = config.max_chunks_per_document;
    let prepared =
        tokio::task::spawn_blocking(move || prepare(kind, &work.content, sizes, max_chunks)).await;
    Ok(Some(match prepared {
        Ok(result) => result.map_err(|e| e.to_string()),
        // A panic in a parser is a property of the content: retrying would panic again.
        Err(join) if join.is_panic() => Err("the document could not be parsed".to_owned()),
        Err(join) => Err(format!("ingestion was cancelled: {join}")),
    }))
}

/// Why a document's content cannot be ingested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("chunking failed: {0}")]
    Chunking(String),
    #[error("the document yields {0} chunks, more than the {1} allowed; use a larger chunk_size")]
    TooManyChunks(usize, usize),
    #[error("the document's text is too long to index")]
    TooLong,
}

/// Extracts and chunks a document (CPU work: runs on the blocking pool).
pub fn prepare(
    kind: Kind,
    bytes: &[u8],
    sizes: Sizes,
    max_chunks: usize,
) -> Result<Vec<NewChunk>, IngestError> {
    let text = formats::extract(kind, bytes)?;
    if i32::try_from(text.len()).is_err() {
        return Err(IngestError::TooLong);
    }
    let chunks = chunking::chunk(&text, kind.is_markdown(), sizes)
        .map_err(|e| IngestError::Chunking(e.to_string()))?;
    if chunks.len() > max_chunks {
        return Err(IngestError::TooManyChunks(chunks.len(), max_chunks));
    }
    Ok(chunks
        .into_iter()
        .map(|chunk| NewChunk {
            section: chunk.heading_path.join(" / "),
            heading_path: serde_json::json!(chunk.heading_path),
            char_start: i32::try_from(chunk.char_start).unwrap_or(i32::MAX),
            char_end: i32::try_from(chunk.char_end).unwrap_or(i32::MAX),
            content: chunk.content,
        })
        .collect())
}
