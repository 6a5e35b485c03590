//! `login`, `logout`, `whoami` and `profiles`: who the client is, on which platform.

use std::io::{BufRead, IsTerminal};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::ask_password;
use crate::client::Ctx;
use crate::client::api::{self, Api, Credentials};
use crate::client::error::CliError;
use crate::client::output::{or_dash, parse};
use crate::client::profile::{Profile, Store};

/// Log in to a platform and keep the session (or an API key) in the profile.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  temponest login --email ada@example.com          # prompts for the password
  printf '%s' \"$PASSWORD\" | temponest login --email ada@example.com --password-stdin
  temponest login --api-key sk_...                  # or --api-key - to read it from stdin
  temponest --profile staging --url https://staging.example.com login --email ada@example.com")]
pub struct Login {
    /// The account's email (asked for when omitted)
    #[arg(long, conflicts_with = "api_key")]
    pub email: Option<String>,
    /// Read the password from standard input instead of prompting (for scripts)
    #[arg(long, conflicts_with = "api_key")]
    pub password_stdin: bool,
    /// Authenticate with an API key instead (`-` reads it from standard input)
    #[arg(long)]
    pub api_key: Option<String>,
}

/// `profiles`.
#[derive(Debug, clap::Subcommand)]
pub enum Profiles {
    /// List the profiles: their platform, user and kind of credentials
    #[command(after_help = "Example:\n  temponest profiles list")]
    List,
    /// Make a profile the default for commands without --profile
    #[command(after_help = "Example:\n  temponest profiles use staging")]
    Use { name: String },
    /// Forget a profile and its credentials (does not end a session on the server;
    /// `logout` does)
    #[command(after_help = "Example:\n  temponest profiles delete staging")]
    Delete { name: String },
}

pub async fn login(ctx: &Ctx, args: Login) -> Result<(), CliError> {
    let api = &ctx.api;
    let mut store = Store::load()?;
    let mut profile = store
        .profiles
        .get(&api.profile_name)
        .cloned()
        .unwrap_or_default();
    profile.clear_credentials();
    profile.url = Some(api.base.clone());
    let me = if let Some(key) = args.api_key {
        let key = if key == "-" { read_stdin_line()? } else { key };
        let probe = Api::new(
            api.base.clone(),
            api.profile_name.clone(),
            Profile::default(),
            Credentials::Bearer {
                token: key.clone(),
                source: "--api-key",
            },
        )?;
        let me = probe.get("/auth/me", &[]).await?.body;
        profile.api_key = Some(key.into());
        me
    } else {
        let email = match args.email {
            Some(email) => email,
            None if std::io::stdin().is_terminal() => prompt("Email: ")?,
            None => {
                return Err(CliError::Usage(
                    "--email is required when there is no terminal to ask on".to_owned(),
                ));
            }
        };
        let password = if args.password_stdin {
            read_stdin_line()?
        } else {
            ask_password("Password: ")?
        };
        let response = api
            .public(
                Method::POST,
                "/auth/login",
                Some(&json!({ "email": email, "password": password })),
            )
            .await?;
        if !response.status().is_success() {
            return Err(api::failure(response).await);
        }
        let tokens: temponest_auth::models::TokenOut = response.json().await.map_err(|e| {
            CliError::Transport(format!("the login answer was not understood: {e}"))
        })?;
        api::store_tokens(&mut profile, &tokens);
        profile.email = Some(email);
        Value::Null
    };
    if let Some(email) = me["email"].as_str() {
        profile.email = Some(email.to_owned());
    }
    let summary = json!({
        "profile": api.profile_name,
        "url": api.base,
        "email": profile.email,
        "auth": if profile.api_key.is_some() { "api_key" } else { "session" },
        "expires_at": profile.expires_at,
    });
    store.profiles.insert(api.profile_name.clone(), profile);
    store.save()?;
    if !ctx.out.raw(&summary)? {
        outln!(
            "Logged in to {} as {} (profile {})",
            api.base,
            summary["email"].as_str().unwrap_or("?"),
            api.profile_name
        );
    }
    Ok(())
}

