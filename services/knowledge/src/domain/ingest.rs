//! The ingestion engine: turns uploaded documents into chunks, off the request path.
//!
//! Each round it fails the documents that ran out of attempts, claims up to `concurrency`
//! documents from the queue ([`crate::db::queue`]: `FOR UPDATE SKIP LOCKED`, a lease,
//! an attempt counted per claim), extracts and chunks them on the blocking pool, embeds the
//! chunks when an embedding provider is configured (batched, with the client's concurrency
//! limit and retries, using the collection's `embedding_model`), and writes each document's
//! chunks, their vectors and its `ready` status in one transaction (or `failed` with the
//! reason when its content cannot be read or the provider refuses it). Rounds follow one another while there is work;
//! then the engine waits for an upload (in-process, or a Postgres notification from another
//! process) or the poll interval.
//!
//! Crash safety: a document is only ever `processing`, `ready` or `failed`. If its engine
//! dies mid-ingestion, the lease expires and the next claim resumes it from the start
//! (extraction is deterministic, and the chunk write replaces whatever was there); after
//! `max_attempts` claims it is marked failed with the reason, never left stuck. A transient
//! error (the database; the embedding provider unreachable, timing out, rate limiting or
//! answering 5xx after the client's own retries) gives the document back to the queue after
//! `retry_delay_ms` × its attempt number; on its last attempt it is marked failed with the
//! provider's error as the reason.

use std::time::Duration;

use temponest_db::EngineHandle;
use temponest_embeddings::{Embedder, EmbeddingError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::documents::WAKE_CHANNEL;
use crate::db::queue::{self, Claimed, NewChunk};
use crate::domain::chunking::{self, Sizes};
use crate::domain::formats::{self, ExtractError, Kind};
use crate::state::AppState;

/// The running engine; its `shutdown` stops claiming, finishes the documents in hand and
/// returns (dropping it stops it without waiting). Its id is the `leased_by` of the
/// documents it holds.
pub type Engine = EngineHandle;

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
    EngineHandle::new(id, cancel, vec![listener, worker])
}

