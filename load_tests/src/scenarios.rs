//! The scenarios: what one simulated user does (the agents ones are in [`crate::agents`]). Every user that needs an account
//! registers its own (a uuid email) in `on_start`, so users never share credentials, never
//! trip the per-account login limit of each other and never use a wrong password (failed
//! logins lock accounts).
//!
//! Set-up requests are named `setup: ...` so they do not mix with the measured endpoint.

use clap::ValueEnum;
use goose::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::agents;

/// The scenarios this binary can run, one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// `GET /health` in a loop.
    Health,
    /// `POST /auth/register` with a fresh account each iteration (argon2id hash).
    Register,
    /// Register once, then `POST /auth/login` with the right password in a loop (argon2id verify).
    Login,
    /// Register and log in once, then `GET /auth/me` with the bearer token in a loop.
    Me,
    /// Register and log in once, then rotate the user's own refresh token in a loop.
    Refresh,
    /// Register, log in, create one echo agent, then `GET /agents/{id}` in a loop (cached).
    AgentGet,
    /// Register, log in, create 20 agents, then `GET /agents/?limit=20` in a loop.
    AgentList,
    /// Register and log in once, then `POST /agents/` with a fresh name each iteration.
    AgentCreate,
    /// Register, log in, create one echo agent, then `POST /agents/{id}/execute` in a loop.
    ExecuteEcho,
    /// The same with `"stream": true`, reading each SSE stream to `data: [DONE]`.
    ExecuteEchoStream,
}

impl Which {
    /// The request key (`METHOD name`) goose reports the measured endpoint under.
    pub fn measured_request(self) -> &'static str {
        match self {
            Which::Health => "GET /health",
            Which::Register => "POST /auth/register",
            Which::Login => "POST /auth/login",
            Which::Me => "GET /auth/me",
            Which::Refresh => "POST /auth/refresh",
            Which::AgentGet => "GET /agents/{id}",
            Which::AgentList => "GET /agents/?limit=20",
            Which::AgentCreate => "POST /agents/",
            Which::ExecuteEcho => "POST /agents/{id}/execute",
            Which::ExecuteEchoStream => "POST /agents/{id}/execute (stream)",
        }
    }

    /// The scenario's command-line name (`agent-get`, ...), which also names its reports.
    pub fn report_name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_else(|| "run".to_owned())
    }

    /// The goose scenario for this choice.
    pub fn scenario(self) -> Scenario {
        match self {
            Which::Health => scenario!("health").register_transaction(transaction!(get_health)),
            Which::Register => {
                scenario!("register").register_transaction(transaction!(register_fresh))
            }
            Which::Login => scenario!("login")
                .register_transaction(transaction!(setup_register).set_on_start())
                .register_transaction(transaction!(login_again)),
            Which::Me => scenario!("me")
                .register_transaction(transaction!(setup_register).set_on_start().set_sequence(1))
                .register_transaction(transaction!(setup_login).set_on_start().set_sequence(2))
                .register_transaction(transaction!(get_me)),
            Which::Refresh => scenario!("refresh")
                .register_transaction(transaction!(setup_register).set_on_start().set_sequence(1))
                .register_transaction(transaction!(setup_login).set_on_start().set_sequence(2))
                .register_transaction(transaction!(rotate_refresh_token)),
            Which::AgentGet => agents::agent_get(),
            Which::AgentList => agents::agent_list(),
            Which::AgentCreate => agents::agent_create(),
            Which::ExecuteEcho => agents::execute_echo(false),
            Which::ExecuteEchoStream => agents::execute_echo(true),
        }
    }
}

/// A user's own account and current tokens (goose session data).
#[derive(Clone)]
pub(crate) struct Account {
    email: String,
    password: String,
    pub(crate) access_token: String,
    refresh_token: String,
    /// The agent the agents scenarios use (empty until set-up created it).
    pub(crate) agent_id: String,
}

/// `POST /auth/login` and `POST /auth/refresh` answer with this pair.
#[derive(Deserialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
}

/// The password every load-test account gets: long enough for any password policy.
const PASSWORD: &str = "load-test Password 1234!";

fn fresh_email() -> String {
    format!("load-{}@example.test", uuid::Uuid::new_v4())
}

fn credentials(account: &Account) -> serde_json::Value {
    json!({ "email": account.email, "password": account.password })
}

/// POSTs `body` as JSON under a request name of our choosing.
async fn post_named(
    user: &mut GooseUser,
    path: &str,
    name: &str,
    body: &serde_json::Value,
) -> Result<goose::goose::GooseResponse, Box<TransactionError>> {
    let builder = user
        .get_request_builder(&GooseMethod::Post, path)?
        .json(body);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    user.request(request).await
}

