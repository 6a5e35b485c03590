//! Crashes: an engine killed with a run in flight (its runtime dropped: every task dies where
//! it is, its connections close, nothing is released) is recognised as dead by the next
//! engine, which resumes the run at once — adopting its agent execution, or starting the
//! task again at once when that execution was abandoned with a dead process — without waiting
//! for the lease to lapse and without skipping fire times for the dead run. The leases are
//! set far beyond the tests' deadlines, so only the dead-instance release can pass them.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use temponest_scheduler::AppState;
use temponest_scheduler::clock::ManualClock;
use temponest_scheduler::domain::engine;
use temponest_scheduler::state::AppStateFields;
use temponest_test_client::fixtures::doomed_engine;
use temponest_test_client::serve;
use tokio::sync::watch;

use crate::helpers::*;

/// An OpenAI-compatible server that holds every request until [`GatedLlm::open`], then
/// answers "done" (plain JSON or SSE, as asked); it counts the requests.
struct GatedLlm {
    addr: std::net::SocketAddr,
    gate: watch::Sender<bool>,
    requests: Arc<Mutex<usize>>,
}

impl GatedLlm {
    async fn start() -> Self {
        let (gate, _) = watch::channel(false);
        let requests = Arc::new(Mutex::new(0));
        let (open, count) = (gate.clone(), requests.clone());
        let app = axum::Router::new().fallback(move |body: axum::Json<Value>| {
            let mut open = open.subscribe();
            *count.lock().unwrap() += 1;
            async move {
                let _ = open.wait_for(|open| *open).await;
                answer(&body.0)
            }
        });
        let addr = serve(app).await;
        Self {
            addr,
            gate,
            requests,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

fn answer(request: &Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    let model = request["model"].clone();
    if !request["stream"].as_bool().unwrap_or(false) {
        return axum::Json(
            json!({"id": "c1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "done"}}]}),
        )
        .into_response();
    }
    let chunk = |delta: Value, finish: Option<&str>| {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let body = [
        chunk(json!({"role": "assistant", "content": "done"}), None),
        chunk(json!({}), Some("stop")),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    ([("content-type", "text/event-stream")], body).into_response()
}

/// A run in flight on an engine that is then killed.
struct Crashed {
    app: TestApp,
    llm: GatedLlm,
    session: Session,
    schedule: String,
    /// The agent execution the killed engine started.
    agent_execution: String,
}

impl Crashed {
    /// Starts a surviving engine and asserts that it completes the newest run (`how`: the
    /// way it should have); the engine and that run.
    async fn survivor_completes_the_run(&self, how: &str) -> (engine::Engine, Value) {
        let (app, s, id) = (&self.app, &self.session, &self.schedule);
        let survivor = engine::start(app.state.clone());
        assert!(
            app.newest_run_completes(s, id).await,
            "{how}: {}",
            app.executions(s, id).await[0]
        );
        let run = app.executions(s, id).await[0].clone();
        (survivor, run)
    }
}

/// An every-minute schedule (overlap `skip`) whose 00:01 run is in flight, waiting for the
/// model, on an engine that is killed; the clock stands at 00:01:01.
async fn crashed_mid_run(pool: sqlx::PgPool) -> Crashed {
    let llm = GatedLlm::start().await;
    let mut config = config();
    config.scheduler.lease_secs = 3600;
    let clock = ManualClock::new(t("2030-01-01T00:00:30Z"));
    let agents = agents_config(Some(("gated", openai_provider(&llm.url()))));
    let app = spawn_with(pool.clone(), config, agents, Some(clock)).await;
    let session = app.signup("crash@example.com").await;
    let agent = app.agent_with(&session, "gated").await;
    let body = json!({"cron_expression": "* * * * *", "overlap_policy": "skip",
                      "timeout_seconds": 3600});
    let schedule = app.schedule_id(&session, &agent, body).await;
    app.clock().set(t("2030-01-01T00:01:00Z"));

    let state = app.state.clone();
    let start = move |pool| {
        engine::start(AppState::from(AppStateFields {
            pool,
            ..state.to_fields()
        }))
    };
    let (kill, doomed) = doomed_engine(&pool, start, |_| ());
    assert!(
        eventually(|| async {
            let runs = app.executions(&session, &schedule).await;
            runs.len() == 1 && runs[0]["agent_execution_id"].is_string() && llm.requests() == 1
        })
        .await,
        "the doomed engine started the run"
    );
    let instances = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from platform.instances where role = 'scheduler'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    assert!(
        eventually(|| async { instances().await == 1 }).await,
        "the doomed engine registered"
    );
    kill.send(()).unwrap();
    tokio::task::spawn_blocking(move || doomed.join().unwrap())
        .await
        .unwrap();
    let run = &app.executions(&session, &schedule).await[0];
    assert_eq!(run["status"], "running", "the dead engine's run: {run}");
    let agent_execution = run["agent_execution_id"].as_str().unwrap().to_owned();
    app.clock().set(t("2030-01-01T00:01:01Z"));
    Crashed {
        app,
        llm,
        session,
        schedule,
        agent_execution,
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_run_of_a_killed_engine_resumes_at_once_adopting_its_agent_execution(pool: sqlx::PgPool) {
    let crashed = crashed_mid_run(pool).await;
    // The agents service (alive) finishes the model call the dead engine started.
    crashed.llm.open();

    let (survivor, run) = crashed
        .survivor_completes_the_run("the run resumed long before its lease lapsed")
        .await;
    let (app, llm, s, id) = (
        &crashed.app,
        &crashed.llm,
        &crashed.session,
        &crashed.schedule,
    );
    let adopted = crashed.agent_execution.as_str();
    assert_eq!(run["agent_execution_id"], adopted, "adopted: {run}");
    assert_eq!(run["attempt"], 1, "the same attempt, resumed: {run}");

    // The next fire time runs: nothing of the dead run is left to skip it for.
    app.clock().set(t("2030-01-01T00:02:00Z"));
    assert!(
        eventually(|| async {
            let runs = app.executions(s, id).await;
            runs.len() == 2 && runs[0]["status"] == "completed"
        })
        .await,
        "the next fire time ran: {:?}",
        app.executions(s, id).await
    );
    let skipped: Vec<Value> = app
        .fires(s, id)
        .await
        .into_iter()
        .filter(|f| f["status"] == "skipped")
        .collect();
    assert!(skipped.is_empty(), "no fire time skipped: {skipped:?}");
    assert_eq!(llm.requests(), 2, "one model call per fire time");
    survivor.shutdown().await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_run_whose_agent_execution_died_with_its_process_is_started_again_at_once(
    pool: sqlx::PgPool,
) {
    let crashed = crashed_mid_run(pool).await;
    // What the agents service records when the process running the execution died.
    sqlx::query(
        "update agents.executions set status = 'failed', outcome = 'abandoned',
                completed_at = now(), error = 'the process stopped'
         where id = $1::uuid",
    )
    .bind(&crashed.agent_execution)
    .execute(&crashed.app.pool)
    .await
    .unwrap();
    crashed.llm.open();

    // The retry delay (60 s by default) never passes on the standing manual clock: only an
    // immediate retry completes.
    let (survivor, run) = crashed
        .survivor_completes_the_run("the run was started again at once")
        .await;
    let agent_execution = crashed.agent_execution.as_str();
    assert_ne!(run["agent_execution_id"], agent_execution, "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
    survivor.shutdown().await;
}
