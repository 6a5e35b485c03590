//! The engine under a manual clock: firing on time through the agents service, DST in two
//! zones, misfire policies after an outage, overlap policies (scheduled and manual), retries,
//! timeouts, rescue of an abandoned execution and adoption of its agent execution, events.

use reqwest::StatusCode;
use serde_json::{Value, json};
use temponest_scheduler::db::executions;

use temponest_test_client::fixtures::count;

use crate::helpers::*;

#[sqlx::test(migrations = "../../migrations")]
async fn a_due_schedule_runs_its_agent_and_records_the_result(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T09:59:50Z"), "run@example.com").await;
    let schedule = app
        .schedule(&s, &agent, json!({"cron_expression": "0 10 * * *", "task_config": {"user_message": "daily report", "context": {"day": 1}}}))
        .await;
    let id = schedule["id"].as_str().unwrap();
    assert_eq!(app.fire().await.queued, 0, "nothing is due before 10:00");

    app.clock().set(t("2026-06-01T10:00:00Z"));
    let report = app.fire().await;
    assert_eq!(report.queued, 1);
    assert_eq!(app.fire().await.queued, 0, "a fire time is queued once");
    assert_eq!(app.run_due().await, 1);

    let runs = app.executions(&s, id).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["outcome"], "completed");
    assert_eq!(run["task_id"], id);
    assert_eq!(run["trigger"], "schedule");
    assert_eq!(ts(&run["fire_time"]), t("2026-06-01T10:00:00Z"));
    assert_eq!(run["attempt"], 1);
    assert!(
        run["result"].as_str().unwrap().contains("daily report"),
        "{run}"
    );
    assert!(run["tokens_used"]["total"].as_i64().unwrap() > 0);
    assert!(run["started_at"].is_string() && run["completed_at"].is_string());
    // The agent execution it recorded is the agents service's own.
    let agent_exec = run["agent_execution_id"].as_str().unwrap();
    let exec = app
        .fetch(&s.token, &format!("/executions/{agent_exec}"))
        .await;
    assert_eq!(exec["status"], "completed");
    assert_eq!(exec["user_message"], "daily report");
    assert_eq!(exec["context"]["day"], 1);
    assert_eq!(exec["tokens_used"]["total"], run["tokens_used"]["total"]);

    let after = app.get_schedule(&s, id).await;
    assert_eq!(after["run_count"], 1);
    assert_eq!(ts(&after["last_run"]), t("2026-06-01T10:00:00Z"));
    assert_eq!(ts(&after["next_run"]), t("2026-06-02T10:00:00Z"));
    let fires = app.fires(&s, id).await;
    assert_eq!(fires.len(), 1);
    let past_the_end = app
        .get(&s.token, &format!("/schedules/{id}/fires?skip=5"))
        .await;
    assert_eq!(past_the_end.headers()["x-total-count"], "1");
    assert_eq!(expect_json(past_the_end, StatusCode::OK).await, json!([]));
    assert_eq!(fires[0]["disposition"], "executed");
    assert_eq!(fires[0]["status"], "completed");

    let triggered = app.events(&s.tenant_id, "schedule.triggered").await;
    let completed = app.events(&s.tenant_id, "schedule.completed").await;
    assert_eq!(triggered.len(), 1);
    assert_eq!(triggered[0]["schedule_id"], id);
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["status"], "completed");
    assert_eq!(completed[0]["agent_execution_id"], agent_exec);
}

