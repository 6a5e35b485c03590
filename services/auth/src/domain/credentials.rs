//! Opaque credentials: refresh tokens and API keys.
//!
//! A refresh token is `rt_` + base64url(id ‖ HMAC-SHA256(secret, id)). Only its SHA-256 is
//! stored; because the token is derived from its id, the service can hand the *same*
//! successor to concurrent refreshes inside the grace window without keeping plaintext.
//! An API key is `sk_` + base64url(32 random bytes); only its SHA-256 is stored (a fast hash
//! is right for high-entropy secrets).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use temponest_auth_client::{API_KEY_PREFIX, REFRESH_TOKEN_PREFIX};

/// SHA-256 of a credential, as stored.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The refresh token for `id` under `secret`.
pub fn refresh_token(secret: &[u8], id: Uuid) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut raw = Vec::with_capacity(16 + tag.len());
    raw.extend_from_slice(id.as_bytes());
    raw.extend_from_slice(&tag);
    format!("{REFRESH_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
}

/// A new API key and the prefix shown in listings.
pub fn new_api_key() -> (String, String) {
    let bytes: [u8; 32] = rand::rng().random();
    let key = format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = key.chars().take(API_KEY_PREFIX.len() + 6).collect();
    (key, prefix)
}

/// 32 random bytes for a server secret.
pub fn random_secret() -> [u8; 32] {
    rand::rng().random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_deterministic_per_id_and_secret() {
        let id = Uuid::now_v7();
        assert_eq!(refresh_token(b"k1", id), refresh_token(b"k1", id));
        assert_ne!(refresh_token(b"k1", id), refresh_token(b"k2", id));
        assert!(refresh_token(b"k1", id).starts_with("rt_"));
    }

    #[test]
    fn api_keys_carry_at_least_32_random_bytes() {
        let (key, prefix) = new_api_key();
        assert!(key.starts_with("sk_"));
        assert_eq!(URL_SAFE_NO_PAD.decode(&key[3..]).unwrap().len(), 32);
        assert!(key.starts_with(&prefix));
        assert_ne!(new_api_key().0, key);
    }
}
