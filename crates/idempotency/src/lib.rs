//! `Idempotency-Key` for mutating POSTs (SPEC §2): the first response to a key is stored in
//! Postgres and replayed, byte for byte, to repeats of the same request by the same caller for
//! 24 h. A repeat with a different body is refused (422); a repeat while the first is still
//! running waits its turn (409 with `Retry-After`). Server errors are not stored, so a client
//! can retry them with the same key.
//!
//! The first request runs to completion in its own task even when its client goes away, and
//! its response is stored: a client that timed out and retries gets that response instead of
//! a second execution. While it runs it heartbeats its key; the key is taken over only when
//! the heartbeat stops (its process died), however long the request legitimately takes.
//!
//! "The same caller" is the authenticated identity within its tenant (a service identity acts
//! for many tenants), else the client address as the rate limiter sees it (the trusted
//! `X-Forwarded-For` entry behind a proxy, never the proxy's own address). Streaming responses are never stored, and a response
//! marked `Cache-Control: no-store` (it carries a one-time secret such as a new API key or
//! tokens) is recorded as done without its body: a repeat gets 409 instead of a copy of the
//! secret or a second resource.

mod store;

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::{BoxFuture, Either};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use temponest_ratelimit::ClientIdentity;
use temponest_web::ApiError;
use tower::ServiceExt;

pub use store::Stored;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on replayed responses.
pub const REPLAYED: &str = "idempotent-replayed";

/// Idempotency settings and storage. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pool: PgPool,
    /// How long a key is remembered (SPEC: 24 h).
    pub ttl: Duration,
    /// A first request whose heartbeat is this old is presumed dead (its process crashed)
    /// and the key may be taken over. Running requests heartbeat every third of it.
    pub in_flight_timeout: Duration,
    /// Requests and responses larger than this are not stored (the request still runs).
    pub max_body_bytes: usize,
    /// Whether anonymous callers are told apart by `X-Forwarded-For` (set it as the rate
    /// limiter's `trust_forwarded_for` is set).
    pub trust_forwarded_for: bool,
}

impl Idempotency {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            ttl: Duration::from_secs(24 * 3600),
            in_flight_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            trust_forwarded_for: false,
        }
    }

    /// Anonymous callers are keyed by the trusted `X-Forwarded-For` entry when `trust` is set.
    pub fn trusting_forwarded_for(mut self, trust: bool) -> Self {
        self.trust_forwarded_for = trust;
        self
    }

    /// Deletes expired keys every 10 minutes.
    pub fn spawn_cleanup(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                match store::delete_expired(&this.pool, this.ttl).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(deleted = n, "expired idempotency keys removed"),
                    Err(err) => tracing::warn!(error = %err, "idempotency key cleanup failed"),
                }
            }
        })
    }
}

/// Adds the middleware to every route of `router`. Apply it before authentication and rate
/// limiting layers (so it runs after them and sees the caller's identity).
pub fn layer(router: Router, idempotency: Idempotency) -> Router {
    router.layer(IdempotencyLayer::new(idempotency))
}

/// Layer of [`IdempotencyService`].
#[derive(Clone, Debug)]
pub struct IdempotencyLayer(Idempotency);

impl IdempotencyLayer {
    pub fn new(idempotency: Idempotency) -> Self {
        Self(idempotency)
    }
}

impl<S> tower::Layer<S> for IdempotencyLayer {
    type Service = IdempotencyService<S>;

    fn layer(&self, inner: S) -> IdempotencyService<S> {
        IdempotencyService {
            idem: self.0.clone(),
            inner,
        }
    }
}

/// The middleware as a service (see the crate documentation). Only a `POST` carrying an
/// `Idempotency-Key` is its business; every other request goes straight to the route, without
/// a clone of it or a boxed future.
#[derive(Clone, Debug)]
pub struct IdempotencyService<S> {
    idem: Idempotency,
    inner: S,
}

/// The rest of the stack, called once with the request that owns the key.
type Proceed = Box<dyn FnOnce(Request) -> BoxFuture<'static, Response> + Send>;

impl<S> tower::Service<Request> for IdempotencyService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // A `POST` to a route: an unknown path's 404 is not remembered.
        if req.method() != axum::http::Method::POST
            || req
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .is_none()
        {
            return Either::Left(self.inner.call(req));
        }
        let Some(key) = req.headers().get(IDEMPOTENCY_KEY) else {
            return Either::Left(self.inner.call(req));
        };
        let Some(key) = key
            .to_str()
            .ok()
            .filter(|k| valid_key(k))
            .map(str::to_owned)
        else {
            let refused = ApiError::invalid_field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
            .into_response();
            return Either::Right(Box::pin(std::future::ready(Ok(refused))));
        };
        // The clone is the one that was not polled ready; the ready one is taken.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let proceed: Proceed = Box::new(move |req| {
            Box::pin(async move {
                match inner.oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            })
        });
        let idem = self.idem.clone();
        Either::Right(Box::pin(async move {
            Ok(match run(idem, key, req, proceed).await {
                Ok(response) | Err(response) => response,
            })
        }))
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Who is asking: the authenticated identity within its tenant when there is one, else the
/// client address.
fn scope(req: &Request, trust_forwarded_for: bool) -> String {
    let identity = req.extensions().get::<ClientIdentity>();
    let who = identity
        .and_then(|i| {
            let who = i
                .api_key_id
                .as_ref()
                .map(|k| format!("key:{k}"))
                .or_else(|| i.user_id.as_ref().map(|u| format!("user:{u}")))?;
            Some(match &i.tenant_id {
                Some(tenant) => format!("{who}@{tenant}"),
                None => who,
            })
        })
        .unwrap_or_else(|| {
            format!(
                "ip:{}",
                temponest_ratelimit::client_ip(
                    req.headers(),
                    req.extensions(),
                    trust_forwarded_for
                )
            )
        });
    format!("{who}|{} {}", req.method(), req.uri().path())
}

