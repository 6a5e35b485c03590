//! The cost reports over HTTP: each endpoint's arithmetic against cost rows written by hand
//! at chosen instants (UTC day, hour and month boundaries), tenant isolation, permissions,
//! the 422s, the CSV/JSON export, and the project of a real execution.
//!
//! This module holds the fixtures; the tests are in its submodules.

mod access;
mod reports;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::TestApp;

/// One hand-made cost record (the tenant and instant are given apart; the dashboard's tests
/// use them too).
#[derive(Clone, Copy)]
pub(crate) struct Spend<'a> {
    pub(crate) agent: Uuid,
    pub(crate) provider: &'a str,
    pub(crate) model: &'a str,
    pub(crate) input: i32,
    pub(crate) output: i32,
    pub(crate) nanos: i64,
    pub(crate) unpriced: bool,
}

/// Every report path.
const REPORTS: [&str; 8] = [
    "/costs/summary",
    "/costs/daily",
    "/costs/hourly",
    "/costs/by-agent",
    "/costs/by-provider",
    "/costs/by-model",
    "/costs/forecast",
    "/costs/export",
];

const A1: Uuid = Uuid::from_u128(0xa1);
const A2: Uuid = Uuid::from_u128(0xa2);

pub(crate) const GPT: Spend<'static> = Spend {
    agent: A1,
    provider: "openai",
    model: "gpt-4o",
    input: 0,
    output: 0,
    nanos: 0,
    unpriced: false,
};

/// Asserts that `token` (an API key without the `costs:read` scope) is refused `GET path` with a
/// 403 naming the scope.
pub(crate) async fn needs_costs_read(app: &TestApp, token: &str, path: &str) {
    let request = format!("GET {path}");
    app.refused(token, &request, None, 403, "costs:read").await;
}

/// A new API key of the caller's tenant holding only `scope`.
pub(crate) async fn api_key(app: &TestApp, token: &str, scope: &str) -> String {
    let body = serde_json::json!({"name": "reports", "scopes": [scope]});
    app.create(token, "/api-keys", &body).await["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).unwrap().to_utc()
}

pub(crate) async fn record(pool: &PgPool, tenant: &str, at: DateTime<Utc>, s: Spend<'_>) {
    let tenant: Uuid = tenant.parse().unwrap();
    sqlx::query(
        "insert into agents.cost_records (id, tenant_id, agent_id, execution_id, provider, model,
                prompt_tokens, completion_tokens, cost_nanos, unpriced, usage_estimated,
                price_source, duration_ms, status, streamed, created_at)
         values ($1, $2, $3, null, $4, $5, $6, $7, $8, $9, false, null, 10, 'success', false, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(s.agent)
    .bind(s.provider)
    .bind(s.model)
    .bind(s.input)
    .bind(s.output)
    .bind(s.nanos)
    .bind(s.unpriced)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

/// Around the turn from November to December 2026: tenant A's five calls, tenant B's one.
async fn november_to_december(app: &TestApp, a: &str, b: &str) {
    let pool = &app.pool;
    let sonnet = Spend {
        agent: A2,
        provider: "anthropic",
        model: "claude-sonnet",
        ..GPT
    };
    let calls = [
        (
            "2026-11-30T23:59:59Z",
            Spend {
                input: 100,
                output: 50,
                nanos: 1_000_000_000,
                ..GPT
            },
        ),
        (
            "2026-12-01T00:00:00Z",
            Spend {
                input: 10,
                output: 5,
                nanos: 250_000_000,
                ..GPT
            },
        ),
        (
            "2026-12-01T12:00:00Z",
            Spend {
                input: 20,
                output: 10,
                nanos: 500_000_000,
                ..sonnet
            },
        ),
        (
            "2026-12-02T23:59:59Z",
            Spend {
                agent: A2,
                model: "mystery",
                input: 7,
                output: 3,
                unpriced: true,
                ..GPT
            },
        ),
        (
            "2026-12-03T00:00:00Z",
            Spend {
                input: 1,
                output: 1,
                nanos: 2_000_000_000,
                ..GPT
            },
        ),
    ];
    for (when, spend) in calls {
        record(pool, a, at(when), spend).await;
    }
    record(
        pool,
        b,
        at("2026-12-01T06:00:00Z"),
        Spend {
            nanos: 9_000_000_000,
            ..GPT
        },
    )
    .await;
}
