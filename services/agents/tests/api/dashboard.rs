//! The dashboard over HTTP: its arithmetic against executions, cost records and scheduled
//! runs written by hand at chosen instants of the last 24 UTC hours (and just before them),
//! tenant isolation, the permission, the 30 s cache; and the cost-record retention purge.
//!
//! Fixtures are placed relative to the start of the current UTC hour, a minute or more away
//! from any bucket edge except the period's first instant, which is included on purpose.

use chrono::{DateTime, Duration, DurationRound, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_agents::domain::cost_retention;
use uuid::Uuid;

use crate::costs::{GPT, Spend, api_key, at, record};
use crate::helpers::{TestApp, spawn, spawn_ada};

/// Agents of tenant A (`A1`…`A6`) and of tenant B.
fn agent(n: u128) -> Uuid {
    Uuid::from_u128(0xa0 + n)
}
const B_AGENT: Uuid = Uuid::from_u128(0xb1);

fn tenant(session: &str) -> Uuid {
    session.parse().unwrap()
}

async fn insert_agent(pool: &PgPool, tenant_id: Uuid, id: Uuid) {
    sqlx::query(
        "insert into agents.agents (id, tenant_id, name, model, provider)
         values ($1, $2, $3, 'echo-1', 'echo')",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(id.to_string())
    .execute(pool)
    .await
    .unwrap();
}

/// An execution created at `created`; completed and failed ones ran for `ms` from then.
async fn execution(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Uuid,
    status: &str,
    created: DateTime<Utc>,
    ms: i64,
) {
    let finished = matches!(status, "completed" | "failed");
    sqlx::query(
        "insert into agents.executions (id, tenant_id, agent_id, status, user_message, provider,
                model, created_at, started_at, completed_at)
         values ($1, $2, $3, $4, 'hi', 'echo', 'echo-1', $5, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant_id)
    .bind(agent_id)
    .bind(status)
    .bind(created)
    .bind(finished.then(|| created + Duration::milliseconds(ms)))
    .execute(pool)
    .await
    .unwrap();
}

/// A run of a (new) schedule of `agent_id`, created at `created`.
async fn scheduled_run(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Uuid,
    status: &str,
    created: DateTime<Utc>,
) {
    let schedule_id = Uuid::now_v7();
    sqlx::query(
        "insert into scheduler.schedules (id, tenant_id, agent_id, name, schedule_type,
                interval_seconds, anchor, task_config)
         values ($1, $2, $3, 'every minute', 'interval', 60, $4, '{}')",
    )
    .bind(schedule_id)
    .bind(tenant_id)
    .bind(agent_id)
    .bind(created)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into scheduler.executions (id, tenant_id, schedule_id, agent_id, trigger,
                fire_time, status, max_retries, retry_delay_seconds, timeout_seconds,
                overlap_policy, task_config, run_after, created_at)
         values ($1, $2, $3, $4, 'schedule', $5, $6, 0, 60, 300, 'skip', '{}', $5, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant_id)
    .bind(schedule_id)
    .bind(agent_id)
    .bind(created)
    .bind(status)
    .execute(pool)
    .await
    .unwrap();
}

fn spend(agent: Uuid, nanos: i64) -> Spend<'static> {
    Spend {
        agent,
        nanos,
        ..GPT
    }
}

