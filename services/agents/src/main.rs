//! The agents service on its own (port 9000); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`.

use temponest_agents::AgentsConfig;

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = AgentsConfig::load().map_err(anyhow::Error::msg)?;
    let _telemetry =
        temponest_telemetry::init(temponest_telemetry::TelemetryConfig::from_env("agents")?)?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(9000);
    let (app, server, runs) = temponest_agents::launch(config, "agents", &["agents"]).await?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    tracing::info!(port, "agents service listening");
    temponest_web::serve(listener, app, &server, temponest_web::shutdown_signal()).await?;
    // Requests have drained; executions still running are recorded as interrupted.
    let left = runs.interrupt_all(std::time::Duration::from_secs(10)).await;
    if left > 0 {
        tracing::warn!(
            left,
            "executions still running at exit; the survivors' sweep will fail them"
        );
    }
    Ok(())
}
