//! The console session: the platform's access and refresh tokens, the caller's permissions
//! and a CSRF secret, kept in one cookie whose value is sealed (ChaCha20-Poly1305, see
//! `temponest_sealing`) so the browser holds nothing it can read or alter. The cookie is
//! `HttpOnly; SameSite=Strict; Path=/console`, `Secure` when the request came over TLS.
//!
//! CSRF: every form carries the session's CSRF token as `_csrf`; a POST is accepted only if
//! it matches the sealed one (compared in constant time) and, when the browser sends an
//! `Origin`, that origin is the console's own.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use temponest_sealing::Sealer;

/// The cookie's name.
pub const COOKIE: &str = "tn_console";
/// What the sealed value is bound to (associated data), so no other sealed value opens here.
const OWNER: &[u8] = b"temponest-console-session/v1";

/// What a signed-in browser's cookie holds (never logged; no `Debug`).
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionData {
    pub access_token: String,
    pub refresh_token: String,
    pub csrf: String,
    pub email: String,
    /// Permission names from `GET /auth/me` (`agents:write`, ...): what buttons to show.
    pub permissions: Vec<String>,
    /// Unix seconds after which the cookie is refused (sliding: renewed on refresh).
    pub expires_at: i64,
}

impl SessionData {
    /// A new session for freshly issued tokens, with a new random CSRF secret.
    pub fn new(
        access_token: String,
        refresh_token: String,
        email: String,
        permissions: Vec<String>,
        ttl_secs: u64,
    ) -> Self {
        let csrf: [u8; 32] = rand_bytes();
        Self {
            access_token,
            refresh_token,
            csrf: URL_SAFE_NO_PAD.encode(csrf),
            email,
            permissions,
            expires_at: chrono::Utc::now().timestamp() + ttl_secs as i64,
        }
    }

    /// Whether the session holds `permission` (`"agents:write"`).
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// Whether `token` (from a form) is this session's CSRF token.
    pub fn csrf_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let (a, b) = (self.csrf.as_bytes(), token.as_bytes());
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }
}

/// `N` bytes from the operating system's generator (through `rand`'s thread generator).
fn rand_bytes<const N: usize>() -> [u8; N] {
    rand::RngExt::random(&mut rand::rng())
}

/// Seals and opens session cookies.
pub struct CookieJar {
    sealer: Sealer,
    secure_always: bool,
    ttl_secs: u64,
}

impl CookieJar {
    /// `key`: base64 of 32 bytes, or empty for a random key of this process.
    pub fn new(
        key: &str,
        secure_always: bool,
        ttl_secs: u64,
    ) -> Result<Self, temponest_sealing::KeyError> {
        let sealer = if key.trim().is_empty() {
            tracing::warn!(
                "TEMPONEST_CONSOLE_COOKIE_KEY is not set: console sessions use a random key of this process (they end at a restart and do not span replicas)"
            );
            Sealer::new(
                &base64::engine::general_purpose::STANDARD.encode(rand_bytes::<32>()),
                "",
            )?
        } else {
            Sealer::new(key, "")?
        };
        Ok(Self {
            sealer,
            secure_always,
            ttl_secs,
        })
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The session in the request's cookie, if there is one that opens and has not expired.
    pub fn read(&self, headers: &HeaderMap) -> Option<SessionData> {
        let value = cookie_value(headers, COOKIE)?;
        let stored = URL_SAFE_NO_PAD.decode(value).ok()?;
        let opened = self.sealer.reveal(OWNER, &stored, true)?;
        let data: SessionData = serde_json::from_slice(&opened).ok()?;
        (data.expires_at > chrono::Utc::now().timestamp()).then_some(data)
    }

    /// The `Set-Cookie` value that stores `data`.
    pub fn store(&self, data: &SessionData, request: &HeaderMap) -> Option<String> {
        let json = serde_json::to_vec(data).ok()?;
        let (sealed, _) = self.sealer.store(OWNER, &json).ok()?;
        Some(format!(
            "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
            URL_SAFE_NO_PAD.encode(sealed),
            self.ttl_secs,
            self.secure_suffix(request)
        ))
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    pub fn clear(&self, request: &HeaderMap) -> String {
        format!(
            "{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{}",
            self.secure_suffix(request)
        )
    }

    fn secure_suffix(&self, request: &HeaderMap) -> &'static str {
        if self.secure_always || over_tls(request) {
            "; Secure"
        } else {
            ""
        }
    }
}

/// Whether the browser reached us over TLS (a proxy in front says so in
/// `X-Forwarded-Proto`; `Forwarded: proto=https` likewise).
pub fn over_tls(headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    header("x-forwarded-proto")
        .split(',')
        .next()
        .is_some_and(|p| p.trim() == "https")
        || header("forwarded").contains("proto=https")
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether a POST's `Origin` (when the browser sent one) is this console's own origin:
/// the scheme the request came in with and its `Host`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let scheme = if over_tls(headers) { "https" } else { "http" };
    origin
        .to_str()
        .is_ok_and(|o| o == format!("{scheme}://{host}"))
}

/// The session of one request as handlers and the API client share it: a refresh replaces
/// the tokens, and the console's response layer then writes the renewed cookie (or clears
/// it when the session ended).
#[derive(Clone, Default)]
pub struct SessionCell(Arc<Mutex<CellState>>);

#[derive(Default)]
struct CellState {
    data: Option<SessionData>,
    renewed: bool,
    ended: bool,
}

/// What the response layer must do with the cookie.
pub enum CookieChange {
    Keep,
    Store(SessionData),
    Clear,
}

impl SessionCell {
    pub fn set(&self, data: SessionData) {
        let mut state = self.0.lock().expect("session cell");
        state.data = Some(data);
    }

