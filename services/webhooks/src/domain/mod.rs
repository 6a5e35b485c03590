//! The webhooks service's domain logic: signing, the dispatcher (outbox → deliveries), the
//! sender (deliveries → HTTP attempts) and the retention of what they leave behind.

pub mod attempt;
pub mod dispatcher;
pub mod engine;
pub mod lanes;
pub mod record;
pub mod retention;
pub mod sealing;
pub mod sender;
pub mod signing;
