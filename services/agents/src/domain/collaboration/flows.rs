//! Each pattern run as steps: the order, the concurrency and the stop rules. What each step
//! is given comes from [`patterns`](super::patterns) and [`delegation`](super::delegation);
//! how a step runs from [`steps`](super::steps).

use futures::stream::{self, StreamExt};
use uuid::Uuid;

use super::delegation::{self, PLAN_KEY, PLAN_RETRY_KEY, SYNTHESIS_KEY};
use super::patterns::{self, Participant};
use super::steps::{Halt, SessionRun, settle};
use super::{DelegationStrategy, SessionOutcome, SessionPlan, convergence};
use crate::db::collaboration;

/// How a session that ran to its end ended.
#[derive(Debug)]
pub struct Finish {
    pub outcome: SessionOutcome,
    /// The session's answer (none for a parallel session without `aggregate_results`).
    pub final_output: Option<String>,
}

/// Runs `plan` to its end.
pub async fn run(session: &SessionRun, plan: &SessionPlan) -> Result<Finish, Halt> {
    match plan {
        SessionPlan::Sequential {
            agent_ids,
            initial_message,
            pass_full_history,
            max_iterations,
        } => {
            sequential(
                session,
                agent_ids,
                initial_message,
                *pass_full_history,
                *max_iterations,
            )
            .await
        }
        SessionPlan::Parallel {
            agent_ids,
            messages,
            aggregate_results,
        } => parallel(session, agent_ids, messages, *aggregate_results).await,
        SessionPlan::Iterative {
            agent_ids,
            initial_message,
            max_iterations,
            convergence_threshold,
        } => {
            iterative(
                session,
                agent_ids,
                initial_message,
                *max_iterations,
                *convergence_threshold,
            )
            .await
        }
        SessionPlan::Hierarchical {
            coordinator_id,
            worker_ids,
            task,
            delegation_strategy,
        } => {
            hierarchical(
                session,
                *coordinator_id,
                worker_ids,
                task,
                *delegation_strategy,
            )
            .await
        }
    }
}

async fn sequential(
    session: &SessionRun,
    agent_ids: &[Uuid],
    initial: &str,
    full_history: bool,
    passes: u32,
) -> Result<Finish, Halt> {
    let mut earlier: Vec<(String, String)> = Vec::new();
    for pass in 1..=passes {
        for (i, agent_id) in agent_ids.iter().enumerate() {
            let refs: Vec<(&str, &str)> = earlier
                .iter()
                .map(|(n, o)| (n.as_str(), o.as_str()))
                .collect();
            let input = patterns::sequential_input(initial, &refs, full_history);
            let key = patterns::sequential_key(pass, i);
            let ordinal = patterns::chain_ordinal(pass, i, agent_ids.len());
            let output = session.step(&key, ordinal, *agent_id, input).await?;
            earlier.push((session.name_of(*agent_id), output));
        }
    }
    Ok(Finish {
        outcome: SessionOutcome::Completed,
        final_output: earlier.pop().map(|(_, output)| output),
    })
}

/// Runs `steps` (key, ordinal, agent, input) concurrently, at most the configured number at
/// once, and settles them: outputs in the steps' order, or every failure.
async fn concurrently(
    session: &SessionRun,
    steps: Vec<(String, i32, Uuid, String)>,
) -> Result<Vec<String>, Halt> {
    let limit = session.state.config.collaboration.max_concurrent_steps;
    let mut results: Vec<(usize, Result<String, Halt>)> =
        stream::iter(steps.into_iter().enumerate())
            .map(|(i, (key, ordinal, agent, input))| async move {
                (i, session.step(&key, ordinal, agent, input).await)
            })
            .buffer_unordered(limit)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    settle(results.into_iter().map(|(_, r)| r).collect())
}

async fn parallel(
    session: &SessionRun,
    agent_ids: &[Uuid],
    messages: &[String],
    aggregate: bool,
) -> Result<Finish, Halt> {
    let steps = agent_ids
        .iter()
        .zip(messages)
        .enumerate()
        .map(|(i, (agent, message))| (patterns::parallel_key(i), i as i32, *agent, message.clone()))
        .collect();
    let outputs = concurrently(session, steps).await?;
    let final_output = aggregate.then(|| {
        let names: Vec<String> = agent_ids.iter().map(|a| session.name_of(*a)).collect();
        let pairs: Vec<(&str, &str)> = names
            .iter()
            .zip(&outputs)
            .map(|(n, o)| (n.as_str(), o.as_str()))
            .collect();
        patterns::transcript(None, &pairs)
    });
    Ok(Finish {
        outcome: SessionOutcome::Completed,
        final_output,
    })
}

