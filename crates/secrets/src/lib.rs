//! Secrets in configuration: a password, an API key, a signing key or a URL with credentials
//! is held in a type whose `Debug` never shows it, so a configuration struct can simply
//! `#[derive(Debug)]` and be logged at start-up whole. A field cannot be forgotten in a
//! hand-written `Debug` impl, and a new secret is safe as soon as it has the type.
//!
//! Both types are serde-transparent: configuration files and variables carry plain text.
//! Reading the value is explicit ([`Secret::expose`], [`SecretUrl::expose`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret text (key, password, token): `Debug` prints `<redacted>`, or `<unset>` when it is
/// empty, never the value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether a value is set (anything but blanks).
    pub fn is_set(&self) -> bool {
        !self.0.trim().is_empty()
    }

    /// The secret without surrounding blanks; `None` when that leaves nothing (an empty
    /// variable or file entry means "not configured").
    pub fn non_blank(&self) -> Option<&str> {
        Some(self.0.trim()).filter(|value| !value.is_empty())
    }
}

/// Both types are built from text: `"…".into()`, `String::into()`.
macro_rules! from_text {
    ($($secret:ident),*) => {$(
        impl From<&str> for $secret {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $secret {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    )*};
}

from_text!(Secret, SecretUrl);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() {
            "<redacted>"
        } else {
            "<unset>"
        })
    }
}

/// A URL that may carry credentials (`postgres://user:password@host/db`): `Debug` shows it
/// with the password replaced by `***` ([`redact_url`]), so where a service connects stays
/// visible in its logged configuration.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(pub String);

impl SecretUrl {
    /// The URL with its credentials, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url(&self.0), f)
    }
}

/// `url` with the password of its user-info replaced by `***` (`user:***@host`); a URL without
/// a password, or anything that is not a URL, is returned unchanged.
///
/// The user-info is taken to end at the *last* `@`, so a password pasted unencoded (with `/`,
/// `?` or `@` in it) is still hidden; an `@` in a path or query can only make it hide more
/// than the password, never less.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_whether_a_secret_is_set_but_never_its_value() {
        assert_eq!(
            format!("{:?}", Secret::from("hunter2hunter2")),
            "<redacted>"
        );
        assert_eq!(format!("{:?}", Secret::default()), "<unset>");
        assert_eq!(format!("{:?}", Some(Secret::from("k"))), "Some(<redacted>)");
        assert_eq!(Secret::from("k").expose(), "k");
        assert_eq!(Secret::from(" k\n").non_blank(), Some("k"));
        assert_eq!(Secret::from("  ").non_blank(), None);
    }

    #[test]
    fn secrets_are_plain_text_in_configuration() {
        let secret: Secret = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(secret.expose(), "abc");
        assert_eq!(serde_json::to_string(&secret).unwrap(), r#""abc""#);
        let url: SecretUrl = serde_json::from_str(r#""redis://:pw@h""#).unwrap();
        assert_eq!(url.expose(), "redis://:pw@h");
    }

    #[test]
    fn a_url_keeps_everything_but_its_password() {
        let url = SecretUrl::from("postgres://app:s3cret@db.internal:5432/temponest");
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, r#""postgres://app:***@db.internal:5432/temponest""#);
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
    }

    #[test]
    fn a_password_pasted_unencoded_is_hidden_whole() {
        for (url, shown) in [
            ("postgres://app:pa/ss@db/x", "postgres://app:***@db/x"),
            ("postgres://app:p@ss?w@db/x", "postgres://app:***@db/x"),
            ("postgres://app:pw@db/x?opt=a@b", "postgres://app:***@b"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }

    #[test]
    fn urls_without_credentials_and_non_urls_are_unchanged() {
        for plain in [
            "postgres://postgres@127.0.0.1:5432/temponest",
            "redis://127.0.0.1:6379",
            "http://host/path@not-credentials?to=a@b",
            "not a url",
        ] {
            assert_eq!(redact_url(plain), plain);
        }
    }
}
