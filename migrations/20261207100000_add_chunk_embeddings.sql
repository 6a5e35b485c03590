-- The semantic leg of knowledge retrieval: each chunk's embedding, stored next to it so it is
-- written and dropped with the chunk in the same transaction. `embedding` is the vector as
-- little-endian f32 (crates/vectors `encode`); `embedding_identity` is
-- `provider/model@dims` (crates/embeddings `EmbeddingIdentity`), so vectors of another model
-- are never searched together. Both are null when no embedding provider is configured.
alter table knowledge.chunks
    add column embedding          bytea,
    add column embedding_identity text,
    add constraint chunks_embedding_identity_pair
        check ((embedding is null) = (embedding_identity is null));
