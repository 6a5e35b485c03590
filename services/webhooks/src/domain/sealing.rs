//! Signing secrets at rest ([`temponest_sealing`]). With `webhooks.secret_key` (`TEMPONEST_WEBHOOKS__SECRET_KEY`,
//! base64 of 32 random bytes) set, every secret written is sealed with ChaCha20-Poly1305 under
//! that key, with a random nonce and the endpoint id as associated data (a sealed secret copied
//! to another endpoint's row does not open). A database dump or a read replica then holds no
//! usable signing secret. Rows written without a key (`sealed = false`) stay readable, so a key
//! can be introduced on a running system; the next rotation of each endpoint seals its secret.

//! After a key rotation (`TEMPONEST_WEBHOOKS__PREVIOUS_SECRET_KEY` = the old key), secrets
//! sealed under the old key still open, and each is re-sealed under the new key when its
//! endpoint's secret is next rotated. The endpoint id is the associated data.

pub use temponest_sealing::Sealer;

use temponest_sealing::KeyError;

use crate::config::DeliveryConfig;

/// The configured sealing keys are unusable; the message names the settings.
#[derive(Debug, thiserror::Error)]
#[error("TEMPONEST_WEBHOOKS__SECRET_KEY / TEMPONEST_WEBHOOKS__PREVIOUS_SECRET_KEY: {0}")]
pub struct SealingKeyError(#[from] KeyError);

/// The sealer the configuration describes.
pub fn from_config(config: &DeliveryConfig) -> Result<Sealer, SealingKeyError> {
    Ok(Sealer::new(
        config.secret_key.expose(),
        config.previous_secret_key.expose(),
    )?)
}
