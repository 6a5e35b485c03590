//! `webhooks.endpoints` for the API: tenant-scoped CRUD with soft delete.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::models::EndpointSpec;

/// One endpoint row (as the API shows it).
#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub is_active: bool,
    pub headers: serde_json::Value,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// Every statement that reads or returns whole endpoint rows goes through `endpoint_rows!`.
temponest_db::define_rows! {
    $ endpoint_rows: EndpointRow { id, tenant_id, name, url, events, is_active, headers,
                                   max_retries, retry_delay_seconds, disabled_reason, created_at,
                                   updated_at },
    columns: "id, tenant_id, name, url, events, is_active, headers, max_retries,
              retry_delay_seconds, disabled_reason, created_at, updated_at",
}

/// Counts the tenant's live endpoints after taking a transaction-scoped lock on the tenant's
/// endpoint set, so concurrent creations cannot both pass a cap check.
pub async fn lock_and_count_live(conn: &mut PgConnection, tenant_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('webhooks.endpoints:' || $1::text, 0))",
        tenant_id.to_string()
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from webhooks.endpoints
           where tenant_id = $1 and deleted_at is null"#,
        tenant_id
    )
    .fetch_one(conn)
    .await
}

/// `statement` (returning the row) over an endpoint's definition, the argument list the
/// insert and the update share: `$1` id, `$2` tenant, `$3..$9` the spec (name, URL, events,
/// active, headers, retries, retry delay), then `extra`.
macro_rules! endpoint_statement {
    ($statement:literal, $id:expr, $tenant_id:expr, $spec:expr $(, $extra:expr)*) => {{
        let spec: &EndpointSpec = $spec;
        endpoint_rows!(
            returning $statement,
            $id,
            $tenant_id,
            spec.name,
            spec.url,
            &spec.events,
            spec.is_active,
            spec.headers,
            spec.max_retries,
            spec.retry_delay_seconds
            $(, $extra)*
        )
    }};
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    tenant_id: Uuid,
    spec: &EndpointSpec,
) -> sqlx::Result<EndpointRow> {
    endpoint_statement!(
        "insert into webhooks.endpoints (id, tenant_id, name, url, events, is_active, headers,
                max_retries, retry_delay_seconds)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id,
        tenant_id,
        spec
    )
    .fetch_one(conn)
    .await
}

endpoint_rows!(find {
    table: "webhooks.endpoints",
    live: "deleted_at is null",
    metric: "webhooks.endpoints",
    doc: "endpoint",
});

/// The tenant's live endpoints newest first, optionally only active or inactive ones, with
/// the total matching count.
pub async fn list(
    pool: &PgPool,
    tenant_id: Uuid,
    is_active: Option<bool>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<(Vec<EndpointRow>, i64)> {
    endpoint_rows!(
        page pool, "webhooks.endpoints.list", skip, limit,
        from: "webhooks.endpoints
               where tenant_id = $1 and deleted_at is null
                 and ($2::boolean is null or is_active = $2)",
        order: "order by created_at desc, id desc offset $3 limit $4",
        filter: [tenant_id, is_active],
    )
    .await
}

/// Replaces the definition of a live endpoint (the caller has merged the patch). `reactivate`
/// (the patch set `is_active: true`) also clears what the service recorded when it disabled
/// the endpoint.
pub async fn update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    spec: &EndpointSpec,
    reactivate: bool,
) -> sqlx::Result<Option<EndpointRow>> {
    endpoint_statement!(
        "update webhooks.endpoints
         set name = $3, url = $4, events = $5, is_active = $6, headers = $7, max_retries = $8,
             retry_delay_seconds = $9,
             disabled_reason = case when $10 then null else disabled_reason end,
             disabled_at = case when $10 then null else disabled_at end,
             failing_since = case when $10 then null else failing_since end,
             updated_at = now()
         where id = $1 and tenant_id = $2 and deleted_at is null",
        id,
        tenant_id,
        spec,
        reactivate
    )
    .fetch_optional(conn)
    .await
}

temponest_db::soft_delete! {
    table: "webhooks.endpoints",
    doc: "Soft-deletes a live endpoint (which also takes it out of the fan-out); false if there \
          was none.",
}
