//! Budgets over HTTP: setting and reading them (422s, permissions), enforcement before every
//! model call against a local OpenAI-compatible server (a refused call never reaches it),
//! concurrency (parallel executions cannot overspend), release on provider failure, and the
//! alert events, once per period.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::costs::{api_key, needs_costs_read};
use crate::executions::unreachable_and_unconfigured;
use crate::fake_llm::{FakeLlm, Reply};
use crate::helpers::{
    Session, TestApp, echo_agent, expect_error, spawn, spawn_ada, spawn_with, spawn_with_agent,
    sse_frames, stream,
};

/// gpt-4o is $2.5 / $10 per Mtok. "hi" is estimated at 5 prompt tokens (1 + 4 per message), so
/// a call reserves 5 × 2,500 + 1,024 × 10,000 nano-dollars.
const WORST_CASE_NANOS: i64 = 5 * 2_500 + 1_024 * 10_000;

fn usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

async fn set_budget(app: &TestApp, token: &str, body: Value) -> Value {
    app.call(token, "POST /costs/budget", Some(&body), 200)
        .await
}

/// Held reservations and the reserved amount left on usage rows.
async fn held(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as::<_, (i64, i64)>(
        "select (select count(*) from agents.budget_reservations),
                (select coalesce(sum(reserved_nanos), 0)::bigint from agents.budget_usage)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The app with a fake OpenAI reporting `usage` tokens per call, and ada's gpt-4o agent (its
/// id).
async fn gpt_app(pool: PgPool, usage: (u32, u32)) -> (TestApp, FakeLlm, Session, String) {
    let fake = FakeLlm::start(vec![Reply::Text("ok".into())], Some(usage)).await;
    let app = spawn_with(pool, fake.config()).await;
    let (ada, agent) = app
        .ada_with_agent(json!({"name": "G", "model": "gpt-4o", "provider": "openai"}))
        .await;
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    (app, fake, ada, agent_id)
}

/// Runs the agent synchronously, whatever the answer.
async fn post_execute(app: &TestApp, token: &str, agent_id: &str) -> reqwest::Response {
    let path = format!("/agents/{agent_id}/execute");
    app.post(token, &path, &json!({"user_message": "hi"})).await
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn budgets_are_set_replaced_and_read_per_tenant_and_per_agent(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, json!({"name": "A", "model": "echo-1"})).await;
    let agent_id = agent["id"].as_str().unwrap();
    app.refused(&ada.token, "GET /costs/budget", None, 404, "budget")
        .await;
    let tenant = set_budget(&app, &ada.token, json!({"daily_limit_usd": 5.0})).await;
    assert_eq!(tenant["daily_limit_usd"], 5.0);
    assert_eq!(tenant["monthly_limit_usd"], Value::Null);
    assert_eq!(tenant["alert_threshold"], 0.8);
    assert_eq!(tenant["agent_id"], Value::Null);
    let replaced = set_budget(
        &app,
        &ada.token,
        json!({"monthly_limit_usd": 100.0, "alert_threshold": 0.5}),
    )
    .await;
    assert_eq!(replaced["id"], tenant["id"], "one budget per tenant");
    assert_eq!(replaced["daily_limit_usd"], Value::Null);
    let own = set_budget(
        &app,
        &ada.token,
        json!({"daily_limit_usd": 1.5, "agent_id": agent_id}),
    )
    .await;
    assert_ne!(own["id"], tenant["id"]);
    assert_eq!(app.fetch(&ada.token, "/costs/budget").await, replaced);
    assert_eq!(
        app.fetch(&ada.token, &format!("/costs/budget?agent_id={agent_id}"))
            .await,
        own
    );
    let status = app
        .fetch(
            &ada.token,
            &format!("/costs/budget/status?agent_id={agent_id}"),
        )
        .await;
    assert_eq!(
        status,
        json!({"daily_usage": 0.0, "daily_limit": 1.5, "daily_percentage": 0.0,
               "monthly_usage": 0.0, "monthly_limit": null, "monthly_percentage": null,
               "alerts_triggered": []})
    );
    // Another tenant sees none of it, and cannot budget ada's agent.
    let bob = app.signup("bob@example.com").await;
    app.refused(&bob.token, "GET /costs/budget", None, 404, "budget")
        .await;
    app.refused(
        &bob.token,
        "POST /costs/budget",
        Some(&json!({"daily_limit_usd": 1.0, "agent_id": agent_id})),
        404,
        "agent",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn bad_budgets_are_422s_naming_the_fields_and_setting_one_needs_costs_manage(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let reader = api_key(&app, &ada.token, "costs:read").await;
    app.refused_bodies(
        &ada.token,
        "POST /costs/budget",
        422,
        &[
            (json!({"daily_limit_usd": -1.0}), "daily_limit_usd"),
            (json!({"monthly_limit_usd": -0.01}), "monthly_limit_usd"),
            (json!({"alert_threshold": 0.0}), "alert_threshold"),
            (json!({"alert_threshold": 1.5}), "alert_threshold"),
            (json!({"daily_limit_usd": "x"}), "daily_limit_usd"),
        ],
    )
    .await;
    let both = app
        .refused(
            &ada.token,
            "POST /costs/budget",
            Some(&json!({"daily_limit_usd": -1.0, "alert_threshold": 2.0})),
            422,
            "2 invalid fields",
        )
        .await;
    assert_eq!(both["errors"].as_array().unwrap().len(), 2, "{both}");
    app.refused(
        &reader,
        "POST /costs/budget",
        Some(&json!({"daily_limit_usd": 1.0})),
        403,
        "costs:manage",
    )
    .await;
    let agents_only = api_key(&app, &ada.token, "agents:read").await;
    for path in ["/costs/budget", "/costs/budget/status"] {
        needs_costs_read(&app, &agents_only, path).await;
    }
    set_budget(&app, &ada.token, json!({"daily_limit_usd": 1.0})).await;
    assert_eq!(
        app.fetch(&reader, "/costs/budget").await["daily_limit_usd"],
        1.0
    );
    assert_eq!(
        app.fetch(&reader, "/costs/budget/status").await["daily_limit"],
        1.0
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_exhausted_budget_refuses_the_call_with_402_before_the_provider_sees_it(pool: PgPool) {
    let (app, fake, ada, agent_id) = gpt_app(pool, (5, 10)).await;
    let agent_id = agent_id.as_str();
    set_budget(
        &app,
        &ada.token,
        json!({"daily_limit_usd": usd(WORST_CASE_NANOS - 1), "agent_id": agent_id}),
    )
    .await;
    let resp = post_execute(&app, &ada.token, agent_id).await;
    let execution_id = resp.headers()["x-execution-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = expect_error(resp, StatusCode::PAYMENT_REQUIRED, "agent's daily budget").await;
    assert_eq!(body["code"], "budget_exceeded");
    let run = app
        .fetch(&ada.token, &format!("/executions/{execution_id}"))
        .await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["outcome"], "budget_exceeded");
    assert_eq!(run["cost_usd"], 0.0);
    // Streamed, the run ends with the failure frame.
    let (resp, _) = stream(&app, &ada.token, agent_id, "hi").await;
    let frames = sse_frames(resp).await;
    let failure = frames
        .iter()
        .find(|(_, data)| data.contains("budget_exceeded"))
        .expect("a failure frame");
    assert!(failure.1.contains("agent's daily budget"), "{failure:?}");
    assert!(fake.requests().is_empty(), "no call reached the provider");
    assert_eq!(held(&app.pool).await, (0, 0));

    // Raised by one call's worth, the budget lets it through; unpriced models are always allowed.
    set_budget(
        &app,
        &ada.token,
        json!({"daily_limit_usd": usd(WORST_CASE_NANOS), "agent_id": agent_id}),
    )
    .await;
    assert_eq!(
        app.execute(&ada.token, agent_id, "hi").await["status"],
        "completed"
    );
    set_budget(&app, &ada.token, json!({"daily_limit_usd": 0.0})).await;
    let mystery = app
        .agent(
            &ada.token,
            json!({"name": "M", "model": "mystery", "provider": "openai"}),
        )
        .await;
    let run = app.run(&ada.token, &mystery, "hi").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["unpriced"], true);
    assert_eq!(fake.requests().len(), 2);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn parallel_executions_cannot_overspend_and_the_rest_are_refused(pool: PgPool) {
    // Each call costs 5 × 2,500 + 1,000 × 10,000 = 10,012,500 nano-dollars: five fit in the
    // limit's reservations (5 × 10,252,500 ≤ 52,000,000), a sixth never does.
    let (app, fake, ada, agent_id) = gpt_app(pool, (5, 1_000)).await;
    let agent_id = agent_id.as_str();
    set_budget(&app, &ada.token, json!({"daily_limit_usd": 0.052})).await;
    let runs = (0..20).map(|_| post_execute(&app, &ada.token, agent_id));
    let statuses: Vec<StatusCode> = futures::future::join_all(runs)
        .await
        .iter()
        .map(|resp| resp.status())
        .collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::PAYMENT_REQUIRED)
        .count();
    assert_eq!((ok, refused), (5, 15), "{statuses:?}");
    assert_eq!(fake.requests().len(), 5);
    let status = app.fetch(&ada.token, "/costs/budget/status").await;
    assert_eq!(status["daily_usage"], usd(5 * 10_012_500), "{status}");
    assert!(status["daily_usage"].as_f64().unwrap() <= 0.052);
    assert_eq!(held(&app.pool).await, (0, 0), "every reservation settled");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_failed_or_unsent_call_releases_its_reservation(pool: PgPool) {
    let app = spawn_with(pool, unreachable_and_unconfigured().await).await;
    let ada = app.signup("ada@example.com").await;
    set_budget(
        &app,
        &ada.token,
        json!({"daily_limit_usd": usd(WORST_CASE_NANOS)}),
    )
    .await;
    for provider in ["local", "openai"] {
        let agent = app
            .agent(
                &ada.token,
                json!({"name": provider, "model": "gpt-4o", "provider": provider}),
            )
            .await;
        let run = app.run(&ada.token, &agent, "hi").await;
        assert_eq!(run["outcome"], "failed", "{run}");
        assert_eq!(held(&app.pool).await, (0, 0), "{provider}");
    }
    // The whole budget is still there: a call's worst case still fits.
    let spent: i64 = sqlx::query_scalar(
        "select coalesce(max(spent_nanos), -1) from agents.budget_usage where period = 'day'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(spent, 0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn threshold_and_limit_alerts_are_published_once_per_period(pool: PgPool) {
    // Reported usage equals the worst case, so two calls spend exactly the limit.
    let (app, _fake, ada, agent_id) = gpt_app(pool, (5, 1_024)).await;
    let agent_id = agent_id.as_str();
    let budget = set_budget(
        &app,
        &ada.token,
        json!({"daily_limit_usd": usd(2 * WORST_CASE_NANOS), "alert_threshold": 0.5, "agent_id": agent_id}),
    )
    .await;
    let alerts = |events: Vec<(String, Value)>| -> Vec<(String, Value)> {
        events
            .into_iter()
            .filter(|(name, _)| name.starts_with("budget.") || name.starts_with("cost."))
            .collect()
    };
    app.execute(&ada.token, agent_id, "hi").await;
    let raised = alerts(app.events(&ada.tenant_id).await);
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].0, "budget.alert");
    assert_eq!(raised[0].1["budget_id"], budget["id"]);
    assert_eq!(raised[0].1["period"], "day");
    assert_eq!(raised[0].1["spent_usd"], usd(WORST_CASE_NANOS));
    app.execute(&ada.token, agent_id, "hi").await;
    let refused = post_execute(&app, &ada.token, agent_id).await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    let raised = alerts(app.events(&ada.tenant_id).await);
    let names: Vec<&str> = raised.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["budget.alert", "cost.threshold.exceeded"]);
    let status = app
        .fetch(
            &ada.token,
            &format!("/costs/budget/status?agent_id={agent_id}"),
        )
        .await;
    assert_eq!(status["daily_percentage"], 1.0, "{status}");
    let kinds: Vec<(&str, &str)> = status["alerts_triggered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["period"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("threshold", "day"), ("limit", "day")]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn reservations_left_by_a_crashed_process_are_released_by_the_abandoned_sweep(pool: PgPool) {
    let (first, ada, agent) = spawn_with_agent(pool.clone(), echo_agent("A", "m")).await;
    let budget = set_budget(&first, &ada.token, json!({"daily_limit_usd": 1.0})).await;
    // What a crashed process leaves behind: a running execution whose heartbeat stopped, with
    // a call's reservation held.
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "with execution as (
             insert into agents.executions (id, tenant_id, agent_id, status, user_message,
                     provider, model, started_at, heartbeat_at)
             values ($1, $2::uuid, $3::uuid, 'running', 'lost', 'echo', 'm',
                     now() - interval '10 minutes', now() - interval '10 minutes')),
         usage as (
             insert into agents.budget_usage (budget_id, period, period_start, reserved_nanos)
             values ($4::uuid, 'day', (now() at time zone 'UTC')::date, 7000))
         insert into agents.budget_reservations (id, execution_id, amount_nanos, day, month, budget_ids)
         values (gen_random_uuid(), $1, 7000, (now() at time zone 'UTC')::date,
                 date_trunc('month', now() at time zone 'UTC')::date, array[$4::uuid])",
    )
    .bind(id)
    .bind(&ada.tenant_id)
    .bind(agent["id"].as_str().unwrap())
    .bind(budget["id"].as_str().unwrap())
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(held(&pool).await, (1, 7000));

    let recovered = spawn(pool.clone()).await;
    let path = format!("/executions/{id}");
    recovered
        .failed_eventually(&ada.token, &path, "the abandoned execution is failed")
        .await;
    assert_eq!(held(&pool).await, (0, 0), "its reservation is released");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_new_budget_counts_what_the_period_had_already_spent(pool: PgPool) {
    // Each call reports 5 + 10 tokens: 5 × 2,500 + 10 × 10,000 = 112,500 nano-dollars.
    let (app, fake, ada, agent_id) = gpt_app(pool, (5, 10)).await;
    let agent_id = agent_id.as_str();
    assert_eq!(
        app.execute(&ada.token, agent_id, "hi").await["status"],
        "completed"
    );
    set_budget(
        &app,
        &ada.token,
        json!({"monthly_limit_usd": usd(112_500 + WORST_CASE_NANOS - 1)}),
    )
    .await;
    let refused = post_execute(&app, &ada.token, agent_id).await;
    expect_error(
        refused,
        StatusCode::PAYMENT_REQUIRED,
        "tenant's monthly budget",
    )
    .await;
    assert_eq!(fake.requests().len(), 1);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_call_recorded_after_its_reservation_was_swept_is_still_charged_once(pool: PgPool) {
    use temponest_agents::db::costs::{self, CostRecord};
    use temponest_agents::domain::budgets::settle_record;
    use temponest_agents::domain::execution::CallStatus;

    let (app, ada, agent) = spawn_with_agent(pool.clone(), echo_agent("A", "m")).await;
    let budget = set_budget(&app, &ada.token, json!({"daily_limit_usd": 1.0})).await;
    let tenant_id: uuid::Uuid = ada.tenant_id.parse().unwrap();
    // The budget's usage row, with no reservation left: the sweep released it while the call,
    // in a process that only looked dead, was still answering.
    sqlx::query(
        "insert into agents.budget_usage (budget_id, period, period_start)
         values ($1::uuid, 'day', (now() at time zone 'UTC')::date)",
    )
    .bind(budget["id"].as_str().unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let record = CostRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id,
        agent_id: agent["id"].as_str().unwrap().parse().unwrap(),
        execution_id: None,
        provider: "echo".into(),
        model: "m".into(),
        prompt_tokens: 10,
        completion_tokens: 5,
        cost_nanos: 5_000,
        unpriced: false,
        usage_estimated: false,
        price_source: Some("tenant_override".into()),
        duration_ms: 3,
        status: CallStatus::Success,
        streamed: false,
        project_id: None,
        reserved: true,
    };
    let spent = || async {
        sqlx::query_scalar::<_, i64>("select spent_nanos from agents.budget_usage")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let mut conn = pool.acquire().await.unwrap();
    assert!(costs::insert(&mut conn, &record).await.unwrap());
    settle_record(&mut conn, &record).await.unwrap();
    assert_eq!(spent().await, 5_000, "charged to the usage row directly");
    // A rewrite (a lost commit acknowledgement) inserts nothing, so the ledger settles nothing.
    assert!(!costs::insert(&mut conn, &record).await.unwrap());
    let status = app.fetch(&ada.token, "/costs/budget/status").await;
    assert_eq!(status["daily_usage"], 0.000005);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deleting_an_agent_deletes_its_budget(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, echo_agent("A", "m")).await;
    let agent_id = agent["id"].as_str().unwrap();
    set_budget(
        &app,
        &ada.token,
        json!({"agent_id": agent_id, "daily_limit_usd": 1.0}),
    )
    .await;
    set_budget(&app, &ada.token, json!({"monthly_limit_usd": 5.0})).await;
    let path = format!("/costs/budget?agent_id={agent_id}");
    assert_eq!(app.fetch(&ada.token, &path).await["daily_limit_usd"], 1.0);

    let deleted = app.delete(&ada.token, &format!("/agents/{agent_id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    app.refused(&ada.token, &format!("GET {path}"), None, 404, "budget")
        .await;
    // The tenant's own budget stays.
    assert_eq!(
        app.fetch(&ada.token, "/costs/budget").await["monthly_limit_usd"],
        5.0
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn concurrent_reservations_and_settlements_never_deadlock(pool: PgPool) {
    use temponest_agents::domain::budgets::{reserve, settle};

    let (app, ada, agent) = spawn_with_agent(pool.clone(), echo_agent("A", "m")).await;
    let agent_id: uuid::Uuid = agent["id"].as_str().unwrap().parse().unwrap();
    let tenant_id: uuid::Uuid = ada.tenant_id.parse().unwrap();
    // Four usage rows per call: the tenant's and the agent's budget, each daily and monthly.
    let limits = json!({"daily_limit_usd": 1000.0, "monthly_limit_usd": 1000.0});
    set_budget(&app, &ada.token, limits.clone()).await;
    let mut agent_limits = limits;
    agent_limits["agent_id"] = json!(agent_id);
    set_budget(&app, &ada.token, agent_limits).await;

    // Reservations lock the usage rows in key order; settlements (in a transaction that goes
    // on holding them, as the finishing one does) must lock them in the same order.
    let workers = (0..8).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for _ in 0..25 {
                let call = uuid::Uuid::now_v7();
                let reserved = reserve(&pool, tenant_id, agent_id, call, call, 1_000)
                    .await
                    .expect("reserved without a deadlock");
                assert!(reserved);
                let mut tx = pool.begin().await.unwrap();
                settle(&mut tx, call, 700)
                    .await
                    .expect("settled without a deadlock");
                tx.commit().await.unwrap();
            }
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker.unwrap();
    }
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("select spent_nanos, reserved_nanos from agents.budget_usage")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![(8 * 25 * 700, 0); 4]);
}
