//! API types of the dashboard (`GET /dashboard/metrics`). Money is USD (`f64`) only here;
//! instants are RFC 3339 UTC. The response is also what the dashboard cache holds, so it
//! deserializes as well.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::dashboard::{Durations, ScheduledRuns, StatusShare};

/// The last 24 UTC hours of a tenant at a glance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DashboardMetricsOut {
    /// Executions created in the period.
    pub executions_total: i64,
    /// Every status (`pending`, `running`, `completed`, `failed`) with its executions.
    pub status_distribution: BTreeMap<String, StatusCountOut>,
    /// Run time of the period's completed executions.
    pub duration_ms: DurationsOut,
    /// One entry per UTC hour of the period, oldest first, the current (partial) hour last.
    pub cost_per_hour: Vec<HourCostOut>,
    /// The 5 agents that spent most in the period, most first.
    pub top_agents_by_cost: Vec<AgentCostOut>,
    /// The 5 agents with the most failed executions in the period, most first.
    pub top_agents_by_failures: Vec<AgentFailuresOut>,
    pub scheduled_runs: ScheduledRunsOut,
    /// The start of the oldest hour shown.
    pub period_start: DateTime<Utc>,
    /// When the figures were computed (the period is `[period_start, period_end)`).
    pub period_end: DateTime<Utc>,
    /// Always `UTC`.
    pub timezone: String,
    /// When these figures were computed: they are served from the cache for up to 30 s.
    pub cached_at: DateTime<Utc>,
}

/// Executions in one status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusCountOut {
    pub count: i64,
    /// Share of the period's executions, a fraction in `[0, 1]`.
    pub percentage: f64,
}

impl From<StatusShare> for StatusCountOut {
    fn from(share: StatusShare) -> Self {
        Self {
            count: share.count,
            percentage: share.fraction,
        }
    }
}

/// Mean and 95th percentile run time in milliseconds; `null` without completed executions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DurationsOut {
    pub avg: Option<f64>,
    pub p95: Option<f64>,
}

impl From<Durations> for DurationsOut {
    fn from(d: Durations) -> Self {
        Self {
            avg: d.avg_ms,
            p95: d.p95_ms,
        }
    }
}

/// Spend of one UTC hour.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HourCostOut {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    pub total_usd: f64,
}

/// Spend of one agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentCostOut {
    pub agent_id: String,
    pub total_usd: f64,
}

/// Failed executions of one agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentFailuresOut {
    pub agent_id: Uuid,
    pub failures: i64,
}

/// Runs of the tenant's schedules created in the period that have finished.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduledRunsOut {
    pub total: i64,
    /// Those that completed.
    pub succeeded: i64,
    /// `succeeded / total`, a fraction; `null` without finished runs.
    pub success_rate: Option<f64>,
}

impl From<ScheduledRuns> for ScheduledRunsOut {
    fn from(runs: ScheduledRuns) -> Self {
        Self {
            total: runs.finished,
            succeeded: runs.succeeded,
            success_rate: runs.success_rate(),
        }
    }
}
