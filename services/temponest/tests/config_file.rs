//! `temponest serve` configured by a `TEMPONEST_CONFIG` file alone: the settings that used to
//! be read from the environment only (listening address and ports, pool size, log format and
//! filter, global rate limits) and the docs page's list of documents are taken from the file,
//! a standard variable still wins over it, and strict checking accepts every key.
//!
//! Runs the real binary against a fresh database; every wait is on real I/O.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use temponest_test_client::Api;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Variables of this test process that would override the file in the child.
const STANDARD: &[&str] = &[
    "RUST_LOG",
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "RATE_LIMIT_ENABLED",
    "RATE_LIMIT_PER_MINUTE",
    "RATE_LIMIT_PER_HOUR",
    "RATE_LIMIT_TRUST_FORWARDED_FOR",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_MIN_CONNECTIONS",
    "DATABASE_ACQUIRE_TIMEOUT_MS",
    "PORT",
    "BIND_ADDRESS",
    "TEMPONEST_PORTS",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GETs `url` until the server answers (connection refused until it listens).
async fn get_when_up(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(resp) = http.get(url).send().await {
            return resp;
        }
        assert!(Instant::now() < deadline, "temponest serve did not answer");
        tokio::task::yield_now().await;
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_configuration_file_configures_what_the_environment_used_to(pool: PgPool) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let base_url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server_url, _) = base_url.rsplit_once('/').expect("a database URL");
    let port = free_port();
    let file = std::env::temp_dir().join(format!("temponest-config-file-{database}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"
docs_urls = "agents=/openapi/agents.json,auth=/openapi/auth.json"

[server]
ports = [{port}]
bind_address = "127.0.0.1"

[database]
max_connections = 13

[telemetry]
log_format = "json"
log_filter = "info"

[rate_limit]
per_minute = 3
per_hour = 100

[webhooks]
run_engine = false
"#
        ),
    )
    .unwrap();

    let mut command = Command::new(env!("CARGO_BIN_EXE_temponest"));
    for name in STANDARD {
        command.env_remove(name);
    }
    let mut child = command
        .arg("serve")
        .env("TEMPONEST_CONFIG", &file)
        .env("TEMPONEST_STRICT_CONFIG", "true")
        .env("DATABASE_URL", format!("{server_url}/{database}"))
        .env("TEMPONEST_REDIS_KEY_PREFIX", format!("test-{database}"))
        // The environment wins over the file.
        .env("RATE_LIMIT_PER_HOUR", "500")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("temponest serve starts");
    let stderr = child.stderr.take().unwrap();
    let _server = Server(child);
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let api = Api::new(format!("http://127.0.0.1:{port}"));
    let live = get_when_up(&api.http, &api.url("/health/live")).await;
    assert!(live.status().is_success(), "listening on the file's port");

    // The start-up line is JSON (log_format) and at info (log_filter).
    let deadline = Instant::now() + Duration::from_secs(30);
    let serving = loop {
        let line = lines_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the start-up log line");
        if line.contains("temponest serving") {
            break line;
        }
    };
    let serving: serde_json::Value = serde_json::from_str(&serving)
        .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {serving}"));
    assert_eq!(serving["level"], "INFO", "{serving}");

    // Global rate limits: the minute from the file, the hour from the environment.
    let resp = api.get_public("/agents", &[]).await;
    let policy = resp.headers()["ratelimit-policy"].to_str().unwrap();
    assert!(
        policy.contains("q=3;w=60") && policy.contains("q=500;w=3600"),
        "{policy}"
    );

    // The docs page offers the documents of docs_urls.
    let initializer = api.get_public("/docs/swagger-initializer.js", &[]).await;
    let initializer = initializer.text().await.unwrap();
    for url in ["/openapi/agents.json", "/openapi/auth.json"] {
        assert!(initializer.contains(url), "{url} in {initializer}");
    }

    // The pool is sized by the file (the gauge is published as soon as the pool exists).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = api.metrics().await;
        if metrics.contains("db_connection_pool_max{pool=\"temponest\"} 13") {
            break;
        }
        assert!(Instant::now() < deadline, "pool max: {metrics}");
        tokio::task::yield_now().await;
    }
    let _ = std::fs::remove_file(&file);
}
