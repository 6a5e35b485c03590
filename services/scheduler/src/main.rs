//! The scheduler service on its own (port 9003); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`, runs go to the agents service at `TEMPONEST_AGENTS_URL`
//! with the service identity `TEMPONEST_SERVICE_CLIENT_SECRET`. The engine runs in the same
//! process (`TEMPONEST_SCHEDULER__RUN_ENGINE=false` serves the API only).

use temponest_scheduler::SchedulerConfig;

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = SchedulerConfig::load().map_err(anyhow::Error::msg)?;
    let _telemetry =
        temponest_telemetry::init(temponest_telemetry::TelemetryConfig::from_env("scheduler")?)?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(9003);
    let (app, server, engine) =
        temponest_scheduler::launch(config, "scheduler", &["scheduler"]).await?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    tracing::info!(port, "scheduler service listening");
    temponest_web::serve(listener, app, &server, temponest_web::shutdown_signal()).await?;
    // Requests have drained: stop firing, finish or release running executions.
    engine.shutdown().await;
    Ok(())
}
