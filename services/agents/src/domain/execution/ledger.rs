//! The cost ledger of a run: one cost record per model call (priced by tenant override,
//! self-hosted zero or the shipped table; `unpriced` when none applies, `usage_estimated`
//! when the provider reported no usage) and the running totals the execution ends with.
//!
//! Records are written before the next model call and, the last ones, in the finishing
//! transaction, so an execution's totals always equal its cost rows. Writes are idempotent by
//! the call's id: a retried write cannot duplicate a record.

use std::time::Instant;

use sqlx::{PgConnection, PgPool};
use temponest_llm::Usage;
use uuid::Uuid;

use super::status::CallStatus;
use super::{Job, WriteQueue, write_now};
use crate::db::costs::{self, CostRecord};
use crate::domain::budgets::{self, ASSUMED_MAX_OUTPUT_TOKENS};
use crate::domain::price_cache;
use crate::domain::pricing::{Price, PriceSource};
use crate::state::AppState;

/// The model call in progress: what it will be charged for if it ends without reporting.
pub struct InFlight {
    cost_id: Uuid,
    started: Instant,
    prompt_estimate: u32,
    streamed_text: String,
    /// Whether the call holds a budget reservation (to settle with its cost record).
    reserved: bool,
}

impl InFlight {
    /// A call about to send `prompt` (the contents of its messages).
    pub fn start<'a>(prompt: impl Iterator<Item = &'a str>) -> Self {
        Self {
            cost_id: Uuid::now_v7(),
            started: Instant::now(),
            prompt_estimate: prompt.map(|m| estimate_tokens(m) + 4).sum(),
            streamed_text: String::new(),
            reserved: false,
        }
    }

    /// Records whether a budget reservation was made for the call.
    pub fn set_reserved(&mut self, reserved: bool) {
        self.reserved = reserved;
    }

    /// Whether the call holds a budget reservation.
    pub fn reserved(&self) -> bool {
        self.reserved
    }

    /// Text the call has streamed so far.
    pub fn streamed(&mut self, delta: &str) {
        self.streamed_text.push_str(delta);
    }

    /// The id of the call's cost record (and of its budget reservation).
    pub fn id(&self) -> Uuid {
        self.cost_id
    }

    /// The most the call can cost at `price`: its prompt estimate plus
    /// [`ASSUMED_MAX_OUTPUT_TOKENS`] of output.
    pub fn worst_case_nanos(&self, price: &Price) -> i64 {
        price.cost_nanos(&Usage {
            prompt_tokens: self.prompt_estimate,
            completion_tokens: ASSUMED_MAX_OUTPUT_TOKENS,
        })
    }

    /// Usage of a call that answered, and whether it is estimated (the provider reported none).
    pub fn answered(&self, reported: Option<Usage>, answer: &str) -> (Usage, bool) {
        match reported {
            Some(usage) => (usage, false),
            None => (
                Usage {
                    prompt_tokens: self.prompt_estimate,
                    completion_tokens: estimate_tokens(answer),
                },
                true,
            ),
        }
    }

    /// Usage of a call that failed: it consumed tokens only if it had started answering.
    pub fn failed(&self) -> (Usage, bool) {
        let started_answering = !self.streamed_text.is_empty();
        let usage = Usage {
            prompt_tokens: if started_answering {
                self.prompt_estimate
            } else {
                0
            },
            completion_tokens: estimate_tokens(&self.streamed_text),
        };
        (usage, started_answering)
    }

    /// Usage of a call dropped mid-flight (cancelled, timed out): always estimated.
    pub fn dropped(&self) -> (Usage, bool) {
        let usage = Usage {
            prompt_tokens: self.prompt_estimate,
            completion_tokens: estimate_tokens(&self.streamed_text),
        };
        (usage, true)
    }
}

/// What a run has used so far, and the cost records not yet written.
#[derive(Default)]
pub struct Ledger {
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_nanos: i64,
    unpriced: bool,
    /// The model call in progress, if any.
    pub in_flight: Option<InFlight>,
    unwritten: Vec<CostRecord>,
}

