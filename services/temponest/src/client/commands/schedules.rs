//! `schedules`: list, get, create (flags or a JSON/YAML file), update, delete, pause, resume,
//! trigger, executions, fires, and the next run times in the local zone.

use chrono::{DateTime, Local, Utc};
use serde_json::{Map, Value, json};
use temponest_scheduler::models::{ExecutionOut, FireOut, ScheduleOut};

use super::schedule_times::next_runs;
use super::{Paging, agent_id, deleted, json_object_arg, read_object_file, set};
use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{Tabular, ago, ago_opt, local, parse, short};

#[derive(Debug, clap::Subcommand)]
pub enum Schedules {
    /// List schedules, newest first, with their next run in the local zone
    #[command(
        after_help = "Examples:\n  temponest schedules list\n  temponest schedules list --agent helper --active false"
    )]
    List {
        /// Only this agent's (id or name)
        #[arg(long)]
        agent: Option<String>,
        /// Only active (true) or paused (false) ones
        #[arg(long)]
        active: Option<bool>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one schedule
    #[command(after_help = "Example:\n  temponest schedules get 0193c1d2-...")]
    Get { id: String },
    /// Create a schedule from flags, or from a JSON/YAML file (flags override its fields)
    #[command(after_help = "Examples:
  temponest schedules create --agent helper --cron '0 9 * * 1-5' --timezone Europe/Paris \\
      --message 'Post the daily summary'
  temponest schedules create --agent helper --every 3600 --message 'hourly check'
  temponest schedules create --agent helper --at 2026-12-24T18:00:00Z --message 'once'
  temponest schedules create -f schedule.yaml")]
    Create {
        #[command(flatten)]
        fields: ScheduleFields,
    },
    /// Change a schedule: only the fields given change
    #[command(
        after_help = "Example:\n  temponest schedules update 0193c1d2-... --cron '*/30 * * * *'"
    )]
    Update {
        id: String,
        #[command(flatten)]
        fields: ScheduleFields,
    },
    /// Delete a schedule
    #[command(after_help = "Example:\n  temponest schedules delete 0193c1d2-...")]
    Delete { id: String },
    /// Stop a schedule from firing
    #[command(after_help = "Example:\n  temponest schedules pause 0193c1d2-...")]
    Pause { id: String },
    /// Let a paused schedule fire again
    #[command(after_help = "Example:\n  temponest schedules resume 0193c1d2-...")]
    Resume { id: String },
    /// Run a schedule now (its overlap policy applies)
    #[command(after_help = "Example:\n  temponest schedules trigger 0193c1d2-...")]
    Trigger { id: String },
    /// A schedule's executions, newest first
    #[command(
        after_help = "Example:\n  temponest schedules executions 0193c1d2-... --status failed"
    )]
    Executions {
        id: String,
        /// pending | running | completed | failed
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// A schedule's fire times and what became of each (queued, skipped, missed)
    #[command(after_help = "Example:\n  temponest schedules fires 0193c1d2-...")]
    Fires {
        id: String,
        #[command(flatten)]
        paging: Paging,
    },
    /// The next run times, in the local zone and the schedule's
    #[command(after_help = "Example:\n  temponest schedules next 0193c1d2-... --count 10")]
    Next {
        id: String,
        /// How many
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
        count: u16,
    },
}

/// A schedule's fields as flags.
#[derive(Debug, clap::Args)]
pub struct ScheduleFields {
    /// A JSON or YAML file with the schedule's fields (`-` for stdin)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// The agent to run (id or name)
    #[arg(long)]
    pub agent: Option<String>,
    /// A cron expression (5 or 6 fields, or @hourly/@daily/...)
    #[arg(long, conflicts_with_all = ["every", "at"])]
    pub cron: Option<String>,
    /// Fire every N seconds
    #[arg(long, conflicts_with = "at")]
    pub every: Option<i64>,
    /// Fire once, at this RFC 3339 time
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
    /// The message the agent gets
    #[arg(long)]
    pub message: Option<String>,
    /// Context for the agent, as a JSON object
    #[arg(long)]
    pub context: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// IANA zone the cron expression is read in [server default: UTC]
    #[arg(long)]
    pub timezone: Option<String>,
    /// Create it paused
    #[arg(long)]
    pub paused: bool,
    /// skip | allow | buffer_one
    #[arg(long)]
    pub overlap_policy: Option<String>,
    /// What to do with fire times missed while the platform was down
    #[arg(long)]
    pub misfire_policy: Option<String>,
    #[arg(long)]
    pub max_retries: Option<i64>,
    #[arg(long)]
    pub timeout_seconds: Option<i64>,
}

