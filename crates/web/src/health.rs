//! Health routes: `/health` (liveness plus a dependency summary, cached 10 s as in the
//! seeds), `/health/live` (the process answers) and `/health/ready` (503 until Postgres is
//! reachable and migrations are applied; a positive result is cached 10 s), and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::Mutex;

use temponest_db::PgPool;

/// How long `/health` and a positive `/health/ready` are cached.
const CACHE_FOR: Duration = Duration::from_secs(10);

/// An extra dependency probe (e.g. Redis). `critical` failures make the service unhealthy;
/// others only degrade it.
#[derive(Clone)]
pub struct Check {
    pub name: &'static str,
    pub critical: bool,
    pub probe: Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>,
}

/// Shared health state of one process (one service or the all-in-one binary).
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    services: Vec<String>,
    pool: PgPool,
    migrated: AtomicBool,
    checks: Vec<Check>,
    /// The last rendered `/health` answer. Readers take a shared lock and clone a `Bytes`
    /// handle; only a stale answer goes through `refresh` (one probe at a time).
    rendered: std::sync::RwLock<Option<Rendered>>,
    refresh: Mutex<()>,
    /// Until when a positive readiness answer holds (epoch-free: an `Instant`).
    ready_until: std::sync::RwLock<Option<Instant>>,
    ready_refresh: Mutex<()>,
}

/// One dependency's state in the report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DependencyStatus {
    pub status: &'static str,
    pub latency_ms: f64,
}

/// Body of `GET /health`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// healthy | degraded | unhealthy
    pub status: &'static str,
    pub services: Vec<String>,
    pub version: &'static str,
    pub checks: std::collections::BTreeMap<&'static str, DependencyStatus>,
}

impl Health {
    pub fn new(services: &[&str], pool: PgPool, checks: Vec<Check>) -> Self {
        Self {
            inner: Arc::new(Inner {
                services: services.iter().map(|s| (*s).to_owned()).collect(),
                pool,
                migrated: AtomicBool::new(false),
                checks,
                rendered: std::sync::RwLock::new(None),
                refresh: Mutex::new(()),
                ready_until: std::sync::RwLock::new(None),
                ready_refresh: Mutex::new(()),
            }),
        }
    }

    /// Called once migrations are applied.
    pub fn mark_migrated(&self) {
        self.inner.migrated.store(true, Ordering::Release);
    }

    pub fn is_migrated(&self) -> bool {
        self.inner.migrated.load(Ordering::Acquire)
    }

    /// Routes `/health`, `/health/live`, `/health/ready` and `/metrics`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/health", get(health))
            .route("/health/live", get(live))
            .route("/health/ready", get(ready))
            .with_state(self.clone())
            .route("/metrics", get(metrics))
    }

    async fn probe(&self) -> HealthReport {
        let mut checks = std::collections::BTreeMap::new();
        let started = Instant::now();
        let db_ok = temponest_db::ping(&self.inner.pool).await;
        checks.insert("database", dependency(db_ok, started));
        let mut status = if db_ok && self.is_migrated() {
            "healthy"
        } else {
            "unhealthy"
        };
        for check in &self.inner.checks {
            let started = Instant::now();
            let ok = (check.probe)().await;
            checks.insert(check.name, dependency(ok, started));
            if !ok && status == "healthy" {
                status = if check.critical {
                    "unhealthy"
                } else {
                    "degraded"
                };
            }
        }
        HealthReport {
            status,
            services: self.inner.services.clone(),
            version: env!("CARGO_PKG_VERSION"),
            checks,
        }
    }

    /// The cached report, refreshed at most every 10 s.
    pub async fn report(&self) -> HealthReport {
        (*self.rendered().await.report).clone()
    }

    /// The cached `/health` answer. Under load every request would otherwise serialise on one
    /// lock and re-encode the same JSON; this path is a shared read lock and a refcount bump.
    async fn rendered(&self) -> Rendered {
        let fresh = |inner: &Inner| {
            inner
                .rendered
                .read()
                .expect("health cache poisoned")
                .as_ref()
                .filter(|r| r.at.elapsed() < CACHE_FOR)
                .cloned()
        };
        if let Some(rendered) = fresh(&self.inner) {
            return rendered;
        }
        let _one_probe_at_a_time = self.inner.refresh.lock().await;
        if let Some(rendered) = fresh(&self.inner) {
            return rendered;
        }
        let report = self.probe().await;
        let rendered = Rendered {
            at: Instant::now(),
            status: if report.status == "unhealthy" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            },
            body: Bytes::from(serde_json::to_vec(&report).unwrap_or_default()),
            report: Arc::new(report),
        };
        *self.inner.rendered.write().expect("health cache poisoned") = Some(rendered.clone());
        rendered
    }

    /// Ready = migrations applied and Postgres answering. Positive answers are cached.
    pub async fn is_ready(&self) -> bool {
        if !self.is_migrated() {
            return false;
        }
        let holds = |inner: &Inner| {
            inner
                .ready_until
                .read()
                .expect("readiness cache poisoned")
                .is_some_and(|t| Instant::now() < t)
        };
        if holds(&self.inner) {
            return true;
        }
        let _one_probe_at_a_time = self.inner.ready_refresh.lock().await;
        if holds(&self.inner) {
            return true;
        }
        let ok = temponest_db::ping(&self.inner.pool).await;
        *self
            .inner
            .ready_until
            .write()
            .expect("readiness cache poisoned") = ok.then(|| Instant::now() + CACHE_FOR);
        ok
    }
}

/// A rendered `/health` answer.
#[derive(Clone)]
struct Rendered {
    at: Instant,
    status: StatusCode,
    body: Bytes,
    report: Arc<HealthReport>,
}

fn dependency(ok: bool, started: Instant) -> DependencyStatus {
    DependencyStatus {
        status: if ok { "ok" } else { "down" },
        latency_ms: (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
    }
}

async fn health(State(health): State<Health>) -> Response {
    let rendered = health.rendered().await;
    (
        rendered.status,
        [(header::CONTENT_TYPE, "application/json")],
        rendered.body,
    )
        .into_response()
}

async fn live() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"alive"}"#,
    )
        .into_response()
}

async fn ready(State(health): State<Health>) -> Response {
    if health.is_ready().await {
        axum::Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        crate::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "not ready: database unreachable or migrations not applied yet",
        )
        .into_response()
    }
}

async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        temponest_telemetry::render_metrics(),
    )
        .into_response()
}
