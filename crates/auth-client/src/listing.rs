//! The one extractor of every list route: who asks, under which parent, which page and which
//! filters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use temponest_web::extract::ApiQuery;
use temponest_web::{ApiError, Pagination};

use crate::Principal;

/// A list request: the authenticated caller (401 first), the path `P` of a nested list (e.g.
/// `IdPath` for `/schedules/{id}/executions`, a 404 for a malformed id; `()` for a top-level
/// list), the validated page (`skip`/`limit` or `page`/`page_size`, 422) and the route's
/// query filters `F` (422 naming the parameter), checked in that order. A list handler takes
/// this one extractor, so it cannot forget the tenant scope or the page bounds.
#[derive(Debug, Clone)]
pub struct ListRequest<F = NoFilter, P = ()> {
    pub principal: Principal,
    pub path: P,
    pub page: Pagination,
    pub filter: F,
}

/// The filter of a list route that has none (query parameters other than the page's are
/// ignored).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct NoFilter {}

impl<F, P, S> FromRequestParts<S> for ListRequest<F, P>
where
    F: DeserializeOwned + Send,
    P: FromRequestParts<S> + Send,
    P::Rejection: Into<ApiError>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let path = P::from_request_parts(parts, state)
            .await
            .map_err(Into::into)?;
        let page = Pagination::from_request_parts(parts, state).await?;
        let ApiQuery(filter) = ApiQuery::<F>::from_request_parts(parts, state).await?;
        Ok(Self {
            principal,
            path,
            page,
            filter,
        })
    }
}
