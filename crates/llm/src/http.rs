//! The HTTP transport shared by the network providers: sends the request, enforces the
//! timeouts, retries with backoff, and runs the protocol's decoder over the body.
//!
//! Timeouts are enforced here rather than on the `reqwest::Client`, because the client is
//! shared by all providers (one connection pool) while the limits are per provider:
//! response headers must arrive within `connect_timeout + read_timeout`, a streamed body may
//! pause at most `read_timeout` between chunks, and a non-streamed body must be complete
//! within `read_timeout` after its headers. Read timeouts are never retried: the request may
//! have reached the model and cost tokens already.
//!
//! Everything runs inside the caller's future (no spawned tasks), so dropping the future
//! drops the response and closes the upstream connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, Url};
use tokio::time::timeout;

use crate::retry::{Failure, RETRY_STATUSES, RetryPolicy, ceil_secs};
use crate::wire::{StreamDecoder, Wire, error_message};
use crate::{ChatRequest, ChatResponse, DeltaSender, LlmError, ProviderConfig};
use temponest_retry::root_cause;

/// Largest accepted non-streamed body.
const MAX_BODY_BYTES: usize = 32 << 20;
/// How much of an error body is read for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// A provider reached over HTTP with protocol `W`.
pub(crate) struct HttpBackend<W: Wire> {
    provider: Arc<str>,
    http: reqwest::Client,
    url: String,
    /// The base URL without credentials, for error messages.
    shown_url: String,
    headers: HeaderMap,
    connect_timeout: Duration,
    read_timeout: Duration,
    retry: RetryPolicy,
    /// Why calls cannot be made (a vendor endpoint without an API key).
    missing: Option<String>,
    wire: W,
}

