//! The platform every CLI test talks to (auth, agents, scheduler and webhooks composed by the
//! shared harness on the test's database, engines running), and the built `temponest` binary
//! run as a user would: its own HOME (so its own credentials file), no inherited TEMPONEST_*
//! variables, output captured.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use sqlx::PgPool;
use temponest_test_client::{Api, Harness, PASSWORD, Session};
use tokio::io::AsyncWriteExt;

pub use temponest_test_client::eventually;

/// The scheduler's service identity in these tests.
const SERVICE_SECRET: &str = "5e0c2a9f7b1d4e8a6c3f0b2d9e7a1c4f";

/// A running platform.
pub struct Platform {
    pub api: Api,
    /// The running app and its engines.
    _app: temponest_test_client::Spawned,
}

impl Platform {
    pub fn base(&self) -> &str {
        &self.api.base
    }

    /// Signs up ada@example.com (a tenant admin, password [`PASSWORD`]).
    pub async fn ada(&self) -> Session {
        self.api.signup("ada@example.com").await
    }

    /// Signs up ada@example.com and logs her in on a new [`Cli`]: how most tests begin.
    pub async fn ada_cli(&self) -> (Session, Cli) {
        let ada = self.ada().await;
        let cli = Cli::new(self);
        cli.login("ada@example.com").await;
        (ada, cli)
    }
}

/// Starts the platform with `agents` as the agents service's configuration.
pub async fn platform_with(pool: PgPool, agents: temponest_agents::AgentsConfig) -> Platform {
    let harness = Harness::new(pool).await;
    let auth = temponest_auth::AuthConfig {
        service_clients: format!("scheduler={SERVICE_SECRET}"),
        ..temponest_auth::AuthConfig::default().with_fast_hashing()
    };
    let mut scheduler = temponest_scheduler::SchedulerConfig {
        agents_url: harness.base().to_owned(),
        service_client_secret: SERVICE_SECRET.into(),
        ..temponest_scheduler::SchedulerConfig::default()
    };
    scheduler.scheduler.poll_interval_ms = 200;
    let mut webhooks = temponest_webhooks::WebhooksConfig::default();
    webhooks.webhooks.allowed_networks = "127.0.0.0/8,::1/128".into();
    webhooks.webhooks.poll_interval_ms = 100;
    webhooks.webhooks.timeout_secs = 5;
    let app = harness
        .spawn([
            temponest_auth::service(auth),
            temponest_agents::service(agents),
            temponest_scheduler::service(scheduler),
            temponest_webhooks::service(webhooks),
        ])
        .await;
    Platform {
        api: app.api.clone(),
        _app: app,
    }
}

/// The platform with the default agents configuration (the `echo` provider included).
pub async fn platform(pool: PgPool) -> Platform {
    platform_with(pool, temponest_agents::AgentsConfig::default()).await
}

/// The platform with ada@example.com signed up and logged in on a new [`Cli`]: how most tests
/// begin. The platform (keep it for the test's length), her API session and her CLI.
pub async fn platform_with_ada(pool: PgPool) -> (Platform, Session, Cli) {
    let platform = platform(pool).await;
    let (ada, cli) = platform.ada_cli().await;
    (platform, ada, cli)
}

/// The `temponest` binary as one user on one machine.
pub struct Cli {
    pub home: PathBuf,
    base: String,
    env: Vec<(String, String)>,
    /// Whether this value removes `home` when dropped.
    owns_home: bool,
}

/// What one invocation did.
#[derive(Debug)]
pub struct Outcome {
    /// The command line (for failure messages).
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Asserts exit code 0 and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code,
            0,
            "`temponest {}` failed: {self:#?}",
            self.args.join(" ")
        );
        self.stdout
    }

    /// Asserts `code` and that stderr contains `needle` (case-insensitive).
    pub fn fails(self, code: i32, needle: &str) -> Self {
        assert_eq!(
            self.code,
            code,
            "`temponest {}`: unexpected exit code: {self:#?}",
            self.args.join(" ")
        );
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "stderr lacks {needle:?}: {self:#?}"
        );
        self
    }
}

impl Cli {
    /// A user with an empty home directory, pointed at `platform`.
    pub fn new(platform: &Platform) -> Self {
        let home = std::env::temp_dir().join(format!("temponest-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&home).unwrap();
        Self {
            home,
            base: platform.base().to_owned(),
            env: Vec::new(),
            owns_home: true,
        }
    }

    /// Another invocation context on the same home (the same credentials file).
    pub fn sharing_home(&self) -> Self {
        Self {
            home: self.home.clone(),
            base: self.base.clone(),
            env: self.env.clone(),
            owns_home: false,
        }
    }

    /// Sets an environment variable for every later invocation.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs `temponest ARGS`.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        self.run_with_stdin(args, None).await
    }

    /// Runs `temponest ARGS` with `stdin` as standard input.
    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Outcome {
        let mut child = self.command(args).spawn().expect("temponest runs");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        let output = child.wait_with_output().await.unwrap();
        Outcome {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// The command, not started (for tests that run it alongside others).
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_temponest"));
        command
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("TEMPONEST_BASE_URL", &self.base)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Runs `temponest ARGS` and asserts it fails with `code` and `needle` in stderr (see
    /// [`Outcome::fails`]).
    pub async fn fails(&self, args: &[&str], code: i32, needle: &str) -> Outcome {
        self.run(args).await.fails(code, needle)
    }

    /// Runs `temponest ARGS -o json`, asserts success and parses stdout.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let stdout = self.run(&all).await.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    /// Logs in as `email` with the tests' password.
    pub async fn login(&self, email: &str) {
        self.run_with_stdin(
            &["login", "--email", email, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        )
        .await
        .ok();
    }

    /// The credentials file under the default config location.
    pub fn credentials_path(&self) -> PathBuf {
        self.home.join(".config/temponest/credentials.json")
    }

    pub fn credentials(&self) -> Value {
        read_json(&self.credentials_path())
    }

    pub fn write_credentials(&self, value: &Value) {
        std::fs::write(self.credentials_path(), value.to_string()).unwrap();
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        if self.owns_home {
            let _ = std::fs::remove_dir_all(&self.home);
        }
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// An echo agent named `helper` created through the CLI; returns its id.
pub async fn helper_agent(cli: &Cli) -> String {
    let agent = cli
        .json(&[
            "agents",
            "create",
            "--name",
            "helper",
            "--provider",
            "echo",
            "--model",
            "echo-1",
        ])
        .await;
    agent["id"].as_str().unwrap().to_owned()
}
