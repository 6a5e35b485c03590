//! Budgets, enforced before every model call. A call first reserves its worst case (the
//! prompt estimate plus [`ASSUMED_MAX_OUTPUT_TOKENS`], at the resolved price) against every
//! budget that applies (the tenant's and the agent's, each per UTC day and month with a
//! limit), with the usage rows locked, so concurrent calls cannot overspend:
//! `spent + reserved + estimate <= limit` or the call is refused before it is sent. The cost
//! record's write settles the reservation in the same transaction (reserved −= estimate,
//! spent += actual) and raises each alert (`budget.alert` at `alert_threshold` of a limit,
//! `cost.threshold.exceeded` at the limit) once per budget and period. A process that dies
//! leaves its reservations to the abandoned-execution sweep, which releases them.
//!
//! Unpriced calls (no price in our table) and free ones reserve nothing and are allowed: they
//! cost $0 by our prices.
//!
//! A call that no budget applies to costs nothing here: which budgets a tenant has is cached
//! ([`applies`]; two tiers, in a per-tenant namespace whose version `POST /costs/budget`
//! bumps, so a budget set while a lookup was in flight is never hidden by it), and only a
//! call that reserved settles anything when its cost record is written.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use temponest_cache::categories::AGENT_CONFIG;
use temponest_outbox::catalogue;
use uuid::Uuid;

use crate::db::budgets::{self, LockedUsage, Reservation, SettledUsage};
use crate::db::costs::CostRecord;
use crate::models::executions::nanos_to_usd;
use crate::state::AppState;

/// Output tokens a call is assumed to produce at most when reserving (the agents do not set
/// `max_tokens`).
pub const ASSUMED_MAX_OUTPUT_TOKENS: u32 = 1024;

/// A budget's period: a UTC day or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BudgetPeriod {
    Day,
    Month,
}

/// Which alert: the threshold (`budget.alert`) or the limit (`cost.threshold.exceeded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AlertKind {
    Threshold,
    Limit,
}

/// The current UTC day and the first day of its month.
pub fn current_periods() -> (NaiveDate, NaiveDate) {
    let day = Utc::now().date_naive();
    (day, day.with_day(1).expect("day 1 exists"))
}

