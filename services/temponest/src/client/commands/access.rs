//! `api-keys` (list, create, revoke) and `users` (list, get, create, update).

use serde_json::{Map, json};
use temponest_auth::models::{ApiKeyOut, UserOut};

use super::{Paging, ask_password, change, list, remove, set, show};
use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{Tabular, ago, ago_opt, local, or_dash};

#[derive(Debug, clap::Subcommand)]
pub enum ApiKeys {
    /// List your API keys (never their secrets)
    #[command(after_help = "Example:\n  temponest api-keys list")]
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Create an API key; the key is shown this once
    #[command(after_help = "Examples:
  temponest api-keys create --name ci --scope agents:read --scope agents:execute
  temponest api-keys create --name nightly --scope schedules:write --expires-in-days 30 -o json | jq -r .key")]
    Create {
        #[arg(long)]
        name: String,
        /// A permission the key carries (repeatable), at most your own
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Revoke an API key: it stops working at once
    #[command(after_help = "Example:\n  temponest api-keys revoke 0193c1d2-...")]
    Revoke { id: String },
}

#[derive(Debug, clap::Subcommand)]
pub enum Users {
    /// List your tenant's users
    #[command(after_help = "Example:\n  temponest users list")]
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one user
    #[command(after_help = "Example:\n  temponest users get 0193c1d2-...")]
    Get { id: String },
    /// Create a user in your tenant with a role (the password is asked for, or read from
    /// stdin with --password-stdin)
    #[command(after_help = "Examples:
  temponest users create --email bob@example.com --role developer
  printf '%s' \"$PW\" | temponest users create --email bob@example.com --role viewer --password-stdin")]
    Create {
        #[arg(long)]
        email: String,
        /// admin | manager | developer | viewer
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long)]
        full_name: Option<String>,
        /// Read the new user's password from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's roles, name or active flag
    #[command(
        after_help = "Examples:\n  temponest users update 0193c1d2-... --role manager\n  temponest users update 0193c1d2-... --active false"
    )]
    Update {
        id: String,
        /// The user's roles (repeatable; replaces the current ones)
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        full_name: Option<String>,
        /// Enable (true) or disable (false) the account
        #[arg(long)]
        active: Option<bool>,
    },
}

impl Tabular for ApiKeyOut {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "NAME",
        "PREFIX",
        "SCOPES",
        "EXPIRES",
        "LAST USED",
        "CREATED",
    ];
    fn cells(&self) -> Vec<String> {
        let scopes: Vec<String> = self.scopes.iter().map(ToString::to_string).collect();
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.prefix.clone(),
            scopes.join(","),
            local(self.expires_at),
            ago_opt(self.last_used_at),
            ago(self.created_at),
        ]
    }
}

impl Tabular for UserOut {
    const HEADERS: &'static [&'static str] = &["ID", "EMAIL", "NAME", "ROLES", "ACTIVE", "CREATED"];
    fn cells(&self) -> Vec<String> {
        let roles: Vec<String> = self.roles.iter().map(ToString::to_string).collect();
        vec![
            self.id.to_string(),
            self.email.clone(),
            or_dash(self.full_name.as_ref()),
            roles.join(","),
            if self.is_active { "yes" } else { "no" }.into(),
            ago(self.created_at),
        ]
    }
}

pub async fn api_keys(ctx: &Ctx, command: ApiKeys) -> Result<(), CliError> {
    let api = &ctx.api;
    match command {
        ApiKeys::List { paging } => list::<ApiKeyOut>(ctx, "/api-keys", &paging.query()).await,
        ApiKeys::Create {
            name,
            scopes,
            expires_in_days,
        } => {
            let mut body = json!({ "name": name, "scopes": scopes });
            if let Some(days) = expires_in_days {
                body["expires_in_days"] = days.into();
            }
            let created = api.post("/api-keys", &body).await?;
            ctx.out.object(&created)?;
            ctx.out
                .note("the key is shown only this once: store it now");
            Ok(())
        }
        ApiKeys::Revoke { id } => remove(ctx, &format!("/api-keys/{id}"), "API key", &id).await,
    }
}

pub async fn users(ctx: &Ctx, command: Users) -> Result<(), CliError> {
    let api = &ctx.api;
    match command {
        Users::List { paging } => list::<UserOut>(ctx, "/users", &paging.query()).await,
        Users::Get { id } => show(ctx, &format!("/users/{id}")).await,
        Users::Create {
            email,
            role,
            full_name,
            password_stdin,
        } => {
            let password = if password_stdin {
                let text = std::io::read_to_string(std::io::stdin())
                    .map_err(|e| CliError::io("cannot read standard input", e))?;
                text.trim_end_matches(['\n', '\r']).to_owned()
            } else {
                ask_password("New user's password: ")?
            };
            let mut body = json!({ "email": email, "password": password, "roles": [role] });
            if let Some(name) = full_name {
                body["full_name"] = name.into();
            }
            ctx.out.object(&api.post("/users", &body).await?)
        }
        Users::Update {
            id,
            roles,
            full_name,
            active,
        } => {
            let mut body = Map::new();
            if !roles.is_empty() {
                body.insert("roles".into(), roles.into());
            }
            set(&mut body, "full_name", full_name);
            set(&mut body, "is_active", active);
            let hint = "--role, --full-name or --active";
            change(ctx, &format!("/users/{id}"), body, hint).await
        }
    }
}
