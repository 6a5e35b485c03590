//! Token claims (SPEC §3): user access tokens and the short-lived service tokens that
//! internal callers obtain at `POST /auth/service-token`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::permissions::{Permission, Role};

/// The `type` claim separates access tokens from anything else a signing key might sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// A user's access token, bound to a login session.
    Access,
    /// A service identity acting for one tenant (no session; see [`AccessClaims::client`]).
    Service,
}

/// Claims of an access token or a service token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// User id (for a service token, the client's fixed subject, see
    /// [`crate::service::service_subject`]).
    pub sub: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    #[serde(deserialize_with = "crate::permissions::known")]
    pub roles: Vec<Role>,
    #[serde(deserialize_with = "crate::permissions::known")]
    pub permissions: Vec<Permission>,
    pub jti: Uuid,
    /// Session (refresh-token family) the token was issued for; nil for a service token.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// The service client a service token was issued to; `None` for access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// The issuer every TempoNest token carries.
pub const ISSUER: &str = "temponest-auth";
