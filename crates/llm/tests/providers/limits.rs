//! The per-provider concurrency limit, and cancellation by dropping the call.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use temponest_llm::{ChatRequest, Message, ProviderKind, Providers};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::support::{config, eventually, registry, serve};

/// A server that holds every request until the test releases it, counting what is in flight.
struct Gate {
    arrived: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    release: Semaphore,
}

async fn gated(State(gate): State<Arc<Gate>>) -> Response {
    gate.arrived.fetch_add(1, Ordering::SeqCst);
    let now = gate.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    gate.max_in_flight.fetch_max(now, Ordering::SeqCst);
    gate.release.acquire().await.unwrap().forget();
    gate.in_flight.fetch_sub(1, Ordering::SeqCst);
    axum::Json(json!({"choices": [{"message": {"content": "released"}, "finish_reason": "stop"}]}))
        .into_response()
}

async fn gated_providers(max_concurrency: usize) -> (Providers, Arc<Gate>) {
    let gate = Arc::new(Gate {
        arrived: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        release: Semaphore::new(0),
    });
    let url = serve(Router::new().fallback(gated).with_state(gate.clone())).await;
    let mut config = config(ProviderKind::OpenAi, &url);
    config.max_concurrency = max_concurrency;
    (registry("limited", config), gate)
}

fn spawn_call(providers: &Providers) -> tokio::task::JoinHandle<String> {
    let provider = providers.get("limited").unwrap();
    tokio::spawn(async move {
        let request = ChatRequest::new("m", vec![Message::user("hi")]);
        provider.chat(&request, None).await.unwrap().content
    })
}

#[tokio::test]
async fn a_second_call_waits_for_the_first_with_max_concurrency_1() {
    let (providers, gate) = gated_providers(1).await;
    let first = spawn_call(&providers);
    eventually("the first request at the server", || {
        gate.arrived.load(Ordering::SeqCst) == 1
    })
    .await;

    let second = spawn_call(&providers);
    eventually("the second call queued", || {
        providers.load("limited").unwrap().waiting == 1
    })
    .await;
    // Queued at the limiter, so it cannot have reached the server.
    assert_eq!(gate.arrived.load(Ordering::SeqCst), 1);
    let load = providers.load("limited").unwrap();
    assert_eq!((load.in_flight, load.max_concurrency), (1, 1));

    gate.release.add_permits(1);
    assert_eq!(first.await.unwrap(), "released");
    eventually("the second request at the server", || {
        gate.arrived.load(Ordering::SeqCst) == 2
    })
    .await;
    gate.release.add_permits(1);
    assert_eq!(second.await.unwrap(), "released");

    assert_eq!(
        gate.max_in_flight.load(Ordering::SeqCst),
        1,
        "never two at the server"
    );
    let load = providers.load("limited").unwrap();
    assert_eq!((load.in_flight, load.waiting), (0, 0));
}

#[tokio::test]
async fn calls_run_concurrently_up_to_the_limit() {
    let (providers, gate) = gated_providers(2).await;
    let calls = [spawn_call(&providers), spawn_call(&providers)];
    // Both reach the server while neither is released: the limit of 2 lets them through.
    eventually("both requests in flight", || {
        gate.in_flight.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(providers.load("limited").unwrap().waiting, 0);
    gate.release.add_permits(2);
    for call in calls {
        assert_eq!(call.await.unwrap(), "released");
    }
    assert_eq!(gate.max_in_flight.load(Ordering::SeqCst), 2);
}

/// Streams one delta, then keeps the response open and reports when the body is dropped
/// (which hyper does once the client's connection is gone).
async fn stream_until_closed(
    State(closed): State<Arc<std::sync::Mutex<Option<oneshot::Sender<()>>>>>,
    _request: Request,
) -> Response {
    let (tx, mut rx) = mpsc::channel::<Bytes>(1);
    tx.send(Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n",
    ))
    .await
    .unwrap();
    let notify = closed.lock().unwrap().take();
    tokio::spawn(async move {
        tx.closed().await;
        if let Some(notify) = notify {
            let _ = notify.send(());
        }
    });
    let body = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|chunk| chunk.map(Ok::<_, Infallible>))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap()
}

#[tokio::test]
async fn dropping_the_call_mid_stream_closes_the_upstream_connection() {
    let (closed_tx, closed_rx) = oneshot::channel();
    let state = Arc::new(std::sync::Mutex::new(Some(closed_tx)));
    let url = serve(
        Router::new()
            .fallback(stream_until_closed)
            .with_state(state),
    )
    .await;
    let providers = registry("limited", config(ProviderKind::OpenAi, &url));
    let provider = providers.get("limited").unwrap();
    let request = ChatRequest::new("m", vec![Message::user("hi")]);

    let (tx, mut rx) = mpsc::channel(8);
    let mut call = provider.chat(&request, Some(tx));
    tokio::select! {
        result = &mut call => panic!("the call ended early: {result:?}"),
        delta = rx.recv() => assert_eq!(delta.as_deref(), Some("first")),
    }
    assert_eq!(providers.load("limited").unwrap().in_flight, 1);

    drop(call);
    assert_eq!(
        providers.load("limited").unwrap().in_flight,
        0,
        "the slot is freed"
    );
    tokio::time::timeout(Duration::from_secs(10), closed_rx)
        .await
        .expect("the server saw the connection close")
        .unwrap();
    assert_eq!(rx.recv().await, None, "no detached task keeps sending");
}
