//! The platform's command-line client: every command except `serve`, `migrate` and `admin`
//! talks to a running platform over its HTTP API (never to the database), as the user of a
//! named profile.
//!
//! - [`profile`]: profiles and credentials in a 0600 file in the user's config directory.
//! - [`api`]: the HTTP client: credentials, token refresh, API errors.
//! - [`output`]: tables, `-o json`/`-o yaml`, humanised times, colours.
//! - [`sse`]: following an execution's event stream.
//! - `commands`: one module per resource.
//!
//! Exit codes: 0 ok, 1 API error (its `detail` on stderr) or failed execution, 2 usage
//! error, 3 not logged in.

/// `println!` for results: a closed stdout (`temponest … | head`) ends the process quietly
/// instead of panicking, as Unix tools do.
macro_rules! outln {
    () => {
        $crate::client::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::client::output::line(format_args!($($arg)*))
    };
}

pub mod api;
mod commands;
pub mod error;
pub mod output;
pub mod profile;
pub mod spinner;
pub mod sse;

use api::{Api, Credentials};
use error::CliError;
use output::{Format, Output};
use profile::Store;

pub use commands::ClientCommand;

/// The platform the CLI talks to when neither `--url` nor the profile names one.
pub const DEFAULT_URL: &str = "http://localhost:9000";

/// Options every client command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The platform's base URL [default: the profile's, else http://localhost:9000]
    #[arg(long, global = true, env = "TEMPONEST_BASE_URL")]
    pub url: Option<String>,
    /// The named profile (a platform and its credentials) [default: the one chosen with
    /// `profiles use`, else "default"]
    #[arg(long, global = true, env = "TEMPONEST_PROFILE")]
    pub profile: Option<String>,
    /// Output format: readable tables, or the API's objects as JSON or YAML
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// What a command works with: where to write, and the platform as the profile's user.
pub struct Ctx {
    pub out: Output,
    pub api: Api,
}

/// Runs one client command; returns the process exit code.
pub async fn run(global: Global, command: ClientCommand) -> u8 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let out = Output::new(global.output);
    let result = match context(&global, out) {
        Ok(ctx) => commands::dispatch(&ctx, command).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            report(&out, &err);
            err.exit_code()
        }
    }
}

/// Prints a failure on stderr: JSON in the machine formats, else one readable line.
fn report(out: &Output, err: &CliError) {
    if out.machine() {
        eprintln!("{}", err.to_json());
    } else {
        eprintln!("{} {}", out.paint("error:", false), err.human());
    }
}

/// The profile, URL and credentials this invocation uses.
fn context(global: &Global, out: Output) -> Result<Ctx, CliError> {
    let store = Store::load()?;
    let name = store.resolve_name(global.profile.as_deref());
    let profile = store.profiles.get(&name).cloned().unwrap_or_default();
    let base = global
        .url
        .clone()
        .or_else(|| profile.url.clone())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(CliError::Usage(format!(
            "--url must start with http:// or https:// (got {base:?})"
        )));
    }
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let credentials = if let Some(token) = env("TEMPONEST_AUTH_TOKEN") {
        Credentials::Bearer {
            token,
            source: "TEMPONEST_AUTH_TOKEN",
        }
    } else if let Some(token) = env("TEMPONEST_API_KEY") {
        Credentials::Bearer {
            token,
            source: "TEMPONEST_API_KEY",
        }
    } else if let Some(token) = &profile.api_key {
        Credentials::Bearer {
            token: token.expose().to_owned(),
            source: "profile API key",
        }
    } else if profile.access_token.is_some() || profile.refresh_token.is_some() {
        Credentials::Session
    } else {
        Credentials::None
    };
    Ok(Ctx {
        out,
        api: Api::new(base, name, profile, credentials)?,
    })
}