impl ScheduleFields {
    async fn body(self, ctx: &Ctx) -> Result<Map<String, Value>, CliError> {
        let mut body = match &self.file {
            Some(path) => read_object_file(path)?,
            None => Map::new(),
        };
        if let Some(agent) = &self.agent {
            body.insert("agent_id".into(), agent_id(ctx, agent).await?.into());
        }
        set(&mut body, "cron_expression", self.cron);
        set(&mut body, "interval_seconds", self.every);
        set(&mut body, "run_at", self.at.map(|at| at.to_rfc3339()));
        if self.message.is_some() || self.context.is_some() {
            let mut task = body
                .get("task_config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            set(&mut task, "user_message", self.message);
            if let Some(context) = &self.context {
                task.insert("context".into(), json_object_arg("--context", context)?);
            }
            body.insert("task_config".into(), Value::Object(task));
        }
        set(&mut body, "name", self.name);
        set(&mut body, "timezone", self.timezone);
        if self.paused {
            body.insert("is_active".into(), false.into());
        }
        set(&mut body, "overlap_policy", self.overlap_policy);
        set(&mut body, "misfire_policy", self.misfire_policy);
        set(&mut body, "max_retries", self.max_retries);
        set(&mut body, "timeout_seconds", self.timeout_seconds);
        Ok(body)
    }
}

/// How a schedule fires, in a few words.
fn timing(s: &ScheduleOut) -> String {
    match (&s.cron_expression, s.interval_seconds, s.run_at) {
        (Some(cron), _, _) => cron.clone(),
        (None, Some(secs), _) => format!("every {secs}s"),
        (None, None, Some(at)) => format!("once {}", local(Some(at))),
        _ => "-".into(),
    }
}

impl Tabular for ScheduleOut {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "NAME",
        "WHEN",
        "ZONE",
        "ACTIVE",
        "NEXT RUN (LOCAL)",
        "LAST RUN",
        "RUNS",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            short(&self.name, 30),
            timing(self),
            self.timezone.clone(),
            if self.is_active { "yes" } else { "paused" }.into(),
            local(self.next_run.filter(|_| self.is_active)),
            ago_opt(self.last_run),
            self.run_count.to_string(),
        ]
    }
}

impl Tabular for ExecutionOut {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "TRIGGER",
        "STATUS",
        "OUTCOME",
        "FIRE TIME (LOCAL)",
        "ATTEMPT",
        "COST USD",
        "ERROR",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.trigger.to_string(),
            self.status.to_string(),
            self.outcome.map_or_else(|| "-".into(), |o| o.to_string()),
            local(Some(self.fire_time)),
            self.attempt.to_string(),
            format!("{:.6}", self.cost_usd),
            self.error
                .as_deref()
                .map_or_else(|| "-".into(), |e| short(e, 40)),
        ]
    }
}

impl Tabular for FireOut {
    const HEADERS: &'static [&'static str] = &[
        "FIRE TIME (LOCAL)",
        "DISPOSITION",
        "STATUS",
        "EXECUTION",
        "RECORDED",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            local(Some(self.fire_time)),
            self.disposition.to_string(),
            self.status.map_or_else(|| "-".into(), |s| s.to_string()),
            self.execution_id
                .map_or_else(|| "-".into(), |id| id.to_string()),
            ago(self.recorded_at),
        ]
    }
}

