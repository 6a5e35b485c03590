//! Responses that carry a one-time secret (tokens, new API keys, webhook signing secrets).
//! They are marked `Cache-Control: no-store`: browsers and proxies must not keep them, and the
//! idempotency layer records such a request as done without storing its body, so a secret
//! never lands in `platform.idempotency_keys`.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Marks `response` as carrying a secret that must never be stored.
pub fn no_store(response: impl IntoResponse) -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        response,
    )
        .into_response()
}
