//! Spawning the app and talking to it.

use std::net::SocketAddr;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_auth::{AppState, AuthConfig};
use temponest_cache::{Cache, CacheConfig};
use temponest_ratelimit::{RateLimitConfig, RateLimiter};
use temponest_web::health::Health;

pub use temponest_test_client::{eventually, expect_error, expect_json};

pub const PASSWORD: &str = "correct horse battery staple";

/// A running app.
pub struct TestApp {
    pub base: String,
    pub http: Client,
    pub pool: PgPool,
    pub state: AppState,
    /// Redis key prefix of this app's cache and limiter.
    pub prefix: String,
}

/// Test knobs.
pub struct Options {
    pub redis_url: Option<String>,
    pub rate_limits: bool,
    pub config: AuthConfig,
}

impl Default for Options {
    fn default() -> Self {
        let config = AuthConfig {
            // Cheaper hashing keeps the suite fast; production parameters are the default.
            argon2_memory_kib: 8 * 1024,
            argon2_iterations: 1,
            ..AuthConfig::default()
        };
        Self {
            redis_url: Some(
                std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            ),
            rate_limits: false,
            config,
        }
    }
}

pub async fn spawn(pool: PgPool) -> TestApp {
    spawn_with(pool, Options::default()).await
}

pub async fn spawn_with(pool: PgPool, options: Options) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let prefix = format!("test-{}", uuid::Uuid::new_v4());
    let cache = Cache::connect(CacheConfig {
        redis_url: options.redis_url.clone(),
        key_prefix: prefix.clone(),
        ..CacheConfig::default()
    })
    .await;
    let mut limits = RateLimitConfig {
        enabled: options.rate_limits,
        key_prefix: prefix.clone(),
        ..RateLimitConfig::default()
    };
    limits
        .routes
        .extend(temponest_auth::rate_limit_routes(&options.config));
    let limiter = RateLimiter::new(limits, cache.redis_pool());
    let health = Health::new(&["auth"], pool.clone(), vec![]);
    health.mark_migrated();
    let state = AppState::build(options.config, pool.clone(), cache, limiter)
        .await
        .expect("state builds");
    let app = temponest_auth::app(state.clone(), &health);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = state.config.server.clone();
    tokio::spawn(async move {
        temponest_web::serve(listener, app, &server, std::future::pending()).await
    });
    TestApp {
        base: format!("http://{addr}"),
        http: Client::builder().no_gzip().build().unwrap(),
        pool,
        state,
        prefix,
    }
}

/// Credentials of a registered and logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub tenant_id: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_as(&self, token: &str, path: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str) -> Value {
        let resp = self
            .post(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "register {email}");
        resp.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Registers a new tenant admin and logs in.
    pub async fn signup(&self, email: &str) -> Session {
        let user = self.register(email).await;
        let tokens = expect_json(self.login(email, PASSWORD).await, StatusCode::OK).await;
        Session {
            user_id: user["id"].as_str().unwrap().to_owned(),
            tenant_id: user["tenant_id"].as_str().unwrap().to_owned(),

            access: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}
