//! API types of collections: `CollectionIn`, `CollectionPatch`, `CollectionOut`, and their
//! validation into a [`CollectionSpec`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::collections::CollectionRow;

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2_000;
const MAX_MODEL: usize = 200;
/// Chunk sizes accepted, in characters.
pub const CHUNK_SIZE_RANGE: std::ops::RangeInclusive<i32> = 50..=8000;
const DEFAULT_MODEL: &str = "nomic-embed-text";
const DEFAULT_CHUNK_SIZE: i32 = 1000;
const DEFAULT_CHUNK_OVERLAP: i32 = 200;

/// `POST /rag/collections/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CollectionIn {
    pub name: String,
    pub description: Option<String>,
    /// Embedding model for the semantic leg (default `nomic-embed-text`; recorded, not yet
    /// used: retrieval is lexical).
    pub embedding_model: Option<String>,
    /// Largest chunk, in characters (default 1000, 50–8000).
    pub chunk_size: Option<i32>,
    /// Characters shared by consecutive chunks (default 200, below `chunk_size`).
    pub chunk_overlap: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

temponest_web::patch! {
    /// `PATCH /rag/collections/{id}`: only the fields sent change; `null` clears `description`.
    /// A change of `chunk_size` or `chunk_overlap` re-chunks the collection's documents.
    #[derive(Debug, Default, Deserialize, ToSchema)]
    pub struct CollectionPatch: nullable {
        pub name: String,
        pub description: String,
        pub embedding_model: String,
        pub chunk_size: i32,
        pub chunk_overlap: i32,
        pub metadata: serde_json::Value as Object,
    }
}

/// `GET /rag/collections/` filters.
#[derive(Debug, Default, Deserialize)]
pub struct CollectionFilter {
    /// Case-insensitive substring of name or description.
    pub search: Option<String>,
}

/// A collection as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CollectionOut {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub embedding_model: String,
    pub chunk_size: i32,
    pub chunk_overlap: i32,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Documents in the collection, whatever their status.
    pub document_count: i64,
    /// Bumped by every change to the collection or its documents.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

temponest_web::from_row! { row: CollectionRow => CollectionOut {
    id, tenant_id, name, description, embedding_model, chunk_size, chunk_overlap, metadata,
    document_count, version, created_at, updated_at,
} }

/// A validated collection definition (create, or the result of applying a patch).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionSpec {
    pub name: String,
    pub description: Option<String>,
    pub embedding_model: String,
    pub chunk_size: i32,
    pub chunk_overlap: i32,
    pub metadata: serde_json::Value,
}

impl CollectionIn {
    pub fn validate(self) -> Result<CollectionSpec, ApiError> {
        CollectionSpec {
            name: self.name,
            description: self.description,
            embedding_model: self
                .embedding_model
                .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            chunk_size: self.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE),
            chunk_overlap: self.chunk_overlap.unwrap_or(DEFAULT_CHUNK_OVERLAP),
            metadata: self
                .metadata
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        }
        .validated()
    }
}

impl CollectionPatch {
    /// Applies the sent fields to `current` and validates the result. Required fields sent
    /// as `null` are refused.
    pub fn apply(self, current: &CollectionOut) -> Result<CollectionSpec, ApiError> {
        let mut errors = Vec::new();
        let mut required = |field: &str, sent: Option<bool>| {
            if sent == Some(false) {
                errors.push(FieldError::new(field, "must not be null"));
            }
        };
        required("name", self.name.as_ref().map(Option::is_some));
        required(
            "embedding_model",
            self.embedding_model.as_ref().map(Option::is_some),
        );
        required("chunk_size", self.chunk_size.as_ref().map(Option::is_some));
        required(
            "chunk_overlap",
            self.chunk_overlap.as_ref().map(Option::is_some),
        );
        required("metadata", self.metadata.as_ref().map(Option::is_some));
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        CollectionSpec {
            name: self.name.flatten().unwrap_or_else(|| current.name.clone()),
            description: match self.description {
                Some(description) => description,
                None => current.description.clone(),
            },
            embedding_model: self
                .embedding_model
                .flatten()
                .unwrap_or_else(|| current.embedding_model.clone()),
            chunk_size: self.chunk_size.flatten().unwrap_or(current.chunk_size),
            chunk_overlap: self
                .chunk_overlap
                .flatten()
                .unwrap_or(current.chunk_overlap),
            metadata: self
                .metadata
                .flatten()
                .unwrap_or_else(|| current.metadata.clone()),
        }
        .validated()
    }
}

impl CollectionSpec {
    /// Trims the texts and checks every field, reporting all problems at once.
    fn validated(mut self) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            errors.push(FieldError::new("name", "must not be blank"));
        } else if self.name.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                "name",
                format!("must be at most {MAX_NAME} characters"),
            ));
        }
        self.description = self
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            errors.push(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        self.embedding_model = self.embedding_model.trim().to_owned();
        if self.embedding_model.is_empty() || self.embedding_model.chars().count() > MAX_MODEL {
            errors.push(FieldError::new(
                "embedding_model",
                format!("must be 1 to {MAX_MODEL} characters"),
            ));
        }
        if !CHUNK_SIZE_RANGE.contains(&self.chunk_size) {
            errors.push(FieldError::new(
                "chunk_size",
                format!(
                    "must be between {} and {} characters",
                    CHUNK_SIZE_RANGE.start(),
                    CHUNK_SIZE_RANGE.end()
                ),
            ));
        }
        if self.chunk_overlap < 0 || self.chunk_overlap >= self.chunk_size {
            errors.push(FieldError::new(
                "chunk_overlap",
                "must be 0 or more and less than chunk_size",
            ));
        }
        match crate::domain::metadata::check(std::mem::take(&mut self.metadata)) {
            Ok(metadata) => self.metadata = metadata,
            Err(err) => errors.push(FieldError::new("metadata", err.to_string())),
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(ApiError::validation(errors))
        }
    }
}
