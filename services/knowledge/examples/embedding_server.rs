//! The tests' deterministic embedding server as a process, for `load_tests/knowledge-bench.sh`
//! (hybrid figures without a model server): OpenAI-compatible `POST /v1/embeddings` and Ollama
//! `POST /api/embed`, hashed bag-of-words vectors.
//!
//! `cargo run --release -p temponest-knowledge --example embedding_server -- [PORT] [DIMS]`
//! (defaults 19080 and 768); prints the base URL and serves until killed.

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(19080);
    let dims: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(768);
    let server = temponest_test_client::embeddings::EmbeddingServer::start_on(port, dims).await;
    println!("{}", server.base);
    std::future::pending::<()>().await;
}
