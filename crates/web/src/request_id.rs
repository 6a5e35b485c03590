//! Request ids: taken from `X-Request-Id` when the client sends a sane one, generated
//! otherwise, echoed on the response, and visible to error rendering through a task-local.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

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

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Middleware: assigns the id, stores it in the request headers (for tracing and handlers),
/// runs the rest of the stack inside the task-local scope, and echoes it on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).expect("request ids are visible ASCII");
    req.headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    let mut response = REQUEST_ID.scope(id, next.run(req)).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn hostile_request_ids_are_replaced() {
        assert!(acceptable("abc-123_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable("with space"));
        assert!(!acceptable("newline\n"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}