async fn iterative(
    session: &SessionRun,
    agent_ids: &[Uuid],
    initial: &str,
    rounds: u32,
    threshold: f64,
) -> Result<Finish, Halt> {
    let mut current: Option<String> = None;
    for round in 1..=rounds {
        for (i, agent_id) in agent_ids.iter().enumerate() {
            let input = patterns::refinement(initial, current.as_deref());
            let key = patterns::iterative_key(round, i);
            let ordinal = patterns::chain_ordinal(round, i, agent_ids.len());
            let output = session.step(&key, ordinal, *agent_id, input).await?;
            let settled = current
                .as_deref()
                .is_some_and(|previous| convergence::converged(previous, &output, threshold));
            current = Some(output);
            if settled {
                return Ok(Finish {
                    outcome: SessionOutcome::Converged,
                    final_output: current,
                });
            }
        }
    }
    Ok(Finish {
        outcome: SessionOutcome::MaxIterations,
        final_output: current,
    })
}

async fn hierarchical(
    session: &SessionRun,
    coordinator: Uuid,
    worker_ids: &[Uuid],
    task: &str,
    strategy: DelegationStrategy,
) -> Result<Finish, Halt> {
    let workers: Vec<Participant> = worker_ids
        .iter()
        .map(|id| match session.agents.get(id) {
            Some(a) => Participant {
                id: *id,
                name: a.name.clone(),
                description: a.description.clone(),
                tools: a.tools.clone(),
            },
            None => Participant {
                id: *id,
                name: id.to_string(),
                description: None,
                tools: Vec::new(),
            },
        })
        .collect();
    let first = session
        .step(
            PLAN_KEY,
            0,
            coordinator,
            delegation::planning_prompt(task, &workers),
        )
        .await?;
    let subtasks = match delegation::parse_plan(&first, &workers) {
        Ok(plan) => plan,
        Err(error) => {
            let prompt = delegation::retry_prompt(task, &workers, &error);
            let second = session.step(PLAN_RETRY_KEY, 1, coordinator, prompt).await?;
            delegation::parse_plan(&second, &workers).map_err(|again| Halt::Failed {
                outcome: SessionOutcome::Failed,
                error: format!(
                    "the coordinator's plan was malformed twice: {again} (first attempt: {error})"
                ),
            })?
        }
    };
    let loads = match strategy {
        DelegationStrategy::LoadBalanced => {
            let counts =
                collaboration::unfinished_loads(&session.state.pool, session.tenant_id, worker_ids)
                    .await?;
            worker_ids
                .iter()
                .map(|id| counts.iter().find(|(a, _)| a == id).map_or(0, |(_, n)| *n))
                .collect()
        }
        _ => vec![0; worker_ids.len()],
    };
    let assigned = delegation::assign(strategy, &subtasks, &workers, &loads);
    let steps = subtasks
        .iter()
        .zip(&assigned)
        .enumerate()
        .map(|(j, (subtask, worker))| {
            (
                delegation::task_key(j),
                delegation::task_ordinal(j),
                workers[*worker].id,
                delegation::subtask_input(task, &subtask.description),
            )
        })
        .collect();
    let outputs = concurrently(session, steps).await?;
    let results: Vec<(&str, &str, &str)> = subtasks
        .iter()
        .zip(&assigned)
        .zip(&outputs)
        .map(|((subtask, worker), output)| {
            (
                subtask.description.as_str(),
                workers[*worker].name.as_str(),
                output.as_str(),
            )
        })
        .collect();
    let answer = session
        .step(
            SYNTHESIS_KEY,
            delegation::task_ordinal(subtasks.len()),
            coordinator,
            delegation::synthesis_prompt(task, &results),
        )
        .await?;
    Ok(Finish {
        outcome: SessionOutcome::Completed,
        final_output: Some(answer),
    })
}
