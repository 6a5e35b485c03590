//! The transport of one batch: the HTTP request, its timeout, the retry loop (which failures
//! are retried and how long to wait) and decoding the answer off the async runtime.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::Embedder;
use crate::EmbeddingError;
use crate::wire::{EmbedRequest, error_message, parse};
use temponest_retry::{ceil_secs, root_cause};

/// Statuses worth retrying.
const RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];
/// Largest accepted response body.
const MAX_BODY_BYTES: u64 = 256 << 20;

/// How one attempt failed, and whether another may help.
struct Failure {
    error: EmbeddingError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: EmbeddingError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

impl Embedder {
    /// One batch, with retries; returns exactly one vector per input.
    pub(super) async fn request(
        &self,
        model: &str,
        input: Vec<String>,
    ) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let inner = &self.inner;
        let body = serde_json::to_vec(&EmbedRequest {
            model,
            input: &input,
        })
        .map(Bytes::from)
        .map_err(|e| self.malformed(format!("request encoding: {e}")))?;
        let mut retry: u32 = 0;
        loop {
            let attempt = {
                let _slot = inner
                    .slots
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                self.attempt(&body).await
            };
            let failure = match attempt {
                Ok(body) => {
                    let result = self.decode(body, input.len()).await;
                    self.record(result.as_ref().err());
                    return result;
                }
                Err(failure) => failure,
            };
            if !failure.retryable || retry >= inner.max_retries {
                self.record(Some(&failure.error));
                return Err(failure.error);
            }
            if let Some(wait) = failure.retry_after
                && wait > inner.backoff.max
            {
                let error = self.asked_to_wait(failure.error, wait);
                self.record(Some(&error));
                return Err(error);
            }
            let delay = inner.backoff.delay_honouring(retry, failure.retry_after);
            tracing::warn!(
                provider = %inner.provider,
                retry,
                error = %failure.error,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying embedding request"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn attempt(&self, body: &Bytes) -> Result<Bytes, Failure> {
        let inner = &self.inner;
        let response = inner
            .http
            .post(&inner.url)
            .headers(inner.headers.clone())
            .timeout(inner.timeout)
            .body(body.clone())
            .send()
            .await
            .map_err(|e| self.send_failure(&e))?;
        let status = response.status();
        if !status.is_success() {
            let code = status.as_u16();
            let retry_after = temponest_retry::retry_after(response.headers(), SystemTime::now());
            let body = response.bytes().await.unwrap_or_default();
            let message = error_message(&body, status.canonical_reason().unwrap_or("error"));
            let error = if code == 429 {
                EmbeddingError::RateLimited {
                    provider: inner.provider.clone(),
                    retry_after_secs: retry_after.map(ceil_secs),
                }
            } else {
                EmbeddingError::Upstream {
                    provider: inner.provider.clone(),
                    status: code,
                    message,
                }
            };
            return Err(Failure {
                error,
                retryable: RETRY_STATUSES.contains(&code),
                retry_after,
            });
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY_BYTES)
        {
            let detail = format!("the response body exceeds {MAX_BODY_BYTES} bytes");
            return Err(Failure::fatal(self.malformed(detail)));
        }
        response
            .bytes()
            .await
            .map_err(|e| Failure::fatal(self.transport_error(&e)))
    }

    /// Parses a 2xx body off the async runtime (a batch of 768-dimensional vectors is
    /// megabytes of JSON) and checks the count.
    async fn decode(&self, body: Bytes, expected: usize) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let kind = self.inner.kind;
        let vectors = tokio::task::spawn_blocking(move || parse(kind, &body))
            .await
            .map_err(|e| self.malformed(format!("decoding failed: {e}")))?
            .map_err(|body| self.malformed(body.to_string()))?;
        if vectors.len() != expected {
            return Err(EmbeddingError::CountMismatch {
                provider: self.inner.provider.clone(),
                expected,
                actual: vectors.len(),
            });
        }
        Ok(vectors)
    }

    fn send_failure(&self, error: &reqwest::Error) -> Failure {
        let failure = Failure::fatal(self.transport_error(error));
        Failure {
            // Nothing reached the server, so another attempt is safe.
            retryable: error.is_connect() && !error.is_timeout(),
            ..failure
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> EmbeddingError {
        let inner = &self.inner;
        if error.is_timeout() {
            return EmbeddingError::Timeout {
                provider: inner.provider.clone(),
                after_secs: ceil_secs(inner.timeout),
            };
        }
        let what = if error.is_connect() {
            "cannot connect to"
        } else {
            "connection failed during the request to"
        };
        EmbeddingError::Unreachable {
            provider: inner.provider.clone(),
            detail: format!("{what} {}: {}", inner.shown_url, root_cause(error)),
        }
    }

    fn asked_to_wait(&self, error: EmbeddingError, wait: Duration) -> EmbeddingError {
        match error {
            EmbeddingError::Upstream {
                provider,
                status,
                message,
            } => EmbeddingError::Upstream {
                provider,
                status,
                message: format!(
                    "{message} (asks to retry after {} s, longer than the maximum backoff)",
                    ceil_secs(wait)
                ),
            },
            other => other, // RateLimited carries the wait already
        }
    }

    fn malformed(&self, detail: String) -> EmbeddingError {
        EmbeddingError::Malformed {
            provider: self.inner.provider.clone(),
            detail,
        }
    }

    fn record(&self, error: Option<&EmbeddingError>) {
        let outcome = error.map_or("ok", EmbeddingError::class);
        metrics::counter!(
            "embedding_requests_total",
            "provider" => self.inner.provider.clone(),
            "outcome" => outcome
        )
        .increment(1);
    }
}
