//! Signing in (email and password, exchanged at the API's `POST /auth/login` for tokens
//! that go into the sealed cookie, never to the page) and out (`POST /auth/logout`, cookie
//! cleared).

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::assets;
use crate::error::ConsoleError;
use crate::pages::page_with;
use crate::session::{SessionCell, same_origin};
use crate::web::{Button, ConsoleState};

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    css: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn sign_in_page(cell: axum::Extension<SessionCell>) -> Result<Response, ConsoleError> {
    if cell.get().is_some() {
        return Ok(Redirect::to("/console").into_response());
    }
    page_with(
        StatusCode::OK,
        &SignInPage {
            css: assets::CSS.url_static(),
            email: "",
            error: None,
        },
    )
}

async fn sign_in(
    State(state): State<ConsoleState>,
    cell: axum::Extension<SessionCell>,
    peer: Result<ConnectInfo<SocketAddr>, axum::extract::rejection::ExtensionRejection>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers) {
        return Err(ConsoleError::Forbidden(
            "this form was sent from another site",
        ));
    }
    let shown_again = |status: StatusCode, error: &str| {
        page_with(
            status,
            &SignInPage {
                css: assets::CSS.url_static(),
                email: form.email.trim(),
                error: Some(error),
            },
        )
    };
    if form.email.trim().is_empty() || form.password.is_empty() {
        return shown_again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your email and password.",
        );
    }
    // The API limits logins per client: tell it who the client is (it uses this only when
    // it trusts forwarded addresses).
    let client = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| peer.ok().map(|ConnectInfo(addr)| addr.ip().to_string()));
    match state
        .api
        .sign_in(
            form.email.trim(),
            &form.password,
            client.as_deref(),
            state.jar.ttl_secs(),
        )
        .await
    {
        Ok(session) => {
            cell.renew(session);
            Ok(Redirect::to("/console").into_response())
        }
        Err(ConsoleError::Api { status, detail }) if (400..500).contains(&status) => shown_again(
            StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
            &detail,
        ),
        Err(other) => Err(other),
    }
}

async fn sign_out(State(state): State<ConsoleState>, posted: Button) -> Response {
    state.api.sign_out(&posted.signed.session).await;
    posted.signed.cell.end();
    Redirect::to("/console/sign-in").into_response()
}
