//! The hierarchical pattern's plan and its delegation — pure.
//!
//! 1. **Plan**: the coordinator is asked ([`planning_prompt`]) to answer with JSON only:
//!    `{"subtasks": [{"description": "...", "worker_id": "<optional id of a worker>"}]}`.
//!    [`parse_plan`] accepts that object or a bare array (of such objects or of strings),
//!    also inside a Markdown code fence; it needs 1 to [`MAX_SUBTASKS`] subtasks with a
//!    non-empty description, and a `worker_id`, when given, must be one of the session's
//!    workers. A malformed plan is asked for once more with the error fed back
//!    ([`retry_prompt`]); a second malformed plan fails the session with that error.
//! 2. **Delegation** ([`assign`]):
//!    - `round_robin`: subtask j goes to worker j mod n (in `worker_ids` order);
//!    - `capability_based`: the worker the plan names; otherwise the worker whose name,
//!      description and tool names share the most words (3+ letters, case-insensitive,
//!      common words such as "the" or "about" ignored) with
//!      the subtask's description, ties to the earlier worker; when no worker shares a word,
//!      round robin;
//!    - `load_balanced`: the worker with the fewest unfinished executions — those already
//!      running on the platform plus those this plan has given it so far — ties to the
//!      earlier worker.
//!    - every worker is given its subtask's description and the overall task
//!      ([`subtask_input`]); the subtasks run concurrently (at most
//!      `collaboration.max_concurrent_steps` at once).
//! 3. **Synthesis**: the coordinator gets the task and every subtask's result
//!    ([`synthesis_prompt`]); its answer is the session's.

use serde_json::Value;
use uuid::Uuid;

use super::DelegationStrategy;
use super::convergence::words;
use super::patterns::Participant;

/// The most subtasks a plan may have.
pub const MAX_SUBTASKS: usize = 20;

pub const PLAN_KEY: &str = "plan";
pub const PLAN_RETRY_KEY: &str = "plan-retry";
pub const SYNTHESIS_KEY: &str = "synthesis";

pub fn task_key(index: usize) -> String {
    format!("task-{index}")
}

/// Where steps are shown: plan (0), its retry (1), the subtasks (2…), the synthesis last.
pub fn task_ordinal(index: usize) -> i32 {
    2 + index as i32
}

/// One subtask of a valid plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Subtask {
    pub description: String,
    /// The worker the coordinator chose (one of the session's workers).
    pub worker_id: Option<Uuid>,
}

/// Why a plan is not usable; the message is fed back to the coordinator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("the plan is not JSON: {0}")]
    NotJson(String),
    #[error("the plan must be an object with a `subtasks` array (or an array of subtasks)")]
    NoSubtasks,
    #[error("the plan must have between 1 and {MAX_SUBTASKS} subtasks, it has {0}")]
    Count(usize),
    #[error("subtask {0} has no non-empty `description`")]
    Description(usize),
    #[error("subtask {0} names worker `{1}`, which is not one of the workers")]
    UnknownWorker(usize, String),
}

