//! [`AuthClient`]: turns request credentials into a [`Principal`], and the `identify`
//! middleware that runs it before rate limiting and handlers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use temponest_cache::{Cache, categories};
use temponest_web::ApiError;

use crate::principal::AuthFailure;
use crate::{
    API_KEY_PREFIX, AccessClaims, Introspector, JwtVerifier, Principal, PrincipalKind,
    REFRESH_TOKEN_PREFIX, TokenType, VerifyError, api_key_cache_key, permissions,
};

/// [`AuthClient::remote`] could not build its HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("HTTP client: {0}")]
pub struct RemoteClientError(#[from] reqwest::Error);

/// Authenticates callers. Cheap to clone.
#[derive(Clone)]
pub struct AuthClient {
    /// One `Arc`: the middleware clones the client for every request.
    inner: Arc<Parts>,
}

struct Parts {
    verifier: JwtVerifier,
    introspector: Arc<dyn Introspector>,
    cache: Cache,
}

/// A credential found in the request.
enum Credential<'a> {
    ApiKey(&'a str),
    Token(&'a str),
}

fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::unauthorized(
                "unsupported authorization scheme; use Bearer",
            ));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(ApiError::unauthorized("empty bearer token"));
        }
        return Ok(Some(classify(token)?));
    }
    if let Some(value) = headers.get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed X-API-Key header"))?
            .trim();
        if !key.starts_with(API_KEY_PREFIX) {
            return Err(ApiError::unauthorized("invalid API key"));
        }
        return Ok(Some(Credential::ApiKey(key)));
    }
    Ok(None)
}

fn classify(token: &str) -> Result<Credential<'_>, ApiError> {
    if token.starts_with(API_KEY_PREFIX) {
        Ok(Credential::ApiKey(token))
    } else if token.starts_with(REFRESH_TOKEN_PREFIX) {
        Err(ApiError::unauthorized(
            "a refresh token cannot be used as an access token; exchange it at /auth/refresh",
        ))
    } else {
        Ok(Credential::Token(token))
    }
}

impl AuthClient {
    pub fn new(verifier: JwtVerifier, introspector: Arc<dyn Introspector>, cache: Cache) -> Self {
        Self {
            inner: Arc::new(Parts {
                verifier,
                introspector,
                cache,
            }),
        }
    }

    /// A client of the auth service at `auth_url` over HTTP, as a service deployed on its own
    /// uses it: JWKS from `/.well-known/jwks.json`, API keys through `/auth/introspect`, with
    /// a 10 s timeout per call.
    pub fn remote(auth_url: &str, cache: Cache) -> Result<Self, RemoteClientError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let auth_url = auth_url.trim_end_matches('/');
        Ok(Self::new(
            JwtVerifier::remote(format!("{auth_url}/.well-known/jwks.json"), http.clone()),
            Arc::new(crate::RemoteIntrospection::new(auth_url, http)),
            cache,
        ))
    }

    pub fn verifier(&self) -> &JwtVerifier {
        &self.inner.verifier
    }

    /// `Ok(None)` when the request carries no credentials; `Err` (401/503) when it carries
    /// credentials that cannot be accepted.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
        match credential(headers)? {
            None => Ok(None),
            Some(Credential::Token(token)) => self.verify_token(token).await.map(Some),
            Some(Credential::ApiKey(key)) => self.resolve_api_key(key).await.map(Some),
        }
    }

    /// Verifies an access token: signature, expiry and type locally (cached until expiry),
    /// then that its session is still live (cached 30 s under the `jwt` category and
    /// invalidated on every replica at logout or revocation). A service token has no session
    /// and lives minutes: it is checked locally only, and must name a known service client.
    pub async fn verify_token(&self, token: &str) -> Result<Principal, ApiError> {
        let claims = self
            .inner
            .verifier
            .verify(token)
            .await
            .map_err(|err| match err {
                VerifyError::Expired => ApiError::unauthorized("access token expired"),
                VerifyError::WrongType => ApiError::unauthorized("token is not an access token"),
                other => ApiError::unauthorized(other.to_string()),
            })?;
        if claims.token_type == TokenType::Service {
            return service_principal(&claims);
        }
        // Borrowed, not copied: the loader runs only on a miss.
        let (introspector, session_id) = (&self.inner.introspector, claims.sid);
        let live: bool = self
            .inner
            .cache
            .get_or_load(
                &categories::JWT,
                &session_cache_key(session_id),
                || async move { introspector.session_live(session_id, token).await },
            )
            .await?;
        if !live {
            return Err(ApiError::unauthorized(
                "the session of this token has ended (logged out or revoked); log in again",
            ));
        }
        Ok(Principal {
            user_id: claims.sub,
            tenant_id: claims.tenant_id,
            email: claims.email.clone(),
            roles: claims.roles.clone(),
            permissions: claims.permissions.clone(),
            kind: PrincipalKind::User {
                session_id: claims.sid,
            },
        })
    }

    /// Resolves an API key through the cache (30 s) and the introspector.
    pub async fn resolve_api_key(&self, key: &str) -> Result<Principal, ApiError> {
        let resolver = Arc::clone(&self.inner.introspector);
        let owned = key.to_owned();
        let found: Option<Principal> = self
            .inner
            .cache
            .get_or_load(
                &categories::INTROSPECTION,
                &api_key_cache_key(key),
                || async move { resolver.resolve(&owned).await },
            )
            .await?;
        found.ok_or_else(|| ApiError::unauthorized("invalid, revoked or expired API key"))
    }
}

