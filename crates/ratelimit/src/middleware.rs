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
use http::HeaderValue;

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
    let Some(check) = Check::of(&limiter, &req) else {
        return next.run(req).await;
    };
    match check.run().await {
        Ok(allowed) => {
            let mut response = next.run(req).await;
            allowed.describe(&mut response);
            response
        }
        Err(refused) => refused,
    }
}

/// The [`middleware`] in two steps, for a hand-written service that must not box the stack
/// behind it: [`Check::of`] reads what it needs from the request (nothing to check when
/// limiting is off, the path is exempt or the caller is internal), [`Check::run`] counts it.
#[derive(Debug)]
pub struct Check<'a> {
    limiter: &'a RateLimiter,
    key: String,
    policies: &'a [crate::Policy],
    /// The matched route (an `Arc` inside): only a refusal formats it, as a metric label.
    endpoint: Option<MatchedPath>,
    kind: &'static str,
    /// Only a refusal reads it (the 429 body).
    request_id: Option<HeaderValue>,
}

/// An allowed request's decision: [`Allowed::describe`] its response.
#[derive(Debug)]
pub struct Allowed(crate::Decision);

impl Allowed {
    /// Adds the rate-limit headers to the response, unless the handler enforced a stricter,
    /// request-specific limit (e.g. login per IP+account) and described that one already.
    pub fn describe(&self, response: &mut Response) {
        if !response.headers().contains_key(crate::X_RATELIMIT_LIMIT) {
            self.0.apply_headers(response.headers_mut());
        }
    }
}

impl<'a> Check<'a> {
    /// What counting `req` takes, or `None` when it is not counted.
    pub fn of(limiter: &'a RateLimiter, req: &Request) -> Option<Self> {
        let config = limiter.config();
        if !limiter.limits_path(req.uri().path())
            || req
                .extensions()
                .get::<ClientIdentity>()
                .is_some_and(|identity| identity.internal)
        {
            return None;
        }
        let endpoint = req.extensions().get::<MatchedPath>().cloned();
        let route_policy = endpoint
            .as_ref()
            .and_then(|route| config.route_policy(req.method(), route.as_str()));
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
        Some(
            Self {
                limiter,
                key,
                policies,
                endpoint,
                kind: subject.kind,
                request_id: None,
            }
            .with_request_id(req),
        )
    }

    fn with_request_id(mut self, req: &Request) -> Self {
        self.request_id = req.headers().get("x-request-id").cloned();
        self
    }

    /// Counts the request: allowed, or the 429 to answer (and
    /// `rate_limit_rejections_total{endpoint, scope}` incremented).
    pub async fn run(self) -> Result<Allowed, Response> {
        let decision = self.limiter.check(&self.key, self.policies).await;
        if decision.allowed {
            return Ok(Allowed(decision));
        }
        metrics::counter!(
            "rate_limit_rejections_total",
            "endpoint" => self
                .endpoint
                .map_or_else(|| UNMATCHED_ENDPOINT.to_owned(), |route| route.as_str().to_owned()),
            "scope" => self.kind,
        )
        .increment(1);
        let request_id = self.request_id.as_ref().and_then(|v| v.to_str().ok());
        Err(decision.rejection(request_id))
    }
}
