//! The `text/event-stream` plumbing of the streaming routes (an execution's frames, a
//! collaboration session's events): numbered frames, the `[DONE]` frame that ends a stream,
//! and the response that keeps an idle stream open through proxies.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{Stream, StreamExt};

/// `text/event-stream` of `events`, with a comment every 15 s while idle.
pub fn event_stream<S>(events: S) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    let mut response = Sse::new(events.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Proxies (nginx) must pass frames through as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Frame number `seq` (its `id:`, for a client to resume after it) carrying `data`.
pub fn frame(seq: usize, data: &str) -> Event {
    Event::default().id(seq.to_string()).data(data)
}

/// Frame number `seq`, the last of a stream: `data: [DONE]`.
pub fn done(seq: usize) -> Event {
    frame(seq, "[DONE]")
}
