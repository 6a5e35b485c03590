//! What can go wrong serving a console page, and the page each case becomes: signed out →
//! the sign-in page; the API's refusal → its status and `detail`; the API unreachable → 502.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::assets;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No session, or it could not be renewed.
    #[error("signed out")]
    SignedOut,
    /// A form without the session's CSRF token, or from another origin.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The API refused or failed the request.
    #[error("API answered {status}: {detail}")]
    Api { status: u16, detail: String },
    /// The API could not be reached or answered nonsense.
    #[error("API unreachable: {0}")]
    Unreachable(String),
    /// Input the console itself refuses (before calling the API).
    #[error("{0}")]
    BadInput(String),
    #[error("rendering: {0}")]
    Render(#[from] askama::Error),
}

impl ConsoleError {
    /// The API's refusal of a form that the user can fix (a 4xx other than 401 and 403): the
    /// status to show the form again with, and the API's detail. Any other error as it is.
    pub fn fixable(self) -> Result<(StatusCode, String), Self> {
        match self {
            Self::Api { status, detail }
                if (400..500).contains(&status) && status != 401 && status != 403 =>
            {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                Ok((status, detail))
            }
            other => Err(other),
        }
    }
}

/// A page with only a message (errors), outside the signed-in layout.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    css: &'a str,
    status: u16,
    title: &'a str,
    detail: &'a str,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match &self {
            Self::SignedOut => return Redirect::to("/console/sign-in").into_response(),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Refused", (*why).to_owned()),
            Self::Api { status, detail } => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
                let status = if status.is_server_error() {
                    StatusCode::BAD_GATEWAY
                } else {
                    status
                };
                (status, "The platform refused this", detail.clone())
            }
            Self::Unreachable(why) => {
                tracing::warn!(error = %why, "console: API unreachable");
                (
                    StatusCode::BAD_GATEWAY,
                    "The platform did not answer",
                    "The API could not be reached; try again in a moment.".to_owned(),
                )
            }
            Self::BadInput(why) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Check the form",
                why.clone(),
            ),
            Self::Render(err) => {
                tracing::error!(error = %err, "console: a template failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be rendered.".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            css: assets::CSS.url_static(),
            status: status.as_u16(),
            title,
            detail: &detail,
        };
        match page.render() {
            Ok(html) => (status, axum::response::Html(html)).into_response(),
            Err(_) => (status, detail).into_response(),
        }
    }
}
