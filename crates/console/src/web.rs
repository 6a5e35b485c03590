//! The console's HTTP plumbing: its state, the layer every console response goes through
//! (session cookie in and out, security headers) and the extractors that make a handler
//! signed-in ([`Signed`]) or a CSRF-checked form post ([`Posted`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::api::ApiClient;
use crate::assets;
use crate::error::ConsoleError;
use crate::session::{CookieChange, CookieJar, SessionCell, SessionData, same_origin};

/// The strict policy of every console response: nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Largest form body the console reads.
const FORM_LIMIT: usize = 256 * 1024;

/// What console handlers share.
#[derive(Clone)]
pub struct ConsoleState(Arc<Inner>);

pub struct Inner {
    pub api: ApiClient,
    pub jar: CookieJar,
}

impl ConsoleState {
    pub fn new(api: ApiClient, jar: CookieJar) -> Self {
        Self(Arc::new(Inner { api, jar }))
    }
}

impl std::ops::Deref for ConsoleState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Around every console route: opens the session cookie into a [`SessionCell`], and after
/// the handler writes the renewed cookie (or clears an ended session) and the security
/// headers. Pages are `no-store` (they show tenant data); assets set their own caching.
pub async fn console_layer(
    State(state): State<ConsoleState>,
    mut request: Request,
    next: Next,
) -> Response {
    let cell = SessionCell::default();
    if let Some(data) = state.jar.read(request.headers()) {
        cell.set(data);
    }
    let request_headers = request.headers().clone();
    request.extensions_mut().insert(cell.clone());
    let mut response = next.run(request).await;
    let set_cookie = match cell.change() {
        CookieChange::Keep => None,
        CookieChange::Store(data) => state.jar.store(&data, &request_headers),
        CookieChange::Clear => Some(state.jar.clear(&request_headers)),
    };
    let headers = response.headers_mut();
    if let Some(value) = set_cookie.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.append(header::SET_COOKIE, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A signed-in request: the session (as the cookie had it) and the cell the API client
/// renews it in. Without a session the handler is not run: the browser goes to sign-in.
pub struct Signed {
    pub cell: SessionCell,
    pub session: SessionData,
}

impl FromRequestParts<ConsoleState> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, _: &ConsoleState) -> Result<Self, ConsoleError> {
        let cell = parts
            .extensions
            .get::<SessionCell>()
            .cloned()
            .unwrap_or_default();
        let session = cell.get().ok_or(ConsoleError::SignedOut)?;
        Ok(Self { cell, session })
    }
}

/// A signed-in form post whose `_csrf` field is the session's token and whose `Origin`, if
/// sent, is the console's own; `T` is read from the other fields (all text; a name ending
/// in `[]` collects every value sent under it).
pub struct Posted<T> {
    pub signed: Signed,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<ConsoleState> for Posted<T> {
    type Rejection = ConsoleError;

    async fn from_request(
        request: Request<Body>,
        state: &ConsoleState,
    ) -> Result<Self, ConsoleError> {
        let (mut parts, body) = request.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(ConsoleError::Forbidden(
                "this form was sent from another site",
            ));
        }
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| ConsoleError::BadInput("the form is too large".into()))?;
        let (csrf, fields) = form_fields(&bytes)?;
        if !signed.session.csrf_matches(&csrf) {
            return Err(ConsoleError::Forbidden(
                "the form's security token is missing or out of date; reload the page and try again",
            ));
        }
        let form = serde_json::from_value(Value::Object(fields))
            .map_err(|e| ConsoleError::BadInput(format!("the form is incomplete: {e}")))?;
        Ok(Self { signed, form })
    }
}

/// A form without fields of its own (only its CSRF token).
#[derive(serde::Deserialize)]
pub struct Nothing {}

/// A button: a CSRF-checked form post without fields, asking the API for one thing.
pub type Button = Posted<Nothing>;

impl Button {
    /// Asks the API for `method path` (no body), then sends the browser to `then`; the API's
    /// refusal is shown as its error page.
    pub async fn forward(
        self,
        state: &ConsoleState,
        method: Method,
        path: &str,
        then: &str,
    ) -> Result<Response, ConsoleError> {
        state
            .api
            .call(&self.signed.cell, method, path, None)
            .await?;
        Ok(axum::response::Redirect::to(then).into_response())
    }
}

/// The route of a button about one resource, the `{id}` of its path: asks the API for
/// `method api` and sends the browser to `then`, with `{id}` in both replaced by that id (a
/// malformed id is refused as by any `Path<Uuid>`).
pub fn button_route(
    method: Method,
    api: &'static str,
    then: &'static str,
) -> MethodRouter<ConsoleState> {
    post(
        move |State(state): State<ConsoleState>, Path(id): Path<Uuid>, button: Button| {
            let method = method.clone();
            async move {
                let id = id.to_string();
                let (api, then) = (api.replace("{id}", &id), then.replace("{id}", &id));
                button.forward(&state, method, &api, &then).await
            }
        },
    )
}

/// The `_csrf` value and the other fields of a URL-encoded form.
pub fn form_fields(bytes: &[u8]) -> Result<(String, Map<String, Value>), ConsoleError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|_| ConsoleError::BadInput("the form could not be read".into()))?;
    let mut csrf = String::new();
    let mut fields = Map::new();
    for (name, value) in pairs {
        if name == "_csrf" {
            csrf = value;
        } else if let Some(list) = name.strip_suffix("[]") {
            let entry = fields
                .entry(list.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = entry {
                items.push(Value::String(value));
            }
        } else {
            fields.insert(name, Value::String(value));
        }
    }
    Ok((csrf, fields))
}

/// What every signed-in page's layout needs: who is signed in, the CSRF token for its forms,
/// the asset URLs, which section is current, and what the caller may do.
pub struct Chrome {
    pub email: String,
    pub csrf: String,
    pub css: &'static str,
    pub js: &'static str,
    pub section: &'static str,
    pub can: Can,
}

/// The caller's permissions as the buttons need them (a viewer sees no button the API
/// would refuse).
pub struct Can {
    pub write_agents: bool,
    pub execute: bool,
    pub read_costs: bool,
    pub read_schedules: bool,
    pub write_schedules: bool,
    pub read_webhooks: bool,
    pub manage_webhooks: bool,
    pub manage_users: bool,
    pub manage_keys: bool,
}

impl Chrome {
    /// The layout for `signed` as it is now (after a refresh during this request, with the
    /// permissions the refresh read).
    pub fn new(signed: &Signed, section: &'static str) -> Self {
        let session = &signed.cell.get().unwrap_or_else(|| signed.session.clone());
        Self {
            email: session.email.clone(),
            csrf: session.csrf.clone(),
            css: assets::CSS.url_static(),
            js: assets::JS.url_static(),
            section,
            can: Can {
                write_agents: session.can("agents:write"),
                execute: session.can("agents:execute"),
                read_costs: session.can("costs:read"),
                read_schedules: session.can("schedules:read"),
                write_schedules: session.can("schedules:write"),
                read_webhooks: session.can("webhooks:read"),
                manage_webhooks: session.can("webhooks:manage"),
                manage_users: session.can("users:manage"),
                manage_keys: session.can("api_keys:manage"),
            },
        }
    }

    /// `aria-current` for the navigation link of `section`.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}
