//! End to end in a real headless Chromium (Debian's `chromium` + `chromedriver`, driven over
//! WebDriver with fantoccini) against the whole platform: sign in, create an agent, run it
//! and receive its answer over `EventSource`, find the execution, create a schedule and see
//! its next fire times, add a webhook endpoint and see a test delivery, sign out; a viewer
//! sees no mutating buttons and a forged POST is refused; the cookie is out of reach of
//! scripts and no inline script runs; the execution list shows a run started elsewhere
//! without reloading. A screenshot of every page is taken (and checked to be a PNG) into a
//! temporary directory, or into the directory `TEMPONEST_CONSOLE_SCREENSHOTS` names
//! (relative to the workspace): `TEMPONEST_CONSOLE_SCREENSHOTS=docs/console ./scripts/test`
//! regenerates the documentation's.
//!
//! `.ci/run` installs chromium and chromium-driver; elsewhere install them with
//! `apt-get install -y chromium chromium-driver`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::browser::{Platform, receiver, spawn};
use temponest_test_client::PASSWORD;

/// A running chromedriver and a browser session on it.
struct Chromium {
    client: Client,
    _driver: Child,
}

/// Starts chromedriver on a free port (ready once it says so on stdout) and a headless
/// Chromium session.
async fn chromium() -> Chromium {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver is installed (apt-get install -y chromium chromium-driver)");
    let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("started successfully") {
                return;
            }
        }
        panic!("chromedriver exited before it was ready");
    })
    .await
    .expect("chromedriver starts within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900", "--lang=en-US"]}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Chromium {
        client,
        _driver: driver,
    }
}

/// Where screenshots go: the directory `TEMPONEST_CONSOLE_SCREENSHOTS` names (a relative
/// path is taken from the workspace root), else a temporary one of this test run.
fn screenshot_dir() -> PathBuf {
    match std::env::var_os("TEMPONEST_CONSOLE_SCREENSHOTS").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir),
        None => std::env::temp_dir().join(format!(
            "temponest-console-screenshots-{}",
            std::process::id()
        )),
    }
}

/// Saves a screenshot of the current page as `<name>.png` in [`screenshot_dir`], and checks
/// that a PNG was written.
async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    let written = std::fs::read(&path).unwrap();
    assert!(
        written.len() > 1000 && written.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG screenshot",
        path.display()
    );
}

/// Navigates to the console page at `path`.
async fn open(client: &Client, base: &str, path: &str) {
    client.goto(&format!("{base}{path}")).await.unwrap();
}

/// The path of the page the browser shows.
async fn current_path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_owned()
}

/// The `value` of the form field at `css` (empty when it has none).
async fn value_of(client: &Client, css: &str) -> String {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.prop("value").await.unwrap().unwrap_or_default()
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits (up to 20 s) for an element whose text contains `text`.
async fn wait_text(client: &Client, css: &str, text: &str) {
    let wanted = text.to_owned();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let elements = client.find_all(Locator::Css(css)).await.unwrap();
            for element in elements {
                if element.text().await.unwrap_or_default().contains(&wanted) {
                    return;
                }
            }
            client
                .wait()
                .at_most(Duration::from_secs(1))
                .for_element(Locator::Css("body"))
                .await
                .unwrap();
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no {css} containing {text:?} in {}",
        client.source().await.unwrap_or_default()
    );
}

