//! Access-token claims (SPEC §3).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `type` claim separates access tokens from anything else a signing key might sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    Service,
}

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// User id.
    pub sub: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub jti: Uuid,
    /// Session (refresh-token family) the token was issued for.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
}

/// The issuer every TempoNest token carries.
pub const ISSUER: &str = "temponest-auth";
