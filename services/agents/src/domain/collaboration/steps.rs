//! One step of a session: one real execution of one agent (the same [`run_execution`] as
//! `POST /agents/{id}/execute`: providers, tools, cost records, budgets, cancellation),
//! recorded under the step's stable key. A step whose key already finished (a resumed
//! session) is not run again: its stored output is returned.
//!
//! A step's execution is created in a transaction that holds the session's row lock and
//! checks that the session is still unfinished, so nothing starts after a cancellation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::SessionOutcome;
use super::engine::Live;
use crate::db::agents::AgentRow;
use crate::db::collaboration::{self, NewStep, StepRow};
use crate::db::executions::{self, NewExecution};
use crate::domain::execution::{self, AgentSettings, ExecutionOutcome, ExecutionStatus, Job};
use crate::state::AppState;

/// Why a session stops before its end.
#[derive(Debug)]
pub enum Halt {
    /// A step failed (or the plan was malformed twice): the session fails with `outcome`.
    Failed {
        outcome: SessionOutcome,
        error: String,
    },
    /// The session (or one of its executions) was cancelled.
    Cancelled,
    /// This process is shutting down: the session is left for any process to resume.
    Interrupted,
    /// Postgres failed.
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Halt {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err)
    }
}

impl Halt {
    /// Which of two stops a session reports: shutting down (resume later) before
    /// cancellation, before a database error, before a budget refusal, before a failure.
    fn rank(&self) -> u8 {
        match self {
            Self::Interrupted => 0,
            Self::Cancelled => 1,
            Self::Database(_) => 2,
            Self::Failed {
                outcome: SessionOutcome::BudgetExceeded,
                ..
            } => 3,
            Self::Failed { .. } => 4,
        }
    }
}

