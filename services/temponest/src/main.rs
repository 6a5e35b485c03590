//! `temponest`: the all-in-one server (every service in one process) and the admin CLI.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use temponest_agents::AgentsConfig;
use temponest_auth::AuthConfig;
use temponest_scheduler::SchedulerConfig;
use temponest_web::bootstrap::InfraSettings;
use temponest_webhooks::WebhooksConfig;

#[derive(Parser)]
#[command(
    name = "temponest",
    version,
    about = "TempoNest: a backend platform for running AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process (default ports 9000 and 9003).
    Serve {
        /// Ports to listen on; every port serves every route.
        #[arg(long = "port", env = "TEMPONEST_PORTS", value_delimiter = ',', default_values_t = [9000u16, 9003])]
        ports: Vec<u16>,
        #[arg(long, env = "BIND_ADDRESS", default_value = "0.0.0.0")]
        bind: String,
    },
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Operator commands.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Create a tenant; prints its id.
    CreateTenant {
        #[arg(long)]
        name: String,
    },
    /// Create a user in a tenant with a role; prints its id.
    CreateUser {
        #[arg(long)]
        tenant: uuid::Uuid,
        #[arg(long)]
        email: String,
        /// Read from TEMPONEST_USER_PASSWORD when omitted (keeps it out of shell history).
        #[arg(long, env = "TEMPONEST_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Create an API key for a user; prints the key once.
    CreateApiKey {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Retire the current signing key and start signing with a new one.
    RotateSigningKey,
}

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let config = AuthConfig::load().map_err(anyhow::Error::msg)?;
    let mut telemetry = temponest_telemetry::TelemetryConfig::from_env("temponest")?;
    if !matches!(cli.command, Command::Serve { .. }) {
        // Commands print their result on stdout; keep the log to warnings and errors.
        telemetry.default_filter = "warn".to_owned();
    }
    let _telemetry = temponest_telemetry::init(telemetry)?;
    match cli.command {
        Command::Serve { ports, bind } => serve(config, &bind, &ports).await,
        Command::Migrate => {
            let db = temponest_db::DbConfig::for_service("temponest", &config.database_url);
            temponest_db::ensure_database(&db).await?;
            let pool = temponest_db::connect(&db).await?;
            temponest_db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin(admin) => run_admin(config, admin).await,
    }
}

async fn serve(mut config: AuthConfig, bind: &str, ports: &[u16]) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let agents = AgentsConfig::load().map_err(anyhow::Error::msg)?;
    let webhooks = WebhooksConfig::load().map_err(anyhow::Error::msg)?;
    let scheduler = scheduler_config(&mut config, ports)?;
    let (app, server, runs, engine, scheduler) =
        all_in_one(config, agents, webhooks, scheduler).await?;
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut servers = Vec::new();
    for port in ports {
        let listener = tokio::net::TcpListener::bind((bind, *port))
            .await
            .with_context(|| format!("cannot listen on {bind}:{port}"))?;
        let mut stop = stop_tx.subscribe();
        let (app, server) = (app.clone(), server.clone());
        servers.push(tokio::spawn(async move {
            temponest_web::serve(listener, app, &server, async move {
                let _ = stop.recv().await;
            })
            .await
        }));
    }
    // The scheduler calls the agents API over HTTP: start firing once the ports listen.
    let scheduler = temponest_scheduler::domain::engine::start(scheduler);
    tracing::info!(
        ?ports,
        ready_in_ms = started.elapsed().as_millis() as u64,
        "temponest serving (services: auth, agents, scheduler, webhooks)"
    );
    temponest_web::shutdown_signal().await;
    // Stop firing first, while the agents API still answers the runs in flight: they finish
    // (or are released to the queue for the next start) before the ports close.
    scheduler.shutdown().await;
    let _ = stop_tx.send(());
    // Drain in-flight requests for up to 30 s, then stop the executions still running (their
    // requests and streams then finish, recorded as `interrupted` with what they had used).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut pending = Vec::new();
    for mut server in servers {
        match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(joined) => joined??,
            Err(_) => pending.push(server),
        }
    }
    if !pending.is_empty() {
        tracing::warn!("in-flight requests did not drain within 30 s; interrupting executions");
    }
    let left = runs.interrupt_all(Duration::from_secs(10)).await;
    if left > 0 {
        tracing::warn!(
            left,
            "executions still running at exit; another process's sweep will fail them"
        );
    }
    // Stop claiming deliveries; finish or release in-flight attempts.
    engine.shutdown().await;
    for server in pending {
        if let Ok(joined) = tokio::time::timeout(Duration::from_secs(5), server).await {
            joined??;
        }
    }
    Ok(())
}

