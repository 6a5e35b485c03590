//! Summary, daily, hourly, breakdowns and forecast: the arithmetic at UTC boundaries and
//! tenant isolation.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{A1, A2, GPT, Spend, at, november_to_december, record};
use crate::helpers::{TestApp, spawn_ada};

/// The cost summary `token` reads from `start` to `end` (dates or instants, as the query
/// string carries them; `end` may carry further parameters).
async fn read_summary(app: &TestApp, token: &str, start: &str, end: &str) -> Value {
    let path = format!("/costs/summary?start_date={start}&end_date={end}");
    app.fetch(token, &path).await
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_summary_adds_up_whole_utc_days_by_provider_model_and_agent(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let bob = app.signup("bob@example.com").await;
    november_to_december(&app, &ada.tenant_id, &bob.tenant_id).await;

    let summary = read_summary(&app, &ada.token, "2026-12-01", "2026-12-02").await;
    assert_eq!(
        summary,
        json!({
            "total_usd": 0.75,
            "by_provider": {"openai": 0.25, "anthropic": 0.5},
            "by_model": {"gpt-4o": 0.25, "claude-sonnet": 0.5, "mystery": 0.0},
            "by_agent": {A1.to_string(): 0.25, A2.to_string(): 0.5},
            "total_tokens": {"input": 37, "output": 18},
            "period_start": "2026-12-01T00:00:00Z",
            "period_end": "2026-12-03T00:00:00Z",
            "timezone": "UTC",
            "calls": 3,
            "unpriced_calls": 1,
        })
    );

    // 23:59:59 on the last day of November belongs to November only.
    let november = read_summary(&app, &ada.token, "2026-11-01", "2026-11-30").await;
    assert_eq!(november["total_usd"], 1.0);
    assert_eq!(november["period_end"], "2026-12-01T00:00:00Z");
    // A date-time end is exclusive; offsets are converted to UTC.
    let instants = read_summary(
        &app,
        &ada.token,
        "2026-12-01T01:59:59%2B02:00",
        "2026-12-03T00:00:00Z",
    )
    .await;
    assert_eq!(instants["period_start"], "2026-11-30T23:59:59Z");
    assert_eq!(instants["total_usd"], 1.75);
    assert_eq!(instants["calls"], 4);

    let one_agent = read_summary(
        &app,
        &ada.token,
        "2026-12-01",
        &format!("2026-12-03&agent_id={A1}"),
    )
    .await;
    assert_eq!(one_agent["total_usd"], 2.25);
    assert_eq!(one_agent["by_agent"], json!({A1.to_string(): 2.25}));
    assert_eq!(one_agent["unpriced_calls"], 0);

    // Tenant B sees only its own call, A none of B's.
    let theirs = read_summary(&app, &bob.token, "2026-11-01", "2026-12-31").await;
    assert_eq!(theirs["total_usd"], 9.0);
    assert_eq!(theirs["calls"], 1);
    let ours = read_summary(&app, &ada.token, "2026-11-01", "2026-12-31").await;
    assert_eq!(ours["total_usd"], 3.75);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_default_summary_is_the_current_utc_month_up_to_now(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let now = Utc::now();
    let month = now
        .date_naive()
        .with_day(1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    record(&app.pool, &ada.tenant_id, month, Spend { nanos: 3, ..GPT }).await;
    let last_month = month - Duration::seconds(1);
    record(
        &app.pool,
        &ada.tenant_id,
        last_month,
        Spend { nanos: 5, ..GPT },
    )
    .await;

    let summary = app.fetch(&ada.token, "/costs/summary").await;
    assert_eq!(summary["total_usd"], 0.000000003);
    assert_eq!(summary["calls"], 1);
    assert_eq!(
        at(summary["period_start"].as_str().unwrap()),
        month,
        "{summary}"
    );
    let end = at(summary["period_end"].as_str().unwrap());
    assert!(end >= now && end <= Utc::now(), "{summary}");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn daily_and_hourly_have_every_utc_bucket_oldest_first_with_zeros(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let bob = app.signup("bob@example.com").await;
    let now = Utc::now();
    let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let hour = today + Duration::hours(i64::from(now.hour()));
    let second = Duration::seconds(1);
    let a = &ada.tenant_id;
    let spend = |nanos, input| Spend {
        nanos,
        input,
        output: 1,
        ..GPT
    };
    // Days: the one before the window (excluded), its last second in the window's first day…
    record(
        &app.pool,
        a,
        today - Duration::days(2) - second,
        spend(1, 1),
    )
    .await;
    record(
        &app.pool,
        a,
        today - Duration::days(1) - second,
        spend(2_000, 2),
    )
    .await;
    record(
        &app.pool,
        a,
        today - Duration::days(1) - second,
        spend(3_000, 3),
    )
    .await;
    record(&app.pool, a, today, spend(4_000_000, 4)).await;
    record(&app.pool, &bob.tenant_id, today, spend(7_000_000, 7)).await;

    let daily = app.fetch(&ada.token, "/costs/daily?days=3").await;
    let date = |d: DateTime<Utc>| d.date_naive().to_string();
    assert_eq!(
        daily,
        json!([
            {"date": date(today - Duration::days(2)), "total_usd": 0.000005, "calls": 2, "input_tokens": 5, "output_tokens": 2},
            {"date": date(today - Duration::days(1)), "total_usd": 0.0, "calls": 0, "input_tokens": 0, "output_tokens": 0},
            {"date": date(today), "total_usd": 0.004, "calls": 1, "input_tokens": 4, "output_tokens": 1},
        ])
    );
    assert_eq!(
        app.fetch(&ada.token, "/costs/daily")
            .await
            .as_array()
            .unwrap()
            .len(),
        30
    );

    // Hours, in a tenant of their own (the calls above fall in recent hours after midnight):
    // the hour before the window (excluded), the first hour's first and last seconds, and a
    // call in the current hour.
    let cy = app.signup("cy@example.com").await;
    let c = &cy.tenant_id;
    record(
        &app.pool,
        c,
        hour - Duration::hours(2) - second,
        spend(10, 1),
    )
    .await;
    record(&app.pool, c, hour - Duration::hours(2), spend(20, 1)).await;
    record(
        &app.pool,
        c,
        hour - Duration::hours(1) - second,
        spend(30, 1),
    )
    .await;
    record(&app.pool, c, hour, spend(40, 1)).await;
    let hourly = app.fetch(&cy.token, "/costs/hourly?hours=3").await;
    let hours: Vec<DateTime<Utc>> = hourly
        .as_array()
        .unwrap()
        .iter()
        .map(|h| at(h["hour"].as_str().unwrap()))
        .collect();
    assert_eq!(
        hours,
        [hour - Duration::hours(2), hour - Duration::hours(1), hour]
    );
    assert_eq!(hourly[0]["total_usd"], 0.00000005, "{hourly}");
    assert_eq!(hourly[0]["calls"], 2);
    assert_eq!(hourly[1]["calls"], 0);
    assert_eq!(hourly[1]["total_usd"], 0.0);
    assert_eq!(hourly[2]["total_usd"], 0.00000004);
    assert_eq!(hourly[2]["calls"], 1);
    assert_eq!(
        app.fetch(&ada.token, "/costs/hourly")
            .await
            .as_array()
            .unwrap()
            .len(),
        24
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn breakdowns_are_sorted_by_spend_and_cut_at_top_n(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let bob = app.signup("bob@example.com").await;
    november_to_december(&app, &ada.tenant_id, &bob.tenant_id).await;
    let period = "start_date=2026-12-01&end_date=2026-12-03";

    let agents = app
        .fetch(&ada.token, &format!("/costs/by-agent?{period}"))
        .await;
    assert_eq!(
        agents,
        json!([
            {"agent_id": A1.to_string(), "total_usd": 2.25, "calls": 2, "input_tokens": 11, "output_tokens": 6},
            {"agent_id": A2.to_string(), "total_usd": 0.5, "calls": 2, "input_tokens": 27, "output_tokens": 13},
        ])
    );
    let providers = app
        .fetch(&ada.token, &format!("/costs/by-provider?{period}"))
        .await;
    assert_eq!(providers[0]["provider"], "openai");
    assert_eq!(providers[0]["total_usd"], 2.25);
    assert_eq!(providers[0]["calls"], 3);
    assert_eq!(providers[1]["provider"], "anthropic");
    let models = app
        .fetch(&ada.token, &format!("/costs/by-model?{period}&top_n=2"))
        .await;
    let names: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gpt-4o", "claude-sonnet"]);
    // Tenant B's breakdown has its single agent.
    let theirs = app
        .fetch(&bob.token, "/costs/by-agent?start_date=2026-12-01")
        .await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["total_usd"], 9.0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_forecast_projects_the_weekday_pattern_of_the_last_28_days(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let today = Utc::now().date_naive();
    let noon = |d: NaiveDate| d.and_hms_opt(12, 0, 0).unwrap().and_utc();
    // 7 $ on each of the four Mondays of the history; nothing else counts: today is not
    // history, and neither is the 29th day back.
    for back in 1..=28 {
        let day = today - Duration::days(back);
        if day.weekday() == chrono::Weekday::Mon {
            let spend = Spend {
                nanos: 7_000_000_000,
                ..GPT
            };
            record(&app.pool, &ada.tenant_id, noon(day), spend).await;
        }
    }
    let big = Spend {
        nanos: 100_000_000_000,
        ..GPT
    };
    record(&app.pool, &ada.tenant_id, noon(today), big).await;
    record(
        &app.pool,
        &ada.tenant_id,
        noon(today - Duration::days(29)),
        big,
    )
    .await;

    let forecast = app.fetch(&ada.token, "/costs/forecast?days=7").await;
    assert_eq!(forecast["method"], "trailing_average_weekday_seasonality");
    assert_eq!(forecast["days"], 7);
    assert_eq!(forecast["inputs"]["history_days"], 28);
    assert_eq!(forecast["inputs"]["trailing_daily_average_usd"], 1.0);
    assert_eq!(
        forecast["inputs"]["weekday_factors"],
        json!({"mon": 7.0, "tue": 0.0, "wed": 0.0, "thu": 0.0, "fri": 0.0, "sat": 0.0, "sun": 0.0})
    );
    let daily = forecast["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 7);
    for (i, day) in daily.iter().enumerate() {
        let date = today + Duration::days(i as i64 + 1);
        assert_eq!(day["date"], date.to_string());
        let expected = if date.weekday() == chrono::Weekday::Mon {
            7.0
        } else {
            0.0
        };
        assert_eq!(day["projected_usd"], expected, "{forecast}");
    }
    assert_eq!(forecast["projected_total_usd"], 7.0);
    let default = app.fetch(&ada.token, "/costs/forecast").await;
    assert_eq!(default["daily"].as_array().unwrap().len(), 30);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn whole_hours_come_from_the_roll_up_and_partial_hours_from_the_records(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let spend = |nanos| Spend {
        input: 1,
        output: 2,
        nanos,
        ..GPT
    };
    for (instant, nanos) in [
        ("2026-12-01T10:15:00Z", 1_000_000_000),
        ("2026-12-01T10:45:00Z", 100_000_000),
        ("2026-12-01T11:30:00Z", 10_000_000),
        ("2026-12-01T11:59:59Z", 1_000_000),
        ("2026-12-01T12:05:00Z", 100_000),
        ("2026-12-01T12:40:00Z", 10_000),
    ] {
        record(&app.pool, &ada.tenant_id, at(instant), spend(nanos)).await;
    }
    let total = |start: &str, end: &str| {
        let path = format!("/costs/summary?start_date={start}&end_date={end}");
        let app = &app;
        let token = ada.token.clone();
        async move { app.fetch(&token, &path).await }
    };
    // [10:30, 12:10): 10:45 and 12:05 from the records at the edges, 11:00–12:00 whole.
    let mid = total("2026-12-01T10:30:00Z", "2026-12-01T12:10:00Z").await;
    assert_eq!(mid["total_usd"], 0.1111);
    assert_eq!(mid["calls"], 4);
    assert_eq!(mid["total_tokens"], json!({"input": 4, "output": 8}));
    // Inside one hour: records only.
    let inside = total("2026-12-01T11:10:00Z", "2026-12-01T11:59:59Z").await;
    assert_eq!(inside["total_usd"], 0.01);
    // Hour-aligned: the roll-up only.
    let day = total("2026-12-01", "2026-12-01").await;
    assert_eq!(day["total_usd"], 1.11111);
    assert_eq!(day["calls"], 6);

    // The roll-up follows deletes (the retention purge) in the same statement...
    sqlx::query("delete from agents.cost_records where created_at < '2026-12-01T11:00:00Z'")
        .execute(&app.pool)
        .await
        .unwrap();
    // (A settled period's summary is cached: ask for the day by another key.)
    let day = total("2026-12-01T00:00:00Z", "2026-12-01T23:00:00Z").await;
    assert_eq!(day["total_usd"], 0.01111);
    assert_eq!(day["calls"], 4);
    let hours: Vec<(DateTime<Utc>, i64, i64)> =
        sqlx::query_as("select hour, cost_nanos, calls from agents.cost_hourly order by hour")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        hours,
        vec![
            (at("2026-12-01T11:00:00Z"), 11_000_000, 2),
            (at("2026-12-01T12:00:00Z"), 110_000, 2),
        ],
        "an hour whose records are all gone leaves no roll-up row"
    );
    // ...and cost records cannot be changed behind its back.
    let update = sqlx::query("update agents.cost_records set cost_nanos = 0")
        .execute(&app.pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_settled_periods_summary_is_cached_and_the_current_one_never(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let spend = Spend {
        nanos: 1_000_000_000,
        ..GPT
    };
    record(&app.pool, &ada.tenant_id, at("2026-11-10T12:00:00Z"), spend).await;
    let november = "/costs/summary?start_date=2026-11-01&end_date=2026-11-30";
    assert_eq!(app.fetch(&ada.token, november).await["total_usd"], 1.0);
    // Only a write behind the API's back can change a settled period; the cached summary
    // shows it was not recomputed.
    record(&app.pool, &ada.tenant_id, at("2026-11-11T12:00:00Z"), spend).await;
    assert_eq!(app.fetch(&ada.token, november).await["total_usd"], 1.0);
    // Another filter is another entry.
    let one_agent = format!("{november}&agent_id={A1}");
    assert_eq!(app.fetch(&ada.token, &one_agent).await["total_usd"], 2.0);

    // The current month is computed on every request.
    let now = Utc::now();
    record(&app.pool, &ada.tenant_id, now - Duration::seconds(1), spend).await;
    assert_eq!(app.fetch(&ada.token, "/costs/summary").await["calls"], 1);
    record(&app.pool, &ada.tenant_id, now - Duration::seconds(1), spend).await;
    assert_eq!(app.fetch(&ada.token, "/costs/summary").await["calls"], 2);
}
