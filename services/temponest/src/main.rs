//! `temponest`: the all-in-one server (every service in one process), the admin CLI, and the
//! platform's command-line client (every other subcommand; see `client`).

mod client;
mod local_postgres;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use temponest_auth::AuthConfig;
use temponest_platform::{Kit, Layers, PlatformConfig, Settings};
use temponest_scheduler::SchedulerConfig;

#[derive(Parser)]
#[command(
    name = "temponest",
    version,
    about = "TempoNest: a backend platform for running AI agents",
    after_help = "Run the platform with `temponest serve`; every other command talks to a running \
platform over its HTTP API.

Examples:
  temponest login --email ada@example.com
  temponest agents create --name helper --provider echo --model echo-1
  temponest run helper 'hello'
  temponest status

Exit codes: 0 ok, 1 API error or failed execution, 2 usage error, 3 not logged in."
)]
struct Cli {
    #[command(flatten)]
    global: client::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process (default ports 9000 and 9003).
    Serve {
        /// Ports to listen on; every port serves every route [default: the configuration's
        /// server.ports (TEMPONEST_PORTS), 9000,9003]
        #[arg(long = "port", value_delimiter = ',')]
        ports: Vec<u16>,
        /// Address to listen on [default: the configuration's server.bind_address
        /// (BIND_ADDRESS), 0.0.0.0]
        #[arg(long)]
        bind: Option<String>,
    },
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Operator commands.
    #[command(subcommand)]
    Admin(Admin),
    /// Print a shell completion script
    #[command(after_help = "Examples:
  temponest completions bash > ~/.local/share/bash-completion/completions/temponest
  temponest completions zsh > \"${fpath[1]}/_temponest\"
  temponest completions fish > ~/.config/fish/completions/temponest.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the platform's OpenAPI document (every service's, merged: what `serve` serves at
    /// /openapi.json), for client generators and for publishing next to an edge proxy.
    Openapi,
    #[command(flatten)]
    Client(Box<client::ClientCommand>),
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Client(command) => {
            std::process::exit(client::run(cli.global, *command).await.into());
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "temponest",
                &mut std::io::stdout(),
            );
            return Ok(());
        }
        server => server,
    };
    let layers = Layers::load();
    let platform: PlatformConfig = layers.settings()?;
    let auth: AuthConfig = layers.settings()?;
    let mut telemetry = platform.telemetry.config("temponest")?;
    if !matches!(command, Command::Serve { .. }) {
        // Commands print their result on stdout; keep the log to warnings and errors.
        telemetry.default_filter = "warn".to_owned();
    }
    let _telemetry = temponest_telemetry::init(telemetry)?;
    match command {
        Command::Serve { ports, bind } => {
            let bind = bind.unwrap_or_else(|| platform.server.bind_address.clone());
            let ports = match ports.is_empty() {
                true => platform.server.ports.clone(),
                false => ports,
            };
            anyhow::ensure!(
                !ports.is_empty(),
                "TEMPONEST_PORTS (server.ports) names no port"
            );
            serve(&layers, platform, auth, &bind, &ports).await
        }
        Command::Migrate => {
            migrated_pool(&platform).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin(admin) => run_admin(platform, auth, admin).await,
        Command::Openapi => {
            // What `serve` serves: the kit's documents in its order, with the errors the
            // shared stack answers. Nothing is connected.
            let ports = platform.server.ports.clone();
            let kit = all_in_one(&layers, &mut platform.clone(), auth, &ports)?;
            let mut document = kit.openapi().context("no service documents")?;
            temponest_web::docs::document_errors(&mut document);
            println!("{}", document.to_pretty_json()?);
            Ok(())
        }
        Command::Completions { .. } | Command::Client(_) => {
            unreachable!("handled above")
        }
    }
}

/// Every service in one process, on one router and one shared set of connections; the other
/// services authenticate callers in process through the auth service's client.
async fn serve(
    layers: &Layers,
    mut platform: PlatformConfig,
    auth: AuthConfig,
    bind: &str,
    ports: &[u16],
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let postgres = local_postgres::LocalPostgres::start_if_needed(
        &mut platform,
        local_postgres::Mode::from_env()?,
    )?;
    let kit = all_in_one(layers, &mut platform, auth, ports)?;
    layers.check_unknown()?;
    let services = kit.services();
    let app = kit.connect(platform).await?;
    let mut listeners = Vec::new();
    for port in ports {
        listeners.push(
            tokio::net::TcpListener::bind((bind, *port))
                .await
                .with_context(|| format!("cannot listen on {bind}:{port}"))?,
        );
    }
    tracing::info!(
        ?ports,
        ?services,
        ready_in_ms = started.elapsed().as_millis() as u64,
        "temponest serving"
    );
    let served = app.serve(listeners, temponest_web::shutdown_signal()).await;
    if let Some(postgres) = postgres {
        postgres.stop();
    }
    served?;
    Ok(())
}

