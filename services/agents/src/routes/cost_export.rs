//! `GET /costs/export?format=csv|json` (+ `start_date`/`end_date`, default the current UTC
//! month): one row per cost record of the period, oldest first, streamed as it is read
//! (never all held in memory). CSV has a header row and RFC 4180 quoting; `cost_usd` is the
//! exact decimal of the record's nano-dollars. A database error after the first bytes were
//! sent ends the body early (the client sees a truncated transfer); it is logged.

use std::fmt::Write as _;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use temponest_web::extract::ApiQuery;
use temponest_web::filters::filter_param;
use temponest_web::{ApiError, ApiResult};
use tokio::sync::mpsc;
use tracing::Instrument;
use uuid::Uuid;

use crate::db::cost_reports::{self, ExportRow};
use crate::domain::execution::CallStatus;
use crate::models::costs::PeriodQuery;
use crate::models::executions::nanos_to_usd;
use crate::routes::Call;
use temponest_platform::access::CostsRead;

/// The CSV columns, in order.
pub const CSV_HEADER: &str = "created_at,execution_id,agent_id,provider,model,input_tokens,output_tokens,cost_usd,unpriced,usage_estimated,status\r\n";

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 16 * 1024;

/// `GET /costs/export` query.
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    pub format: Option<String>,
    #[serde(flatten)]
    pub period: PeriodQuery,
}

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    /// `csv` (the default) or `json`; anything else is a 422 naming `format`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match filter_param(raw) {
            None | Some("csv") => Ok(Self::Csv),
            Some("json") => Ok(Self::Json),
            Some(_) => Err(ApiError::invalid_field("format", "must be csv or json")),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    fn head(self) -> &'static str {
        match self {
            Self::Csv => CSV_HEADER,
            Self::Json => "[",
        }
    }

    fn tail(self) -> &'static str {
        match self {
            Self::Csv => "",
            Self::Json => "]",
        }
    }

    /// Appends one row (`first`: no JSON separator before it).
    fn write_row(self, out: &mut String, row: &ExportRow, first: bool) {
        match self {
            Self::Csv => write_csv_row(out, row),
            Self::Json => {
                if !first {
                    out.push(',');
                }
                let json =
                    serde_json::to_string(&JsonRow::from(row)).expect("a cost row serializes");
                out.push_str(&json);
            }
        }
    }
}

/// One cost record in the JSON export.
#[derive(Debug, Serialize)]
struct JsonRow<'a> {
    created_at: DateTime<Utc>,
    execution_id: Option<Uuid>,
    agent_id: Uuid,
    provider: &'a str,
    model: &'a str,
    input_tokens: i32,
    output_tokens: i32,
    cost_usd: f64,
    unpriced: bool,
    usage_estimated: bool,
    status: CallStatus,
}

impl<'a> From<&'a ExportRow> for JsonRow<'a> {
    fn from(row: &'a ExportRow) -> Self {
        Self {
            created_at: row.created_at,
            execution_id: row.execution_id,
            agent_id: row.agent_id,
            provider: &row.provider,
            model: &row.model,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            cost_usd: nanos_to_usd(row.cost_nanos),
            unpriced: row.unpriced,
            usage_estimated: row.usage_estimated,
            status: row.status,
        }
    }
}

fn write_csv_row(out: &mut String, row: &ExportRow) {
    let _ = write!(
        out,
        "{},{},{},",
        row.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        row.execution_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        row.agent_id
    );
    push_csv_field(out, &row.provider);
    out.push(',');
    push_csv_field(out, &row.model);
    let _ = write!(
        out,
        ",{},{},{},{},{},{}\r\n",
        row.input_tokens,
        row.output_tokens,
        exact_usd(row.cost_nanos),
        row.unpriced,
        row.usage_estimated,
        row.status.as_str()
    );
}

