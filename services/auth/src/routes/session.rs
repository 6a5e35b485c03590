//! Sessions: login (with brute-force protection), refresh-token rotation with reuse
//! detection, logout, and access-token issuance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde_json::json;
use temponest_auth_client::{
    AccessClaims, Principal, PrincipalKind, TokenType, claims::ISSUER, permissions,
    permissions::Role,
};
use temponest_cache::categories;
use temponest_ratelimit::Policy;
use temponest_web::{ApiError, ApiResult, Json, no_store};
use uuid::Uuid;

use crate::db::audit::{self, AuditEvent};
use crate::db::{sessions, throttle, users};
use crate::domain::credentials;
use crate::models::{LoginIn, RefreshIn, TokenOut};
use crate::routes::client::ClientInfo;
use crate::state::AppState;

/// Answer for a wrong email or a wrong password alike.
fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid email or password")
}

/// 429 for a locked account (the same for registered and unknown emails), or for too many
/// attempts in flight (`wait` = 1). Like every 429 it describes the limit it hit: the lockout
/// threshold, nothing remaining, and when it resets.
fn login_refused(detail: String, wait: i64, threshold: i32) -> ApiError {
    let wait = wait.max(1) as u64;
    ApiError::too_many_requests(detail, wait)
        .with_header(
            temponest_ratelimit::X_RATELIMIT_LIMIT,
            threshold.max(0).into(),
        )
        .with_header(temponest_ratelimit::X_RATELIMIT_REMAINING, 0.into())
        .with_header(temponest_ratelimit::X_RATELIMIT_RESET, wait.into())
}

/// Exchanges email and password for an access and a refresh token.
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = TokenOut), (status = 401, description = "invalid email or password"),
              (status = 429, description = "rate limited or account locked"), (status = 503, description = "overloaded")))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<LoginIn>,
) -> ApiResult<Response> {
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return Err(ApiError::invalid_field(
            "email",
            "must be a non-empty email address",
        ));
    }
    if body.password.is_empty() || body.password.len() > 4 * crate::domain::password::MAX_LEN {
        return Err(ApiError::invalid_field(
            "password",
            "must be between 1 and 1024 characters",
        ));
    }
    let decision = state
        .limiter
        .check(
            &format!("login:{}:{email}", client.ip),
            &[Policy::per_minute(state.config.login_per_minute)],
        )
        .await;
    if !decision.allowed {
        return Ok(decision.rejection(temponest_web::current_request_id().as_deref()));
    }
    let policy = throttle::LockoutPolicy {
        threshold: state.config.lockout_threshold,
        base_secs: state.config.lockout_base_secs,
        max_secs: state.config.lockout_max_secs,
    };
    match throttle::reserve_attempt(&state.pool, &email, policy).await? {
        throttle::Reservation::Granted => {}
        throttle::Reservation::Locked(wait) => {
            audit::record(
                &state.pool,
                AuditEvent::LoginLocked,
                None,
                None,
                Some(&client.ip),
                json!({"email": email}),
            )
            .await?;
            return Err(login_refused(
                format!("too many failed login attempts for this account; try again in {wait} s"),
                wait,
                policy.threshold,
            ));
        }
        throttle::Reservation::Busy => {
            return Err(login_refused(
                "too many login attempts for this account are in progress; retry in a second"
                    .into(),
                1,
                policy.threshold,
            ));
        }
    }
    let checked = async {
        let user = users::find_for_login(&state.pool, &email).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let verified = state.hasher.verify(body.password.clone(), hash).await?;
        Ok::<_, ApiError>((user, verified))
    }
    .await;
    let (user, verified) = match checked {
        Ok(checked) => checked,
        Err(err) => {
            // Not the password's fault: give the slot back without counting a failure.
            if let Err(release) = throttle::release_attempt(&state.pool, &email).await {
                tracing::warn!(error = %release, "could not release a login slot");
            }
            return Err(err);
        }
    };
    let Some(user) = user.filter(|_| verified.matches) else {
        let locked_for = throttle::finish_attempt(&state.pool, &email, false, policy).await?;
        audit::record(
            &state.pool,
            AuditEvent::LoginFailure,
            None,
            None,
            Some(&client.ip),
            json!({"email": email, "locked_for_secs": locked_for}),
        )
        .await?;
        return Err(invalid_credentials());
    };
    throttle::finish_attempt(&state.pool, &email, true, policy).await?;
    if !user.is_active || !user.tenant_active {
        return Err(ApiError::forbidden("this account is disabled"));
    }
    if verified.needs_rehash {
        // Once per user after the parameters change; a failure only delays the upgrade.
        match state.hasher.hash(body.password).await {
            Ok(hash) => users::set_password_hash(&state.pool, user.id, &hash).await?,
            Err(err) => tracing::warn!(error = %err, "could not upgrade a password hash"),
        }
    }
    let session_id = Uuid::now_v7();
    let refresh_id = Uuid::now_v7();
    let refresh_token = credentials::refresh_token(&state.refresh_secret, refresh_id);
    let expires_at = Utc::now() + chrono::Duration::seconds(state.config.refresh_token_ttl_secs);
    let mut tx = state.pool.begin().await?;
    sessions::create_session(
        &mut tx,
        session_id,
        user.id,
        user.tenant_id,
        Some(&client.ip),
        client.user_agent.as_deref(),
    )
    .await?;
    sessions::insert_refresh_token(
        &mut tx,
        refresh_id,
        session_id,
        1,
        &credentials::digest(&refresh_token),
        expires_at,
    )
    .await?;
    audit::record(
        &mut *tx,
        AuditEvent::LoginSuccess,
        Some(user.tenant_id),
        Some(user.id),
        Some(&client.ip),
        json!({"session_id": session_id}),
    )
    .await?;
    tx.commit().await?;
    let access = issue_access_token(
        &state,
        user.id,
        user.tenant_id,
        &user.email,
        &user.roles,
        session_id,
    )?;
    Ok(no_store(Json(token_out(&state, access, refresh_token))))
}

