//! `run` (an agent, streaming its answer) and `executions`: list, get, cancel, follow.

use reqwest::Method;
use serde_json::{Value, json};
use temponest_agents::models::ExecutionOut;

use super::{Paging, act, agent_filter, agent_id, json_object_arg, list, show};
use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{Tabular, ago, emit, or_dash, parse, short};
use crate::client::spinner::Spinner;
use crate::client::sse;

/// Run an agent on a message.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  temponest run helper 'Summarise our refund policy'
  temponest run helper 'hello' --no-stream
  temponest run 0193c1d2-... 'hello' --context '{\"customer\":\"acme\"}'
  temponest run helper 'hello' -o json | jq -r .response

The answer streams to stdout as it arrives; a summary (execution id, tokens, cost) goes to
stderr. Exit code 1 when the execution fails. Ctrl-C stops following; the execution goes on
on the server (`temponest executions cancel ID` stops it).")]
pub struct Run {
    /// The agent's id or name
    pub agent: String,
    /// The user message
    pub message: String,
    /// Wait for the whole answer instead of streaming it
    #[arg(long)]
    pub no_stream: bool,
    /// Extra facts for the model, as a JSON object
    #[arg(long)]
    pub context: Option<String>,
    /// The project the spend is reported under
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Executions {
    /// List executions, newest first
    #[command(
        after_help = "Examples:\n  temponest executions list\n  temponest executions list --agent helper --status failed"
    )]
    List {
        /// Only this agent's (id or name)
        #[arg(long)]
        agent: Option<String>,
        /// pending | running | completed | failed
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one execution
    #[command(after_help = "Example:\n  temponest executions get 0193c1d2-...")]
    Get { id: String },
    /// Cancel a pending or running execution
    #[command(after_help = "Example:\n  temponest executions cancel 0193c1d2-...")]
    Cancel { id: String },
    /// Print an execution's answer from the start and follow it live until it ends
    #[command(after_help = "Example:\n  temponest executions follow 0193c1d2-...")]
    Follow { id: String },
}

impl Tabular for ExecutionOut {
    const HEADERS: &'static [&'static str] = &[
        "ID", "AGENT", "STATUS", "OUTCOME", "MESSAGE", "TOKENS", "COST USD", "CREATED",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.agent_id.to_string(),
            self.status.to_string(),
            or_dash(self.outcome),
            short(&self.user_message, 30),
            self.tokens_used.total.to_string(),
            format!("{:.6}", self.cost_usd),
            ago(self.created_at),
        ]
    }
}

pub async fn run(ctx: &Ctx, command: Executions) -> Result<(), CliError> {
    match command {
        Executions::List {
            agent,
            status,
            paging,
        } => {
            let query = paging.query_with([
                ("agent_id", agent_filter(ctx, agent).await?),
                ("status", status),
            ]);
            list::<ExecutionOut>(ctx, "/executions/", &query).await
        }
        Executions::Get { id } => show(ctx, &format!("/executions/{id}")).await,
        Executions::Cancel { id } => act(ctx, &format!("/executions/{id}/cancel")).await,
        Executions::Follow { id } => follow(ctx, &id, None).await,
    }
}

pub async fn run_agent(ctx: &Ctx, args: Run) -> Result<(), CliError> {
    let agent = agent_id(ctx, &args.agent).await?;
    let mut body = json!({ "user_message": args.message, "stream": !args.no_stream });
    if let Some(context) = &args.context {
        body["context"] = json_object_arg("--context", context)?;
    }
    if let Some(project) = args.project {
        body["project_id"] = project.into();
    }
    let path = format!("/agents/{agent}/execute");
    if args.no_stream {
        let mut spinner = Spinner::start("running…");
        let result = ctx.api.call(Method::POST, &path, &[], Some(&body)).await;
        spinner.stop();
        let execution = result?.body;
        return finish(ctx, &execution, true);
    }
    let response = ctx
        .api
        .send(Method::POST, &path, &[], Some(&body), &[])
        .await?;
    let id = response
        .headers()
        .get("x-execution-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            CliError::Transport("the stream named no execution (X-Execution-Id)".into())
        })?;
    follow(ctx, &id, Some(response)).await
}

/// Prints the stream of execution `id` (text as it arrives, in table mode), then the
/// execution: its summary on stderr, or the object in the machine formats.
async fn follow(ctx: &Ctx, id: &str, first: Option<reqwest::Response>) -> Result<(), CliError> {
    let printing = !ctx.out.machine();
    let mut spinner = Spinner::start("waiting for the answer…");
    let streamed = tokio::select! {
        ended = sse::follow(&ctx.api, id, first, |text| {
            spinner.stop();
            if printing {
                emit(text);
            }
        }) => ended,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: execution {id} goes on on the server \
                       (`temponest executions cancel {id}` stops it)");
            std::process::exit(130);
        }
    };
    spinner.stop();
    let ended = streamed?;
    if printing && !ended.text.is_empty() && !ended.text.ends_with('\n') {
        emit("\n");
    }
    let execution = ctx.api.get(&format!("/executions/{id}"), &[]).await?.body;
    finish(ctx, &execution, false)
}

/// Shows a finished execution; an execution that failed is exit code 1.
fn finish(ctx: &Ctx, execution: &Value, print_response: bool) -> Result<(), CliError> {
    let printed = ctx.out.raw(execution)?;
    let run: ExecutionOut = parse(execution)?;
    if !printed {
        if print_response && let Some(response) = &run.response {
            outln!("{response}");
        }
        ctx.out.note(&format!(
            "── execution {} {} · {} tokens · ${:.6}{}",
            run.id,
            run.outcome
                .map_or_else(|| run.status.to_string(), |o| o.to_string()),
            run.tokens_used.total,
            run.cost_usd,
            run.execution_time_seconds
                .map_or_else(String::new, |s| format!(" · {s:.2}s")),
        ));
    }
    if run.status.to_string() == "failed" {
        return Err(CliError::Failed(format!(
            "execution {} failed: {}",
            run.id,
            run.error.as_deref().unwrap_or("no reason given")
        )));
    }
    Ok(())
}
