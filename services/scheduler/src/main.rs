//! The scheduler service on its own (port 9003); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`, runs go to the agents service at `TEMPONEST_AGENTS_URL`
//! with the service identity `TEMPONEST_SERVICE_CLIENT_SECRET`. The engine runs in the same
//! process (`TEMPONEST_SCHEDULER__RUN_ENGINE=false` serves the API only).

fn main() -> anyhow::Result<()> {
    temponest_platform::process::main("scheduler", 9003, |layers| {
        Ok(vec![temponest_scheduler::service(layers.settings()?)])
    })
}