async fn sign_in(client: &Client, base: &str, email: &str) {
    open(client, base, "/console").await;
    assert!(
        current_path(client).await.ends_with("/console/sign-in"),
        "signed out: sent to sign-in"
    );
    fill(client, "#email", email).await;
    fill(client, "#password", PASSWORD).await;
    click(client, "form button[type=submit]").await;
    wait_text(client, "h1", "Last 24 hours").await;
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn an_operator_uses_every_page_in_chromium_and_a_viewer_cannot_change_anything(
    pool: sqlx::PgPool,
) {
    let platform: Platform = spawn(pool).await;
    let base = platform.api.base.clone();
    let admin = platform.admin("ada@example.com").await;
    platform.viewer(&admin, "vic@example.com").await;
    let Chromium { client, _driver } = chromium().await;

    open(&client, &base, "/console").await;
    shot(&client, "sign-in").await;
    sign_in(&client, &base, "ada@example.com").await;

    // The session cookie is HttpOnly (no script sees it) and SameSite=Strict.
    let visible = client
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !visible.as_str().unwrap_or_default().contains("tn_console"),
        "{visible}"
    );
    let cookie = client.get_named_cookie("tn_console").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert!(format!("{:?}", cookie.same_site()).contains("Strict"));
    assert_eq!(cookie.path(), Some("/console"));
    let inline = client
        .execute(
            "return document.querySelectorAll('script:not([src]), [style]').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(inline, json!(0), "nothing inline for the CSP to refuse");

    // Create an agent and run it; the answer arrives over EventSource through the console.
    open(&client, &base, "/console/agents/new").await;
    fill(&client, "#name", "parrot").await;
    fill(&client, "#provider", "echo").await;
    fill(&client, "#model", "echo-1").await;
    shot(&client, "agent-new").await;
    click(&client, "form.stack button[type=submit]").await;
    wait_text(&client, "h1", "parrot").await;
    fill(&client, "#message", "hello from chromium").await;
    click(&client, "form[action$='/run'] button").await;
    wait_text(&client, "#status", "completed").await;
    wait_text(&client, "#answer", "Echo: hello from chromium").await;
    shot(&client, "execution").await;
    let path = current_path(&client).await;
    let execution = path.rsplit('/').next().unwrap().to_owned();
    let streamed = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; let text = '';
             const source = new EventSource(arguments[0]);
             source.onmessage = (e) => { if (e.data === '[DONE]') { source.close(); done(text); } else { text += JSON.parse(e.data).content; } };
             source.onerror = () => { source.close(); done('error: ' + text); };",
            vec![json!(format!("/console/executions/{execution}/stream"))],
        )
        .await
        .unwrap();
    assert_eq!(
        streamed,
        json!("Echo: hello from chromium"),
        "EventSource under the CSP, with the cookie"
    );
    open(&client, &base, "/console/executions").await;
    wait_text(&client, "table", "hello from chromium").await;
    shot(&client, "executions").await;

    // The list follows the tenant's executions: a run started elsewhere (here through the
    // API) appears, completed, without the page being reloaded.
    client
        .execute("window.stillTheSamePage = true; return null", vec![])
        .await
        .unwrap();
    let agents = platform.api.fetch(&admin.token, "/agents").await;
    let agent_id = agents[0]["id"].as_str().unwrap().to_owned();
    let run = platform
        .api
        .execute(&admin.token, &agent_id, "started elsewhere")
        .await;
    let row = format!("#execution-{}", run["id"].as_str().unwrap());
    wait_text(&client, &row, "started elsewhere").await;
    wait_text(&client, &row, "completed").await;
    let same_page = client
        .execute("return window.stillTheSamePage === true", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, json!(true), "the row arrived without a reload");
    shot(&client, "executions-live").await;
    open(&client, &base, "/console/agents").await;
    shot(&client, "agents").await;
    open(&client, &base, "/console").await;
    // (The dashboard is cached for 30 s per tenant: the figures may predate the run.)
    wait_text(&client, "h1", "Last 24 hours").await;
    shot(&client, "overview").await;
    client.set_window_size(390, 844).await.unwrap();
    shot(&client, "overview-phone").await;
    client.set_window_size(1280, 900).await.unwrap();

    // A schedule: preview its next fire times, create it, see them on its page.
    open(&client, &base, "/console/schedules/new").await;
    fill(&client, "#name", "weekday digest").await;
    fill(&client, "#cron_expression", "0 9 * * 1-5").await;
    fill(&client, "#timezone", "Europe/Berlin").await;
    fill(&client, "#message", "summarise yesterday").await;
    click(&client, "button[formaction$='/preview']").await;
    // The preview is a page of its own: wait for it before counting (the form already lists
    // its defaults' fire times).
    let shown = tokio::time::timeout(Duration::from_secs(20), async {
        while !current_path(&client).await.ends_with("/preview") {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(shown.is_ok(), "the preview page is shown");
    let previewed = client.find_all(Locator::Css("#preview li")).await.unwrap();
    assert_eq!(previewed.len(), 5);
    shot(&client, "schedule-new").await;
    click(&client, "form.stack button:not([formaction])").await;
    wait_text(&client, "h1", "weekday digest").await;
    assert_eq!(
        client
            .find_all(Locator::Css("#upcoming li"))
            .await
            .unwrap()
            .len(),
        5
    );
    shot(&client, "schedule").await;
    open(&client, &base, "/console/schedules").await;
    shot(&client, "schedules").await;

    // A webhook endpoint and a test delivery.
    let url = receiver("received").await;
    open(&client, &base, "/console/webhooks").await;
    fill(&client, "#name", "ci").await;
    fill(&client, "#url", &url).await;
    click(&client, "input[value='agent.created']").await;
    click(&client, "form.stack button[type=submit]").await;
    wait_text(&client, "h1", "created").await;
    let secret = value_of(&client, "#secret").await;
    assert!(!secret.is_empty(), "the signing secret is shown once");
    click(&client, "a.button").await;
    click(&client, "form[action$='/test'] button").await;
    let delivered = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if client.source().await.unwrap().contains(">200<") {
                return;
            }
            client.refresh().await.unwrap();
        }
    })
    .await;
    assert!(delivered.is_ok(), "the test delivery shows its 200");
    shot(&client, "webhook").await;
    click(&client, "a[href*='/console/webhooks/deliveries/']").await;
    wait_text(&client, ".calls", "received").await;
    shot(&client, "delivery").await;
    open(&client, &base, "/console/costs").await;
    shot(&client, "costs").await;
    open(&client, &base, "/console/access").await;
    shot(&client, "access").await;

    // Sign out: back to sign-in, and the console is closed.
    click(&client, "form.who button").await;
    wait_text(&client, "h1", "TempoNest console").await;
    open(&client, &base, "/console/agents").await;
    assert!(current_path(&client).await.ends_with("/console/sign-in"));

    // A viewer: no mutating buttons anywhere, and a forged POST is refused.
    sign_in(&client, &base, "vic@example.com").await;
    open(&client, &base, "/console/agents").await;
    click(&client, "table a").await;
    wait_text(&client, "h1", "parrot").await;
    for pages in [
        "/console/agents",
        "/console/schedules",
        "/console/webhooks",
        "/console/executions",
    ] {
        open(&client, &base, pages).await;
        let buttons: Vec<Value> = client
            .execute("return [...document.querySelectorAll('main form[method=post] button')].map(b => b.textContent)", vec![])
            .await
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(buttons.is_empty(), "{pages}: a viewer sees {buttons:?}");
    }
    open(&client, &base, "/console/agents").await;
    shot(&client, "viewer-agents").await;
    let forged = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/console/agents', {method: 'POST', body: new URLSearchParams({name: 'forged', model: 'echo-1', _csrf: 'guessed'})})
               .then(r => done(r.status), e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forged, json!(403));
    let csrf = value_of(&client, "input[name=_csrf]").await;
    assert!(
        !csrf.is_empty(),
        "the page's forms carry the session's token"
    );
    let with_token = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/console/agents', {method: 'POST', body: new URLSearchParams({name: 'forged', model: 'echo-1', _csrf: arguments[0]})})
               .then(r => done(r.status), e => done(String(e)));",
            vec![json!(csrf)],
        )
        .await
        .unwrap();
    assert_eq!(
        with_token,
        json!(403),
        "the API's own role check refuses the viewer"
    );
    client.close().await.unwrap();
}
