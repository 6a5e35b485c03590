//! Where a delivery stands: its [`DeliveryStatus`] (what clients filter on, SPEC §2), once
//! it is finished its finer [`DeliveryOutcome`], and what kind of failure an attempt met
//! ([`ErrorClass`]). Stored as text in `webhooks.deliveries` and `webhooks.attempts`
//! (`status` is also held to these values by the `deliveries_status_known` check).

use serde::{Deserialize, Serialize};
use temponest_db::named;
use utoipa::ToSchema;

/// A delivery's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not attempted yet (or re-queued), due at `next_attempt_at`.
    Pending,
    /// Delivered.
    Success,
    /// Given up on; `outcome` says why.
    Failed,
    /// Attempted and failed, due again at `next_attempt_at`.
    Retrying,
}

named!(DeliveryStatus, "delivery status",
    Pending => "pending", Success => "success", Failed => "failed", Retrying => "retrying");

impl DeliveryStatus {
    /// Still to be attempted (a sender may lease it).
    pub fn is_unfinished(self) -> bool {
        matches!(self, Self::Pending | Self::Retrying)
    }
}

/// Why a delivery finished as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Every retry failed.
    Exhausted,
    /// The endpoint was disabled (by a user, 410 Gone, or failing for too long).
    Disabled,
    /// The destination is not allowed (SSRF guard).
    Blocked,
    /// The endpoint was deleted before the delivery finished.
    EndpointDeleted,
}

named!(DeliveryOutcome, "delivery outcome",
    Delivered => "delivered", Exhausted => "exhausted", Disabled => "disabled",
    Blocked => "blocked", EndpointDeleted => "endpoint_deleted");

/// What kind of failure an attempt met (`None` when it succeeded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// No answer within the timeout.
    Timeout,
    /// The host name did not resolve.
    Dns,
    /// No connection could be made.
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The response body could not be read.
    Body,
    /// The receiver answered with a non-2xx status.
    HttpStatus,
    /// The destination is not allowed (SSRF guard).
    Blocked,
    /// Not sent: no signing secret could be opened.
    Signing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_spelt_as_clients_see_them() {
        for &status in DeliveryStatus::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
            assert_eq!(DeliveryStatus::parse(status.as_str()), Ok(status));
        }
        assert!(DeliveryStatus::parse("cancelled").is_err());
        for &outcome in DeliveryOutcome::ALL {
            let json = serde_json::to_value(outcome).unwrap();
            assert_eq!(json, outcome.as_str());
        }
        assert_eq!(
            DeliveryOutcome::EndpointDeleted.as_str(),
            "endpoint_deleted"
        );
        assert_eq!(
            serde_json::to_value(ErrorClass::HttpStatus).unwrap(),
            "http_status"
        );
    }
}
