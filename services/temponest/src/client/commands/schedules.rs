//! `schedules`: list, get, create (flags or a JSON/YAML file), update, delete, pause, resume,
//! trigger, executions, fires, and the next run times in the local zone.

use chrono::{DateTime, Local, Utc};
use serde_json::{Map, Value};
use temponest_scheduler::models::{ExecutionOut, FireOut, ScheduleOut};

use super::schedule_times::next_runs;
use super::{
    FIELD_FLAGS, Paging, act, agent_filter, agent_id, change, file_fields, json_object_arg, list,
    remove, set, show,
};
use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{Tabular, ago, ago_opt, local, or_dash, parse, short};

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
        let mut body = file_fields(self.file.as_deref())?;
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
            or_dash(self.outcome),
            local(Some(self.fire_time)),
            self.attempt.to_string(),
            format!("{:.6}", self.cost_usd),
            or_dash(self.error.as_deref().map(|e| short(e, 40))),
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
            or_dash(self.status),
            or_dash(self.execution_id),
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
            let query = paging.query_with([
                ("agent_id", agent_filter(ctx, agent).await?),
                ("is_active", active.map(|a| a.to_string())),
            ]);
            list::<ScheduleOut>(ctx, "/schedules/", &query).await
        }
        Schedules::Get { id } => show(ctx, &format!("/schedules/{id}")).await,
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
            change(ctx, &format!("/schedules/{id}"), body, FIELD_FLAGS).await
        }
        Schedules::Delete { id } => remove(ctx, &format!("/schedules/{id}"), "schedule", &id).await,
        Schedules::Pause { id } => act(ctx, &format!("/schedules/{id}/pause")).await,
        Schedules::Resume { id } => act(ctx, &format!("/schedules/{id}/resume")).await,
        Schedules::Trigger { id } => act(ctx, &format!("/schedules/{id}/trigger")).await,
        Schedules::Executions { id, status, paging } => {
            let path = format!("/schedules/{id}/executions");
            list::<ExecutionOut>(ctx, &path, &paging.query_with([("status", status)])).await
        }
        Schedules::Fires { id, paging } => {
            list::<FireOut>(ctx, &format!("/schedules/{id}/fires"), &paging.query()).await
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
