//! Schedules as the API sees them: `ScheduleIn` (create, the SDK body plus options),
//! `SchedulePatch`, `ScheduleOut`, and their validation into a [`ScheduleSpec`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_web::{ApiError, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::schedules::ScheduleRow;
use crate::domain::policy::{MisfirePolicy, OverlapPolicy};
use crate::domain::timing::{ScheduleType, Timing};
use temponest_db::names::Named;

const MAX_NAME: usize = 200;
const MAX_USER_MESSAGE: usize = 200_000;
const MAX_TASK_BYTES: usize = 64 * 1024;
const MAX_INTERVAL: i64 = 366 * 24 * 3600;
const MAX_CATCHUP: i32 = 366 * 24 * 3600;

/// What a run sends to the agent: `user_message` and an optional `context` object (other
/// keys are kept as given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskConfig {
    pub user_message: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
}

/// `POST /schedules/`: exactly one of `cron_expression`, `interval_seconds` and `run_at`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ScheduleIn {
    pub agent_id: Uuid,
    /// 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or an
    /// alias (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`), in `timezone`.
    pub cron_expression: Option<String>,
    /// Fire every this many seconds (1 s to 366 days), from creation.
    pub interval_seconds: Option<i64>,
    /// Fire once at this time (RFC 3339).
    pub run_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub task_config: serde_json::Value,
    pub name: Option<String>,
    /// IANA time zone the cron expression is read in; default `UTC`.
    pub timezone: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
    /// What a fire time (or manual trigger) does while an execution is unfinished:
    /// `skip` (default), `allow`, `buffer_one`.
    pub overlap_policy: Option<String>,
    /// What fire times missed during downtime do: `skip`, `fire_once` (default), `fire_all`.
    pub misfire_policy: Option<String>,
    /// Missed fire times older than this are not caught up (default 3600 s).
    pub catchup_window_seconds: Option<i32>,
    /// Retries of a failed run (default 3, 0–20).
    pub max_retries: Option<i32>,
    /// First retry delay; doubles each retry (default 60 s).
    pub retry_delay_seconds: Option<i32>,
    /// Limit of one run (default 300 s).
    pub timeout_seconds: Option<i32>,
}

temponest_web::patch! {
    /// `PATCH /schedules/{id}`: only the fields sent change. Sending one of `cron_expression`,
    /// `interval_seconds`, `run_at` switches the schedule to that kind.
    #[derive(Debug, Default, Deserialize, ToSchema)]
    pub struct SchedulePatch {
        pub agent_id: Option<Uuid>,
        pub cron_expression: Option<String>,
        pub interval_seconds: Option<i64>,
        pub run_at: Option<DateTime<Utc>>,
        #[schema(value_type = Option<Object>)]
        pub task_config: Option<serde_json::Value>,
        pub name: Option<String>,
        pub timezone: Option<String>,
        pub is_active: Option<bool>,
        pub overlap_policy: Option<String>,
        pub misfire_policy: Option<String>,
        pub catchup_window_seconds: Option<i32>,
        pub max_retries: Option<i32>,
        pub retry_delay_seconds: Option<i32>,
        pub timeout_seconds: Option<i32>,
    }
}

/// A schedule as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleOut {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub name: String,
    pub schedule_type: ScheduleType,
    pub cron_expression: Option<String>,
    pub interval_seconds: Option<i64>,
    pub run_at: Option<DateTime<Utc>>,
    pub timezone: String,
    #[schema(value_type = Object)]
    pub task_config: serde_json::Value,
    pub is_active: bool,
    pub overlap_policy: String,
    pub misfire_policy: String,
    pub catchup_window_seconds: i32,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    pub timeout_seconds: i32,
    /// The latest fire time that ran.
    pub last_run: Option<DateTime<Utc>>,
    /// The next fire time (null while paused or when nothing is left to fire).
    pub next_run: Option<DateTime<Utc>>,
    /// Executions started (fire times that ran and manual triggers).
    pub run_count: i64,
    /// Fire times skipped by the overlap policy.
    pub skipped_count: i64,
    /// Fire times missed while the scheduler was down (see the misfire policy).
    pub missed_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

temponest_web::from_row! { r: ScheduleRow => ScheduleOut {
    id, tenant_id, agent_id, name, schedule_type, cron_expression, interval_seconds, run_at,
    timezone, task_config, is_active, overlap_policy, misfire_policy, catchup_window_seconds,
    max_retries, retry_delay_seconds, timeout_seconds, last_run, next_run, run_count,
    skipped_count, missed_count, created_at, updated_at
} }

/// `GET /schedules/` filters.
#[derive(Debug, Default, Deserialize)]
pub struct ScheduleFilter {
    pub agent_id: Option<Uuid>,
    pub is_active: Option<bool>,
}

