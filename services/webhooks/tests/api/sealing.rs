//! Signing secrets at rest: with a secret key configured, the stored secret is sealed (not the
//! secret's bytes), deliveries are still signed with the real secret, and an engine holding
//! another key sends nothing unsigned — its attempts fail with `signing` until the right key
//! is back.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sqlx::PgPool;
use temponest_webhooks::AppState;
use temponest_webhooks::domain::engine;
use temponest_webhooks::domain::sealing::Sealer;
use temponest_webhooks::state::AppStateFields;
use uuid::Uuid;

use crate::helpers::{config, spawn_with};
use crate::receiver::{Receiver, settled, verify};

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn secrets_are_sealed_at_rest_and_never_sent_unsigned(pool: PgPool) {
    let key = STANDARD.encode([42u8; 32]);
    let mut config = config();
    config.webhooks.secret_key.0 = key.clone();
    let app = spawn_with(pool.clone(), config, false).await;
    let ada = app.signup("ada@example.com").await;
    let receiver = Receiver::start().await;
    let created = app
        .create(
            &ada.token,
            "/webhooks/",
            &json!({"name": "sealed", "url": format!("{}/hook", receiver.url),
                    "events": ["order.paid"],
                    "retry_config": {"max_retries": 3, "retry_delay_seconds": 1}}),
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let plain = temponest_webhooks::domain::signing::parse_secret(&secret).unwrap();
    let (stored, sealed): (Vec<u8>, bool) =
        sqlx::query_as("select secret, sealed from webhooks.secrets where endpoint_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(sealed);
    assert!(
        !stored.windows(plain.len()).any(|w| w == plain.as_slice()),
        "the secret's bytes are not stored"
    );

    // An engine with another key: the attempt fails before anything is sent.
    let wrong = AppState::from(AppStateFields {
        sealer: Arc::new(Sealer::new(&STANDARD.encode([1u8; 32]), "").unwrap()),
        ..app.state.to_fields()
    });
    let wrong_engine = engine::start(wrong);
    let body = json!({"event_type": "order.paid", "payload": {"order": 1}});
    app.call(&ada.token, "POST /events", Some(&body), 202).await;
    let failed = crate::helpers::eventually(|| async {
        let class: Option<String> = sqlx::query_scalar(
            "select error_class from webhooks.deliveries where endpoint_id = $1",
        )
        .bind(id)
        .fetch_optional(&pool)
        .await
        .unwrap()
        .flatten();
        class.as_deref() == Some("signing")
    })
    .await;
    assert!(failed, "the attempt did not fail with `signing`");
    assert_eq!(receiver.count(), 0, "nothing was sent unsigned");
    wrong_engine.shutdown().await;

    // The right key again: the retry is delivered, signed with the real secret.
    let right_engine = engine::start(app.state.clone());
    let rows = settled(&pool, id, 1).await;
    assert_eq!(rows[0].status, "success", "{rows:#?}");
    assert_eq!(rows[0].attempt_count, 2);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    verify(&secret, &requests[0]).expect("signed with the endpoint's secret");
    right_engine.shutdown().await;
}