/// Every service of the all-in-one process, in order (the one providing authentication
/// first): what `serve` runs and `openapi` documents. A new service is one line here.
fn all_in_one(
    layers: &Layers,
    platform: &mut PlatformConfig,
    mut auth: AuthConfig,
    ports: &[u16],
) -> anyhow::Result<Kit> {
    let scheduler = scheduler_config(layers, platform, &mut auth, ports)?;
    let agents = agents_config(layers, &mut auth, ports)?;
    Ok(Kit::new("temponest")
        .with(temponest_auth::service(auth))
        .with(temponest_agents::service(agents))
        .with(temponest_webhooks::service(layers.settings()?))
        .with(temponest_knowledge::service(layers.settings()?))
        .with(temponest_scheduler::service(scheduler))
        .with(temponest_console::service(console_config(layers, ports)?)))
}

/// The scheduler's configuration in the all-in-one process: it reaches auth and agents on
/// the first port it serves (unless `agents_url` / `auth_url` are configured, in the file or
/// as `TEMPONEST_AGENTS_URL` / `TEMPONEST_AUTH_URL`), with a service identity generated at start-up when none is configured.
fn scheduler_config(
    layers: &Layers,
    platform: &mut PlatformConfig,
    auth: &mut AuthConfig,
    ports: &[u16],
) -> anyhow::Result<SchedulerConfig> {
    let port = ports.first().copied().unwrap_or(9000);
    let mut config: SchedulerConfig = layers.unchecked()?;
    let local = format!("http://127.0.0.1:{port}");
    if !layers.is_set("agents_url") {
        config.agents_url = local.clone();
    }
    if !layers.is_set("auth_url") {
        platform.auth_url = local;
    }
    if config.service_client_secret.expose().is_empty() {
        config.service_client_secret = generated_secret().into();
    }
    add_service_client(
        auth,
        &config.service_client_id,
        config.service_client_secret.expose(),
    );
    auth.validate()?;
    config.validate()?;
    Ok(config)
}

/// The agents service's configuration in the all-in-one process: it reaches the knowledge
/// service (for `knowledge_search` and to check agents' collections) on the first port it
/// serves (unless `knowledge_url` is configured: file or `TEMPONEST_KNOWLEDGE_URL`), with the `agents` service
/// identity generated at start-up when no secret is configured. Call after
/// [`scheduler_config`], which points the platform's auth URL at this process.
fn agents_config(
    layers: &Layers,
    auth: &mut AuthConfig,
    ports: &[u16],
) -> anyhow::Result<temponest_agents::AgentsConfig> {
    let port = ports.first().copied().unwrap_or(9000);
    let mut config: temponest_agents::AgentsConfig = layers.unchecked()?;
    if !layers.is_set("knowledge_url") {
        config.knowledge_url = format!("http://127.0.0.1:{port}");
    }
    if config.service_client_secret.expose().is_empty() {
        config.service_client_secret = generated_secret().into();
    }
    add_service_client(
        auth,
        temponest_agents::config::SERVICE_CLIENT_ID,
        config.service_client_secret.expose(),
    );
    auth.validate()?;
    config.validate()?;
    Ok(config)
}

/// The console's configuration in the all-in-one process: it calls the API on the first
/// port it serves (unless `console_api_url` is configured: file or
/// `TEMPONEST_CONSOLE_API_URL`).
fn console_config(
    layers: &Layers,
    ports: &[u16],
) -> anyhow::Result<temponest_console::ConsoleConfig> {
    let mut config: temponest_console::ConsoleConfig = layers.unchecked()?;
    if !layers.is_set("console_api_url") {
        let port = ports.first().copied().unwrap_or(9000);
        config.api_url = format!("http://127.0.0.1:{port}");
    }
    config.validate()?;
    Ok(config)
}

/// A random service-client secret (48 hex digits), for identities used only in this process.
fn generated_secret() -> String {
    let bytes: [u8; 24] = rand::RngExt::random(&mut rand::rng());
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds `id=secret` to the auth service's `service_clients` unless it is there.
fn add_service_client(auth: &mut AuthConfig, id: &str, secret: &str) {
    let entry = format!("{id}={secret}");
    if !auth.service_clients.split(',').any(|e| e.trim() == entry) {
        auth.service_clients = if auth.service_clients.trim().is_empty() {
            entry
        } else {
            format!("{},{entry}", auth.service_clients)
        };
    }
}

/// The platform's database, created if needed and migrated.
async fn migrated_pool(platform: &PlatformConfig) -> anyhow::Result<sqlx::PgPool> {
    let db = temponest_db::DbConfig::for_service("temponest", platform.database_url.expose())
        .with_settings(&platform.database)?;
    temponest_db::ensure_database(&db).await?;
    let pool = temponest_db::connect(&db).await?;
    temponest_db::migrate(&pool).await?;
    Ok(pool)
}

async fn run_admin(
    platform: PlatformConfig,
    config: AuthConfig,
    admin: Admin,
) -> anyhow::Result<()> {
    let pool = migrated_pool(&platform).await?;
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
            let hasher = temponest_auth::state::password_hasher(&config)?;
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
            let kid = temponest_auth::state::rotate_signing_key(pool, &config).await?;
            println!("now signing with {kid}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
