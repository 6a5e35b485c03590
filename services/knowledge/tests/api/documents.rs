//! Uploads: every supported type, refusals (415, 413, 422), duplicates, metadata forms,
//! chunk boundaries, deletion.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Upload, config, expect_error, pdf, spawn_with, spawn_with_collection};

const MARKDOWN: &str = "# Operations guide\n\nHow we run the platform.\n\n## Backups\n\nSnapshots of the database are taken nightly and kept for thirty days.\n";
const HTML: &str = "<!doctype html><html><head><title>t</title><script>var hidden = 'scripted';</script></head><body><h1>Travel policy</h1><h2>Flights</h2><p>Economy class for flights under six hours.</p></body></html>";
const JSON_DOC: &str =
    r#"{"product": {"name": "Widget", "warranty": "two years"}, "regions": ["emea", "apac"]}"#;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn every_supported_type_is_extracted_chunked_and_searchable(pool: PgPool) {
    // Small chunks, so headings and their sections land in chunks of their own.
    let (app, ada, id) =
        spawn_with_collection(pool, json!({"chunk_size": 50, "chunk_overlap": 0})).await;
    let uploads: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "notes.txt",
            b"Plain notes about the quarterly offsite in Lisbon.".to_vec(),
            "text/plain",
            "offsite",
        ),
        (
            "guide.md",
            MARKDOWN.as_bytes().to_vec(),
            "text/markdown",
            "snapshots",
        ),
        (
            "travel.html",
            HTML.as_bytes().to_vec(),
            "text/html",
            "economy",
        ),
        (
            "report.pdf",
            pdf(&["Annual report", "Revenue grew in the northern markets."]),
            "application/pdf",
            "revenue",
        ),
        (
            "catalog.json",
            JSON_DOC.as_bytes().to_vec(),
            "application/json",
            "warranty",
        ),
    ];
    for (filename, bytes, content_type, word) in uploads {
        let size = bytes.len();
        let created = app
            .uploaded(&ada.token, &id, (filename, bytes, None), 201)
            .await;
        assert_eq!(created["status"], "processing");
        assert_eq!(created["content_type"], content_type, "{filename}");
        assert_eq!(created["size_bytes"], size);
        assert_eq!(created["collection_id"], id.as_str());
        let ready = app.settled(&ada.token, &created).await;
        assert_eq!(ready["status"], "ready", "{ready}");
        assert!(ready["chunk_count"].as_i64() >= Some(1), "{ready}");
        assert_eq!(ready["attempts"], 1);
        let ranked = app.ranked(&ada.token, &id, word).await;
        assert_eq!(
            ranked.first().map(String::as_str),
            Some(filename),
            "{word}: {ranked:?}"
        );
    }
    let answer = app
        .query(&ada.token, &id, json!({"query": "economy flights"}))
        .await;
    let chunk = &answer["chunks"][0];
    assert_eq!(chunk["heading_path"], json!(["Travel policy", "Flights"]));
    assert!(!chunk["content"].as_str().unwrap().contains("scripted"));
    let answer = app
        .query(&ada.token, &id, json!({"query": "nightly snapshots"}))
        .await;
    assert_eq!(
        answer["chunks"][0]["heading_path"],
        json!(["Operations guide", "Backups"])
    );
    let answer = app.query(&ada.token, &id, json!({"query": "apac"})).await;
    assert!(
        answer["chunks"][0]["content"]
            .as_str()
            .unwrap()
            .contains("regions[1]: apac")
    );
    let collection = app
        .fetch(&ada.token, &format!("/rag/collections/{id}"))
        .await;
    assert_eq!(collection["document_count"], 5);
    let page = app
        .page(
            &ada.token,
            &format!("/rag/collections/{id}/documents?status=ready"),
        )
        .await;
    assert_eq!(page.total, 5);
    assert_eq!(page.items[0]["filename"], "catalog.json", "newest first");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn unsupported_files_are_415_with_the_reason_and_bad_forms_are_refused(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({})).await;
    let cases: Vec<(Upload, u16, &str)> = vec![
        (
            ("photo.txt", b"\x89PNG\r\n\x1a\nrest".to_vec(), None),
            415,
            "PNG image",
        ),
        (
            ("report.pdf", b"not really a pdf".to_vec(), None),
            415,
            "not one",
        ),
        (("sheet.xlsx", b"cells".to_vec(), None), 415, "binary"),
        (
            ("latin1.txt", b"caf\xe9 cr\xe8me".to_vec(), None),
            415,
            "UTF-8",
        ),
        (
            ("data.json", b"{\"a\": ".to_vec(), None),
            415,
            "does not parse",
        ),
        (("empty.txt", Vec::new(), None), 415, "empty"),
        (
            ("a.txt", b"x".to_vec(), Some("{'a': nope}")),
            422,
            "metadata",
        ),
        (("a.txt", b"x".to_vec(), Some("[1]")), 422, "object"),
    ];
    for (file, status, needle) in cases {
        app.upload_refused(&ada.token, &id, file, status, needle)
            .await;
    }
    let upload = format!("POST /rag/collections/{id}/documents");
    app.refused(
        &ada.token,
        &upload,
        Some(&json!({"file": "x"})),
        415,
        "multipart",
    )
    .await;
    let form = reqwest::multipart::Form::new().text("metadata", "{}");
    let resp = app
        .http
        .post(app.url(&format!("/rag/collections/{id}/documents")))
        .bearer_auth(&ada.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "file").await;
    let page = app
        .page(&ada.token, &format!("/rag/collections/{id}/documents"))
        .await;
    assert_eq!(page.total, 0, "nothing was stored");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn uploads_over_the_configured_limit_are_413_and_larger_than_the_api_limit_below_it_pass(
    pool: PgPool,
) {
    let mut config = config();
    config.knowledge.max_upload_bytes = 3 * 1024 * 1024;
    let app = spawn_with(pool, config).await;
    let (ada, id) = app
        .ada_with_collection(json!({"chunk_size": 8000, "chunk_overlap": 0}))
        .await;
    // 2 MiB: over the API's 1 MiB body limit, under this route's.
    let line = "The quick brown fox jumps over the lazy dog. ";
    let big = line.repeat(2 * 1024 * 1024 / line.len());
    let created = app
        .uploaded(&ada.token, &id, ("big.txt", big.into_bytes(), None), 201)
        .await;
    for (filename, size) in [
        ("huge.txt", 3 * 1024 * 1024 + 1),
        ("huger.txt", 4 * 1024 * 1024),
    ] {
        let file = (filename, vec![b'a'; size], None);
        app.upload_refused(&ada.token, &id, file, 413, "larger than")
            .await;
    }
    let ready = app.settled(&ada.token, &created).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    // Other routes keep the 1 MiB limit.
    let body = json!({"name": "x".repeat(1_100_000)});
    app.refused(
        &ada.token,
        "POST /rag/collections/",
        Some(&body),
        413,
        "too large",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn identical_content_is_stored_once_per_collection(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({})).await;
    let first = app.add(&ada.token, &id, "a.md", "# Same\n\ncontent").await;
    let file = ("renamed.md", b"# Same\n\ncontent".to_vec(), None);
    let again = app.uploaded(&ada.token, &id, file, 200).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["filename"], "a.md");
    assert_eq!(again["content_hash"], first["content_hash"]);
    let collection = app
        .fetch(&ada.token, &format!("/rag/collections/{id}"))
        .await;
    assert_eq!(collection["document_count"], 1);
    let other = app.collection(&ada.token, json!({"name": "other"})).await;
    let other = other["id"].as_str().unwrap();
    let copy = app
        .add(&ada.token, other, "a.md", "# Same\n\ncontent")
        .await;
    assert_ne!(
        copy["id"], first["id"],
        "another collection stores its own copy"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn metadata_may_be_json_or_a_python_dict_and_reaches_every_chunk(pool: PgPool) {
    let (app, ada, id) =
        spawn_with_collection(pool, json!({"chunk_size": 60, "chunk_overlap": 0})).await;
    let text =
        "First sentence about llamas. Second sentence about llamas. Third one about llamas too.";
    let metadata = "{'source': 'field notes', 'page': 3, 'reviewed': True, 'owner': None}";
    let file = ("llamas.txt", text.as_bytes().to_vec(), Some(metadata));
    let created = app.uploaded(&ada.token, &id, file, 201).await;
    let expected = json!({"source": "field notes", "page": 3, "reviewed": true, "owner": null});
    assert_eq!(created["metadata"], expected);
    let ready = app.settled(&ada.token, &created).await;
    assert!(ready["chunk_count"].as_i64() >= Some(2), "{ready}");
    let answer = app.top(&ada.token, &id, "llamas", 10).await;
    let chunks = answer["chunks"].as_array().unwrap();
    assert_eq!(chunks.len() as i64, ready["chunk_count"].as_i64().unwrap());
    assert!(chunks.iter().all(|c| c["metadata"] == expected));
    let file = (
        "b.txt",
        b"json metadata".to_vec(),
        Some(r#"{"source": "json"}"#),
    );
    let created = app.uploaded(&ada.token, &id, file, 201).await;
    assert_eq!(created["metadata"], json!({"source": "json"}));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn chunks_respect_the_collection_size_and_overlap_and_point_into_the_text(pool: PgPool) {
    let (app, ada, id) =
        spawn_with_collection(pool, json!({"chunk_size": 120, "chunk_overlap": 40})).await;
    let text: String = (1..=60)
        .map(|i| format!("Sentence number {i} is here."))
        .collect::<Vec<_>>()
        .join(" ");
    let document = app.ingest(&ada.token, &id, "long.txt", &text).await;
    let rows: Vec<(i32, String, i32, i32)> = sqlx::query_as(
        "select chunk_index, content, char_start, char_end from knowledge.chunks
         where document_id = $1 order by chunk_index",
    )
    .bind(uuid(&document["id"]))
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len() as i64, document["chunk_count"].as_i64().unwrap());
    assert!(rows.len() > 10, "{}", rows.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, (index, content, start, end)) in rows.iter().enumerate() {
        assert_eq!(*index as usize, i);
        assert!(content.chars().count() <= 120, "{content}");
        assert!(content.ends_with('.'), "breaks at sentences: {content:?}");
        let slice: String = chars[*start as usize..*end as usize].iter().collect();
        assert_eq!(&slice, content);
    }
    for pair in rows.windows(2) {
        let shared = pair[0].3 - pair[1].2;
        assert!(shared > 0 && shared <= 40, "overlap {shared}: {pair:?}");
    }
    assert_eq!(rows.first().unwrap().2, 0);
    assert_eq!(rows.last().unwrap().3 as usize, chars.len());
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deleting_documents_and_collections_removes_their_chunks(pool: PgPool) {
    let (app, ada, id) = spawn_with_collection(pool, json!({})).await;
    let keep = app
        .ingest(&ada.token, &id, "keep.txt", "orchids need indirect light")
        .await;
    let gone = app
        .ingest(&ada.token, &id, "gone.txt", "cacti need direct light")
        .await;
    let path = format!("/rag/documents/{}", gone["id"].as_str().unwrap());
    app.remove(&ada.token, &path).await;
    app.refused(&ada.token, &format!("GET {path}"), None, 404, "document")
        .await;
    let ranked = app.ranked(&ada.token, &id, "light").await;
    assert_eq!(ranked, ["keep.txt"]);
    assert_eq!(count(&app.pool, "knowledge.chunks", &gone["id"]).await, 0);

    app.remove(&ada.token, &format!("/rag/collections/{id}"))
        .await;
    assert_eq!(count(&app.pool, "knowledge.chunks", &keep["id"]).await, 0);
    assert_eq!(
        count(&app.pool, "knowledge.document_sources", &keep["id"]).await,
        0
    );
    let keep = format!("/rag/documents/{}", keep["id"].as_str().unwrap());
    let query = json!({"query": "light"});
    app.expect_refusals(
        &ada.token,
        &[
            (&format!("GET {keep}"), None, 404, "document"),
            (
                &format!("POST /rag/collections/{id}/query"),
                Some(query),
                404,
                "collection",
            ),
        ],
    )
    .await;
}

fn uuid(value: &Value) -> uuid::Uuid {
    value.as_str().unwrap().parse().unwrap()
}

async fn count(pool: &PgPool, table: &str, document: &Value) -> i64 {
    let sql = match table {
        "knowledge.chunks" => "select count(*) from knowledge.chunks where document_id = $1",
        _ => "select count(*) from knowledge.document_sources where document_id = $1",
    };
    sqlx::query_scalar(sql)
        .bind(uuid(document))
        .fetch_one(pool)
        .await
        .unwrap()
}
