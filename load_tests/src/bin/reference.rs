//! The reference the platform is measured against (issue 19): what a bare axum server does on
//! this machine with none of the platform's work. Two routes:
//!
//! - `GET /health`: a JSON body serialised per request by serde (the shape of the platform's
//!   `/health` report), no middleware at all;
//! - `GET /agents/{id}`: a primary-key lookup of one row of `agents.agents` through a sqlx pool
//!   (the same columns the platform reads), serialised to the same JSON shape as the platform's
//!   `AgentOut`; 404 when there is no such row. No authentication, no tenant check, no cache.
//! - `POST /events` (with `--deliver-to URL`): the least a durable webhook relay does. One
//!   insert of the event into `load_reference.events` (an autocommitted statement, so a
//!   synchronous, fsync'd commit as configured), then a `202`, and the event POSTed to `URL`
//!   by a spawned task over a kept-alive connection, with the event id in `webhook-id`. No
//!   authentication, no fan-out to endpoints, no signature, no attempt record, no retries.
//!   `created_at` is `now()` of that insert, as `platform.outbox.created_at` is of the
//!   platform's, so commit-to-receipt is measured the same way on both sides.
//!
//! `reference --port P` with `DATABASE_URL` set (the platform's own load-test database) and
//! `DATABASE_MAX_CONNECTIONS` (default 32, what `load_tests/run.sh` gives the platform: both
//! pools together fit in a stock Postgres's 100 connections).
//! `load_tests/side-by-side.sh` starts it beside `temponest serve` and measures both, and
//! `load_tests/webhooks-side-by-side.sh` does the same for the webhook path.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use clap::Parser;
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 19300)]
    port: u16,
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 32)]
    max_connections: u32,
    /// Where `POST /events` delivers each event (the route exists only with this).
    #[arg(long)]
    deliver_to: Option<String>,
}

#[derive(Clone)]
struct Relay {
    pool: PgPool,
    client: reqwest::Client,
    url: String,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    database: &'static str,
    redis: &'static str,
}

#[derive(Serialize)]
struct Agent {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    description: Option<String>,
    model: String,
    provider: String,
    system_prompt: Option<String>,
    tools: Vec<String>,
    rag_collection_ids: Vec<Uuid>,
    max_iterations: i32,
    temperature: f64,
    metadata: serde_json::Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn health() -> Response {
    let report = Health {
        status: "healthy",
        service: "reference",
        version: env!("CARGO_PKG_VERSION"),
        checks: Checks {
            database: "ok",
            redis: "ok",
        },
    };
    json(
        StatusCode::OK,
        serde_json::to_vec(&report).unwrap_or_default(),
    )
}

async fn agent(State(pool): State<PgPool>, Path(id): Path<Uuid>) -> Response {
    let row = sqlx::query(
        "select id, tenant_id, name, description, model, provider, system_prompt, tools, \
         rag_collection_ids, max_iterations, temperature, metadata, created_at, updated_at \
         from agents.agents where id = $1",
    )
    .bind(id)
    .fetch_optional(&pool)
    .await;
    let decoded = row.and_then(|row| {
        row.map(|r| {
            Ok::<_, sqlx::Error>(Agent {
                id: r.try_get("id")?,
                tenant_id: r.try_get("tenant_id")?,
                name: r.try_get("name")?,
                description: r.try_get("description")?,
                model: r.try_get("model")?,
                provider: r.try_get("provider")?,
                system_prompt: r.try_get("system_prompt")?,
                tools: r.try_get("tools")?,
                rag_collection_ids: r.try_get("rag_collection_ids")?,
                max_iterations: r.try_get("max_iterations")?,
                temperature: r.try_get("temperature")?,
                metadata: r.try_get("metadata")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    });
    match decoded {
        Ok(Some(agent)) => json(
            StatusCode::OK,
            serde_json::to_vec(&agent).unwrap_or_default(),
        ),
        Ok(None) => json(
            StatusCode::NOT_FOUND,
            br#"{"detail":"Agent not found"}"#.to_vec(),
        ),
        Err(error) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::to_vec(&serde_json::json!({"detail": error.to_string()}))
                .unwrap_or_default(),
        ),
    }
}

/// `POST /events`: insert (durably committed), answer `202`, deliver in the background.
async fn publish(State(relay): State<Relay>, body: axum::body::Bytes) -> Response {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return json(
            StatusCode::UNPROCESSABLE_ENTITY,
            br#"{"detail":"not JSON"}"#.to_vec(),
        );
    };
    let inserted = sqlx::query_scalar::<_, Uuid>(
        "insert into load_reference.events (event_id, payload) values ($1, $2) returning event_id",
    )
    .bind(Uuid::new_v4())
    .bind(&payload)
    .fetch_one(&relay.pool)
    .await;
    let event_id = match inserted {
        Ok(id) => id,
        Err(error) => {
            let body = serde_json::json!({"detail": error.to_string()});
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::to_vec(&body).unwrap_or_default(),
            );
        }
    };
    let request = relay
        .client
        .post(&relay.url)
        .header("webhook-id", event_id.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    tokio::spawn(async move {
        if let Err(error) = request.send().await {
            eprintln!("reference: delivery of {event_id} failed: {error}");
        }
    });
    json(
        StatusCode::ACCEPTED,
        format!(r#"{{"event_id":"{event_id}"}}"#).into_bytes(),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let pool = PgPoolOptions::new()
        .max_connections(args.max_connections)
        .connect(&args.database_url)
        .await?;
    let mut app = Router::new()
        .route("/health", get(health))
        .route("/agents/{id}", get(agent))
        .with_state(pool.clone());
    if let Some(url) = args.deliver_to {
        sqlx::raw_sql(
            "create schema if not exists load_reference;
             create table if not exists load_reference.events (
               event_id uuid primary key,
               created_at timestamptz not null default now(),
               payload jsonb not null)",
        )
        .execute(&pool)
        .await?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let relay = Relay { pool, client, url };
        app = app.merge(
            Router::new()
                .route("/events", post(publish))
                .with_state(relay),
        );
    }
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    eprintln!("reference listening on 127.0.0.1:{}", args.port);
    axum::serve(listener, app).await?;
    Ok(())
}
