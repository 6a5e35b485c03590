//! The export's formats, the 422s, who may read costs, and the project of a real execution.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{
    A1, A2, GPT, REPORTS, Spend, api_key, at, needs_costs_read, november_to_december, record,
};
use crate::helpers::{echo_agent, expect_json, spawn, spawn_ada};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_export_streams_csv_with_a_header_and_quoted_fields_or_json(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
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

    let json = app
        .fetch(
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
    let empty = app
        .fetch(
            &bob.token,
            "/costs/export?format=json&start_date=2026-01-01&end_date=2026-01-02",
        )
        .await;
    assert_eq!(empty, json!([]));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_large_export_is_sent_in_chunks_with_every_row_once(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    // 3,000 rows (about 400 KB of CSV): many chunks of the stream.
    sqlx::query(
        "insert into agents.cost_records (id, tenant_id, agent_id, provider, model,
                prompt_tokens, completion_tokens, cost_nanos, unpriced, usage_estimated,
                duration_ms, status, streamed, created_at)
         select gen_random_uuid(), $1, $2, 'openai', 'gpt-4o', i, 1, i, false, false, 1,
                'success', false, '2026-12-01T00:00:00Z'::timestamptz + i * interval '1 second'
         from generate_series(1, 3000) i",
    )
    .bind(ada.tenant_id.parse::<uuid::Uuid>().unwrap())
    .bind(A1)
    .execute(&app.pool)
    .await
    .unwrap();
    let resp = app
        .get(
            &ada.token,
            "/costs/export?start_date=2026-12-01&end_date=2026-12-01",
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Streamed: the length is not known up front.
    assert!(resp.headers().get("content-length").is_none());
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3001);
    // Oldest first, each row once: row i has i input tokens.
    for (i, line) in lines[1..].iter().enumerate() {
        let input: usize = line.split(',').nth(5).unwrap().parse().unwrap();
        assert_eq!(input, i + 1, "{line}");
    }
    let json = app
        .fetch(
            &ada.token,
            "/costs/export?format=json&start_date=2026-12-01&end_date=2026-12-01",
        )
        .await;
    assert_eq!(json.as_array().unwrap().len(), 3000);
    assert_eq!(json[2999]["cost_usd"], 0.000003);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_gzipped_export_arrives_whole(pool: PgPool) {
    // The compression layer polls a streamed body once more after its end; the export's
    // stream used to panic then, and the client got a truncated, empty transfer.
    use std::io::Read as _;
    let (app, ada) = spawn_ada(pool).await;
    record(&app.pool, &ada.tenant_id, at("2026-12-02T08:00:00Z"), GPT).await;
    let bearer = format!("Bearer {}", ada.token);
    for (format, head) in [("csv", "created_at,execution_id,"), ("json", "[{")] {
        let resp = app
            .get_public(
                &format!("/costs/export?format={format}&start_date=2026-12-01&end_date=2026-12-31"),
                &[("authorization", &bearer), ("accept-encoding", "gzip")],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-encoding"], "gzip");
        let compressed = resp.bytes().await.expect("the whole body arrives");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_string(&mut text)
            .expect("a complete gzip stream");
        assert!(text.starts_with(head), "{text}");
        assert!(text.contains(&A1.to_string()), "{text}");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn bad_parameters_are_422s_naming_the_parameter(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
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
        let body = app
            .refused(&ada.token, &format!("GET {path}"), None, 422, needle)
            .await;
        assert_eq!(body["errors"][0]["field"], needle, "{path}: {body}");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn viewers_read_costs_and_api_keys_need_the_costs_read_scope(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let viewer: &str = &app.viewer(&ada.token, "val@example.com").await;
    let reader = api_key(&app, &ada.token, "costs:read").await;
    let agents_only = api_key(&app, &ada.token, "agents:read").await;
    for path in REPORTS {
        for token in [viewer, reader.as_str()] {
            assert_eq!(
                app.get(token, path).await.status(),
                StatusCode::OK,
                "{path}"
            );
        }
        needs_costs_read(&app, &agents_only, path).await;
        let anonymous = app.get_public(path, &[]).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn spend_is_split_by_the_project_of_each_execution(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    // 1 $ per token, so the echo model's calls cost something.
    let price = json!({"model": "echo-1", "input_usd_per_mtok": 1_000_000.0, "output_usd_per_mtok": 1_000_000.0});
    app.call_raw(&ada.token, "PUT /costs/prices", &price.to_string(), 200)
        .await;
    let agent = app.agent(&ada.token, echo_agent("Echo", "echo-1")).await;
    let path = format!("/agents/{}/execute", agent["id"].as_str().unwrap());
    let run = |body: Value| {
        let app = &app;
        let token = ada.token.clone();
        let path = path.clone();
        async move {
            app.call(&token, &format!("POST {path}"), Some(&body), 200)
                .await
        }
    };
    let apollo =
        run(json!({"user_message": "to the moon", "context": {"project_id": "apollo"}})).await;
    let zeus = run(json!({"user_message": "thunder", "project_id": "zeus", "context": {"project_id": "ignored"}})).await;
    let loose = run(json!({"user_message": "no project at all"})).await;
    for execution in [&apollo, &zeus, &loose] {
        assert!(execution["cost_usd"].as_f64().unwrap() > 0.0, "{execution}");
    }
    for (project, execution) in [("apollo", &apollo), ("zeus", &zeus)] {
        let summary = app
            .fetch(&ada.token, &format!("/costs/summary?project_id={project}"))
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
    let none = app
        .fetch(&ada.token, "/costs/summary?project_id=ignored")
        .await;
    assert_eq!(none["calls"], 0);
    let all = app.fetch(&ada.token, "/costs/summary").await;
    assert_eq!(all["calls"], 3);
    let blank = json!({"user_message": "x", "project_id": " "});
    app.refused(
        &ada.token,
        &format!("POST {path}"),
        Some(&blank),
        422,
        "project_id",
    )
    .await;
    // A context is free-form: an unusable project_id there is no error, the run is just not
    // split by project.
    let odd = json!({"user_message": "x", "context": {"project_id": " "}});
    app.call(&ada.token, &format!("POST {path}"), Some(&odd), 200)
        .await;
    let all = app.fetch(&ada.token, "/costs/summary").await;
    assert_eq!(all["calls"], 4);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_cost_reports_and_the_dashboard_are_in_the_openapi_document(pool: PgPool) {
    let app = spawn(pool).await;
    let doc = expect_json(
        app.http.get(app.url("/openapi.json")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    for path in REPORTS.into_iter().chain(["/dashboard/metrics"]) {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
}
