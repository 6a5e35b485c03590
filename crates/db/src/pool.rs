//! Building the pool, creating the database when missing, running migrations and probing
//! readiness.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool, Postgres};

use crate::DbConfig;

/// Errors raised while preparing the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid DATABASE_URL: {0}")]
    InvalidUrl(String),
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

fn connect_options(config: &DbConfig) -> Result<PgConnectOptions, DbError> {
    let statement_timeout = config.statement_timeout.as_millis().to_string();
    let options = PgConnectOptions::from_str(config.url.expose())
        .map_err(|e| DbError::InvalidUrl(e.to_string()))?
        .application_name(&format!("temponest-{}", config.pool_name))
        .options([("statement_timeout", statement_timeout.as_str())])
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(
            tracing::log::LevelFilter::Warn,
            config.slow_statement_threshold,
        );
    Ok(options)
}

/// A connection idle for longer than this is pinged before it is handed out (one that was in
/// use a moment ago is not: under load, a ping per checkout would be a round trip per query).
const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

fn pool_options(config: &DbConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .min_connections(config.min_connections)
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(Some(config.idle_timeout))
        .max_lifetime(Some(config.max_lifetime))
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
}

/// Creates the configured database if it does not exist yet (developer machines start with
/// only the `postgres` database).
pub async fn ensure_database(config: &DbConfig) -> Result<(), DbError> {
    let exists = Postgres::database_exists(config.url.expose())
        .await
        .map_err(DbError::Unavailable)?;
    if !exists {
        tracing::info!(pool = %config.pool_name, "creating database");
        if let Err(err) = Postgres::create_database(config.url.expose()).await {
            // Another replica may have created it in the meantime.
            if !Postgres::database_exists(config.url.expose())
                .await
                .map_err(DbError::Unavailable)?
            {
                return Err(DbError::Unavailable(err));
            }
        }
    }
    Ok(())
}

/// Connects eagerly: fails when Postgres is unreachable.
pub async fn connect(config: &DbConfig) -> Result<PgPool, DbError> {
    pool_options(config)
        .connect_with(connect_options(config)?)
        .await
        .map_err(DbError::Unavailable)
}

/// Builds the pool without connecting, so a service can start (and report not-ready) while
/// Postgres is still coming up; connections are opened on first use and re-opened after an
/// outage without a restart.
pub fn connect_lazy(config: &DbConfig) -> Result<PgPool, DbError> {
    Ok(pool_options(config).connect_lazy_with(connect_options(config)?))
}

/// Applies the embedded migrations. sqlx takes a Postgres advisory lock for the duration, so
/// concurrent replicas starting together apply each migration exactly once.
///
/// Migrations a newer release applied and this binary does not know are tolerated, so the
/// previous release starts again on a migrated database after a rollback (and an old replica
/// restarting mid-rollout comes back): migrations are additive by rule (see
/// `docs/runbooks/upgrades-and-rollback.md`). Known migrations are still checked against
/// their checksums.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    tolerant_migrator().run(pool).await?;
    Ok(())
}

/// [`crate::MIGRATOR`] with `ignore_missing` set (`sqlx::migrate!` cannot set it; the fields
/// are the vendored sqlx-core 0.9.0's).
fn tolerant_migrator() -> sqlx::migrate::Migrator {
    let embedded = &crate::MIGRATOR;
    sqlx::migrate::Migrator {
        migrations: embedded.migrations.clone(),
        ignore_missing: true,
        locking: embedded.locking,
        no_tx: embedded.no_tx,
        table_name: embedded.table_name.clone(),
        create_schemas: embedded.create_schemas.clone(),
    }
}

/// Readiness probe: `SELECT 1` within a short deadline.
pub async fn ping(pool: &PgPool) -> bool {
    let probe = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool);
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Ok(1))
    )
}

/// True when the error means the database could not be reached or the pool is exhausted,
/// which the web layer reports as 503 rather than 500. A protocol error counts too: it is
/// what sqlx reports when a server (or proxy) drops the connection during the handshake.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
    ) || matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57P03" || c == "57014"))
}
