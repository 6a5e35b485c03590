//! The service kit: how every TempoNest process and test suite is put together.
//!
//! - [`config`]: layered configuration (defaults → TOML file → environment, [`environment`])
//!   read once per process; [`PlatformConfig`] for what every process shares (with its
//!   [`sections`]), [`Settings`] for a service's own section.
//! - [`infra`]: the shared infrastructure (Postgres pool, two-tier cache, rate limiter,
//!   health), built once.
//! - [`service`]: what a service hands the kit — a [`Plan`] that builds a [`Descriptor`]
//!   (routes, OpenAPI, long-running routes, background [`Engine`]s).
//! - [`compose`]: any set of plans on one infrastructure becomes one [`App`], served with
//!   graceful shutdown.
//! - [`process`]: the `main` of a single-service binary.
//! - [`access`]: the route extractor that carries the caller, the permission the route needs
//!   and the request's input ([`access::Allowed`]).
//! - [`api_table`]: a service's router and OpenAPI document from one table of routes.
//!
//! Each service binary, the all-in-one `temponest serve` and the test harness
//! (`temponest_test_client::harness`) go through [`Kit`]; `docs/architecture.md` shows how to
//! add a service.

pub mod access;
pub mod api_table;
pub mod compose;
pub mod config;
pub mod environment;
pub mod infra;
pub mod known;
pub mod process;
pub mod sections;
pub mod service;

pub use compose::{App, Kit, Running};

/// Every binary (all of them link this crate) uses mimalloc: musl's allocator serialises a
/// multi-threaded server, and glibc's malloc and free were 15-20 % of a request's CPU time
/// (docs/performance.md, issue 19).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use config::{ConfigError, Layers, PlatformConfig, Settings};
pub use infra::Infrastructure;
pub use service::{Context, Descriptor, Engine, Plan, StopPhase};
pub use temponest_secrets::{Secret, SecretUrl};

/// A process that cannot start; retrying will not help (bad configuration, failed migration).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] temponest_db::DbError),
    #[error("{0} service: {1}")]
    Service(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
}

impl StartupError {
    /// A configuration problem; `message` names the setting.
    pub fn config(message: impl std::fmt::Display) -> Self {
        Self::Config(ConfigError::invalid(message))
    }
}

/// Serving failed (a listener's accept loop, or a server task that panicked).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    #[error("server task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[doc(hidden)]
pub mod __private {
    pub use axum::extract::FromRef;
    pub use sqlx::PgPool;
    pub use temponest_auth_client::AuthClient;
    pub use temponest_cache::Cache;
    pub use temponest_ratelimit::RateLimiter;
}

/// Declares a service's `AppState`: one `Arc` (cloned for every request by axum's `State`)
/// over a fields struct holding the process's shared handles every service holds — `pool`,
/// `cache`, `limiter` and `auth`, the client that authenticates its callers — then the
/// service's own fields. The state dereferences to its fields, converts from them, and has
/// the `FromRef` impls of [`shared_handles!`]. [`with_shared!`] builds it from the
/// [`Context`].
///
/// ```ignore
/// temponest_platform::service_state! {
///     /// Everything handlers need; cheap to clone.
///     pub struct AppState => AppStateFields {
///         pub config: Arc<WebhooksConfig>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! service_state {
    ($(#[$attr:meta])* $vis:vis struct $name:ident => $fields_name:ident { $($fields:tt)* }) => {
        $(#[$attr])*
        #[derive(Clone)]
        $vis struct $name(::std::sync::Arc<$fields_name>);

        /// The fields of the state (see the state's documentation).
        #[derive(Clone)]
        $vis struct $fields_name {
            pub pool: $crate::__private::PgPool,
            pub cache: $crate::__private::Cache,
            pub limiter: $crate::__private::RateLimiter,
            pub auth: $crate::__private::AuthClient,
            $($fields)*
        }

        impl ::std::ops::Deref for $name {
            type Target = $fields_name;

            fn deref(&self) -> &$fields_name {
                &self.0
            }
        }

        impl $name {
            /// A copy of the fields, to build a variant of the state (tests run an engine on
            /// a pool they can cut, or with another key): `AppState::from(AppStateFields {
            /// pool, ..state.to_fields() })`.
            pub fn to_fields(&self) -> $fields_name {
                $fields_name::clone(&self.0)
            }
        }

        impl ::std::convert::From<$fields_name> for $name {
            fn from(fields: $fields_name) -> Self {
                Self(::std::sync::Arc::new(fields))
            }
        }

        $crate::shared_handles!($name);
    };
}

/// A state declared with [`service_state!`], its shared handles taken from `context` (a
/// [`Context`]) and its own fields as given: `with_shared!(context, AppStateFields { config,
/// .. })`, converted into the state. Evaluates `context.auth()?`, so it is used in a function
/// returning `Result<_, StartupError>`.
#[macro_export]
macro_rules! with_shared {
    ($context:expr, $name:ident { $($fields:tt)* }) => {{
        let context: &$crate::Context = $context;
        ::std::convert::From::from($name {
            pool: context.pool.clone(),
            cache: context.cache.clone(),
            limiter: context.limiter.clone(),
            auth: context.auth()?,
            $($fields)*
        })
    }};
}

/// Lets handlers of a service whose state has `auth: AuthClient` and `limiter: RateLimiter`
/// fields extract those (`State<AuthClient>`, the principal extractors, rate-limit checks).
#[macro_export]
macro_rules! shared_handles {
    ($state:ty) => {
        impl $crate::__private::FromRef<$state> for $crate::__private::AuthClient {
            fn from_ref(state: &$state) -> Self {
                state.auth.clone()
            }
        }

        impl $crate::__private::FromRef<$state> for $crate::__private::RateLimiter {
            fn from_ref(state: &$state) -> Self {
                state.limiter.clone()
            }
        }
    };
}
