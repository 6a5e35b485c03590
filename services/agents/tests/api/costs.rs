//! The cost reports over HTTP: each endpoint's arithmetic against cost rows written by hand
//! at chosen instants (UTC day, hour and month boundaries), tenant isolation, permissions,
//! the 422s, the CSV/JSON export, and the project of a real execution.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, expect_error, expect_json, spawn};

/// One hand-made cost record (the tenant and instant are given apart).
#[derive(Clone, Copy)]
struct Spend<'a> {
    agent: Uuid,
    provider: &'a str,
    model: &'a str,
    input: i32,
    output: i32,
    nanos: i64,
    unpriced: bool,
}

const A1: Uuid = Uuid::from_u128(0xa1);
const A2: Uuid = Uuid::from_u128(0xa2);

const GPT: Spend<'static> = Spend {
    agent: A1,
    provider: "openai",
    model: "gpt-4o",
    input: 0,
    output: 0,
    nanos: 0,
    unpriced: false,
};

fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).unwrap().to_utc()
}

async fn record(pool: &PgPool, tenant: &str, at: DateTime<Utc>, s: Spend<'_>) {
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

async fn get_ok(app: &TestApp, token: &str, path: &str) -> Value {
    expect_json(app.get(token, path).await, StatusCode::OK).await
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

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_summary_adds_up_whole_utc_days_by_provider_model_and_agent(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    november_to_december(&app, &ada.tenant_id, &bob.tenant_id).await;

    let summary = get_ok(
        &app,
        &ada.token,
        "/costs/summary?start_date=2026-12-01&end_date=2026-12-02",
    )
    .await;
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
    let november = get_ok(
        &app,
        &ada.token,
        "/costs/summary?start_date=2026-11-01&end_date=2026-11-30",
    )
    .await;
    assert_eq!(november["total_usd"], 1.0);
    assert_eq!(november["period_end"], "2026-12-01T00:00:00Z");
    // A date-time end is exclusive; offsets are converted to UTC.
    let instants = get_ok(
        &app,
        &ada.token,
        "/costs/summary?start_date=2026-12-01T01:59:59%2B02:00&end_date=2026-12-03T00:00:00Z",
    )
    .await;
    assert_eq!(instants["period_start"], "2026-11-30T23:59:59Z");
    assert_eq!(instants["total_usd"], 1.75);
    assert_eq!(instants["calls"], 4);

    let one_agent = get_ok(
        &app,
        &ada.token,
        &format!("/costs/summary?start_date=2026-12-01&end_date=2026-12-03&agent_id={A1}"),
    )
    .await;
    assert_eq!(one_agent["total_usd"], 2.25);
    assert_eq!(one_agent["by_agent"], json!({A1.to_string(): 2.25}));
    assert_eq!(one_agent["unpriced_calls"], 0);

    // Tenant B sees only its own call, A none of B's.
    let theirs = get_ok(
        &app,
        &bob.token,
        "/costs/summary?start_date=2026-11-01&end_date=2026-12-31",
    )
    .await;
    assert_eq!(theirs["total_usd"], 9.0);
    assert_eq!(theirs["calls"], 1);
    let ours = get_ok(
        &app,
        &ada.token,
        "/costs/summary?start_date=2026-11-01&end_date=2026-12-31",
    )
    .await;
    assert_eq!(ours["total_usd"], 3.75);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_default_summary_is_the_current_utc_month_up_to_now(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
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

    let summary = get_ok(&app, &ada.token, "/costs/summary").await;
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
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
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

    let daily = get_ok(&app, &ada.token, "/costs/daily?days=3").await;
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
        get_ok(&app, &ada.token, "/costs/daily")
            .await
            .as_array()
            .unwrap()
            .len(),
        30
    );

    // Hours: the current one, the one before it from its first second, one from its last.
    record(
        &app.pool,
        a,
        hour - Duration::hours(2) - second,
        spend(10, 1),
    )
    .await;
    record(&app.pool, a, hour - Duration::hours(2), spend(20, 1)).await;
    record(
        &app.pool,
        a,
        hour - Duration::hours(1) - second,
        spend(30, 1),
    )
    .await;
    let hourly = get_ok(&app, &ada.token, "/costs/hourly?hours=3").await;
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
    // The current hour holds today's first call only when today's first hour is now.
    let current = if hour == today { 4_000_000 } else { 0 };
    assert_eq!(hourly[2]["total_usd"], current as f64 / 1e9);
    assert_eq!(
        get_ok(&app, &ada.token, "/costs/hourly")
            .await
            .as_array()
            .unwrap()
            .len(),
        24
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn breakdowns_are_sorted_by_spend_and_cut_at_top_n(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    november_to_december(&app, &ada.tenant_id, &bob.tenant_id).await;
    let period = "start_date=2026-12-01&end_date=2026-12-03";

    let agents = get_ok(&app, &ada.token, &format!("/costs/by-agent?{period}")).await;
    assert_eq!(
        agents,
        json!([
            {"agent_id": A1.to_string(), "total_usd": 2.25, "calls": 2, "input_tokens": 11, "output_tokens": 6},
            {"agent_id": A2.to_string(), "total_usd": 0.5, "calls": 2, "input_tokens": 27, "output_tokens": 13},
        ])
    );
    let providers = get_ok(&app, &ada.token, &format!("/costs/by-provider?{period}")).await;
    assert_eq!(providers[0]["provider"], "openai");
    assert_eq!(providers[0]["total_usd"], 2.25);
    assert_eq!(providers[0]["calls"], 3);
    assert_eq!(providers[1]["provider"], "anthropic");
    let models = get_ok(
        &app,
        &ada.token,
        &format!("/costs/by-model?{period}&top_n=2"),
    )
    .await;
    let names: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gpt-4o", "claude-sonnet"]);
    // Tenant B's breakdown has its single agent.
    let theirs = get_ok(&app, &bob.token, "/costs/by-agent?start_date=2026-12-01").await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["total_usd"], 9.0);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_forecast_projects_the_weekday_pattern_of_the_last_28_days(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
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

    let forecast = get_ok(&app, &ada.token, "/costs/forecast?days=7").await;
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
    let default = get_ok(&app, &ada.token, "/costs/forecast").await;
    assert_eq!(default["daily"].as_array().unwrap().len(), 30);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_export_streams_csv_with_a_header_and_quoted_fields_or_json(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    november_to_december(&app, &ada.tenant_id, &bob.tenant_id).await;
    let quoted = Spend {
        model: "gpt,\"x\"",
        input: 3,
        output: 4,
        nanos: 1_500,
        ..GPT
    };
    record(
        &app.pool,
        &ada.tenant_id,
        at("2026-12-02T08:00:00.5Z"),
        quoted,
    )
    .await;

    let resp = app
        .get(
            &ada.token,
            "/costs/export?start_date=2026-12-02&end_date=2026-12-02",
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = resp.text().await.unwrap();
    assert_eq!(
        csv,
        format!(
            "created_at,execution_id,agent_id,provider,model,input_tokens,output_tokens,cost_usd,unpriced,usage_estimated,status\r\n\
             2026-12-02T08:00:00.500Z,,{A1},openai,\"gpt,\"\"x\"\"\",3,4,0.000001500,false,false,success\r\n\
             2026-12-02T23:59:59Z,,{A2},openai,mystery,7,3,0.000000000,true,false,success\r\n"
        )
    );

    let json = get_ok(
        &app,
        &ada.token,
        "/costs/export?format=json&start_date=2026-11-30&end_date=2026-12-01",
    )
    .await;
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{json}");
    assert_eq!(rows[0]["created_at"], "2026-11-30T23:59:59Z");
    assert_eq!(rows[0]["cost_usd"], 1.0);
    assert_eq!(rows[0]["input_tokens"], 100);
    assert_eq!(rows[2]["model"], "claude-sonnet");
    // Tenant B's export holds only its own row.
    let theirs = app
        .get(
            &bob.token,
            "/costs/export?start_date=2026-11-01&end_date=2026-12-31",
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(theirs.lines().count(), 2, "{theirs}");
    let empty = get_ok(
        &app,
        &bob.token,
        "/costs/export?format=json&start_date=2026-01-01&end_date=2026-01-02",
    )
    .await;
    assert_eq!(empty, json!([]));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn bad_parameters_are_422s_naming_the_parameter(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    for (path, needle) in [
        ("/costs/summary?start_date=yesterday", "start_date"),
        ("/costs/summary?end_date=2026-02-30", "end_date"),
        (
            "/costs/summary?start_date=2026-12-02&end_date=2026-12-01",
            "start_date",
        ),
        (
            "/costs/summary?start_date=2026-12-01T00:00:00Z&end_date=2026-11-30T23:00:00Z",
            "start_date",
        ),
        ("/costs/summary?agent_id=nope", "agent_id"),
        ("/costs/daily?days=0", "days"),
        ("/costs/daily?days=367", "days"),
        ("/costs/daily?days=ten", "days"),
        ("/costs/hourly?hours=0", "hours"),
        ("/costs/hourly?hours=721", "hours"),
        ("/costs/by-agent?top_n=0", "top_n"),
        ("/costs/by-provider?top_n=101", "top_n"),
        ("/costs/by-model?end_date=soon", "end_date"),
        ("/costs/forecast?days=91", "days"),
        ("/costs/forecast?days=-1", "days"),
        ("/costs/export?format=xml", "format"),
        ("/costs/export?start_date=2026-13-01", "start_date"),
    ] {
        let body = expect_error(
            app.get(&ada.token, path).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            needle,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], needle, "{path}: {body}");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn viewers_read_costs_and_api_keys_need_the_costs_read_scope(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    let user = json!({"email": "val@example.com", "password": PASSWORD, "roles": ["viewer"]});
    expect_json(
        app.post(&ada.token, "/users", &user).await,
        StatusCode::CREATED,
    )
    .await;
    let login = json!({"email": "val@example.com", "password": PASSWORD});
    let tokens = expect_json(
        app.http
            .post(app.url("/auth/login"))
            .json(&login)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let viewer = tokens["access_token"].as_str().unwrap();
    let key = |scopes: Value| {
        let body = json!({"name": "reports", "scopes": scopes});
        let app = &app;
        let token = ada.token.clone();
        async move {
            expect_json(
                app.post(&token, "/api-keys", &body).await,
                StatusCode::CREATED,
            )
            .await["key"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let reader = key(json!(["costs:read"])).await;
    let agents_only = key(json!(["agents:read"])).await;
    for path in [
        "/costs/summary",
        "/costs/daily",
        "/costs/hourly",
        "/costs/by-agent",
        "/costs/by-provider",
        "/costs/by-model",
        "/costs/forecast",
        "/costs/export",
    ] {
        for token in [viewer, reader.as_str()] {
            assert_eq!(
                app.get(token, path).await.status(),
                StatusCode::OK,
                "{path}"
            );
        }
        expect_error(
            app.get(&agents_only, path).await,
            StatusCode::FORBIDDEN,
            "costs:read",
        )
        .await;
        let anonymous = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn spend_is_split_by_the_project_of_each_execution(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.signup("ada@example.com").await;
    // 1 $ per token, so the echo model's calls cost something.
    let price = json!({"model": "echo-1", "input_usd_per_mtok": 1_000_000.0, "output_usd_per_mtok": 1_000_000.0});
    expect_json(
        app.send_raw(
            reqwest::Method::PUT,
            &ada.token,
            "/costs/prices",
            &price.to_string(),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let agent = app
        .agent(
            &ada.token,
            json!({"name": "Echo", "model": "echo-1", "provider": "echo"}),
        )
        .await;
    let path = format!("/agents/{}/execute", agent["id"].as_str().unwrap());
    let run = |body: Value| {
        let app = &app;
        let token = ada.token.clone();
        let path = path.clone();
        async move { expect_json(app.post(&token, &path, &body).await, StatusCode::OK).await }
    };
    let apollo =
        run(json!({"user_message": "to the moon", "context": {"project_id": "apollo"}})).await;
    let zeus = run(json!({"user_message": "thunder", "project_id": "zeus", "context": {"project_id": "ignored"}})).await;
    let loose = run(json!({"user_message": "no project at all"})).await;
    for execution in [&apollo, &zeus, &loose] {
        assert!(execution["cost_usd"].as_f64().unwrap() > 0.0, "{execution}");
    }
    for (project, execution) in [("apollo", &apollo), ("zeus", &zeus)] {
        let summary = get_ok(
            &app,
            &ada.token,
            &format!("/costs/summary?project_id={project}"),
        )
        .await;
        assert_eq!(
            summary["total_usd"], execution["cost_usd"],
            "{project}: {summary}"
        );
        assert_eq!(
            summary["total_tokens"]["input"],
            execution["tokens_used"]["prompt"]
        );
        assert_eq!(summary["calls"], 1);
    }
    let none = get_ok(&app, &ada.token, "/costs/summary?project_id=ignored").await;
    assert_eq!(none["calls"], 0);
    let all = get_ok(&app, &ada.token, "/costs/summary").await;
    assert_eq!(all["calls"], 3);
    let blank = json!({"user_message": "x", "project_id": " "});
    expect_error(
        app.post(&ada.token, &path, &blank).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "project_id",
    )
    .await;
}
