//! Documents: upload (multipart, with its own body limit), list, read and delete. An upload
//! is answered as soon as it is stored; ingestion happens in the background
//! ([`crate::domain::ingest`]).

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use temponest_auth_client::permissions::{KNOWLEDGE_READ, KNOWLEDGE_WRITE};
use temponest_auth_client::{ListRequest, Principal};
use temponest_web::extract::list_response;
use temponest_web::{ApiError, ApiResult, IdPath, Json};
use uuid::Uuid;

use crate::db::collections;
use crate::db::documents::{self, NewDocument};
use crate::domain::formats::{self, Kind};
use crate::domain::metadata;
use crate::models::{DocumentFilter, DocumentOut, DocumentUpload};
use crate::state::AppState;

const MAX_FILENAME: usize = 255;

/// Uploads a document (multipart `file`, optional `metadata` as a JSON object or a Python
/// dict's text). 201 with the new document (status `processing`); if the collection already
/// holds identical content (same SHA-256), 200 with that document and nothing stored.
/// Unsupported types are 415, files over the configured limit 413.
#[utoipa::path(post, path = "/rag/collections/{id}/documents", operation_id = "upload_document", tag = "knowledge",
    request_body(content = DocumentUpload, content_type = "multipart/form-data"), security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "collection id")),
    responses((status = 201, body = DocumentOut), (status = 200, body = DocumentOut, description = "identical content already in the collection"),
              (status = 403), (status = 404), (status = 413), (status = 415), (status = 422)))]
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(collection_id): IdPath,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    principal.require(KNOWLEDGE_WRITE)?;
    let tenant_id = principal.tenant_id;
    if collections::version(&state.pool, tenant_id, collection_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("collection"));
    }
    let mut multipart = multipart.map_err(|_| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a multipart/form-data body with a `file` field",
        )
    })?;
    let max = state.config.knowledge.max_upload_bytes;
    let form = read_form(&mut multipart, max).await?;
    let Some(file) = form.file else {
        return Err(ApiError::invalid_field(
            "file",
            "a `file` field is required",
        ));
    };
    let metadata = metadata::parse(form.metadata.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::invalid_field("metadata", e.to_string()))?;

    // Hashing and detection read the whole upload: off the async runtime.
    let (bytes, filename, declared) = (file.bytes, file.filename, file.content_type);
    let (bytes, hash, kind) = {
        let filename = filename.clone();
        tokio::task::spawn_blocking(move || {
            let hash = Sha256::digest(&bytes).to_vec();
            let kind = formats::detect(&filename, declared.as_deref(), &bytes);
            (bytes, hash, kind)
        })
        .await
        .map_err(|e| ApiError::internal(format!("upload inspection failed: {e}")))?
    };
    let kind: Kind = kind.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            e.to_string(),
        )
    })?;

    let mut tx = state.pool.begin().await?;
    let new = NewDocument {
        id: Uuid::now_v7(),
        tenant_id,
        collection_id,
        filename: &filename,
        kind,
        size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        content_hash: &hash,
        metadata: &metadata,
    };
    let Some(row) = documents::insert(&mut tx, &new).await? else {
        let existing = documents::find_by_hash(&mut tx, tenant_id, collection_id, &hash)
            .await?
            .ok_or_else(|| ApiError::conflict("the same document is being uploaded; retry"))?;
        return Ok((StatusCode::OK, Json(DocumentOut::try_from(existing)?)).into_response());
    };
    documents::insert_source(&mut tx, row.id, &bytes).await?;
    collections::bump_version(&mut tx, collection_id).await?;
    tx.commit().await?;
    state.ingest_wake.notify_one();
    Ok((StatusCode::CREATED, Json(DocumentOut::try_from(row)?)).into_response())
}

/// The parts of the upload form.
#[derive(Default)]
struct Form {
    file: Option<UploadedFile>,
    metadata: Option<String>,
}

struct UploadedFile {
    filename: String,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

/// Reads the form: `file` (at most `max` bytes) and `metadata`; other fields are ignored.
async fn read_form(multipart: &mut Multipart, max: usize) -> ApiResult<Form> {
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("file") => {
                let filename = clean_filename(field.file_name());
                let content_type = field.content_type().map(str::to_owned);
                let bytes = read_bounded(&mut field, max).await?;
                form.file = Some(UploadedFile {
                    filename,
                    content_type,
                    bytes,
                });
            }
            Some("metadata") => {
                let text = field.text().await.map_err(multipart_error)?;
                form.metadata = Some(text);
            }
            _ => {}
        }
    }
    Ok(form)
}

/// A field's bytes, refused with 413 as soon as they exceed `max`.
async fn read_bounded(field: &mut Field<'_>, max: usize) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(piece) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + piece.len() > max {
            return Err(too_large(max));
        }
        bytes.extend_from_slice(&piece);
    }
    Ok(bytes)
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the file is larger than the {max} bytes allowed"),
    )
}

fn multipart_error(err: MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the upload is larger than allowed",
        )
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", err.body_text()))
    }
}

/// The file's name without any directory part, control characters or excess length.
fn clean_filename(name: Option<&str>) -> String {
    let name = name
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILENAME)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "document".to_owned()
    } else {
        name.to_owned()
    }
}

/// A collection's documents, newest first.
#[utoipa::path(get, path = "/rag/collections/{id}/documents", operation_id = "list_documents", tag = "knowledge", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "collection id"),
           ("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("status" = Option<crate::models::documents::DocumentStatus>, Query, description = "processing, ready or failed")),
    responses((status = 200, body = [DocumentOut], headers(("x-total-count" = i64))), (status = 403), (status = 404), (status = 422)))]
pub async fn list(
    State(state): State<AppState>,
    ListRequest {
        principal,
        path: IdPath(collection_id),
        page,
        filter,
    }: ListRequest<DocumentFilter, IdPath>,
) -> ApiResult<Response> {
    principal.require(KNOWLEDGE_READ)?;
    let status = filter.status()?;
    if collections::version(&state.pool, principal.tenant_id, collection_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("collection"));
    }
    let (rows, total) = documents::list(
        &state.pool,
        principal.tenant_id,
        collection_id,
        status.map(|s| s.as_str()),
        page.skip,
        page.limit,
    )
    .await?;
    let items = rows
        .into_iter()
        .map(DocumentOut::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(list_response(items, total))
}

/// One document, with its ingestion status.
#[utoipa::path(get, path = "/rag/documents/{id}", operation_id = "get_document", tag = "knowledge", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "document id")),
    responses((status = 200, body = DocumentOut), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath,
) -> ApiResult<Json<DocumentOut>> {
    principal.require(KNOWLEDGE_READ)?;
    let row = documents::find(&state.pool, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    Ok(Json(DocumentOut::try_from(row)?))
}

/// Deletes a document with its chunks; queries no longer return them.
#[utoipa::path(delete, path = "/rag/documents/{id}", operation_id = "delete_document", tag = "knowledge", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "document id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    principal.require(KNOWLEDGE_WRITE)?;
    let mut tx = state.pool.begin().await?;
    let collection_id = documents::delete(&mut tx, principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    collections::bump_version(&mut tx, collection_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::clean_filename;

    #[test]
    fn filenames_lose_directories_and_control_characters() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("C:\\docs\\a\u{0}b.md")), "ab.md");
        assert_eq!(clean_filename(None), "document");
    }
}
