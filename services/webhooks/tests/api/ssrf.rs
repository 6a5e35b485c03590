//! SSRF protection: with an empty allow-list, deliveries to loopback, private, link-local and
//! metadata addresses (IPv4, IPv6, IPv4-mapped IPv6 and host names resolving to them) are
//! refused as `blocked` (final, no retries) and the receiver sees nothing.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{config, spawn_with};
use crate::receiver::{Receiver, endpoint, publish, settled};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn non_public_destinations_are_blocked(pool: PgPool) {
    let mut config = config();
    config.webhooks.allowed_networks = String::new();
    let _app = spawn_with(pool.clone(), config, true).await;
    let receiver = Receiver::start().await;
    let port = receiver.port;
    let tenant = Uuid::new_v4();
    let urls = [
        format!("http://127.0.0.1:{port}/"),
        "http://10.0.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://localhost:{port}/"),
    ];
    let mut endpoints = Vec::new();
    for url in &urls {
        endpoints.push((endpoint(&pool, tenant, url, &["*"], 3).await.0, url));
    }
    publish(&pool, tenant, "order.paid", json!({"secret": "stuff"})).await;

    for (id, url) in endpoints {
        let rows = settled(&pool, id, 1).await;
        let row = &rows[0];
        assert_eq!(row.status, "failed", "{url}");
        assert_eq!(row.outcome.as_deref(), Some("blocked"), "{url}");
        assert_eq!(row.error_class.as_deref(), Some("blocked"), "{url}");
        assert_eq!(row.attempt_count, 1, "{url}: blocked is final");
        assert_eq!(row.response_status, None, "{url}");
    }
    assert_eq!(receiver.count(), 0);
}
