//! The console's pages, one module per section; each exports its routes.

pub mod access;
pub mod agents;
pub mod auth;
pub mod costs;
pub mod execution_list;
pub mod executions;
pub mod overview;
pub mod schedules;
pub mod webhooks;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::charts::Point;
use crate::error::ConsoleError;

/// A rendered page (200).
pub fn page(template: &impl Template) -> Result<Response, ConsoleError> {
    Ok(Html(template.render()?).into_response())
}

/// A rendered page with `status` (a form shown again with the API's refusal).
pub fn page_with(
    status: axum::http::StatusCode,
    template: &impl Template,
) -> Result<Response, ConsoleError> {
    Ok((status, Html(template.render()?)).into_response())
}

/// An instant as pages show it (UTC, to the second).
pub fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A status with the finer outcome next to it when that says more (`failed · cancelled`,
/// not `completed · completed`).
pub fn with_outcome(status: &str, outcome: Option<&str>) -> String {
    match outcome {
        Some(outcome) if outcome != status => format!("{status} · {outcome}"),
        _ => status.to_owned(),
    }
}

/// Dollars as pages show them: cents for large sums, more digits for the tiny sums of
/// single model calls.
pub fn usd(amount: f64) -> String {
    if amount == 0.0 {
        "$0".to_owned()
    } else if amount.abs() >= 1.0 {
        format!("${amount:.2}")
    } else {
        format!("${amount:.6}")
    }
}

/// A chart point worth `amount` dollars, its hover text as [`usd`] shows it.
pub fn usd_point(label: String, amount: f64) -> Point {
    Point {
        label,
        value: amount,
        shown: usd(amount),
    }
}

/// A query-string value, percent-encoded.
pub fn query_value(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .map(|s| s[2..].to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_query_values_are_shown_readably() {
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(0.000123), "$0.000123");
        assert_eq!(query_value("a b&c"), "a+b%26c");
        assert_eq!(
            with_outcome("failed", Some("cancelled")),
            "failed · cancelled"
        );
        assert_eq!(with_outcome("completed", Some("completed")), "completed");
        assert_eq!(with_outcome("running", None), "running");
    }
}