/// The coordinator's first request.
pub fn planning_prompt(task: &str, workers: &[Participant]) -> String {
    let roster = workers
        .iter()
        .map(|w| {
            format!(
                "- worker_id: {} | name: {} | description: {} | tools: {}",
                w.id,
                w.name,
                w.description.as_deref().unwrap_or("-"),
                if w.tools.is_empty() {
                    "-".to_owned()
                } else {
                    w.tools.join(", ")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "You coordinate a team. Split the task into subtasks for your workers.\n\nTask:\n{task}\n\nWorkers:\n{roster}\n\nAnswer with JSON only, no other text: {{\"subtasks\": [{{\"description\": \"...\", \"worker_id\": \"<optional: one of the worker ids above>\"}}]}} with 1 to {MAX_SUBTASKS} subtasks."
    )
}

/// The coordinator's second request, after a malformed plan.
pub fn retry_prompt(task: &str, workers: &[Participant], error: &PlanError) -> String {
    format!(
        "{}\n\nYour previous plan was rejected: {error}. Answer again with valid JSON only.",
        planning_prompt(task, workers)
    )
}

/// Reads and validates the coordinator's plan.
pub fn parse_plan(text: &str, workers: &[Participant]) -> Result<Vec<Subtask>, PlanError> {
    let json = extract_json(text);
    let value: Value = serde_json::from_str(json).map_err(|e| PlanError::NotJson(e.to_string()))?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("subtasks") {
            Some(Value::Array(items)) => items,
            _ => return Err(PlanError::NoSubtasks),
        },
        _ => return Err(PlanError::NoSubtasks),
    };
    if items.is_empty() || items.len() > MAX_SUBTASKS {
        return Err(PlanError::Count(items.len()));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let number = i + 1;
            let (description, worker) = match item {
                Value::String(s) => (Some(s.as_str()), None),
                Value::Object(map) => (
                    map.get("description")
                        .or_else(|| map.get("task"))
                        .and_then(Value::as_str),
                    map.get("worker_id").filter(|v| !v.is_null()),
                ),
                _ => (None, None),
            };
            let description = description
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .ok_or(PlanError::Description(number))?;
            let worker_id = match worker {
                None => None,
                Some(raw) => {
                    let named = raw.as_str().unwrap_or_default();
                    let id = Uuid::parse_str(named.trim())
                        .ok()
                        .filter(|id| workers.iter().any(|w| w.id == *id))
                        .ok_or_else(|| PlanError::UnknownWorker(number, raw.to_string()))?;
                    Some(id)
                }
            };
            Ok(Subtask {
                description: description.to_owned(),
                worker_id,
            })
        })
        .collect()
}

/// The JSON in a model's answer: inside a code fence, else from the first `{`/`[` to the
/// last `}`/`]`.
fn extract_json(text: &str) -> &str {
    let text = text.trim();
    let text = match text.find("```") {
        Some(start) => {
            let rest = &text[start + 3..];
            let rest = rest.strip_prefix("json").unwrap_or(rest);
            rest.find("```").map_or(rest, |end| &rest[..end]).trim()
        }
        None => text,
    };
    let start = text.find(['{', '[']);
    let end = text.rfind(['}', ']']);
    match (start, end) {
        (Some(s), Some(e)) if s < e => &text[s..=e],
        _ => text,
    }
}

/// The index (in `workers`) of the worker each subtask goes to. `loads[i]` is how many
/// unfinished executions worker i already has (used by `load_balanced`).
pub fn assign(
    strategy: DelegationStrategy,
    subtasks: &[Subtask],
    workers: &[Participant],
    loads: &[i64],
) -> Vec<usize> {
    let n = workers.len();
    match strategy {
        DelegationStrategy::RoundRobin => (0..subtasks.len()).map(|j| j % n).collect(),
        DelegationStrategy::CapabilityBased => {
            let skills: Vec<_> = workers
                .iter()
                .map(|w| {
                    let text = format!(
                        "{} {} {}",
                        w.name,
                        w.description.as_deref().unwrap_or_default(),
                        w.tools.join(" ")
                    );
                    significant_words(&text)
                })
                .collect();
            subtasks
                .iter()
                .enumerate()
                .map(|(j, subtask)| {
                    if let Some(named) = subtask.worker_id
                        && let Some(i) = workers.iter().position(|w| w.id == named)
                    {
                        return i;
                    }
                    let wanted = significant_words(&subtask.description);
                    let scores: Vec<usize> = skills
                        .iter()
                        .map(|skill| skill.intersection(&wanted).count())
                        .collect();
                    let best = scores.iter().copied().max().unwrap_or(0);
                    if best == 0 {
                        j % n
                    } else {
                        scores.iter().position(|s| *s == best).unwrap_or(0)
                    }
                })
                .collect()
        }
        DelegationStrategy::LoadBalanced => {
            let mut load: Vec<i64> = (0..n).map(|i| loads.get(i).copied().unwrap_or(0)).collect();
            subtasks
                .iter()
                .map(|_| {
                    let least = load.iter().copied().min().unwrap_or(0);
                    let i = load.iter().position(|l| *l == least).unwrap_or(0);
                    load[i] += 1;
                    i
                })
                .collect()
        }
    }
}

/// Words too common to say anything about a capability.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "with", "from", "about", "into", "that", "this", "these", "those", "your",
    "their", "its", "are", "was", "were", "will", "can", "all", "any", "each", "then", "than",
    "them", "they", "what", "which", "who", "how", "not", "but", "you", "our", "out",
];

fn significant_words(text: &str) -> std::collections::HashSet<String> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// What a worker is given: its subtask, and the task it is part of.
pub fn subtask_input(task: &str, description: &str) -> String {
    format!("{description}\n\n(This is one part of a larger task: {task})")
}

