//! The `temponest` command-line client, run as a built binary against a real platform
//! (auth, agents, scheduler and webhooks on real Postgres and Redis, started in-process by the
//! shared harness): login and token refresh, every resource command, `-o json` parsed back,
//! streaming `run`, exit codes, the API's error details, the credentials file's permissions.

mod agents;
mod helpers;
mod schedules;
mod session;
mod status;
mod streaming;
mod webhooks;