/// Creates a schedule of `agent` firing daily at 02:30 in `zone` (overlaps allowed) and asserts
/// that it fires first at `first`; returns its id.
async fn daily_at_half_past_two(
    app: &TestApp,
    s: &Session,
    agent: &str,
    zone: &str,
    first: &str,
) -> String {
    let body =
        json!({"cron_expression": "30 2 * * *", "timezone": zone, "overlap_policy": "allow"});
    let schedule = app.schedule(s, agent, body).await;
    assert_eq!(ts(&schedule["next_run"]), t(first), "{zone}");
    schedule["id"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn dst_in_new_york_and_berlin(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-03-07T12:00:00Z"), "dst@example.com").await;
    // New York, spring forward on 2026-03-08: 02:30 does not exist → 03:00 EDT (07:00 UTC).
    let ny = "America/New_York";
    let ny_id = daily_at_half_past_two(&app, &s, &agent, ny, "2026-03-08T07:00:00Z").await;
    app.clock().set(t("2026-03-08T07:00:00Z"));
    assert_eq!(app.fire().await.queued, 1);
    let next = app.next_run(&s, &ny_id).await;
    assert_eq!(next, t("2026-03-09T06:30:00Z"), "back to 02:30 EDT");

    // Berlin, fall back on 2026-10-25: 02:30 happens twice; it fires once (CEST, 00:30 UTC).
    app.clock().set(t("2026-10-24T12:00:00Z"));
    let berlin = "Europe/Berlin";
    let berlin_id = daily_at_half_past_two(&app, &s, &agent, berlin, "2026-10-25T00:30:00Z").await;
    app.clock().set(t("2026-10-25T00:30:00Z"));
    app.fire().await;
    let next = app.next_run(&s, &berlin_id).await;
    assert_eq!(
        next,
        t("2026-10-26T01:30:00Z"),
        "not again at 01:30 UTC (02:30 CET)"
    );
    app.clock().set(t("2026-10-25T01:30:00Z"));
    app.fire().await;
    let fires = app.fires(&s, &berlin_id).await;
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert_eq!(ts(&fires[0]["fire_time"]), t("2026-10-25T00:30:00Z"));
}

async fn outage(misfire: &str, pool: sqlx::PgPool) -> (Value, Vec<Value>, Vec<Value>) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T09:59:30Z"), "misfire@example.com").await;
    let schedule = app
        .schedule(
            &s,
            &agent,
            json!({"cron_expression": "*/10 * * * *", "misfire_policy": misfire,
                                     "overlap_policy": "allow", "catchup_window_seconds": 1800}),
        )
        .await;
    let id = schedule["id"].as_str().unwrap().to_owned();
    // The scheduler is down from 09:59:30 to 11:05: 10:00 … 11:00 (7 fire times) passed.
    app.clock().set(t("2026-06-01T11:05:00Z"));
    app.fire().await;
    (
        app.get_schedule(&s, &id).await,
        app.executions(&s, &id).await,
        app.fires(&s, &id).await,
    )
}

fn fire_times(runs: &[Value]) -> Vec<String> {
    let mut times: Vec<String> = runs
        .iter()
        .map(|r| r["fire_time"].as_str().unwrap().to_owned())
        .collect();
    times.sort();
    times
}

#[sqlx::test(migrations = "../../migrations")]
async fn misfire_skip_runs_none_of_the_missed(pool: sqlx::PgPool) {
    let (schedule, runs, fires) = outage("skip", pool).await;
    assert!(runs.is_empty());
    assert_eq!(schedule["missed_count"], 7);
    assert_eq!(
        fires
            .iter()
            .filter(|f| f["disposition"] == "missed")
            .count(),
        7
    );
    assert_eq!(ts(&schedule["next_run"]), t("2026-06-01T11:10:00Z"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn misfire_fire_once_runs_the_latest_missed_once(pool: sqlx::PgPool) {
    let (schedule, runs, fires) = outage("fire_once", pool).await;
    assert_eq!(fire_times(&runs), vec!["2026-06-01T11:00:00Z"]);
    assert_eq!(schedule["missed_count"], 6);
    assert_eq!(fires.len(), 7);
    assert_eq!(schedule["run_count"], 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn misfire_fire_all_catches_up_within_the_window(pool: sqlx::PgPool) {
    let (schedule, runs, fires) = outage("fire_all", pool).await;
    // The window (30 min) reaches back to 10:35: 10:40, 10:50, 11:00 run; 10:00–10:30 missed.
    assert_eq!(
        fire_times(&runs),
        vec![
            "2026-06-01T10:40:00Z",
            "2026-06-01T10:50:00Z",
            "2026-06-01T11:00:00Z"
        ]
    );
    assert_eq!(schedule["missed_count"], 4);
    assert_eq!(
        fires
            .iter()
            .filter(|f| f["disposition"] == "missed")
            .count(),
        4
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn overlap_skip_applies_to_fires_and_manual_triggers(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:00Z"), "overlap@example.com").await;
    let body = json!({"cron_expression": "* * * * *", "overlap_policy": "skip"});
    let id = app.schedule_id(&s, &agent, body).await;
    // A manual trigger queues one execution…
    let manual = app.trigger(&s, &id).await;
    assert_eq!(manual["status"], "pending");
    assert_eq!(manual["trigger"], "manual");
    assert_eq!(manual["task_id"], id.as_str());
    // …so a second trigger and the 10:01 fire time are refused/skipped while it is unfinished.
    let (request, empty) = (format!("POST /schedules/{id}/trigger"), json!({}));
    app.refused(&s.token, &request, Some(&empty), 409, "overlap_policy skip")
        .await;
    app.clock().set(t("2026-06-01T10:01:00Z"));
    let report = app.fire().await;
    assert_eq!((report.queued, report.skipped), (0, 1));
    let schedule = app.get_schedule(&s, &id).await;
    assert_eq!(schedule["skipped_count"], 1);
    let fires = app.fires(&s, &id).await;
    assert_eq!(fires[0]["disposition"], "skipped");
    // Once it finished, the next fire time runs.
    assert_eq!(app.run_due().await, 1);
    app.clock().set(t("2026-06-01T10:02:00Z"));
    assert_eq!(app.fire().await.queued, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn overlap_buffer_one_queues_one_behind_a_running_execution(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:00Z"), "buffer@example.com").await;
    let body = json!({"cron_expression": "* * * * *", "overlap_policy": "buffer_one"});
    let id = app.schedule_id(&s, &agent, body).await;
    app.clock().set(t("2026-06-01T10:01:00Z"));
    assert_eq!(app.fire().await.queued, 1);
    // Claim it (running) without finishing it.
    let now = app.now();
    let other_engine = uuid::Uuid::now_v7();
    let claimed = executions::claim(
        &app.pool,
        other_engine,
        now,
        now + chrono::Duration::seconds(60),
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    // The next fire time is buffered; a manual trigger on top is refused; the one after skipped.
    app.clock().set(t("2026-06-01T10:02:00Z"));
    assert_eq!(app.fire().await.queued, 1);
    let request = format!("POST /schedules/{id}/trigger");
    app.refused(&s.token, &request, Some(&json!({})), 409, "buffer_one")
        .await;
    app.clock().set(t("2026-06-01T10:03:00Z"));
    assert_eq!(app.fire().await.skipped, 1);
    // The buffered one cannot start while the first runs.
    assert_eq!(app.run_due().await, 0);
    sqlx::query("update scheduler.executions set status = 'completed' where id = $1")
        .bind(claimed[0].id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.run_due().await,
        1,
        "it starts once the running one finished"
    );
    let runs = app.executions(&s, &id).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs.iter().filter(|r| r["status"] == "completed").count(),
        2
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn overlap_allow_runs_every_fire_time(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:00Z"), "allow@example.com").await;
    let body = json!({"cron_expression": "* * * * *", "overlap_policy": "allow"});
    let id = app.schedule_id(&s, &agent, body).await;
    for minute in 1..=3 {
        app.clock().set(t(&format!("2026-06-01T10:0{minute}:00Z")));
        assert_eq!(app.fire().await.queued, 1);
    }
    for _ in 0..2 {
        app.trigger(&s, &id).await;
    }
    assert_eq!(app.run_due().await, 5, "all run at once");
    assert_eq!(app.get_schedule(&s, &id).await["run_count"], 5);
}

#[sqlx::test(migrations = "../../migrations")]
async fn failed_runs_are_retried_with_backoff_then_fail(pool: sqlx::PgPool) {
    // An agent whose provider is unreachable: every agent execution fails.
    let provider = openai_provider("http://127.0.0.1:9");
    let app = spawn_with_provider(pool, ("down", provider), t("2026-06-01T10:00:00Z")).await;
    let s = app.signup("retry@example.com").await;
    let agent = app.agent_with(&s, "down").await;
    let body = json!({"cron_expression": "0 * * * *", "max_retries": 2, "retry_delay_seconds": 10});
    let id = app.schedule_id(&s, &agent, body).await;
    let run = app.trigger(&s, &id).await;
    assert_eq!(app.run_due().await, 1);
    let after_first = app.executions(&s, &id).await;
    assert_eq!(
        after_first[0]["status"], "pending",
        "waiting to retry: {}",
        after_first[0]
    );
    let retry_at = ts(&after_first[0]["run_after"]);
    let delay = (retry_at - t("2026-06-01T10:00:00Z")).num_milliseconds();
    assert!(
        (9_000..=11_000).contains(&delay),
        "first retry after ~10 s, got {delay} ms"
    );
    assert_eq!(app.run_due().await, 0, "not before its time");
    app.clock().set(retry_at);
    assert_eq!(app.run_due().await, 1);
    let second = app.executions(&s, &id).await;
    let retry_at = ts(&second[0]["run_after"]);
    let delay = (retry_at - app.now()).num_milliseconds();
    assert!(
        (18_000..=22_000).contains(&delay),
        "second retry after ~20 s, got {delay} ms"
    );
    app.clock().set(retry_at);
    assert_eq!(app.run_due().await, 1);
    let done = app
        .fetch(
            &s.token,
            &format!("/schedules/{id}/executions/{}", run["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["outcome"], "failed");
    assert_eq!(done["attempt"], 3);
    assert_eq!(done["attempts"].as_array().unwrap().len(), 3);
    assert!(
        done["error"].as_str().unwrap().contains("agent execution"),
        "{done}"
    );
    let completed = app.events(&s.tenant_id, "schedule.completed").await;
    assert_eq!(
        completed.len(),
        1,
        "one completion event, after the last attempt"
    );
    assert_eq!(completed[0]["status"], "failed");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_run_refused_by_a_budget_fails_at_once_as_budget_exceeded(pool: sqlx::PgPool) {
    // A priced model behind a provider nobody answers: the budget refuses the call before it
    // would be sent.
    let provider = openai_provider("http://127.0.0.1:9");
    let app = spawn_with_provider(pool, ("down", provider), t("2026-06-01T10:00:00Z")).await;
    let s = app.signup("budget@example.com").await;
    let body = json!({"name": "priced", "model": "gpt-4o", "provider": "down"});
    let agent = app.create(&s.token, "/agents/", &body).await;
    let agent = agent["id"].as_str().unwrap();
    let budget = json!({"daily_limit_usd": 0.000001});
    app.call(&s.token, "POST /costs/budget", Some(&budget), 200)
        .await;
    let body = json!({"cron_expression": "0 * * * *", "max_retries": 3});
    let id = app.schedule_id(&s, agent, body).await;
    app.trigger(&s, &id).await;
    assert_eq!(app.run_due().await, 1);

    let run = &app.executions(&s, &id).await[0];
    assert_eq!(run["status"], "failed", "not retried: {run}");
    assert_eq!(run["outcome"], "budget_exceeded", "{run}");
    assert_eq!(run["attempt"], 1);
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("budget_exceeded") && error.contains("budget"),
        "{error}"
    );
    let agent_exec = run["agent_execution_id"].as_str().unwrap();
    let exec = app
        .fetch(&s.token, &format!("/executions/{agent_exec}"))
        .await;
    assert_eq!(exec["outcome"], "budget_exceeded", "{exec}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_run_past_its_timeout_is_stopped_and_its_agent_execution_cancelled(pool: sqlx::PgPool) {
    let hanging = crate::multi::HangingLlm::start().await;
    let provider = openai_provider(&hanging.url());
    let app = spawn_with_provider(pool, ("slow", provider), t("2026-06-01T10:00:00Z")).await;
    let s = app.signup("timeout@example.com").await;
    let agent = app.agent_with(&s, "slow").await;
    let body = json!({"cron_expression": "0 * * * *", "timeout_seconds": 1, "max_retries": 0});
    let id = app.schedule_id(&s, &agent, body).await;
    app.trigger(&s, &id).await;
    assert_eq!(app.run_due().await, 1);
    let run = &app.executions(&s, &id).await[0];
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["outcome"], "timed_out");
    let agent_exec = run["agent_execution_id"].as_str().unwrap();
    let exec = app
        .fetch(&s.token, &format!("/executions/{agent_exec}"))
        .await;
    assert_eq!(exec["outcome"], "cancelled", "{exec}");
    assert!(
        eventually(|| async { hanging.closed() }).await,
        "the model call was aborted"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_abandoned_execution_is_rescued_and_its_agent_execution_adopted(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:00Z"), "rescue@example.com").await;
    let body = json!({"cron_expression": "0 * * * *", "max_retries": 1});
    let id = app.schedule_id(&s, &agent, body).await;
    app.trigger(&s, &id).await;
    // An engine claims it, starts the agent execution, then dies (no heartbeat, no result).
    let now = app.now();
    let dead = uuid::Uuid::now_v7();
    let claimed = executions::claim(&app.pool, dead, now, now + chrono::Duration::seconds(5), 10)
        .await
        .unwrap();
    let started = app.execute(&s.token, &agent, "ping").await;
    let agent_exec: uuid::Uuid = started["id"].as_str().unwrap().parse().unwrap();
    assert!(
        executions::set_agent_execution(&app.pool, claimed[0].id, dead, agent_exec)
            .await
            .unwrap()
    );
    // Within the lease nothing happens; after it, the rescuer returns it to the queue.
    assert_eq!(
        temponest_scheduler::domain::runner::rescue(&app.state, app.now())
            .await
            .unwrap(),
        0
    );
    app.clock().set(t("2026-06-01T10:00:06Z"));
    assert_eq!(
        temponest_scheduler::domain::runner::rescue(&app.state, app.now())
            .await
            .unwrap(),
        1
    );
    let agent_runs_before = count(&app.pool, "select count(*) from agents.executions").await;
    assert_eq!(app.run_due().await, 1);
    let agent_runs_after = count(&app.pool, "select count(*) from agents.executions").await;
    assert_eq!(
        agent_runs_after, agent_runs_before,
        "the task was not run a second time"
    );
    let run = &app.executions(&s, &id).await[0];
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["agent_execution_id"], agent_exec.to_string());
    assert_eq!(run["attempt"], 2);
    assert_eq!(run["attempts"][0]["outcome"], "abandoned");

    // Out of attempts, a rescued execution fails as abandoned.
    app.trigger(&s, &id).await;
    for _ in 0..2 {
        let now = app.now();
        let claimed =
            executions::claim(&app.pool, dead, now, now + chrono::Duration::seconds(5), 10)
                .await
                .unwrap();
        assert_eq!(claimed.len(), 1);
        app.clock().advance(chrono::Duration::seconds(6));
        assert_eq!(
            temponest_scheduler::domain::runner::rescue(&app.state, app.now())
                .await
                .unwrap(),
            1
        );
    }
    let run = &app.executions(&s, &id).await[0];
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["outcome"], "abandoned");
}

#[sqlx::test(migrations = "../../migrations")]
async fn scheduled_runs_are_not_throttled_by_client_rate_limits(pool: sqlx::PgPool) {
    // 8 requests a minute per client: enough for the test's own calls, far too few for 12
    // runs if the scheduler's calls to agents were charged to a client budget.
    let clock = temponest_scheduler::clock::ManualClock::new(t("2026-06-01T10:00:00Z"));
    let app = spawn_limited(pool, config(), agents_config(None), Some(clock), Some(8)).await;
    let s = app.signup("limits@example.com").await;
    let agent = app.agent(&s).await;
    let body = json!({"cron_expression": "*/5 * * * * *", "overlap_policy": "allow"});
    let id = app.schedule_id(&s, &agent, body).await;
    app.clock().set(t("2026-06-01T10:01:00Z"));
    assert_eq!(app.fire().await.queued, 12);
    assert_eq!(app.run_due().await, 12);
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "select status, error from scheduler.executions where schedule_id = $1::uuid",
    )
    .bind(&id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 12);
    assert!(
        rows.iter().all(|(status, _)| status == "completed"),
        "{rows:?}"
    );
    // The user's own calls are limited as configured.
    let mut limited = false;
    for _ in 0..10 {
        limited |= app.get(&s.token, "/schedules/").await.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "client calls hit the 8/min limit");
}

#[sqlx::test(migrations = "../../migrations")]
async fn fires_lateness_and_runs_are_exported(pool: sqlx::PgPool) {
    let app = spawn_at(pool, t("2026-06-01T10:00:00Z")).await;
    // The first scrape installs the process-wide recorder.
    app.metrics().await;
    let s = app.signup("metrics@example.com").await;
    let agent = app.agent(&s).await;
    app.schedule(
        &s,
        &agent,
        json!({"cron_expression": "* * * * *", "overlap_policy": "skip"}),
    )
    .await;
    app.clock().set(t("2026-06-01T10:01:00Z"));
    app.fire().await;
    app.run_due().await;
    app.clock().set(t("2026-06-01T10:03:30Z"));
    app.fire().await; // 10:02 missed (older than the 60 s grace), 10:03 queued
    let metrics = app.metrics().await;
    for needle in [
        "scheduler_fires_total{result=\"queued\"} 2",
        "scheduler_fires_total{result=\"missed\"} 1",
        "scheduler_fire_lateness_seconds_bucket",
        "scheduler_runs_total{outcome=\"completed\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle} not in:\n{metrics}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn finished_history_is_purged_after_the_retention_period(pool: sqlx::PgPool) {
    let (app, s, agent) =
        spawn_with_agent(pool, t("2026-06-01T10:00:00Z"), "purge@example.com").await;
    let body = json!({"cron_expression": "* * * * *", "misfire_policy": "skip"});
    let id = app.schedule_id(&s, &agent, body).await;
    app.clock().set(t("2026-06-01T10:01:00Z"));
    app.fire().await;
    app.run_due().await;
    app.clock().set(t("2026-06-01T10:05:30Z"));
    app.fire().await; // 10:02–10:04 missed, 10:05 queued (left unfinished)
    assert_eq!(app.fires(&s, &id).await.len(), 5);
    let purge = |before| {
        let pool = app.pool.clone();
        async move {
            executions::purge_finished(&pool, before, 100)
                .await
                .unwrap()
                + executions::purge_skipped_fires(&pool, before, 100)
                    .await
                    .unwrap()
        }
    };
    // Nothing is old enough yet.
    assert_eq!(purge(t("2026-06-01T10:00:00Z")).await, 0);
    let purged = purge(t("2026-06-02T00:00:00Z")).await;
    assert_eq!(
        purged, 4,
        "the finished execution and the 3 missed fire times"
    );
    let left = app.fires(&s, &id).await;
    assert_eq!(left.len(), 1, "the unfinished execution stays: {left:?}");
    assert_eq!(ts(&left[0]["fire_time"]), t("2026-06-01T10:05:00Z"));
}
