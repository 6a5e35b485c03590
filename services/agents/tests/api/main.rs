//! The agents service over HTTP against real Postgres, real Redis and real local HTTP servers
//! speaking the LLM providers' wire protocols.

mod agents;
mod bad_input;
mod budgets;
mod collaboration;
mod costs;
mod dashboard;
mod execution_events;
mod executions;
mod fake_llm;
mod helpers;
mod knowledge;
mod lifecycle;
mod providers;
mod remote;
mod streaming;
mod tools;
