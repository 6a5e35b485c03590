//! The knowledge service on its own (port 9005); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`. The ingestion engine runs in the same process
//! (`TEMPONEST_KNOWLEDGE__RUN_ENGINE=false` serves the API only).

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    temponest_platform::process::run("knowledge", 9005, |layers| {
        Ok(vec![temponest_knowledge::service(layers.settings()?)])
    })
    .await
}
