//! `webhooks`: endpoints (list, get, create, update, delete), test, deliveries with their
//! attempts, retry, and the event types.

use serde_json::{Map, Value};
use temponest_webhooks::models::{AttemptOut, DeliveryDetail, DeliveryOut, WebhookOut};

use super::{FIELD_FLAGS, Paging, act, change, file_fields, list, remove, set, show};
use crate::client::Ctx;
use crate::client::error::CliError;
use crate::client::output::{Tabular, ago, ago_opt, label, or_dash, parse, short};

#[derive(Debug, clap::Subcommand)]
pub enum Webhooks {
    /// List webhook endpoints
    #[command(after_help = "Example:\n  temponest webhooks list")]
    List {
        /// Only active (true) or disabled (false) ones
        #[arg(long)]
        active: Option<bool>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one endpoint
    #[command(after_help = "Example:\n  temponest webhooks get 0193c1d2-...")]
    Get { id: String },
    /// Create an endpoint; its signing secret is shown this once
    #[command(after_help = "Examples:
  temponest webhooks create --name ops --endpoint-url https://ops.example.com/hooks \\
      --event agent.execution.failed --event schedule.completed
  temponest webhooks create -f webhook.yaml")]
    Create {
        #[command(flatten)]
        fields: WebhookFields,
    },
    /// Change an endpoint: only the fields given change
    #[command(after_help = "Example:\n  temponest webhooks update 0193c1d2-... --active true")]
    Update {
        id: String,
        #[command(flatten)]
        fields: WebhookFields,
        /// Enable (true) or disable (false)
        #[arg(long)]
        active: Option<bool>,
    },
    /// Delete an endpoint
    #[command(after_help = "Example:\n  temponest webhooks delete 0193c1d2-...")]
    Delete { id: String },
    /// Send a `webhook.test` event to an endpoint
    #[command(after_help = "Example:\n  temponest webhooks test 0193c1d2-...")]
    Test { id: String },
    /// An endpoint's deliveries, newest first
    #[command(
        after_help = "Example:\n  temponest webhooks deliveries 0193c1d2-... --status failed"
    )]
    Deliveries {
        id: String,
        /// pending | success | failed | retrying
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// One delivery with every attempt
    #[command(after_help = "Example:\n  temponest webhooks delivery 0193c1d2-...")]
    Delivery { delivery_id: String },
    /// Queue a finished delivery again
    #[command(after_help = "Example:\n  temponest webhooks retry 0193c1d2-...")]
    Retry { delivery_id: String },
    /// The event types an endpoint can subscribe to
    #[command(after_help = "Example:\n  temponest webhooks events")]
    Events,
}

/// An endpoint's fields as flags.
#[derive(Debug, clap::Args)]
pub struct WebhookFields {
    /// A JSON or YAML file with the endpoint's fields (`-` for stdin)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// Where deliveries are POSTed (`--url` is the platform's address)
    // Not a field named `url`: clap would make it the same argument as the global `--url`.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// An event type to deliver (repeatable)
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// A header sent with every delivery, NAME=VALUE (repeatable)
    #[arg(long = "header")]
    pub headers: Vec<String>,
    #[arg(long)]
    pub max_retries: Option<i64>,
    #[arg(long)]
    pub retry_delay_seconds: Option<i64>,
}

impl WebhookFields {
    fn body(self) -> Result<Map<String, Value>, CliError> {
        let mut body = file_fields(self.file.as_deref())?;
        set(&mut body, "name", self.name);
        set(&mut body, "url", self.endpoint_url);
        if !self.events.is_empty() {
            body.insert("events".into(), self.events.into());
        }
        if !self.headers.is_empty() {
            let mut headers = Map::new();
            for header in self.headers {
                let (name, value) = header.split_once('=').ok_or_else(|| {
                    CliError::Usage(format!("--header {header:?} must be NAME=VALUE"))
                })?;
                headers.insert(name.trim().to_owned(), value.into());
            }
            body.insert("headers".into(), Value::Object(headers));
        }
        if self.max_retries.is_some() || self.retry_delay_seconds.is_some() {
            let mut retry = Map::new();
            set(&mut retry, "max_retries", self.max_retries);
            set(&mut retry, "retry_delay_seconds", self.retry_delay_seconds);
            body.insert("retry_config".into(), Value::Object(retry));
        }
        Ok(body)
    }
}