/// Keeps every branch's output, or reports every failure: a failed branch is never hidden
/// by its successful siblings (which stay recorded, and are not run again on a resume).
pub fn settle(results: Vec<Result<String, Halt>>) -> Result<Vec<String>, Halt> {
    let total = results.len();
    let (done, halts): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    let mut halts: Vec<Halt> = halts.into_iter().filter_map(Result::err).collect();
    if halts.is_empty() {
        return Ok(done.into_iter().filter_map(Result::ok).collect());
    }
    halts.sort_by_key(Halt::rank);
    let failures: Vec<String> = halts
        .iter()
        .filter_map(|h| match h {
            Halt::Failed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    Err(match halts.swap_remove(0) {
        Halt::Failed { outcome, .. } => Halt::Failed {
            outcome,
            error: format!(
                "{} of {total} steps failed: {}",
                failures.len(),
                failures.join("; ")
            ),
        },
        other => other,
    })
}

/// A session being driven by this process.
pub struct SessionRun {
    pub state: AppState,
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub created_by: Uuid,
    pub context: serde_json::Value,
    pub project_id: Option<String>,
    /// The session's agents that still exist, by id.
    pub agents: HashMap<Uuid, AgentRow>,
    /// Steps finished before this process took the session (by key).
    pub finished: Mutex<HashMap<String, String>>,
    pub live: Arc<Live>,
}

impl SessionRun {
    /// The finished steps' outputs of `steps` (the latest attempts), by key.
    pub fn finished_outputs(steps: &[StepRow]) -> HashMap<String, String> {
        steps
            .iter()
            .filter(|s| s.status == ExecutionStatus::Completed)
            .map(|s| (s.step_key.clone(), s.response.clone().unwrap_or_default()))
            .collect()
    }

    /// The agent's name (for headers in prompts).
    pub fn name_of(&self, agent_id: Uuid) -> String {
        self.agents
            .get(&agent_id)
            .map_or_else(|| agent_id.to_string(), |a| a.name.clone())
    }

    /// Runs step `key` (shown at `ordinal`) as an execution of `agent_id` with `input`, or
    /// returns its output if it had already finished.
    pub async fn step(
        &self,
        key: &str,
        ordinal: i32,
        agent_id: Uuid,
        input: String,
    ) -> Result<String, Halt> {
        if let Some(output) = self.lock_finished().get(key) {
            return Ok(output.clone());
        }
        if self.state.sessions.stopping() || self.state.runs.interrupted() {
            return Err(Halt::Interrupted);
        }
        let agent = self.agents.get(&agent_id).ok_or_else(|| Halt::Failed {
            outcome: SessionOutcome::Failed,
            error: format!("step `{key}`: agent {agent_id} no longer exists"),
        })?;
        let id = Uuid::now_v7();
        let mut tx = self.state.pool.begin().await?;
        if !collaboration::lock_unfinished(&mut tx, self.tenant_id, self.id).await? {
            return Err(Halt::Cancelled);
        }
        executions::insert_pending(
            &mut tx,
            &NewExecution {
                id,
                tenant_id: self.tenant_id,
                agent_id,
                user_message: &input,
                context: &self.context,
                stream: false,
                provider: &agent.provider,
                model: &agent.model,
                owner_id: self.state.instance_id,
                created_by: self.created_by,
                project_id: self.project_id.as_deref(),
            },
        )
        .await?;
        collaboration::insert_step(
            &mut tx,
            &NewStep {
                session_id: self.id,
                step_key: key,
                ordinal,
                agent_id,
                input: &input,
                execution_id: id,
            },
        )
        .await?;
        tx.commit().await?;
        let run = self.state.runs.start(id, self.tenant_id);
        self.live.touch();
        let job = Job {
            execution_id: id,
            tenant_id: self.tenant_id,
            agent: AgentSettings::from(agent),
            user_message: input,
            context: self.context.clone(),
            stream: false,
            project_id: self.project_id.clone(),
        };
        let ended = tokio::spawn(execution::run_execution(self.state.clone(), run, job)).await;
        self.live.touch();
        let row = match ended {
            Ok(Ok(row)) => row,
            Ok(Err(execution::ExecutionError::Database(err))) => return Err(Halt::Database(err)),
            Ok(Err(err)) => {
                return Err(self.failed(key, agent, format!("could not be recorded: {err}")));
            }
            Err(err) => {
                return Err(self.failed(key, agent, format!("its task failed: {err}")));
            }
        };
        let error = row.error.clone().unwrap_or_default();
        match row.outcome {
            Some(ExecutionOutcome::Completed) => {
                let output = row.response.unwrap_or_default();
                self.lock_finished().insert(key.to_owned(), output.clone());
                Ok(output)
            }
            Some(ExecutionOutcome::Cancelled) => Err(Halt::Cancelled),
            Some(ExecutionOutcome::Interrupted) => Err(Halt::Interrupted),
            Some(ExecutionOutcome::BudgetExceeded) => Err(Halt::Failed {
                outcome: SessionOutcome::BudgetExceeded,
                error: format!("step `{key}` ({}) was refused: {error}", agent.name),
            }),
            other => {
                let how = other.map_or("failed", ExecutionOutcome::as_str);
                Err(self.failed(key, agent, format!("{how}: {error}")))
            }
        }
    }

    fn failed(&self, key: &str, agent: &AgentRow, why: String) -> Halt {
        Halt::Failed {
            outcome: SessionOutcome::Failed,
            error: format!("step `{key}` ({}) {why}", agent.name),
        }
    }

    fn lock_finished(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.finished.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(error: &str, outcome: SessionOutcome) -> Result<String, Halt> {
        Err(Halt::Failed {
            outcome,
            error: error.into(),
        })
    }

    #[test]
    fn settled_branches_keep_every_output_in_order() {
        let settled = settle(vec![Ok("a".into()), Ok("b".into())]).unwrap();
        assert_eq!(settled, ["a", "b"]);
    }

    #[test]
    fn every_failed_branch_is_reported_and_the_worst_stop_wins() {
        let halt = settle(vec![
            Ok("a".into()),
            failed("x broke", SessionOutcome::Failed),
            failed("y refused", SessionOutcome::BudgetExceeded),
        ])
        .unwrap_err();
        match halt {
            Halt::Failed { outcome, error } => {
                assert_eq!(outcome, SessionOutcome::BudgetExceeded);
                assert_eq!(error, "2 of 3 steps failed: y refused; x broke");
            }
            other => panic!("{other:?}"),
        }
        let halt = settle(vec![
            failed("x", SessionOutcome::Failed),
            Err(Halt::Interrupted),
        ])
        .unwrap_err();
        assert!(matches!(halt, Halt::Interrupted));
    }
}
