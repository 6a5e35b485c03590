//! Agents with knowledge collections: the ids are checked at the knowledge service when an
//! agent is saved (for the agent's tenant), `knowledge_search` runs inside executions over the
//! real knowledge service (auth, agents and knowledge composed in one process, as `temponest
//! serve` runs them), and the execution keeps the chunks it used as `citations`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_agents::AgentsConfig;
use temponest_test_client::{Api, Harness, Spawned, eventually, expect_json};

use crate::fake_llm::{FakeLlm, Reply};

const SECRET: &str = "7c41e9a0b3f25d86e1a4c09b7f3d2e58";

/// Auth (knowing the `agents` service identity), agents (reaching knowledge at the
/// harness's own address) and knowledge in one process.
async fn spawn(pool: PgPool, mut config: AgentsConfig) -> Spawned {
    let harness = Harness::new(pool).await;
    if config.knowledge_url.is_empty() {
        config.knowledge_url = harness.base().to_owned();
    }
    config.service_client_secret = SECRET.into();
    let auth = temponest_auth::AuthConfig {
        service_clients: format!("agents={SECRET}"),
        ..temponest_auth::AuthConfig::default().with_fast_hashing()
    };
    let mut knowledge = temponest_knowledge::KnowledgeConfig::default();
    knowledge.knowledge.poll_interval_ms = 50;
    harness
        .spawn([
            temponest_auth::service(auth),
            temponest_agents::service(config),
            temponest_knowledge::service(knowledge),
        ])
        .await
}

async fn collection(api: &Api, token: &str, name: &str) -> String {
    let created = api
        .create(token, "/rag/collections/", &json!({"name": name}))
        .await;
    created["id"].as_str().unwrap().to_owned()
}

