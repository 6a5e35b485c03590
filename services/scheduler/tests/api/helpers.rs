//! Spawning auth + agents + scheduler as one process (through the kit's harness) and driving
//! the scheduler's engine.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_ratelimit::RateLimitConfig;
use temponest_scheduler::clock::{ManualClock, SharedClock, SystemClock};
use temponest_scheduler::domain::{firing, runner};
use temponest_scheduler::{AppState, SchedulerConfig};
use uuid::Uuid;

pub use temponest_test_client::{Api, Harness, Session, eventually, expect_error, expect_json};

/// A running app.
pub struct TestApp {
    pub api: Api,
    pub pool: PgPool,
    pub state: AppState,
    /// The clock the scheduler reads (manual unless the test runs the real engine).
    pub clock: Option<ManualClock>,
    /// The engine id the test's own runs use.
    pub engine_id: Uuid,
}

/// The secret the scheduler's service identity uses in tests.
pub const SERVICE_SECRET: &str = "8d1f4b7e2a9c06f35e8b1d4a7c2f9e60";

/// The test configuration: fast housekeeping, the engine off (tests drive it or start it).
pub fn config() -> SchedulerConfig {
    let mut config = SchedulerConfig {
        service_client_secret: SERVICE_SECRET.into(),
        ..SchedulerConfig::default()
    };
    config.scheduler.run_engine = false;
    config.scheduler.lease_secs = 5;
    config.scheduler.heartbeat_secs = 1;
    // Generous: a call to agents (service token, execute) must not time out on a loaded CI
    // machine; the timeout tests use the schedule's own `timeout_seconds`.
    config.scheduler.request_timeout_secs = 30;
    config
}

/// An agents configuration with an extra provider (e.g. one pointing at a local server).
pub fn agents_config(
    extra: Option<(&str, temponest_llm::ProviderConfig)>,
) -> temponest_agents::AgentsConfig {
    let mut providers: BTreeMap<String, temponest_llm::ProviderConfig> =
        temponest_llm::Providers::defaults();
    if let Some((name, provider)) = extra {
        providers.insert(name.to_owned(), provider);
    }
    temponest_agents::AgentsConfig {
        providers,
        ..temponest_agents::AgentsConfig::default()
    }
}

/// An OpenAI-compatible provider at `base_url` that is not retried (a down or hanging server).
pub fn openai_provider(base_url: &str) -> temponest_llm::ProviderConfig {
    temponest_llm::ProviderConfig {
        kind: temponest_llm::ProviderKind::OpenAi,
        base_url: base_url.to_owned(),
        api_key: Some("k".into()),
        read_timeout_secs: 120,
        max_retries: 0,
        ..temponest_llm::ProviderConfig::default()
    }
}

/// An app whose scheduler reads a manual clock set to `at`.
pub async fn spawn_at(pool: PgPool, at: DateTime<Utc>) -> TestApp {
    let clock = ManualClock::new(at);
    spawn_with(pool, config(), agents_config(None), Some(clock)).await
}

/// [`spawn_at`], a signed-up tenant admin (`email`) and an echo agent of theirs.
pub async fn spawn_with_agent(
    pool: PgPool,
    at: DateTime<Utc>,
    email: &str,
) -> (TestApp, Session, String) {
    let app = spawn_at(pool, at).await;
    let session = app.signup(email).await;
    let agent = app.agent(&session).await;
    (app, session, agent)
}

/// An app whose scheduler reads a manual clock set to `at` and whose agents may use the
/// LLM `provider` (its name and configuration).
pub async fn spawn_with_provider(
    pool: PgPool,
    provider: (&str, temponest_llm::ProviderConfig),
    at: DateTime<Utc>,
) -> TestApp {
    let agents = agents_config(Some(provider));
    spawn_with(pool, config(), agents, Some(ManualClock::new(at))).await
}

/// Starts auth + agents + scheduler on one router; the scheduler reaches auth and agents over
/// HTTP at the app's own address.
pub async fn spawn_with(
    pool: PgPool,
    config: SchedulerConfig,
    agents: temponest_agents::AgentsConfig,
    clock: Option<ManualClock>,
) -> TestApp {
    spawn_limited(pool, config, agents, clock, None).await
}

