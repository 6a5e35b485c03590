//! The knowledge service's domain logic: document formats, metadata, chunking, the
//! ingestion engine and retrieval.

pub mod chunking;
pub mod formats;
pub mod ingest;
pub mod metadata;
pub mod retrieval;
