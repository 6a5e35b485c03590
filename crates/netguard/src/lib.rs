//! SSRF protection for outbound HTTP (the agents service's `http_request` tool, webhook
//! delivery).
//!
//! - **Classification** ([`classify`]): loopback, RFC 1918, CGNAT, link-local, cloud metadata,
//!   multicast, broadcast, reserved/documentation/benchmarking ranges, IPv6 unique-local and
//!   site-local, and IPv6 forms embedding such an IPv4 address (mapped, compatible, NAT64,
//!   6to4) are non-public destinations.
//! - **Policy** ([`NetPolicy`]): protection is on by default; an explicit allow-list of
//!   networks (e.g. `WEBHOOKS_ALLOWED_NETWORKS="127.0.0.0/8,::1/128"`, parsed by
//!   [`NetPolicy::parse`]) re-admits chosen ranges for tests and local development.
//! - **Requests**: [`NetPolicy::check_url`] validates URLs (http/https, host, no userinfo,
//!   IP literals checked); [`NetPolicy::client_builder`] gives a reqwest client whose resolver
//!   checks every resolved address and connects only to those (no rebinding window), follows
//!   no redirects and uses no proxy; [`guarded_send`] checks the URL and sends.
//!
//! reqwest skips the resolver for IP-literal hosts, so send through [`guarded_send`] (or call
//! [`NetPolicy::check_url`] yourself) for every request, including redirect targets.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use temponest_netguard::{NetPolicy, guarded_send};
//!
//! let policy = NetPolicy::parse(&std::env::var("WEBHOOKS_ALLOWED_NETWORKS").unwrap_or_default())?;
//! let client = policy
//!     .client_builder()
//!     .timeout(std::time::Duration::from_secs(10))
//!     .build()?;
//! let request = client.get("https://example.com/hook").build()?;
//! let response = guarded_send(&client, &policy, request).await?;
//! # let _ = response; Ok(()) }
//! ```

mod classify;
mod client;
mod error;
mod policy;

pub use classify::{BlockReason, classify};
pub use client::{GuardedResolver, guarded_send};
pub use error::{GuardError, SendError, guard_error};
pub use policy::NetPolicy;
