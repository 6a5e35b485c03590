//! HTTP handlers, one module per resource.

pub mod agents;
pub mod budgets;
pub mod collaboration;
pub mod cost_export;
pub mod costs;
pub mod dashboard;
pub mod executions;
pub mod prices;

/// A route's caller, allowed `P`, with the service's state and the request's input `X`.
pub type Call<P, X = ()> = crate::access::Allowed<crate::state::AppState, P, X>;
