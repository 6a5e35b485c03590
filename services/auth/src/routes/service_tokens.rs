//! `POST /auth/service-token`: short-lived tokens for internal service calls (OAuth2
//! client-credentials style). A configured service client presents its secret and the tenant
//! it acts for, and gets a token of type `service` carrying the client's fixed scopes.

use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use temponest_auth_client::claims::ISSUER;
use temponest_auth_client::permissions::{self, Role};
use temponest_auth_client::service::{
    ServiceTokenRequest, ServiceTokenResponse, service_email, service_subject,
};
use temponest_auth_client::{AccessClaims, TokenType};
use temponest_web::{ApiError, ApiResult, Json};
use uuid::Uuid;

use crate::db::users;
use crate::state::AppState;
use temponest_web::no_store;

/// One answer for an unknown client and a wrong secret alike.
fn invalid_client() -> ApiError {
    ApiError::unauthorized("invalid service client credentials")
}

/// Issues a service token for a tenant to a configured service client.
#[utoipa::path(post, path = "/auth/service-token", operation_id = "issue_service_token", tag = "auth", request_body = ServiceTokenRequest,
    responses((status = 200, body = ServiceTokenResponse),
              (status = 401, description = "invalid service client credentials"),
              (status = 404, description = "tenant not found or inactive"),
              (status = 422, description = "missing fields or a malformed tenant id")))]
#[tracing::instrument(skip_all, fields(client = tracing::field::Empty, tenant_id = tracing::field::Empty))]
pub async fn issue(
    State(state): State<AppState>,
    Json(body): Json<ServiceTokenRequest>,
) -> ApiResult<Response> {
    let span = tracing::Span::current();
    span.record("tenant_id", tracing::field::display(body.tenant_id));
    // Checked before the client is known to be valid: the comparison costs the same for an
    // unknown name, and a rejected name is not recorded.
    if !state
        .service_clients
        .verify(&body.client_id, body.client_secret.expose())
    {
        return Err(invalid_client());
    }
    let client = body.client_id;
    span.record("client", client.as_str());
    let scopes = permissions::service_scopes(&client).ok_or_else(invalid_client)?;
    users::tenant(&state.pool, body.tenant_id)
        .await?
        .filter(|tenant| tenant.is_active)
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let ttl = state.config.service_token_ttl_secs;
    let now = Utc::now().timestamp();
    let permissions = scopes.to_vec();
    let access_token = state.keys.sign(&AccessClaims {
        sub: service_subject(&client),
        tenant_id: body.tenant_id,
        email: service_email(&client),
        roles: vec![Role::Service],
        permissions: permissions.clone(),
        jti: Uuid::now_v7(),
        sid: Uuid::nil(),
        iat: now,
        exp: now + ttl,
        iss: ISSUER.to_owned(),
        token_type: TokenType::Service,
        client: Some(client.clone()),
    })?;
    metrics::counter!("auth_service_tokens_issued_total", "client" => client).increment(1);
    Ok(no_store(Json(ServiceTokenResponse {
        access_token: access_token.into(),
        token_type: "bearer".to_owned(),
        expires_in: ttl,
        tenant_id: body.tenant_id,
        permissions,
    })))
}
