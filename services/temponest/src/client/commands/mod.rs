//! The client's commands, one module per resource, and what they share: paging flags, agent
//! lookup by name, reading JSON/YAML input files.

mod access;
mod agents;
mod costs;
mod executions;
mod schedule_times;
mod schedules;
mod session;
mod status;
mod webhooks;

use std::io::IsTerminal;

use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::Ctx;
use super::error::CliError;
use super::output::Tabular;

/// Every client command.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Log in (email and password, or an API key) and keep the credentials in the profile
    Login(session::Login),
    /// End the login session and forget the profile's credentials
    #[command(after_help = "Example:\n  temponest logout")]
    Logout,
    /// Show who the credentials belong to
    #[command(after_help = "Examples:\n  temponest whoami\n  temponest whoami -o json")]
    Whoami,
    /// Named profiles: several platforms, each with its own credentials
    #[command(
        subcommand,
        after_help = "Examples:\n  temponest profiles list\n  temponest --profile staging --url https://staging.example.com login --email ada@example.com\n  temponest profiles use staging"
    )]
    Profiles(session::Profiles),
    /// Agents: list, get, create, update, delete
    #[command(
        subcommand,
        after_help = "Examples:\n  temponest agents list\n  temponest agents create --name helper --provider echo --model echo-1\n  temponest agents get helper -o yaml"
    )]
    Agents(agents::Agents),
    /// Run an agent and stream its answer to the terminal as it arrives
    Run(executions::Run),
    /// Executions: list, get, cancel, follow
    #[command(
        subcommand,
        after_help = "Examples:\n  temponest executions list --status running\n  temponest executions follow 0193c1d2-...\n  temponest executions cancel 0193c1d2-..."
    )]
    Executions(executions::Executions),
    /// Schedules: create, pause, resume, trigger, their executions, fires and next runs
    #[command(
        subcommand,
        after_help = "Examples:\n  temponest schedules create --agent helper --cron '0 9 * * 1-5' --timezone Europe/Paris --message 'daily summary'\n  temponest schedules next 0193c1d2-...\n  temponest schedules fires 0193c1d2-..."
    )]
    Schedules(schedules::Schedules),
    /// Webhook endpoints, test deliveries, deliveries with their attempts, retries
    #[command(
        subcommand,
        after_help = "Examples:\n  temponest webhooks create --name ops --endpoint-url https://ops.example.com/hooks --event agent.execution.failed\n  temponest webhooks test 0193c1d2-...\n  temponest webhooks deliveries 0193c1d2-... --status failed"
    )]
    Webhooks(webhooks::Webhooks),
    /// API keys: list, create, revoke
    #[command(
        subcommand,
        name = "api-keys",
        after_help = "Examples:\n  temponest api-keys create --name ci --scope agents:read --scope agents:execute\n  temponest api-keys list\n  temponest api-keys revoke 0193c1d2-..."
    )]
    ApiKeys(access::ApiKeys),
    /// Users of your tenant: list, get, create, update
    #[command(
        subcommand,
        after_help = "Examples:\n  temponest users list\n  temponest users create --email bob@example.com --role developer\n  temponest users update 0193c1d2-... --active false"
    )]
    Users(access::Users),
    /// Spend and budgets
    #[command(
        subcommand,
        after_help = "Examples:\n  temponest costs summary\n  temponest costs set-budget --daily 5 --monthly 100\n  temponest costs budget-status"
    )]
    Costs(costs::Costs),
    /// The platform's readiness, version and engines (scheduler queue, webhook backlog)
    #[command(after_help = "Examples:\n  temponest status\n  temponest status -o json | jq .ready")]
    Status,
    /// The client's version and the platform's, with a warning when they differ
    #[command(after_help = "Examples:\n  temponest version\n  temponest version -o json")]
    Version,
}

pub async fn dispatch(ctx: &Ctx, command: ClientCommand) -> Result<(), CliError> {
    match command {
        ClientCommand::Login(args) => session::login(ctx, args).await,
        ClientCommand::Logout => session::logout(ctx).await,
        ClientCommand::Whoami => session::whoami(ctx).await,
        ClientCommand::Profiles(command) => session::profiles(ctx, command),
        ClientCommand::Agents(command) => agents::run(ctx, command).await,
        ClientCommand::Run(args) => executions::run_agent(ctx, args).await,
        ClientCommand::Executions(command) => executions::run(ctx, command).await,
        ClientCommand::Schedules(command) => schedules::run(ctx, command).await,
        ClientCommand::Webhooks(command) => webhooks::run(ctx, command).await,
        ClientCommand::ApiKeys(command) => access::api_keys(ctx, command).await,
        ClientCommand::Users(command) => access::users(ctx, command).await,
        ClientCommand::Costs(command) => costs::run(ctx, command).await,
        ClientCommand::Status => status::run(ctx).await,
        ClientCommand::Version => status::version(ctx).await,
    }
}

/// The hint of an update given no field.
pub const FIELD_FLAGS: &str = "a field flag or --file";

