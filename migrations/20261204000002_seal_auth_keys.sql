-- JWT signing keys and server secrets sealed at rest under the operator key
-- (TEMPONEST_SECRET_KEY): `sealed` says whether the stored bytes are nonce || ciphertext || tag
-- (ChaCha20-Poly1305, associated data = the row's kid or name) or the raw value (no key was
-- configured when the row was written; such rows are sealed at the next start with a key).
alter table auth.signing_keys add column sealed boolean not null default false;
alter table auth.secrets add column sealed boolean not null default false;
