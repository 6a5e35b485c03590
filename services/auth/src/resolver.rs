//! In-process introspection (API keys and session liveness) for this service's own routes,
//! `/auth/introspect` and, in the all-in-one binary, every mounted service.

use futures::future::BoxFuture;
use sqlx::PgPool;
use temponest_auth_client::permissions::{self, Permission, Role};
use temponest_auth_client::{Introspector, Principal, PrincipalKind};
use temponest_web::ApiError;

use crate::state::LastUsed;

/// Resolves keys against the database.
pub struct LocalResolver {
    pool: PgPool,
    last_used: LastUsed,
}

impl LocalResolver {
    pub fn new(pool: PgPool, last_used: LastUsed) -> Self {
        Self { pool, last_used }
    }
}

/// The key's effective permissions: its scopes intersected with what its owner may do now
/// (empty scopes = everything the owner may do).
pub fn effective_permissions(roles: &[Role], scopes: &[Permission]) -> Vec<Permission> {
    let owner = permissions::for_roles(roles);
    if scopes.is_empty() {
        owner
    } else {
        owner.into_iter().filter(|p| scopes.contains(p)).collect()
    }
}

impl Introspector for LocalResolver {
    fn resolve<'a>(
        &'a self,
        api_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, ApiError>> {
        Box::pin(async move {
            let hash = crate::domain::credentials::digest(api_key);
            let Some(row) = crate::db::api_keys::resolve(&self.pool, &hash).await? else {
                return Ok(None);
            };
            self.last_used.record(row.id);
            let roles = row.roles;
            let scopes = permissions::permissions_from_names(&row.scopes);
            Ok(Some(Principal {
                user_id: row.user_id,
                tenant_id: row.tenant_id,
                email: row.email,
                permissions: effective_permissions(&roles, &scopes),
                roles,
                kind: PrincipalKind::ApiKey { key_id: row.id },
            }))
        })
    }

    fn session_live<'a>(
        &'a self,
        session_id: uuid::Uuid,
        _access_token: &'a str,
    ) -> BoxFuture<'a, Result<bool, ApiError>> {
        Box::pin(async move { Ok(crate::db::sessions::is_live(&self.pool, session_id).await?) })
    }
}
