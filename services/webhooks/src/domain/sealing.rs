//! Signing secrets at rest. With `webhooks.secret_key` (`TEMPONEST_WEBHOOKS__SECRET_KEY`,
//! base64 of 32 random bytes) set, every secret written is sealed with ChaCha20-Poly1305 under
//! that key, with a random nonce and the endpoint id as associated data (a sealed secret copied
//! to another endpoint's row does not open). A database dump or a read replica then holds no
//! usable signing secret. Rows written without a key (`sealed = false`) stay readable, so a key
//! can be introduced on a running system; the next rotation of each endpoint seals its secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

/// Seals and opens signing secrets (or passes them through when no key is configured).
pub struct Sealer {
    key: Option<LessSafeKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("sealing", &self.key.is_some())
            .finish()
    }
}

impl Sealer {
    /// From the configured key text (empty: secrets are stored as they are).
    pub fn new(key: &str) -> Result<Self, String> {
        let key = key.trim();
        let key = if key.is_empty() {
            None
        } else {
            let bytes = STANDARD
                .decode(key)
                .map_err(|_| "must be base64 (e.g. `openssl rand -base64 32`)".to_owned())?;
            let unbound = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
                .map_err(|_| format!("must decode to 32 bytes, not {}", bytes.len()))?;
            Some(LessSafeKey::new(unbound))
        };
        Ok(Self {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// Whether secrets written now are sealed.
    pub fn seals(&self) -> bool {
        self.key.is_some()
    }

    /// What to store for `secret` of `endpoint_id`, and whether it is sealed
    /// (`nonce || ciphertext || tag`).
    pub fn store(&self, endpoint_id: Uuid, secret: &[u8]) -> Result<(Vec<u8>, bool), String> {
        let Some(key) = &self.key else {
            return Ok((secret.to_vec(), false));
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| "no randomness for a nonce".to_owned())?;
        let mut sealed = secret.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(endpoint_id.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| "sealing failed".to_owned())?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok((stored, true))
    }

    /// The secret from what was stored; `None` if it is sealed and cannot be opened here (no
    /// key, another key, or not this endpoint's).
    pub fn reveal(&self, endpoint_id: Uuid, stored: &[u8], sealed: bool) -> Option<Vec<u8>> {
        if !sealed {
            return Some(stored.to_vec());
        }
        let key = self.key.as_ref()?;
        if stored.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = sealed.to_vec();
        let opened = key
            .open_in_place(nonce, Aad::from(endpoint_id.as_bytes()), &mut buffer)
            .ok()?;
        Some(opened.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        STANDARD.encode([7u8; 32])
    }

    #[test]
    fn sealed_secrets_open_only_with_the_key_for_the_same_endpoint() {
        let sealer = Sealer::new(&key()).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let secret = b"0123456789abcdef0123456789abcdef";
        let (stored, sealed) = sealer.store(a, secret).unwrap();
        assert!(sealed);
        assert_ne!(&stored[..], &secret[..]);
        assert!(!stored.windows(secret.len()).any(|w| w == secret));
        assert_eq!(sealer.reveal(a, &stored, true).unwrap(), secret);
        assert_eq!(
            sealer.reveal(b, &stored, true),
            None,
            "bound to its endpoint"
        );
        let other = Sealer::new(&STANDARD.encode([8u8; 32])).unwrap();
        assert_eq!(other.reveal(a, &stored, true), None, "another key");
        assert_eq!(
            Sealer::new("").unwrap().reveal(a, &stored, true),
            None,
            "no key"
        );
        let mut tampered = stored.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.reveal(a, &tampered, true), None, "tampered");
        // Two seals of one secret differ (random nonces).
        assert_ne!(sealer.store(a, secret).unwrap().0, stored);
    }

    #[test]
    fn without_a_key_secrets_pass_through_and_old_rows_stay_readable() {
        let plain = Sealer::new("  ").unwrap();
        assert!(!plain.seals());
        let id = Uuid::new_v4();
        assert_eq!(plain.store(id, b"abc").unwrap(), (b"abc".to_vec(), false));
        let keyed = Sealer::new(&key()).unwrap();
        assert_eq!(keyed.reveal(id, b"abc", false).unwrap(), b"abc");
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        assert!(Sealer::new("not base64!").unwrap_err().contains("base64"));
        assert!(
            Sealer::new(&STANDARD.encode([1u8; 16]))
                .unwrap_err()
                .contains("32 bytes")
        );
    }
}