impl<W: Wire> HttpBackend<W> {
    /// Validates `config` (URL, headers) and prepares the fixed parts of every request.
    pub(crate) fn new(
        name: &str,
        config: &ProviderConfig,
        http: reqwest::Client,
        wire: W,
    ) -> Result<Self, LlmError> {
        let unconfigured = |reason: String| LlmError::Unconfigured {
            provider: name.to_owned(),
            reason,
        };
        if config.read_timeout_secs == 0 {
            return Err(unconfigured("read_timeout_secs must be at least 1".into()));
        }
        let base = config.effective_base_url();
        let mut parsed = Url::parse(base)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| unconfigured(format!("base_url '{base}' is not an http(s) URL")))?;
        let missing = match (config.kind.keyed_host(), config.key()) {
            (Some(host), None) if parsed.host_str() == Some(host) => Some(format!(
                "set an API key (TEMPONEST_PROVIDERS__{}__API_KEY)",
                env_segment(name)
            )),
            _ => None,
        };
        // Credentials in the URL must not reach error messages.
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let shown_url = parsed.as_str().trim_end_matches('/').to_owned();

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (header, value) in wire.headers(config.key()) {
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| unconfigured("the API key contains invalid characters".into()))?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        for (header, value) in &config.extra_headers {
            let header = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| unconfigured(format!("invalid extra header name '{header}'")))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| unconfigured(format!("invalid value for extra header '{header}'")))?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }

        Ok(Self {
            provider: Arc::from(name),
            http,
            url: format!("{base}{}", wire.path()),
            shown_url,
            headers,
            connect_timeout: config.connect_timeout(),
            read_timeout: config.read_timeout(),
            retry: RetryPolicy::new(config),
            missing,
            wire,
        })
    }

    /// Whether calls can be made at all (fails when a vendor endpoint has no API key).
    pub(crate) fn ready(&self) -> Result<(), LlmError> {
        match &self.missing {
            Some(reason) => Err(LlmError::Unconfigured {
                provider: self.provider.to_string(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// One chat call, with retries.
    pub(crate) async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<DeltaSender>,
    ) -> Result<ChatResponse, LlmError> {
        self.ready()?;
        // Encoded once; retries resend the same bytes.
        let body = serde_json::to_vec(&self.wire.body(request, stream.is_some()))
            .map(Bytes::from)
            .map_err(|e| LlmError::malformed(&self.provider, format!("request encoding: {e}")))?;
        let mut delivered = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(&body, stream.as_ref(), &mut delivered).await {
                Ok(mut response) => {
                    response.attempts = attempt;
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            let (delay, failure) = self.retry.next(attempt, failure, delivered)?;
            metrics::counter!("llm_retries_total", "provider" => self.provider.to_string())
                .increment(1);
            tracing::warn!(
                provider = %self.provider,
                attempt,
                error = %failure.error,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying LLM request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        body: &Bytes,
        stream: Option<&DeltaSender>,
        delivered: &mut bool,
    ) -> Result<ChatResponse, Failure> {
        let send = self
            .http
            .post(&self.url)
            .headers(self.headers.clone())
            .body(body.clone())
            .send();
        let header_budget = self.connect_timeout.saturating_add(self.read_timeout);
        let mut response = match timeout(header_budget, send).await {
            Err(_) => return Err(Failure::fatal(self.timed_out(header_budget))),
            Ok(Err(error)) => return Err(self.send_failure(&error)),
            Ok(Ok(response)) => response,
        };
        if !response.status().is_success() {
            return Err(self.status_failure(response).await);
        }
        // A server that ignores `stream: true` answers with one JSON document; accept it.
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        match stream {
            Some(tx) if !is_json => self.read_stream(&mut response, tx, delivered).await,
            _ => {
                let body = self.read_whole(&mut response).await?;
                let parsed = self
                    .wire
                    .parse(&self.provider, &body)
                    .map_err(Failure::from_error)?;
                if let Some(tx) = stream
                    && !parsed.content.is_empty()
                    && tx.send(parsed.content.clone()).await.is_ok()
                {
                    *delivered = true;
                }
                Ok(parsed)
            }
        }
    }

    async fn read_stream(
        &self,
        response: &mut Response,
        tx: &DeltaSender,
        delivered: &mut bool,
    ) -> Result<ChatResponse, Failure> {
        let mut decoder = self.wire.decoder(self.provider.clone());
        let mut deltas = Vec::new();
        loop {
            let chunk = match timeout(self.read_timeout, response.chunk()).await {
                Err(_) => return Err(Failure::fatal(self.timed_out(self.read_timeout))),
                Ok(Err(error)) => return Err(Failure::fatal(self.lost(&error))),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            let done = decoder
                .feed(&chunk, &mut deltas)
                .map_err(Failure::from_error)?;
            for delta in deltas.drain(..) {
                // A dropped receiver only means nobody watches the stream any more; the
                // aggregate is still wanted, so reading goes on.
                if !delta.is_empty() && tx.send(delta).await.is_ok() {
                    *delivered = true;
                }
            }
            if done {
                break;
            }
        }
        decoder.finish().map_err(Failure::from_error)
    }

    async fn read_whole(&self, response: &mut Response) -> Result<Vec<u8>, Failure> {
        match timeout(self.read_timeout, read_capped(response, MAX_BODY_BYTES)).await {
            Err(_) => Err(Failure::fatal(self.timed_out(self.read_timeout))),
            Ok(Err(error)) => Err(Failure::fatal(self.lost(&error))),
            Ok(Ok((_, false))) => Err(Failure::fatal(LlmError::malformed(
                &self.provider,
                format!("the response body exceeds {MAX_BODY_BYTES} bytes"),
            ))),
            Ok(Ok((body, true))) => Ok(body),
        }
    }

    async fn status_failure(&self, mut response: Response) -> Failure {
        let status = response.status();
        let code = status.as_u16();
        let retry_after =
            temponest_retry::retry_after(response.headers(), std::time::SystemTime::now());
        // The body only supplies the message: when it is slow or broken, the status alone
        // still makes a useful error.
        let body = match timeout(
            self.read_timeout,
            read_capped(&mut response, MAX_ERROR_BODY_BYTES),
        )
        .await
        {
            Ok(Ok((body, _))) => body,
            _ => Vec::new(),
        };
        let message = error_message(&body, status.canonical_reason().unwrap_or("error"));
        let error = if code == 429 {
            tracing::debug!(provider = %self.provider, %message, "rate limited");
            LlmError::RateLimited {
                provider: self.provider.to_string(),
                retry_after_secs: retry_after.map(ceil_secs),
            }
        } else {
            LlmError::upstream(&self.provider, code, &message)
        };
        Failure {
            error,
            retryable: RETRY_STATUSES.contains(&code),
            retry_after,
        }
    }

    fn send_failure(&self, error: &reqwest::Error) -> Failure {
        if error.is_connect() {
            // Nothing reached the server, so retrying is safe.
            return Failure {
                error: LlmError::Unreachable {
                    provider: self.provider.to_string(),
                    detail: format!(
                        "cannot connect to {}: {}",
                        self.shown_url,
                        root_cause(error)
                    ),
                },
                retryable: true,
                retry_after: None,
            };
        }
        if error.is_timeout() {
            // A timeout configured on the shared client itself.
            return Failure::fatal(self.timed_out(self.read_timeout));
        }
        Failure::fatal(self.lost(error))
    }

    fn lost(&self, error: &reqwest::Error) -> LlmError {
        LlmError::Unreachable {
            provider: self.provider.to_string(),
            detail: format!(
                "connection to {} failed during the request: {}",
                self.shown_url,
                root_cause(error)
            ),
        }
    }

    fn timed_out(&self, after: Duration) -> LlmError {
        LlmError::Timeout {
            provider: self.provider.to_string(),
            after_secs: ceil_secs(after),
        }
    }
}

/// Reads the body up to `limit` bytes; the flag is false when it was longer (and the rest
/// was left unread).
async fn read_capped(
    response: &mut Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// A provider name as it appears in an environment variable (`deep-seek` → `DEEP_SEEK`).
fn env_segment(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_segments() {
        assert_eq!(env_segment("openai"), "OPENAI");
        assert_eq!(env_segment("deep-seek.v2"), "DEEP_SEEK_V2");
    }
}
