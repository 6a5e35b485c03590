//! API types: request bodies (`...In`), patches, responses (`...Out`) and their validation.

pub mod deliveries;
pub mod delivery_state;
pub mod endpoints;
pub mod events;

pub use deliveries::{
    AttemptOut, DeliveryDetail, DeliveryFilter, DeliveryOut, RecoverIn, Recovered,
};
pub use delivery_state::{DeliveryOutcome, DeliveryStatus};
pub use endpoints::{
    EndpointSpec, RetryConfig, RetryConfigIn, SecretOut, WebhookCreated, WebhookFilter, WebhookIn,
    WebhookOut, WebhookPatch,
};
pub use events::{EventAccepted, EventIn, is_application_type};
