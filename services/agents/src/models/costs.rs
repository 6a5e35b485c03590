//! API types of the cost reports: their query strings (parsed into domain values, a 422
//! naming the parameter otherwise) and their responses. Money is integer nano-dollars inside
//! and USD (`f64`) only here; periods are UTC and rendered as RFC 3339 `Z` date-times.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use temponest_web::ApiError;
use temponest_web::filters::filter_param;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks;
use crate::domain::cost_reports::{Forecast, HISTORY_DAYS, Period, Usage};
use crate::models::executions::nanos_to_usd;

/// The time zone of every period and bucket.
pub const TIMEZONE: &str = "UTC";

/// `start_date`/`end_date`: dates (`YYYY-MM-DD`, whole UTC days) or RFC 3339 date-times.
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

impl PeriodQuery {
    /// The period at `now` (default: the current UTC month up to now).
    pub fn period(&self, now: DateTime<Utc>) -> Result<Period, ApiError> {
        Period::resolve(self.start_date.as_deref(), self.end_date.as_deref(), now)
            .map_err(|err| ApiError::invalid_field(err.param(), err.to_string()))
    }
}

/// `GET /costs/summary` filters.
#[derive(Debug, Default, Deserialize)]
pub struct SummaryQuery {
    #[serde(flatten)]
    pub period: PeriodQuery,
    pub agent_id: Option<String>,
    pub project_id: Option<String>,
}

impl SummaryQuery {
    /// The agent and the project to filter by (blank is no filter).
    pub fn filters(&self) -> Result<(Option<Uuid>, Option<String>), ApiError> {
        let agent_id = checks::id_param("agent_id", self.agent_id.as_deref())?;
        let project_id = filter_param(self.project_id.as_deref()).map(str::to_owned);
        Ok((agent_id, project_id))
    }
}

/// A count query parameter such as `days`, `hours` or `top_n`.
#[derive(Debug, Default, Deserialize)]
pub struct CountQuery {
    pub days: Option<String>,
    pub hours: Option<String>,
    pub top_n: Option<String>,
}

/// The value of a count parameter: its default when absent, a 422 naming it when it is not an
/// integer in `range`.
pub fn count_param(
    raw: Option<&str>,
    param: &str,
    range: RangeInclusive<u32>,
    default: u32,
) -> Result<u32, ApiError> {
    match filter_param(raw) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    param,
                    format!(
                        "must be an integer from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// Input and output tokens.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct TokenTotals {
    pub input: i64,
    pub output: i64,
}

/// `GET /costs/summary`: spend of a period, in USD.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CostSummaryOut {
    pub total_usd: f64,
    /// USD by provider name.
    pub by_provider: BTreeMap<String, f64>,
    /// USD by model name.
    pub by_model: BTreeMap<String, f64>,
    /// USD by agent id.
    pub by_agent: BTreeMap<String, f64>,
    pub total_tokens: TokenTotals,
    /// The period, half-open `[period_start, period_end)`, in UTC.
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Always `UTC`.
    pub timezone: String,
    pub calls: i64,
    /// Calls with a model without a price (counted as 0 USD: the totals are lower bounds).
    pub unpriced_calls: i64,
}

/// One UTC day of `GET /costs/daily`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DailyCostOut {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    pub total_usd: f64,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl From<(DateTime<Utc>, Usage)> for DailyCostOut {
    fn from((day, usage): (DateTime<Utc>, Usage)) -> Self {
        Self {
            date: day.date_naive(),
            total_usd: nanos_to_usd(usage.cost_nanos),
            calls: usage.calls,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
        }
    }
}

/// One UTC hour of `GET /costs/hourly`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HourlyCostOut {
    /// The start of the hour, RFC 3339 UTC.
    pub hour: DateTime<Utc>,
    pub total_usd: f64,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl From<(DateTime<Utc>, Usage)> for HourlyCostOut {
    fn from((hour, usage): (DateTime<Utc>, Usage)) -> Self {
        Self {
            hour,
            total_usd: nanos_to_usd(usage.cost_nanos),
            calls: usage.calls,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
        }
    }
}

/// One entry of `/costs/by-agent`, `/costs/by-provider` or `/costs/by-model`: exactly one
/// of `agent_id`, `provider`, `model` is present.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CostBreakdownOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub total_usd: f64,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl CostBreakdownOut {
    /// An entry without its key (the caller sets the one it groups by).
    pub fn unnamed(usage: Usage) -> Self {
        Self {
            agent_id: None,
            provider: None,
            model: None,
            total_usd: nanos_to_usd(usage.cost_nanos),
            calls: usage.calls,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
        }
    }
}

/// One projected day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectedDayOut {
    pub date: NaiveDate,
    pub projected_usd: f64,
}

/// Each weekday's factor (its mean spend ÷ the mean of all days).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeekdayFactorsOut {
    pub mon: f64,
    pub tue: f64,
    pub wed: f64,
    pub thu: f64,
    pub fri: f64,
    pub sat: f64,
    pub sun: f64,
}

/// What a forecast was computed from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForecastInputsOut {
    /// Full UTC days of history read (the days before today).
    pub history_days: u32,
    pub trailing_daily_average_usd: f64,
    pub weekday_factors: WeekdayFactorsOut,
}

/// `GET /costs/forecast`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CostForecastOut {
    /// `trailing_average_weekday_seasonality`.
    pub method: String,
    pub days: u32,
    /// The projected UTC days, from tomorrow.
    pub daily: Vec<ProjectedDayOut>,
    pub projected_total_usd: f64,
    pub inputs: ForecastInputsOut,
    /// Always `UTC`.
    pub timezone: String,
}

impl From<Forecast> for CostForecastOut {
    fn from(f: Forecast) -> Self {
        let [mon, tue, wed, thu, fri, sat, sun] = f.weekday_factors;
        Self {
            method: "trailing_average_weekday_seasonality".into(),
            days: f.daily.len() as u32,
            daily: f
                .daily
                .into_iter()
                .map(|(date, nanos)| ProjectedDayOut {
                    date,
                    projected_usd: nanos_to_usd(nanos),
                })
                .collect(),
            projected_total_usd: nanos_to_usd(f.total_nanos),
            inputs: ForecastInputsOut {
                history_days: HISTORY_DAYS,
                trailing_daily_average_usd: nanos_to_usd(
                    f.trailing_daily_average_nanos.round() as i64
                ),
                weekday_factors: WeekdayFactorsOut {
                    mon,
                    tue,
                    wed,
                    thu,
                    fri,
                    sat,
                    sun,
                },
            },
            timezone: TIMEZONE.into(),
        }
    }
}