/// `--skip` / `--limit` of list commands.
#[derive(Debug, Clone, clap::Args)]
pub struct Paging {
    /// Items to skip (newest first)
    #[arg(long, default_value_t = 0)]
    pub skip: u64,
    /// Items to show, at most 100
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub limit: u64,
}

impl Paging {
    pub fn query(&self) -> Vec<(&'static str, String)> {
        vec![
            ("skip", self.skip.to_string()),
            ("limit", self.limit.to_string()),
        ]
    }

    /// The page and the filters given (a filter not given is not sent).
    pub fn query_with<const N: usize>(
        &self,
        filters: [(&'static str, Option<String>); N],
    ) -> Vec<(&'static str, String)> {
        let mut query = self.query();
        query.extend(
            filters
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?))),
        );
        query
    }
}

/// `GET path` of a list page, printed as a table of `T` (as it came, for scripts).
pub async fn list<T: Tabular + DeserializeOwned>(
    ctx: &Ctx,
    path: &str,
    query: &[(&str, String)],
) -> Result<(), CliError> {
    let reply = ctx.api.get(path, query).await?;
    ctx.out.list::<T>(&reply.body, reply.total)
}

/// `GET path`, printed.
pub async fn show(ctx: &Ctx, path: &str) -> Result<(), CliError> {
    ctx.out.object(&ctx.api.get(path, &[]).await?.body)
}

/// `POST path` with no fields (an action such as pause or retry), the answer printed.
pub async fn act(ctx: &Ctx, path: &str) -> Result<(), CliError> {
    ctx.out
        .object(&ctx.api.post(path, &serde_json::json!({})).await?)
}

/// `PATCH path` with the fields given, the answer printed; no field at all is a usage error
/// (`hint` says which flags there are).
pub async fn change(
    ctx: &Ctx,
    path: &str,
    fields: serde_json::Map<String, Value>,
    hint: &str,
) -> Result<(), CliError> {
    if fields.is_empty() {
        return Err(CliError::Usage(format!("nothing to change: give {hint}")));
    }
    ctx.out
        .object(&ctx.api.patch(path, &Value::Object(fields)).await?)
}

/// `DELETE path`, then what was deleted.
pub async fn remove(ctx: &Ctx, path: &str, kind: &str, id: &str) -> Result<(), CliError> {
    ctx.api.delete(path).await?;
    deleted(ctx, kind, id)
}

/// The agent named by `--agent` (id or name), if one was.
pub async fn agent_filter(ctx: &Ctx, agent: Option<String>) -> Result<Option<String>, CliError> {
    match agent {
        Some(agent) => agent_id(ctx, &agent).await.map(Some),
        None => Ok(None),
    }
}

/// The fields of a `--file` (`-f`) as a starting point that flags override; none without one.
pub fn file_fields(file: Option<&str>) -> Result<serde_json::Map<String, Value>, CliError> {
    file.map_or_else(|| Ok(serde_json::Map::new()), read_object_file)
}

/// An agent named by id or by name (case-insensitive, exact).
pub async fn agent_id(ctx: &Ctx, agent: &str) -> Result<String, CliError> {
    if Uuid::parse_str(agent).is_ok() {
        return Ok(agent.to_owned());
    }
    let found = ctx
        .api
        .get(
            "/agents/",
            &[("search", agent.to_owned()), ("limit", "100".to_owned())],
        )
        .await?
        .body;
    found
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| {
            a["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(agent))
        })
        .and_then(|a| a["id"].as_str().map(str::to_owned))
        .ok_or_else(|| CliError::Failed(format!("there is no agent named {agent:?}")))
}

/// A JSON or YAML file (`-` for standard input) as a JSON object.
pub fn read_object_file(path: &str) -> Result<serde_json::Map<String, Value>, CliError> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::io("cannot read standard input", e))?
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::io(format!("cannot read {path}"), e))?
    };
    // YAML is a superset of JSON: one parser reads both.
    let value: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{path} is neither JSON nor YAML: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(CliError::Usage(format!("{path} must hold one object"))),
    }
}

/// A password asked on the terminal after `label`; without a terminal, a usage error that
/// points at `--password-stdin`.
pub fn ask_password(label: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "no terminal to ask for the password on: use --password-stdin".to_owned(),
        ));
    }
    rpassword::prompt_password(label).map_err(|e| CliError::io("cannot read the password", e))
}

/// A `--context`-style argument: a JSON object.
pub fn json_object_arg(name: &str, text: &str) -> Result<Value, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(CliError::Usage(format!("{name} must be a JSON object"))),
        Err(e) => Err(CliError::Usage(format!("{name} is not valid JSON: {e}"))),
    }
}

/// Sets `key` in `body` when `value` is given (flags override a file's fields).
pub fn set<T: Into<Value>>(body: &mut serde_json::Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        body.insert(key.to_owned(), value.into());
    }
}

/// Prints what a DELETE (204, no body) did: a line for people, an object for scripts.
pub fn deleted(ctx: &Ctx, kind: &str, id: &str) -> Result<(), CliError> {
    let summary = serde_json::json!({ "id": id, "deleted": true });
    if !ctx.out.raw(&summary)? {
        outln!("deleted {kind} {id}");
    }
    Ok(())
}
