//! `POST /events`: an application's own events.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /events`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EventIn {
    /// Dotted lowercase type outside the platform namespaces (`agent.`, `schedule.`,
    /// `budget.`, `cost.`, `webhook.`), e.g. `order.paid`.
    pub event_type: String,
    /// The event's data (a JSON object).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// A repeat with the same key (per tenant) is accepted but not published again.
    pub idempotency_key: Option<String>,
}

/// The accepted event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventAccepted {
    pub event_id: Uuid,
    pub event_type: String,
}

/// Whether `name` has the form of an event type: dotted segments of `[a-z_]`, at least two.
/// (The outbox's `outbox_event_type_format` constraint enforces the same form, so digits are
/// not allowed.)
pub fn is_application_type(name: &str) -> bool {
    name.len() <= 200
        && name.split('.').count() >= 2
        && name.split('.').all(|segment| {
            !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::is_application_type;

    #[test]
    fn application_types_are_dotted_lowercase_segments() {
        assert!(is_application_type("order.paid"));
        assert!(is_application_type("billing.invoice_sent.v_two"));
        for bad in [
            "order",
            "order.",
            ".paid",
            "Order.paid",
            "order paid.x",
            "a..b",
            "order.v2",
        ] {
            assert!(!is_application_type(bad), "{bad}");
        }
    }
}
