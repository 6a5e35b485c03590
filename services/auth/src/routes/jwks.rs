//! `GET /.well-known/jwks.json`: the public keys that verify access tokens.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use temponest_auth_client::jwks::Jwks;

use crate::state::AppState;

/// Public signing keys (current and recently retired).
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "get_jwks", tag = "auth",
    responses((status = 200, description = "JSON Web Key Set", body = Jwks)))]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.keys.jwks()),
    )
}
