//! The one way every suite starts the platform: the production composition
//! ([`temponest_platform::Kit`]) of the services a suite needs, on the test's own database
//! (from `#[sqlx::test]`, migrated), a Redis key prefix of its own, rate limits off unless the
//! test turns them on, and an HTTP listener on a free loopback port.
//!
//! ```ignore
//! let app = Harness::new(pool).await
//!     .spawn([temponest_auth::service(auth), temponest_agents::service(agents)])
//!     .await;
//! let state: temponest_agents::AppState = app.state();
//! ```

use std::any::Any;

use sqlx::PgPool;
use temponest_cache::{Cache, CacheConfig};
use temponest_platform::{App, Infrastructure, Kit, Plan, PlatformConfig, Running, StartupError};
use temponest_ratelimit::RateLimitConfig;
use tokio::net::TcpListener;

use crate::Api;

/// A platform about to start for one test.
pub struct Harness {
    pool: PgPool,
    listener: TcpListener,
    base: String,
    redis_url: Option<String>,
    limits: RateLimitConfig,
    platform: PlatformConfig,
}

impl Harness {
    /// Binds the listener (so the base URL is known before the services are configured) and
    /// prepares the platform settings: the process reaches itself at that address (remote
    /// auth clients, service tokens), Redis at `REDIS_URL`, rate limits off.
    pub async fn new(pool: PgPool) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("a bound address"));
        let platform = PlatformConfig {
            auth_url: base.clone(),
            ..PlatformConfig::default()
        };
        Self {
            pool,
            listener,
            base,
            redis_url: Some(redis_url()),
            limits: RateLimitConfig {
                enabled: false,
                ..RateLimitConfig::default()
            },
            platform,
        }
    }

    /// The address the platform will answer at.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Runs without Redis (in-process caches and limits only), or with Redis at `url`.
    pub fn redis(mut self, url: Option<String>) -> Self {
        self.redis_url = url;
        self
    }

    /// Rate limiting as configured (the services' route policies are added).
    pub fn rate_limits(mut self, limits: RateLimitConfig) -> Self {
        self.limits = limits;
        self
    }

    /// The platform settings to adjust before [`Harness::spawn`].
    pub fn platform(&mut self) -> &mut PlatformConfig {
        &mut self.platform
    }

    /// Composes `plans` exactly as a production process does and serves them.
    pub async fn spawn(self, plans: impl IntoIterator<Item = Plan>) -> Spawned {
        self.try_spawn(plans).await.expect("the services start")
    }

    /// [`Harness::spawn`], for tests of start-up failures.
    pub async fn try_spawn(
        self,
        plans: impl IntoIterator<Item = Plan>,
    ) -> Result<Spawned, StartupError> {
        let prefix = format!("test-{}", uuid::Uuid::new_v4());
        let cache = Cache::connect(CacheConfig {
            redis_url: self.redis_url.map(Into::into),
            key_prefix: prefix.clone(),
            ..CacheConfig::default()
        })
        .await;
        let kit = plans.into_iter().fold(Kit::new("test"), Kit::with);
        let mut limits = self.limits;
        limits.routes.extend(kit.rate_limit_routes());
        let infra = Infrastructure::assemble(self.pool.clone(), cache, limits, &kit.services());
        let mut app: App = kit.assemble(infra, self.platform).await?;
        let (router, server) = (app.router.clone(), app.server.clone());
        let listener = self.listener;
        tokio::spawn(async move {
            temponest_web::serve(listener, router, &server, std::future::pending()).await
        });
        let engines = app.start_engines();
        Ok(Spawned {
            api: Api::new(self.base),
            pool: self.pool,
            prefix,
            app,
            engines,
        })
    }
}

/// A platform serving one test.
pub struct Spawned {
    pub api: Api,
    pub pool: PgPool,
    /// The Redis key prefix of this platform's cache and limiter.
    pub prefix: String,
    pub app: App,
    /// The services' engines (started).
    pub engines: Running,
}

impl Spawned {
    /// The state of the service whose state type is `T`.
    pub fn state<T: Any + Clone>(&self) -> T {
        self.app
            .state::<T>()
            .unwrap_or_else(|| panic!("no service with state {}", std::any::type_name::<T>()))
    }
}

/// Redis for tests: `REDIS_URL`, else the local default.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}
