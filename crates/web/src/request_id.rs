//! Request ids: taken from `X-Request-Id` when the client sends a sane one, generated
//! otherwise, echoed on the response (by [`crate::stack::Edge`]), and visible to error
//! rendering through a task-local.

use axum::http::HeaderName;

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Spawns `work` as a task of its own that still belongs to this request: it carries the
/// request id (error bodies it renders name it) and the current tracing span. For work that
/// must outlive the client's connection (an idempotent request finishes and is stored even if
/// its client goes away).
pub fn spawn_detached<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let work = tracing::Instrument::instrument(work, tracing::Span::current());
    match current_request_id() {
        Some(id) => tokio::spawn(REQUEST_ID.scope(id, work)),
        None => tokio::spawn(work),
    }
}

/// Whether a client's `X-Request-Id` is kept (else a UUIDv7 replaces it): 1 to 128 characters
/// of `A-Z a-z 0-9 - _ . :`, so it is safe in logs and headers.
pub(crate) fn acceptable_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Runs `work` with `id` as the current request id (see [`current_request_id`]).
pub(crate) fn scope_request_id<F: Future>(id: String, work: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, work)
}

#[cfg(test)]
mod tests {
    use super::acceptable_request_id as acceptable;

    #[test]
    fn hostile_request_ids_are_replaced() {
        assert!(acceptable("abc-123_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable("with space"));
        assert!(!acceptable("newline\n"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}