pub async fn run(ctx: &Ctx, command: Schedules) -> Result<(), CliError> {
    let api = &ctx.api;
    match command {
        Schedules::List {
            agent,
            active,
            paging,
        } => {
            let mut query = paging.query();
            if let Some(agent) = agent {
                query.push(("agent_id", agent_id(ctx, &agent).await?));
            }
            if let Some(active) = active {
                query.push(("is_active", active.to_string()));
            }
            let reply = api.get("/schedules/", &query).await?;
            ctx.out.list::<ScheduleOut>(&reply.body, reply.total)
        }
        Schedules::Get { id } => ctx
            .out
            .object(&api.get(&format!("/schedules/{id}"), &[]).await?.body),
        Schedules::Create { fields } => {
            let body = fields.body(ctx).await?;
            if !body.contains_key("agent_id") {
                return Err(CliError::Usage(
                    "--agent is required (or agent_id in the --file)".into(),
                ));
            }
            let has_message = body
                .get("task_config")
                .is_some_and(|t| t.get("user_message").is_some());
            if !has_message {
                return Err(CliError::Usage(
                    "--message is required (or task_config.user_message in the --file)".into(),
                ));
            }
            let created = api.post("/schedules/", &Value::Object(body)).await?;
            ctx.out.object(&created)
        }
        Schedules::Update { id, fields } => {
            let body = fields.body(ctx).await?;
            if body.is_empty() {
                return Err(CliError::Usage(
                    "nothing to change: give a field flag or --file".into(),
                ));
            }
            ctx.out.object(
                &api.patch(&format!("/schedules/{id}"), &Value::Object(body))
                    .await?,
            )
        }
        Schedules::Delete { id } => {
            api.delete(&format!("/schedules/{id}")).await?;
            deleted(ctx, "schedule", &id)
        }
        Schedules::Pause { id } => ctx.out.object(
            &api.post(&format!("/schedules/{id}/pause"), &json!({}))
                .await?,
        ),
        Schedules::Resume { id } => ctx.out.object(
            &api.post(&format!("/schedules/{id}/resume"), &json!({}))
                .await?,
        ),
        Schedules::Trigger { id } => ctx.out.object(
            &api.post(&format!("/schedules/{id}/trigger"), &json!({}))
                .await?,
        ),
        Schedules::Executions { id, status, paging } => {
            let mut query = paging.query();
            if let Some(status) = status {
                query.push(("status", status));
            }
            let reply = api
                .get(&format!("/schedules/{id}/executions"), &query)
                .await?;
            ctx.out.list::<ExecutionOut>(&reply.body, reply.total)
        }
        Schedules::Fires { id, paging } => {
            let reply = api
                .get(&format!("/schedules/{id}/fires"), &paging.query())
                .await?;
            ctx.out.list::<FireOut>(&reply.body, reply.total)
        }
        Schedules::Next { id, count } => {
            let schedule: ScheduleOut =
                parse(&api.get(&format!("/schedules/{id}"), &[]).await?.body)?;
            let times = next_runs(&schedule, Utc::now(), usize::from(count))?;
            let list = Value::Array(times.iter().map(|t| t.to_rfc3339().into()).collect());
            if ctx.out.raw(&list)? {
                return Ok(());
            }
            if !schedule.is_active {
                eprintln!("note: the schedule is paused; these are the times it would fire at");
            }
            let zone = temponest_cron::parse_timezone(&schedule.timezone).ok();
            let rows = times
                .iter()
                .map(|t| {
                    vec![
                        t.with_timezone(&Local)
                            .format("%a %Y-%m-%d %H:%M:%S %Z")
                            .to_string(),
                        zone.map_or_else(
                            || t.to_rfc3339(),
                            |z| {
                                t.with_timezone(&z)
                                    .format("%Y-%m-%d %H:%M:%S %Z")
                                    .to_string()
                            },
                        ),
                        ago(*t),
                    ]
                })
                .collect();
            ctx.out.table(&["LOCAL TIME", "SCHEDULE ZONE", "IN"], rows);
            Ok(())
        }
    }
}
