//! The agents service on its own (port 9000); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`.

use std::time::Duration;

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
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut serving = tokio::spawn(async move {
        temponest_web::serve(listener, app, &server, async move {
            let _ = stopped.await;
        })
        .await
    });
    temponest_web::shutdown_signal().await;
    let _ = stop.send(());
    // Drain in-flight requests for up to 30 s; then stop the executions still running (their
    // requests and streams then finish, recorded as `interrupted`).
    let drained = tokio::time::timeout(Duration::from_secs(30), &mut serving).await;
    let left = runs.interrupt_all(Duration::from_secs(10)).await;
    if left > 0 {
        tracing::warn!(
            left,
            "executions still running at exit; another process's sweep will fail them"
        );
    }
    match drained {
        Ok(result) => result??,
        Err(_) => {
            if let Ok(result) = tokio::time::timeout(Duration::from_secs(5), serving).await {
                result??;
            }
        }
    }
    Ok(())
}
