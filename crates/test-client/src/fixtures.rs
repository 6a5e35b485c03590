//! One-line calls without credentials (sign-up, login, refresh, public endpoints), the
//! counterparts of [`Api::call`] and [`Api::refused`] for requests that carry no bearer token;
//! a tenant member with given roles, logged in; an engine that a test can kill; and a
//! query's plans before and after its table is analysed.

use std::sync::mpsc;
use std::thread;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};

use super::plan::{self, Plan};
use super::{Api, PASSWORD, expect_error_of, expect_json_of, split_request};

impl Api {
    /// Adds `email` (password [`PASSWORD`]) with `roles` to the tenant of `admin` (asserts
    /// 201), logs them in (asserts 200) and returns their access token.
    pub async fn member(&self, admin: &str, email: &str, roles: &[&str]) -> String {
        let user = json!({"email": email, "password": PASSWORD, "roles": roles});
        self.call(admin, "POST /users", Some(&user), 201).await;
        let credentials = json!({"email": email, "password": PASSWORD});
        let tokens = self
            .call_public("POST /auth/login", Some(&credentials), 200)
            .await;
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    /// Sends `request` (`"POST /auth/login"`) without credentials, asserts `status` and
    /// returns the JSON body.
    pub async fn call_public(&self, request: &str, body: Option<&Value>, status: u16) -> Value {
        let (context, resp) = self.send_public(request, body).await;
        expect_json_of(&context, resp, status_code(status)).await
    }

    /// Sends `request` like [`Api::call_public`] and asserts it is refused with `status` and a
    /// `detail` containing `needle` (see [`crate::expect_error`]); returns the error body.
    pub async fn refused_public(
        &self,
        request: &str,
        body: Option<&Value>,
        status: u16,
        needle: &str,
    ) -> Value {
        let (context, resp) = self.send_public(request, body).await;
        expect_error_of(&context, resp, status_code(status), needle).await
    }

    /// POSTs `body` to `path` with `token` and an `idempotency-key` header of `key`.
    pub async fn post_idempotent(
        &self,
        token: &str,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Response {
        let request = self.http.post(self.url(path)).bearer_auth(token);
        let request = request.header("idempotency-key", key).json(body);
        request.send().await.unwrap()
    }

    /// Sends `request` without credentials; returns the context for failure messages and
    /// the response.
    async fn send_public(&self, request: &str, body: Option<&Value>) -> (String, Response) {
        let (method, path) = split_request(request);
        let resp = self.request(method, None, path, body).await;
        (format!("{request}: "), resp)
    }
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).expect("an HTTP status")
}

/// Starts what `start` starts (an engine, given its own pool) on a Tokio runtime and a
/// connection pool of its own (connections belong to the runtime that opened them), in a
/// thread. Sending on the returned channel kills it like `kill -9`: every task dies where it
/// is, nothing is released or recorded, its connections close. The thread returns what
/// `describe` said of it while it ran (its instance id, say).
pub fn doomed_engine<E, T>(
    pool: &PgPool,
    start: impl FnOnce(PgPool) -> E + Send + 'static,
    describe: impl FnOnce(&E) -> T + Send + 'static,
) -> (mpsc::Sender<()>, thread::JoinHandle<T>)
where
    T: Send + 'static,
{
    let (kill, killed) = mpsc::channel::<()>();
    let options = pool.connect_options();
    let doomed = thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let engine = runtime.block_on(async move {
            let pool = PgPoolOptions::new()
                .max_connections(5)
                .connect_with((*options).clone())
                .await
                .unwrap();
            start(pool)
        });
        let described = describe(&engine);
        killed.recv().unwrap();
        runtime.shutdown_background();
        drop(engine);
        described
    });
    (kill, doomed)
}

/// The plans `explain` gives (custom, then generic) on `table` never analysed (asserted),
/// then once analysed, each named: "fresh", "fresh, generic", "analysed", "analysed, generic".
pub async fn fresh_and_analysed_plans(
    conn: &mut PgConnection,
    table: &str,
    mut explain: impl AsyncFnMut(&mut PgConnection, bool) -> Plan,
) -> [(&'static str, Plan); 4] {
    plan::assert_never_analysed(conn, table).await;
    let (fresh, fresh_generic) = (explain(conn, false).await, explain(conn, true).await);
    plan::analyse(conn, table).await;
    let (analysed, analysed_generic) = (explain(conn, false).await, explain(conn, true).await);
    [
        ("fresh", fresh),
        ("fresh, generic", fresh_generic),
        ("analysed", analysed),
        ("analysed, generic", analysed_generic),
    ]
}

/// The number `sql` (a `select count(*) …` without parameters) returns.
pub async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// The `field` strings of the items of the JSON array `items` (error fields, ids, names).
pub fn texts<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    let items = items.as_array().expect("a JSON array");
    items
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}
