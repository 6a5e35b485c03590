//! [`EmbeddingError`]: why embedding texts failed, worded for the operator reading a
//! document's `failed` reason. Messages name the provider and never contain the API key.

/// A failed embedding call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddingError {
    /// The configuration is unusable; nothing was sent.
    #[error("invalid embedding configuration: {field} {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// The provider could not be reached (after retries).
    #[error("embedding provider '{provider}' is unreachable: {detail}")]
    Unreachable { provider: String, detail: String },
    /// A request took longer than `timeout_secs`.
    #[error("embedding provider '{provider}' timed out after {after_secs} s")]
    Timeout { provider: String, after_secs: u64 },
    /// The provider kept answering 429, or asked to wait longer than the maximum backoff.
    #[error("embedding provider '{provider}' is rate limiting requests{}", retry_hint(*.retry_after_secs))]
    RateLimited {
        provider: String,
        retry_after_secs: Option<u64>,
    },
    /// The provider answered with an error status (after retries, where they apply).
    #[error("embedding provider '{provider}' returned HTTP {status}: {message}")]
    Upstream {
        provider: String,
        status: u16,
        /// The provider's error message, or the start of the body; at most 300 characters.
        message: String,
    },
    /// The response could not be understood.
    #[error("embedding provider '{provider}' sent a malformed response: {detail}")]
    Malformed { provider: String, detail: String },
    /// The provider returned a different number of embeddings than texts sent.
    #[error("embedding provider '{provider}' returned {actual} embeddings for {expected} texts")]
    CountMismatch {
        provider: String,
        expected: usize,
        actual: usize,
    },
    /// Embeddings of one call differ in length (a model changed, or a broken server).
    #[error(
        "embedding provider '{provider}' returned a {actual}-dimensional embedding for text {text}, the others have {expected}"
    )]
    DimensionMismatch {
        provider: String,
        /// Position of the text in the call's input.
        text: usize,
        expected: usize,
        actual: usize,
    },
}

fn retry_hint(retry_after_secs: Option<u64>) -> String {
    match retry_after_secs {
        Some(secs) => format!(" (it asks to retry after {secs} s)"),
        None => String::new(),
    }
}

impl EmbeddingError {
    /// A stable class: `invalid_config`, `unreachable`, `timeout`, `rate_limited`,
    /// `upstream`, `malformed`, `count_mismatch` or `dimension_mismatch` (the `outcome`
    /// label of `embedding_requests_total`).
    pub fn class(&self) -> &'static str {
        match self {
            Self::InvalidConfig { .. } => "invalid_config",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::Upstream { .. } => "upstream",
            Self::Malformed { .. } => "malformed",
            Self::CountMismatch { .. } => "count_mismatch",
            Self::DimensionMismatch { .. } => "dimension_mismatch",
        }
    }
}
