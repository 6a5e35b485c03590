//! Cost of verifying an access token in process (SPEC §10 "token validation": < 0.1 ms,
//! verified tokens cached until expiry).
//!
//! - `verify/cached`: the same token again and again — the verified-token cache hit path.
//! - `verify/uncached`: a verifier that has never seen the token, so the EdDSA signature check,
//!   claim validation and the cache insert all run (the verifier is built outside the timing).
//! - `verify/jsonwebtoken_decode`: `jsonwebtoken::decode` alone, the signature-check share.
//! - `runtime/block_on_ready`: what `Runtime::block_on` adds around a future that is ready at
//!   once; `verify` never awaits for a known key, so this overhead is in both `verify/*` figures.
//!
//! Run with `cargo bench -p temponest-auth-client --bench verify`.

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use temponest_auth_client::JwtVerifier;
use temponest_auth_client::claims::{AccessClaims, ISSUER, TokenType};
use temponest_auth_client::jwks::{Jwk, Jwks};
use temponest_auth_client::permissions;
use uuid::Uuid;

/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const SEED: [u8; 32] = [7; 32];
const KID: &str = "bench-key";

/// A signing key and the matching JWKS, from a fixed seed.
fn key_pair() -> (EncodingKey, Jwks) {
    let public = ed25519_dalek::SigningKey::from_bytes(&SEED)
        .verifying_key()
        .to_bytes();
    let mut der = PKCS8_ED25519_PREFIX.to_vec();
    der.extend_from_slice(&SEED);
    let jwks = Jwks {
        keys: vec![Jwk::ed25519(KID, URL_SAFE_NO_PAD.encode(public))],
    };
    (EncodingKey::from_ed_der(&der), jwks)
}

/// A realistic access token: an hour to live, a few roles and permissions.
fn access_token(key: &EncodingKey) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = AccessClaims {
        sub: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        email: "bench@example.test".into(),
        roles: vec![permissions::Role::Developer],
        permissions: vec![
            permissions::AGENTS_READ,
            permissions::AGENTS_WRITE,
            permissions::SCHEDULES_READ,
        ],
        jti: Uuid::new_v4(),
        sid: Uuid::new_v4(),
        iat: now,
        exp: now + 3600,
        iss: ISSUER.into(),
        token_type: TokenType::Access,
        client: None,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, &claims, key).expect("sign bench token")
}

fn verifier(jwks: &Jwks) -> JwtVerifier {
    let verifier = JwtVerifier::new();
    verifier.set_jwks(jwks);
    verifier
}

fn bench_verify(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let (key, jwks) = key_pair();
    let token = access_token(&key);

    // Sanity: the token verifies, so the benches measure the success path.
    let warm = verifier(&jwks);
    rt.block_on(warm.verify(&token))
        .expect("bench token verifies");

    let mut group = c.benchmark_group("verify");
    group.bench_function("cached", |b| {
        b.iter(|| {
            rt.block_on(warm.verify(black_box(&token)))
                .expect("cached verify")
        })
    });
    group.bench_function("uncached", |b| {
        b.iter_batched_ref(
            || verifier(&jwks),
            |fresh| {
                rt.block_on(fresh.verify(black_box(&token)))
                    .expect("uncached verify")
            },
            BatchSize::SmallInput,
        )
    });
    let decoding = DecodingKey::from_ed_components(&jwks.keys[0].x).expect("decoding key");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<AccessClaims>(black_box(&token), &decoding, &validation)
                .expect("decode")
        })
    });
    group.finish();

    c.bench_function("runtime/block_on_ready", |b| {
        b.iter(|| rt.block_on(async { black_box(1) }))
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
