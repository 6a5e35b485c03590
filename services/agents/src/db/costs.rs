//! `agents.cost_records` (one row per LLM call, purged after the retention period) and
//! `agents.price_overrides`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::execution::CallStatus;
use crate::domain::pricing::Price;

/// One LLM call's cost.
#[derive(Debug, Clone)]
pub struct CostRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub execution_id: Option<Uuid>,
    pub provider: String,
    pub model: String,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub cost_nanos: i64,
    pub unpriced: bool,
    pub usage_estimated: bool,
    pub price_source: Option<String>,
    pub duration_ms: i32,
    pub status: CallStatus,
    pub streamed: bool,
    /// The execution's project, if it named one.
    pub project_id: Option<String>,
    /// Whether the call holds a budget reservation to settle (not stored).
    pub reserved: bool,
}

/// Writes a call's cost record; whether it was written (`false`: it already was).
pub async fn insert(conn: &mut PgConnection, record: &CostRecord) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "insert into agents.cost_records (id, tenant_id, agent_id, execution_id, provider, model,
                prompt_tokens, completion_tokens, cost_nanos, unpriced, usage_estimated,
                price_source, duration_ms, status, streamed, project_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         on conflict (id) do nothing",
        record.id,
        record.tenant_id,
        record.agent_id,
        record.execution_id,
        record.provider,
        record.model,
        record.prompt_tokens,
        record.completion_tokens,
        record.cost_nanos,
        record.unpriced,
        record.usage_estimated,
        record.price_source,
        record.duration_ms,
        record.status as CallStatus,
        record.streamed,
        record.project_id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The cost records of one execution, oldest first.
pub async fn for_execution(
    pool: &PgPool,
    tenant_id: Uuid,
    execution_id: Uuid,
) -> sqlx::Result<Vec<CostRecord>> {
    sqlx::query_as!(
        CostRecord,
        r#"select id, tenant_id, agent_id, execution_id, provider, model, prompt_tokens,
                completion_tokens, cost_nanos, unpriced, usage_estimated, price_source,
                duration_ms, status as "status: CallStatus", streamed, project_id,
                -- a stored record's reservation was settled when it was written
                false as "reserved!"
         from agents.cost_records
         where tenant_id = $1 and execution_id = $2
         order by created_at, id"#,
        tenant_id,
        execution_id
    )
    .fetch_all(pool)
    .await
}

/// A tenant's own price for a model.
pub async fn price_override(
    pool: &PgPool,
    tenant_id: Uuid,
    model: &str,
) -> sqlx::Result<Option<Price>> {
    let row = sqlx::query!(
        "select input_usd_per_mtok, output_usd_per_mtok from agents.price_overrides
         where tenant_id = $1 and model = $2",
        tenant_id,
        model
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Price {
        input_usd_per_mtok: r.input_usd_per_mtok,
        output_usd_per_mtok: r.output_usd_per_mtok,
    }))
}

/// Every override of a tenant, by model.
pub async fn price_overrides(pool: &PgPool, tenant_id: Uuid) -> sqlx::Result<Vec<(String, Price)>> {
    let rows = sqlx::query!(
        "select model, input_usd_per_mtok, output_usd_per_mtok from agents.price_overrides
         where tenant_id = $1 order by model",
        tenant_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.model,
                Price {
                    input_usd_per_mtok: r.input_usd_per_mtok,
                    output_usd_per_mtok: r.output_usd_per_mtok,
                },
            )
        })
        .collect())
}

pub async fn set_price_override(
    pool: &PgPool,
    tenant_id: Uuid,
    model: &str,
    price: Price,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into agents.price_overrides (tenant_id, model, input_usd_per_mtok, output_usd_per_mtok)
         values ($1, $2, $3, $4)
         on conflict (tenant_id, model) do update
         set input_usd_per_mtok = excluded.input_usd_per_mtok,
             output_usd_per_mtok = excluded.output_usd_per_mtok, updated_at = now()",
        tenant_id,
        model,
        price.input_usd_per_mtok,
        price.output_usd_per_mtok
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes an override; false if there was none.
pub async fn delete_price_override(
    pool: &PgPool,
    tenant_id: Uuid,
    model: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from agents.price_overrides where tenant_id = $1 and model = $2",
        tenant_id,
        model
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes up to `limit` cost records created before `before`, oldest first
/// (`cost_records_created_idx`); rows another purge is deleting are skipped. Returns how many
/// went.
pub async fn purge_created_before(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    temponest_db::delete_batch!(pool, "agents.cost_records" by "id",
        where "created_at < $1 order by created_at limit $2",
        [before, limit])
    .await
}