/// A text CSV field (provider and model names are tenant-controlled): a leading `=`, `+`,
/// `-`, `@`, tab or carriage return is defused with a `'` so a spreadsheet does not run it as
/// a formula (OWASP CSV injection); quoted (quotes doubled) when it holds a comma, a quote or
/// a line break.
fn push_csv_field(out: &mut String, value: &str) {
    let defused;
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        defused = format!("'{value}");
        defused.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Nano-dollars as an exact decimal number of dollars (`0.000001500`).
fn exact_usd(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
}

/// Every cost record of a period as CSV (default) or a JSON array, streamed.
#[utoipa::path(get, path = "/costs/export", operation_id = "cost_export", tag = "costs", security(("bearer" = [])),
    params(("format" = Option<String>, Query, description = "csv (default) | json"),
           ("start_date" = Option<String>, Query), ("end_date" = Option<String>, Query)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403), (status = 422)))]
pub async fn export(call: Call<CostsRead, ApiQuery<ExportQuery>>) -> ApiResult<Response> {
    let (state, principal, ApiQuery(query)) = call.into_parts();
    let format = ExportFormat::parse(query.format.as_deref())?;
    let period = query.period.period(Utc::now())?;
    // The rows are read by a task of their own (the row stream borrows the pool) and handed
    // to the body through a small bounded channel: a slow client slows the reading.
    let (chunks, body) = mpsc::channel::<Result<Bytes, sqlx::Error>>(4);
    let pool = state.pool.clone();
    let tenant_id = principal.tenant_id;
    tokio::spawn(
        async move {
            let mut rows = cost_reports::export(&pool, tenant_id, period);
            let mut buf = String::from(format.head());
            let mut first = true;
            while let Some(row) = rows.next().await {
                match row {
                    Ok(row) => {
                        format.write_row(&mut buf, &row, first);
                        first = false;
                        if buf.len() >= CHUNK
                            && chunks
                                .send(Ok(Bytes::from(std::mem::take(&mut buf))))
                                .await
                                .is_err()
                        {
                            return; // the client went away
                        }
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "cost export failed mid-stream");
                        let _ = chunks.send(Err(err)).await;
                        return;
                    }
                }
            }
            buf.push_str(format.tail());
            let _ = chunks.send(Ok(Bytes::from(buf))).await;
        }
        .instrument(tracing::Span::current()),
    );
    // Fused: gzip compression polls the body once more after its end, and an unfused
    // `unfold` panics when polled again.
    let body = futures::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|chunk| (chunk, body))
    })
    .fuse();
    let extension = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Json => "json",
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"costs.{extension}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        let mut out = String::new();
        push_csv_field(&mut out, "plain-model");
        out.push('|');
        push_csv_field(&mut out, "a,\"b\"");
        out.push('|');
        push_csv_field(&mut out, "two\nlines");
        assert_eq!(out, "plain-model|\"a,\"\"b\"\"\"|\"two\nlines\"");
    }

    #[test]
    fn formula_like_fields_are_defused() {
        for (given, written) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("gpt-4o", "gpt-4o"),
        ] {
            let mut out = String::new();
            push_csv_field(&mut out, given);
            assert_eq!(out, written, "{given}");
        }
    }

    #[test]
    fn dollars_are_the_exact_decimal_of_the_nanos() {
        assert_eq!(exact_usd(0), "0.000000000");
        assert_eq!(exact_usd(1_500), "0.000001500");
        assert_eq!(exact_usd(12_000_000_001), "12.000000001");
        assert_eq!(exact_usd(-5), "-0.000000005");
    }

    #[test]
    fn only_csv_and_json_are_formats() {
        assert_eq!(ExportFormat::parse(None).unwrap(), ExportFormat::Csv);
        assert_eq!(
            ExportFormat::parse(Some("json")).unwrap(),
            ExportFormat::Json
        );
        assert!(ExportFormat::parse(Some("xml")).is_err());
    }
}
