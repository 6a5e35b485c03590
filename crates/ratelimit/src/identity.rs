//! Who a request is charged to: the caller's identity (set by the authentication middleware),
//! the client IP address, and the key a [`Scope`] makes of them.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use http::Extensions;
use http::HeaderMap;

use crate::config::Scope;

/// Identity of the caller, inserted into request extensions by the authentication middleware
/// (which runs before the limiter). Absent => anonymous (IP only).
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// The authenticated user.
    pub user_id: Option<String>,
    /// The API key the request was authenticated with.
    pub api_key_id: Option<String>,
    /// The tenant the caller belongs to.
    pub tenant_id: Option<String>,
    /// A platform service acting for a tenant (the scheduler running a schedule): not charged
    /// to client budgets — its volume is bounded by the platform itself (e.g. the
    /// scheduler's run concurrency), and a tenant's scheduled runs must not fail on the
    /// per-client limits meant for interactive callers.
    pub internal: bool,
}

/// The budget a request is charged to: a rate-limit key and the kind of identity it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject {
    /// `ip`, `user`, `api_key` or `tenant`: the `scope` label of the rejection metric.
    pub(crate) kind: &'static str,
    /// E.g. `ip:203.0.113.7`, `user:<id>`, `key:<id>`, `tenant:<id>`.
    pub(crate) key: String,
}

impl Subject {
    /// Resolves `scope` against what is known of the caller. A scope whose identity is missing
    /// falls back to [`Scope::Client`] (API key, else user, else IP).
    pub(crate) fn resolve(scope: Scope, identity: Option<&ClientIdentity>, ip: &str) -> Self {
        let user = identity.and_then(|id| id.user_id.as_deref());
        let api_key = identity.and_then(|id| id.api_key_id.as_deref());
        let tenant = identity.and_then(|id| id.tenant_id.as_deref());
        let specific = match scope {
            Scope::Ip => Some(Self::new("ip", "ip", ip)),
            Scope::User => user.map(|id| Self::new("user", "user", id)),
            Scope::ApiKey => api_key.map(|id| Self::new("api_key", "key", id)),
            Scope::Tenant => tenant.map(|id| Self::new("tenant", "tenant", id)),
            Scope::Client => None,
        };
        specific.unwrap_or_else(|| match (api_key, user) {
            (Some(id), _) => Self::new("api_key", "key", id),
            (None, Some(id)) => Self::new("user", "user", id),
            (None, None) => Self::new("ip", "ip", ip),
        })
    }

    fn new(kind: &'static str, prefix: &str, id: &str) -> Self {
        Self {
            kind,
            key: format!("{prefix}:{id}"),
        }
    }
}

/// The client address as a rate-limit identity: when `X-Forwarded-For` is trusted, its
/// right-most address (the one the trusted proxy in front of us saw; everything to its left was
/// sent by the client and can be forged), else the peer address from `ConnectInfo<SocketAddr>`,
/// else `unknown`.
///
/// The middleware keys anonymous callers by this; handlers applying their own limits (e.g. per
/// login attempt) should use it too, so both agree on who the client is.
///
/// IPv6 addresses are reduced to their /64 network: one subscriber usually holds a whole /64,
/// and keying single addresses would let a client rotate through 2^64 fresh budgets.
pub fn client_ip(
    headers: &HeaderMap,
    extensions: &Extensions,
    trust_forwarded_for: bool,
) -> String {
    let forwarded = trust_forwarded_for
        .then(|| forwarded_for(headers))
        .flatten();
    let peer = || {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    };
    match forwarded.or_else(peer) {
        Some(ip) => ip_identity(ip),
        None => "unknown".to_owned(),
    }
}

fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let nearest = headers
        .get("x-forwarded-for")?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim();
    nearest
        .parse::<IpAddr>()
        .ok()
        .or_else(|| nearest.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

fn ip_identity(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(network))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(user: Option<&str>, key: Option<&str>, tenant: Option<&str>) -> ClientIdentity {
        ClientIdentity {
            user_id: user.map(String::from),
            api_key_id: key.map(String::from),
            tenant_id: tenant.map(String::from),
            internal: false,
        }
    }

    #[test]
    fn the_client_scope_prefers_api_key_then_user_then_ip() {
        let both = identity(Some("u1"), Some("k1"), None);
        let user = identity(Some("u1"), None, None);
        assert_eq!(
            Subject::resolve(Scope::Client, Some(&both), "1.2.3.4").key,
            "key:k1"
        );
        assert_eq!(
            Subject::resolve(Scope::Client, Some(&user), "1.2.3.4").key,
            "user:u1"
        );
        let anonymous = Subject::resolve(Scope::Client, None, "1.2.3.4");
        assert_eq!(
            (anonymous.kind, anonymous.key.as_str()),
            ("ip", "ip:1.2.3.4")
        );
    }

    #[test]
    fn a_scope_without_its_identity_falls_back_to_the_client() {
        let user = identity(Some("u1"), None, Some("t1"));
        assert_eq!(
            Subject::resolve(Scope::Tenant, Some(&user), "ip").key,
            "tenant:t1"
        );
        assert_eq!(
            Subject::resolve(Scope::ApiKey, Some(&user), "ip").key,
            "user:u1"
        );
        assert_eq!(
            Subject::resolve(Scope::Ip, Some(&user), "9.9.9.9").key,
            "ip:9.9.9.9"
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64_bit_network() {
        let ip: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(ip_identity(ip), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_identity(mapped), "192.0.2.1");
    }

    #[test]
    fn forwarded_for_is_read_only_when_trusted() {
        let mut headers = HeaderMap::new();
        // The client forged the first entry; the trusted proxy appended what it saw.
        headers.insert(
            "x-forwarded-for",
            "198.51.100.66, 203.0.113.9".parse().unwrap(),
        );
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
        assert_eq!(client_ip(&headers, &extensions, true), "203.0.113.9");
        assert_eq!(client_ip(&headers, &extensions, false), "10.0.0.1");
        assert_eq!(client_ip(&headers, &Extensions::new(), false), "unknown");
    }
}
