//! The knowledge service on its own (port 9005); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`. The ingestion engine runs in the same process
//! (`TEMPONEST_KNOWLEDGE__RUN_ENGINE=false` serves the API only).

fn main() -> anyhow::Result<()> {
    temponest_platform::process::main("knowledge", 9005, |layers| {
        Ok(vec![temponest_knowledge::service(layers.settings()?)])
    })
}