fn token_out(state: &AppState, access_token: String, refresh_token: String) -> TokenOut {
    TokenOut {
        access_token,
        refresh_token,
        token_type: "bearer".to_owned(),
        expires_in: state.config.access_token_ttl_secs,
    }
}

/// Signs an access token for a user's session.
pub fn issue_access_token(
    state: &AppState,
    user_id: Uuid,
    tenant_id: Uuid,
    email: &str,
    roles: &[Role],
    session_id: Uuid,
) -> ApiResult<String> {
    let now = Utc::now().timestamp();
    Ok(state.keys.sign(&AccessClaims {
        sub: user_id,
        tenant_id,
        email: email.to_owned(),
        roles: roles.to_vec(),
        permissions: permissions::for_roles(roles),
        jti: Uuid::now_v7(),
        sid: session_id,
        iat: now,
        exp: now + state.config.access_token_ttl_secs,
        iss: ISSUER.to_owned(),
        token_type: TokenType::Access,
        client: None,
    })?)
}

/// Rotates a refresh token: returns a new access token and the successor refresh token.
/// Reusing a rotated token revokes the session, except inside the grace window where a
/// concurrent caller gets the same successor.
#[utoipa::path(post, path = "/auth/refresh", operation_id = "refresh", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = TokenOut), (status = 401, description = "invalid, expired, revoked or reused token")))]
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<RefreshIn>,
) -> ApiResult<Response> {
    let token = body.refresh_token.trim();
    if token.split('.').count() == 3 {
        return Err(ApiError::unauthorized(
            "an access token cannot be used as a refresh token",
        ));
    }
    if !token.starts_with(temponest_auth_client::REFRESH_TOKEN_PREFIX) {
        return Err(ApiError::unauthorized("invalid refresh token"));
    }
    let mut tx = state.pool.begin().await?;
    let Some(row) = sessions::lock_refresh_token(&mut tx, &credentials::digest(token)).await?
    else {
        return Err(ApiError::unauthorized("invalid refresh token"));
    };
    if row.session_revoked {
        return Err(ApiError::unauthorized(
            "the session was revoked; log in again",
        ));
    }
    if row.expires_at <= Utc::now() {
        return Err(ApiError::unauthorized(
            "refresh token expired; log in again",
        ));
    }
    if !row.user_active {
        return Err(ApiError::unauthorized("this account is disabled"));
    }
    let grace = chrono::Duration::seconds(state.config.refresh_reuse_grace_secs);
    let successor = match (row.rotated_at, row.successor_id) {
        (None, _) => {
            let id = Uuid::now_v7();
            let expires_at =
                Utc::now() + chrono::Duration::seconds(state.config.refresh_token_ttl_secs);
            let successor_token = credentials::refresh_token(&state.refresh_secret, id);
            sessions::insert_refresh_token(
                &mut tx,
                id,
                row.session_id,
                row.generation + 1,
                &credentials::digest(&successor_token),
                expires_at,
            )
            .await?;
            sessions::mark_rotated(&mut tx, row.id, id).await?;
            sessions::touch_session(&mut tx, row.session_id).await?;
            id
        }
        (Some(at), Some(next))
            if Utc::now() - at <= grace && sessions::is_head(&mut tx, next).await? =>
        {
            next
        }
        _ => {
            sessions::revoke(&mut tx, row.session_id, "refresh_token_reuse").await?;
            audit::record(
                &mut *tx,
                AuditEvent::RefreshReuse,
                Some(row.tenant_id),
                Some(row.user_id),
                Some(&client.ip),
                json!({"session_id": row.session_id, "generation": row.generation}),
            )
            .await?;
            tx.commit().await?;
            forget_session(&state, row.session_id).await;
            return Err(ApiError::unauthorized(
                "refresh token reuse detected; the session was revoked, log in again",
            ));
        }
    };
    tx.commit().await?;
    let access = issue_access_token(
        &state,
        row.user_id,
        row.tenant_id,
        &row.email,
        &row.roles,
        row.session_id,
    )?;
    Ok(no_store(Json(token_out(
        &state,
        access,
        credentials::refresh_token(&state.refresh_secret, successor),
    ))))
}

/// Revokes the caller's session: its refresh tokens and access tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 400, description = "called with an API key"), (status = 401),
              (status = 403, description = "called with a service token")))]
pub async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    principal: Principal,
) -> ApiResult<StatusCode> {
    principal.require_user("logging out")?;
    let PrincipalKind::User { session_id } = principal.kind else {
        return Err(ApiError::bad_request(
            "logout ends a login session; revoke API keys with DELETE /api-keys/{id}",
        ));
    };
    let mut tx = state.pool.begin().await?;
    if sessions::revoke(&mut tx, session_id, "logout").await? {
        let details = json!({"session_id": session_id});
        client
            .audit(&mut tx, &principal, AuditEvent::Logout, details)
            .await?;
    }
    tx.commit().await?;
    forget_session(&state, session_id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Drops the cached liveness of a revoked session on every replica, so its access tokens
/// stop working at once.
pub async fn forget_session(state: &AppState, session_id: Uuid) {
    state
        .cache
        .invalidate(
            &categories::JWT,
            &temponest_auth_client::session_cache_key(session_id),
        )
        .await;
}
