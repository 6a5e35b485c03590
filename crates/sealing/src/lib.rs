//! Secrets at rest: values the platform must keep usable (webhook signing secrets, JWT signing
//! keys, the refresh-token key) are stored sealed with ChaCha20-Poly1305 under an operator key
//! (base64 of 32 random bytes), with a random nonce and the owning row's identity as
//! associated data, so a sealed value copied to another row does not open. A database dump or
//! a read replica then holds nothing usable.
//!
//! Key rotation: configure the new key as current and the old one as previous. Values sealed
//! under either open; [`Opened::by_current`] tells the caller to re-seal under the current key
//! (services do that at start-up), after which the previous key can be dropped.
//!
//! Without a key, values pass through unsealed (callers record that per row and warn at
//! start-up), so a key can be introduced on a running system.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Key material from configuration (serde-transparent text): never printed.
pub use temponest_secrets::Secret as KeyText;

/// Why a configured key is unusable (never containing the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("must be base64 (e.g. `openssl rand -base64 32`)")]
    NotBase64,
    #[error("must decode to 32 bytes, not {0}")]
    WrongLength(usize),
    #[error("a previous key is set without a current key")]
    PreviousWithoutCurrent,
}

/// Sealing failed (the system has no randomness for a nonce).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sealing failed: {0}")]
pub struct SealError(&'static str);

/// A value opened from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub value: Vec<u8>,
    /// False when it was unsealed or sealed under the previous key: re-seal it.
    pub by_current: bool,
}

/// Seals and opens values (or passes them through when no key is configured).
pub struct Sealer {
    current: Option<LessSafeKey>,
    previous: Option<LessSafeKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("sealing", &self.current.is_some())
            .field("previous_key", &self.previous.is_some())
            .finish()
    }
}

fn parse_key(text: &str) -> Result<Option<LessSafeKey>, KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bytes = STANDARD.decode(text).map_err(|_| KeyError::NotBase64)?;
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
        .map_err(|_| KeyError::WrongLength(bytes.len()))?;
    Ok(Some(LessSafeKey::new(unbound)))
}

impl Sealer {
    /// From the configured key texts (empty: none).
    pub fn new(current: &str, previous: &str) -> Result<Self, KeyError> {
        let current = parse_key(current)?;
        let previous = parse_key(previous)?;
        if current.is_none() && previous.is_some() {
            return Err(KeyError::PreviousWithoutCurrent);
        }
        Ok(Self {
            current,
            previous,
            rng: SystemRandom::new(),
        })
    }

    /// Whether values written now are sealed.
    pub fn seals(&self) -> bool {
        self.current.is_some()
    }

    /// What to store for `value` belonging to the row identified by `owner`, and whether it is
    /// sealed (`nonce || ciphertext || tag`).
    pub fn store(&self, owner: &[u8], value: &[u8]) -> Result<(Vec<u8>, bool), SealError> {
        let Some(key) = &self.current else {
            return Ok((value.to_vec(), false));
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SealError("no randomness for a nonce"))?;
        let mut sealed = value.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(owner),
            &mut sealed,
        )
        .map_err(|_| SealError("the cipher refused the value"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok((stored, true))
    }

    /// The value from what was stored; `None` if it is sealed and cannot be opened here (no
    /// key, another key, another owner, or tampered with).
    pub fn open(&self, owner: &[u8], stored: &[u8], sealed: bool) -> Option<Opened> {
        if !sealed {
            return Some(Opened {
                value: stored.to_vec(),
                by_current: false,
            });
        }
        if stored.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        let attempt = |key: &LessSafeKey| {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut buffer = ciphertext.to_vec();
            let opened = key
                .open_in_place(nonce, Aad::from(owner), &mut buffer)
                .ok()?;
            Some(opened.to_vec())
        };
        if let Some(value) = self.current.as_ref().and_then(attempt) {
            return Some(Opened {
                value,
                by_current: true,
            });
        }
        self.previous
            .as_ref()
            .and_then(attempt)
            .map(|value| Opened {
                value,
                by_current: false,
            })
    }

    /// [`Sealer::open`], the value only.
    pub fn reveal(&self, owner: &[u8], stored: &[u8], sealed: bool) -> Option<Vec<u8>> {
        self.open(owner, stored, sealed).map(|o| o.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    const SECRET: &[u8] = b"a value that must stay secret...";

    #[test]
    fn sealed_values_open_only_with_the_key_for_the_same_owner() {
        let sealer = Sealer::new(&key(7), "").unwrap();
        let (a, b) = (b"owner-a".as_slice(), b"owner-b".as_slice());
        let (stored, sealed) = sealer.store(a, SECRET).unwrap();
        assert!(sealed);
        assert!(!stored.windows(SECRET.len()).any(|w| w == SECRET));
        assert_eq!(sealer.reveal(a, &stored, true).unwrap(), SECRET);
        assert_eq!(sealer.reveal(b, &stored, true), None, "bound to its owner");
        let other = Sealer::new(&key(8), "").unwrap();
        assert_eq!(other.reveal(a, &stored, true), None, "another key");
        assert_eq!(
            Sealer::new("", "").unwrap().reveal(a, &stored, true),
            None,
            "no key"
        );
        let mut tampered = stored.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.reveal(a, &tampered, true), None, "tampered");
        assert_ne!(sealer.store(a, SECRET).unwrap().0, stored, "random nonces");
    }

    #[test]
    fn after_a_key_rotation_old_values_open_and_ask_to_be_resealed() {
        let old = Sealer::new(&key(1), "").unwrap();
        let (stored, _) = old.store(b"o", SECRET).unwrap();
        let rotated = Sealer::new(&key(2), &key(1)).unwrap();
        let opened = rotated.open(b"o", &stored, true).unwrap();
        assert_eq!(opened.value, SECRET);
        assert!(!opened.by_current, "sealed under the previous key");
        let (resealed, _) = rotated.store(b"o", &opened.value).unwrap();
        assert!(rotated.open(b"o", &resealed, true).unwrap().by_current);
        assert_eq!(
            Sealer::new(&key(2), "")
                .unwrap()
                .reveal(b"o", &stored, true),
            None
        );
    }

    #[test]
    fn without_a_key_values_pass_through_and_unsealed_rows_stay_readable() {
        let plain = Sealer::new("  ", "").unwrap();
        assert!(!plain.seals());
        assert_eq!(plain.store(b"o", b"abc").unwrap(), (b"abc".to_vec(), false));
        let keyed = Sealer::new(&key(7), "").unwrap();
        let opened = keyed.open(b"o", b"abc", false).unwrap();
        assert_eq!(
            (opened.value.as_slice(), opened.by_current),
            (&b"abc"[..], false)
        );
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        assert_eq!(
            Sealer::new("not base64!", "").unwrap_err(),
            KeyError::NotBase64
        );
        assert_eq!(
            Sealer::new(&STANDARD.encode([1u8; 16]), "").unwrap_err(),
            KeyError::WrongLength(16)
        );
        assert_eq!(
            Sealer::new("", &key(1)).unwrap_err(),
            KeyError::PreviousWithoutCurrent
        );
        assert!(!format!("{:?}", Sealer::new(&key(3), "").unwrap()).contains(&key(3)));
    }
}
