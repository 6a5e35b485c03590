//! Users and roles within a tenant, tenant isolation, /tenants/current.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, Session, TestApp, expect_error, expect_json, spawn, spawn_signed_up,
};

/// Adds dev@example.com as a developer of the admin's tenant, with an API key of their own.
async fn developer_with_api_key(app: &TestApp, admin: &str) -> (Session, Value) {
    let developer = json!({"role": "developer"});
    let dev = app.add_user(admin, "dev@example.com", developer).await;
    let key = json!({"name": "k"});
    let key = app.create_key(&dev.access, key).await;
    (dev, key)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_admin_adds_users_with_roles_and_permissions_follow_the_role(pool: PgPool) {
    let (app, admin) = spawn_signed_up(pool).await;
    let roles = json!({"roles": ["viewer"]});
    let viewer = app.add_user(&admin.access, "vic@example.com", roles).await;
    assert_eq!(viewer.tenant_id, admin.tenant_id);
    app.expect_refusals(
        &viewer.access,
        &[
            ("GET /users", None, 403, "users:read"),
            (
                "POST /users",
                Some(json!({"email": "x@example.com", "password": PASSWORD})),
                403,
                "users:manage",
            ),
        ],
    )
    .await;

    let list = app.page(&admin.access, "/users/").await;
    assert_eq!(list.total, 2);
    assert_eq!(list.items[0]["email"], "vic@example.com", "newest first");
    let page = app.page(&admin.access, "/users?limit=1&skip=1").await;
    assert_eq!(page.total, 2);
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0]["email"], "ada@example.com");
    let page = app.fetch(&admin.access, "/users?page=1&page_size=1").await;
    assert_eq!(page[0]["email"], "vic@example.com");
    app.expect_refusals(
        &admin.access,
        &[
            ("GET /users?limit=0", None, 422, "limit"),
            ("GET /users?skip=abc", None, 422, "skip"),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_role_change_applies_to_api_keys_at_once(pool: PgPool) {
    let (app, admin) = spawn_signed_up(pool).await;
    let (dev, key) = developer_with_api_key(&app, &admin.access).await;
    let key = key["key"].as_str().unwrap();
    let me = app.fetch(key, "/auth/me").await;
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("agents:write"))
    );

    let viewer = json!({"roles": ["viewer"]});
    let patched = app.patch_user(&admin.access, &dev.user_id, viewer).await;
    let patched = expect_json(patched, StatusCode::OK).await;
    assert_eq!(patched["roles"], json!(["viewer"]));
    let me = app.fetch(key, "/auth/me").await;
    assert_eq!(me["roles"], json!(["viewer"]));
    assert!(
        !me["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("agents:write"))
    );
    let events = app.audit_count("user.roles_changed").await;
    assert_eq!(events, 1);

    let superuser = json!({"roles": ["superuser"]});
    let resp = app.patch_user(&admin.access, &dev.user_id, superuser).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "unknown role").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn deactivating_a_user_ends_their_sessions_and_keys(pool: PgPool) {
    let (app, admin) = spawn_signed_up(pool).await;
    let (dev, key) = developer_with_api_key(&app, &admin.access).await;
    app.fetch(key["key"].as_str().unwrap(), "/auth/me").await;

    let inactive = json!({"is_active": false});
    let resp = app.patch_user(&admin.access, &dev.user_id, inactive).await;
    expect_json(resp, StatusCode::OK).await;
    let key = key["key"].as_str().unwrap();
    app.refused(key, "GET /auth/me", None, 401, "").await;
    let refresh = json!({"refresh_token": dev.refresh});
    app.refused_public("POST /auth/refresh", Some(&refresh), 401, "")
        .await;
    app.login_refused(
        "dev@example.com",
        PASSWORD,
        StatusCode::FORBIDDEN,
        "disabled",
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn the_last_admin_cannot_be_demoted(pool: PgPool) {
    let (app, admin) = spawn_signed_up(pool).await;
    let viewer = json!({"roles": ["viewer"]});
    let resp = app.patch_user(&admin.access, &admin.user_id, viewer).await;
    expect_error(resp, StatusCode::CONFLICT, "at least one active admin").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_tenant_can_never_read_or_change_another_tenants_rows(pool: PgPool) {
    let app = spawn(pool).await;
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    assert_ne!(a.tenant_id, b.tenant_id);
    let a_key = app.create_key(&a.access, json!({"name": "a"})).await;

    let b_users = app.fetch(&b.access, "/users").await;
    assert_eq!(b_users.as_array().unwrap().len(), 1);
    assert_eq!(b_users[0]["email"], "b@example.com");
    app.expect_refusals(
        &b.access,
        &[
            (&format!("GET /users/{}", a.user_id), None, 404, "not found"),
            (
                &format!("PATCH /users/{}", a.user_id),
                Some(json!({"is_active": false})),
                404,
                "not found",
            ),
            (
                &format!("DELETE /api-keys/{}", a_key["id"].as_str().unwrap()),
                None,
                404,
                "not found",
            ),
        ],
    )
    .await;
    let b_keys = app.fetch(&b.access, "/api-keys").await;
    assert_eq!(b_keys, json!([]));
    let tenant = app.fetch(&b.access, "/tenants/current").await;
    assert_eq!(tenant["id"], b.tenant_id);
    assert_eq!(tenant["user_count"], 1);
    // A's key and user are untouched.
    app.fetch(a_key["key"].as_str().unwrap(), "/auth/me").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn malformed_and_unknown_ids_are_404(pool: PgPool) {
    let (app, admin) = spawn_signed_up(pool).await;
    app.expect_refusals(
        &admin.access,
        &[
            ("GET /users/not-a-uuid", None, 404, "not found"),
            (
                &format!("GET /users/{}", uuid::Uuid::now_v7()),
                None,
                404,
                "user not found",
            ),
            ("DELETE /api-keys/123", None, 404, "not found"),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn two_admins_demoting_each_other_at_once_leave_one_admin(pool: PgPool) {
    let (app, ada) = spawn_signed_up(pool).await;
    let bob = app
        .add_user(&ada.access, "bob@example.com", json!({"role": "admin"}))
        .await;
    let bob_access = &bob.access;
    let demote = json!({"roles": ["viewer"]});
    let (bob_path, ada_path) = (
        format!("/users/{}", bob.user_id),
        format!("/users/{}", ada.user_id),
    );
    let demote_bob = app.patch(&ada.access, &bob_path, &demote);
    let demote_ada = app.patch(bob_access, &ada_path, &demote);
    let (a, b) = tokio::join!(demote_bob, demote_ada);
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    // One demotion wins. The other is refused: as the last admin's (409), or — when the
    // winner demoted its author first — because that author is no admin any more (its
    // session ended: 401; or its current roles lack users:manage: 403).
    assert_eq!(statuses[0], StatusCode::OK, "{statuses:?}");
    assert!(
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::CONFLICT
        ]
        .contains(&statuses[1]),
        "{statuses:?}"
    );
    let admins = app
        .count("select count(*) from auth.users where 'admin' = any(roles)")
        .await;
    assert_eq!(admins, 1);
}

/// Whether `status` refuses a caller that is no admin (any more): 401 or 403.
fn refused_as_not_admin(status: StatusCode) -> bool {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_demoted_admin_cannot_promote_themselves_back_with_the_token_they_hold(pool: PgPool) {
    let (app, ada) = spawn_signed_up(pool).await;
    let bob = app
        .add_user(&ada.access, "bob@example.com", json!({"role": "admin"}))
        .await;
    let (bob_id, bob_access) = (&bob.user_id, &bob.access);
    // Bob's token says admin; it is cached as verified by now.
    app.fetch(bob_access, "/users").await;

    let viewer = json!({"roles": ["viewer"]});
    let demoted = app.patch_user(&ada.access, bob_id, viewer).await;
    expect_json(demoted, StatusCode::OK).await;

    let admin = json!({"roles": ["admin"]});
    let comeback = app.patch_user(bob_access, bob_id, admin.clone()).await;
    let status = comeback.status();
    assert!(
        refused_as_not_admin(status),
        "the stale admin token was honoured: {status}"
    );
    let key = app
        .post(bob_access, "/api-keys", &json!({"name": "backdoor"}))
        .await;
    let status = key.status();
    assert!(refused_as_not_admin(status), "{status}");
    let roles: Vec<String> = sqlx::query_scalar("select roles from auth.users where email = $1")
        .bind("bob@example.com")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(roles, vec!["viewer".to_owned()]);
    let keys = app.count("select count(*) from auth.api_keys").await;
    assert_eq!(keys, 0);

    // Signing in again gives a token with the viewer's permissions only.
    let fresh = app.tokens("bob@example.com").await;
    let fresh = fresh["access_token"].as_str().unwrap();
    let resp = app.patch_user(fresh, bob_id, admin).await;
    expect_error(resp, StatusCode::FORBIDDEN, "users:manage").await;
}
