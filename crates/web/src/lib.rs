//! HTTP plumbing shared by every TempoNest service: the API error type and body (SPEC §2),
//! request ids, extractors (JSON with readable rejections, ids, pagination), health, metrics
//! and OpenAPI routes, the standard middleware stack (with the 404/405 bodies and the
//! refusal of NUL characters and inexact numbers at the edge), serving with graceful shutdown,
//! and how a sibling service's error answer is reported.

pub mod convert;
pub mod docs;
pub mod edge;
pub mod encoded;
pub mod error;
pub mod extract;
pub mod filters;
pub mod health;
pub mod json_scan;
pub mod patch;
pub mod request_id;
pub mod secret_response;
pub mod server;
pub mod stack;

pub use encoded::Encoded;
pub use error::{ApiError, ApiResult, FieldError};
pub use extract::{IdPath, Json, ListQuery, Pagination, list_rows};
pub use request_id::current_request_id;
pub use secret_response::no_store;
pub use server::{ServerConfig, serve, shutdown_signal};
