//! HTTP handlers, one module per resource, and the table of the service's routes. Static
//! segments (`/webhooks/events`, `/webhooks/deliveries/..`) take precedence over
//! `/webhooks/{id}`.

pub mod deliveries;
pub mod endpoints;
pub mod events;

use crate::state::AppState;

temponest_platform::api_table! {
    service: "webhooks",
    state: AppState,
    title: "TempoNest webhooks",
    description: "Webhook endpoints, signed deliveries with retries, and application events.",
    endpoints {
        "/webhooks" => post(create), get(list);
        "/webhooks/{id}" => get(get), patch(update), delete(delete);
        "/webhooks/{id}/rotate-secret" => post(rotate_secret);
    }
    deliveries {
        "/webhooks/{id}/test" => post(test);
        "/webhooks/{id}/deliveries" => get(list);
        "/webhooks/deliveries/{id}" => get(get);
        "/webhooks/deliveries/{id}/retry" => post(retry);
        "/webhooks/{id}/recover" => post(recover);
    }
    events {
        "/webhooks/events" => get(catalogue);
        "/events" => post(publish);
    }
}