/// The principal of a verified service token. Its permissions never exceed the fixed scopes
/// of its client, whatever the token says.
fn service_principal(claims: &AccessClaims) -> Result<Principal, ApiError> {
    let client = claims.client.as_deref().unwrap_or_default();
    let scopes = permissions::service_scopes(client)
        .ok_or_else(|| ApiError::unauthorized("service token names no known service client"))?;
    Ok(Principal {
        user_id: claims.sub,
        tenant_id: claims.tenant_id,
        email: claims.email.clone(),
        roles: claims.roles.clone(),
        permissions: claims
            .permissions
            .iter()
            .filter(|p| scopes.contains(p))
            .copied()
            .collect(),
        kind: PrincipalKind::Service {
            client: client.to_owned(),
        },
    })
}

/// Cache key (category `jwt`) of a session's liveness.
pub fn session_cache_key(session_id: uuid::Uuid) -> String {
    session_id.to_string()
}

/// Middleware: authenticates the request if it carries credentials and stores the outcome
/// in extensions (the [`Principal`] and its rate-limit identity, or the failure for the
/// extractor to report). It never rejects by itself, so public routes stay public.
pub async fn identify(State(client): State<AuthClient>, mut req: Request, next: Next) -> Response {
    client.identify(&mut req).await;
    next.run(req).await
}

impl AuthClient {
    /// What [`identify`] does to a request before passing it on.
    async fn identify(&self, req: &mut Request) {
        match self.authenticate(req.headers()).await {
            Ok(Some(principal)) => {
                req.extensions_mut().insert(principal.client_identity());
                req.extensions_mut().insert(principal);
            }
            Ok(None) => {}
            Err(err) => {
                req.extensions_mut().insert(AuthFailure(err));
            }
        }
    }
}

/// Applies authentication and rate limiting to a fully merged router: [`identify`] first so
/// the limiter can key on the caller, then the limiter, then the handlers (see [`Protect`]).
pub fn protect(
    router: axum::Router,
    client: AuthClient,
    limiter: temponest_ratelimit::RateLimiter,
) -> axum::Router {
    router.layer(ProtectLayer::new(client, limiter))
}

/// Layer of [`Protect`].
#[derive(Clone)]
pub struct ProtectLayer {
    client: AuthClient,
    limiter: temponest_ratelimit::RateLimiter,
}

impl ProtectLayer {
    pub fn new(client: AuthClient, limiter: temponest_ratelimit::RateLimiter) -> Self {
        Self { client, limiter }
    }
}

impl<S> tower::Layer<S> for ProtectLayer {
    type Service = Protect<S>;

    fn layer(&self, inner: S) -> Protect<S> {
        Protect {
            client: self.client.clone(),
            limiter: self.limiter.clone(),
            inner,
        }
    }
}

/// Authentication and rate limiting of a routed request, as one service: the caller is
/// identified ([`identify`]), then counted (`temponest_ratelimit::Check`), then the route
/// runs and its response gets the rate-limit headers. A request without credentials to a
/// path the limiter does not count (`/health`, `/metrics`, the docs, or every path when
/// limiting is off) has nothing to identify or count and goes straight to the route, without
/// a clone of it or a boxed future.
#[derive(Clone)]
pub struct Protect<S> {
    client: AuthClient,
    limiter: temponest_ratelimit::RateLimiter,
    inner: S,
}

impl<S> tower::Service<Request> for Protect<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures::future::Either<
        S::Future,
        futures::future::BoxFuture<'static, Result<Response, std::convert::Infallible>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let headers = req.headers();
        let credentials = headers.contains_key(axum::http::header::AUTHORIZATION)
            || headers.contains_key("x-api-key");
        if !credentials && !self.limiter.limits_path(req.uri().path()) {
            return futures::future::Either::Left(self.inner.call(req));
        }
        // The clone is the one that was not polled ready; the ready one is taken.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (client, limiter) = (self.client.clone(), self.limiter.clone());
        futures::future::Either::Right(Box::pin(async move {
            client.identify(&mut req).await;
            let Some(check) = temponest_ratelimit::Check::of(&limiter, &req) else {
                return inner.call(req).await;
            };
            Ok(match check.run().await {
                Ok(allowed) => {
                    let mut response = inner.call(req).await?;
                    allowed.describe(&mut response);
                    response
                }
                Err(refused) => refused,
            })
        }))
    }
}
