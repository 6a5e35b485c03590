//! The authenticated caller, as handlers see it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use temponest_web::ApiError;
use uuid::Uuid;

use crate::permissions::{Permission, Role};

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A user with an access token from a login session.
    User { session_id: Uuid },
    /// An API key acting with its scopes for the user who created it.
    ApiKey { key_id: Uuid },
    /// An internal service acting for one tenant with a service token; `user_id` is the
    /// client's fixed subject, not a user.
    Service { client: String },
}

/// An authenticated caller with tenant scope, roles and permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Principal {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    #[serde(deserialize_with = "crate::permissions::known")]
    pub roles: Vec<Role>,
    #[serde(deserialize_with = "crate::permissions::known")]
    pub permissions: Vec<Permission>,
    pub kind: PrincipalKind,
}

impl Principal {
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// 403 unless the caller holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.has_permission(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "missing permission `{permission}`"
            )))
        }
    }

    /// 403 for a service identity: `action` (e.g. "creating API keys") needs a user or one
    /// of their API keys.
    pub fn require_user(&self, action: &str) -> Result<(), ApiError> {
        match &self.kind {
            PrincipalKind::Service { client } => Err(ApiError::forbidden(format!(
                "{action} is not available to service identities (`{client}` acts for a tenant, not a user)"
            ))),
            PrincipalKind::User { .. } | PrincipalKind::ApiKey { .. } => Ok(()),
        }
    }

    /// The rate-limiting identity of this caller (a service is keyed by its subject within
    /// the tenant it acts for).
    pub fn client_identity(&self) -> temponest_ratelimit::ClientIdentity {
        temponest_ratelimit::ClientIdentity {
            user_id: Some(self.user_id.to_string()),
            api_key_id: match &self.kind {
                PrincipalKind::ApiKey { key_id } => Some(key_id.to_string()),
                PrincipalKind::User { .. } | PrincipalKind::Service { .. } => None,
            },
            tenant_id: Some(self.tenant_id.to_string()),
            internal: matches!(self.kind, PrincipalKind::Service { .. }),
        }
    }
}

/// Why the identification middleware could not authenticate the credentials it was given.
#[derive(Debug, Clone)]
pub struct AuthFailure(pub ApiError);

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        if let Some(AuthFailure(err)) = parts.extensions.get::<AuthFailure>() {
            return Err(err.clone());
        }
        Err(ApiError::unauthorized(
            "authentication required: send `Authorization: Bearer <token or API key>` or `X-API-Key`",
        ))
    }
}
