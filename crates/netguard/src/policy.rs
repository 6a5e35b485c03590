//! [`NetPolicy`]: the outbound destination policy. Non-public addresses (see
//! [`classify`](crate::classify)) are refused unless they fall inside an explicitly allowed
//! network; URLs are validated before use and host names resolved and checked as a whole.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use url::{Host, Url};

use crate::{GuardError, classify};

/// The outbound destination policy: block every non-public address except those inside
/// `allowed`. The default (empty allow-list) blocks them all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetPolicy {
    allowed: Vec<IpNet>,
}

impl NetPolicy {
    /// A policy allowing the given networks in addition to all public addresses.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self {
            allowed: allowed.into_iter().map(|net| net.trunc()).collect(),
        }
    }

    /// Parses a comma-separated allow-list such as `"127.0.0.0/8, ::1/128"`.
    ///
    /// Whitespace around entries is ignored and an empty (or all-blank) list allows nothing
    /// extra. A bare IP address means a single host (`/32` or `/128`). The error names the
    /// first invalid entry.
    pub fn parse(list: &str) -> Result<Self, GuardError> {
        let allowed = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| GuardError::InvalidNetwork(entry.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(allowed))
    }

    /// The explicitly allowed networks.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// `true` if `ip` (or, for an IPv4-mapped IPv6 address, its IPv4 form) is inside an
    /// allowed network.
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.allowed
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    /// Ok if the address is public, or inside an allowed network; otherwise
    /// [`GuardError::Blocked`] with the reason.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), GuardError> {
        match classify(ip) {
            Some(reason) if !self.is_allowed(ip) => Err(GuardError::Blocked { ip, reason }),
            _ => Ok(()),
        }
    }

    /// Validates a URL for outbound use and returns it parsed.
    ///
    /// Requires the form `http://host...` or `https://host...` (exactly two slashes, so
    /// `http:///path` is refused rather than silently read as host `path`), a host, and no
    /// userinfo (`user:pass@`); violations are [`GuardError::InvalidUrl`]. A host that is an IP
    /// literal, in any spelling the URL standard accepts (`2130706433`, `0x7f.1`, `[::1]`), is
    /// normalised by the parser and then checked with [`check_ip`](Self::check_ip), and so is
    /// `localhost` (or a name under it), as 127.0.0.1. Other host names are not resolved here;
    /// that happens when connecting (see [`client_builder`](Self::client_builder)) or via
    /// [`resolve`](Self::resolve).
    pub fn check_url(&self, url: &str) -> Result<Url, GuardError> {
        let parsed = Url::parse(url).map_err(|e| GuardError::InvalidUrl(e.to_string()))?;
        check_scheme(&parsed)?;
        check_authority_form(url)?;
        self.check_parsed_url(&parsed)?;
        Ok(parsed)
    }

    /// The checks of [`check_url`](Self::check_url) for an already parsed URL (scheme, host,
    /// userinfo, IP-literal host), e.g. the URL of a built `reqwest::Request`.
    pub fn check_parsed_url(&self, url: &Url) -> Result<(), GuardError> {
        check_scheme(url)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(GuardError::InvalidUrl(
                "credentials (user:password@) in the URL are not allowed".to_owned(),
            ));
        }
        match url.host() {
            None => Err(GuardError::InvalidUrl("the URL has no host".to_owned())),
            Some(Host::Domain("")) => Err(GuardError::InvalidUrl("the URL has no host".to_owned())),
            // RFC 6761: `localhost` and names under it are loopback whatever DNS says, so they
            // are refused as 127.0.0.1 is, before any resolution.
            Some(Host::Domain(name)) if is_localhost(name) => {
                self.check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            Some(Host::Domain(_)) => Ok(()),
            Some(Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6)),
        }
        .inspect_err(|e| tracing::debug!(error = %e, "outbound URL refused"))
    }

    /// Resolves `host:port` and checks every address.
    ///
    /// `host` may be a name, an IP address or a bracketed IPv6 literal. If ANY resolved address
    /// is blocked the whole answer is refused (a DNS answer mixing public and private addresses
    /// is a rebinding attempt); otherwise the checked addresses are returned, deduplicated, in
    /// resolver order. An empty answer is a [`GuardError::Resolve`].
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, GuardError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.check_ip(ip)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let resolve_error = |detail: String| GuardError::Resolve {
            host: host.to_owned(),
            detail,
        };
        let answer = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| resolve_error(e.to_string()))?;
        let addrs = self.check_answer(answer).inspect_err(|e| {
            tracing::debug!(host, error = %e, "resolved address refused");
        })?;
        if addrs.is_empty() {
            return Err(resolve_error("no addresses found".to_owned()));
        }
        Ok(addrs)
    }

    /// Checks a whole DNS answer: the first blocked address refuses all of it; otherwise the
    /// addresses, deduplicated, in order.
    fn check_answer(
        &self,
        answer: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, GuardError> {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in answer {
            self.check_ip(addr.ip())?;
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        Ok(addrs)
    }
}

impl FromStr for NetPolicy {
    type Err = GuardError;

    /// Same as [`NetPolicy::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Only `http` and `https` are allowed.
fn check_scheme(url: &Url) -> Result<(), GuardError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(GuardError::InvalidUrl(format!(
            "scheme '{other}' is not allowed (only http and https)"
        ))),
    }
}

/// Requires `scheme://authority`: exactly two slashes (or backslashes, which the URL standard
/// treats alike for http/https) after the scheme, followed by something other than a slash.
/// Without this, `http:///path` and `http:/host` would parse with a host taken from the path.
fn check_authority_form(url: &str) -> Result<(), GuardError> {
    // The URL parser drops tabs and newlines anywhere and trims C0 controls and spaces.
    let cleaned: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let Some((_, rest)) = cleaned.split_once(':') else {
        return Err(GuardError::InvalidUrl("missing scheme".to_owned()));
    };
    let slashes = rest.chars().take_while(|c| matches!(c, '/' | '\\')).count();
    if slashes != 2 {
        return Err(GuardError::InvalidUrl(
            "expected scheme://host (a URL with a host and no extra slashes)".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// `localhost` or a name under it (`api.localhost`), in any case, with or without the final
/// dot: loopback names by RFC 6761.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let tail = name.len().saturating_sub("localhost".len());
    name.get(tail..)
        .is_some_and(|end| end.eq_ignore_ascii_case("localhost"))
        && (tail == 0 || name.as_bytes()[tail - 1] == b'.')
}
