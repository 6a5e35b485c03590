//! Aggregates of `agents.cost_records` for the cost reports, in integer nano-dollars summed in
//! SQL. A period's whole UTC hours are read from the hourly roll-up `agents.cost_hourly`
//! (kept equal to the raw rows by triggers in the writing transaction; its primary key
//! starts with `(tenant_id, hour)`), and only the partial hours at its edges from the raw
//! rows (`cost_records_tenant_created_idx`, or the agent/project indexes when those filters
//! are given): a month of a busy tenant is a few thousand roll-up rows, not a million records.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::cost_reports::{Bucket, Period, Usage};
use crate::domain::execution::CallStatus;

/// The usage of one group of a summary, and which dimension it groups by.
#[derive(Debug, Clone)]
pub struct SummaryGroup {
    pub dimension: Option<Dimension>,
    /// The provider, model or agent id (None for the whole period).
    pub key: Option<String>,
    pub usage: Usage,
    pub unpriced_calls: i64,
}

/// What a breakdown groups cost records by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Agent,
    Provider,
    Model,
}

impl Dimension {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Provider => "provider",
            Self::Model => "model",
        }
    }
}

/// The summary of a period: one group per provider, per model and per agent, and the
/// whole period (`dimension: None`), in one scan (grouping sets) of the hourly roll-up for the
/// period's whole hours and of the raw records for the partial hours at its edges.
///
/// Runtime-built SQL: the agent and project filters are added only when given. With
/// `($n is null or col = $n)` in one static statement, Postgres switches to a generic plan
/// after a few executions on a connection, and that plan cannot use the filter's index.
pub async fn summary(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
    agent_id: Option<Uuid>,
    project_id: Option<&str>,
) -> sqlx::Result<Vec<SummaryGroup>> {
    let (from, to) = period.whole_hours();
    let mut sql = QueryBuilder::<Postgres>::new(
        "select grouping(provider, model, agent_id) as grouping, provider, model, agent_id,
                coalesce(sum(cost_nanos), 0)::bigint as cost_nanos,
                coalesce(sum(calls), 0)::bigint as calls,
                coalesce(sum(input_tokens), 0)::bigint as input_tokens,
                coalesce(sum(output_tokens), 0)::bigint as output_tokens,
                coalesce(sum(unpriced_calls), 0)::bigint as unpriced_calls
         from (select provider, model, agent_id, cost_nanos, calls, input_tokens,
                      output_tokens, unpriced_calls
               from agents.cost_hourly where tenant_id = ",
    );
    sql.push_bind(tenant_id)
        .push(" and hour >= ")
        .push_bind(from)
        .push(" and hour < ")
        .push_bind(to);
    push_filters(&mut sql, agent_id, project_id);
    for (edge_start, edge_end) in [(period.start, from), (to, period.end)] {
        if edge_start >= edge_end {
            continue;
        }
        sql.push(
            " union all
             select provider, model, agent_id, cost_nanos, 1, prompt_tokens, completion_tokens,
                    unpriced::int
             from agents.cost_records where tenant_id = ",
        );
        sql.push_bind(tenant_id)
            .push(" and created_at >= ")
            .push_bind(edge_start)
            .push(" and created_at < ")
            .push_bind(edge_end);
        push_filters(&mut sql, agent_id, project_id);
    }
    sql.push(") as usage group by grouping sets ((provider), (model), (agent_id), ())");
    let rows: Vec<SummaryRow> = sql.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().map(SummaryGroup::from).collect())
}

/// Adds the summary's agent and project filters (those given) to one part of its union.
fn push_filters(
    sql: &mut QueryBuilder<Postgres>,
    agent_id: Option<Uuid>,
    project_id: Option<&str>,
) {
    if let Some(agent_id) = agent_id {
        sql.push(" and agent_id = ").push_bind(agent_id);
    }
    if let Some(project_id) = project_id {
        sql.push(" and project_id = ").push_bind(project_id);
    }
}

/// A row of [`summary`]: the columns it is not grouped by are null.
#[derive(Debug, sqlx::FromRow)]
struct SummaryRow {
    grouping: i32,
    provider: Option<String>,
    model: Option<String>,
    agent_id: Option<Uuid>,
    cost_nanos: i64,
    calls: i64,
    input_tokens: i64,
    output_tokens: i64,
    unpriced_calls: i64,
}

impl From<SummaryRow> for SummaryGroup {
    fn from(r: SummaryRow) -> Self {
        // grouping() sets a bit for each column the row is NOT grouped by.
        let (dimension, key) = match r.grouping {
            0b011 => (Some(Dimension::Provider), r.provider),
            0b101 => (Some(Dimension::Model), r.model),
            0b110 => (Some(Dimension::Agent), r.agent_id.map(|id| id.to_string())),
            _ => (None, None),
        };
        Self {
            dimension,
            key,
            usage: Usage::new(r.cost_nanos, r.calls, r.input_tokens, r.output_tokens),
            unpriced_calls: r.unpriced_calls,
        }
    }
}