/// [`spawn_with`] with rate limiting on: `per_minute` requests per client and minute.
pub async fn spawn_limited(
    pool: PgPool,
    mut config: SchedulerConfig,
    agents: temponest_agents::AgentsConfig,
    clock: Option<ManualClock>,
    per_minute: Option<u32>,
) -> TestApp {
    let harness = Harness::new(pool).await;
    config.agents_url = harness.base().to_owned();
    // Tests start their engines themselves (`engine::start`), to stop or kill them.
    config.scheduler.run_engine = false;
    let limits = RateLimitConfig {
        enabled: per_minute.is_some(),
        default_policies: per_minute
            .map(|n| vec![temponest_ratelimit::Policy::per_minute(n)])
            .unwrap_or_else(|| RateLimitConfig::default().default_policies),
        ..RateLimitConfig::default()
    };
    let shared: SharedClock = match &clock {
        Some(manual) => Arc::new(manual.clone()),
        None => Arc::new(SystemClock),
    };
    let auth = temponest_auth::AuthConfig {
        service_clients: format!("scheduler={SERVICE_SECRET}"),
        ..temponest_auth::AuthConfig::default().with_fast_hashing()
    };
    let app = harness
        .rate_limits(limits)
        .spawn([
            temponest_auth::service(auth),
            temponest_agents::service(agents),
            temponest_scheduler::service_with_clock(config, shared),
        ])
        .await;
    TestApp {
        api: app.api.clone(),
        pool: app.pool.clone(),
        state: app.state(),
        clock,
        engine_id: Uuid::now_v7(),
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    pub fn clock(&self) -> &ManualClock {
        self.clock.as_ref().expect("a manual clock")
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// An echo agent of the session's tenant; returns its id.
    pub async fn agent(&self, session: &Session) -> String {
        self.agent_with(session, "echo").await
    }

    pub async fn agent_with(&self, session: &Session, provider: &str) -> String {
        let body = self.create(&session.token, "/agents/", &json!({"name": format!("agent-{}", Uuid::new_v4()), "model": "m", "provider": provider}))
        .await;
        body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a schedule (201) from `body` plus the agent.
    pub async fn schedule(&self, session: &Session, agent: &str, mut body: Value) -> Value {
        body["agent_id"] = json!(agent);
        if body.get("task_config").is_none() {
            body["task_config"] = json!({"user_message": "ping", "context": {"k": 1}});
        }
        self.create(&session.token, "/schedules/", &body).await
    }

    /// Creates a schedule and returns its id.
    pub async fn schedule_id(&self, session: &Session, agent: &str, body: Value) -> String {
        self.schedule(session, agent, body).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `POST /schedules/{id}/trigger`, expecting 201; returns the queued execution.
    pub async fn trigger(&self, session: &Session, schedule: &str) -> Value {
        self.create(
            &session.token,
            &format!("/schedules/{schedule}/trigger"),
            &json!({}),
        )
        .await
    }

    /// Whether the newest run of `schedule` completes within the deadline of [`eventually`].
    pub async fn newest_run_completes(&self, session: &Session, schedule: &str) -> bool {
        eventually(|| async {
            self.executions(session, schedule).await[0]["status"] == "completed"
        })
        .await
    }

    /// Fires what is due at the clock's time.
    pub async fn fire(&self) -> firing::FireReport {
        firing::fire_due(&self.state, self.now()).await.unwrap()
    }

    /// Claims every execution due at the clock's time and runs each to its end; returns how
    /// many ran.
    pub async fn run_due(&self) -> usize {
        let now = self.now();
        let lease = now + chrono::Duration::seconds(self.state.config.scheduler.lease_secs as i64);
        let claimed = temponest_scheduler::db::executions::claim(
            &self.pool,
            self.engine_id,
            now,
            lease,
            1000,
        )
        .await
        .unwrap();
        let count = claimed.len();
        futures::future::join_all(
            claimed
                .into_iter()
                .map(|exec| runner::run(&self.state, self.engine_id, exec)),
        )
        .await;
        count
    }

    /// The executions of a schedule, newest first.
    pub async fn executions(&self, session: &Session, schedule: &str) -> Vec<Value> {
        let body = self
            .fetch(&session.token, &format!("/schedules/{schedule}/executions"))
            .await;
        body.as_array().unwrap().clone()
    }

    pub async fn get_schedule(&self, session: &Session, schedule: &str) -> Value {
        self.fetch(&session.token, &format!("/schedules/{schedule}"))
            .await
    }

    /// When the schedule fires next, as the API says.
    pub async fn next_run(&self, session: &Session, schedule: &str) -> DateTime<Utc> {
        ts(&self.get_schedule(session, schedule).await["next_run"])
    }

    /// The fire history of a schedule, latest first.
    pub async fn fires(&self, session: &Session, schedule: &str) -> Vec<Value> {
        let body = self
            .fetch(
                &session.token,
                &format!("/schedules/{schedule}/fires?limit=100"),
            )
            .await;
        body.as_array().unwrap().clone()
    }

    /// Outbox events of a type for a tenant.
    pub async fn events(&self, tenant: &str, event_type: &str) -> Vec<Value> {
        sqlx::query_scalar::<_, Value>(
            "select payload from platform.outbox where tenant_id = $1::uuid and event_type = $2 order by id",
        )
        .bind(tenant)
        .bind(event_type)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

/// An RFC 3339 UTC instant.
pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The JSON rendering of an instant as the API sends it.
pub fn ts(v: &Value) -> DateTime<Utc> {
    t(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")))
}
