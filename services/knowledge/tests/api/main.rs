//! The knowledge service over HTTP against real Postgres and real Redis, with the auth
//! service in the same process.

mod collections;
mod documents;
mod helpers;
mod ingestion;
mod isolation;
mod retrieval;
mod semantic;
