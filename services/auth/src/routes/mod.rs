//! HTTP routes of the auth service, one module per resource, and the table of them.

pub mod api_keys;
pub mod auth;
pub mod client;
pub mod jwks;
pub mod service_tokens;
pub mod session;
pub mod users;

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
