//! Webhook endpoints over HTTP: CRUD, validation, secrets, tenant isolation, permissions, the
//! event catalogue and applications' own events. No delivery engine runs here.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temponest_webhooks::domain::signing;
use uuid::Uuid;

use temponest_test_client::fixtures::texts;

use crate::helpers::{Session, TestApp, config, expect_json, spawn_with};
use crate::receiver::endpoint;

/// The API without the delivery engine.
pub async fn api(pool: PgPool) -> TestApp {
    let app = spawn_with(pool, config(), false).await;
    assert!(app.engine.is_none(), "no engine delivers in the API tests");
    app
}

/// [`api`] and a signed-up tenant admin, ada@example.com.
pub async fn api_signed_up(pool: PgPool) -> (TestApp, Session) {
    let app = api(pool).await;
    let ada = app.signup("ada@example.com").await;
    (app, ada)
}

/// [`api_signed_up`], and an endpoint of ada's tenant subscribed to `events` (at an address
/// nothing listens on: no engine delivers here), so that whatever is published to them leaves
/// a delivery.
pub async fn api_subscribed(pool: PgPool, events: &[&str]) -> (TestApp, Session) {
    let (app, ada) = api_signed_up(pool).await;
    let tenant = ada.tenant_id.parse().unwrap();
    endpoint(&app.pool, tenant, "http://127.0.0.1:9/hook", events, 3).await;
    (app, ada)
}

/// Creates a webhook and returns the 201 body.
pub async fn webhook(app: &TestApp, token: &str, body: Value) -> Value {
    app.create(token, "/webhooks/", &body).await
}

/// A minimal valid webhook body.
pub fn hook(name: &str) -> Value {
    json!({"name": name, "url": "http://127.0.0.1:9/hook", "events": ["agent.created"]})
}

