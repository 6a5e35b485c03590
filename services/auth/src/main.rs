//! The auth service on its own (port 9002).

/// musl's allocator serialises a multi-threaded server; static Alpine builds use mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    temponest_platform::process::run("auth", 9002, |layers| {
        Ok(vec![temponest_auth::service(layers.settings()?)])
    })
    .await
}
