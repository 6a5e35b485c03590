//! The agents scenarios: CRUD reads and writes of `/agents/` and executions on the offline
//! `echo` provider (no network, so they measure the service, not a model).
//!
//! Every user registers and logs in its own account, so every user is alone in its own
//! tenant: the agents it creates (uuid names, unique per tenant) and lists are its own. A user
//! whose set-up failed (an overloaded server answers 503) retries it from the loop, pausing
//! between attempts, like the auth scenarios. A 401 in the loop (access tokens live 15
//! minutes) logs in again.
//!
//! goose times a request to its response headers. The loops read every body to the end (so
//! connections are reused and a cut-short body is a failure); for the streamed execution the
//! time to `data: [DONE]` is in goose's transaction table (`stream to [DONE]`).

use goose::goose::GooseResponse;
use goose::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::scenarios::{Account, SETUP_RETRY_PAUSE, setup_login, setup_register};

/// How many agents `agent-list` creates in set-up and asks for.
const LIST_SIZE: usize = 20;
const LIST_PATH: &str = "/agents/?limit=20";

/// What set-up must leave in the session besides the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Nothing more (`agent-create`).
    Account,
    /// One echo agent, whose id the loop uses.
    Agent,
    /// [`LIST_SIZE`] agents to list.
    Agents,
}

impl Needs {
    fn agents(self) -> usize {
        match self {
            Needs::Account => 0,
            Needs::Agent => 1,
            Needs::Agents => LIST_SIZE,
        }
    }
}

/// How a loop checks a successful answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Read it to the end.
    Body,
    /// An execution whose `status` is `completed`.
    Completed,
    /// A `text/event-stream` whose last event is `data: [DONE]`.
    Done,
}

/// `POST /agents/` answers with the agent; only its id is needed.
#[derive(Deserialize)]
struct Created {
    id: String,
}

/// `POST /agents/{id}/execute` answers with the finished execution.
#[derive(Deserialize)]
struct Execution {
    status: String,
}

/// Register, log in, create one echo agent; then `GET /agents/{id}`.
pub fn agent_get() -> Scenario {
    scenario!("agent-get")
        .register_transaction(
            transaction!(setup_with_agent)
                .set_name("setup")
                .set_on_start(),
        )
        .register_transaction(transaction!(get_agent).set_name("get agent"))
}

/// Register, log in, create 20 agents; then `GET /agents/?limit=20`.
pub fn agent_list() -> Scenario {
    scenario!("agent-list")
        .register_transaction(
            transaction!(setup_with_agents)
                .set_name("setup")
                .set_on_start(),
        )
        .register_transaction(transaction!(list_agents).set_name("list agents"))
}

/// Register, log in; then `POST /agents/` with a fresh name.
pub fn agent_create() -> Scenario {
    scenario!("agent-create")
        .register_transaction(transaction!(setup_account).set_name("setup").set_on_start())
        .register_transaction(transaction!(create_agent).set_name("create agent"))
}

/// Register, log in, create one echo agent; then execute it, streamed or not.
pub fn execute_echo(stream: bool) -> Scenario {
    let (name, run) = if stream {
        (
            "execute-echo-stream",
            transaction!(execute_stream).set_name("stream to [DONE]"),
        )
    } else {
        ("execute-echo", transaction!(execute).set_name("execute"))
    };
    scenario!(name)
        .register_transaction(
            transaction!(setup_with_agent)
                .set_name("setup")
                .set_on_start(),
        )
        .register_transaction(run)
}

async fn setup_account(user: &mut GooseUser) -> TransactionResult {
    set_up(user, Needs::Account).await.map(|_| ())
}

async fn setup_with_agent(user: &mut GooseUser) -> TransactionResult {
    set_up(user, Needs::Agent).await.map(|_| ())
}

async fn setup_with_agents(user: &mut GooseUser) -> TransactionResult {
    set_up(user, Needs::Agents).await.map(|_| ())
}

