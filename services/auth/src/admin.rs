//! Operator actions behind `temponest admin ...`: the same rules as the API (validation,
//! hashing, audit), without an HTTP caller.

use serde_json::json;
use sqlx::PgPool;
use temponest_auth_client::permissions::Permission;
use uuid::Uuid;

use crate::db::api_keys::{self, NewApiKey};
use crate::db::audit::{self, AuditEvent};
use crate::db::users;
use crate::domain::credentials;
use crate::domain::email::Email;
use crate::domain::password::{self, PasswordHasher};
use crate::models::validate_roles;

/// Creates an empty tenant and returns its id.
pub async fn create_tenant(pool: &PgPool, name: &str) -> Result<Uuid, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("tenant name must not be blank".into());
    }
    let id = Uuid::now_v7();
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    users::insert_tenant(&mut conn, id, name)
        .await
        .map_err(|e| e.to_string())?;
    Ok(id)
}

/// Creates a user with roles in a tenant and returns its id.
pub async fn create_user(
    pool: &PgPool,
    hasher: &PasswordHasher,
    tenant_id: Uuid,
    email: &str,
    password: &str,
    roles: &[String],
) -> Result<Uuid, String> {
    let email = Email::parse(email).map_err(|m| format!("email {m}"))?;
    password::validate(password).map_err(|m| format!("password {m}"))?;
    let roles = validate_roles(roles, "role").map_err(|e| e.detail)?;
    let hash = hasher
        .hash(password.to_owned())
        .await
        .map_err(|e| e.detail)?;
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    users::insert(&mut tx, id, tenant_id, email.as_str(), None, &hash, &roles)
        .await
        .map_err(|e| temponest_web::ApiError::from(e).detail)?;
    audit::record(
        &mut *tx,
        AuditEvent::UserCreated,
        Some(tenant_id),
        None,
        None,
        json!({"target_user_id": id, "roles": roles, "via": "cli"}),
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(id)
}

/// Creates an API key for the user with this email; returns the key (shown once).
pub async fn create_api_key(
    pool: &PgPool,
    email: &str,
    name: &str,
    scopes: &[String],
) -> Result<String, String> {
    let email = Email::parse(email).map_err(|m| format!("email {m}"))?;
    let user = users::find_for_login(pool, email.as_str())
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no user with that email")?;
    let unknown: Vec<_> = scopes
        .iter()
        .filter(|s| Permission::parse(s).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(format!("unknown scopes: {unknown:?}"));
    }
    let scopes = temponest_auth_client::permissions::permissions_from_names(scopes);
    let (key, prefix) = credentials::new_api_key();
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    let row = api_keys::insert(
        &mut tx,
        NewApiKey {
            id: Uuid::now_v7(),
            tenant_id: user.tenant_id,
            user_id: user.id,
            name,
            prefix: &prefix,
            key_hash: &credentials::digest(&key),
            scopes: &scopes,
            expires_at: None,
        },
    )
    .await
    .map_err(|e| temponest_web::ApiError::from(e).detail)?;
    audit::record(
        &mut *tx,
        AuditEvent::ApiKeyCreated,
        Some(user.tenant_id),
        Some(user.id),
        None,
        json!({"api_key_id": row.id, "via": "cli"}),
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(key)
}