async fn run(
    idem: Idempotency,
    key: String,
    req: Request,
    proceed: Proceed,
) -> Result<Response, Response> {
    let scope = scope(&req, idem.trust_forwarded_for);
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, idem.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body is too large",
            )
            .into_response()
        })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.uri.query().unwrap_or_default().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hasher.finalize().to_vec();

    // From here on the work is its own task: the key is claimed, and the request finishes
    // and its response is stored, even if the client disconnects at any point, so the
    // client's retry gets that response rather than a second run (or a key left claimed by a
    // request that never ran).
    let request = Request::from_parts(parts, Body::from(bytes));
    let task = temponest_web::request_id::spawn_detached({
        let (idem, scope, key) = (idem.clone(), scope.clone(), key.clone());
        async move {
            let claimed = store::claim(
                &idem.pool,
                &scope,
                &key,
                &request_hash,
                idem.ttl,
                idem.in_flight_timeout,
            )
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
            if !claimed {
                return Err(answer_repeat(&idem, &scope, &key, &request_hash).await);
            }
            Ok(run_claimed(idem, scope, key, request, proceed).await)
        }
    });
    match task.await {
        Ok(answer) => answer,
        Err(err) => {
            forget(&idem, &scope, &key).await;
            Err(
                ApiError::internal(format!("idempotent request task failed: {err}"))
                    .into_response(),
            )
        }
    }
}

/// Runs the request that owns the key, heartbeating the key until it ends, then stores the
/// response.
async fn run_claimed(
    idem: Idempotency,
    scope: String,
    key: String,
    req: Request,
    proceed: Proceed,
) -> Response {
    let period = (idem.in_flight_timeout / 3).max(Duration::from_millis(100));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let work = proceed(req);
    tokio::pin!(work);
    let response = loop {
        tokio::select! {
            response = &mut work => break response,
            _ = beat.tick() => {
                if let Err(err) = store::heartbeat(&idem.pool, &scope, &key).await {
                    tracing::warn!(error = %err, "could not heartbeat an idempotency key");
                }
            }
        }
    };
    remember(&idem, &scope, &key, response).await
}

/// A repeat of a key already seen.
async fn answer_repeat(
    idem: &Idempotency,
    scope: &str,
    key: &str,
    request_hash: &[u8],
) -> Response {
    let stored = match store::load(&idem.pool, scope, key).await {
        Ok(Some(stored)) => stored,
        // Deleted in between (the first attempt failed with a server error): ask to retry.
        Ok(None) => return in_progress(),
        Err(err) => return ApiError::from(err).into_response(),
    };
    if stored.request_hash != request_hash {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
        .into_response();
    }
    let Some(status) = stored
        .status
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
    else {
        return in_progress();
    };
    if !stored.replayable {
        return ApiError::new(
            StatusCode::CONFLICT,
            "idempotent_response_not_replayable",
            format!(
                "the first request with this Idempotency-Key already completed ({}); its response \
                 contained a one-time secret and is not stored, so it cannot be replayed",
                status.as_u16()
            ),
        )
        .into_response();
    }
    let mut response = Response::new(Body::from(stored.body.unwrap_or_default()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

fn in_progress() -> Response {
    ApiError::conflict("a request with this Idempotency-Key is still in progress; retry shortly")
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        .into_response()
}

/// Stores a final response, or forgets the key when the response must not be replayed.
async fn remember(idem: &Idempotency, scope: &str, key: &str, response: Response) -> Response {
    let status = response.status();
    let content_type = header_text(&response, header::CONTENT_TYPE).map(str::to_owned);
    let streaming = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("text/event-stream"));
    // Retryable outcomes are not final: let the client try again with the same key.
    let retryable = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT;
    if streaming || retryable {
        forget(idem, scope, key).await;
        return response;
    }
    let location = header_text(&response, header::LOCATION).map(str::to_owned);
    let no_store =
        header_text(&response, header::CACHE_CONTROL).is_some_and(|v| v.contains("no-store"));
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            forget(idem, scope, key).await;
            tracing::warn!(error = %err, "response body failed while being stored for idempotency");
            return ApiError::internal(format!("response body error: {err}")).into_response();
        }
    };
    let outcome = store::Outcome {
        status: status.as_u16() as i16,
        content_type: content_type.as_deref(),
        location: location.as_deref(),
        body: (!no_store).then_some(&bytes[..]),
    };
    if bytes.len() > idem.max_body_bytes && !no_store {
        forget(idem, scope, key).await;
    } else if let Err(err) = store::complete(&idem.pool, scope, key, outcome).await {
        tracing::warn!(error = %err, "could not store an idempotent response; a repeat will run again");
        forget(idem, scope, key).await;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A response header's value, when it is text.
fn header_text(response: &Response, name: header::HeaderName) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn forget(idem: &Idempotency, scope: &str, key: &str) {
    if let Err(err) = store::release(&idem.pool, scope, key).await {
        tracing::warn!(error = %err, "could not release an idempotency key");
    }
}