pub async fn logout(ctx: &Ctx) -> Result<(), CliError> {
    let api = &ctx.api;
    let mut store = Store::load()?;
    let Some(profile) = store.profiles.get_mut(&api.profile_name) else {
        ctx.out
            .note(&format!("profile {} has no credentials", api.profile_name));
        return Ok(());
    };
    let had_session = profile.api_key.is_none() && profile.has_credentials();
    if had_session && api.credentials_source() == "login session" {
        // End the session on the server; an already ended one is fine.
        match api.call(Method::POST, "/auth/logout", &[], None).await {
            Ok(_) | Err(CliError::NotLoggedIn(_)) => {}
            Err(CliError::Api(f)) if f.status == StatusCode::UNAUTHORIZED.as_u16() => {}
            Err(other) => return Err(other),
        }
    }
    profile.clear_credentials();
    store.save()?;
    let summary = json!({ "profile": api.profile_name, "logged_out": true });
    if !ctx.out.raw(&summary)? {
        outln!("Logged out (profile {})", api.profile_name);
        if !had_session {
            eprintln!(
                "the API key was forgotten locally; revoke it with `temponest api-keys revoke`"
            );
        }
    }
    if std::env::var_os("TEMPONEST_AUTH_TOKEN").is_some()
        || std::env::var_os("TEMPONEST_API_KEY").is_some()
    {
        eprintln!("note: TEMPONEST_AUTH_TOKEN / TEMPONEST_API_KEY are set and still apply");
    }
    Ok(())
}

pub async fn whoami(ctx: &Ctx) -> Result<(), CliError> {
    let me = ctx.api.get("/auth/me", &[]).await?.body;
    if ctx.out.raw(&me)? {
        return Ok(());
    }
    let user: temponest_auth::models::UserOut = parse(&me)?;
    let roles: Vec<String> = user.roles.iter().map(ToString::to_string).collect();
    ctx.out.table(
        &["FIELD", "VALUE"],
        vec![
            vec!["email".into(), user.email.clone()],
            vec!["name".into(), or_dash(user.full_name.as_ref())],
            vec!["user".into(), user.id.to_string()],
            vec![
                "tenant".into(),
                format!("{} ({})", user.tenant_name, user.tenant_id),
            ],
            vec!["roles".into(), roles.join(", ")],
            vec!["permissions".into(), user.permissions.len().to_string()],
            vec!["platform".into(), ctx.api.base.clone()],
            vec!["profile".into(), ctx.api.profile_name.clone()],
            vec!["credentials".into(), ctx.api.credentials_source().into()],
        ],
    );
    Ok(())
}

pub fn profiles(ctx: &Ctx, command: Profiles) -> Result<(), CliError> {
    let mut store = Store::load()?;
    let default = store.resolve_name(None);
    match command {
        Profiles::List => {
            let rows: Vec<Value> = store
                .profiles
                .iter()
                .map(|(name, p)| {
                    json!({
                        "name": name,
                        "url": p.url,
                        "email": p.email,
                        "auth": if p.api_key.is_some() { "api_key" }
                                else if p.has_credentials() { "session" } else { "none" },
                        "default": *name == default,
                    })
                })
                .collect();
            let list = Value::Array(rows);
            if ctx.out.raw(&list)? {
                return Ok(());
            }
            let rows = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let mark = if p["default"] == true { "*" } else { "" };
                    vec![
                        format!("{}{mark}", p["name"].as_str().unwrap_or_default()),
                        crate::client::output::scalar(&p["url"]),
                        crate::client::output::scalar(&p["email"]),
                        crate::client::output::scalar(&p["auth"]),
                    ]
                })
                .collect();
            ctx.out.table(&["PROFILE", "URL", "USER", "AUTH"], rows);
        }
        Profiles::Use { name } => {
            if !store.profiles.contains_key(&name) {
                return Err(CliError::Usage(format!(
                    "there is no profile {name:?}; create it with `temponest --profile {name} --url URL login`"
                )));
            }
            store.default_profile = Some(name.clone());
            store.save()?;
            ctx.out.note(&format!("now using profile {name}"));
        }
        Profiles::Delete { name } => {
            if store.profiles.remove(&name).is_none() {
                return Err(CliError::Usage(format!("there is no profile {name:?}")));
            }
            if store.default_profile.as_deref() == Some(name.as_str()) {
                store.default_profile = None;
            }
            store.save()?;
            ctx.out.note(&format!("deleted profile {name}"));
        }
    }
    Ok(())
}

fn prompt(label: &str) -> Result<String, CliError> {
    eprint!("{label}");
    read_stdin_line()
}

fn read_stdin_line() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::io("cannot read standard input", e))?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        return Err(CliError::Usage(
            "nothing was read from standard input".to_owned(),
        ));
    }
    Ok(line)
}