/// Logs in a new viewer of `admin`'s tenant and returns their token.
pub async fn viewer(app: &TestApp, admin: &str) -> String {
    app.member(admin, "val@example.com", &["viewer"]).await
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_webhook_is_created_with_defaults_and_its_secret_shown_only_once(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let created = webhook(&app, &ada.token, hook("Orders")).await;
    assert_eq!(created["tenant_id"], ada.tenant_id.as_str());
    assert_eq!(created["is_active"], true);
    assert_eq!(created["headers"], json!({}));
    assert_eq!(
        created["retry_config"],
        json!({"max_retries": 3, "retry_delay_seconds": 60})
    );
    assert_eq!(created["disabled_reason"], Value::Null);
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(signing::parse_secret(secret).unwrap().len(), 32);

    let id = created["id"].as_str().unwrap();
    let fetched = app.fetch(&ada.token, &format!("/webhooks/{id}")).await;
    assert!(fetched.get("secret").is_none(), "{fetched}");
    let mut without_secret = created.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(fetched, without_secret);

    let mut conn = app.pool.acquire().await.unwrap();
    let stored = signing_secrets(&mut conn, id).await;
    assert_eq!(stored, vec![signing::parse_secret(secret).unwrap()]);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn webhooks_are_listed_newest_first_patched_field_by_field_and_deleted(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let own = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let first = webhook(
        &app,
        &ada.token,
        json!({"name": "First", "url": "https://example.com/in", "events": ["*"],
               "secret": own, "headers": {"X-Token": "abc"},
               "retry_config": {"max_retries": 5}}),
    )
    .await;
    assert_eq!(first["secret"], own, "a brought secret is kept");
    assert_eq!(first["headers"], json!({"x-token": "abc"}));
    assert_eq!(first["retry_config"]["max_retries"], 5);
    assert_eq!(first["retry_config"]["retry_delay_seconds"], 60);
    let mut second = hook("Second");
    second["is_active"] = json!(false);
    let second = webhook(&app, &ada.token, second).await;

    for path in ["/webhooks", "/webhooks/"] {
        let resp = app.get(&ada.token, path).await;
        assert_eq!(resp.headers()["x-total-count"], "2");
        let list = expect_json(resp, StatusCode::OK).await;
        let ids: Vec<&Value> = list.as_array().unwrap().iter().map(|w| &w["id"]).collect();
        assert_eq!(
            ids,
            vec![&second["id"], &first["id"]],
            "{path}: newest first"
        );
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .all(|w| w.get("secret").is_none())
        );
    }
    let resp = app.get(&ada.token, "/webhooks/?is_active=false").await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    let inactive = expect_json(resp, StatusCode::OK).await;
    assert_eq!(inactive.as_array().unwrap().len(), 1);
    assert_eq!(inactive[0]["id"], second["id"]);
    let page = app.fetch(&ada.token, "/webhooks/?skip=1&limit=1").await;
    assert_eq!(page[0]["id"], first["id"]);

    let path = format!("/webhooks/{}", first["id"].as_str().unwrap());
    let patched = app
        .update(
            &ada.token,
            &path,
            &json!({"name": "Renamed", "retry_config": {"retry_delay_seconds": 5}}),
        )
        .await;
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(
        patched["retry_config"],
        json!({"max_retries": 5, "retry_delay_seconds": 5})
    );
    assert_eq!(
        patched["url"], "https://example.com/in",
        "fields not sent are kept"
    );
    assert_eq!(patched["events"], json!(["*"]));
    assert_eq!(patched["headers"], json!({"x-token": "abc"}));
    let request = format!("PATCH {path}");
    let body = json!({"url": "ftp://example.com/"});
    app.refused(&ada.token, &request, Some(&body), 422, "url")
        .await;

    assert_eq!(
        app.delete(&ada.token, &path).await.status(),
        StatusCode::NO_CONTENT
    );
    app.refused(&ada.token, &format!("GET {path}"), None, 404, "webhook")
        .await;
    app.refused(&ada.token, &format!("DELETE {path}"), None, 404, "webhook")
        .await;
    let resp = app.get(&ada.token, "/webhooks/").await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    app.refused(&ada.token, "GET /webhooks/not-a-uuid", None, 404, "")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn invalid_webhooks_are_refused_with_field_errors(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let cases = [
        (json!({"name": "  "}), "name", "must not be empty"),
        (json!({"url": "ftp://example.com/x"}), "url", "scheme"),
        (
            json!({"url": "https://user:pw@example.com/"}),
            "url",
            "credentials",
        ),
        (json!({"url": "not a url"}), "url", "invalid url"),
        (json!({"events": []}), "events", "at least one"),
        (
            json!({"events": ["agent.exploded"]}),
            "events",
            "agent.created",
        ),
        (
            json!({"events": ["Not A Type"]}),
            "events",
            "not an event type",
        ),
        (
            json!({"headers": {"Host": "evil"}}),
            "headers.Host",
            "set by the service",
        ),
        (
            json!({"headers": {"webhook-id": "x"}}),
            "headers.webhook-id",
            "set by the service",
        ),
        (json!({"headers": {"x-n": 1}}), "headers.x-n", "string"),
        (
            json!({"retry_config": {"max_retries": 21}}),
            "retry_config.max_retries",
            "between",
        ),
        (
            json!({"retry_config": {"retry_delay_seconds": 0}}),
            "retry_config.retry_delay_seconds",
            "between",
        ),
        (json!({"secret": "whsec_c2hvcnQ="}), "secret", "bytes"),
    ];
    for (change, field, message) in cases {
        let mut body = hook("Valid");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let err = app
            .refused(&ada.token, "POST /webhooks/", Some(&body), 422, message)
            .await;
        let fields = texts(&err["errors"], "field");
        assert_eq!(fields, vec![field], "{body}: {err}");
    }
    let resp = app.get(&ada.token, "/webhooks/").await;
    assert_eq!(resp.headers()["x-total-count"], "0", "nothing was stored");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_ip_literal_outside_the_allow_list_is_not_a_destination(pool: PgPool) {
    let mut strict = config();
    strict.webhooks.allowed_networks = String::new();
    let app = spawn_with(pool, strict, false).await;
    let ada = app.signup("ada@example.com").await;
    for url in [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/",
        "http://10.0.0.7/x",
    ] {
        let mut body = hook("Local");
        body["url"] = json!(url);
        app.refused(
            &ada.token,
            "POST /webhooks/",
            Some(&body),
            422,
            "destination not allowed",
        )
        .await;
    }
    let mut public = hook("Public");
    public["url"] = json!("https://example.com/hook");
    let created = webhook(&app, &ada.token, public).await;
    let request = format!("PATCH /webhooks/{}", created["id"].as_str().unwrap());
    app.refused(
        &ada.token,
        &request,
        Some(&json!({"url": "http://127.0.0.1:9/"})),
        422,
        "destination not allowed",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_rotated_secret_becomes_current_while_the_previous_one_keeps_signing(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let created = webhook(&app, &ada.token, hook("Rotating")).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}/rotate-secret");
    let rotated = app.act(&ada.token, &path, &json!({})).await;
    let new = rotated["secret"].as_str().unwrap();
    assert!(new.starts_with("whsec_"));
    assert_ne!(new, created["secret"].as_str().unwrap());
    let mut conn = app.pool.acquire().await.unwrap();
    let grace = app.state.config.webhooks.secret_rotation_grace_secs;
    let expires_in: f64 = sqlx::query_scalar(
        "select extract(epoch from expires_at - now())::float8 from webhooks.secrets
         where endpoint_id = $1 and expires_at is not null",
    )
    .bind(id.parse::<Uuid>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        (expires_in - grace as f64).abs() < 60.0,
        "the previous secret expires after the grace period ({expires_in} s)"
    );
    let signing_now = signing_secrets(&mut conn, id).await;
    assert_eq!(
        signing_now,
        vec![
            signing::parse_secret(new).unwrap(),
            signing::parse_secret(created["secret"].as_str().unwrap()).unwrap()
        ],
        "current first, then the previous one during the grace period"
    );
    let request = format!("POST /webhooks/{}/rotate-secret", Uuid::new_v4());
    app.refused(&ada.token, &request, Some(&json!({})), 404, "webhook")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn reactivating_an_endpoint_the_service_disabled_clears_why_it_was_disabled(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let created = webhook(&app, &ada.token, hook("Gone")).await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    sqlx::query(
        "update webhooks.endpoints set is_active = false, disabled_reason = '410 Gone',
             disabled_at = now(), failing_since = now() where id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let path = format!("/webhooks/{id}");
    let disabled = app.fetch(&ada.token, &path).await;
    assert_eq!(disabled["disabled_reason"], "410 Gone");
    let renamed = app
        .update(&ada.token, &path, &json!({"name": "Still gone"}))
        .await;
    assert_eq!(
        renamed["disabled_reason"], "410 Gone",
        "other changes keep it"
    );
    let active = app
        .update(&ada.token, &path, &json!({"is_active": true}))
        .await;
    assert_eq!(active["is_active"], true);
    assert_eq!(active["disabled_reason"], Value::Null);
    let (disabled_at, failing_since): (
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as("select disabled_at, failing_since from webhooks.endpoints where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((disabled_at, failing_since), (None, None));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deleting_an_endpoint_fails_its_unfinished_deliveries(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let created = webhook(&app, &ada.token, hook("Doomed")).await;
    let id = created["id"].as_str().unwrap();
    let pending = app
        .create(&ada.token, &format!("/webhooks/{id}/test"), &json!({}))
        .await;
    let done = app
        .create(&ada.token, &format!("/webhooks/{id}/test"), &json!({}))
        .await;
    let done_id: Uuid = done["id"].as_str().unwrap().parse().unwrap();
    sqlx::query(
        "update webhooks.deliveries set status = 'success', outcome = 'delivered' where id = $1",
    )
    .bind(done_id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        app.delete(&ada.token, &format!("/webhooks/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let failed = app
        .fetch(
            &ada.token,
            &format!("/webhooks/deliveries/{}", pending["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["outcome"], "endpoint_deleted");
    let kept = app
        .fetch(&ada.token, &format!("/webhooks/deliveries/{done_id}"))
        .await;
    assert_eq!(
        kept["status"], "success",
        "finished deliveries are left alone"
    );
    let request = format!("POST /webhooks/deliveries/{done_id}/retry");
    app.refused(&ada.token, &request, Some(&json!({})), 409, "deleted")
        .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn another_tenant_cannot_see_or_touch_a_tenants_webhooks(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let eve = app.signup("eve@example.com").await;
    let created = webhook(&app, &ada.token, hook("Private")).await;
    let id = created["id"].as_str().unwrap();
    let delivery = app
        .create(&ada.token, &format!("/webhooks/{id}/test"), &json!({}))
        .await;
    let delivery_id = delivery["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}");

    let delivery_path = format!("/webhooks/deliveries/{delivery_id}");
    let empty = || Some(json!({}));
    app.expect_refusals(
        &eve.token,
        &[
            (&format!("GET {path}"), None, 404, "webhook"),
            (
                &format!("PATCH {path}"),
                Some(json!({"name": "mine"})),
                404,
                "webhook",
            ),
            (&format!("DELETE {path}"), None, 404, "webhook"),
            (&format!("POST {path}/test"), empty(), 404, "webhook"),
            (
                &format!("POST {path}/rotate-secret"),
                empty(),
                404,
                "webhook",
            ),
            (
                &format!("POST {path}/recover"),
                Some(json!({"since": "2020-01-01T00:00:00Z"})),
                404,
                "webhook",
            ),
            (&format!("GET {path}/deliveries"), None, 404, "webhook"),
            (&format!("GET {delivery_path}"), None, 404, "delivery"),
            (
                &format!("POST {delivery_path}/retry"),
                empty(),
                404,
                "delivery",
            ),
        ],
    )
    .await;
    let resp = app.get(&eve.token, "/webhooks/").await;
    assert_eq!(resp.headers()["x-total-count"], "0");
    assert_eq!(expect_json(resp, StatusCode::OK).await, json!([]));

    let still = app.fetch(&ada.token, &path).await;
    assert_eq!(still["name"], "Private", "the owner's webhook is untouched");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn viewers_can_read_webhooks_but_not_create_or_change_them(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    let created = webhook(&app, &ada.token, hook("Shared")).await;
    let viewer = viewer(&app, &ada.token).await;
    let path = format!("/webhooks/{}", created["id"].as_str().unwrap());
    app.fetch(&viewer, &path).await;
    app.fetch(&viewer, "/webhooks/").await;
    let manage = "webhooks:manage";
    app.expect_refusals(
        &viewer,
        &[
            ("POST /webhooks/", Some(hook("Mine")), 403, manage),
            (
                &format!("PATCH {path}"),
                Some(json!({"name": "x"})),
                403,
                manage,
            ),
            (
                &format!("POST {path}/rotate-secret"),
                Some(json!({})),
                403,
                manage,
            ),
            (
                "POST /events",
                Some(json!({"event_type": "order.paid", "payload": {}})),
                403,
                manage,
            ),
        ],
    )
    .await;
    app.refused("", "GET /webhooks/", None, 401, "").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_event_catalogue_lists_the_platform_event_type_names(pool: PgPool) {
    let (app, ada) = api_signed_up(pool).await;
    for path in ["/webhooks/events", "/webhooks/events/"] {
        let names = app.fetch(&ada.token, path).await;
        let names: Vec<&str> = names
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert!(names.contains(&"agent.created"), "{names:?}");
        assert!(names.contains(&"webhook.test"));
        assert_eq!(names.len(), temponest_outbox::EVENT_TYPES.len());
    }
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_application_event_is_published_once_per_idempotency_key(pool: PgPool) {
    let (app, ada) = api_subscribed(pool, &["order.paid"]).await;
    let tenant: Uuid = ada.tenant_id.parse().unwrap();
    let body =
        json!({"event_type": "order.paid", "payload": {"order": 7}, "idempotency_key": "order-7"});
    let first = app.call(&ada.token, "POST /events", Some(&body), 202).await;
    let again = app.call(&ada.token, "POST /events", Some(&body), 202).await;
    assert_eq!(first["event_type"], "order.paid");
    assert_eq!(
        first["event_id"], again["event_id"],
        "a repeat names the same event"
    );
    let unkeyed = json!({"event_type": "order.paid", "payload": {"order": 8}});
    let a = app
        .call(&ada.token, "POST /events", Some(&unkeyed), 202)
        .await;
    let b = app
        .call(&ada.token, "POST /events", Some(&unkeyed), 202)
        .await;
    assert_ne!(a["event_id"], b["event_id"]);

    let rows: Vec<(Uuid, Uuid, Value)> = sqlx::query_as(
        "select event_id, tenant_id, payload from webhooks.deliveries
         where event_type = 'order.paid' order by created_at, id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        rows.len(),
        3,
        "the keyed event once, the unkeyed ones each time"
    );
    assert_eq!(rows[0].0.to_string(), first["event_id"].as_str().unwrap());
    assert_eq!((rows[0].1, &rows[0].2), (tenant, &json!({"order": 7})));
    // Only the keyed event needs a record of its own in the outbox: it is what a repeat finds.
    let recorded: Vec<Uuid> =
        sqlx::query_scalar("select event_id from platform.outbox where event_type = 'order.paid'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(recorded, [rows[0].0]);

    let bob = app.signup("bob@example.com").await;
    let other = app.call(&bob.token, "POST /events", Some(&body), 202).await;
    assert_ne!(other["event_id"], first["event_id"], "keys are per tenant");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn application_events_may_not_use_platform_namespaces_or_malformed_types(pool: PgPool) {
    // Subscribed to everything: an event that got through would leave a delivery.
    let (app, ada) = api_subscribed(pool, &["*"]).await;
    let tenant: Uuid = ada.tenant_id.parse().unwrap();
    for (event_type, needle) in [
        ("agent.created", "reserved"),
        ("webhook.whatever", "reserved"),
        ("orders", "dotted"),
        ("Order.Paid", "dotted"),
    ] {
        let body = json!({"event_type": event_type, "payload": {}});
        app.refused(&ada.token, "POST /events", Some(&body), 422, needle)
            .await;
    }
    let body = json!({"event_type": "order.paid", "payload": [1]});
    app.refused(&ada.token, "POST /events", Some(&body), 422, "payload")
        .await;
    let count: i64 = sqlx::query_scalar("select count(*) from platform.outbox where tenant_id = $1
         and event_type in ('agent.created', 'webhook.whatever', 'orders', 'Order.Paid', 'order.paid')")
        .bind(tenant)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let delivered: i64 =
        sqlx::query_scalar("select count(*) from webhooks.deliveries where tenant_id = $1")
            .bind(tenant)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((count, delivered), (0, 0), "nothing was published");
}

/// The secrets the sender signs with now (current first), as it loads them.
async fn signing_secrets(conn: &mut sqlx::PgConnection, id: &str) -> Vec<Vec<u8>> {
    let targets = temponest_webhooks::db::queue::targets(conn, &[id.parse().unwrap()])
        .await
        .unwrap();
    targets.into_iter().next().expect("the endpoint").secrets
}
