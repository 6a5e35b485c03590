//! Key layout. Every Redis key, L1 key and the pub/sub channel is built here, so the layout is
//! written down in one place:
//!
//! | what | key |
//! |---|---|
//! | entry | `{prefix}:cache:{category}:k:{key}` |
//! | entry in a namespace | `{prefix}:cache:{category}:ns:{len(namespace)}:{namespace}:{version}:{key}` |
//! | namespace version | `{prefix}:cache:{category}:nsv:{namespace}` |
//! | invalidation channel | `{prefix}:cache:invalidate` |
//!
//! Entries and namespace versions expire (see `tiers::version_key_ttl`): nothing this crate
//! writes to Redis lives forever.
//!
//! The namespace is length-prefixed so that no (namespace, key) pair can collide with another
//! whatever characters they contain, and so that "every entry of this namespace" is an exact key
//! prefix for L1 invalidation.

use std::fmt;

/// The namespace version an entry key is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// Read from (or bumped in) Redis: shared by every replica.
    Shared(u64),
    /// Redis is unavailable: the entry lives in this process's L1 only and is never written to
    /// Redis, where it could be mistaken for a shared version. The number is a process-local
    /// epoch of the namespace, replaced (never reused) when the namespace is invalidated.
    Local(u64),
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shared(n) => write!(f, "v{n}"),
            Self::Local(n) => write!(f, "local{n}"),
        }
    }
}

/// Builds keys under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: String) -> Self {
        Self { prefix }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn entry(&self, category: &str, key: &str) -> String {
        format!("{}:cache:{category}:k:{key}", self.prefix)
    }

    pub(crate) fn namespace_entries(&self, category: &str, namespace: &str) -> String {
        format!(
            "{}:cache:{category}:ns:{}:{namespace}:",
            self.prefix,
            namespace.len()
        )
    }

    pub(crate) fn namespaced_entry(
        &self,
        category: &str,
        namespace: &str,
        version: Version,
        key: &str,
    ) -> String {
        format!(
            "{}{version}:{key}",
            self.namespace_entries(category, namespace)
        )
    }

    pub(crate) fn namespace_version(&self, category: &str, namespace: &str) -> String {
        format!("{}:cache:{category}:nsv:{namespace}", self.prefix)
    }

    pub(crate) fn channel(&self) -> String {
        format!("{}:cache:invalidate", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        let keys = Keys::new("tn".into());
        assert_eq!(keys.entry("jwt", "abc"), "tn:cache:jwt:k:abc");
        assert_eq!(
            keys.namespaced_entry("rag", "t1", Version::Shared(3), "q"),
            "tn:cache:rag:ns:2:t1:v3:q"
        );
        assert_eq!(keys.namespace_version("rag", "t1"), "tn:cache:rag:nsv:t1");
        assert_eq!(keys.channel(), "tn:cache:invalidate");
    }

    #[test]
    fn namespaced_keys_cannot_collide_across_namespaces() {
        let keys = Keys::new("tn".into());
        let a = keys.namespaced_entry("c", "x", Version::Shared(0), "v0:z");
        let b = keys.namespaced_entry("c", "x:v0", Version::Shared(0), "z");
        assert_ne!(a, b);
        assert!(a.starts_with(&keys.namespace_entries("c", "x")));
        assert!(!b.starts_with(&keys.namespace_entries("c", "x")));
    }

    #[test]
    fn plain_keys_never_look_like_namespaced_keys() {
        let keys = Keys::new("tn".into());
        let plain = keys.entry("c", "ns:1:x:v0:z");
        assert!(!plain.starts_with(&keys.namespace_entries("c", "x")));
        assert_ne!(
            plain,
            keys.namespaced_entry("c", "x", Version::Shared(0), "z")
        );
    }
}
