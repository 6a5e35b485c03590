//! `platform.idempotency_keys`.

use std::time::Duration;

use sqlx::PgPool;

/// A remembered request and, once finished, its response.
#[derive(Debug, Clone)]
pub struct Stored {
    pub request_hash: Vec<u8>,
    pub status: Option<i16>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Option<Vec<u8>>,
    pub replayable: bool,
}

/// Takes the key for a new request. True when this request owns it: the key is new, expired,
/// or held by a first attempt whose heartbeat stopped `in_flight_timeout` ago (its process
/// died).
pub async fn claim(
    pool: &PgPool,
    scope: &str,
    key: &str,
    request_hash: &[u8],
    ttl: Duration,
    in_flight_timeout: Duration,
) -> sqlx::Result<bool> {
    let owned = sqlx::query_scalar!(
        r#"insert into platform.idempotency_keys (scope, key, request_hash)
           values ($1, $2, $3)
           on conflict (scope, key) do update set
               request_hash = excluded.request_hash, status = null, content_type = null,
               location = null, body = null, replayable = true, created_at = now(),
               completed_at = null, heartbeat_at = now()
           where platform.idempotency_keys.created_at < now() - make_interval(secs => $4)
              or (platform.idempotency_keys.status is null
                  and platform.idempotency_keys.heartbeat_at < now() - make_interval(secs => $5))
           returning true as "owned!""#,
        scope,
        key,
        request_hash,
        ttl.as_secs_f64(),
        in_flight_timeout.as_secs_f64()
    )
    .fetch_optional(pool)
    .await?;
    Ok(owned.unwrap_or(false))
}

/// Proves an unfinished request is still running.
pub async fn heartbeat(pool: &PgPool, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update platform.idempotency_keys set heartbeat_at = now()
         where scope = $1 and key = $2 and status is null",
        scope,
        key
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn load(pool: &PgPool, scope: &str, key: &str) -> sqlx::Result<Option<Stored>> {
    sqlx::query_as!(
        Stored,
        "select request_hash, status, content_type, location, body, replayable
         from platform.idempotency_keys where scope = $1 and key = $2",
        scope,
        key
    )
    .fetch_optional(pool)
    .await
}

/// A finished response to remember. `body: None` records that the request completed but
/// its response must not be stored (it carried a one-time secret).
#[derive(Debug)]
pub struct Outcome<'a> {
    pub status: i16,
    pub content_type: Option<&'a str>,
    pub location: Option<&'a str>,
    pub body: Option<&'a [u8]>,
}

pub async fn complete(
    pool: &PgPool,
    scope: &str,
    key: &str,
    outcome: Outcome<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update platform.idempotency_keys
         set status = $3, content_type = $4, location = $5, body = $6, replayable = $7,
             completed_at = now()
         where scope = $1 and key = $2",
        scope,
        key,
        outcome.status,
        outcome.content_type,
        outcome.location,
        outcome.body,
        outcome.body.is_some()
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets an unfinished key so the client can retry with it.
pub async fn release(pool: &PgPool, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from platform.idempotency_keys where scope = $1 and key = $2 and status is null",
        scope,
        key
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_expired(pool: &PgPool, ttl: Duration) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "delete from platform.idempotency_keys where created_at < now() - make_interval(secs => $1)",
        ttl.as_secs_f64()
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