/// A validated schedule definition, ready to store.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub agent_id: Uuid,
    pub name: String,
    pub timing: Timing,
    /// The zone shown for every type (only a cron timing reads it; there it equals the
    /// timing's own).
    pub timezone: String,
    pub task_config: serde_json::Value,
    pub is_active: bool,
    pub overlap_policy: OverlapPolicy,
    pub misfire_policy: MisfirePolicy,
    pub catchup_window_seconds: i32,
    pub max_retries: i32,
    pub retry_delay_seconds: i32,
    pub timeout_seconds: i32,
    /// Intervals count from here (creation, or the change that set the interval).
    pub anchor: DateTime<Utc>,
}

impl ScheduleSpec {
    /// The first fire time after `now` (None: a one-shot in the past, or paused).
    pub fn first_run(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.is_active {
            return None;
        }
        match &self.timing {
            // A one-shot due right now (or a moment ago, as sent) still fires.
            Timing::Once { at } => Some(*at).filter(|at| *at > now - chrono::Duration::seconds(5)),
            timing => timing.trigger(self.anchor).ok()?.next_after(now),
        }
    }
}

impl ScheduleIn {
    /// Checks every field, collecting all problems into one 422.
    pub fn validate(self, now: DateTime<Utc>) -> Result<ScheduleSpec, ApiError> {
        let agent_id = self.agent_id;
        // A new schedule is the defaults with everything sent applied.
        let sent = SchedulePatch {
            agent_id: Some(agent_id),
            task_config: Some(self.task_config),
            cron_expression: self.cron_expression,
            interval_seconds: self.interval_seconds,
            run_at: self.run_at,
            name: self.name,
            timezone: self.timezone,
            is_active: self.is_active,
            overlap_policy: self.overlap_policy,
            misfire_policy: self.misfire_policy,
            catchup_window_seconds: self.catchup_window_seconds,
            max_retries: self.max_retries,
            retry_delay_seconds: self.retry_delay_seconds,
            timeout_seconds: self.timeout_seconds,
        };
        sent.apply_to(Base::new_schedule(agent_id, now), now)
    }
}

impl SchedulePatch {
    /// Whether the change affects when the schedule fires.
    pub fn changes_timing(&self) -> bool {
        self.cron_expression.is_some()
            || self.interval_seconds.is_some()
            || self.run_at.is_some()
            || self.timezone.is_some()
            || self.is_active.is_some()
    }

    /// The current definition with this patch applied, validated as a whole.
    pub fn apply(
        self,
        current: &ScheduleRow,
        now: DateTime<Utc>,
    ) -> Result<ScheduleSpec, ApiError> {
        self.apply_to(Base::from(current), now)
    }

    /// `base` with the fields sent applied, every field checked, all problems in one 422.
    fn apply_to(self, base: Base, now: DateTime<Utc>) -> Result<ScheduleSpec, ApiError> {
        let mut errors = Vec::new();
        let new_kind = self.cron_expression.is_some()
            || self.interval_seconds.is_some()
            || self.run_at.is_some();
        let (cron, interval, run_at) = if new_kind {
            (self.cron_expression, self.interval_seconds, self.run_at)
        } else {
            (base.cron_expression, base.interval_seconds, base.run_at)
        };
        let timezone = self.timezone.unwrap_or(base.timezone);
        let timing = timing_fields(cron, interval, run_at, timezone, now, &mut errors);
        let task_config = match self.task_config {
            Some(value) => task_config(value, &mut errors),
            None => base.task_config,
        };
        let name = match (self.name, base.name) {
            (None, Some(current)) => current,
            (given, _) => self::name(given, timing.as_ref(), &mut errors),
        };
        // An interval keeps its phase unless the interval itself changes.
        let anchor = if self.interval_seconds.is_some() {
            now
        } else {
            base.anchor
        };
        let (overlap_policy, misfire_policy) = policies(
            self.overlap_policy.or(base.overlap_policy).as_deref(),
            self.misfire_policy.or(base.misfire_policy).as_deref(),
            &mut errors,
        );
        let limits = RunLimits {
            catchup_window_seconds: self.catchup_window_seconds,
            max_retries: self.max_retries,
            retry_delay_seconds: self.retry_delay_seconds,
            timeout_seconds: self.timeout_seconds,
        }
        .checked(base.limits, &mut errors);
        let (timing, timezone) = finish(timing, errors)?;
        Ok(ScheduleSpec {
            agent_id: self.agent_id.unwrap_or(base.agent_id),
            name,
            timing,
            timezone,
            task_config,
            is_active: self.is_active.unwrap_or(base.is_active),
            overlap_policy,
            misfire_policy,
            catchup_window_seconds: limits.catchup_window_seconds,
            max_retries: limits.max_retries,
            retry_delay_seconds: limits.retry_delay_seconds,
            timeout_seconds: limits.timeout_seconds,
            anchor,
        })
    }
}

