//! Route extractors that carry who calls, the permission the route needs and the request's
//! input, so that a handler can neither forget the permission check nor write it again.
//!
//! The checks come in the order the routes have always answered in: the caller first (401),
//! then the input's own rejections (404 for a malformed id, 422 for a bad query or body, ...),
//! the permission last (403). Nothing here knows the agents service: it is written over any
//! state and any input extractor, to move to `crates/web` once the other services use it.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use temponest_auth_client::Principal;
use temponest_auth_client::permissions::{self, Permission};
use temponest_web::extract::ApiQuery;
use temponest_web::{ApiError, Pagination};

/// A permission as a type, so that a route's signature names what its caller must hold.
pub trait Needs: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// Declares a marker type per permission.
macro_rules! needs {
    ($($(#[$doc:meta])* $marker:ident => $permission:path;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $marker;

        impl Needs for $marker {
            const PERMISSION: Permission = $permission;
        }
    )*};
}

needs! {
    /// `agents:read`.
    AgentsRead => permissions::AGENTS_READ;
    /// `agents:write`.
    AgentsWrite => permissions::AGENTS_WRITE;
    /// `agents:execute`.
    AgentsExecute => permissions::AGENTS_EXECUTE;
    /// `costs:read`.
    CostsRead => permissions::COSTS_READ;
    /// `costs:manage`.
    CostsManage => permissions::COSTS_MANAGE;
}

/// A caller allowed `P`, with the state `S` and the request's input `X`: any extractor, or a
/// tuple of them (`(IdPath, Json<T>)`); a JSON body makes it the handler's last argument.
#[derive(Debug)]
pub struct Allowed<S, P, X = ()> {
    pub state: S,
    pub principal: Principal,
    pub input: X,
    needs: PhantomData<P>,
}

impl<S, P, X> Allowed<S, P, X> {
    /// The state, the caller and the input.
    pub fn into_parts(self) -> (S, Principal, X) {
        (self.state, self.principal, self.input)
    }
}

impl<S, P: Needs, X> Allowed<S, P, X> {
    /// Refuses a caller without `P` (403) once the input has been read.
    fn check(state: S, principal: Principal, input: X) -> Result<Self, ApiError> {
        principal.require(P::PERMISSION)?;
        Ok(Self {
            state,
            principal,
            input,
            needs: PhantomData,
        })
    }
}

impl<O, S, P, X> FromRequestParts<O> for Allowed<S, P, X>
where
    O: Send + Sync,
    S: FromRef<O>,
    P: Needs,
    X: FromRequestParts<O>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &O) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let input = X::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Self::check(S::from_ref(state), principal, input).map_err(IntoResponse::into_response)
    }
}

impl<O, S, P, X> FromRequest<O> for Allowed<S, P, X>
where
    O: Send + Sync,
    S: FromRef<O>,
    P: Needs,
    X: FromRequest<O>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &O) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let principal = Principal::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let input = X::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Self::check(S::from_ref(state), principal, input).map_err(IntoResponse::into_response)
    }
}

/// A list route's input: the page (`skip`/`limit` or `page`/`page_size`) and the filter `F`
/// of the query string, read in that order.
#[derive(Debug, Clone)]
pub struct ListQuery<F> {
    pub page: Pagination,
    pub filter: F,
}

impl<S, F> FromRequestParts<S> for ListQuery<F>
where
    S: Send + Sync,
    F: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let page = Pagination::from_request_parts(parts, state).await?;
        let ApiQuery(filter) = ApiQuery::<F>::from_request_parts(parts, state).await?;
        Ok(Self { page, filter })
    }
}
