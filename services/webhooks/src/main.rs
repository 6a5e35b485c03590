//! The webhooks service on its own (port 9004); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`. The dispatcher and sender run in the same process
//! (`TEMPONEST_WEBHOOKS__RUN_ENGINE=false` serves the API only).

fn main() -> anyhow::Result<()> {
    temponest_platform::process::main("webhooks", 9004, |layers| {
        Ok(vec![temponest_webhooks::service(layers.settings()?)])
    })
}
