//! The [`Provider`] trait, and the wrapper every configured provider runs in: a concurrency
//! limit (a semaphore held for the whole call, retries and their waits included) and the
//! request metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::anthropic::AnthropicWire;
use crate::http::HttpBackend;
use crate::ollama::OllamaWire;
use crate::openai::OpenAiWire;
use crate::{ChatRequest, ChatResponse, DeltaSender, LlmError, ProviderKind, echo};

/// A chat-capable LLM provider.
pub trait Provider: Send + Sync {
    /// The name agents use for this provider (the key of its configuration).
    fn name(&self) -> &str;

    /// The protocol it speaks.
    fn kind(&self) -> ProviderKind;

    /// Runs one chat completion.
    ///
    /// With `stream = Some(tx)` the provider's streaming protocol is used and each text delta
    /// is sent to `tx` as it arrives (waiting when the channel is full); the returned
    /// [`ChatResponse`] is the aggregate either way (content, tool calls, usage). Once a delta
    /// was sent, a failure is returned as is rather than retried, so the consumer never sees
    /// text twice.
    ///
    /// All work happens inside the returned future (nothing is spawned): dropping it aborts
    /// the upstream HTTP request and frees the provider's concurrency slot.
    fn chat<'a>(
        &'a self,
        request: &'a ChatRequest,
        stream: Option<DeltaSender>,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>>;
}

/// A snapshot of a provider's concurrency slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderLoad {
    /// Calls holding a slot (running, or waiting between retries).
    pub in_flight: usize,
    /// Calls waiting for a slot.
    pub waiting: usize,
    /// The configured `max_concurrency`.
    pub max_concurrency: usize,
}

/// The per-provider concurrency limit.
pub(crate) struct Limiter {
    permits: Semaphore,
    max: usize,
    waiting: AtomicUsize,
}

impl Limiter {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            permits: Semaphore::new(max),
            max,
            waiting: AtomicUsize::new(0),
        }
    }

    async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        /// Counts the caller as waiting until the permit is granted or the call is dropped.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        // The semaphore is never closed, so this only fails in theory; then run unlimited.
        self.permits.acquire().await.ok()
    }

    pub(crate) fn load(&self) -> ProviderLoad {
        ProviderLoad {
            in_flight: self.max - self.permits.available_permits(),
            waiting: self.waiting.load(Ordering::Relaxed),
            max_concurrency: self.max,
        }
    }
}

/// The protocol implementation behind a [`Managed`] provider.
pub(crate) enum Backend {
    Echo,
    OpenAi(HttpBackend<OpenAiWire>),
    Ollama(HttpBackend<OllamaWire>),
    Anthropic(HttpBackend<AnthropicWire>),
}

/// A configured provider: backend plus limiter and metrics.
pub(crate) struct Managed {
    name: String,
    /// The `provider` metric label (shared, so labelling allocates nothing per call).
    label: metrics::SharedString,
    kind: ProviderKind,
    limiter: Arc<Limiter>,
    backend: Backend,
}

impl Managed {
    pub(crate) fn new(
        name: &str,
        kind: ProviderKind,
        limiter: Arc<Limiter>,
        backend: Backend,
    ) -> Self {
        Self {
            name: name.to_owned(),
            label: metrics::SharedString::from(Arc::<str>::from(name)),
            kind,
            limiter,
            backend,
        }
    }

    async fn run(
        &self,
        request: &ChatRequest,
        stream: Option<DeltaSender>,
    ) -> Result<ChatResponse, LlmError> {
        // Fail fast, without queueing behind working calls, when nothing can be sent.
        let ready = match &self.backend {
            Backend::Echo => Ok(()),
            Backend::OpenAi(http) => http.ready(),
            Backend::Ollama(http) => http.ready(),
            Backend::Anthropic(http) => http.ready(),
        };
        if let Err(error) = ready {
            self.count(error.class());
            return Err(error);
        }

        let queued = Instant::now();
        let _permit = self.limiter.acquire().await;
        metrics::histogram!("llm_queue_wait_seconds", "provider" => self.label.clone())
            .record(queued.elapsed().as_secs_f64());

        let started = Instant::now();
        let result = match &self.backend {
            Backend::Echo => Ok(echo::chat(request, stream).await),
            Backend::OpenAi(http) => http.chat(request, stream).await,
            Backend::Ollama(http) => http.chat(request, stream).await,
            Backend::Anthropic(http) => http.chat(request, stream).await,
        };
        metrics::histogram!("llm_request_duration_seconds", "provider" => self.label.clone())
            .record(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => self.count("ok"),
            Err(error) => {
                tracing::debug!(provider = %self.name, %error, "LLM call failed");
                self.count(error.class());
            }
        }
        result
    }

    fn count(&self, outcome: &'static str) {
        metrics::counter!(
            "llm_requests_total",
            "provider" => self.label.clone(),
            "outcome" => outcome
        )
        .increment(1);
    }
}

impl Provider for Managed {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn chat<'a>(
        &'a self,
        request: &'a ChatRequest,
        stream: Option<DeltaSender>,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(self.run(request, stream))
    }
}
