//! Several engines on one database (exactly once, none missed), waking on NOTIFY, the SDK
//! flow against the running engine, and a stand-in LLM server that never answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;
use temponest_scheduler::domain::{engine, firing};

use temponest_test_client::fixtures::count;
use temponest_test_client::serve;

use crate::helpers::*;

/// An OpenAI-compatible server that accepts the request and never answers; it notes when
/// the caller gave up (the connection closed).
pub struct HangingLlm {
    addr: std::net::SocketAddr,
    closed: Arc<AtomicBool>,
}

struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl HangingLlm {
    pub async fn start() -> Self {
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        let app = axum::Router::new().fallback(move || {
            let guard = OnDrop(flag.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }
        });
        let addr = serve(app).await;
        Self { addr, closed }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn three_engines_fire_every_fire_time_exactly_once(pool: sqlx::PgPool) {
    let start = t("2026-06-01T10:00:00Z");
    let apps = [
        spawn_at(pool.clone(), start).await,
        spawn_at(pool.clone(), start).await,
        spawn_at(pool.clone(), start).await,
    ];
    let s = apps[0].signup("three@example.com").await;
    let agent = apps[0].agent(&s).await;
    let mut ids = Vec::new();
    for (i, cron) in [
        "* * * * * *",
        "*/2 * * * * *",
        "*/3 * * * * *",
        "*/7 * * * * *",
    ]
    .iter()
    .cycle()
    .take(24)
    .enumerate()
    {
        let created = apps[i % 3]
            .schedule(
                &s,
                &agent,
                json!({"cron_expression": cron, "overlap_policy": "allow"}),
            )
            .await;
        ids.push((created["id"].as_str().unwrap().to_owned(), *cron));
    }
    // Five minutes of time, one second at a time; each second the three engines race to fire
    // what is due, concurrently, against the same rows.
    let mut now = start;
    for _ in 0..300 {
        now += Duration::seconds(1);
        for app in &apps {
            app.clock().set(now);
        }
        let (a, b, c) = tokio::join!(
            firing::fire_due(&apps[0].state, now),
            firing::fire_due(&apps[1].state, now),
            firing::fire_due(&apps[2].state, now)
        );
        let queued = a.unwrap().queued + b.unwrap().queued + c.unwrap().queued;
        assert!(queued > 0, "something is due every second");
    }
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "select schedule_id::text, fire_time from scheduler.executions order by fire_time",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut by_schedule: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    for (schedule, fire) in rows {
        by_schedule.entry(schedule).or_default().push(fire);
    }
    for (id, cron) in &ids {
        let step: i64 = match *cron {
            "* * * * * *" => 1,
            "*/2 * * * * *" => 2,
            "*/3 * * * * *" => 3,
            _ => 7,
        };
        let fires = &by_schedule[id];
        let unique: BTreeSet<_> = fires.iter().collect();
        assert_eq!(unique.len(), fires.len(), "{cron}: a fire time ran twice");
        // Every fire time in (10:00:00, 10:05:00] that matches, none missing.
        let expected: Vec<DateTime<Utc>> = (1..=300)
            .map(|s| start + Duration::seconds(s))
            .filter(|f| (f.timestamp() % 60) % step == 0)
            .collect();
        assert_eq!(fires, &expected, "{cron}: fire times differ");
    }
    let skipped = count(&pool, "select count(*) from scheduler.skipped_fires").await;
    assert_eq!(skipped, 0, "nothing skipped or missed");
}

#[sqlx::test(migrations = "../../migrations")]
async fn three_running_engines_share_real_time_work_exactly_once(pool: sqlx::PgPool) {
    // Three processes: each with its own pool (a listener and runs each), one database.
    let mut apps = Vec::new();
    for _ in 0..3 {
        let config = config();
        let own = sqlx::postgres::PgPoolOptions::new()
            .max_connections(20)
            .connect_with((*pool.connect_options()).clone())
            .await
            .unwrap();
        apps.push(spawn_with(own, config, agents_config(None), None).await);
    }
    let engines: Vec<_> = apps
        .iter()
        .map(|a| engine::start(a.state.clone()))
        .collect();
    let s = apps[0].signup("live@example.com").await;
    let agent = apps[0].agent(&s).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let created = apps[i % 3]
            .schedule(
                &s,
                &agent,
                json!({"cron_expression": "* * * * * *", "overlap_policy": "allow"}),
            )
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    // Wait until every schedule has completed at least 3 runs.
    let probe = &apps[1];
    assert!(
        eventually(|| async {
            let mut all = true;
            for id in &ids {
                let runs = probe.executions(&s, id).await;
                all &= runs.iter().filter(|r| r["status"] == "completed").count() >= 3;
            }
            all
        })
        .await,
        "every schedule ran"
    );
    for e in engines {
        e.shutdown().await;
    }
    for id in &ids {
        let fires: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "select fire_time from scheduler.executions where schedule_id = $1::uuid order by fire_time",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap();
        // Consecutive seconds from the first to the last: none twice, none skipped.
        for pair in fires.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::seconds(1), "{id}: {fires:?}");
        }
        let late: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "select fire_time, started_at from scheduler.executions where schedule_id = $1::uuid",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap();
        for (fire, started) in late.into_iter().filter_map(|(f, s)| s.map(|s| (f, s))) {
            assert!(
                started - fire < Duration::seconds(5),
                "{id}: started {started} for {fire}"
            );
        }
    }
    let skipped = count(&pool, "select count(*) from scheduler.skipped_fires").await;
    assert_eq!(skipped, 0);
    for app in apps {
        app.pool.close().await;
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_new_schedule_wakes_a_sleeping_engine_at_once(pool: sqlx::PgPool) {
    let mut config = config();
    // Without NOTIFY the engine would sleep a minute before looking again.
    config.scheduler.poll_interval_ms = 60_000;
    config.scheduler.heartbeat_secs = 30;
    config.scheduler.lease_secs = 90;
    let app = spawn_with(pool, config, agents_config(None), None).await;
    let engine = engine::start(app.state.clone());
    let s = app.signup("wake@example.com").await;
    let agent = app.agent(&s).await;
    // Let the engine settle into its long sleep.
    assert!(eventually(|| async { app.fire().await.schedules == 0 }).await);
    let run_at = Utc::now() + Duration::seconds(1);
    let id = app
        .schedule_id(&s, &agent, json!({"run_at": run_at.to_rfc3339()}))
        .await;
    assert!(
        eventually(|| async {
            app.executions(&s, &id)
                .await
                .first()
                .is_some_and(|r| r["status"] == "completed")
        })
        .await,
        "the one-shot fired and ran well before the poll interval"
    );
    let schedule = app.get_schedule(&s, &id).await;
    assert_eq!(
        schedule["next_run"],
        json!(null),
        "a one-shot has nothing left"
    );
    assert_eq!(schedule["run_count"], 1);
    engine.shutdown().await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_sdk_flow_against_a_running_engine(pool: sqlx::PgPool) {
    let config = config();
    let app = spawn_with(pool, config, agents_config(None), None).await;
    let engine = engine::start(app.state.clone());
    let s = app.signup("sdk@example.com").await;
    let agent = app.agent(&s).await;
    let schedule = app.create(&s.token, "/schedules/", &json!({"agent_id": agent, "cron_expression": "0 9 * * 1-5", "task_config": {"user_message": "standup", "context": {}}}))
    .await;
    let id = schedule["id"].as_str().unwrap();
    let triggered = app.trigger(&s, id).await;
    for key in [
        "id",
        "task_id",
        "status",
        "agent_execution_id",
        "started_at",
        "completed_at",
        "error",
    ] {
        assert!(
            triggered.get(key).is_some(),
            "execution lacks {key}: {triggered}"
        );
    }
    assert!(
        eventually(|| async { app.executions(&s, id).await[0]["status"] == "completed" }).await,
        "the triggered execution completed"
    );
    let runs = app.executions(&s, id).await;
    assert!(runs[0]["agent_execution_id"].is_string());
    let paused = app
        .act(&s.token, &format!("/schedules/{id}/pause"), &json!({}))
        .await;
    assert_eq!(paused["is_active"], false);
    let resumed = app
        .act(&s.token, &format!("/schedules/{id}/resume"), &json!({}))
        .await;
    assert_eq!(resumed["is_active"], true);
    let body = json!({"cron_expression": "30 17 * * *"});
    let changed = app
        .update(&s.token, &format!("/schedules/{id}"), &body)
        .await;
    assert_eq!(changed["cron_expression"], "30 17 * * *");
    assert_ne!(changed["next_run"], resumed["next_run"]);
    let by_agent = app
        .fetch(&s.token, &format!("/schedules?agent_id={agent}"))
        .await;
    assert_eq!(by_agent[0]["id"], id);
    assert_eq!(
        app.delete(&s.token, &format!("/schedules/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    engine.shutdown().await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn shutdown_releases_a_run_that_does_not_finish_in_the_grace_period(pool: sqlx::PgPool) {
    let hanging = HangingLlm::start().await;
    let provider = openai_provider(&hanging.url());
    let mut config = config();
    config.scheduler.shutdown_grace_secs = 1;
    let app = spawn_with(pool, config, agents_config(Some(("slow", provider))), None).await;
    let engine = engine::start(app.state.clone());
    let s = app.signup("release@example.com").await;
    let agent = app.agent_with(&s, "slow").await;
    let body = json!({"cron_expression": "0 0 1 1 *", "timeout_seconds": 600});
    let id = app.schedule_id(&s, &agent, body).await;
    app.trigger(&s, &id).await;
    assert!(
        eventually(|| async { app.executions(&s, &id).await[0]["agent_execution_id"].is_string() })
            .await,
        "the run started its agent execution"
    );
    engine.shutdown().await;
    let run = &app.executions(&s, &id).await[0];
    assert_eq!(run["status"], "pending", "released to the queue: {run}");
    assert_eq!(
        run["attempt"], 0,
        "the interrupted attempt does not count: {run}"
    );
    assert!(
        run["agent_execution_id"].is_string(),
        "kept for the next engine to adopt: {run}"
    );
    let leased: Option<uuid::Uuid> = sqlx::query_scalar(
        "select leased_by from scheduler.executions where schedule_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(leased, None);
}
