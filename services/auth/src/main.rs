//! The auth service on its own (port 9002).

use temponest_auth::AuthConfig;

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = AuthConfig::load().map_err(anyhow::Error::msg)?;
    let _telemetry =
        temponest_telemetry::init(temponest_telemetry::TelemetryConfig::from_env("auth")?)?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(9002);
    let (app, server) = temponest_auth::launch(config, "auth", &["auth"]).await?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    tracing::info!(port, "auth service listening");
    temponest_web::serve(listener, app, &server, temponest_web::shutdown_signal()).await?;
    Ok(())
}
