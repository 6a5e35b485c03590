//! Route extractors that carry who calls, the permission the route needs and the request's
//! input, so that a handler can neither forget the permission check nor write it again.
//!
//! The checks come in the order the routes have always answered in: the caller first (401),
//! then the input's own rejections (404 for a malformed id, 422 for a bad query or body, ...),
//! the permission last (403). Nothing here knows a service: it is written over any state and
//! any input extractor. A service names its own alias once,
//! `pub type Call<P, X = ()> = Allowed<AppState, P, X>;`, and its handlers take
//! `Call<AgentsRead, IdPath>`, `Call<(SchedulesWrite, AgentsExecute), Json<ScheduleIn>>`, ...

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use temponest_auth_client::Principal;
use temponest_auth_client::permissions;
use temponest_web::ApiError;

/// What a route's caller must hold, as a type, so that a route's signature names it: one
/// permission's marker, a pair of them (both, checked in order), or [`Authenticated`].
pub trait Needs: Send + Sync + 'static {
    /// 403 unless `principal` holds what the route needs.
    fn check(principal: &Principal) -> Result<(), ApiError>;
}

/// Declares a marker type per permission.
macro_rules! needs {
    ($($(#[$doc:meta])* $marker:ident => $permission:path;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $marker;

        impl Needs for $marker {
            fn check(principal: &Principal) -> Result<(), ApiError> {
                principal.require($permission)
            }
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
    /// `schedules:read`.
    SchedulesRead => permissions::SCHEDULES_READ;
    /// `schedules:write`.
    SchedulesWrite => permissions::SCHEDULES_WRITE;
    /// `webhooks:read`.
    WebhooksRead => permissions::WEBHOOKS_READ;
    /// `webhooks:manage`.
    WebhooksManage => permissions::WEBHOOKS_MANAGE;
    /// `costs:read`.
    CostsRead => permissions::COSTS_READ;
    /// `costs:manage`.
    CostsManage => permissions::COSTS_MANAGE;
    /// `users:read`.
    UsersRead => permissions::USERS_READ;
    /// `users:manage`.
    UsersManage => permissions::USERS_MANAGE;
    /// `api_keys:manage`.
    ApiKeysManage => permissions::API_KEYS_MANAGE;
    /// `knowledge:read`.
    KnowledgeRead => permissions::KNOWLEDGE_READ;
    /// `knowledge:write`.
    KnowledgeWrite => permissions::KNOWLEDGE_WRITE;
}

/// Any authenticated caller: the route checks nothing more than who calls.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated;

impl Needs for Authenticated {
    fn check(_: &Principal) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Both `A` and `B`, checked in that order (the first one missing is the one the 403 names).
impl<A: Needs, B: Needs> Needs for (A, B) {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        A::check(principal)?;
        B::check(principal)
    }
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
        P::check(&principal)?;
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
