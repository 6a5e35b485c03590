//! Composition: any set of [`Plan`]s on one [`Infrastructure`] becomes one [`App`] — one
//! router with the shared layers, one OpenAPI document, the engines — and [`App::serve`] runs
//! it on any number of listeners with the platform's graceful shutdown.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::future::BoxFuture;
use temponest_auth_client::{AuthClient, ProtectLayer};
use temponest_idempotency::{Idempotency, IdempotencyLayer};
use temponest_ratelimit::RoutePolicy;
use temponest_web::ServerConfig;
use temponest_web::health::Health;
use tokio::net::TcpListener;

use crate::config::PlatformConfig;
use crate::infra::Infrastructure;
use crate::service::{Context, Engine, Plan, StopPhase};
use crate::{ServeError, StartupError};

/// How long in-flight requests may take to drain at shutdown before the engines that stop
/// after the drain are stopped anyway.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests still running after that get before the process exits.
const LAST_CALL: Duration = Duration::from_secs(5);

/// The services one process runs, in order (the one providing authentication first).
pub struct Kit {
    name: &'static str,
    plans: Vec<Plan>,
}

impl Kit {
    /// `name` names the process (pool sizes and metric labels).
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            plans: Vec::new(),
        }
    }

    pub fn with(mut self, plan: Plan) -> Self {
        self.plans.push(plan);
        self
    }

    /// The names of the services, in order.
    pub fn services(&self) -> Vec<&'static str> {
        self.plans.iter().map(|p| p.name).collect()
    }

    /// The process's API document: every documented service's, merged in order (`None` when
    /// no service has one). Nothing is built or connected.
    pub fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        merged_openapi(
            self.plans
                .iter()
                .filter_map(|p| p.openapi)
                .map(|document| document()),
        )
    }

    /// Every service's rate-limit policies.
    pub fn rate_limit_routes(&self) -> Vec<RoutePolicy> {
        self.plans
            .iter()
            .flat_map(|p| p.rate_limits.iter().cloned())
            .collect()
    }

    /// Connects the infrastructure from `platform` and builds every service on it.
    pub async fn connect(self, platform: PlatformConfig) -> Result<App, StartupError> {
        let infra = Infrastructure::connect(
            &platform,
            self.name,
            &self.services(),
            self.rate_limit_routes(),
        )
        .await?;
        self.assemble(infra, platform).await
    }

    /// Builds every service on `infra` and composes them (the kit's rate-limit routes must
    /// already be in `infra`'s limiter: [`Kit::rate_limit_routes`]).
    pub async fn assemble(
        self,
        infra: Infrastructure,
        platform: PlatformConfig,
    ) -> Result<App, StartupError> {
        if let Some(late) = self.plans.iter().skip(1).find(|p| p.provides_auth) {
            return Err(StartupError::config(format!(
                "{} authenticates callers for the others and must come first",
                late.name
            )));
        }
        let platform = Arc::new(platform);
        let openapi = self
            .openapi()
            .unwrap_or_else(|| utoipa::openapi::OpenApiBuilder::new().build());
        let mut auth: Option<AuthClient> = None;
        let mut router = Router::new();
        let mut long_routes = Vec::new();
        let mut engines = vec![idempotency_cleanup(&infra)];
        let mut states = Vec::new();
        for plan in self.plans {
            if auth.is_none() && !plan.provides_auth {
                auth = Some(
                    AuthClient::remote(&platform.auth_url, infra.cache.clone())
                        .map_err(|e| StartupError::config(format!("TEMPONEST_AUTH_URL: {e}")))?,
                );
            }
            let context = Context {
                pool: infra.pool.clone(),
                cache: infra.cache.clone(),
                limiter: infra.limiter.clone(),
                platform: Arc::clone(&platform),
                auth: auth.clone(),
            };
            let built = (plan.build)(context).await?;
            if plan.provides_auth {
                auth = Some(built.auth.ok_or_else(|| {
                    StartupError::config(format!("{} provides no auth client", plan.name))
                })?);
            }
            router = router.merge(built.routes);
            long_routes.extend_from_slice(built.long_routes);
            engines.extend(built.engines);
            states.push(built.state);
        }
        let Some(auth) = auth else {
            return Err(StartupError::config("a process needs at least one service"));
        };
        let idempotency = Idempotency::new(infra.pool.clone())
            .trusting_forwarded_for(infra.limiter.config().trust_forwarded_for);
        let router =
            router
                .merge(infra.health.router())
                .merge(temponest_web::docs::router_offering(
                    openapi,
                    &crate::sections::docs_urls(&platform.docs_urls)?,
                ));
        // Authentication and rate limiting, then idempotency (which keys on the caller), in
        // the one route layer that also holds the trace span, metrics and timeout.
        let router = temponest_web::server::with_route_layers_around(
            router,
            &platform.server,
            long_routes,
            tower::ServiceBuilder::new()
                .layer(ProtectLayer::new(auth, infra.limiter.clone()))
                .layer(IdempotencyLayer::new(idempotency)),
        );
        Ok(App {
            router,
            server: platform.server.clone(),
            health: infra.health,
            engines,
            states,
        })
    }
}

