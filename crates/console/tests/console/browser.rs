//! A minimal cookie-keeping HTTP "browser" for the console: follows no redirects (tests
//! assert them), keeps the console cookie, and reads the CSRF token out of pages.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode, redirect};
use serde_json::json;
use sqlx::PgPool;
use temponest_agents::AgentsConfig;
use temponest_auth::AuthConfig;
use temponest_console::ConsoleConfig;
use temponest_scheduler::SchedulerConfig;
use temponest_test_client::{Api, Harness, PASSWORD, Session, Spawned};
use temponest_webhooks::WebhooksConfig;

/// The console's cookie key in these tests (base64 of 32 bytes of 7).
pub const COOKIE_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// The scheduler's service-client secret in these tests.
const SERVICE_SECRET: &str = "3c9e1a7f5b2d4e6081a3c5e7f9b1d3e5";

/// The platform with the console, as `temponest serve` composes it.
pub struct Platform {
    pub api: Api,
    /// Keeps the services' engines (scheduler, webhook sender) running for the test.
    _app: Spawned,
}

pub async fn spawn(pool: PgPool) -> Platform {
    let harness = Harness::new(pool).await;
    let console = ConsoleConfig {
        api_url: harness.base().to_owned(),
        cookie_key: temponest_sealing::KeyText(COOKIE_KEY.to_owned()),
        ..ConsoleConfig::default()
    };
    let scheduler = SchedulerConfig {
        agents_url: harness.base().to_owned(),
        service_client_secret: SERVICE_SECRET.into(),
        ..SchedulerConfig::default()
    };
    let mut webhooks = WebhooksConfig::default();
    webhooks.webhooks.allowed_networks = "127.0.0.0/8".to_owned();
    let auth = AuthConfig {
        service_clients: format!("scheduler={SERVICE_SECRET}"),
        ..AuthConfig::default().with_fast_hashing()
    };
    // Every service, as `temponest serve` composes them.
    let app = harness
        .spawn([
            temponest_auth::service(auth),
            temponest_agents::service(AgentsConfig::default()),
            temponest_webhooks::service(webhooks),
            temponest_scheduler::service(scheduler),
            temponest_console::service(console),
        ])
        .await;
    Platform {
        api: app.api.clone(),
        _app: app,
    }
}

/// The platform with ada@example.com (a tenant admin) signed up and signed in to the
/// console: how most tests begin. The platform, her API session and her browser.
pub async fn spawn_with_ada(pool: PgPool) -> (Platform, Session, Browser) {
    let platform = spawn(pool).await;
    let admin = platform.admin("ada@example.com").await;
    let browser = platform.signed_in("ada@example.com").await;
    (platform, admin, browser)
}

impl Platform {
    /// A tenant's admin (password [`PASSWORD`]).
    pub async fn admin(&self, email: &str) -> Session {
        self.api.signup(email).await
    }

    /// A viewer in `admin`'s tenant.
    pub async fn viewer(&self, admin: &Session, email: &str) {
        let user = json!({"email": email, "password": PASSWORD, "roles": ["viewer"]});
        self.api
            .call(&admin.token, "POST /users", Some(&user), 201)
            .await;
    }

    pub fn browser(&self) -> Browser {
        Browser {
            http: Client::builder()
                .redirect(redirect::Policy::none())
                .no_gzip()
                .build()
                .unwrap(),
            base: self.api.base.clone(),
            cookie: None,
        }
    }

    /// A browser signed in as `email`.
    pub async fn signed_in(&self, email: &str) -> Browser {
        let mut browser = self.browser();
        let resp = browser.sign_in(email, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/console");
        browser
    }
}

pub struct Browser {
    pub http: Client,
    pub base: String,
    /// `name=value` of the console cookie.
    pub cookie: Option<String>,
}

/// A response's `Location`.
pub fn location(resp: &Response) -> String {
    resp.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The `Set-Cookie` of a response, if any.
pub fn set_cookie(resp: &Response) -> Option<String> {
    resp.headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
}

impl Browser {
    fn keep(&mut self, resp: &Response) {
        if let Some(set) = set_cookie(resp) {
            let pair = set.split(';').next().unwrap().to_owned();
            self.cookie = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        self.get_with(path, &[]).await
    }

    /// A GET with more `headers` (`last-event-id`, say).
    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let resp = request.send().await.unwrap();
        self.keep(&resp);
        resp
    }

    /// The page at `path` (asserting 200) as text.
    pub async fn page(&mut self, path: &str) -> String {
        let resp = self.get(path).await;
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Posts a form as a browser on the console's own origin would.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_with(path, fields, Some(&self.base.clone())).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Response {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(fields);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let resp = request.send().await.unwrap();
        self.keep(&resp);
        resp
    }

    /// Posts a form (see [`Browser::post`]), asserts `status` (the page in the failure
    /// message) and returns the page.
    pub async fn submit(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        status: StatusCode,
    ) -> String {
        let resp = self.post(path, fields).await;
        let actual = resp.status();
        let page = resp.text().await.unwrap();
        assert_eq!(actual, status, "POST {path}: {page}");
        page
    }

    /// Posts a form, asserts it redirects (303 See Other, the page in the failure message)
    /// and returns where to.
    pub async fn redirected(&mut self, path: &str, fields: &[(&str, &str)]) -> String {
        let resp = self.post(path, fields).await;
        let (status, to) = (resp.status(), location(&resp));
        let page = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::SEE_OTHER, "POST {path}: {page}");
        to
    }

    /// Posts a form that carries nothing but the CSRF token (a button: run a test event,
    /// pause, delete, revoke).
    pub async fn press(&mut self, path: &str, csrf: &str) -> Response {
        self.post(path, &[("_csrf", csrf)]).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Response {
        self.post(
            "/console/sign-in",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// The CSRF token of the forms on `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        csrf_of(&self.page(path).await)
    }
}

/// The text of `page` between the first `start` and the next `end` after it.
pub fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in the page"))
        + start.len();
    let rest = &page[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// Starts a webhook receiver on a free loopback port that accepts every delivery with
/// `answer`; returns its URL.
pub async fn receiver(answer: &'static str) -> String {
    let app =
        axum::Router::new().route("/hooks", axum::routing::post(move || async move { answer }));
    format!("http://{}/hooks", temponest_test_client::serve(app).await)
}

/// The `_csrf` value in a page.
pub fn csrf_of(page: &str) -> String {
    let marker = r#"name="_csrf" value=""#;
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}
