//! `agents`: list, get, create, update, delete.

use serde_json::{Map, Value};
use temponest_agents::models::AgentOut;

use super::{FIELD_FLAGS, Paging, agent_id, change, file_fields, list, remove, set, show};
use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{Tabular, ago, short};

#[derive(Debug, clap::Subcommand)]
pub enum Agents {
    /// List agents, newest first
    #[command(
        after_help = "Examples:\n  temponest agents list\n  temponest agents list --search support -o json"
    )]
    List {
        /// Only agents whose name or description contains this
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one agent (by id or name)
    #[command(
        after_help = "Examples:\n  temponest agents get helper\n  temponest agents get 0193c1d2-... -o yaml"
    )]
    Get { agent: String },
    /// Create an agent from flags, or from a JSON/YAML file (flags override its fields)
    #[command(after_help = "Examples:
  temponest agents create --name helper --provider echo --model echo-1
  temponest agents create --name support --model gpt-4o-mini --provider openai \\
      --system-prompt 'You answer support questions.' --tool http_request
  temponest agents create -f agent.yaml")]
    Create {
        #[command(flatten)]
        fields: AgentFields,
    },
    /// Change an agent: only the fields given change
    #[command(
        after_help = "Examples:\n  temponest agents update helper --temperature 0.2\n  temponest agents update helper -f changes.json"
    )]
    Update {
        agent: String,
        #[command(flatten)]
        fields: AgentFields,
    },
    /// Delete an agent (by id or name)
    #[command(after_help = "Example:\n  temponest agents delete helper")]
    Delete { agent: String },
}

/// An agent's fields as flags.
#[derive(Debug, clap::Args)]
pub struct AgentFields {
    /// A JSON or YAML file with the agent's fields (`-` for stdin)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// The model name at the provider, e.g. gpt-4o-mini or llama3.1
    #[arg(long)]
    pub model: Option<String>,
    /// openai, ollama, anthropic, echo, or a configured provider [server default: ollama]
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub system_prompt: Option<String>,
    /// A built-in tool the agent may call (repeatable), e.g. http_request
    #[arg(long = "tool")]
    pub tools: Vec<String>,
    /// Model calls per execution, tool rounds included (1-50)
    #[arg(long)]
    pub max_iterations: Option<i64>,
    /// Sampling temperature (0-2)
    #[arg(long)]
    pub temperature: Option<f64>,
}

impl AgentFields {
    fn body(self) -> Result<Map<String, Value>, CliError> {
        let mut body = file_fields(self.file.as_deref())?;
        set(&mut body, "name", self.name);
        set(&mut body, "model", self.model);
        set(&mut body, "provider", self.provider);
        set(&mut body, "description", self.description);
        set(&mut body, "system_prompt", self.system_prompt);
        if !self.tools.is_empty() {
            body.insert("tools".into(), self.tools.into());
        }
        set(&mut body, "max_iterations", self.max_iterations);
        set(&mut body, "temperature", self.temperature);
        Ok(body)
    }
}

impl Tabular for AgentOut {
    const HEADERS: &'static [&'static str] =
        &["ID", "NAME", "PROVIDER", "MODEL", "TOOLS", "CREATED"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            short(&self.name, 40),
            self.provider.clone(),
            self.model.clone(),
            if self.tools.is_empty() {
                "-".into()
            } else {
                self.tools.join(",")
            },
            ago(self.created_at),
        ]
    }
}

pub async fn run(ctx: &Ctx, command: Agents) -> Result<(), CliError> {
    match command {
        Agents::List { search, paging } => {
            list::<AgentOut>(ctx, "/agents/", &paging.query_with([("search", search)])).await
        }
        Agents::Get { agent } => {
            let id = agent_id(ctx, &agent).await?;
            show(ctx, &format!("/agents/{id}")).await
        }
        Agents::Create { fields } => {
            let body = fields.body()?;
            for required in ["name", "model"] {
                if !body.contains_key(required) {
                    return Err(CliError::Usage(format!(
                        "--{required} is required (or give it in the --file)"
                    )));
                }
            }
            let agent = ctx.api.post("/agents/", &Value::Object(body)).await?;
            ctx.out.object(&agent)
        }
        Agents::Update { agent, fields } => {
            let id = agent_id(ctx, &agent).await?;
            let path = format!("/agents/{id}");
            change(ctx, &path, fields.body()?, FIELD_FLAGS).await
        }
        Agents::Delete { agent } => {
            let id = agent_id(ctx, &agent).await?;
            remove(ctx, &format!("/agents/{id}"), "agent", &id).await
        }
    }
}