/// Tenant A: 9 executions in the period (1 pending, 1 running, 4 completed taking 1, 2, 3
/// and 4 s, 3 failed: A2 twice, A1 once), 6 agents' spend, 5 scheduled runs (3 completed,
/// 1 failed, 1 running); before the period, a slow completed execution, a failure, 1 $ of
/// A6 and a completed run. Tenant B: one failed execution, 5 $ and one failed run.
async fn fixtures(app: &TestApp, a: Uuid, b: Uuid, hour: DateTime<Utc>) {
    let pool = &app.pool;
    let h = |hours: i64, minutes: i64| hour - Duration::hours(hours) + Duration::minutes(minutes);
    for n in 1..=6 {
        insert_agent(pool, a, agent(n)).await;
    }
    insert_agent(pool, b, B_AGENT).await;

    execution(pool, a, agent(1), "pending", h(0, 0), 0).await;
    execution(pool, a, agent(3), "running", h(1, 5), 0).await;
    for (i, ms) in [1_000, 2_000, 3_000, 4_000].into_iter().enumerate() {
        execution(
            pool,
            a,
            agent(1 + i as u128 % 2),
            "completed",
            h(2 + i as i64, 5),
            ms,
        )
        .await;
    }
    execution(pool, a, agent(1), "failed", h(6, 5), 10).await;
    execution(pool, a, agent(2), "failed", h(7, 5), 10).await;
    execution(pool, a, agent(2), "failed", h(22, 59), 10).await;
    execution(pool, a, agent(1), "completed", h(23, -1), 100_000).await;
    execution(pool, a, agent(3), "failed", h(30, 0), 10).await;
    execution(pool, b, B_AGENT, "failed", h(3, 0), 10).await;

    let spent = [
        (h(1, 5), spend(agent(1), 100_000_000)),
        (h(2, 5), spend(agent(2), 200_000_000)),
        (h(2, 10), spend(agent(2), 300_000_000)),
        (h(5, 0), spend(agent(3), 300_000_000)),
        (h(23, 0), spend(agent(4), 400_000_000)),
        (h(10, 1), spend(agent(5), 50_000_000)),
        (h(10, 30), spend(agent(6), 60_000_000)),
        (
            h(23, 0) - Duration::seconds(1),
            spend(agent(6), 1_000_000_000),
        ),
    ];
    for (t, s) in spent {
        record(pool, &a.to_string(), t, s).await;
    }
    record(
        pool,
        &b.to_string(),
        h(4, 0),
        spend(agent(1), 5_000_000_000),
    )
    .await;

    for (status, t) in [
        ("completed", h(1, 0)),
        ("completed", h(8, 0)),
        ("completed", h(12, 0)),
    ] {
        scheduled_run(pool, a, agent(1), status, t).await;
    }
    scheduled_run(pool, a, agent(1), "failed", h(20, 0)).await;
    scheduled_run(pool, a, agent(1), "running", h(1, 1)).await;
    scheduled_run(pool, a, agent(1), "completed", h(24, 0)).await;
    scheduled_run(pool, b, B_AGENT, "failed", h(2, 0)).await;
}

