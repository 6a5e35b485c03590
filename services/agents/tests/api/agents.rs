//! Agents CRUD: defaults, validation, uniqueness, soft delete, tenant isolation, the cache and
//! the outbox.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{echo_agent, expect_json, spawn_ada, spawn_with_agent};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_agent_is_created_with_the_spec_defaults_listed_updated_and_deleted(pool: PgPool) {
    let (app, ada, agent) =
        spawn_with_agent(pool, json!({"name": "Researcher", "model": "llama3.2"})).await;
    assert_eq!(agent["provider"], "ollama");
    assert_eq!(agent["max_iterations"], 10);
    assert_eq!(agent["temperature"], 0.7);
    assert_eq!(agent["tools"], json!([]));
    assert_eq!(agent["rag_collection_ids"], json!([]));
    assert_eq!(agent["metadata"], json!({}));
    assert_eq!(agent["tenant_id"], ada.tenant_id.as_str());
    let id = agent["id"].as_str().unwrap();

    let fetched = app.fetch(&ada.token, &format!("/agents/{id}")).await;
    assert_eq!(fetched, agent);

    for path in ["/agents", "/agents/"] {
        let list = app.page(&ada.token, path).await;
        assert_eq!(list.total, 1, "{path}");
        assert_eq!(json!(list.items), json!([agent]), "{path} is a bare array");
    }

    let patched = app
        .update(
            &ada.token,
            &format!("/agents/{id}"),
            &json!({"description": "finds things", "temperature": 0.2}),
        )
        .await;
    assert_eq!(patched["description"], "finds things");
    assert_eq!(patched["temperature"], 0.2);
    assert_eq!(patched["name"], "Researcher", "fields not sent are kept");
    assert_eq!(patched["model"], "llama3.2");
    let cleared = app
        .update(
            &ada.token,
            &format!("/agents/{id}"),
            &json!({"description": null}),
        )
        .await;
    assert_eq!(
        cleared["description"],
        json!(null),
        "null clears an optional field"
    );
    assert_eq!(cleared["temperature"], 0.2);

    assert_eq!(
        app.delete(&ada.token, &format!("/agents/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    app.refused(&ada.token, &format!("GET /agents/{id}"), None, 404, "agent")
        .await;
    assert_eq!(
        app.delete(&ada.token, &format!("/agents/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let list = app.fetch(&ada.token, "/agents/").await;
    assert_eq!(list, json!([]));
    let deleted_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select deleted_at from agents.agents where id = $1::uuid")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(deleted_at.is_some(), "delete is a soft delete");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn invalid_agents_are_rejected_with_field_errors(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let cases = [
        (json!({"name": "", "model": "m"}), "name"),
        (json!({"name": "   ", "model": "m"}), "name"),
        (json!({"name": "a"}), "model"),
        (
            json!({"name": "a", "model": "m", "provider": "nope"}),
            "provider",
        ),
        (
            json!({"name": "a", "model": "m", "tools": ["rm_rf"]}),
            "tools",
        ),
        (
            json!({"name": "a", "model": "m", "temperature": 3.5}),
            "temperature",
        ),
        (
            json!({"name": "a", "model": "m", "max_iterations": 0}),
            "max_iterations",
        ),
        (
            json!({"name": "a", "model": "m", "metadata": [1, 2]}),
            "metadata",
        ),
    ];
    for (body, field) in cases {
        let error = app
            .call(&ada.token, "POST /agents/", Some(&body), 422)
            .await;
        let text = error.to_string();
        assert!(text.contains(field), "{body} → {error}");
        assert!(error["detail"].is_string());
    }
    let agent = app
        .agent(&ada.token, json!({"name": "ok", "model": "m"}))
        .await;
    let id = agent["id"].as_str().unwrap();
    let error = app
        .call(
            &ada.token,
            &format!("PATCH /agents/{id}"),
            Some(&json!({"name": null})),
            422,
        )
        .await;
    assert_eq!(error["errors"][0]["field"], "name");
    for bad in ["not-a-uuid", "123", "00000000-0000-0000-0000-000000000000"] {
        app.refused(
            &ada.token,
            &format!("GET /agents/{bad}"),
            None,
            404,
            "not found",
        )
        .await;
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn names_are_unique_per_tenant_ignoring_case_until_deleted(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let bob = app.signup("bob@example.com").await;
    let first = app
        .agent(&ada.token, json!({"name": "Helper", "model": "m"}))
        .await;
    app.refused(
        &ada.token,
        "POST /agents/",
        Some(&json!({"name": "helper", "model": "m"})),
        409,
        "already exists",
    )
    .await;
    app.agent(&bob.token, json!({"name": "Helper", "model": "m"}))
        .await;
    let other = app
        .agent(&ada.token, json!({"name": "Other", "model": "m"}))
        .await;
    app.refused(
        &ada.token,
        &format!("PATCH /agents/{}", other["id"].as_str().unwrap()),
        Some(&json!({"name": "HELPER"})),
        409,
        "already exists",
    )
    .await;
    app.delete(
        &ada.token,
        &format!("/agents/{}", first["id"].as_str().unwrap()),
    )
    .await;
    app.agent(&ada.token, json!({"name": "Helper", "model": "m"}))
        .await;
    // A refused create published nothing.
    let types: Vec<String> = app.event_types(&ada.tenant_id).await;
    assert_eq!(
        types,
        [
            "agent.created",
            "agent.created",
            "agent.deleted",
            "agent.created"
        ]
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_tenant_can_never_see_or_change_another_tenants_agents(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    let eve = app.signup("eve@example.com").await;
    let agent = app.agent(&ada.token, echo_agent("Secret", "m")).await;
    let id = agent["id"].as_str().unwrap();
    let path = format!("/agents/{id}");
    app.expect_refusals(
        &eve.token,
        &[
            (&format!("GET {}", path), None, 404, "agent"),
            (
                &format!("PATCH {}", path),
                Some(json!({"name": "mine"})),
                404,
                "agent",
            ),
            (&format!("DELETE {}", path), None, 404, "agent"),
            (
                &format!("POST {path}/execute"),
                Some(json!({"user_message": "hi"})),
                404,
                "agent",
            ),
        ],
    )
    .await;
    assert_eq!(app.fetch(&eve.token, "/agents/").await, json!([]));
    let run = app.execute(&ada.token, id, "hello").await;
    let run_path = format!("/executions/{}", run["id"].as_str().unwrap());
    app.expect_refusals(
        &eve.token,
        &[
            (&format!("GET {}", run_path), None, 404, "execution"),
            (
                &format!("POST {run_path}/cancel"),
                Some(json!({})),
                404,
                "execution",
            ),
            (&format!("GET {run_path}/stream"), None, 404, "execution"),
        ],
    )
    .await;
    assert_eq!(app.fetch(&eve.token, "/executions/").await, json!([]));
    assert_eq!(
        app.fetch(&ada.token, &path).await["name"],
        "Secret",
        "nothing changed"
    );
    assert!(app.events(&eve.tenant_id).await.is_empty());
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn search_skip_and_limit_page_through_the_newest_first_list(pool: PgPool) {
    let (app, ada) = spawn_ada(pool).await;
    for i in 0..5 {
        app.agent(&ada.token, json!({"name": format!("bot-{i}"), "model": "m", "description": if i % 2 == 0 { "even 100%" } else { "odd" }}))
            .await;
    }
    let page = app.page(&ada.token, "/agents/?skip=1&limit=2").await;
    assert_eq!(page.total, 5);
    let names: Vec<&str> = page
        .items
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bot-3", "bot-2"]);
    // `%` is matched literally.
    for search in ["EVEN", "100%25", "0%25"] {
        let path = format!("/agents/?search={search}");
        assert_eq!(app.page(&ada.token, &path).await.total, 3, "{path}");
    }
    let found = app.page(&ada.token, "/agents/?search=bot-4").await;
    assert_eq!(found.items.len(), 1);
    let resp = app.get(&ada.token, "/agents/?page=2&page_size=2").await;
    let names: Vec<String> = expect_json(resp, StatusCode::OK)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["bot-2", "bot-1"]);
    app.call(&ada.token, "GET /agents/?limit=abc", None, 422)
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn agent_reads_come_from_the_cache_until_an_update_invalidates_it(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, json!({"name": "Cached", "model": "m"})).await;
    let path = format!("/agents/{}", agent["id"].as_str().unwrap());
    app.fetch(&ada.token, &path).await;
    app.fetch(&ada.token, "/agents/").await;
    // Changed behind the service's back: the cached configuration is still served.
    sqlx::query("update agents.agents set model = 'sneaky' where id = $1::uuid")
        .bind(agent["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let cached = app.fetch(&ada.token, &path).await;
    assert_eq!(cached["model"], "m", "served from the cache");
    let list = app.fetch(&ada.token, "/agents/").await;
    assert_eq!(list[0]["model"], "m", "the list page is cached too");
    // A create in the tenant drops its cached pages.
    app.agent(&ada.token, json!({"name": "Second", "model": "m"}))
        .await;
    let list = app.fetch(&ada.token, "/agents/").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["model"], "sneaky", "reloaded from Postgres");
    // An update through the API invalidates it.
    app.update(&ada.token, &path, &json!({"description": "new"}))
        .await;
    let fresh = app.fetch(&ada.token, &path).await;
    assert_eq!(fresh["description"], "new");
    assert_eq!(fresh["model"], "sneaky");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn every_change_is_published_to_the_outbox_with_the_agent(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, json!({"name": "Evented", "model": "m"})).await;
    let path = format!("/agents/{}", agent["id"].as_str().unwrap());
    app.patch(&ada.token, &path, &json!({"model": "m2"})).await;
    app.delete(&ada.token, &path).await;
    let events = app.events(&ada.tenant_id).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].0, "agent.created");
    assert_eq!(events[0].1, agent);
    assert_eq!(events[1].0, "agent.updated");
    assert_eq!(events[1].1["model"], "m2");
    assert_eq!(events[2].0, "agent.deleted");
    assert_eq!(events[2].1["id"], agent["id"]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn viewers_can_read_agents_but_not_change_or_run_them(pool: PgPool) {
    let (app, ada, agent) = spawn_with_agent(pool, echo_agent("Shared", "m")).await;
    let viewer: &str = &app.viewer(&ada.token, "val@example.com").await;
    let path = format!("/agents/{}", agent["id"].as_str().unwrap());
    app.fetch(viewer, &path).await;
    app.expect_refusals(
        viewer,
        &[
            (
                "POST /agents/",
                Some(json!({"name": "x", "model": "m"})),
                403,
                "agents:write",
            ),
            (
                &format!("PATCH {}", path),
                Some(json!({"name": "x"})),
                403,
                "agents:write",
            ),
            (
                &format!("POST {path}/execute"),
                Some(json!({"user_message": "hi"})),
                403,
                "agents:execute",
            ),
        ],
    )
    .await;
    app.refused("", "GET /agents/", None, 401, "").await;
}
