//! When a schedule fires, as a type: [`Timing`] is a cron expression in a time zone, a fixed
//! interval, or one moment. It is built from the request (validated there) or from a stored
//! row, whose `schedule_type` column ([`ScheduleType`]) says which of the timing columns is
//! set (a check constraint guarantees it); the engine matches on it and never meets a type it
//! does not know.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_cron::{Trigger, TriggerError};

use temponest_db::named;

/// The kind of a schedule, as stored and as the API shows it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ScheduleType {
    /// Fires at the times of a cron expression, in a time zone.
    Cron,
    /// Fires every `interval_seconds`, counted from the anchor.
    Interval,
    /// Fires once, at `run_at`.
    Once,
}

named!(ScheduleType, "schedule_type", Cron => "cron", Interval => "interval", Once => "once");

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timing {
    Cron {
        expression: String,
        timezone: String,
    },
    /// Every `seconds` from the schedule's anchor (creation, or the change that set it).
    Interval {
        seconds: i64,
    },
    Once {
        at: DateTime<Utc>,
    },
}

/// A stored row whose `schedule_type` lacks the column it needs (the check constraint
/// `schedules_type_fields` rules it out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{schedule_type} schedule without its {column}")]
pub struct IncompleteTiming {
    pub schedule_type: ScheduleType,
    pub column: &'static str,
}

impl Timing {
    /// The timing of the stored columns.
    pub fn from_columns(
        schedule_type: ScheduleType,
        cron_expression: Option<&str>,
        interval_seconds: Option<i64>,
        run_at: Option<DateTime<Utc>>,
        timezone: &str,
    ) -> Result<Self, IncompleteTiming> {
        let missing = |column| IncompleteTiming {
            schedule_type,
            column,
        };
        Ok(match schedule_type {
            ScheduleType::Cron => Timing::Cron {
                expression: cron_expression
                    .ok_or_else(|| missing("cron_expression"))?
                    .to_owned(),
                timezone: timezone.to_owned(),
            },
            ScheduleType::Interval => Timing::Interval {
                seconds: interval_seconds.ok_or_else(|| missing("interval_seconds"))?,
            },
            ScheduleType::Once => Timing::Once {
                at: run_at.ok_or_else(|| missing("run_at"))?,
            },
        })
    }

    pub fn schedule_type(&self) -> ScheduleType {
        match self {
            Timing::Cron { .. } => ScheduleType::Cron,
            Timing::Interval { .. } => ScheduleType::Interval,
            Timing::Once { .. } => ScheduleType::Once,
        }
    }

    /// The `cron_expression` column.
    pub fn cron_expression(&self) -> Option<&str> {
        match self {
            Timing::Cron { expression, .. } => Some(expression),
            _ => None,
        }
    }

    /// The `interval_seconds` column.
    pub fn interval_seconds(&self) -> Option<i64> {
        match self {
            Timing::Interval { seconds } => Some(*seconds),
            _ => None,
        }
    }

    /// The `run_at` column.
    pub fn run_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Timing::Once { at } => Some(*at),
            _ => None,
        }
    }

    /// The fire-time calculator (`anchor` is where intervals count from). Fails only for a
    /// cron expression or time zone this version no longer accepts.
    pub fn trigger(&self, anchor: DateTime<Utc>) -> Result<Trigger, TriggerError> {
        match self {
            Timing::Cron {
                expression,
                timezone,
            } => Trigger::cron(expression, timezone),
            Timing::Interval { seconds } => {
                Trigger::interval(u64::try_from(*seconds).unwrap_or(0), anchor)
            }
            Timing::Once { at } => Ok(Trigger::once(*at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_columns_become_the_timing_their_type_names() {
        let at = Utc::now();
        let cron = Timing::from_columns(ScheduleType::Cron, Some("0 * * * *"), None, None, "UTC");
        assert_eq!(
            cron,
            Ok(Timing::Cron {
                expression: "0 * * * *".to_owned(),
                timezone: "UTC".to_owned()
            })
        );
        let every = Timing::from_columns(ScheduleType::Interval, None, Some(60), None, "UTC");
        assert_eq!(every, Ok(Timing::Interval { seconds: 60 }));
        let once = Timing::from_columns(ScheduleType::Once, None, None, Some(at), "UTC").unwrap();
        assert_eq!(once.run_at(), Some(at));
        assert_eq!(once.schedule_type(), ScheduleType::Once);
        assert!(once.trigger(at).is_ok());
    }

    #[test]
    fn a_type_without_its_column_is_an_error_naming_the_column() {
        let err =
            Timing::from_columns(ScheduleType::Interval, Some("0 * * * *"), None, None, "UTC")
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "interval schedule without its interval_seconds"
        );
    }

    #[test]
    fn schedule_types_keep_their_names() {
        for t in ScheduleType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(ScheduleType::parse(t.as_str()), Ok(*t));
        }
        assert!(ScheduleType::parse("hourly").is_err());
    }
}
