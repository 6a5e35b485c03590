//! The knowledge service's domain logic: document formats, metadata, chunking, the
//! ingestion engine, retrieval (lexical, and hybrid with the semantic leg) and the vector
//! indexes.

pub mod chunking;
pub mod formats;
pub mod html;
pub mod hybrid;
pub mod ingest;
pub mod metadata;
pub mod retrieval;
pub mod vectors;
