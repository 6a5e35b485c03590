//! The console's security model: signed-out redirects, the sealed cookie and its flags,
//! refresh on an expired access token, sign-out revoking the session, CSRF and origin
//! refusals, the security headers and the assets' caching.

use reqwest::StatusCode;
use temponest_console::session::{COOKIE, CookieJar, SessionData};
use temponest_console::web::CONTENT_SECURITY_POLICY;
use temponest_test_client::PASSWORD;

use crate::browser::{COOKIE_KEY, location, set_cookie, spawn, spawn_with_ada};

fn assert_security_headers(resp: &reqwest::Response) {
    let h = resp.headers();
    assert_eq!(h["content-security-policy"], CONTENT_SECURITY_POLICY);
    assert!(
        CONTENT_SECURITY_POLICY.contains("script-src 'self';")
            && !CONTENT_SECURITY_POLICY.contains("unsafe")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn signed_out_browsers_are_sent_to_sign_in_and_every_response_is_locked_down(
    pool: sqlx::PgPool,
) {
    let platform = spawn(pool).await;
    let mut browser = platform.browser();
    for path in [
        "/console",
        "/console/agents",
        "/console/executions",
        "/console/agents/new",
    ] {
        let resp = browser.get(path).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&resp), "/console/sign-in", "{path}");
        assert_security_headers(&resp);
    }
    let resp = browser.get("/console/sign-in").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_security_headers(&resp);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"<label for="password">"#) && page.contains(r#"type="password""#));
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "nothing inline under the CSP"
    );
    let resp = browser.post("/console/sign-out", &[("_csrf", "x")]).await;
    assert_eq!(
        location(&resp),
        "/console/sign-in",
        "signing out without a session just goes to sign-in"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn signing_in_sets_a_sealed_http_only_strict_cookie_and_a_wrong_password_shows_the_apis_detail(
    pool: sqlx::PgPool,
) {
    let platform = spawn(pool).await;
    platform.admin("ada@example.com").await;
    let mut browser = platform.browser();
    let resp = browser.sign_in("ada@example.com", "wrong password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&resp).is_none());
    let page = resp.text().await.unwrap();
    assert!(page.contains("invalid email or password"), "{page}");
    assert!(
        page.contains(r#"value="ada@example.com""#),
        "the email is kept"
    );

    let resp = browser.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&resp).unwrap();
    assert!(cookie.starts_with(&format!("{COOKIE}=")), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag: {cookie}"
    );
    assert!(
        !cookie.contains("eyJ") && !cookie.contains("rt_"),
        "no token is readable in the cookie"
    );
    let page = browser.page("/console").await;
    assert!(page.contains("ada@example.com") && page.contains("Last 24 hours"));

    // Behind a TLS proxy the cookie is Secure.
    let resp = platform
        .browser()
        .http
        .post(format!("{}/console/sign-in", platform.api.base))
        .header("x-forwarded-proto", "https")
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&resp).unwrap().contains("; Secure"));
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_expired_access_token_is_refreshed_and_the_renewed_cookie_is_set(pool: sqlx::PgPool) {
    let platform = spawn(pool).await;
    platform.admin("ada@example.com").await;
    let credentials = serde_json::json!({"email": "ada@example.com", "password": PASSWORD});
    let tokens = platform
        .api
        .call_public("POST /auth/login", Some(&credentials), 200)
        .await;
    let jar = CookieJar::new(COOKIE_KEY, false, 3600).unwrap();
    let stale = SessionData::new(
        "not-a-valid-access-token".into(),
        tokens["refresh_token"].as_str().unwrap().into(),
        "ada@example.com".into(),
        vec!["agents:read".into()],
        3600,
    );
    let mut browser = platform.browser();
    let set = jar.store(&stale, &Default::default()).unwrap();
    browser.cookie = Some(set.split(';').next().unwrap().to_owned());
    let before = browser.cookie.clone();
    let resp = browser.get("/console/agents").await;
    assert_eq!(resp.status(), StatusCode::OK, "refreshed behind the scenes");
    assert!(set_cookie(&resp).is_some(), "the rotated tokens are stored");
    assert_ne!(browser.cookie, before);
    assert!(
        resp.text().await.unwrap().contains("New agent"),
        "permissions re-read at refresh"
    );
    // The old refresh token was rotated: a browser replaying the stale cookie is signed out
    // once the reuse grace has passed, or keeps working within it; either way never a 500.
    let mut replay = platform.browser();
    replay.cookie = before;
    let resp = replay.get("/console/agents").await;
    assert!(
        matches!(resp.status(), StatusCode::OK | StatusCode::SEE_OTHER),
        "{}",
        resp.status()
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn signing_out_revokes_the_session_so_a_copied_cookie_no_longer_works(pool: sqlx::PgPool) {
    let (platform, _, mut browser) = spawn_with_ada(pool).await;
    let copied = browser.cookie.clone();
    let csrf = browser.csrf("/console").await;
    let resp = browser.post("/console/sign-out", &[("_csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/console/sign-in");
    assert!(set_cookie(&resp).unwrap().contains("Max-Age=0"));
    assert!(browser.cookie.is_none());
    let mut thief = platform.browser();
    thief.cookie = copied;
    let resp = thief.get("/console/agents").await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "the tokens inside were revoked"
    );
    assert_eq!(location(&resp), "/console/sign-in");
    assert!(
        set_cookie(&resp).unwrap().contains("Max-Age=0"),
        "and the dead cookie is cleared"
    );
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn forms_without_the_sessions_csrf_token_or_from_another_origin_are_refused(
    pool: sqlx::PgPool,
) {
    let (platform, admin, mut browser) = spawn_with_ada(pool).await;
    let agent = [
        ("name", "parrot"),
        ("provider", "echo"),
        ("model", "echo-1"),
    ];
    let resp = browser.post("/console/agents", &agent).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "no token");
    assert!(resp.text().await.unwrap().contains("security token"));
    let mut forged = agent.to_vec();
    forged.push(("_csrf", "forged-token"));
    assert_eq!(
        browser.post("/console/agents", &forged).await.status(),
        StatusCode::FORBIDDEN
    );
    let other = platform
        .signed_in("ada@example.com")
        .await
        .csrf("/console")
        .await;
    let mut stolen = agent.to_vec();
    stolen.push(("_csrf", &other));
    assert_eq!(
        browser.post("/console/agents", &stolen).await.status(),
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    let csrf = browser.csrf("/console/agents/new").await;
    let mut good = agent.to_vec();
    good.push(("_csrf", &csrf));
    let resp = browser
        .post_with("/console/agents", &good, Some("http://evil.example"))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "another origin");
    let resp = browser
        .post_with(
            "/console/sign-in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "sign-in from another origin"
    );
    let agents = platform.api.fetch(&admin.token, "/agents").await;
    assert_eq!(agents, serde_json::json!([]), "nothing was created");
    let resp = browser.post("/console/agents", &good).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "the real form works");
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn assets_are_served_under_their_content_hash_and_cached_for_a_year(pool: sqlx::PgPool) {
    let platform = spawn(pool).await;
    let mut browser = platform.browser();
    let page = browser.page("/console/sign-in").await;
    let css = temponest_console::assets::CSS.url();
    assert!(page.contains(css), "the page links the hashed name");
    let resp = browser.get(css).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_security_headers(&resp);
    let js = temponest_console::assets::JS.url();
    assert_eq!(browser.get(js).await.status(), StatusCode::OK);
    assert_eq!(
        browser.get("/console/assets/console.css").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser
            .get("/console/assets/console.0000000000.css")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let gzipped = browser
        .http
        .get(format!("{}{css}", platform.api.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        gzipped.headers()["content-encoding"],
        "gzip",
        "the platform compresses assets"
    );
}
