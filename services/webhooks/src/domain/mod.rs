//! The webhooks service's domain logic: signing, the dispatcher (outbox → deliveries) and the
//! sender (deliveries → HTTP attempts).

pub mod attempt;
pub mod dispatcher;
pub mod engine;
pub mod record;
pub mod sealing;
pub mod sender;
pub mod signing;
