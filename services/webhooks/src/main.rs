//! The webhooks service on its own (port 9004); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`. The dispatcher and sender run in the same process
//! (`TEMPONEST_WEBHOOKS__RUN_ENGINE=false` serves the API only).

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    temponest_platform::process::run("webhooks", 9004, |layers| {
        Ok(vec![temponest_webhooks::service(layers.settings()?)])
    })
    .await
}
