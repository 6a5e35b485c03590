//! Spawning the auth service (through the kit's harness, as production composes it) and
//! talking to it.

use std::ops::Deref;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_auth::{AppState, AuthConfig};
use temponest_ratelimit::RateLimitConfig;

pub use temponest_test_client::{Api, Harness, eventually, expect_error, expect_json};

pub const PASSWORD: &str = temponest_test_client::PASSWORD;

/// A running app.
pub struct TestApp {
    pub api: Api,
    pub pool: PgPool,
    pub state: AppState,
    /// Redis key prefix of this app's cache and limiter.
    pub prefix: String,
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Test knobs.
pub struct Options {
    pub redis_url: Option<String>,
    pub rate_limits: bool,
    pub config: AuthConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redis_url: Some(temponest_test_client::harness::redis_url()),
            rate_limits: false,
            // Cheaper hashing keeps the suite fast; production parameters are the default.
            config: AuthConfig::default().with_fast_hashing(),
        }
    }
}

pub async fn spawn(pool: PgPool) -> TestApp {
    spawn_with(pool, Options::default()).await
}

pub async fn spawn_with(pool: PgPool, options: Options) -> TestApp {
    try_spawn(pool, options)
        .await
        .expect("the auth service starts")
}

/// [`spawn`] and a signed-up tenant admin, ada@example.com.
pub async fn spawn_signed_up(pool: PgPool) -> (TestApp, Session) {
    let app = spawn(pool).await;
    let session = app.signup("ada@example.com").await;
    (app, session)
}

/// [`spawn`] with `config` instead of the test default.
pub async fn spawn_configured(pool: PgPool, config: AuthConfig) -> TestApp {
    let options = Options {
        config,
        ..Options::default()
    };
    spawn_with(pool, options).await
}

/// The `retry-after` header of `resp`, in seconds.
pub fn retry_after(resp: &Response) -> u64 {
    let header = resp.headers()["retry-after"].to_str().unwrap();
    header.parse().expect("retry-after in seconds")
}

/// [`spawn`] with the rate limits on.
pub async fn spawn_rate_limited(pool: PgPool) -> TestApp {
    let options = Options {
        rate_limits: true,
        ..Options::default()
    };
    spawn_with(pool, options).await
}

/// [`spawn_with`], for tests of start-up failures.
pub async fn try_spawn(
    pool: PgPool,
    options: Options,
) -> Result<TestApp, temponest_platform::StartupError> {
    let limits = RateLimitConfig {
        enabled: options.rate_limits,
        ..RateLimitConfig::default()
    };
    let app = Harness::new(pool)
        .await
        .redis(options.redis_url)
        .rate_limits(limits)
        .try_spawn([temponest_auth::service(options.config)])
        .await?;
    Ok(TestApp {
        api: app.api.clone(),
        pool: app.pool.clone(),
        state: app.state(),
        prefix: app.prefix.clone(),
    })
}

/// Credentials of a registered and logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub tenant_id: String,
    pub access: String,
    pub refresh: String,
}

impl Session {
    /// From a user (as the API shows it) and the token pair of a login.
    fn of(user: &Value, tokens: &Value) -> Self {
        let text = |value: &Value| value.as_str().unwrap().to_owned();
        Self {
            user_id: text(&user["id"]),
            tenant_id: text(&user["tenant_id"]),
            access: text(&tokens["access_token"]),
            refresh: text(&tokens["refresh_token"]),
        }
    }
}

impl TestApp {
    pub async fn register(&self, email: &str) -> Value {
        let resp = self
            .post_public(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "register {email}");
        resp.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_public(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// The status of a login with `email` and `password`.
    pub async fn login_status(&self, email: &str, password: &str) -> StatusCode {
        self.login(email, password).await.status()
    }

    /// Logs in with `email` and `password` and asserts the refusal (see [`expect_error`]).
    pub async fn login_refused(
        &self,
        email: &str,
        password: &str,
        status: StatusCode,
        needle: &str,
    ) -> Value {
        expect_error(self.login(email, password).await, status, needle).await
    }

    /// Logs in with [`PASSWORD`], asserts 200 and returns the token pair.
    pub async fn tokens(&self, email: &str) -> Value {
        expect_json(self.login(email, PASSWORD).await, StatusCode::OK).await
    }

    /// Creates an API key with `body` (asserts 201) and returns it, its secret included.
    pub async fn create_key(&self, token: &str, body: Value) -> Value {
        self.create(token, "/api-keys", &body).await
    }

    /// The one number `sql` (a `count(*)`) returns.
    pub async fn count(&self, sql: &'static str) -> i64 {
        temponest_test_client::fixtures::count(&self.pool, sql).await
    }

    /// How many audit-log entries of `event` (`login.failure`) there are.
    pub async fn audit_count(&self, event: &str) -> i64 {
        sqlx::query_scalar("select count(*) from auth.audit_log where event = $1")
            .bind(event)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Sends `body` to `PATCH /users/{user_id}` with `token`.
    pub async fn patch_user(&self, token: &str, user_id: &str, body: Value) -> Response {
        self.patch(token, &format!("/users/{user_id}"), &body).await
    }

    /// Revokes an API key (as its creation returned it); asserts 204.
    pub async fn revoke_key(&self, token: &str, key: &Value) {
        let path = format!("/api-keys/{}", key["id"].as_str().unwrap());
        let resp = self.delete(token, &path).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "DELETE {path}");
    }

    /// Registers a new tenant admin and logs in.
    pub async fn signup(&self, email: &str) -> Session {
        let user = self.register(email).await;
        Session::of(&user, &self.tokens(email).await)
    }

    /// Adds a user with [`PASSWORD`] and `fields` (the role) to the tenant of `admin`, and logs
    /// them in.
    pub async fn add_user(&self, admin: &str, email: &str, fields: Value) -> Session {
        let mut body = json!({"email": email, "password": PASSWORD});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let user = self.create(admin, "/users", &body).await;
        Session::of(&user, &self.tokens(email).await)
    }
}
