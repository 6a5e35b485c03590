//! Set-up shared by the auth-client test binaries.

/// Serves `app` on a free local port; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A cache on the test Redis (`REDIS_URL`) under a key prefix no other test shares.
pub async fn cache() -> temponest_cache::Cache {
    temponest_cache::Cache::connect(temponest_cache::CacheConfig {
        redis_url: Some(
            std::env::var("REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
                .into(),
        ),
        key_prefix: format!("test-{}", uuid::Uuid::new_v4()),
        ..temponest_cache::CacheConfig::default()
    })
    .await
}
