//! What services use to authenticate callers: local verification of EdDSA access tokens
//! against the auth service's JWKS (refreshed in the background, verified tokens cached until
//! expiry), API-key introspection through the auth service (cached 30 s in the two-tier cache
//! and invalidated on revocation), an identification middleware and the [`Principal`]
//! extractor with permission checks; and [`ServiceTokens`], with which internal callers obtain
//! short-lived service tokens for a tenant, and [`Peer`], how they call each other.

#![recursion_limit = "256"]

pub mod claims;
pub mod client;
pub mod introspect;
pub mod jwks;
pub mod listing;
pub mod peer;
pub mod permissions;
pub mod principal;
pub mod secret_strength;
pub mod service;

pub use claims::{AccessClaims, TokenType};
pub use client::{
    AuthClient, Protect, ProtectLayer, RemoteClientError, identify, protect, session_cache_key,
};
pub use introspect::{Introspector, RemoteIntrospection, api_key_cache_key};
pub use jwks::{JwksError, JwtVerifier, VerifyError};
pub use listing::{ListRequest, NoFilter};
pub use peer::{Peer, PeerClient, PeerError};
pub use principal::{Principal, PrincipalKind};
pub use service::{ServiceCallError, ServiceTokenError, ServiceTokens};

/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "sk_";
/// Prefix of every refresh token (opaque, never a JWT).
pub const REFRESH_TOKEN_PREFIX: &str = "rt_";
