//! Operator actions (`temponest admin ...`) against a real Postgres: they apply the API's
//! rules and refuse with the messages the CLI prints.

use std::time::Duration;

use temponest_auth::admin::{self, AdminError};
use temponest_auth::domain::password::PasswordHasher;

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn operator_actions_refuse_bad_input_with_the_messages_the_cli_prints(pool: sqlx::PgPool) {
    let hasher = PasswordHasher::new(1024, 1, 1, 1, Duration::from_secs(5)).unwrap();
    assert!(matches!(
        admin::create_tenant(&pool, "  ").await,
        Err(AdminError::BlankTenantName)
    ));
    let tenant = admin::create_tenant(&pool, "Acme").await.unwrap();
    let refusal = |result: Result<uuid::Uuid, AdminError>| result.unwrap_err().to_string();
    let user = |email: &'static str, password: &'static str, role: &'static str| {
        let (pool, hasher) = (pool.clone(), hasher.clone());
        async move {
            admin::create_user(&pool, &hasher, tenant, email, password, &[role.to_owned()]).await
        }
    };
    assert_eq!(
        refusal(user("nope", "long enough pw", "admin").await),
        "email must be an email address like name@example.com"
    );
    assert_eq!(
        refusal(user("ops@example.com", "short", "admin").await),
        "password must be at least 8 characters"
    );
    assert!(
        refusal(user("ops@example.com", "long enough pw", "root").await)
            .contains("unknown role `root`")
    );
    user("ops@example.com", "long enough pw", "admin")
        .await
        .unwrap();
    assert!(
        refusal(user("ops@example.com", "long enough pw", "admin").await).contains("already"),
        "a taken email is refused with the API's message"
    );
    let no_user = admin::create_api_key(&pool, "who@example.com", "ci", &[])
        .await
        .unwrap_err();
    assert_eq!(no_user.to_string(), "no user with that email");
    let scopes = ["agents:read".to_owned(), "agents:teleport".to_owned()];
    let unknown = admin::create_api_key(&pool, "ops@example.com", "ci", &scopes)
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        r#"unknown scopes: ["agents:teleport"]"#
    );
    let key = admin::create_api_key(&pool, "ops@example.com", "ci", &scopes[..1])
        .await
        .unwrap();
    assert!(key.starts_with("sk_"), "{key}");
}