/// The 24 hourly amounts (oldest first) of a dashboard.
fn hourly(body: &Value) -> Vec<f64> {
    body["cost_per_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["total_usd"].as_f64().unwrap())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    at(value.as_str().unwrap())
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_dashboard_adds_up_the_last_24_hours_of_one_tenant(pool: PgPool) {
    let app = spawn(pool).await;
    // The fixtures sit at instants relative to the current UTC hour, and the dashboard's
    // window moves with the clock. If the hour turns between placing them and reading them
    // (the window reports a different start), start again with new tenants (the first ones'
    // dashboards are cached) and fixtures placed in the new hour.
    let mut attempt = 0;
    let (bob, cid, hour, body) = loop {
        attempt += 1;
        let ada = app.signup(&format!("ada{attempt}@example.com")).await;
        let bob = app.signup(&format!("bob{attempt}@example.com")).await;
        let cid = app.signup(&format!("cid{attempt}@example.com")).await;
        let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
        fixtures(&app, tenant(&ada.tenant_id), tenant(&bob.tenant_id), hour).await;
        let body = app.fetch(&ada.token, "/dashboard/metrics").await;
        if time(&body["period_start"]) == hour - Duration::hours(23) {
            break (bob, cid, hour, body);
        }
        assert!(
            attempt < 3,
            "the UTC hour turned during every attempt: {body}"
        );
        sqlx::query(
            "truncate agents.cost_records, agents.executions, scheduler.executions, \
             scheduler.schedules, agents.agents cascade",
        )
        .execute(&app.pool)
        .await
        .unwrap();
    };

    assert_eq!(body["executions_total"], 9, "{body}");
    let share = |status: &str| {
        let entry = &body["status_distribution"][status];
        (
            entry["count"].as_i64().unwrap(),
            entry["percentage"].as_f64().unwrap(),
        )
    };
    assert_eq!(share("pending"), (1, 1.0 / 9.0));
    assert_eq!(share("running"), (1, 1.0 / 9.0));
    assert_eq!(share("completed"), (4, 4.0 / 9.0));
    assert_eq!(share("failed"), (3, 3.0 / 9.0));
    assert_eq!(body["duration_ms"]["avg"], 2_500.0);
    // percentile_cont(0.95) of 1, 2, 3, 4 s: 3 s + 0.85 × (4 s − 3 s).
    let p95 = body["duration_ms"]["p95"].as_f64().unwrap();
    assert!((p95 - 3_850.0).abs() < 1e-6, "{p95}");

    let mut expected = vec![0.0; 24];
    expected[0] = 0.4; // the period's first instant is in it
    expected[13] = 0.11;
    expected[18] = 0.3;
    expected[21] = 0.5;
    expected[22] = 0.1;
    assert_eq!(hourly(&body), expected);
    let hours = body["cost_per_hour"].as_array().unwrap();
    assert_eq!(time(&hours[0]["hour"]), hour - Duration::hours(23));
    assert_eq!(time(&hours[23]["hour"]), hour);
    assert_eq!(time(&body["period_start"]), hour - Duration::hours(23));
    assert!(time(&body["period_end"]) >= hour);
    assert_eq!(body["timezone"], "UTC");

    let top: Vec<(String, f64)> = body["top_agents_by_cost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["agent_id"].as_str().unwrap().to_owned(),
                e["total_usd"].as_f64().unwrap(),
            )
        })
        .collect();
    let named = |n: u128, usd: f64| (agent(n).to_string(), usd);
    assert_eq!(
        top,
        [
            named(2, 0.5),
            named(4, 0.4),
            named(3, 0.3),
            named(1, 0.1),
            named(6, 0.06)
        ]
    );
    assert_eq!(
        body["top_agents_by_failures"],
        json!([
            {"agent_id": agent(2), "failures": 2},
            {"agent_id": agent(1), "failures": 1},
        ])
    );
    assert_eq!(
        body["scheduled_runs"],
        json!({"total": 4, "succeeded": 3, "success_rate": 0.75})
    );

    // Tenant B sees only its own.
    let theirs = app.fetch(&bob.token, "/dashboard/metrics").await;
    assert_eq!(theirs["executions_total"], 1, "{theirs}");
    assert_eq!(theirs["status_distribution"]["failed"]["percentage"], 1.0);
    assert_eq!(theirs["duration_ms"], json!({"avg": null, "p95": null}));
    assert_eq!(
        theirs["top_agents_by_cost"],
        json!([{"agent_id": agent(1), "total_usd": 5.0}])
    );
    assert_eq!(
        theirs["top_agents_by_failures"],
        json!([{"agent_id": B_AGENT, "failures": 1}])
    );
    assert_eq!(
        theirs["scheduled_runs"],
        json!({"total": 1, "succeeded": 0, "success_rate": 0.0})
    );

    // A tenant without activity gets zeros, not errors.
    let empty = app.fetch(&cid.token, "/dashboard/metrics").await;
    assert_eq!(empty["executions_total"], 0);
    assert_eq!(
        empty["status_distribution"]["completed"],
        json!({"count": 0, "percentage": 0.0})
    );
    assert_eq!(hourly(&empty), vec![0.0; 24]);
    assert_eq!(empty["top_agents_by_cost"], json!([]));
    assert_eq!(empty["top_agents_by_failures"], json!([]));
    assert_eq!(
        empty["scheduled_runs"],
        json!({"total": 0, "succeeded": 0, "success_rate": null})
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_second_read_within_30_seconds_is_served_from_the_cache(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let bob = app.signup("bob@example.com").await;
    let (a, b) = (tenant(&ada.tenant_id), tenant(&bob.tenant_id));
    insert_agent(&app.pool, a, agent(1)).await;
    insert_agent(&app.pool, b, B_AGENT).await;
    execution(&app.pool, a, agent(1), "completed", Utc::now(), 5).await;

    let first = app.fetch(&ada.token, "/dashboard/metrics").await;
    assert_eq!(first["executions_total"], 1);
    let cached_at = time(&first["cached_at"]);
    assert!(cached_at <= Utc::now());

    execution(&app.pool, a, agent(1), "failed", Utc::now(), 5).await;
    execution(&app.pool, b, B_AGENT, "failed", Utc::now(), 5).await;
    let second = app.fetch(&ada.token, "/dashboard/metrics").await;
    assert_eq!(second, first, "the cached figures, with the same cached_at");

    // Each tenant has its own entry: B's first read is computed now and sees its execution.
    let theirs = app.fetch(&bob.token, "/dashboard/metrics").await;
    assert_eq!(theirs["executions_total"], 1);
    assert!(time(&theirs["cached_at"]) > cached_at);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_dashboard_needs_costs_read(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let reader = api_key(&app, &ada.token, "costs:read").await;
    let agents_only = api_key(&app, &ada.token, "agents:read").await;
    assert_eq!(
        app.get(&reader, "/dashboard/metrics").await.status(),
        StatusCode::OK
    );
    app.refused(
        &agents_only,
        "GET /dashboard/metrics",
        None,
        403,
        "costs:read",
    )
    .await;
    let anonymous = app.get_public("/dashboard/metrics", &[]).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn cost_rows(pool: &PgPool) -> Vec<DateTime<Utc>> {
    sqlx::query_scalar("select created_at from agents.cost_records order by created_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn cost_records_older_than_the_retention_period_are_purged_in_batches(pool: PgPool) {
    let now = at("2026-12-04T12:00:00Z");
    let cutoff = at("2025-10-30T12:00:00Z"); // 400 days before
    let (a, b) = (
        Uuid::from_u128(1).to_string(),
        Uuid::from_u128(2).to_string(),
    );
    // 2,500 expired rows of tenant A: three batches of at most 1,000.
    sqlx::query(
        "insert into agents.cost_records (id, tenant_id, agent_id, provider, model,
                prompt_tokens, completion_tokens, cost_nanos, unpriced, usage_estimated,
                duration_ms, status, streamed, created_at)
         select gen_random_uuid(), $1, $1, 'openai', 'gpt-4o', 1, 1, 1, false, false, 1,
                'success', false, $2 - make_interval(secs => i)
         from generate_series(1, 2500) as i",
    )
    .bind(Uuid::from_u128(1))
    .bind(cutoff)
    .execute(&pool)
    .await
    .unwrap();
    record(&pool, &b, cutoff - Duration::seconds(1), GPT).await;
    record(&pool, &b, cutoff, GPT).await;
    record(&pool, &a, now - Duration::days(399), GPT).await;
    assert_eq!(cost_rows(&pool).await.len(), 2_503);

    // 0 keeps everything.
    let kept = cost_retention::run_once(&pool, 0, now).await.unwrap();
    assert_eq!(kept.rows, 0);
    assert_eq!(cost_rows(&pool).await.len(), 2_503);

    let purged = cost_retention::run_once(&pool, 400, now).await.unwrap();
    assert_eq!((purged.rows, purged.more), (2_501, false));
    assert_eq!(cost_rows(&pool).await, [cutoff, now - Duration::days(399)]);
}