impl Ledger {
    /// Prices a finished (or dropped) call and queues its cost record.
    pub async fn record(
        &mut self,
        state: &AppState,
        job: &Job,
        call: &InFlight,
        (usage, estimated): (Usage, bool),
        status: CallStatus,
    ) {
        let priced = resolve_price(state, job).await;
        let (cost_nanos, unpriced, source) = match priced {
            Some((price, source)) => (price.cost_nanos(&usage), false, Some(source.label())),
            None => (0, true, None),
        };
        self.prompt_tokens += i64::from(usage.prompt_tokens);
        self.completion_tokens += i64::from(usage.completion_tokens);
        self.cost_nanos += cost_nanos;
        let provider = &job.agent.provider;
        metrics::counter!("llm_tokens_total", "provider" => provider.clone(), "kind" => "prompt")
            .increment(u64::from(usage.prompt_tokens));
        metrics::counter!("llm_tokens_total", "provider" => provider.clone(), "kind" => "completion")
            .increment(u64::from(usage.completion_tokens));
        // Nano-dollars (the unit cost records keep), so the counter stays an exact integer.
        metrics::counter!("llm_cost_nano_usd_total", "provider" => provider.clone())
            .increment(u64::try_from(cost_nanos).unwrap_or(0));
        self.unpriced |= unpriced;
        if unpriced {
            // Labelled by provider (a configured, bounded set), not by model: model names are
            // tenant input, and an unpriced one is by definition not in any list.
            metrics::counter!("llm_unpriced_calls_total", "provider" => job.agent.provider.clone())
                .increment(1);
        }
        self.unwritten.push(CostRecord {
            id: call.cost_id,
            tenant_id: job.tenant_id,
            agent_id: job.agent.id,
            execution_id: Some(job.execution_id),
            provider: job.agent.provider.clone(),
            model: job.agent.model.clone(),
            prompt_tokens: usage.prompt_tokens as i32,
            completion_tokens: usage.completion_tokens as i32,
            cost_nanos,
            unpriced,
            usage_estimated: estimated,
            price_source: source,
            duration_ms: call.started.elapsed().as_millis().min(i32::MAX as u128) as i32,
            status,
            streamed: job.stream,
            project_id: job.project_id.clone(),
            reserved: call.reserved,
        });
    }

    /// Writes the queued cost records; on failure they stay queued for the finishing
    /// transaction.
    pub async fn flush(&mut self, pool: &PgPool) {
        if !self.unwritten.is_empty() {
            write_now(pool, self, "cost records").await;
        }
    }

    /// Prompt tokens of every call, as stored (saturating).
    pub fn prompt_tokens(&self) -> i32 {
        self.prompt_tokens.min(i64::from(i32::MAX)) as i32
    }

    /// Completion tokens of every call, as stored (saturating).
    pub fn completion_tokens(&self) -> i32 {
        self.completion_tokens.min(i64::from(i32::MAX)) as i32
    }

    /// The cost of every priced call, in nano-dollars.
    pub fn cost_nanos(&self) -> i64 {
        self.cost_nanos
    }

    /// Whether a call had no price (the cost is then a lower bound).
    pub fn unpriced(&self) -> bool {
        self.unpriced
    }
}

/// The price of `job`'s model for its tenant (`None`: unpriced); a failure to read the
/// tenant's override is logged and the shipped price used.
pub async fn resolve_price(state: &AppState, job: &Job) -> Option<(Price, PriceSource)> {
    let kind = state
        .providers
        .get(&job.agent.provider)
        .map(|p| p.kind())
        .ok()?;
    let tenant_price = match price_cache::tenant_price(state, job.tenant_id, &job.agent.model).await
    {
        Ok(price) => price,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the tenant's price override");
            None
        }
    };
    state.prices.resolve(kind, &job.agent.model, tenant_price)
}

impl WriteQueue for Ledger {
    /// Each record settles its call's budget reservation (if it made one) in the same
    /// transaction.
    async fn append(&self, conn: &mut PgConnection) -> sqlx::Result<()> {
        for record in &self.unwritten {
            // A rewrite after a lost commit acknowledgement inserts nothing and settles nothing.
            if costs::insert(&mut *conn, record).await? && record.reserved {
                budgets::settle_record(&mut *conn, record).await?;
            }
        }
        Ok(())
    }

    fn forget_written(&mut self) {
        self.unwritten.clear();
    }
}

/// A rough token count (4 characters per token) for providers that report none.
pub fn estimate_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_of(prompt: &[&str]) -> InFlight {
        InFlight::start(prompt.iter().copied())
    }

    #[test]
    fn reported_usage_is_used_as_is_and_missing_usage_is_estimated() {
        let call = call_of(&["12345678"]);
        let reported = Usage {
            prompt_tokens: 7,
            completion_tokens: 3,
        };
        assert_eq!(call.answered(Some(reported), "ignored"), (reported, false));
        let (usage, estimated) = call.answered(None, "abcde");
        assert!(estimated);
        // 8 characters = 2 tokens, plus 4 per message; 5 characters = 2 tokens.
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (6, 2));
    }

    #[test]
    fn a_failed_call_costs_nothing_unless_it_had_started_answering() {
        let mut call = call_of(&["hello there"]);
        let (usage, estimated) = call.failed();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (0, 0));
        assert!(!estimated);
        call.streamed("partial");
        let (usage, estimated) = call.failed();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (7, 2));
        assert!(estimated);
    }

    #[test]
    fn a_dropped_call_is_charged_its_prompt_even_before_answering() {
        let call = call_of(&["hello there"]);
        let (usage, estimated) = call.dropped();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (7, 0));
        assert!(estimated);
    }

    #[test]
    fn tokens_are_estimated_by_characters_not_bytes() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("ééééé"), 2);
    }
}
