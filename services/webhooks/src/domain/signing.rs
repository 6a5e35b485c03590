//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one `v1,...` entry per
//! secret that is still valid (several during a secret rotation), space-separated. Secrets are
//! shown to users as `whsec_<base64>`; the HMAC key is the decoded bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Prefix of a secret as users see it.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new random signing secret (32 bytes).
pub fn new_secret() -> Vec<u8> {
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.to_vec()
}

/// `whsec_<base64>`, the form users configure their verifier with.
pub fn render_secret(secret: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(secret))
}

/// Why a user-supplied secret is refused (the message is the API's field error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must be whsec_ followed by base64")]
    NotBase64,
    #[error("must decode to 24 to 64 bytes")]
    WrongLength,
}

/// Decodes a user-supplied `whsec_<base64>` secret (24 to 64 bytes).
pub fn parse_secret(text: &str) -> Result<Vec<u8>, SecretError> {
    let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| SecretError::NotBase64)?;
    if !(24..=64).contains(&bytes.len()) {
        return Err(SecretError::WrongLength);
    }
    Ok(bytes)
}

/// The `webhook-signature` header value for `body`, signed with every secret given.
pub fn signature_header(secrets: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| format!("v1,{}", sign(secret, id, timestamp, body)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// base64(HMAC-SHA256(secret, "id.timestamp.body")).
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks reference implementations' test suite.
        let secret = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_valid_secret_signs_during_a_rotation() {
        let (a, b) = (new_secret(), new_secret());
        let header = signature_header(&[a.clone(), b.clone()], "id", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], format!("v1,{}", sign(&a, "id", 1, b"{}")));
        assert_eq!(parts[1], format!("v1,{}", sign(&b, "id", 1, b"{}")));
        assert_eq!(parse_secret(&render_secret(&a)).unwrap(), a);
        assert_eq!(parse_secret("whsec_short"), Err(SecretError::NotBase64));
        assert_eq!(
            parse_secret("whsec_c2hvcnQ="),
            Err(SecretError::WrongLength)
        );
    }
}
