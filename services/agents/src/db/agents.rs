//! `agents.agents`: tenant-scoped agent definitions with soft delete.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::models::AgentSpec;

/// One agent row.
#[derive(Debug, Clone)]
pub struct AgentRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub model: String,
    pub provider: String,
    pub system_prompt: Option<String>,
    pub tools: Vec<String>,
    pub rag_collection_ids: Vec<Uuid>,
    pub max_iterations: i32,
    pub temperature: f64,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// Every statement that reads or returns whole agent rows goes through `agent_rows!`.
temponest_db::define_rows! {
    $ agent_rows: AgentRow { id, tenant_id, name, description, model, provider, system_prompt,
                             tools, rag_collection_ids, max_iterations, temperature, metadata,
                             created_at, updated_at },
    columns: "id, tenant_id, name, description, model, provider, system_prompt, tools,
              rag_collection_ids, max_iterations, temperature, metadata, created_at,
              updated_at",
}

/// `statement` (returning the row) over an agent's definition, the argument list the insert
/// and the update share: `$1` id, `$2` tenant, `$3..$12` the spec (name, description, model,
/// provider, system prompt, tools, collections, iterations, temperature, metadata), then
/// `extra`.
macro_rules! agent_statement {
    ($statement:literal, $id:expr, $tenant_id:expr, $spec:expr $(, $extra:expr)*) => {{
        let spec: &AgentSpec = $spec;
        agent_rows!(
            returning $statement,
            $id,
            $tenant_id,
            spec.name,
            spec.description,
            spec.model,
            spec.provider,
            spec.system_prompt,
            &spec.tools,
            &spec.rag_collection_ids,
            spec.max_iterations,
            spec.temperature,
            spec.metadata
            $(, $extra)*
        )
    }};
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    tenant_id: Uuid,
    created_by: Uuid,
    spec: &AgentSpec,
) -> sqlx::Result<AgentRow> {
    agent_statement!(
        "insert into agents.agents (id, tenant_id, name, description, model, provider,
                system_prompt, tools, rag_collection_ids, max_iterations, temperature, metadata,
                created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        id,
        tenant_id,
        spec,
        created_by
    )
    .fetch_one(conn)
    .await
}

agent_rows!(find {
    table: "agents.agents",
    live: "deleted_at is null",
    metric: "agents",
    doc: "agent",
});

/// The tenant's live agents among `ids` (one query).
pub async fn live_among(
    pool: &PgPool,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<AgentRow>> {
    agent_rows!(
        select "from agents.agents where tenant_id = $1 and id = any($2) and deleted_at is null",
        tenant_id,
        ids
    )
    .fetch_all(pool)
    .await
}

/// The tenant's live agents newest first, optionally filtered by a case-insensitive substring
/// of name or description, with the total matching count.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    search: Option<&str>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<AgentRow>, i64)> {
    let pattern = search.map(temponest_db::contains_pattern);
    agent_rows!(
        page pool, "agents.list", skip, limit,
        from: "agents.agents
               where tenant_id = $1 and deleted_at is null
                 and ($2::text is null or name ilike $2 or description ilike $2)",
        order: "order by created_at desc, id desc offset $3 limit $4",
        filter: [tenant_id, pattern],
    )
    .await
}

/// Replaces the definition of a live agent (the caller has merged the patch).
pub async fn update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    spec: &AgentSpec,
) -> sqlx::Result<Option<AgentRow>> {
    agent_statement!(
        "update agents.agents
         set name = $3, description = $4, model = $5, provider = $6, system_prompt = $7,
             tools = $8, rag_collection_ids = $9, max_iterations = $10, temperature = $11,
             metadata = $12, updated_at = now()
         where id = $1 and tenant_id = $2 and deleted_at is null",
        id,
        tenant_id,
        spec
    )
    .fetch_optional(conn)
    .await
}

temponest_db::soft_delete! {
    table: "agents.agents",
    doc: "Soft-deletes a live agent; false if there was none.",
}