/// Why a call was refused.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "the {owner} {period} budget of ${limit_usd} is exhausted (${spent_usd} spent, ${reserved_usd} reserved by calls in flight; this call may cost up to ${estimate_usd})"
    )]
    Exceeded {
        owner: &'static str,
        period: &'static str,
        limit_usd: f64,
        spent_usd: f64,
        reserved_usd: f64,
        estimate_usd: f64,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The first budget `estimate` does not fit in, if any.
pub fn check(usage: &[LockedUsage], estimate: i64) -> Result<(), BudgetError> {
    match usage
        .iter()
        .find(|u| u.spent_nanos + u.reserved_nanos + estimate > u.limit_nanos)
    {
        None => Ok(()),
        Some(u) => Err(BudgetError::Exceeded {
            owner: if u.agent_id.is_some() {
                "agent's"
            } else {
                "tenant's"
            },
            period: match u.period {
                BudgetPeriod::Day => "daily",
                BudgetPeriod::Month => "monthly",
            },
            limit_usd: nanos_to_usd(u.limit_nanos),
            spent_usd: nanos_to_usd(u.spent_nanos),
            reserved_usd: nanos_to_usd(u.reserved_nanos),
            estimate_usd: nanos_to_usd(estimate),
        }),
    }
}

/// The budgets with a limit a tenant has, as cached: `None` for its own, `Some` for an agent's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scopes(Vec<Option<Uuid>>);

impl Scopes {
    /// Whether a budget applies to a call of `agent_id`.
    pub fn cover(&self, agent_id: Uuid) -> bool {
        self.0
            .iter()
            .any(|scope| scope.is_none_or(|id| id == agent_id))
    }
}

/// The tenant's budgets could not be read (nothing was cached).
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not read the tenant's budgets: {0}")]
pub struct ScopesError(Arc<sqlx::Error>);

/// Whether any budget with a limit applies to a call of `agent_id`, from the cache.
pub async fn applies(
    state: &AppState,
    tenant_id: Uuid,
    agent_id: Uuid,
) -> Result<bool, ScopesError> {
    let pool = state.pool.clone();
    let scopes: Scopes = state
        .cache
        .get_or_load_in(
            &AGENT_CONFIG,
            &scopes_namespace(tenant_id),
            "scopes",
            || async move {
                budgets::limited_scopes(&pool, tenant_id)
                    .await
                    .map(Scopes)
                    .map_err(|e| ScopesError(Arc::new(e)))
            },
        )
        .await?;
    Ok(scopes.cover(agent_id))
}

/// Makes every replica read the tenant's budgets anew (after one was set).
pub async fn forget_scopes(state: &AppState, tenant_id: Uuid) {
    state
        .cache
        .invalidate_namespace(&AGENT_CONFIG, &scopes_namespace(tenant_id))
        .await;
}

fn scopes_namespace(tenant_id: Uuid) -> String {
    format!("budgets:{tenant_id}")
}

/// Reserves `estimate` nano-dollars for the call `call_id` of `execution_id`, or refuses it;
/// whether anything was reserved. Nothing is (and the call is allowed) when no budget applies
/// or the estimate is 0.
pub async fn reserve(
    pool: &sqlx::PgPool,
    tenant_id: Uuid,
    agent_id: Uuid,
    execution_id: Uuid,
    call_id: Uuid,
    estimate: i64,
) -> Result<bool, BudgetError> {
    if estimate <= 0 {
        return Ok(false);
    }
    let (day, month) = current_periods();
    budgets::ensure_usage(pool, tenant_id, agent_id, day, month).await?;
    let reservation = Reservation {
        id: call_id,
        execution_id,
        amount_nanos: estimate,
        day,
        month,
    };
    let attempt = budgets::try_reserve(pool, tenant_id, agent_id, &reservation).await?;
    if attempt.reserved || attempt.usage.is_empty() {
        return Ok(attempt.reserved);
    }
    // Refused: the first budget the call does not fit in names the refusal. The statement and
    // `check` apply one rule to the same rows; were they ever to disagree, the call is still
    // refused (as a failed check), never sent unreserved.
    check(&attempt.usage, estimate)?;
    Err(BudgetError::Database(sqlx::Error::Protocol(
        "the budget statement refused a call that fits".into(),
    )))
}

/// Settles the reservation of the call `call_id` at its actual cost (0 releases it), in the
/// caller's transaction, and publishes the alerts this crossing raises.
pub async fn settle(conn: &mut PgConnection, call_id: Uuid, actual: i64) -> sqlx::Result<()> {
    let touched = budgets::settle(&mut *conn, call_id, actual).await?;
    publish_alerts(conn, touched).await
}

/// Settles the call of a cost record just written (once: the caller settles only a record
/// its insert wrote) at its cost. When the abandoned-execution sweep had already released
/// the call's reservation (its process looked dead but was not), the cost is charged to the
/// usage rows directly, so budget usage still includes every recorded call.
pub async fn settle_record(conn: &mut PgConnection, record: &CostRecord) -> sqlx::Result<()> {
    let mut touched = budgets::settle(&mut *conn, record.id, record.cost_nanos).await?;
    if touched.is_empty() && record.cost_nanos > 0 {
        let (day, month) = current_periods();
        touched = budgets::charge(
            &mut *conn,
            record.tenant_id,
            record.agent_id,
            record.cost_nanos,
            day,
            month,
        )
        .await?;
    }
    publish_alerts(conn, touched).await
}

/// Publishes the alerts the usage rows `touched` by a settlement have reached (each once per
/// budget, period and kind).
async fn publish_alerts(conn: &mut PgConnection, touched: Vec<SettledUsage>) -> sqlx::Result<()> {
    for usage in touched {
        let Some(limit) = usage.limit_nanos else {
            continue;
        };
        for kind in alerts_due(usage.spent_nanos, limit, usage.alert_threshold) {
            if !budgets::raise_alert(
                &mut *conn,
                usage.budget_id,
                usage.period,
                usage.period_start,
                kind,
            )
            .await?
            {
                continue;
            }
            let name = match kind {
                AlertKind::Threshold => catalogue::BUDGET_ALERT,
                AlertKind::Limit => catalogue::COST_THRESHOLD_EXCEEDED,
            };
            let payload = json!({
                "budget_id": usage.budget_id,
                "agent_id": usage.agent_id,
                "period": usage.period,
                "period_start": usage.period_start,
                "spent_usd": nanos_to_usd(usage.spent_nanos),
                "limit_usd": nanos_to_usd(limit),
                "alert_threshold": usage.alert_threshold,
            });
            temponest_outbox::publish(&mut *conn, usage.tenant_id, name, &payload).await?;
        }
    }
    Ok(())
}

/// Releases the reservation of a call that was never sent; a failure is logged (the
/// reservation is then held until the execution is swept as abandoned).
pub async fn release(pool: &sqlx::PgPool, call_id: Uuid) {
    let released = async {
        let mut tx = pool.begin().await?;
        settle(&mut tx, call_id, 0).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = released {
        tracing::warn!(error = %err, "could not release a budget reservation");
    }
}

/// The alerts `spent` has reached against `limit`.
pub fn alerts_due(spent: i64, limit: i64, threshold: f64) -> Vec<AlertKind> {
    let mut due = Vec::new();
    if spent as f64 >= threshold * limit as f64 {
        due.push(AlertKind::Threshold);
    }
    if spent >= limit {
        due.push(AlertKind::Limit);
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(limit: i64, spent: i64, reserved: i64) -> LockedUsage {
        LockedUsage {
            budget_id: Uuid::nil(),
            agent_id: None,
            period: BudgetPeriod::Day,
            limit_nanos: limit,
            spent_nanos: spent,
            reserved_nanos: reserved,
        }
    }

    #[test]
    fn a_call_fits_only_if_spent_reserved_and_its_estimate_stay_within_the_limit() {
        assert!(check(&[usage(100, 50, 30)], 20).is_ok());
        let err = check(&[usage(100, 50, 30)], 21).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the tenant's daily budget of $"),
            "{err}"
        );
    }

    #[test]
    fn the_threshold_and_the_limit_alerts_are_due_in_turn() {
        assert!(alerts_due(79, 100, 0.8).is_empty());
        assert_eq!(alerts_due(80, 100, 0.8), vec![AlertKind::Threshold]);
        assert_eq!(
            alerts_due(100, 100, 0.8),
            vec![AlertKind::Threshold, AlertKind::Limit]
        );
    }
}