impl Tabular for WebhookOut {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "URL", "EVENTS", "ACTIVE", "CREATED"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            short(&self.name, 30),
            self.url.clone(),
            self.events.join(","),
            match (&self.is_active, &self.disabled_reason) {
                (true, _) => "yes".into(),
                (false, Some(reason)) => format!("no ({})", short(reason, 30)),
                (false, None) => "no".into(),
            },
            ago(self.created_at),
        ]
    }
}

impl Tabular for DeliveryOut {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "EVENT",
        "STATUS",
        "OUTCOME",
        "HTTP",
        "ATTEMPTS",
        "CREATED",
        "DELIVERED",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.event_type.clone(),
            self.status.to_string(),
            or_dash(self.outcome.as_ref().map(label)),
            or_dash(self.response_status),
            self.attempt_count.to_string(),
            ago(self.created_at),
            ago_opt(self.delivered_at),
        ]
    }
}

impl Tabular for AttemptOut {
    const HEADERS: &'static [&'static str] = &["ATTEMPT", "STARTED", "MS", "HTTP", "ERROR"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.attempt.to_string(),
            ago(self.started_at),
            self.duration_ms.to_string(),
            or_dash(self.response_status),
            or_dash(self.error.as_deref().map(|e| short(e, 50))),
        ]
    }
}

pub async fn run(ctx: &Ctx, command: Webhooks) -> Result<(), CliError> {
    let api = &ctx.api;
    match command {
        Webhooks::List { active, paging } => {
            let query = paging.query_with([("is_active", active.map(|a| a.to_string()))]);
            list::<WebhookOut>(ctx, "/webhooks/", &query).await
        }
        Webhooks::Get { id } => show(ctx, &format!("/webhooks/{id}")).await,
        Webhooks::Create { fields } => {
            let body = fields.body()?;
            for (field, flag) in [
                ("name", "--name"),
                ("url", "--endpoint-url"),
                ("events", "--event"),
            ] {
                if !body.contains_key(field) {
                    return Err(CliError::Usage(format!(
                        "{flag} is required (or {field} in the --file)"
                    )));
                }
            }
            let created = api.post("/webhooks/", &Value::Object(body)).await?;
            ctx.out.object(&created)?;
            ctx.out
                .note("the secret is shown only this once: configure your receiver with it now");
            Ok(())
        }
        Webhooks::Update { id, fields, active } => {
            let mut body = fields.body()?;
            set(&mut body, "is_active", active);
            change(ctx, &format!("/webhooks/{id}"), body, FIELD_FLAGS).await
        }
        Webhooks::Delete { id } => remove(ctx, &format!("/webhooks/{id}"), "webhook", &id).await,
        Webhooks::Test { id } => act(ctx, &format!("/webhooks/{id}/test")).await,
        Webhooks::Deliveries { id, status, paging } => {
            let path = format!("/webhooks/{id}/deliveries");
            list::<DeliveryOut>(ctx, &path, &paging.query_with([("status", status)])).await
        }
        Webhooks::Delivery { delivery_id } => {
            let body = api
                .get(&format!("/webhooks/deliveries/{delivery_id}"), &[])
                .await?
                .body;
            if ctx.out.raw(&body)? {
                return Ok(());
            }
            let detail: DeliveryDetail = parse(&body)?;
            let mut summary = body.clone();
            if let Some(fields) = summary.as_object_mut() {
                fields.remove("attempts");
            }
            ctx.out.object(&summary)?;
            outln!();
            if detail.attempts.is_empty() {
                outln!("no attempts yet");
            } else {
                let rows = detail.attempts.iter().map(Tabular::cells).collect();
                ctx.out.table(AttemptOut::HEADERS, rows);
            }
            Ok(())
        }
        Webhooks::Retry { delivery_id } => {
            act(ctx, &format!("/webhooks/deliveries/{delivery_id}/retry")).await
        }
        Webhooks::Events => {
            let events = api.get("/webhooks/events", &[]).await?.body;
            if !ctx.out.raw(&events)? {
                for event in events.as_array().into_iter().flatten() {
                    outln!("{}", crate::client::output::scalar(event));
                }
            }
            Ok(())
        }
    }
}