/// The access token and agent id, if set-up has provided what `needs` asks for.
fn session(user: &GooseUser, needs: Needs) -> Option<(String, String)> {
    let account = user.get_session_data::<Account>()?;
    let ready = !account.access_token.is_empty()
        && (needs == Needs::Account || !account.agent_id.is_empty());
    ready.then(|| (account.access_token.clone(), account.agent_id.clone()))
}

/// Does whatever set-up is still missing: register, log in, create the agents.
async fn set_up(
    user: &mut GooseUser,
    needs: Needs,
) -> Result<(String, String), Box<TransactionError>> {
    if user.get_session_data::<Account>().is_none() {
        setup_register(user).await?;
    }
    if user
        .get_session_data_unchecked::<Account>()
        .access_token
        .is_empty()
    {
        setup_login(user).await?;
    }
    if needs != Needs::Account
        && user
            .get_session_data_unchecked::<Account>()
            .agent_id
            .is_empty()
    {
        let token = user
            .get_session_data_unchecked::<Account>()
            .access_token
            .clone();
        let mut id = String::new();
        for _ in 0..needs.agents() {
            id = post_agent(user, &token, "setup: create agent").await?;
        }
        user.get_session_data_unchecked_mut::<Account>().agent_id = id;
    }
    Ok(session(user, needs).expect("set-up provided the session"))
}

/// The loop's token and agent id; `None` after a set-up retry (this iteration is then over).
async fn ready(
    user: &mut GooseUser,
    needs: Needs,
) -> Result<Option<(String, String)>, Box<TransactionError>> {
    if let Some(session) = session(user, needs) {
        return Ok(Some(session));
    }
    // A transaction that makes no request would spin and flood goose's metrics channel; the
    // pause also keeps retries from hammering an overloaded server.
    match set_up(user, needs).await {
        Ok(_) => Ok(None),
        Err(err) => {
            tokio::time::sleep(SETUP_RETRY_PAUSE).await;
            Err(err)
        }
    }
}