/// The coordinator's last request: the task and every subtask's result.
pub fn synthesis_prompt(task: &str, results: &[(&str, &str, &str)]) -> String {
    let parts = results
        .iter()
        .enumerate()
        .map(|(j, (description, worker, output))| {
            format!(
                "--- Subtask {} ({worker}): {description} ---\n{output}",
                j + 1
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    format!(
        "Task:\n{task}\n\nYour workers' results:\n\n{parts}\n\nWrite the final answer to the task from these results."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(n: u128, name: &str, description: &str, tools: &[&str]) -> Participant {
        Participant {
            id: Uuid::from_u128(n),
            name: name.into(),
            description: Some(description.into()),
            tools: tools.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn team() -> Vec<Participant> {
        vec![
            worker(1, "Writer", "drafts prose and summaries", &[]),
            worker(2, "Researcher", "finds facts on the web", &["http_request"]),
        ]
    }

    fn subtask(description: &str) -> Subtask {
        Subtask {
            description: description.into(),
            worker_id: None,
        }
    }

    #[test]
    fn a_plan_is_read_from_an_object_an_array_or_a_code_fence() {
        let workers = team();
        let plan = parse_plan(r#"{"subtasks": [{"description": "a"}, "b"]}"#, &workers).unwrap();
        assert_eq!(plan, vec![subtask("a"), subtask("b")]);
        let fenced = "Here:\n```json\n[{\"task\": \"x\", \"worker_id\": \"00000000-0000-0000-0000-000000000002\"}]\n```";
        let plan = parse_plan(fenced, &workers).unwrap();
        assert_eq!(plan[0].worker_id, Some(Uuid::from_u128(2)));
    }

    #[test]
    fn malformed_plans_are_refused_with_a_reason() {
        let workers = team();
        assert!(matches!(
            parse_plan("I will do it myself", &workers),
            Err(PlanError::NotJson(_))
        ));
        assert_eq!(
            parse_plan(r#"{"steps": []}"#, &workers),
            Err(PlanError::NoSubtasks)
        );
        assert_eq!(
            parse_plan(r#"{"subtasks": []}"#, &workers),
            Err(PlanError::Count(0))
        );
        assert_eq!(
            parse_plan(r#"["a", {"description": " "}]"#, &workers),
            Err(PlanError::Description(2))
        );
        let foreign = format!(
            r#"[{{"description": "a", "worker_id": "{}"}}]"#,
            Uuid::max()
        );
        assert!(matches!(
            parse_plan(&foreign, &workers),
            Err(PlanError::UnknownWorker(1, _))
        ));
        let many = serde_json::to_string(&vec!["x"; MAX_SUBTASKS + 1]).unwrap();
        assert_eq!(
            parse_plan(&many, &workers),
            Err(PlanError::Count(MAX_SUBTASKS + 1))
        );
    }

    #[test]
    fn round_robin_cycles_through_the_workers() {
        let tasks = vec![subtask("a"), subtask("b"), subtask("c")];
        assert_eq!(
            assign(DelegationStrategy::RoundRobin, &tasks, &team(), &[0, 0]),
            [0, 1, 0]
        );
    }

    #[test]
    fn capability_based_matches_words_honours_the_plan_and_falls_back_to_round_robin() {
        let mut named = subtask("anything");
        named.worker_id = Some(Uuid::from_u128(1));
        let tasks = vec![
            subtask("Find facts about Rust on the web"),
            subtask("Write summaries of the facts"),
            named,
            subtask("zzz"),
        ];
        assert_eq!(
            assign(
                DelegationStrategy::CapabilityBased,
                &tasks,
                &team(),
                &[0, 0]
            ),
            [1, 0, 0, 1]
        );
    }

    #[test]
    fn load_balanced_gives_each_subtask_to_the_least_loaded_worker() {
        let tasks = vec![subtask("a"), subtask("b"), subtask("c")];
        // Worker 0 already runs one execution.
        assert_eq!(
            assign(DelegationStrategy::LoadBalanced, &tasks, &team(), &[1, 0]),
            [1, 0, 1]
        );
    }

    #[test]
    fn the_synthesis_lists_every_result_under_its_subtask() {
        let prompt = synthesis_prompt("T", &[("a", "W", "out-a"), ("b", "R", "out-b")]);
        assert!(
            prompt.contains("--- Subtask 1 (W): a ---\nout-a"),
            "{prompt}"
        );
        assert!(
            prompt.contains("--- Subtask 2 (R): b ---\nout-b"),
            "{prompt}"
        );
    }
}
