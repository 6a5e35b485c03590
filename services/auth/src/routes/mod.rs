//! HTTP routes of the auth service, one module per resource, and the table of them.

pub mod api_keys;
pub mod auth;
pub mod client;
pub mod jwks;
pub mod service_tokens;
pub mod session;
pub mod users;

use temponest_web::ApiError;

use crate::domain::password::HashError;
use crate::domain::signing::SigningError;

temponest_platform::api_table! {
    service: "auth",
    state: crate::state::AppState,
    title: "TempoNest auth",
    description: "Tenants, users, sessions, API keys and signing keys.",
    auth {
        "/auth/register" => post(register);
        "/auth/me" => get(me);
        "/auth/introspect" => post(introspect);
    }
    session {
        "/auth/login" => post(login);
        "/auth/refresh" => post(refresh);
        "/auth/logout" => post(logout);
    }
    service_tokens {
        "/auth/service-token" => post(issue);
    }
    api_keys {
        "/api-keys" => post(create), get(list);
        "/api-keys/{id}" => delete(revoke);
    }
    users {
        "/users" => get(list), post(create);
        "/users/{id}" => get(get), patch(update);
        "/tenants/current" => get(current_tenant);
    }
    jwks {
        "/.well-known/jwks.json" => get(jwks);
    }
}

// The domain's failures as answers (the domain speaks in its own error types; this is where
// they become HTTP).

/// An overloaded or closing hasher is a 503 the caller may retry; a failed hash is a 500.
impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy | HashError::Closed => ApiError::unavailable(err.to_string()),
            HashError::Task(_) | HashError::Compute(_) => ApiError::internal(err.to_string()),
        }
    }
}

/// A key set that is not (yet) loaded is a 503; a database error is answered as every one is.
impl From<SigningError> for ApiError {
    fn from(err: SigningError) -> Self {
        match err {
            SigningError::Database(e) => e.into(),
            SigningError::Reload(_) | SigningError::NoActiveKey => {
                ApiError::unavailable(err.to_string())
            }
            SigningError::Seal(_) | SigningError::Encode(_) => ApiError::internal(err.to_string()),
        }
    }
}
