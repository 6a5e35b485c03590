//! Pooled Postgres access shared by every TempoNest service: pool construction from
//! configuration, embedded migrations (run under sqlx's advisory lock), readiness probing,
//! query timing and pool gauges, batched retention purges, the liveness of work-owning
//! instances and the handle of the engines that lease work, literal substring search
//! patterns, and classification of constraint violations so the web layer can map them to
//! 409/422 in one place.

mod config;
mod constraints;
mod engine;
pub mod instances;
mod listen;
mod metrics;
pub mod names;
mod pool;
mod resource;
pub mod retention;
mod search;

pub use config::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_DATABASE_URL, DbConfig, DbSettingError, PoolSettings,
};
pub use constraints::{ConstraintKind, ConstraintViolation, constraint_violation};
pub use engine::EngineHandle;
pub use listen::listen;
pub use metrics::{page_total, spawn_pool_gauges, timed};
pub use pool::{DbError, connect, connect_lazy, ensure_database, is_unavailable, migrate, ping};
pub use search::contains_pattern;

/// Migrations embedded from the workspace's `migrations/` directory.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

pub use sqlx::PgPool;