    pub fn get(&self) -> Option<SessionData> {
        self.0.lock().expect("session cell").data.clone()
    }

    /// New tokens (after sign-in or a refresh): the cookie is rewritten.
    pub fn renew(&self, data: SessionData) {
        let mut state = self.0.lock().expect("session cell");
        state.data = Some(data);
        state.renewed = true;
        state.ended = false;
    }

    /// The session is over (signed out, or the refresh token was refused).
    pub fn end(&self) {
        let mut state = self.0.lock().expect("session cell");
        state.data = None;
        state.ended = true;
    }

    pub fn change(&self) -> CookieChange {
        let state = self.0.lock().expect("session cell");
        match (&state.data, state.renewed, state.ended) {
            (_, _, true) => CookieChange::Clear,
            (Some(data), true, _) => CookieChange::Store(data.clone()),
            _ => CookieChange::Keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn jar() -> CookieJar {
        CookieJar::new(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            false,
            3600,
        )
        .unwrap()
    }

    fn data() -> SessionData {
        SessionData::new(
            "access".into(),
            "rt_refresh".into(),
            "ada@example.com".into(),
            vec!["agents:read".into()],
            3600,
        )
    }

    fn with_cookie(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_stored_session_opens_and_a_tampered_one_does_not() {
        let jar = jar();
        let set = jar.store(&data(), &HeaderMap::new()).unwrap();
        assert!(
            set.contains("HttpOnly")
                && set.contains("SameSite=Strict")
                && set.contains("Path=/console")
        );
        assert!(
            !set.contains("Secure"),
            "plain HTTP gets no Secure flag: {set}"
        );
        assert!(
            !set.contains("access") && !set.contains("rt_refresh"),
            "tokens are sealed"
        );
        let opened = jar.read(&with_cookie(&set)).unwrap();
        assert_eq!(opened.email, "ada@example.com");
        assert!(opened.can("agents:read") && !opened.can("agents:write"));
        let mut tampered = set.clone().into_bytes();
        let at = tampered.iter().position(|b| *b == b'=').unwrap() + 5;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert!(
            jar.read(&with_cookie(&String::from_utf8(tampered).unwrap()))
                .is_none()
        );
        let other = CookieJar::new(
            &base64::engine::general_purpose::STANDARD.encode([8u8; 32]),
            false,
            3600,
        )
        .unwrap();
        assert!(
            other.read(&with_cookie(&set)).is_none(),
            "another key does not open it"
        );
    }

    #[test]
    fn expired_sessions_are_refused_and_tls_marks_the_cookie_secure() {
        let jar = jar();
        let mut expired = data();
        expired.expires_at = chrono::Utc::now().timestamp() - 1;
        let set = jar.store(&expired, &HeaderMap::new()).unwrap();
        assert!(jar.read(&with_cookie(&set)).is_none());
        let mut tls = HeaderMap::new();
        tls.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(jar.store(&data(), &tls).unwrap().ends_with("; Secure"));
        assert!(jar.clear(&tls).contains("Max-Age=0"));
    }

    #[test]
    fn csrf_tokens_and_origins_are_checked() {
        let session = data();
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches(""));
        assert!(
            !session.csrf_matches(&data().csrf),
            "each session has its own token"
        );
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("console.example:9000"));
        assert!(same_origin(&headers), "no Origin: the CSRF token decides");
        headers.insert(
            "origin",
            HeaderValue::from_static("http://console.example:9000"),
        );
        assert!(same_origin(&headers));
        headers.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&headers));
    }
}
