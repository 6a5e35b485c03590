//! Local verification of access tokens. Keys come from the auth service's JWKS, either pushed
//! in-process (all-in-one mode) or fetched over HTTP and refreshed in the background (and on
//! an unknown `kid`, at most every 10 s). Verified tokens are cached until they expire, so
//! repeated calls cost a hash lookup instead of a signature check.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::claims::{AccessClaims, ISSUER, TokenType};

/// One public key in a JSON Web Key Set (Ed25519 only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    /// Base64url public key.
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

impl Jwk {
    /// An Ed25519 signing key's public part.
    pub fn ed25519(kid: &str, x: String) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x,
            kid: kid.into(),
            alg: "EdDSA".into(),
            key_use: "sig".into(),
        }
    }
}

/// `GET /.well-known/jwks.json` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Why a token was refused. Every variant is a 401 for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed access token")]
    Malformed,
    #[error("access token signed with an unknown key")]
    UnknownKey,
    #[error("access token expired")]
    Expired,
    #[error("invalid access token")]
    Invalid,
    /// A token type this verifier does not accept (access and service tokens are accepted).
    #[error("token is not an access token")]
    WrongType,
}

/// Verifies access tokens locally. Cheap to clone.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: RwLock<HashMap<String, DecodingKey>>,
    verified: moka::sync::Cache<String, Arc<AccessClaims>>,
    validation: Validation,
    remote: Option<Remote>,
}

/// Minimum time between two reloads triggered by unknown key ids.
pub const ON_DEMAND_SPACING: Duration = Duration::from_secs(1);

/// Where a verifier gets its keys from: HTTP in a separate deployment, the database in the
/// auth service itself.
pub type JwksSource =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<Jwks, JwksError>> + Send + Sync>;

/// Why loading the key set failed (the previous keys stay in use).
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The HTTP fetch failed: unreachable, an error status, or an unreadable body.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// An in-process source failed (e.g. the auth service's own key store).
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync>),
}

struct Remote {
    fetch: JwksSource,
    /// Serialises fetches so concurrent callers do not stampede the source.
    fetching: tokio::sync::Mutex<()>,
    /// Last fetch triggered by an unknown `kid`; the lock also queues such fetches.
    last_on_demand: tokio::sync::Mutex<Option<Instant>>,
}

/// Per-entry expiry: a verified token is cached until its own `exp`.
struct UntilExp;

impl moka::Expiry<String, Arc<AccessClaims>> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<AccessClaims>,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        let left = value.exp - chrono::Utc::now().timestamp();
        Some(Duration::from_secs(left.max(0) as u64))
    }
}

impl Default for JwtVerifier {
    fn default() -> Self {
        Self::build(None)
    }
}

impl JwtVerifier {
    /// A verifier whose keys are pushed with [`JwtVerifier::set_jwks`] (in-process mode).
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier that fetches `jwks_url` now and then every 5 minutes in the background.
    pub fn remote(jwks_url: impl Into<String>, http: reqwest::Client) -> Self {
        let url: Arc<str> = jwks_url.into().into();
        let fetch: JwksSource = Arc::new(move || {
            let (url, http) = (Arc::clone(&url), http.clone());
            Box::pin(async move {
                http.get(&*url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())?
                    .json::<Jwks>()
                    .await
                    .map_err(JwksError::from)
            })
        });
        Self::with_source(fetch, Duration::from_secs(300))
    }

    /// A verifier that loads keys from `source` now, every `every`, and when a token names
    /// an unknown key (at most every 10 s).
    pub fn with_source(source: JwksSource, every: Duration) -> Self {
        let verifier = Self::build(Some(Remote {
            fetch: source,
            fetching: tokio::sync::Mutex::new(()),
            last_on_demand: tokio::sync::Mutex::new(None),
        }));
        let weak = Arc::downgrade(&verifier.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let verifier = JwtVerifier { inner };
                if let Err(err) = verifier.reload().await {
                    tracing::warn!(error = %err, "JWKS refresh failed; keeping the previous keys");
                }
            }
        });
        verifier
    }

    fn build(remote: Option<Remote>) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.leeway = 5;
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(HashMap::new()),
                verified: moka::sync::Cache::builder()
                    .max_capacity(200_000)
                    .expire_after(UntilExp)
                    .build(),
                validation,
                remote,
            }),
        }
    }

    /// Replaces the key set.
    pub fn set_jwks(&self, jwks: &Jwks) {
        let keys = jwks
            .keys
            .iter()
            .filter(|k| k.kty == "OKP" && k.crv == "Ed25519")
            .filter_map(|k| {
                DecodingKey::from_ed_components(&k.x)
                    .ok()
                    .map(|d| (k.kid.clone(), d))
            })
            .collect::<HashMap<_, _>>();
        let mut current = self.inner.keys.write().expect("key lock poisoned");
        // A key that disappeared was withdrawn: tokens it verified must be checked again.
        if current.keys().any(|kid| !keys.contains_key(kid)) {
            self.inner.verified.invalidate_all();
        }
        *current = keys;
    }

    /// Reloads keys from the source now (e.g. right after a rotation).
    pub async fn reload(&self) -> Result<(), JwksError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(());
        };
        let _one_at_a_time = remote.fetching.lock().await;
        let jwks = (remote.fetch)().await?;
        self.set_jwks(&jwks);
        Ok(())
    }

    /// Reloads because a token named an unknown key. Such reloads are coalesced and spaced
    /// at least [`ON_DEMAND_SPACING`] apart: a caller arriving too soon waits for the next
    /// slot (instead of being refused), and callers that waited while someone else reloaded
    /// use that result. Tokens with made-up key ids therefore cost at most one fetch per slot.
    async fn reload_for_unknown_key(&self) {
        let Some(remote) = &self.inner.remote else {
            return;
        };
        let arrived = Instant::now();
        let mut last = remote.last_on_demand.lock().await;
        if let Some(previous) = *last {
            if previous > arrived {
                return;
            }
            let wait = (previous + ON_DEMAND_SPACING).saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        *last = Some(Instant::now());
        if let Err(err) = self.reload().await {
            tracing::warn!(error = %err, "JWKS reload for an unknown key failed");
        }
    }

    /// Verifies signature, issuer, expiry and token type (access or service token; callers
    /// decide what each type may do).
    pub async fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, VerifyError> {
        if let Some(claims) = self.inner.verified.get(token) {
            // moka expiry is approximate; the claim is authoritative.
            if claims.exp >= chrono::Utc::now().timestamp() {
                return Ok(claims);
            }
            return Err(VerifyError::Expired);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.ok_or(VerifyError::Invalid)?;
        if self.key(&kid).is_none() {
            // A rotation may have published a key we have not seen yet.
            self.reload_for_unknown_key().await;
        }
        let key = self.key(&kid).ok_or(VerifyError::UnknownKey)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.inner.validation)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => VerifyError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidToken
                | jsonwebtoken::errors::ErrorKind::Base64(_)
                | jsonwebtoken::errors::ErrorKind::Json(_)
                | jsonwebtoken::errors::ErrorKind::Utf8(_) => VerifyError::Malformed,
                _ => VerifyError::Invalid,
            })?;
        if !matches!(
            data.claims.token_type,
            TokenType::Access | TokenType::Service
        ) {
            return Err(VerifyError::WrongType);
        }
        let claims = Arc::new(data.claims);
        self.inner
            .verified
            .insert(token.to_owned(), Arc::clone(&claims));
        Ok(claims)
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.inner
            .keys
            .read()
            .expect("key lock poisoned")
            .get(kid)
            .cloned()
    }
}
