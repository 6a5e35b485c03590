//! What a service hands the kit: a [`Plan`] (its name, rate-limit policies, its OpenAPI
//! document and how to build it from the shared [`Context`]) that yields a [`Descriptor`]
//! (routes, long-running routes, background [`Engine`]s and its state).

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use futures::future::BoxFuture;
use sqlx::PgPool;
use temponest_auth_client::AuthClient;
use temponest_cache::Cache;
use temponest_ratelimit::{RateLimiter, RoutePolicy};

use crate::StartupError;
use crate::config::PlatformConfig;

type Build =
    Box<dyn FnOnce(Context) -> BoxFuture<'static, Result<Descriptor, StartupError>> + Send>;

/// A service's OpenAPI document, made without building the service.
pub type Document = fn() -> utoipa::openapi::OpenApi;

/// A service as the kit composes it; see `docs/architecture.md`.
pub struct Plan {
    pub(crate) name: &'static str,
    pub(crate) rate_limits: Vec<RoutePolicy>,
    pub(crate) provides_auth: bool,
    pub(crate) openapi: Option<Document>,
    pub(crate) build: Build,
}

impl Plan {
    /// `name` is what `/health` reports; `rate_limits` are the service's route policies on
    /// top of the global defaults; `build` makes the service from the shared context.
    pub fn new<F, Fut, E>(name: &'static str, rate_limits: Vec<RoutePolicy>, build: F) -> Self
    where
        F: FnOnce(Context) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Descriptor, E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        Self {
            name,
            rate_limits,
            provides_auth: false,
            openapi: None,
            build: Box::new(move |context| {
                Box::pin(async move {
                    build(context)
                        .await
                        .map_err(|e| StartupError::Service(name, Box::new(e)))
                })
            }),
        }
    }

    /// This service authenticates callers itself (the auth service): it is built first, with
    /// no [`Context::auth`], and every other service in the process uses the client its
    /// descriptor provides ([`Descriptor::authenticating`]) instead of calling a remote one.
    pub fn providing_auth(mut self) -> Self {
        self.provides_auth = true;
        self
    }

    /// The service's API document, served at `/docs` and printed by `temponest openapi`
    /// (the kit has it without building anything: [`crate::Kit::openapi`]).
    pub fn documented(mut self, openapi: Document) -> Self {
        self.openapi = Some(openapi);
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// What a service is built from: the process's shared handles.
#[derive(Clone)]
pub struct Context {
    pub pool: PgPool,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub platform: Arc<PlatformConfig>,
    pub(crate) auth: Option<AuthClient>,
}

impl Context {
    /// The client that authenticates callers: the auth service's own when it runs in this
    /// process, else one that asks the auth service at `auth_url`. The auth service itself
    /// has none.
    pub fn auth(&self) -> Result<AuthClient, StartupError> {
        self.auth.clone().ok_or_else(|| {
            StartupError::config("the auth service builds its own client (Plan::providing_auth)")
        })
    }
}

/// When a background engine stops, relative to the HTTP server draining its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopPhase {
    /// Before the server stops accepting: work that calls the platform's own API (the
    /// scheduler's runs finish while the agents API still answers).
    BeforeDrain,
    /// After the requests drained (or the drain timed out): work that requests feed or that
    /// requests wait on (deliveries of the events they published; executions still running).
    AfterDrain,
}

/// Background work of a service: started once the process listens, stopped at shutdown.
pub struct Engine {
    pub(crate) name: &'static str,
    pub(crate) phase: StopPhase,
    pub(crate) start: Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>,
}

impl Engine {
    /// `start` starts the work and returns the future that stops it gracefully (awaited at
    /// shutdown in `phase`; futures do nothing until awaited).
    pub fn new<F>(name: &'static str, phase: StopPhase, start: F) -> Self
    where
        F: FnOnce() -> BoxFuture<'static, ()> + Send + 'static,
    {
        Self {
            name,
            phase,
            start: Box::new(start),
        }
    }
}

/// A built service.
pub struct Descriptor {
    pub(crate) routes: Router,
    pub(crate) long_routes: &'static [&'static str],
    pub(crate) engines: Vec<Engine>,
    pub(crate) auth: Option<AuthClient>,
    pub(crate) state: Arc<dyn Any + Send + Sync>,
}

impl Descriptor {
    /// The service's routes (state applied, no shared layers) and its state (handed back to
    /// whoever composed it: [`crate::App::state`]).
    pub fn new<S: Any + Send + Sync>(routes: Router, state: S) -> Self {
        Self {
            routes,
            long_routes: &[],
            engines: Vec::new(),
            auth: None,
            state: Arc::new(state),
        }
    }

    /// Routes that wait on long work and get the long request timeout.
    pub fn long_routes(mut self, routes: &'static [&'static str]) -> Self {
        self.long_routes = routes;
        self
    }

    /// Adds a background engine.
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engines.push(engine);
        self
    }

    /// The client every service of the process authenticates callers with (only with
    /// [`Plan::providing_auth`]).
    pub fn authenticating(mut self, auth: AuthClient) -> Self {
        self.auth = Some(auth);
        self
    }
}
