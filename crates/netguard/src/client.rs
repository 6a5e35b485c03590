//! reqwest integration: a checking DNS resolver, a client builder with the policy applied
//! (no redirects, no proxies) and [`guarded_send`], which also checks IP-literal URLs.

use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::{NetPolicy, SendError};

/// A `reqwest` DNS resolver that applies a [`NetPolicy`]: names are resolved once, every
/// address is checked, and reqwest connects only to the addresses returned here.
///
/// A refusal fails with a boxed [`GuardError`](crate::GuardError), which
/// [`guard_error`](crate::guard_error) finds in the resulting `reqwest::Error`.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    policy: Arc<NetPolicy>,
}

impl GuardedResolver {
    /// A resolver applying `policy`.
    pub fn new(policy: NetPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            // Port 0: reqwest substitutes the URL's port (or the scheme default).
            match policy.resolve(name.as_str(), 0).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

impl NetPolicy {
    /// A `reqwest::ClientBuilder` with this policy applied:
    ///
    /// - host names go through a [`GuardedResolver`]: resolved once, every address checked
    ///   (an answer with any blocked address is refused), and the connection made only to the
    ///   checked addresses, so DNS rebinding between check and connect is impossible;
    /// - redirects are never followed (`redirect::Policy::none()`): a 3xx is returned to the
    ///   caller, who must check the `Location` target like any other URL before following it;
    /// - no proxy (`no_proxy()`), so `HTTP(S)_PROXY` from the environment cannot route around
    ///   the check.
    ///
    /// Callers add timeouts, user agent etc. Do not call `.proxy(..)`, `.resolve(..)`,
    /// `.resolve_to_addrs(..)` or `.dns_resolver(..)` on the result: each bypasses the guard.
    ///
    /// # IP-literal URLs are NOT checked by the client
    ///
    /// reqwest does not consult the DNS resolver when the URL host is an IP address
    /// (`http://127.0.0.1/`, `http://[::1]/`, `http://2130706433/`), so a client built from
    /// this builder alone will happily connect to them. Every request URL must be checked with
    /// [`check_url`](Self::check_url) / [`check_parsed_url`](Self::check_parsed_url) before
    /// sending; [`guarded_send`] does both steps and is the recommended way to send.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .dns_resolver(GuardedResolver::new(self.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
    }
}

/// Checks the request URL against `policy` (scheme, userinfo, IP-literal host) and, if it
/// passes, sends the request with `client`.
///
/// `client` must have been built from [`NetPolicy::client_builder`] of the same policy so
/// host names are checked when resolved; a refusal there is reported as
/// [`SendError::Guard`] too, not as an HTTP error. Redirect responses are returned as is.
///
/// Note that `reqwest::RequestBuilder` moves `user:pass@` from the URL into an
/// `Authorization` header, so a request built with `client.get(url)` no longer carries
/// userinfo here; run [`NetPolicy::check_url`] on untrusted URL strings before building the
/// request to refuse them.
pub async fn guarded_send(
    client: &reqwest::Client,
    policy: &NetPolicy,
    request: reqwest::Request,
) -> Result<reqwest::Response, SendError> {
    policy.check_parsed_url(request.url())?;
    client.execute(request).await.map_err(SendError::from)
}
