//! `temponest serve` without a database: it starts a private PostgreSQL cluster under its data
//! directory, serves on it, and stops it when it stops. (`TEMPONEST_LOCAL_POSTGRES=on` makes
//! it do so although the test machine's own server answers on 5432: the same path a machine
//! with PostgreSQL installed but stopped takes.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

/// Where a machine's PostgreSQL server binaries may be (what the server looks for too).
fn postgres_installed() -> bool {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("initdb").is_file()))
        .unwrap_or(false);
    let versioned = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join("bin/initdb").is_file());
    on_path || versioned
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory under the system temp dir.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("temponest-local-pg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the cluster in `dir` runs: its `postmaster.pid` exists while it does.
fn cluster_runs(dir: &Path) -> bool {
    dir.join("postgres/postmaster.pid").exists()
}

#[tokio::test]
async fn serve_without_a_database_runs_on_a_private_postgres_and_stops_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = scratch_dir();
    let port = free_port();
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut server = Command::new(env!("CARGO_BIN_EXE_temponest"))
        .args(["serve", "--port", &port.to_string()])
        .env_remove("DATABASE_URL")
        .env_remove("TEMPONEST_DATABASE_URL")
        .env("TEMPONEST_LOCAL_POSTGRES", "on")
        .env("TEMPONEST_DATA_DIR", &data)
        .env("REDIS_URL", redis)
        .env("TEMPONEST_REDIS_KEY_PREFIX", format!("tnlocalpg{port}"))
        .env("BIND_ADDRESS", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    if !postgres_installed() {
        let output = server.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains("install PostgreSQL"), "{stderr}");
        return;
    }

    // Wait for the server's own "temponest serving" log line (logs go to stderr), reading the
    // pipe to its end on a thread of its own so the server never blocks on a full pipe; if the
    // server exits first, the sender is dropped and its log is in the failure message.
    let stderr = server.stderr.take().unwrap();
    let (serving_tx, serving_rx) = tokio::sync::oneshot::channel();
    let log = std::thread::spawn(move || {
        let mut serving_tx = Some(serving_tx);
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("temponest serving")
                && let Some(tx) = serving_tx.take()
            {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    match tokio::time::timeout(Duration::from_secs(120), serving_rx).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!(
            "serve exited before serving: {:?}\n{}",
            server.wait().unwrap(),
            log.join().unwrap().join("\n")
        ),
        Err(_) => panic!("serve did not log \"temponest serving\" within 120 s"),
    }
    let api = temponest_test_client::Api::new(format!("http://127.0.0.1:{port}"));
    let ready = api.http.get(api.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "ready once serving");
    assert!(cluster_runs(&data), "the cluster is in the data directory");

    // The platform works on it: sign up, create and read an agent.
    let session = api.signup("ada@example.com").await;
    let agent = api
        .create(
            &session.token,
            "/agents/",
            &json!({"name": "local", "provider": "echo", "model": "echo-1"}),
        )
        .await;
    let read = api
        .fetch(
            &session.token,
            &format!("/agents/{}", agent["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(read["name"], "local");

    let pid = server.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
    assert!(!cluster_runs(&data), "the private cluster stops with serve");
    let log = log.join().unwrap();
    assert!(
        log.iter()
            .any(|l| l.contains("stopped the private PostgreSQL")),
        "{log:?}"
    );
    std::fs::remove_dir_all(&data).ok();
}
