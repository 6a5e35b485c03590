//! The scheduler service on its own (port 9003); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`, runs go to the agents service at `TEMPONEST_AGENTS_URL`
//! with the service identity `TEMPONEST_SERVICE_CLIENT_SECRET`. The engine runs in the same
//! process (`TEMPONEST_SCHEDULER__RUN_ENGINE=false` serves the API only).

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    temponest_platform::process::run("scheduler", 9003, |layers| {
        Ok(vec![temponest_scheduler::service(layers.settings()?)])
    })
    .await
}
