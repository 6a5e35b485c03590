//! What each step of a pattern is given and what a session answers — pure functions, so the
//! data flow of every pattern is stated (and unit-tested) here and the engine only runs it.
//!
//! - **Step keys** name a step by its place in the plan (`pass-2/agent-0`, `branch-3`,
//!   `round-1/agent-1`, `plan`, `task-4`, `synthesis`), never by the order steps happened
//!   to finish in: a resumed session finds each finished step's output under its key.
//! - **Sequential**: the first step gets `initial_message`. With `pass_full_history` each
//!   later step gets the initial message followed by every earlier output, each under a
//!   `--- <agent name> ---` header ([`transcript`]); without it, only the previous output.
//!   `max_iterations` passes run through the chain (the last agent's output feeds the first
//!   agent of the next pass); the answer is the last output.
//! - **Parallel**: branch i gets `messages[i]`; with `aggregate_results` the answer is every
//!   output under its agent's header, in `agent_ids` order ([`transcript`] without the
//!   opening message); otherwise there is no combined answer.
//! - **Iterative**: the agents take turns, a round being each agent once; the first step gets
//!   `initial_message`, each later step the message and the current answer to improve
//!   ([`refinement`]). The answer is the last output.

/// What prompts need to know of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: Option<String>,
    pub tools: Vec<String>,
}

pub fn sequential_key(pass: u32, index: usize) -> String {
    format!("pass-{pass}/agent-{index}")
}

pub fn parallel_key(index: usize) -> String {
    format!("branch-{index}")
}

pub fn iterative_key(round: u32, index: usize) -> String {
    format!("round-{round}/agent-{index}")
}

/// Where a step of a chain (sequential or iterative) is shown: in running order.
pub fn chain_ordinal(pass: u32, index: usize, agents: usize) -> i32 {
    ((pass as usize - 1) * agents + index) as i32
}

/// The input of a sequential step, given the outputs before it (oldest first).
pub fn sequential_input(initial: &str, earlier: &[(&str, &str)], full_history: bool) -> String {
    match earlier.last() {
        None => initial.to_owned(),
        Some((_, last)) if !full_history => (*last).to_owned(),
        Some(_) => transcript(Some(initial), earlier),
    }
}

/// The opening message (if any), then each output under a `--- name ---` header.
pub fn transcript(opening: Option<&str>, outputs: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = opening.map(str::to_owned).into_iter().collect();
    parts.extend(
        outputs
            .iter()
            .map(|(name, output)| format!("--- {name} ---\n{output}")),
    );
    parts.join("\n\n")
}

/// The input of an iterative step: the message, and the answer so far to improve.
pub fn refinement(initial: &str, current: Option<&str>) -> String {
    match current {
        None => initial.to_owned(),
        Some(current) => format!(
            "{initial}\n\nCurrent answer:\n{current}\n\nImprove the current answer. Reply with the complete improved answer only."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sequential_step_gets_the_initial_message() {
        assert_eq!(sequential_input("task", &[], true), "task");
        assert_eq!(sequential_input("task", &[], false), "task");
    }

    #[test]
    fn later_sequential_steps_get_the_previous_output_or_the_whole_history() {
        let earlier = [("A", "one"), ("B", "two")];
        assert_eq!(sequential_input("task", &earlier, false), "two");
        assert_eq!(
            sequential_input("task", &earlier, true),
            "task\n\n--- A ---\none\n\n--- B ---\ntwo"
        );
    }

    #[test]
    fn keys_name_the_place_in_the_plan() {
        assert_eq!(sequential_key(2, 0), "pass-2/agent-0");
        assert_eq!(parallel_key(3), "branch-3");
        assert_eq!(iterative_key(1, 1), "round-1/agent-1");
        assert_eq!(chain_ordinal(2, 1, 3), 4);
    }

    #[test]
    fn a_refinement_carries_the_message_and_the_current_answer() {
        assert_eq!(refinement("q", None), "q");
        let next = refinement("q", Some("draft"));
        assert!(
            next.starts_with("q\n\nCurrent answer:\ndraft\n\n"),
            "{next}"
        );
    }
}
