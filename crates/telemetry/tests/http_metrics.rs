//! The metrics middleware labels requests by matched route and renders them through the
//! process-wide Prometheus recorder. Every test uses its own route patterns because the
//! recorder is shared by the whole test binary.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::{Router, middleware};
use temponest_telemetry::{http::track_metrics, render_metrics};
use tower::ServiceExt as _;

fn app() -> Router {
    Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .route("/widgets/{id}", get(|| async { "widget" }))
        .route(
            "/orders/{id}",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn(track_metrics))
}

async fn send(method: &str, uri: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    app().oneshot(request).await.unwrap().status()
}

/// Sample lines of `metric` (exact name, with labels) whose labels contain every `label`.
fn samples(rendered: &str, metric: &str, labels: &[&str]) -> Vec<String> {
    rendered
        .lines()
        .filter(|line| line.starts_with(&format!("{metric}{{")))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .map(str::to_owned)
        .collect()
}

/// The `http_requests_total` samples whose labels contain every `label`.
fn requests_total(rendered: &str, labels: &[&str]) -> Vec<String> {
    samples(rendered, "http_requests_total", labels)
}

fn value(sample: &str) -> f64 {
    sample.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn requests_to_one_route_share_one_series_labelled_with_the_route_pattern() {
    assert_eq!(send("GET", "/items/1").await, StatusCode::OK);
    assert_eq!(send("GET", "/items/2").await, StatusCode::OK);

    let rendered = render_metrics();
    let counts = requests_total(&rendered, &[r#"endpoint="/items/{id}""#]);
    assert_eq!(counts.len(), 1, "one series expected:\n{rendered}");
    assert!(counts[0].contains(r#"method="GET""#), "{}", counts[0]);
    assert!(counts[0].contains(r#"status="200""#), "{}", counts[0]);
    assert_eq!(value(&counts[0]), 2.0);
    assert!(
        !rendered.contains("/items/1") && !rendered.contains("/items/2"),
        "raw paths leaked into labels:\n{rendered}"
    );
}

#[tokio::test]
async fn request_durations_render_as_a_histogram_per_route() {
    send("GET", "/widgets/3").await;

    let rendered = render_metrics();
    let buckets = samples(
        &rendered,
        "http_request_duration_seconds_bucket",
        &[r#"endpoint="/widgets/{id}""#, r#"method="GET""#],
    );
    assert!(
        buckets.iter().any(|line| line.contains(r#"le="0.0005""#)),
        "{rendered}"
    );
    let infinite = buckets
        .iter()
        .find(|line| line.contains(r#"le="+Inf""#))
        .unwrap_or_else(|| panic!("no +Inf bucket:\n{rendered}"));
    assert!(value(infinite) >= 1.0, "{infinite}");
    let count = samples(
        &rendered,
        "http_request_duration_seconds_count",
        &[r#"endpoint="/widgets/{id}""#],
    );
    assert_eq!(count.len(), 1, "{rendered}");
    assert!(
        !buckets.iter().any(|line| line.contains("status=")),
        "the histogram is labelled by method and endpoint only:\n{rendered}"
    );
}

#[tokio::test]
async fn requests_matching_no_route_are_labelled_unmatched_not_by_their_path() {
    assert_eq!(
        send("GET", "/no/such/path/9f3a").await,
        StatusCode::NOT_FOUND
    );

    let rendered = render_metrics();
    let unmatched = requests_total(&rendered, &[r#"endpoint="unmatched""#, r#"status="404""#]);
    assert_eq!(unmatched.len(), 1, "{rendered}");
    assert!(value(&unmatched[0]) >= 1.0);
    assert!(!rendered.contains("9f3a"), "{rendered}");
}

#[tokio::test]
async fn server_errors_are_counted_with_their_status() {
    assert_eq!(
        send("POST", "/orders/77").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let rendered = render_metrics();
    let errors = requests_total(
        &rendered,
        &[
            r#"endpoint="/orders/{id}""#,
            r#"method="POST""#,
            r#"status="500""#,
        ],
    );
    assert_eq!(errors.len(), 1, "{rendered}");
    assert_eq!(value(&errors[0]), 1.0);
}