/// Reads a token pair from a successful response, or marks the request failed.
async fn read_tokens(
    user: &mut GooseUser,
    mut goose: goose::goose::GooseResponse,
) -> Result<TokenPair, Box<TransactionError>> {
    match goose.response {
        Ok(response) if response.status().is_success() => {
            match response.json::<TokenPair>().await {
                Ok(pair) => Ok(pair),
                Err(_) => Err(user
                    .set_failure("token response is not JSON", &mut goose.request, None, None)
                    .unwrap_err()),
            }
        }
        // goose has already recorded the status code or the transport error.
        _ => Err(Box::new(TransactionError::RequestFailed {
            raw_request: Box::new(goose.request),
        })),
    }
}

async fn get_health(user: &mut GooseUser) -> TransactionResult {
    user.get("/health").await?;
    Ok(())
}

async fn register_fresh(user: &mut GooseUser) -> TransactionResult {
    let body = json!({ "email": fresh_email(), "password": PASSWORD, "full_name": "Load Test" });
    user.post_json("/auth/register", &body).await?;
    Ok(())
}

/// Creates this user's own account and keeps it in the session.
pub(crate) async fn setup_register(user: &mut GooseUser) -> TransactionResult {
    let account = Account {
        email: fresh_email(),
        password: PASSWORD.to_owned(),
        access_token: String::new(),
        refresh_token: String::new(),
        agent_id: String::new(),
    };
    let body =
        json!({ "email": account.email, "password": account.password, "full_name": "Load Test" });
    let mut goose = post_named(user, "/auth/register", "setup: register", &body).await?;
    if !matches!(&goose.response, Ok(r) if r.status().as_u16() == 201) {
        return user.set_failure(
            "could not register the load-test account",
            &mut goose.request,
            None,
            None,
        );
    }
    user.set_session_data(account);
    Ok(())
}

/// Logs in so the loop has an access and a refresh token.
pub(crate) async fn setup_login(user: &mut GooseUser) -> TransactionResult {
    let Some(account) = user.get_session_data::<Account>() else {
        return setup_register(user).await;
    };
    let body = credentials(account);
    let goose = post_named(user, "/auth/login", "setup: login", &body).await?;
    let pair = read_tokens(user, goose).await?;
    let account = user.get_session_data_unchecked_mut::<Account>();
    account.access_token = pair.access_token;
    account.refresh_token = pair.refresh_token;
    Ok(())
}

/// When set-up failed (an overloaded server answers 503), the loop transactions retry it
/// instead of returning at once: a transaction that makes no request would spin and flood
/// goose's metrics channel. The pause keeps retries from hammering an overloaded server.
async fn retry_setup(user: &mut GooseUser, with_tokens: bool) -> TransactionResult {
    let result = if user.get_session_data::<Account>().is_none() {
        setup_register(user).await
    } else {
        Ok(())
    };
    let result = match result {
        Ok(()) if with_tokens => setup_login(user).await,
        other => other,
    };
    if result.is_err() {
        tokio::time::sleep(SETUP_RETRY_PAUSE).await;
    }
    result
}

/// How long a user whose set-up failed waits before it tries again.
pub(crate) const SETUP_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

async fn login_again(user: &mut GooseUser) -> TransactionResult {
    let Some(account) = user.get_session_data::<Account>() else {
        return retry_setup(user, false).await;
    };
    let body = credentials(account);
    user.post_json("/auth/login", &body).await?;
    Ok(())
}

async fn get_me(user: &mut GooseUser) -> TransactionResult {
    let token = match user.get_session_data::<Account>() {
        Some(account) if !account.access_token.is_empty() => account.access_token.clone(),
        _ => return retry_setup(user, true).await,
    };
    let builder = user
        .get_request_builder(&GooseMethod::Get, "/auth/me")?
        .bearer_auth(token);
    let request = GooseRequest::builder()
        .method(GooseMethod::Get)
        .path("/auth/me")
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    // Access tokens live 15 minutes; a longer run logs in again instead of failing forever.
    if matches!(&goose.response, Ok(r) if r.status().as_u16() == 401) {
        setup_login(user).await?;
    }
    Ok(())
}

async fn rotate_refresh_token(user: &mut GooseUser) -> TransactionResult {
    let token = match user.get_session_data::<Account>() {
        Some(account) if !account.refresh_token.is_empty() => account.refresh_token.clone(),
        _ => return retry_setup(user, true).await,
    };
    let goose = user
        .post_json("/auth/refresh", &json!({ "refresh_token": token }))
        .await?;
    match read_tokens(user, goose).await {
        Ok(pair) => {
            let account = user.get_session_data_unchecked_mut::<Account>();
            account.access_token = pair.access_token;
            account.refresh_token = pair.refresh_token;
            Ok(())
        }
        Err(err) => {
            // The chain is broken (e.g. a timeout after the server rotated): start a new
            // session on the next iteration.
            user.get_session_data_unchecked_mut::<Account>()
                .refresh_token
                .clear();
            Err(err)
        }
    }
}
