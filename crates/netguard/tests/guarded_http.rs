//! End-to-end tests against real local axum servers on `127.0.0.1:0`: loopback destinations
//! are refused before any request reaches the server (IP literals by the URL check, host names
//! by the checking resolver), allowed when the allow-list says so, and redirects are never
//! followed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use temponest_netguard::{
    BlockReason, GuardError, NetPolicy, SendError, guard_error, guarded_send,
};

/// A running test server and the number of requests it has received.
struct TestServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl TestServer {
    /// Serves `response` for every path, counting requests.
    async fn start<R>(response: R) -> Self
    where
        R: IntoResponse + Clone + Send + Sync + 'static,
    {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = Router::new().fallback(get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            async move { response }
        }));
        // Bound before spawning: connections queue in the backlog, so no sleep is needed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn url(&self, host: &str) -> String {
        format!("http://{host}:{}/", self.addr.port())
    }
}

fn client_for(policy: &NetPolicy) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    policy.client_builder().build().expect("client")
}

fn local_policy() -> NetPolicy {
    NetPolicy::parse("127.0.0.0/8,::1/128").expect("valid allow-list")
}

async fn send(policy: &NetPolicy, url: &str) -> Result<reqwest::Response, SendError> {
    let client = client_for(policy);
    let request = client.get(url).build().expect("request");
    guarded_send(&client, policy, request).await
}

fn assert_blocked_loopback(result: Result<reqwest::Response, SendError>) {
    match result {
        Err(SendError::Guard(GuardError::Blocked { ip, reason })) => {
            assert!(ip.is_loopback(), "blocked address {ip} is not loopback");
            assert_eq!(reason, BlockReason::Loopback);
        }
        Err(other) => panic!("expected a loopback block, got {other:?}"),
        Ok(response) => panic!("expected a loopback block, got {}", response.status()),
    }
}

#[tokio::test]
async fn ip_literal_loopback_is_refused_before_sending() {
    let server = TestServer::start("hello").await;
    let result = send(&NetPolicy::default(), &server.url("127.0.0.1")).await;
    let err = result.as_ref().expect_err("must be refused");
    assert_eq!(
        err.guard(),
        Some(&GuardError::Blocked {
            ip: "127.0.0.1".parse().expect("ip"),
            reason: BlockReason::Loopback
        })
    );
    assert_blocked_loopback(result);
    assert_eq!(server.hits(), 0, "the server must not see the request");
}

#[tokio::test]
async fn hostname_resolving_to_loopback_is_refused_by_the_resolver() {
    let server = TestServer::start("hello").await;
    let policy = NetPolicy::default();
    assert_blocked_loopback(send(&policy, &server.url("localhost")).await);

    // Sent without guarded_send the refusal surfaces as a reqwest error; guard_error finds it.
    let client = client_for(&policy);
    let err = client
        .get(server.url("localhost"))
        .send()
        .await
        .expect_err("resolver must refuse localhost");
    let guard = guard_error(&err).expect("a GuardError in the source chain");
    assert!(
        matches!(guard, GuardError::Blocked { reason: BlockReason::Loopback, ip } if ip.is_loopback()),
        "{guard:?}"
    );
    assert_eq!(server.hits(), 0, "the server must not see any request");
}

#[tokio::test]
async fn allow_list_admits_loopback_literals_and_names() {
    let server = TestServer::start("hello").await;
    let policy = local_policy();
    for host in ["127.0.0.1", "localhost"] {
        let response = send(&policy, &server.url(host)).await.expect("allowed");
        assert_eq!(response.status(), StatusCode::OK, "{host}");
        assert_eq!(response.text().await.expect("body"), "hello", "{host}");
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn redirects_are_not_followed_even_when_allowed() {
    let target = TestServer::start("secret").await;
    let location = target.url("127.0.0.1");
    let redirector =
        TestServer::start((StatusCode::FOUND, [(header::LOCATION, location.clone())])).await;

    let response = send(&local_policy(), &redirector.url("127.0.0.1"))
        .await
        .expect("the redirect response itself is returned");
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some(location.as_str())
    );
    assert_eq!(redirector.hits(), 1);
    assert_eq!(
        target.hits(),
        0,
        "the redirect target must not be contacted"
    );
}

#[tokio::test]
async fn connection_failures_are_http_errors_not_guard_errors() {
    // Reserve a port, then close it so the connection is refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);

    let err = send(&local_policy(), &format!("http://127.0.0.1:{port}/"))
        .await
        .expect_err("nothing listens there");
    match &err {
        SendError::Http(http) => {
            assert!(http.is_connect(), "{http:?}");
            assert_eq!(guard_error(http), None);
        }
        SendError::Guard(guard) => panic!("expected an HTTP error, got {guard:?}"),
    }
    assert_eq!(err.guard(), None);
}

#[tokio::test]
async fn urls_with_credentials_are_refused_before_sending() {
    let server = TestServer::start("hello").await;
    let url = format!("http://user:pass@127.0.0.1:{}/", server.addr.port());
    // Built directly: `Client::get(url)` would move the userinfo into an Authorization header.
    let request = reqwest::Request::new(reqwest::Method::GET, url.parse().expect("url"));
    let policy = local_policy();
    match guarded_send(&client_for(&policy), &policy, request).await {
        Err(SendError::Guard(GuardError::InvalidUrl(message))) => {
            assert!(message.contains("credentials"), "{message}")
        }
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn the_client_alone_does_not_check_ip_literals() {
    // Documents why guarded_send / check_url are mandatory: reqwest never asks the resolver
    // about IP-literal hosts, so the client by itself reaches a blocked address.
    let server = TestServer::start("hello").await;
    let policy = NetPolicy::default();
    let response = client_for(&policy)
        .get(server.url("127.0.0.1"))
        .send()
        .await
        .expect("unchecked request goes through");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 1);
    assert!(policy.check_url(&server.url("127.0.0.1")).is_err());
}
