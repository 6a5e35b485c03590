//! The agents service on its own (port 9000); callers are authenticated through the auth
//! service at `TEMPONEST_AUTH_URL`. It also serves the operator console (`/console`), which
//! calls the platform's API at `TEMPONEST_CONSOLE_API_URL`.

fn main() -> anyhow::Result<()> {
    temponest_platform::process::main("agents", 9000, |layers| {
        Ok(vec![
            temponest_agents::service(layers.settings()?),
            temponest_console::service(layers.settings()?),
        ])
    })
}
