//! API types of budgets: `POST /costs/budget` (validated into nano-dollars, a 422 naming each
//! bad field), the budget as shown, and `GET /costs/budget/status`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::budgets::{AlertRow, BudgetRow};
use crate::domain::budgets::{AlertKind, BudgetPeriod};
use crate::models::executions::nanos_to_usd;

/// The alert threshold when none is given.
pub const DEFAULT_ALERT_THRESHOLD: f64 = 0.8;

/// The largest limit accepted, in USD (it must fit in nano-dollars as an `i64`).
const MAX_LIMIT_USD: f64 = 1e9;

/// A budget to set (it replaces the one of the same tenant and agent).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetIn {
    /// USD per UTC day; null or absent: no daily limit.
    pub daily_limit_usd: Option<f64>,
    /// USD per UTC month; null or absent: no monthly limit.
    pub monthly_limit_usd: Option<f64>,
    /// Fraction of a limit at which `budget.alert` is published, in (0, 1]; default 0.8.
    pub alert_threshold: Option<f64>,
    /// The agent this budget limits; absent: the tenant's budget.
    pub agent_id: Option<Uuid>,
}

/// A budget, validated.
#[derive(Debug, Clone, Copy)]
pub struct ValidBudget {
    pub daily_limit_nanos: Option<i64>,
    pub monthly_limit_nanos: Option<i64>,
    pub alert_threshold: f64,
    pub agent_id: Option<Uuid>,
}

impl BudgetIn {
    /// The budget in nano-dollars, or a 422 naming every bad field.
    pub fn validate(&self) -> Result<ValidBudget, ApiError> {
        let mut errors = Vec::new();
        let mut limit = |field: &str, usd: Option<f64>| match usd {
            Some(usd) if !(0.0..=MAX_LIMIT_USD).contains(&usd) => {
                errors.push(FieldError::new(
                    field,
                    format!("must be between 0 and {MAX_LIMIT_USD} USD, or null"),
                ));
                None
            }
            Some(usd) => Some((usd * 1e9).round() as i64),
            None => None,
        };
        let daily_limit_nanos = limit("daily_limit_usd", self.daily_limit_usd);
        let monthly_limit_nanos = limit("monthly_limit_usd", self.monthly_limit_usd);
        let alert_threshold = self.alert_threshold.unwrap_or(DEFAULT_ALERT_THRESHOLD);
        if !(alert_threshold > 0.0 && alert_threshold <= 1.0) {
            errors.push(FieldError::new(
                "alert_threshold",
                "must be a fraction greater than 0 and at most 1",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(ValidBudget {
            daily_limit_nanos,
            monthly_limit_nanos,
            alert_threshold,
            agent_id: self.agent_id,
        })
    }
}

/// A budget as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetOut {
    pub id: Uuid,
    pub agent_id: Option<Uuid>,
    pub daily_limit_usd: Option<f64>,
    pub monthly_limit_usd: Option<f64>,
    pub alert_threshold: f64,
}

impl From<BudgetRow> for BudgetOut {
    fn from(row: BudgetRow) -> Self {
        Self {
            id: row.id,
            agent_id: row.agent_id,
            daily_limit_usd: row.daily_limit_nanos.map(nanos_to_usd),
            monthly_limit_usd: row.monthly_limit_nanos.map(nanos_to_usd),
            alert_threshold: row.alert_threshold,
        }
    }
}

/// `GET /costs/budget` and `/costs/budget/status`: whose budget.
#[derive(Debug, Default, Deserialize)]
pub struct BudgetQuery {
    pub agent_id: Option<Uuid>,
}

/// An alert raised in the current period.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    /// `threshold` (`budget.alert`) or `limit` (`cost.threshold.exceeded`).
    #[schema(value_type = String)]
    pub kind: AlertKind,
    /// `day` or `month`.
    #[schema(value_type = String)]
    pub period: BudgetPeriod,
    pub at: DateTime<Utc>,
}

impl From<AlertRow> for AlertOut {
    fn from(row: AlertRow) -> Self {
        Self {
            kind: row.kind,
            period: row.period,
            at: row.created_at,
        }
    }
}

/// Spend of the current UTC day and month against the limits (USD; percentages are
/// fractions, null without a limit).
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetStatusOut {
    pub daily_usage: f64,
    pub daily_limit: Option<f64>,
    pub daily_percentage: Option<f64>,
    pub monthly_usage: f64,
    pub monthly_limit: Option<f64>,
    pub monthly_percentage: Option<f64>,
    pub alerts_triggered: Vec<AlertOut>,
}

/// `usage` as a fraction of `limit` (null without a limit; 1 for a zero limit in use).
pub fn fraction(usage_nanos: i64, limit_nanos: Option<i64>) -> Option<f64> {
    limit_nanos.map(|limit| match limit {
        0 if usage_nanos > 0 => 1.0,
        0 => 0.0,
        _ => usage_nanos as f64 / limit as f64,
    })
}
