//! Spawning the knowledge service (with the auth service in the same process, as `temponest
//! serve` runs them, through the kit's harness) and talking to it: uploads, waiting for
//! ingestion, queries, a generated PDF.

use std::ops::Deref;
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_knowledge::{AppState, KnowledgeConfig};

pub use temponest_test_client::{Api, Harness, Session, Spawned, expect_error, expect_json};

/// What an upload sends: the file's name and bytes, and the `metadata` field's text if any.
pub type Upload<'a> = (&'a str, Vec<u8>, Option<&'a str>);

/// A running app.
pub struct TestApp {
    pub api: Api,
    pub pool: PgPool,
    pub state: AppState,
    /// The running platform (dropping it stops its engines).
    _platform: Spawned,
}

/// The test configuration: the engine polls often (uploads wake it anyway).
pub fn config() -> KnowledgeConfig {
    let mut config = KnowledgeConfig::default();
    config.knowledge.poll_interval_ms = 50;
    config
}

pub async fn spawn(pool: PgPool) -> TestApp {
    spawn_with(pool, config()).await
}

/// The app with ada@example.com signed up and a collection `docs` made of `body` for her: how
/// most tests begin. The app, ada and the collection's id.
pub async fn spawn_with_collection(pool: PgPool, body: Value) -> (TestApp, Session, String) {
    let app = spawn(pool).await;
    let (ada, collection) = app.ada_with_collection(body).await;
    (app, ada, collection)
}

pub async fn spawn_with(pool: PgPool, config: KnowledgeConfig) -> TestApp {
    let app = Harness::new(pool)
        .await
        .spawn([
            temponest_auth::service(temponest_auth::AuthConfig::default().with_fast_hashing()),
            temponest_knowledge::service(config),
        ])
        .await;
    TestApp {
        api: app.api.clone(),
        pool: app.pool.clone(),
        state: app.state(),
        _platform: app,
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    /// Creates a collection and returns it.
    pub async fn collection(&self, token: &str, body: Value) -> Value {
        self.create(token, "/rag/collections/", &body).await
    }

    /// Signs up ada@example.com and creates a collection `docs` for her.
    pub async fn ada_with_collection(&self, body: Value) -> (Session, String) {
        let ada = self.signup("ada@example.com").await;
        let mut body = body;
        if body.get("name").is_none() {
            body["name"] = json!("docs");
        }
        let collection = self.collection(&ada.token, body).await;
        (ada, collection["id"].as_str().unwrap().to_owned())
    }

    /// Uploads `bytes` as `filename` (with `metadata` text, if any).
    pub async fn upload(
        &self,
        token: &str,
        collection: &str,
        filename: &str,
        bytes: Vec<u8>,
        metadata: Option<&str>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
        if let Some(metadata) = metadata {
            form = form.text("metadata", metadata.to_owned());
        }
        self.http
            .post(self.url(&format!("/rag/collections/{collection}/documents")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `file` and asserts `status`; returns the JSON body.
    pub async fn uploaded(
        &self,
        token: &str,
        collection: &str,
        file: Upload<'_>,
        status: u16,
    ) -> Value {
        let (filename, bytes, metadata) = file;
        let resp = self
            .upload(token, collection, filename, bytes, metadata)
            .await;
        expect_json(resp, StatusCode::from_u16(status).unwrap()).await
    }

    /// Uploads `file` and asserts it is refused with `status` and a `detail` containing
    /// `needle`.
    pub async fn upload_refused(
        &self,
        token: &str,
        collection: &str,
        file: Upload<'_>,
        status: u16,
        needle: &str,
    ) -> Value {
        let (filename, bytes, metadata) = file;
        let resp = self
            .upload(token, collection, filename, bytes, metadata)
            .await;
        expect_error(resp, StatusCode::from_u16(status).unwrap(), needle).await
    }

    /// Uploads a new document (asserts 201) and returns it.
    pub async fn add(&self, token: &str, collection: &str, filename: &str, text: &str) -> Value {
        let file = (filename, text.as_bytes().to_vec(), None);
        self.uploaded(token, collection, file, 201).await
    }

    /// Waits (with a deadline) until the document is no longer processing; returns it.
    pub async fn settled(&self, token: &str, document: &Value) -> Value {
        self.document_until(token, document, |d| d["status"] != "processing")
            .await
    }

    /// Polls the document (with a 15 s deadline, no sleeps) until `done` holds; returns it.
    pub async fn document_until(
        &self,
        token: &str,
        document: &Value,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let path = format!("/rag/documents/{}", document["id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let current = self.fetch(token, &path).await;
            if done(&current) {
                return current;
            }
            assert!(
                Instant::now() < deadline,
                "condition not reached: {current}"
            );
            tokio::task::yield_now().await;
        }
    }

    /// Uploads a document and waits until it is ready; returns it.
    pub async fn ingest(&self, token: &str, collection: &str, filename: &str, text: &str) -> Value {
        let file = (filename, text.as_bytes().to_vec(), None);
        self.ingest_file(token, collection, file).await
    }

    /// Uploads `file` (asserts 201) and waits until it is ready; returns it.
    pub async fn ingest_file(&self, token: &str, collection: &str, file: Upload<'_>) -> Value {
        let document = self.uploaded(token, collection, file, 201).await;
        let document = self.settled(token, &document).await;
        assert_eq!(document["status"], "ready", "{document}");
        document
    }

    /// Queries a collection (asserts 200).
    pub async fn query(&self, token: &str, collection: &str, body: Value) -> Value {
        let request = format!("POST /rag/collections/{collection}/query");
        self.call(token, &request, Some(&body), 200).await
    }

    /// Queries a collection for the `top_k` best chunks for `query` (asserts 200).
    pub async fn top(&self, token: &str, collection: &str, query: &str, top_k: u32) -> Value {
        let body = json!({"query": query, "top_k": top_k});
        self.query(token, collection, body).await
    }

    /// The filenames of a query's chunks, best first.
    pub async fn ranked(&self, token: &str, collection: &str, query: &str) -> Vec<String> {
        let answer = self.top(token, collection, query, 10).await;
        filenames(&answer)
    }
}

/// The filenames of a query answer's chunks, best first.
pub fn filenames(answer: &Value) -> Vec<String> {
    answer["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["filename"].as_str().unwrap().to_owned())
        .collect()
}

/// A one-page PDF whose page shows `lines` (Helvetica, standard encoding), built here so the
/// test carries no binary fixture.
pub fn pdf(lines: &[&str]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};

    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 12.into()]),
        Operation::new("Td", vec![72.into(), 720.into()]),
    ];
    for line in lines {
        operations.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
        operations.push(Operation::new("Td", vec![0.into(), (-16).into()]));
    }
    operations.push(Operation::new("ET", vec![]));
    let content = Content { operations };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}
