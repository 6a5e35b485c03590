//! Access, for admins: the tenant's users (list, add one with a role) and API keys (list,
//! create one — the key shown once — and revoke).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use temponest_auth::models::{ApiKeyCreatedOut, ApiKeyOut, UserOut};
use temponest_auth_client::permissions::{Permission, Role};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::pages::{page_with, when};
use crate::web::{Chrome, ConsoleState, Posted, Signed, button_route};

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/access", get(overview))
        .route("/console/access/users", post(add_user))
        .route("/console/access/keys", post(create_key))
        .route(
            "/console/access/keys/{id}/revoke",
            button_route(Method::DELETE, "/api-keys/{id}", "/console/access"),
        )
}

/// The roles an admin can grant, least first.
const ROLES: [&str; 4] = [
    Role::Viewer.as_str(),
    Role::Developer.as_str(),
    Role::Manager.as_str(),
    Role::Admin.as_str(),
];

/// Names as a page lists them: `a, b`.
fn listed<T: Copy>(items: &[T], name: fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|&t| name(t))
        .collect::<Vec<_>>()
        .join(", ")
}

struct UserRow {
    email: String,
    roles: String,
    active: bool,
    created: String,
}

struct KeyRow {
    id: Uuid,
    name: String,
    prefix: String,
    scopes: String,
    last_used: String,
    created: String,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    keys: Vec<KeyRow>,
    roles: [&'static str; 4],
    new_key: Option<String>,
    error: Option<String>,
}

async fn render(
    state: &ConsoleState,
    signed: &Signed,
    new_key: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let chrome = Chrome::new(signed, "access");
    let users = if chrome.can.manage_users {
        state
            .api
            .get::<Vec<UserOut>>(&signed.cell, "/users?limit=100")
            .await?
    } else {
        Vec::new()
    };
    let keys = if chrome.can.manage_keys {
        state
            .api
            .get::<Vec<ApiKeyOut>>(&signed.cell, "/api-keys")
            .await?
    } else {
        Vec::new()
    };
    let users = users
        .into_iter()
        .map(|u| UserRow {
            email: u.email,
            roles: listed(&u.roles, Role::as_str),
            active: u.is_active,
            created: when(&u.created_at),
        })
        .collect();
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: listed(&k.scopes, Permission::as_str),
            last_used: k.last_used_at.as_ref().map_or("never".into(), when),
            created: when(&k.created_at),
        })
        .collect();
    page_with(
        status,
        &AccessPage {
            chrome,
            users,
            keys,
            roles: ROLES,
            new_key,
            error,
        },
    )
}

async fn overview(
    State(state): State<ConsoleState>,
    signed: Signed,
) -> Result<Response, ConsoleError> {
    render(&state, &signed, None, None, StatusCode::OK).await
}

/// The API's refusal of a form, shown on the page; other errors as they are.
async fn refused(
    state: &ConsoleState,
    signed: &Signed,
    err: ConsoleError,
) -> Result<Response, ConsoleError> {
    let (status, detail) = err.fixable()?;
    render(state, signed, None, Some(detail), status).await
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

async fn add_user(
    State(state): State<ConsoleState>,
    posted: Posted<UserForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    let body = json!({"email": form.email.trim(), "password": form.password, "roles": [form.role]});
    match state
        .api
        .call(&signed.cell, Method::POST, "/users", Some(&body))
        .await
    {
        Ok(()) => Ok(Redirect::to("/console/access").into_response()),
        Err(err) => refused(&state, &signed, err).await,
    }
}

#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// Creates a key and shows it this once (the page is `no-store`).
async fn create_key(
    State(state): State<ConsoleState>,
    posted: Posted<KeyForm>,
) -> Result<Response, ConsoleError> {
    let Posted { signed, form } = posted;
    let body = json!({"name": form.name.trim(), "scopes": form.scopes});
    match state
        .api
        .json::<ApiKeyCreatedOut>(&signed.cell, Method::POST, "/api-keys", Some(&body))
        .await
    {
        Ok(created) => {
            render(
                &state,
                &signed,
                Some(created.key),
                None,
                StatusCode::CREATED,
            )
            .await
        }
        Err(err) => refused(&state, &signed, err).await,
    }
}