/// Uploads a Markdown document and waits (with a deadline, no sleeps) until it is ready.
async fn ingest(api: &Api, token: &str, collection: &str, name: &str, text: &str) -> Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_owned()),
    );
    let resp = api
        .http
        .post(api.url(&format!("/rag/collections/{collection}/documents")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let document = expect_json(resp, StatusCode::CREATED).await;
    let path = format!("/rag/documents/{}", document["id"].as_str().unwrap());
    let ready = eventually(|| async { api.fetch(token, &path).await["status"] == "ready" }).await;
    assert!(
        ready,
        "the document was not ingested: {}",
        api.fetch(token, &path).await
    );
    document
}

fn agent(collections: Value) -> Value {
    json!({"name": "Librarian", "provider": "openai", "model": "gpt-4o",
           "rag_collection_ids": collections})
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn collections_of_another_tenant_or_unknown_are_refused_when_an_agent_is_saved(pool: PgPool) {
    let fake = FakeLlm::start(vec![], None).await;
    let app = spawn(pool, fake.config()).await;
    let api = &app.api;
    let ada = api.signup("ada@example.com").await;
    let bob = api.signup("bob@example.com").await;
    assert_ne!(ada.tenant_id, bob.tenant_id);
    let own = collection(api, &ada.token, "ada-docs").await;
    let foreign = collection(api, &bob.token, "bob-docs").await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let body = api
        .refused(
            &ada.token,
            "POST /agents/",
            Some(&agent(json!([own, foreign, unknown]))),
            422,
            "rag_collection_ids",
        )
        .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&foreign) && detail.contains(&unknown),
        "{detail}"
    );
    assert!(
        !detail.contains(&own),
        "the tenant's own collection is fine: {detail}"
    );

    let saved = api
        .call(&ada.token, "POST /agents/", Some(&agent(json!([own]))), 201)
        .await;
    assert_eq!(saved["rag_collection_ids"], json!([own]));
    let path = format!("/agents/{}", saved["id"].as_str().unwrap());
    let body = api
        .refused(
            &ada.token,
            &format!("PATCH {path}"),
            Some(&json!({"rag_collection_ids": [foreign]})),
            422,
            &foreign,
        )
        .await;
    assert_eq!(body["errors"][0]["field"], "rag_collection_ids", "{body}");
    assert_eq!(
        api.fetch(&ada.token, &path).await["rag_collection_ids"],
        json!([own])
    );
    // Bob's tenant may use its own collection.
    api.call(
        &bob.token,
        "POST /agents/",
        Some(&agent(json!([foreign]))),
        201,
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn collections_need_a_configured_and_reachable_knowledge_service(pool: PgPool) {
    // Not configured: the standard agents app (auth + agents only).
    let unconfigured = crate::helpers::spawn(pool.clone()).await;
    let ada = unconfigured.signup("ada@example.com").await;
    let id = uuid::Uuid::now_v7();
    let (create, linked) = ("POST /agents/", agent(json!([id])));
    let linked = Some(&linked);
    unconfigured
        .refused(&ada.token, create, linked, 422, "not configured")
        .await;
    // An empty list asks nothing.
    unconfigured
        .call(&ada.token, create, Some(&agent(json!([]))), 201)
        .await;
    drop(unconfigured);

    // Configured but nothing listens there: 503, with a detail.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let fake = FakeLlm::start(vec![], None).await;
    let mut config = fake.config();
    config.knowledge_url = format!("http://{address}");
    let app = spawn(pool, config).await;
    let bob = app.api.signup("bob@example.com").await;
    let body = app
        .api
        .refused(&bob.token, create, linked, 503, "knowledge service")
        .await;
    assert!(
        !body["detail"]
            .as_str()
            .unwrap()
            .contains(&address.to_string()),
        "{body}"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn knowledge_search_finds_the_right_chunk_and_the_execution_cites_its_document(pool: PgPool) {
    let fake = FakeLlm::start(
        vec![
            Reply::Tool(
                "knowledge_search".into(),
                json!({"query": "How long do penguins incubate their eggs?", "top_k": 2}),
            ),
            Reply::Text("About 65 days.".into()),
            Reply::Text("No knowledge here.".into()),
        ],
        None,
    )
    .await;
    let app = spawn(pool, fake.config()).await;
    let api = &app.api;
    let ada = api.signup("ada@example.com").await;
    let birds = collection(api, &ada.token, "birds").await;
    let other = collection(api, &ada.token, "volcanoes").await;
    let penguins = ingest(
        api,
        &ada.token,
        &birds,
        "penguins.md",
        "# Penguins\n\nEmperor penguins incubate their eggs for about 65 days while fasting.\n",
    )
    .await;
    ingest(
        api,
        &ada.token,
        &birds,
        "gulls.md",
        "# Gulls\n\nGulls are coastal birds that eat almost anything.\n",
    )
    .await;
    ingest(
        api,
        &ada.token,
        &other,
        "etna.md",
        "# Etna\n\nEtna erupts often; its lava flows reach the villages.\n",
    )
    .await;
    let librarian = api
        .create(&ada.token, "/agents/", &agent(json!([birds, other])))
        .await;

    let run = api
        .run(&ada.token, &librarian, "How long do penguins incubate?")
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["response"], "About 65 days.");
    assert_eq!(run["tools_used"], json!(["knowledge_search"]));

    let requests = fake.requests();
    let offered = requests[0]["tools"].to_string();
    assert!(offered.contains("knowledge_search"), "{offered}");
    let tool_message = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the tool result went back to the model")["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let result: Value = serde_json::from_str(&tool_message).unwrap();
    let first = &result["results"][0];
    assert!(
        first["content"]
            .as_str()
            .unwrap()
            .contains("incubate their eggs for about 65 days"),
        "{result}"
    );
    assert_eq!(first["document_id"], penguins["id"], "{result}");
    assert_eq!(first["collection_id"], json!(birds), "{result}");

    let stored = api
        .fetch(
            &ada.token,
            &format!("/executions/{}", run["id"].as_str().unwrap()),
        )
        .await;
    let citations = stored["citations"].as_array().unwrap();
    assert!(!citations.is_empty() && citations.len() <= 2, "{stored}");
    assert_eq!(citations[0]["document_id"], penguins["id"], "{stored}");
    assert_eq!(citations[0]["collection_id"], json!(birds));
    assert!(citations[0]["score"].as_f64().unwrap() > 0.0, "{stored}");
    assert_eq!(citations[0]["chunk_index"], 0);

    // An agent without collections is not offered the tool and cites nothing.
    let plain = api
        .create(
            &ada.token,
            "/agents/",
            &json!({"name": "Plain", "provider": "openai", "model": "gpt-4o"}),
        )
        .await;
    let run = api.run(&ada.token, &plain, "hi").await;
    assert_eq!(run["citations"], json!([]), "{run}");
    assert!(
        !fake.requests()[2]["tools"]
            .to_string()
            .contains("knowledge_search")
    );
}
