//! The axum middleware applying the configured policies to every request.
//!
//! Layer it with `Router::layer` (so `MatchedPath` is known) after the authentication
//! middleware's layer (so `ClientIdentity` is in the extensions when it runs):
//!
//! ```no_run
//! # use axum::{Router, routing::get};
//! # use temponest_ratelimit::{RateLimitConfig, RateLimiter};
//! let limiter = RateLimiter::new(RateLimitConfig::default(), None);
//! let app: Router = Router::new()
//!     .route("/agents", get(|| async { "[]" }))
//!     .layer(axum::middleware::from_fn_with_state(limiter, temponest_ratelimit::middleware));
//! ```

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Scope;
use crate::identity::{ClientIdentity, Subject, client_ip};
use crate::limiter::RateLimiter;

/// `endpoint` label for requests that matched no route (never the raw path: unbounded labels).
const UNMATCHED_ENDPOINT: &str = "unmatched";

/// axum middleware: `axum::middleware::from_fn_with_state(limiter, temponest_ratelimit::middleware)`.
///
/// - Disabled limiter or exempt path prefix: the request passes through untouched.
/// - The route override for the `MatchedPath` and method applies if configured (its budget is
///   per scope key *and* route); otherwise the default policies per client.
/// - The key comes from the scope and the [`ClientIdentity`] extension, else the client IP
///   (`X-Forwarded-For` when trusted, else `ConnectInfo<SocketAddr>`, else `unknown`).
/// - Allowed: the inner service runs and the rate-limit headers are added to its response.
/// - Denied: a 429 from [`Decision::rejection`](crate::Decision::rejection), and
///   `rate_limit_rejections_total{endpoint, scope}` is incremented (`scope` is the kind of
///   identity the request was charged to: `ip`, `user`, `api_key` or `tenant`).
pub async fn middleware(State(limiter): State<RateLimiter>, req: Request, next: Next) -> Response {
    let config = limiter.config();
    if !config.enabled || config.is_exempt(req.uri().path()) {
        return next.run(req).await;
    }
    if req
        .extensions()
        .get::<ClientIdentity>()
        .is_some_and(|identity| identity.internal)
    {
        return next.run(req).await;
    }

    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let route_policy = endpoint
        .as_deref()
        .and_then(|route| config.route_policy(req.method(), route));
    let ip = client_ip(req.headers(), req.extensions(), config.trust_forwarded_for);
    let identity = req.extensions().get::<ClientIdentity>();
    let scope = route_policy.map_or(Scope::Client, |rp| rp.scope);
    let subject = Subject::resolve(scope, identity, &ip);

    let (key, policies) = match route_policy {
        Some(rp) => {
            let method = rp.method.as_ref().map_or("*", |m| m.as_str());
            let key = format!("{}|{method} {}", subject.key, rp.route);
            (key, rp.policies.as_slice())
        }
        None => (subject.key, config.default_policies.as_slice()),
    };

    let decision = limiter.check(&key, policies).await;
    if decision.allowed {
        let mut response = next.run(req).await;
        // A handler that enforced a stricter, request-specific limit (e.g. login per
        // IP+account) has already described it; keep its headers.
        if !response.headers().contains_key(crate::X_RATELIMIT_LIMIT) {
            decision.apply_headers(response.headers_mut());
        }
        return response;
    }

    metrics::counter!(
        "rate_limit_rejections_total",
        "endpoint" => endpoint.unwrap_or_else(|| UNMATCHED_ENDPOINT.to_owned()),
        "scope" => subject.kind,
    )
    .increment(1);
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok());
    decision.rejection(request_id)
}
