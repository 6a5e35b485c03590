//! The one API error type. It renders the JSON body of SPEC §2 (`detail`, `code`, `status`,
//! `request_id`, and `errors` for validation failures), logs the server-side cause of 5xx
//! errors once with the request id, and never sends that cause to the client.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::request_id::current_request_id;

/// One invalid field in a 422 response.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// Field path, e.g. `email` or `scopes[2]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Human message. For 5xx it is generic; the real cause goes to the log only.
    pub detail: String,
    pub errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Server-side cause, logged and never rendered.
    cause: Option<String>,
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// The rendered body, also used to document errors in OpenAPI.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub detail: String,
    pub code: String,
    pub status: u16,
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            cause: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 422 with one message and the per-field list.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [] => "request validation failed".to_owned(),
            [one] => format!("{}: {}", one.field, one.message),
            many => format!(
                "{} invalid fields: {}",
                many.len(),
                many.iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let mut err = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", detail);
        err.errors = errors;
        err
    }

    /// 422 for a single field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404 naming the resource kind (never echoing the raw id back).
    pub fn not_found(resource: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{resource} not found"),
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 429 with an integer `Retry-After`.
    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail).with_header(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs.max(1)),
        )
    }

    /// 503: a dependency is down or the server is overloaded; the client may retry.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "the service is temporarily unavailable, retry shortly",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"));
        err.cause = Some(cause.into());
        err
    }

    /// 500 with a generic message; `cause` is logged only.
    pub fn internal(cause: impl Into<String>) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        );
        err.cause = Some(cause.into());
        err
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Renders the body this error would produce (with the current request id).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            status: self.status.as_u16(),
            request_id: current_request_id(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                code = self.code,
                request_id = body.request_id.as_deref().unwrap_or("-"),
                cause = self.cause.as_deref().unwrap_or("-"),
                "request failed"
            );
        }
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        (self.status, headers, axum::Json(body)).into_response()
    }
}

/// Maps a database error: missing row → 404 is the caller's job (they know the resource), so
/// `RowNotFound` here is a 500; constraint names map through [`constraint_error`];
/// unreachable database or exhausted pool → 503.
/// For extractors that cannot fail (e.g. `()`), so generic extractors can take them too.
impl From<std::convert::Infallible> for ApiError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let Some(violation) = temponest_db::constraint_violation(&err) {
            return constraint_error(&violation);
        }
        if temponest_db::is_unavailable(&err) {
            return ApiError::unavailable(err.to_string());
        }
        ApiError::internal(err.to_string())
    }
}

/// The single table from constraint names (as declared in `migrations/`) to client errors.
pub fn constraint_error(violation: &temponest_db::ConstraintViolation) -> ApiError {
    use temponest_db::ConstraintKind;
    let known = match violation.constraint.as_str() {
        "users_email_key" => Some(ApiError::conflict("a user with this email already exists")),
        "users_roles_known" => Some(ApiError::invalid_field(
            "roles",
            "unknown role (expected admin, manager, developer or viewer)",
        )),
        "api_keys_name_not_blank" => Some(ApiError::invalid_field("name", "must not be blank")),
        "agents_tenant_name_key" => Some(ApiError::conflict(
            "an agent with this name already exists in this tenant",
        )),
        "executions_agent_fkey" => Some(ApiError::not_found("agent")),
        "collections_tenant_name_key" => Some(ApiError::conflict(
            "a collection with this name already exists in this tenant",
        )),
        "tenants_name_not_blank" => {
            Some(ApiError::invalid_field("tenant_name", "must not be blank"))
        }
        _ => None,
    };
    known.unwrap_or_else(|| match violation.kind {
        ConstraintKind::Unique => ApiError::conflict("the resource already exists"),
        ConstraintKind::ForeignKey => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "a referenced resource does not exist",
        ),
        ConstraintKind::Check | ConstraintKind::NotNull => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "the request violates a data rule",
        ),
    })
}