/// The one document of a process's services, in their order: the first one's with every
/// other's paths, schemas and tags merged in, titled "TempoNest" when it spans several
/// (`temponest openapi` prints the all-in-one's without starting it).
pub fn merged_openapi(
    documents: impl IntoIterator<Item = utoipa::openapi::OpenApi>,
) -> Option<utoipa::openapi::OpenApi> {
    let mut documents = documents.into_iter();
    let mut merged = documents.next()?;
    let mut several = false;
    for document in documents {
        merged.merge(document);
        several = true;
    }
    if several {
        merged.info.title = "TempoNest".to_owned();
    }
    Some(merged)
}

/// Expired idempotency records are deleted in the background of every process.
fn idempotency_cleanup(infra: &Infrastructure) -> Engine {
    let idempotency = Idempotency::new(infra.pool.clone());
    Engine::new("idempotency cleanup", StopPhase::AfterDrain, move || {
        let task = idempotency.spawn_cleanup();
        Box::pin(async move { task.abort() })
    })
}

/// A composed process: the router with every layer, its server settings, health and the
/// engines (not yet started).
pub struct App {
    pub router: Router,
    pub server: ServerConfig,
    pub health: Health,
    engines: Vec<Engine>,
    states: Vec<Arc<dyn Any + Send + Sync>>,
}

impl App {
    /// A service's state (e.g. `temponest_agents::AppState`), if a service of this app has
    /// that state type.
    pub fn state<T: Any + Clone>(&self) -> Option<T> {
        self.states
            .iter()
            .find_map(|s| s.downcast_ref::<T>())
            .cloned()
    }

    /// Starts every engine; the handle stops them.
    pub fn start_engines(&mut self) -> Running {
        let mut running = Running::default();
        for engine in self.engines.drain(..) {
            tracing::debug!(engine = engine.name, "starting");
            let stop = (engine.start)();
            running.stops.push((engine.name, engine.phase, stop));
        }
        running
    }

    /// Serves on every listener until `shutdown` resolves, with the engines started once the
    /// listeners are bound. Shutdown: the engines that call the platform's own API stop
    /// first, the listeners stop accepting, in-flight requests drain for up to
    /// [`DRAIN_TIMEOUT`], then the remaining engines stop (interrupting executions still
    /// running, so their requests and streams finish) and stragglers get a last 5 s.
    pub async fn serve(
        mut self,
        listeners: Vec<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut servers = Vec::new();
        for listener in listeners {
            let mut stop = stop_tx.subscribe();
            let (router, server) = (self.router.clone(), self.server.clone());
            servers.push(tokio::spawn(async move {
                temponest_web::serve(listener, router, &server, async move {
                    let _ = stop.recv().await;
                })
                .await
            }));
        }
        let mut running = self.start_engines();
        shutdown.await;
        running.stop(StopPhase::BeforeDrain).await;
        let _ = stop_tx.send(());
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let mut pending = Vec::new();
        for mut server in servers {
            match tokio::time::timeout_at(deadline, &mut server).await {
                Ok(joined) => joined??,
                Err(_) => pending.push(server),
            }
        }
        if !pending.is_empty() {
            tracing::warn!("in-flight requests did not drain in time; stopping the engines");
        }
        running.stop(StopPhase::AfterDrain).await;
        for server in pending {
            if let Ok(joined) = tokio::time::timeout(LAST_CALL, server).await {
                joined??;
            }
        }
        Ok(())
    }
}

/// Started engines.
#[derive(Default)]
pub struct Running {
    stops: Vec<(&'static str, StopPhase, BoxFuture<'static, ()>)>,
}

impl Running {
    /// Stops, in start order, the engines of `phase`.
    pub async fn stop(&mut self, phase: StopPhase) {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.stops)
            .into_iter()
            .partition(|(_, p, _)| *p == phase);
        self.stops = later;
        for (name, _, stop) in now {
            tracing::debug!(engine = name, "stopping");
            stop.await;
        }
    }
}
