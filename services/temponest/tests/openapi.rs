//! The OpenAPI document the all-in-one server serves (every service's paths merged) is a
//! valid OpenAPI 3.1 document a client generator can use: it parses with an independent model
//! (`oas3`), every `{name}` of a path template is declared as exactly one path parameter of
//! every operation on it, every `$ref` resolves, and every operation has an operationId and
//! documents at least one 4xx response with the SPEC §2 error body. What every route answers
//! is there too (a body of another content type 415, a JSON body that does not parse 400),
//! and the pagination parameters carry the bounds the API checks.
//!
//! Runs the real `temponest serve` binary against a fresh database, and `temponest openapi`,
//! which prints the same document without a server.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `temponest serve` on a free port against the test's database and returns the
/// served `/openapi.json` text.
async fn served_document(pool: &PgPool) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base_url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server_url, _) = base_url.rsplit_once('/').expect("a database URL");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_temponest"))
            .arg("serve")
            .env("DATABASE_URL", format!("{server_url}/{database}"))
            .env("TEMPONEST_PORTS", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("TEMPONEST_REDIS_KEY_PREFIX", format!("test-{database}"))
            .env("TEMPONEST_WEBHOOKS__RUN_ENGINE", "false")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("temponest serve starts"),
    );
    let url = format!("http://127.0.0.1:{port}/openapi.json");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Each attempt is real I/O against the starting server (connection refused until it
        // listens); no sleeping.
        if let Ok(resp) = http.get(&url).send().await
            && resp.status().is_success()
        {
            return resp.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "temponest serve did not answer");
        tokio::task::yield_now().await;
    }
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Every problem found, as readable lines (empty for a good document).
fn structural_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut operation_ids = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let at = format!("{} {path}", method.to_uppercase());
            let parameters: Vec<&Value> = item["parameters"]
                .as_array()
                .into_iter()
                .chain(operation["parameters"].as_array())
                .flatten()
                .collect();
            for name in &names {
                let declared = parameters
                    .iter()
                    .filter(|p| p["in"] == "path" && p["name"] == *name)
                    .count();
                if declared != 1 {
                    problems.push(format!(
                        "{at}: path parameter {name} declared {declared} times"
                    ));
                }
            }
            for parameter in parameters.iter().filter(|p| p["in"] == "query") {
                let name = parameter["name"].as_str().unwrap_or_default();
                let minimum = match name {
                    "skip" => 0,
                    "limit" | "page" | "page_size" => 1,
                    _ => continue,
                };
                if parameter["schema"]["minimum"] != minimum {
                    problems.push(format!("{at}: {name} without minimum {minimum}"));
                }
            }
            let body = &operation["requestBody"]["content"];
            let responses = &operation["responses"];
            if body.is_object() && responses["415"].is_null() {
                problems.push(format!("{at}: takes a body but documents no 415"));
            }
            if !body["application/json"].is_null() && responses["400"].is_null() {
                problems.push(format!("{at}: takes JSON but documents no 400"));
            }
            for parameter in parameters.iter().filter(|p| p["in"] == "path") {
                let name = parameter["name"].as_str().unwrap_or_default();
                if !names.contains(&name) {
                    problems.push(format!("{at}: path parameter {name} not in the template"));
                }
                if parameter["required"] != true {
                    problems.push(format!("{at}: path parameter {name} not required"));
                }
            }
            match operation["operationId"].as_str() {
                Some(id) if operation_ids.insert(id.to_owned()) => {}
                Some(id) => problems.push(format!("{at}: operationId {id} is not unique")),
                None => problems.push(format!("{at}: no operationId")),
            }
            let responses = operation["responses"].as_object();
            let errors: Vec<(&String, &Value)> = responses
                .into_iter()
                .flatten()
                .filter(|(status, _)| status.starts_with('4'))
                .collect();
            if errors.is_empty() {
                problems.push(format!("{at}: no 4xx response"));
            }
            for (status, response) in errors {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                if schema != "#/components/schemas/ErrorBody" {
                    problems.push(format!("{at}: {status} without the ErrorBody schema"));
                }
            }
        }
    }
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    for reference in refs {
        let resolved = reference
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer));
        if resolved.is_none() {
            problems.push(format!("$ref {reference} does not resolve"));
        }
    }
    problems
}

fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.push(reference);
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_served_openapi_document_is_valid_and_complete(pool: PgPool) {
    let text = served_document(&pool).await;
    let spec = oas3::from_json(&text).expect("an OpenAPI 3.1 document");
    assert_eq!(spec.openapi, "3.1.0");
    assert!(
        spec.operations().count() >= 50,
        "every service's operations are merged"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    let problems = structural_problems(&doc);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for path in ["/agents/{id}", "/schedules/{id}/executions/{execution_id}"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }

    // `temponest openapi` prints the same document without a server.
    let printed = Command::new(env!("CARGO_BIN_EXE_temponest"))
        .arg("openapi")
        .env("RUST_LOG", "warn")
        .output()
        .expect("temponest openapi runs");
    assert!(printed.status.success(), "{printed:?}");
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed, doc, "`temponest openapi` prints what serve serves");
}

#[test]
fn the_structural_rules_catch_what_a_client_generator_trips_on() {
    let doc = serde_json::json!({
        "paths": {"/things/{id}": {"get": {
            "parameters": [{"name": "other", "in": "path", "required": true},
                           {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}}}
        }, "post": {
            "operationId": "make_thing",
            "parameters": [{"name": "id", "in": "path", "required": true}],
            "requestBody": {"content": {"application/json": {}}},
            "responses": {"422": {"description": "bad",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}}
        }}},
        "components": {"schemas": {"ErrorBody": {}}}
    });
    let problems = structural_problems(&doc);
    for expected in [
        "GET /things/{id}: path parameter id declared 0 times",
        "GET /things/{id}: path parameter other not in the template",
        "GET /things/{id}: no operationId",
        "GET /things/{id}: no 4xx response",
        "GET /things/{id}: limit without minimum 1",
        "POST /things/{id}: takes a body but documents no 415",
        "POST /things/{id}: takes JSON but documents no 400",
        "$ref #/components/schemas/Gone does not resolve",
    ] {
        assert!(
            problems.iter().any(|p| p == expected),
            "{expected} in {problems:?}"
        );
    }
}