/// The scheduler's configuration in the all-in-one process: it reaches auth and agents on
/// the first port it serves (unless `TEMPONEST_AGENTS_URL` / `TEMPONEST_AUTH_URL` say
/// otherwise), with a service identity generated at start-up when none is configured.
fn scheduler_config(auth: &mut AuthConfig, ports: &[u16]) -> anyhow::Result<SchedulerConfig> {
    let port = ports.first().copied().unwrap_or(9000);
    let mut config: SchedulerConfig = temponest_web::config::load(SchedulerConfig::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let local = format!("http://127.0.0.1:{port}");
    if std::env::var_os("TEMPONEST_AGENTS_URL").is_none() {
        config.agents_url = local.clone();
    }
    if std::env::var_os("TEMPONEST_AUTH_URL").is_none() {
        config.auth_url = local;
    }
    if config.service_client_secret.is_empty() {
        let bytes: [u8; 24] = rand::RngExt::random(&mut rand::rng());
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        config.service_client_secret = secret;
    }
    let entry = format!(
        "{}={}",
        config.service_client_id, config.service_client_secret
    );
    if !auth.service_clients.split(',').any(|e| e.trim() == entry) {
        auth.service_clients = if auth.service_clients.trim().is_empty() {
            entry
        } else {
            format!("{},{entry}", auth.service_clients)
        };
    }
    auth.validate().map_err(anyhow::Error::msg)?;
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// Every service on one router and one shared set of connections; the agents service
/// authenticates callers in process (same verifier and API-key resolver as auth).
async fn all_in_one(
    auth_config: AuthConfig,
    agents_config: AgentsConfig,
    webhooks_config: WebhooksConfig,
    scheduler_config: SchedulerConfig,
) -> anyhow::Result<(
    axum::Router,
    temponest_web::ServerConfig,
    temponest_agents::Runs,
    temponest_webhooks::Engine,
    temponest_scheduler::AppState,
)> {
    let mut routes = temponest_auth::rate_limit_routes(&auth_config);
    routes.extend(temponest_agents::rate_limit_routes(&agents_config));
    routes.extend(temponest_webhooks::rate_limit_routes(&webhooks_config));
    routes.extend(temponest_scheduler::rate_limit_routes(&scheduler_config));
    let infra = temponest_web::bootstrap::infrastructure(InfraSettings {
        pool_name: "temponest",
        services: &["auth", "agents", "scheduler", "webhooks"],
        database_url: &auth_config.database_url,
        redis_url: auth_config.redis(),
        key_prefix: &auth_config.redis_key_prefix,
        routes,
    })
    .await?;
    let idempotency = temponest_idempotency::Idempotency::new(infra.pool.clone())
        .trusting_forwarded_for(infra.limiter.config().trust_forwarded_for);
    idempotency.spawn_cleanup();
    let auth = temponest_auth::AppState::build(
        auth_config,
        infra.pool.clone(),
        infra.cache.clone(),
        infra.limiter.clone(),
    )
    .await?;
    let agents = temponest_agents::AppState::build(
        agents_config,
        infra.pool.clone(),
        infra.cache.clone(),
        infra.limiter.clone(),
        auth.auth.clone(),
    )?;
    let webhooks = temponest_webhooks::AppState::build(
        webhooks_config,
        infra.pool.clone(),
        infra.cache.clone(),
        infra.limiter.clone(),
        auth.auth.clone(),
    )?;
    let scheduler = temponest_scheduler::AppState::build(
        scheduler_config,
        infra.pool.clone(),
        infra.cache.clone(),
        infra.limiter.clone(),
        auth.auth.clone(),
    )?;
    let engine = temponest_webhooks::domain::engine::start(webhooks.clone());
    let server = auth.config.server.clone();
    let runs = agents.runs.clone();
    let mut openapi = temponest_auth::openapi();
    openapi.merge(temponest_agents::openapi());
    openapi.merge(temponest_webhooks::openapi());
    openapi.merge(temponest_scheduler::openapi());
    openapi.info.title = "TempoNest".to_owned();
    let router = temponest_auth::routes(auth.clone())
        .merge(temponest_agents::routes(agents))
        .merge(temponest_webhooks::routes(webhooks))
        .merge(temponest_scheduler::routes(scheduler.clone()));
    let router = temponest_idempotency::layer(router, idempotency)
        .merge(infra.health.router())
        .merge(temponest_web::docs::router(openapi));
    let router = temponest_auth_client::protect(router, auth.auth.clone(), infra.limiter.clone());
    Ok((
        temponest_web::server::with_route_layers_and_long(
            router,
            &server,
            temponest_agents::LONG_ROUTES,
        ),
        server,
        runs,
        engine,
        scheduler,
    ))
}

async fn run_admin(config: AuthConfig, admin: Admin) -> anyhow::Result<()> {
    let db = temponest_db::DbConfig::for_service("temponest", &config.database_url);
    temponest_db::ensure_database(&db).await?;
    let pool = temponest_db::connect(&db).await?;
    temponest_db::migrate(&pool).await?;
    match admin {
        Admin::CreateTenant { name } => {
            println!(
                "{}",
                temponest_auth::admin::create_tenant(&pool, &name)
                    .await
                    .map_err(anyhow::Error::msg)?
            );
        }
        Admin::CreateUser {
            tenant,
            email,
            password,
            role,
        } => {
            let hasher = temponest_auth::domain::password::PasswordHasher::new(
                config.argon2_memory_kib,
                config.argon2_iterations,
                config.argon2_parallelism,
                1,
                Duration::from_secs(30),
            )
            .map_err(anyhow::Error::msg)?;
            let id = temponest_auth::admin::create_user(
                &pool,
                &hasher,
                tenant,
                &email,
                &password,
                &[role],
            )
            .await
            .map_err(anyhow::Error::msg)?;
            println!("{id}");
        }
        Admin::CreateApiKey {
            email,
            name,
            scopes,
        } => {
            println!(
                "{}",
                temponest_auth::admin::create_api_key(&pool, &email, &name, &scopes)
                    .await
                    .map_err(anyhow::Error::msg)?
            );
        }
        Admin::RotateSigningKey => {
            let sealer =
                temponest_sealing::Sealer::new(&config.secret_key.0, &config.previous_secret_key.0)
                    .map_err(|e| anyhow::anyhow!("TEMPONEST_SECRET_KEY: {e}"))?;
            let keys = temponest_auth::domain::signing::SigningKeys::load(
                pool.clone(),
                Duration::from_secs(config.access_token_ttl_secs as u64),
                std::sync::Arc::new(sealer),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.detail))?;
            println!(
                "now signing with {}",
                keys.rotate().await.map_err(|e| anyhow::anyhow!(e.detail))?
            );
        }
    }
    Ok(())
}