/// What a create or a patch leaves as it is: the defaults of a new schedule, or the current
/// schedule.
struct Base {
    agent_id: Uuid,
    cron_expression: Option<String>,
    interval_seconds: Option<i64>,
    run_at: Option<DateTime<Utc>>,
    timezone: String,
    task_config: serde_json::Value,
    /// None: named after its timing.
    name: Option<String>,
    is_active: bool,
    /// None: the default policy.
    overlap_policy: Option<String>,
    misfire_policy: Option<String>,
    limits: RunLimits<i32>,
    anchor: DateTime<Utc>,
}

impl Base {
    /// A new schedule's defaults (its agent, timing and task are always sent).
    fn new_schedule(agent_id: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            agent_id,
            cron_expression: None,
            interval_seconds: None,
            run_at: None,
            timezone: "UTC".to_owned(),
            task_config: serde_json::Value::Null,
            name: None,
            is_active: true,
            overlap_policy: None,
            misfire_policy: None,
            limits: RunLimits {
                catchup_window_seconds: 3600,
                max_retries: 3,
                retry_delay_seconds: 60,
                timeout_seconds: 300,
            },
            anchor: now,
        }
    }
}

impl From<&ScheduleRow> for Base {
    fn from(current: &ScheduleRow) -> Self {
        Self {
            agent_id: current.agent_id,
            cron_expression: current.cron_expression.clone(),
            interval_seconds: current.interval_seconds,
            run_at: current.run_at,
            timezone: current.timezone.clone(),
            task_config: current.task_config.clone(),
            name: Some(current.name.clone()),
            is_active: current.is_active,
            overlap_policy: Some(current.overlap_policy.clone()),
            misfire_policy: Some(current.misfire_policy.clone()),
            limits: RunLimits {
                catchup_window_seconds: current.catchup_window_seconds,
                max_retries: current.max_retries,
                retry_delay_seconds: current.retry_delay_seconds,
                timeout_seconds: current.timeout_seconds,
            },
            anchor: current.anchor,
        }
    }
}

/// The limits of a schedule's runs: `RunLimits<i32>` as kept, `RunLimits<Option<i32>>` as
/// sent.
#[derive(Debug, Clone, Copy)]
struct RunLimits<T> {
    catchup_window_seconds: T,
    max_retries: T,
    retry_delay_seconds: T,
    timeout_seconds: T,
}

impl RunLimits<Option<i32>> {
    /// The limits sent, each checked against its range, `kept` where none was sent.
    fn checked(self, kept: RunLimits<i32>, errors: &mut Vec<FieldError>) -> RunLimits<i32> {
        RunLimits {
            catchup_window_seconds: range(
                "catchup_window_seconds",
                self.catchup_window_seconds,
                kept.catchup_window_seconds,
                0,
                MAX_CATCHUP,
                errors,
            ),
            max_retries: range(
                "max_retries",
                self.max_retries,
                kept.max_retries,
                0,
                20,
                errors,
            ),
            retry_delay_seconds: range(
                "retry_delay_seconds",
                self.retry_delay_seconds,
                kept.retry_delay_seconds,
                1,
                86_400,
                errors,
            ),
            timeout_seconds: range(
                "timeout_seconds",
                self.timeout_seconds,
                kept.timeout_seconds,
                1,
                86_400,
                errors,
            ),
        }
    }
}

/// Validated timing and the (trimmed, valid) time zone.
struct TimingFields {
    timing: Timing,
    timezone: String,
}

