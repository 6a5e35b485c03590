//! API types: request bodies (`...In`), responses (`...Out`) and their validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_auth_client::permissions::{self, Permission, Role};
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::api_keys::ApiKeyRow;
use crate::db::users::{TenantRow, UserRow};
use crate::domain::email::Email;
use crate::domain::password;

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterIn {
    pub email: String,
    pub password: String,
    pub full_name: Option<String>,
    /// Name of the tenant to create; defaults to the user's name or email.
    pub tenant_name: Option<String>,
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

/// `POST /auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshIn {
    pub refresh_token: String,
}

/// Tokens issued by login and refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenOut {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    /// Same value as `id` (kept for SDK compatibility).
    pub user_id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub roles: Vec<Role>,
    pub permissions: Vec<Permission>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

temponest_web::from_row! { row: UserRow => UserOut {
    id, email, full_name, tenant_id, tenant_name, roles, is_active, created_at;
    user_id: row.id,
    permissions: permissions::for_roles(&row.roles),
} }

/// `POST /users`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserCreateIn {
    pub email: String,
    pub password: String,
    pub full_name: Option<String>,
    /// Roles to grant; defaults to `["viewer"]`.
    pub roles: Option<Vec<String>>,
    /// A single role (alternative to `roles`).
    pub role: Option<String>,
}

/// `PATCH /users/{id}`: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatch {
    pub roles: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub full_name: Option<String>,
}

/// `GET /tenants/current`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantOut {
    pub id: Uuid,
    pub name: String,
    pub is_active: bool,
    pub user_count: i64,
    pub created_at: DateTime<Utc>,
}

temponest_web::from_row! { row: TenantRow => TenantOut {
    id, name, is_active, user_count, created_at
} }

/// `POST /api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyIn {
    pub name: String,
    /// Permissions the key carries (a subset of the creator's); empty = all of the owner's.
    #[serde(default)]
    pub scopes: Vec<String>,
    pub expires_in_days: Option<i64>,
}

/// An API key as listed (never the secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: Uuid,
    pub name: String,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    pub scopes: Vec<Permission>,
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

temponest_web::from_row! { row: ApiKeyRow => ApiKeyOut {
    id, name, prefix, user_id, tenant_id, expires_at, last_used_at, created_at;
    scopes: permissions::permissions_from_names(&row.scopes),
} }

/// The create response: the listing fields plus the key, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreatedOut {
    #[serde(flatten)]
    pub key_info: ApiKeyOut,
    /// The full key. It is not stored and cannot be shown again.
    pub key: String,
}

/// Validated sign-up fields shared by register and admin user creation.
pub struct NewUser {
    pub email: Email,
    pub password: String,
    pub full_name: Option<String>,
}

fn clean_name(name: Option<&str>, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty())?;
    if name.chars().count() > 200 {
        errors.push(FieldError::new(field, "must be at most 200 characters"));
    }
    Some(name.to_owned())
}

/// Validates email, password and name, collecting every problem.
pub fn validate_new_user(
    email: &str,
    password: &str,
    full_name: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<NewUser> {
    let email = Email::parse(email)
        .map_err(|m| errors.push(FieldError::new("email", m.to_string())))
        .ok();
    if let Err(message) = password::validate(password) {
        errors.push(FieldError::new("password", message.to_string()));
    }
    let full_name = clean_name(full_name, "full_name", errors);
    Some(NewUser {
        email: email?,
        password: password.to_owned(),
        full_name,
    })
}

impl RegisterIn {
    /// Validated user and tenant name.
    pub fn validate(&self) -> Result<(NewUser, String), ApiError> {
        let mut errors = Vec::new();
        let user = validate_new_user(
            &self.email,
            &self.password,
            self.full_name.as_deref(),
            &mut errors,
        );
        let tenant = clean_name(self.tenant_name.as_deref(), "tenant_name", &mut errors);
        match user {
            Some(user) if errors.is_empty() => {
                let tenant = tenant
                    .or_else(|| user.full_name.clone())
                    .unwrap_or_else(|| user.email.as_str().to_owned());
                Ok((user, tenant))
            }
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// Checks role names; returns the roles de-duplicated in canonical order.
pub fn validate_roles(roles: &[String], field: &str) -> Result<Vec<Role>, ApiError> {
    if roles.is_empty() {
        return Err(ApiError::invalid_field(
            field,
            "at least one role is required",
        ));
    }
    if let Some(bad) = roles.iter().find(|r| Role::parse(r).is_none()) {
        return Err(ApiError::invalid_field(
            field,
            format!(
                "unknown role `{bad}` (expected one of: {})",
                permissions::ROLES
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(permissions::ROLES
        .iter()
        .copied()
        .filter(|r| roles.iter().any(|x| x == r.as_str()))
        .collect())
}

impl UserCreateIn {
    pub fn validate(&self) -> Result<(NewUser, Vec<Role>), ApiError> {
        let mut errors = Vec::new();
        let user = validate_new_user(
            &self.email,
            &self.password,
            self.full_name.as_deref(),
            &mut errors,
        );
        let requested: Vec<String> = match (&self.roles, &self.role) {
            (Some(roles), _) => roles.clone(),
            (None, Some(role)) => vec![role.clone()],
            (None, None) => vec!["viewer".to_owned()],
        };
        let roles = validate_roles(&requested, "roles")
            .map_err(|e| errors.extend(e.errors))
            .ok();
        match (user, roles) {
            (Some(user), Some(roles)) if errors.is_empty() => Ok((user, roles)),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// A validated key request.
#[derive(Debug)]
pub struct ValidApiKey {
    pub name: String,
    pub scopes: Vec<Permission>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApiKeyIn {
    /// Validates name, scopes (known, and held by the creator) and expiry.
    pub fn validate(&self, creator_permissions: &[Permission]) -> Result<ValidApiKey, ApiError> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.push(FieldError::new("name", "must not be blank"));
        } else if name.chars().count() > 100 {
            errors.push(FieldError::new("name", "must be at most 100 characters"));
        }
        let mut scopes = Vec::new();
        for (i, scope) in self.scopes.iter().enumerate() {
            match Permission::parse(scope) {
                None => errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    format!("unknown permission `{scope}`"),
                )),
                Some(permission) if !creator_permissions.contains(&permission) => {
                    errors.push(FieldError::new(
                        format!("scopes[{i}]"),
                        format!("you do not hold `{scope}`, so a key cannot carry it"),
                    ))
                }
                Some(permission) => scopes.push(permission),
            }
        }
        let expires_at = match self.expires_in_days {
            None => None,
            Some(days) if (1..=3650).contains(&days) => {
                Some(Utc::now() + chrono::Duration::days(days))
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "expires_in_days",
                    "must be between 1 and 3650",
                ));
                None
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        scopes.sort();
        scopes.dedup();
        Ok(ValidApiKey {
            name: name.to_owned(),
            scopes,
            expires_at,
        })
    }
}
