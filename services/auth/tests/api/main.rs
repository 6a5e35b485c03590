//! Integration tests of the auth service: the real app on 127.0.0.1:0 against a fresh
//! Postgres database per test (`#[sqlx::test]`) and real Redis (a unique key prefix per test).

mod admin;
mod api_keys;
mod at_rest;
mod hardening;
mod helpers;
mod login;
mod outages;
mod refresh;
mod register;
mod remote;
mod service_tokens;
mod tokens;
mod users;