fn timing_fields(
    cron: Option<String>,
    interval: Option<i64>,
    run_at: Option<DateTime<Utc>>,
    timezone: String,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<TimingFields> {
    let timezone = timezone.trim().to_owned();
    let zone_ok = match temponest_cron::parse_timezone(&timezone) {
        Ok(_) => true,
        Err(err) => {
            errors.push(FieldError::new("timezone", err.message));
            false
        }
    };
    let given = [cron.is_some(), interval.is_some(), run_at.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given != 1 {
        errors.push(FieldError::new(
            "cron_expression",
            if given == 0 {
                "one of cron_expression, interval_seconds or run_at is required"
            } else {
                "send only one of cron_expression, interval_seconds and run_at"
            },
        ));
        return None;
    }
    if let Some(expr) = cron {
        let expr = expr.trim().to_owned();
        if !zone_ok {
            return None;
        }
        return match temponest_cron::Trigger::cron(&expr, &timezone) {
            Ok(_) => Some(TimingFields {
                timing: Timing::Cron {
                    expression: expr,
                    timezone: timezone.clone(),
                },
                timezone,
            }),
            Err(err) => {
                errors.push(FieldError::new(err.field, err.message));
                None
            }
        };
    }
    if let Some(secs) = interval {
        if !(1..=MAX_INTERVAL).contains(&secs) {
            errors.push(FieldError::new(
                "interval_seconds",
                format!("must be between 1 and {MAX_INTERVAL} (366 days)"),
            ));
            return None;
        }
        return Some(TimingFields {
            timing: Timing::Interval { seconds: secs },
            timezone,
        });
    }
    let at = run_at?;
    if at < now - chrono::Duration::seconds(5) {
        errors.push(FieldError::new("run_at", "must not be in the past"));
        return None;
    }
    Some(TimingFields {
        timing: Timing::Once { at },
        timezone,
    })
}

fn task_config(value: serde_json::Value, errors: &mut Vec<FieldError>) -> serde_json::Value {
    let Some(object) = value.as_object() else {
        errors.push(FieldError::new(
            "task_config",
            "must be an object with `user_message` (and optionally `context`)",
        ));
        return value;
    };
    match object.get("user_message") {
        Some(serde_json::Value::String(m)) if !m.trim().is_empty() => {
            if m.chars().count() > MAX_USER_MESSAGE {
                errors.push(FieldError::new(
                    "task_config.user_message",
                    format!("must be at most {MAX_USER_MESSAGE} characters"),
                ));
            }
        }
        Some(serde_json::Value::String(_)) => errors.push(FieldError::new(
            "task_config.user_message",
            "must not be empty",
        )),
        Some(_) => errors.push(FieldError::new(
            "task_config.user_message",
            "must be a string",
        )),
        None => errors.push(FieldError::new(
            "task_config.user_message",
            "is required: the message the agent receives at each run",
        )),
    }
    match object.get("context") {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Object(_)) => {}
        Some(_) => errors.push(FieldError::new(
            "task_config.context",
            "must be a JSON object",
        )),
    }
    if value.to_string().len() > MAX_TASK_BYTES {
        errors.push(FieldError::new(
            "task_config",
            format!("must be at most {MAX_TASK_BYTES} bytes of JSON"),
        ));
    }
    value
}

fn name(
    given: Option<String>,
    timing: Option<&TimingFields>,
    errors: &mut Vec<FieldError>,
) -> String {
    match given {
        Some(name) => {
            let name = name.trim().to_owned();
            if name.is_empty() {
                errors.push(FieldError::new("name", "must not be empty"));
            } else if name.chars().count() > MAX_NAME {
                errors.push(FieldError::new(
                    "name",
                    format!("must be at most {MAX_NAME} characters"),
                ));
            }
            name
        }
        None => match timing.map(|t| &t.timing) {
            Some(Timing::Cron { expression, .. }) => format!("cron {expression}"),
            Some(Timing::Interval { seconds }) => format!("every {seconds} s"),
            Some(Timing::Once { at }) => format!("once at {}", at.to_rfc3339()),
            None => "schedule".to_owned(),
        },
    }
}

/// The overlap and misfire policies named (the defaults, `skip` and `fire_once`, when none is
/// given).
fn policies(
    overlap: Option<&str>,
    misfire: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> (OverlapPolicy, MisfirePolicy) {
    (
        policy("overlap_policy", overlap, OverlapPolicy::Skip, errors),
        policy("misfire_policy", misfire, MisfirePolicy::FireOnce, errors),
    )
}

/// The policy named `given` (or `default` when none is given); an unknown name is a field
/// error listing the names (and `default` stands in so validation can go on).
fn policy<P: Named>(
    field: &str,
    given: Option<&str>,
    default: P,
    errors: &mut Vec<FieldError>,
) -> P {
    match given.map(|name| super::named_field(field, name)) {
        None => default,
        Some(Ok(value)) => value,
        Some(Err(error)) => {
            errors.push(error);
            default
        }
    }
}

fn range(
    field: &str,
    given: Option<i32>,
    default: i32,
    min: i32,
    max: i32,
    errors: &mut Vec<FieldError>,
) -> i32 {
    let value = given.unwrap_or(default);
    if !(min..=max).contains(&value) {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
    value
}

/// The validated timing, unless anything was invalid (then every problem in one 422).
fn finish(
    timing: Option<TimingFields>,
    errors: Vec<FieldError>,
) -> Result<(Timing, String), ApiError> {
    match timing {
        Some(t) if errors.is_empty() => Ok((t.timing, t.timezone)),
        _ => Err(ApiError::validation(errors)),
    }
}