/// Sends a request with the bearer token (and `body` as JSON) under a name of our choosing.
async fn send(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> Result<GooseResponse, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?.bearer_auth(token);
    if let Some(body) = body {
        builder = builder.json(body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    user.request(request).await
}

/// Creates an echo agent with a fresh name; its id, or the request marked failed.
async fn post_agent(
    user: &mut GooseUser,
    token: &str,
    name: &str,
) -> Result<String, Box<TransactionError>> {
    let body = json!({
        "name": format!("load-{}", uuid::Uuid::new_v4()),
        "model": "echo-1",
        "provider": "echo",
    });
    let mut goose = send(
        user,
        GooseMethod::Post,
        "/agents/",
        name,
        token,
        Some(&body),
    )
    .await?;
    let failure = match goose.response {
        Ok(response) if response.status().as_u16() == 201 => {
            match response.json::<Created>().await {
                Ok(created) => return Ok(created.id),
                Err(_) => "agent response is not JSON with an id",
            }
        }
        Ok(response) if response.status().is_success() => "agent creation did not answer 201",
        Ok(response) if response.status().as_u16() == 401 => {
            // The token expired: log in again for the next iteration.
            setup_login(user).await?;
            return Err(failed(goose.request));
        }
        // goose has already recorded the status code or the transport error.
        _ => return Err(failed(goose.request)),
    };
    Err(user
        .set_failure(failure, &mut goose.request, None, None)
        .unwrap_err())
}

fn failed(request: goose::metrics::GooseRequestMetric) -> Box<TransactionError> {
    Box::new(TransactionError::RequestFailed {
        raw_request: Box::new(request),
    })
}

/// Reads a loop request's answer and marks the request failed when the body is not what
/// `expect` asks for. A 401 logs in again for the next iteration.
async fn check(
    user: &mut GooseUser,
    mut goose: GooseResponse,
    expect: Expect,
) -> TransactionResult {
    let response = match goose.response {
        Ok(response) if response.status().is_success() => response,
        Ok(response) if response.status().as_u16() == 401 => return setup_login(user).await,
        // goose has already recorded the status code or the transport error.
        _ => return Ok(()),
    };
    let event_stream = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let Ok(body) = response.bytes().await else {
        return user.set_failure("body cut short", &mut goose.request, None, None);
    };
    let problem = match expect {
        Expect::Body => return Ok(()),
        Expect::Completed => match serde_json::from_slice::<Execution>(&body) {
            Ok(execution) if execution.status == "completed" => return Ok(()),
            Ok(_) => "execution status is not completed",
            Err(_) => "execution response is not JSON with a status",
        },
        Expect::Done if !event_stream => "stream answer is not text/event-stream",
        Expect::Done if ends_with_done(&body) => return Ok(()),
        Expect::Done => "stream did not end with data: [DONE]",
    };
    let body = String::from_utf8_lossy(&body);
    user.set_failure(problem, &mut goose.request, None, Some(&body))
}

/// Whether the last event of an SSE body carries `data: [DONE]`.
fn ends_with_done(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.trim_end()
        .rsplit("\n\n")
        .next()
        .is_some_and(|event| event.lines().any(|line| line.trim_end() == "data: [DONE]"))
}

async fn get_agent(user: &mut GooseUser) -> TransactionResult {
    let Some((token, id)) = ready(user, Needs::Agent).await? else {
        return Ok(());
    };
    let path = format!("/agents/{id}");
    let goose = send(user, GooseMethod::Get, &path, "/agents/{id}", &token, None).await?;
    check(user, goose, Expect::Body).await
}

async fn list_agents(user: &mut GooseUser) -> TransactionResult {
    let Some((token, _)) = ready(user, Needs::Agents).await? else {
        return Ok(());
    };
    let goose = send(user, GooseMethod::Get, LIST_PATH, LIST_PATH, &token, None).await?;
    check(user, goose, Expect::Body).await
}

async fn create_agent(user: &mut GooseUser) -> TransactionResult {
    let Some((token, _)) = ready(user, Needs::Account).await? else {
        return Ok(());
    };
    post_agent(user, &token, "/agents/").await.map(|_| ())
}

async fn execute(user: &mut GooseUser) -> TransactionResult {
    run_execution(user, false).await
}

async fn execute_stream(user: &mut GooseUser) -> TransactionResult {
    run_execution(user, true).await
}

async fn run_execution(user: &mut GooseUser, stream: bool) -> TransactionResult {
    let Some((token, id)) = ready(user, Needs::Agent).await? else {
        return Ok(());
    };
    let path = format!("/agents/{id}/execute");
    let (name, body, expect) = if stream {
        (
            "/agents/{id}/execute (stream)",
            json!({ "user_message": "hello load test", "stream": true }),
            Expect::Done,
        )
    } else {
        (
            "/agents/{id}/execute",
            json!({ "user_message": "hello load test" }),
            Expect::Completed,
        )
    };
    let goose = send(user, GooseMethod::Post, &path, name, &token, Some(&body)).await?;
    check(user, goose, expect).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_path_asks_for_the_agents_set_up_creates() {
        assert_eq!(LIST_PATH, format!("/agents/?limit={LIST_SIZE}"));
    }

    #[test]
    fn a_stream_ends_with_done_only_when_its_last_event_says_so() {
        let done = b"id: 0\ndata: {\"content\":\"Echo\"}\n\nid: 1\ndata: [DONE]\n\n";
        assert!(ends_with_done(done));
        assert!(ends_with_done(b"data: [DONE]\n\n"));
        assert!(!ends_with_done(b"id: 0\ndata: {\"content\":\"Echo\"}\n\n"));
        assert!(!ends_with_done(
            b"data: [DONE]\n\ndata: {\"content\":\"late\"}\n\n"
        ));
    }
}
