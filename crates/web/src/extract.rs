//! Extractors whose rejections are API errors: JSON bodies (400 for malformed JSON, 413 for
//! oversized bodies, 415 for a wrong content type, 422 for wrong types or missing fields, and
//! 422 for a NUL character or a number that would not be stored exactly, see
//! [`crate::json_scan`]), path ids (a malformed id is 404, never 422) and list pagination.

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{ApiError, FieldError};

/// JSON body extractor and response wrapper with SPEC §2 rejections. Every JSON body of the
/// API comes through here, so this is the one place that refuses NUL characters and numbers
/// that would not round-trip ([`crate::json_scan`]) before any handler or Postgres sees them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(unsupported_media_type());
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        if let Err(refusal) = crate::json_scan::check(&body) {
            return Err(ApiError::invalid_field(&refusal.field, refusal.message));
        }
        match axum::Json::<T>::from_bytes(&body) {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json` or `application/<anything>+json`, as axum's own `Json` requires.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(Ok(value)) = headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .rsplit_once('+')
                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json")))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "expected a JSON body with `Content-Type: application/json`",
    )
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is too large",
        )
    } else {
        ApiError::bad_request(rejection.body_text())
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            // serde's message names the field path and the problem, e.g.
            // "email: invalid type: integer `1`, expected a string at line 1 column 10".
            let text = err.body_text();
            serde_refusal(
                &text,
                "Failed to deserialize the JSON body into the target type: ",
                "body",
            )
        }
        JsonRejection::JsonSyntaxError(err) => {
            ApiError::bad_request(format!("malformed JSON body: {}", err.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::BytesRejection(err) => bytes_rejection(err),
        other => ApiError::bad_request(other.body_text()),
    }
}

/// A UUID path parameter. Anything that is not a UUID is answered 404 like an unknown id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("resource"))?;
        Uuid::parse_str(&raw)
            .map(IdPath)
            .map_err(|_| ApiError::not_found("resource"))
    }
}

/// Default and maximum page size (SPEC §2).
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 100;

/// `skip`/`limit` (or `page`/`page_size`) list parameters, validated. A `limit` above the
/// maximum is clamped to it rather than rejected, so clients asking for "everything" still work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub skip: i64,
    pub limit: i64,
}

#[derive(Deserialize)]
struct RawPagination {
    skip: Option<i64>,
    limit: Option<i64>,
    page: Option<i64>,
    page_size: Option<i64>,
}

impl Default for Pagination {
    fn default() -> Self {
        Self {
            skip: 0,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<RawPagination>::from_request_parts(parts, state)
            .await
            .map_err(query_rejection)?;
        let mut errors = Vec::new();
        for (name, value) in [
            ("skip", raw.skip),
            ("limit", raw.limit),
            ("page", raw.page),
            ("page_size", raw.page_size),
        ] {
            match (name, value) {
                ("skip", Some(v)) if v < 0 => {
                    errors.push(FieldError::new(name, "must be 0 or greater"))
                }
                (_, Some(v)) if name != "skip" && v < 1 => {
                    errors.push(FieldError::new(name, "must be 1 or greater"))
                }
                _ => {}
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let pagination = match (raw.page, raw.page_size) {
            (Some(_), _) | (_, Some(_)) if raw.skip.is_none() && raw.limit.is_none() => {
                let size = raw.page_size.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
                let page = raw.page.unwrap_or(1);
                Pagination {
                    skip: (page - 1).saturating_mul(size),
                    limit: size,
                }
            }
            _ => Pagination {
                skip: raw.skip.unwrap_or(0),
                limit: raw.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
            },
        };
        Ok(pagination)
    }
}

/// Maps a query-string rejection to 422 naming the parameter.
pub fn query_rejection(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    serde_refusal(&text, "Failed to deserialize query string: ", "query")
}

/// A 422 from axum's rejection `text` (serde's message after axum's `prefix`), naming the
/// field serde names at the start of its message ("email: invalid type: …") or as missing
/// ("missing field `email`"), else `whole`. The field's name is not repeated in the message.
fn serde_refusal(text: &str, prefix: &str, whole: &str) -> ApiError {
    let message = text.strip_prefix(prefix).unwrap_or(text);
    let (path, problem) = match message.split_once(": ") {
        Some((path, problem)) if !path.contains(' ') => (Some(path), problem),
        _ => (None, message),
    };
    let missing = problem
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    let field = match (path, missing) {
        (Some(path), Some(name)) => format!("{path}.{name}"),
        (None, Some(name)) => name.to_owned(),
        (Some(path), None) => path.to_owned(),
        (None, None) => whole.to_owned(),
    };
    ApiError::validation(vec![FieldError::new(field, problem)])
}

/// Query-string extractor whose rejection is a 422 API error.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(query_rejection)
    }
}

/// Adds `X-Total-Count` to a bare-array list response.
pub fn list_response<T: serde::Serialize>(items: Vec<T>, total: i64) -> Response {
    with_total_count(axum::Json(items).into_response(), total)
}

/// [`list_response`] of a page already encoded (for instance one served from the cache as
/// [`Encoded`](crate::Encoded)): the body is the stored bytes.
pub fn encoded_list_response<T>(items: crate::Encoded<Vec<T>>, total: i64) -> Response {
    with_total_count(items.into_response(), total)
}

fn with_total_count(mut response: Response, total: i64) -> Response {
    response
        .headers_mut()
        .insert("x-total-count", axum::http::HeaderValue::from(total.max(0)));
    response
}

/// A list page of database rows as the API shows it: every row converted to its API type
/// `Out`, the page's total in `X-Total-Count` (see [`list_response`]).
pub fn list_rows<Out, Row>((rows, total): (Vec<Row>, i64)) -> Response
where
    Out: From<Row> + serde::Serialize,
{
    list_response(rows.into_iter().map(Out::from).collect::<Vec<Out>>(), total)
}

/// A list route's input: the page (`skip`/`limit` or `page`/`page_size`) and the filter `F`
/// of the query string, read in that order (each refusal a 422 naming the parameter).
#[derive(Debug, Clone)]
pub struct ListQuery<F> {
    pub page: Pagination,
    pub filter: F,
}

impl<S, F> FromRequestParts<S> for ListQuery<F>
where
    S: Send + Sync,
    F: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let page = Pagination::from_request_parts(parts, state).await?;
        let ApiQuery(filter) = ApiQuery::<F>::from_request_parts(parts, state).await?;
        Ok(Self { page, filter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> (String, String, String) {
        let err = serde_refusal(text, "Failed: ", "body");
        let first = &err.errors[0];
        (
            err.detail.clone(),
            first.field.clone(),
            first.message.clone(),
        )
    }

    #[test]
    fn the_field_serde_names_is_the_error_field_and_is_said_once() {
        let (detail, field, message) = refusal(
            "Failed: email: invalid type: integer `5`, expected a string at line 1 column 10",
        );
        assert_eq!(field, "email");
        assert_eq!(
            message,
            "invalid type: integer `5`, expected a string at line 1 column 10"
        );
        assert_eq!(
            detail,
            "email: invalid type: integer `5`, expected a string at line 1 column 10"
        );
    }

    #[test]
    fn a_missing_field_is_named_with_its_path() {
        let (detail, field, _) = refusal("Failed: missing field `email` at line 1 column 2");
        assert_eq!(field, "email");
        assert_eq!(detail, "email: missing field `email` at line 1 column 2");
        let (_, field, _) = refusal("Failed: retry: missing field `max` at line 1 column 20");
        assert_eq!(field, "retry.max");
    }

    #[test]
    fn a_message_without_a_field_names_the_whole_input() {
        let (_, field, message) = refusal("Failed: invalid type: sequence, expected a map");
        assert_eq!(field, "body");
        assert_eq!(message, "invalid type: sequence, expected a map");
    }
}
