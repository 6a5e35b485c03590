//! API types: request bodies (`...In`), patches, responses (`...Out`) and their validation.

pub mod collections;
pub mod documents;
pub mod query;

pub use collections::{
    CollectionFilter, CollectionIn, CollectionOut, CollectionPatch, CollectionSpec,
};
pub use documents::{DocumentFilter, DocumentOut, DocumentStatus, DocumentUpload};
pub use query::{ChunkOut, QueryIn, QueryOut};
