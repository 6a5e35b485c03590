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
use crate::domain::email::{Email, EmailError};
use crate::domain::password::{self, PasswordHasher, PasswordRuleError};
use crate::models::validate_roles;

/// Why an operator action was refused or failed. The messages are what the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("tenant name must not be blank")]
    BlankTenantName,
    #[error("email {0}")]
    Email(#[from] EmailError),
    #[error("password {0}")]
    Password(#[from] PasswordRuleError),
    /// Refused by the same rule the API applies (role names, a taken email, ...).
    #[error("{}", .0.detail)]
    Refused(#[from] temponest_web::ApiError),
    #[error("password {0}")]
    Hashing(#[from] crate::domain::password::HashError),
    #[error("no user with that email")]
    NoSuchUser,
    #[error("unknown scopes: {0:?}")]
    UnknownScopes(Vec<String>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates an empty tenant and returns its id.
pub async fn create_tenant(pool: &PgPool, name: &str) -> Result<Uuid, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::BlankTenantName);
    }
    let id = Uuid::now_v7();
    let mut conn = pool.acquire().await?;
    users::insert_tenant(&mut conn, id, name).await?;
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
) -> Result<Uuid, AdminError> {
    let email = Email::parse(email)?;
    password::validate(password)?;
    let roles = validate_roles(roles, "role")?;
    let hash = hasher.hash(password.to_owned()).await?;
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    // A taken email is the API's 409 message.
    users::insert(&mut tx, id, tenant_id, email.as_str(), None, &hash, &roles)
        .await
        .map_err(temponest_web::ApiError::from)?;
    audit::record(
        &mut *tx,
        AuditEvent::UserCreated,
        Some(tenant_id),
        None,
        None,
        json!({"target_user_id": id, "roles": roles, "via": "cli"}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Creates an API key for the user with this email; returns the key (shown once).
pub async fn create_api_key(
    pool: &PgPool,
    email: &str,
    name: &str,
    scopes: &[String],
) -> Result<String, AdminError> {
    let email = Email::parse(email)?;
    let user = users::find_for_login(pool, email.as_str())
        .await?
        .ok_or(AdminError::NoSuchUser)?;
    let unknown: Vec<String> = scopes
        .iter()
        .filter(|s| Permission::parse(s).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(AdminError::UnknownScopes(unknown));
    }
    let scopes = temponest_auth_client::permissions::permissions_from_names(scopes);
    let (key, prefix) = credentials::new_api_key();
    let mut tx = pool.begin().await?;
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
    .map_err(temponest_web::ApiError::from)?;
    audit::record(
        &mut *tx,
        AuditEvent::ApiKeyCreated,
        Some(user.tenant_id),
        Some(user.id),
        None,
        json!({"api_key_id": row.id, "via": "cli"}),
    )
    .await?;
    tx.commit().await?;
    Ok(key)
}
