//! The auth service on its own (port 9002).

fn main() -> anyhow::Result<()> {
    temponest_platform::process::main("auth", 9002, |layers| {
        Ok(vec![temponest_auth::service(layers.settings()?)])
    })
}
