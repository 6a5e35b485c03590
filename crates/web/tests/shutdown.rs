//! Graceful shutdown over real TCP: a request in flight when shutdown starts still completes,
//! and the server then stops accepting connections.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use temponest_web::{ServerConfig, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

#[tokio::test]
async fn shutdown_drains_the_request_in_flight_then_refuses_new_connections() {
    let (entered_tx, entered_rx) = oneshot::channel::<()>();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let entered = std::sync::Mutex::new(Some(entered_tx));
    let release = std::sync::Arc::new(tokio::sync::Mutex::new(Some(release_rx)));
    let entered = std::sync::Arc::new(entered);
    let router = Router::new().route(
        "/work",
        get(move || {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                if let Some(tx) = entered.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                if let Some(rx) = release.lock().await.take() {
                    let _ = rx.await;
                }
                "done"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(listener, router, &ServerConfig::default(), async {
            let _ = stop_rx.await;
        })
        .await
    });

    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /work HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    entered_rx.await.unwrap();
    stop_tx.send(()).unwrap();
    release_tx.send(()).unwrap();

    let mut response = String::new();
    client.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops once drained")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
