//! API types of documents: `DocumentOut`, its status, and the list filter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_web::ApiError;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::documents::DocumentRow;

/// Where a document is in its ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Uploaded, waiting for or in ingestion.
    Processing,
    /// Chunked and searchable.
    Ready,
    /// Could not be ingested; `error` says why.
    Failed,
}

temponest_db::named!(DocumentStatus, "status",
    Processing => "processing", Ready => "ready", Failed => "failed");

/// `GET /rag/collections/{id}/documents` filters.
#[derive(Debug, Default, Deserialize)]
pub struct DocumentFilter {
    /// Only documents with this status.
    pub status: Option<String>,
}

impl DocumentFilter {
    /// The status asked for; an unknown one is a 422 naming the accepted values.
    pub fn status(&self) -> Result<Option<DocumentStatus>, ApiError> {
        self.status
            .as_deref()
            .map(|s| {
                DocumentStatus::parse(s).map_err(|_| {
                    ApiError::invalid_field(
                        "status",
                        format!(
                            "must be one of {}",
                            <DocumentStatus as temponest_db::names::Named>::names()
                        ),
                    )
                })
            })
            .transpose()
    }
}

/// A document as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DocumentOut {
    pub id: Uuid,
    pub collection_id: Uuid,
    pub tenant_id: Uuid,
    pub filename: String,
    /// The detected type: text/plain, text/markdown, text/html, application/pdf or
    /// application/json.
    pub content_type: String,
    pub size_bytes: i64,
    /// Chunks stored (0 until the document is ready).
    pub chunk_count: i32,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub status: DocumentStatus,
    /// Why ingestion failed (status `failed`).
    pub error: Option<String>,
    /// Ingestion attempts so far.
    pub attempts: i32,
    /// SHA-256 of the uploaded bytes, hex.
    pub content_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When ingestion finished (ready or failed).
    pub processed_at: Option<DateTime<Utc>>,
}

impl TryFrom<DocumentRow> for DocumentOut {
    type Error = ApiError;

    fn try_from(row: DocumentRow) -> Result<Self, ApiError> {
        let status = DocumentStatus::parse(&row.status)
            .map_err(|e| ApiError::internal(format!("document {}: {e}", row.id)))?;
        Ok(Self {
            id: row.id,
            collection_id: row.collection_id,
            tenant_id: row.tenant_id,
            filename: row.filename,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            chunk_count: row.chunk_count,
            metadata: row.metadata,
            status,
            error: row.error,
            attempts: row.attempts,
            content_hash: hex::encode(&row.content_hash),
            created_at: row.created_at,
            updated_at: row.updated_at,
            processed_at: row.processed_at,
        })
    }
}

/// The multipart form of `POST /rag/collections/{id}/documents` (for the OpenAPI document).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DocumentUpload {
    /// The document: text, Markdown, HTML, PDF or JSON.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// A JSON object, or the text of a Python dict (`{'source': 'manual'}`).
    metadata: Option<String>,
}
