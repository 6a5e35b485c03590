//! The `main` of a single-service binary: configuration, telemetry, the kit, one port.

use anyhow::Context as _;

use crate::config::{Layers, PlatformConfig};
use crate::{ConfigError, Kit, Plan};

/// The whole `main` of a single-service binary: [`run`] on a multi-threaded runtime.
pub fn main(
    name: &'static str,
    default_port: u16,
    plans: impl FnOnce(&Layers) -> Result<Vec<Plan>, ConfigError>,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run(name, default_port, plans))
}

/// Runs `plans` (built from the process's configuration layers) as the process `name` on
/// `server.port` (`PORT`, default `default_port`) of `server.bind_address` until SIGTERM or
/// Ctrl-C, then shuts down gracefully.
pub async fn run(
    name: &'static str,
    default_port: u16,
    plans: impl FnOnce(&Layers) -> Result<Vec<Plan>, ConfigError>,
) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let layers = Layers::load();
    let platform: PlatformConfig = layers.settings()?;
    let plans = plans(&layers)?;
    let _telemetry = temponest_telemetry::init(platform.telemetry.config(name)?)?;
    layers.check_unknown()?;
    let port = platform.server.port.unwrap_or(default_port);
    let bind = platform.server.bind_address.clone();
    let kit = plans.into_iter().fold(Kit::new(name), Kit::with);
    let app = kit.connect(platform).await?;
    let listener = tokio::net::TcpListener::bind((bind.as_str(), port))
        .await
        .with_context(|| format!("cannot listen on {bind}:{port}"))?;
    tracing::info!(port, "{name} service listening");
    app.serve(vec![listener], temponest_web::shutdown_signal())
        .await?;
    Ok(())
}
