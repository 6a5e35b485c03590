//! Integration tests of temponest-llm against fake provider servers: small axum apps on
//! 127.0.0.1 that speak each protocol, started by the tests themselves.

mod anthropic;
mod echo;
mod failures;
mod limits;
mod ollama;
mod openai;
mod retries;
mod support;