/// The usage of a period grouped by `key` (`select <key> as "key!", <the usage sums>`), in
/// the order (and cut) of `tail`: the hourly roll-up's rows (their `columns`) for the period's
/// whole hours with the raw records' (the same columns, `raw_columns`) for the partial hours
/// at its edges. Parameters: `$1` the tenant, `$2`/`$3` the period, `$4`/`$5` its whole hours,
/// then `args` from `$6`. Evaluates to `sqlx::Result<Vec<(key, Usage)>>`.
macro_rules! usage_by {
    (
        $pool:expr, $tenant_id:expr, $period:expr,
        key: $key:literal,
        columns: $columns:literal,
        raw_columns: $raw_columns:literal,
        tail: $tail:literal
        $(, $arg:expr)* $(,)?
    ) => {
        async {
            let period: Period = $period;
            let (from, to) = period.whole_hours();
            let rows = sqlx::query!(
                "select " + $key + r#" as "key!",
                coalesce(sum(cost_nanos), 0)::bigint as "cost_nanos!",
                coalesce(sum(calls), 0)::bigint as "calls!",
                coalesce(sum(input_tokens), 0)::bigint as "input_tokens!",
                coalesce(sum(output_tokens), 0)::bigint as "output_tokens!"
         from (select "# + $columns + ", cost_nanos, calls, input_tokens, output_tokens
               from agents.cost_hourly where tenant_id = $1 and hour >= $4 and hour < $5
               union all
               select " + $raw_columns + ", cost_nanos, 1, prompt_tokens, completion_tokens
               from agents.cost_records
               where tenant_id = $1
                 and ((created_at >= $2 and created_at < $4)
                   or (created_at >= $5 and created_at < $3))) as usage
         group by 1
         " + $tail,
                $tenant_id,
                period.start,
                period.end,
                from,
                to
                $(, $arg)*
            )
            .fetch_all($pool)
            .await?;
            sqlx::Result::Ok(
                rows.into_iter()
                    .map(|r| {
                        let usage = Usage::new(r.cost_nanos, r.calls, r.input_tokens, r.output_tokens);
                        (r.key, usage)
                    })
                    .collect(),
            )
        }
    };
}

/// The usage of each day (hour) of a period that has cost records, oldest first; each
/// bucket is named by its start in UTC. Whole hours come from the hourly roll-up, the partial
/// hours at the period's edges from the raw records.
pub async fn buckets(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
    bucket: Bucket,
) -> sqlx::Result<Vec<(DateTime<Utc>, Usage)>> {
    usage_by!(
        pool, tenant_id, period,
        key: "date_trunc($6, at, 'UTC')",
        columns: "hour as at",
        raw_columns: "created_at",
        tail: "order by 1",
        bucket.as_str()
    )
    .await
}

/// The `top_n` agents (providers, models) of a period by spend, most first (ties by key);
/// read like [`buckets`].
pub async fn breakdown(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
    dimension: Dimension,
    top_n: i64,
) -> sqlx::Result<Vec<(String, Usage)>> {
    usage_by!(
        pool, tenant_id, period,
        key: "case $6::text when 'agent' then agent_id::text
                            when 'provider' then provider
                            else model end",
        columns: "agent_id, provider, model",
        raw_columns: "agent_id, provider, model",
        tail: "order by 2 desc, 1
         limit $7",
        dimension.as_str(),
        top_n
    )
    .await
}

/// One cost record as exported.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub created_at: DateTime<Utc>,
    pub execution_id: Option<Uuid>,
    pub agent_id: Uuid,
    pub provider: String,
    pub model: String,
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub cost_nanos: i64,
    pub unpriced: bool,
    pub usage_estimated: bool,
    pub status: CallStatus,
}

/// Every cost record of a period, oldest first, as a stream (rows are read as they are
/// sent, never all held in memory).
pub fn export(
    pool: &PgPool,
    tenant_id: Uuid,
    period: Period,
) -> BoxStream<'_, sqlx::Result<ExportRow>> {
    sqlx::query_as!(
        ExportRow,
        r#"select created_at, execution_id, agent_id, provider, model,
                prompt_tokens as input_tokens, completion_tokens as output_tokens, cost_nanos,
                unpriced, usage_estimated, status as "status: CallStatus"
         from agents.cost_records
         where tenant_id = $1 and created_at >= $2 and created_at < $3
         order by created_at, id"#,
        tenant_id,
        period.start,
        period.end
    )
    .fetch(pool)
}