async fn run(state: AppState, engine: Uuid, cancel: CancellationToken) {
    let poll = Duration::from_millis(state.config.knowledge.poll_interval_ms);
    while !cancel.is_cancelled() {
        match round(&state, engine).await {
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
async fn round(state: &AppState, engine: Uuid) -> sqlx::Result<usize> {
    let (pool, config) = (&state.pool, &state.config.knowledge);
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
            .map(|document| ingest(state, engine, document)),
    )
    .await;
    Ok(claimed.len())
}

/// What became of a claimed document.
enum Outcome {
    /// Chunks (with embeddings stamped by the identity, when a provider is configured).
    Ready(Vec<NewChunk>, Option<String>),
    /// A permanent problem: the document fails with this reason.
    Failed(String),
    /// A transient problem (the embedding provider): retried while attempts remain.
    Retry(EmbeddingError),
    /// Deleted while queued.
    Gone,
}

/// Why an ingestion gives its document back to the queue instead of finishing it.
#[derive(Debug, thiserror::Error)]
enum Interrupted {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A transient embedding failure with attempts left.
    #[error(transparent)]
    Embedding(EmbeddingError),
}

/// Ingests one claimed document and records the outcome.
#[tracing::instrument(skip_all, fields(document = %claimed.id, attempt = claimed.attempts))]
async fn ingest(state: &AppState, engine: Uuid, claimed: &Claimed) {
    let (pool, config) = (&state.pool, &state.config.knowledge);
    let started = std::time::Instant::now();
    // Ok((still held, status, chunks)), or Err(why) to give the document back to the queue.
    let outcome: Result<(bool, &str, usize), Interrupted> =
        match prepare_claimed(state, claimed).await {
            Ok(Outcome::Ready(chunks, identity)) => {
                queue::complete(pool, claimed, engine, &chunks, identity.as_deref())
                    .await
                    .map(|held| (held, "ready", chunks.len()))
                    .map_err(Interrupted::from)
            }
            Ok(Outcome::Failed(reason)) => fail(pool, claimed, engine, &reason).await,
            Ok(Outcome::Retry(err)) if claimed.attempts >= config.max_attempts => {
                let reason = format!(
                    "embedding failed after {} attempts: {err}",
                    claimed.attempts
                );
                fail(pool, claimed, engine, &reason).await
            }
            Ok(Outcome::Retry(err)) => Err(Interrupted::Embedding(err)),
            Ok(Outcome::Gone) => return,
            Err(err) => Err(Interrupted::Database(err)),
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
            let attempts = u64::try_from(claimed.attempts).unwrap_or(1);
            let delay = Duration::from_millis(config.retry_delay_ms.saturating_mul(attempts));
            if let Err(err) = queue::release(pool, claimed.id, engine, delay).await {
                tracing::warn!(error = %err, "could not release the document; its lease will expire");
            }
        }
    }
}

/// Marks the document failed with `reason` (if still held).
async fn fail(
    pool: &sqlx::PgPool,
    claimed: &Claimed,
    engine: Uuid,
    reason: &str,
) -> Result<(bool, &'static str, usize), Interrupted> {
    let held = queue::fail(pool, claimed.id, engine, reason).await?;
    Ok((held, "failed", 0))
}

/// Extracts, chunks and (with a provider) embeds a claimed document.
async fn prepare_claimed(state: &AppState, claimed: &Claimed) -> sqlx::Result<Outcome> {
    let Some(work) = queue::work(&state.pool, claimed.id).await? else {
        return Ok(Outcome::Gone);
    };
    let Ok(kind) = Kind::parse(&claimed.kind) else {
        return Ok(Outcome::Failed(format!(
            "unknown document kind `{}`",
            claimed.kind
        )));
    };
    let sizes = Sizes {
        chunk_size: usize::try_from(work.chunk_size).unwrap_or(1000),
        chunk_overlap: usize::try_from(work.chunk_overlap).unwrap_or(0),
    };
    let max_chunks = state.config.knowledge.max_chunks_per_document;
    let content = work.content;
    let prepared =
        tokio::task::spawn_blocking(move || prepare(kind, &content, sizes, max_chunks)).await;
    let chunks = match prepared {
        Ok(Ok(chunks)) => chunks,
        Ok(Err(err)) => return Ok(Outcome::Failed(err.to_string())),
        // A panic in a parser is a property of the content: retrying would panic again.
        Err(join) if join.is_panic() => {
            return Ok(Outcome::Failed(
                "the document could not be parsed".to_owned(),
            ));
        }
        Err(join) => return Ok(Outcome::Failed(format!("ingestion was cancelled: {join}"))),
    };
    let Some(embedder) = &state.embedder else {
        return Ok(Outcome::Ready(chunks, None));
    };
    Ok(embed(embedder, &work.embedding_model, chunks).await)
}

/// Embeds every chunk with the collection's model (batched, limited and retried by the
/// client, cached by text).
async fn embed(embedder: &Embedder, model: &str, mut chunks: Vec<NewChunk>) -> Outcome {
    let texts = chunks.iter().map(|c| c.content.clone()).collect();
    match embedder.embed_batch(model, texts).await {
        Ok(embeddings) => {
            for (chunk, vector) in chunks.iter_mut().zip(&embeddings.vectors) {
                chunk.embedding = Some(temponest_vectors::encode(vector));
            }
            let identity = embeddings.identity.map(|identity| identity.to_string());
            Outcome::Ready(chunks, identity)
        }
        Err(err) if is_transient(&err) => Outcome::Retry(err),
        Err(err) => Outcome::Failed(format!("embedding failed: {err}")),
    }
}

/// Whether an embedding failure may pass if the document is tried again later: the provider
/// unreachable, slow, rate limiting or failing on its side. A refused request (an unknown
/// model, a bad key) or a broken answer fails the document at once.
pub fn is_transient(err: &EmbeddingError) -> bool {
    match err {
        EmbeddingError::Unreachable { .. }
        | EmbeddingError::Timeout { .. }
        | EmbeddingError::RateLimited { .. } => true,
        EmbeddingError::Upstream { status, .. } => *status >= 500 || *status == 408,
        EmbeddingError::InvalidConfig { .. }
        | EmbeddingError::Malformed { .. }
        | EmbeddingError::CountMismatch { .. }
        | EmbeddingError::DimensionMismatch { .. } => false,
    }
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
            embedding: None,
        })
        .collect())
}
