//! The webhooks service on its own (port 9004); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`. The dispatcher and sender run in the same process
//! (`TEMPONEST_WEBHOOKS__RUN_ENGINE=false` serves the API only).

use temponest_webhooks::WebhooksConfig;

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = WebhooksConfig::load().map_err(anyhow::Error::msg)?;
    let _telemetry =
        temponest_telemetry::init(temponest_telemetry::TelemetryConfig::from_env("webhooks")?)?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(9004);
    let (app, server, engine) =
        temponest_webhooks::launch(config, "webhooks", &["webhooks"]).await?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    tracing::info!(port, "webhooks service listening");
    temponest_web::serve(listener, app, &server, temponest_web::shutdown_signal()).await?;
    // Requests have drained: stop claiming, finish or release in-flight attempts.
    engine.shutdown().await;
    Ok(())
}
