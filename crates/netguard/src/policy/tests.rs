//! Unit tests for [`NetPolicy`]: allow-list parsing, allow-list overrides, URL validation and
//! checked resolution of literal and local names.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::NetPolicy;
use crate::{BlockReason, GuardError};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test IP")
}

fn net(text: &str) -> IpNet {
    text.parse().expect("test network")
}

fn blocked(text: &str, reason: BlockReason) -> GuardError {
    GuardError::Blocked {
        ip: ip(text),
        reason,
    }
}

/// Asserts that `policy` refuses the address `text` for `reason`.
fn assert_blocked(policy: &NetPolicy, text: &str, reason: BlockReason) {
    assert_eq!(
        policy.check_ip(ip(text)),
        Err(blocked(text, reason)),
        "{text}"
    );
}

#[test]
fn parse_accepts_networks_bare_addresses_and_whitespace() {
    let policy = NetPolicy::parse(" 127.0.0.0/8 ,::1/128,10.1.2.3,  fd00::1 ,").expect("valid");
    assert_eq!(
        policy.allowed(),
        [
            net("127.0.0.0/8"),
            net("::1/128"),
            net("10.1.2.3/32"),
            net("fd00::1/128")
        ]
    );
}

#[test]
fn parse_empty_allows_nothing() {
    for list in ["", "   ", ",", " , "] {
        let policy = NetPolicy::parse(list).expect("empty list is valid");
        assert!(policy.allowed().is_empty(), "{list:?}");
        assert_eq!(policy, NetPolicy::default());
    }
}

#[test]
fn parse_truncates_host_bits() {
    let policy = NetPolicy::parse("127.0.0.1/8").expect("valid");
    assert_eq!(policy.allowed(), [net("127.0.0.0/8")]);
}

#[test]
fn parse_names_the_bad_entry() {
    let cases = [
        ("127.0.0.0/8, localhost", "localhost"),
        ("10.0.0.0/33", "10.0.0.0/33"),
        ("::1/129,127.0.0.1", "::1/129"),
        ("256.0.0.1", "256.0.0.1"),
        ("127.0.0.0/8;::1", "127.0.0.0/8;::1"),
    ];
    for (list, bad) in cases {
        let err = NetPolicy::parse(list).expect_err(list);
        assert_eq!(err, GuardError::InvalidNetwork(bad.to_owned()), "{list}");
        assert_eq!(err.to_string(), format!("invalid allowed network '{bad}'"));
    }
    let via_from_str: Result<NetPolicy, _> = "nope".parse();
    assert_eq!(via_from_str, Err(GuardError::InvalidNetwork("nope".into())));
}

#[test]
fn default_policy_blocks_non_public_and_passes_public() {
    let policy = NetPolicy::default();
    assert_blocked(&policy, "127.0.0.1", BlockReason::Loopback);
    assert_blocked(&policy, "169.254.169.254", BlockReason::Metadata);
    assert_eq!(policy.check_ip(ip("8.8.8.8")), Ok(()));
    assert_eq!(policy.check_ip(ip("2606:4700:4700::1111")), Ok(()));
}

#[test]
fn allow_list_overrides_only_its_networks() {
    let policy = NetPolicy::parse("127.0.0.0/8").expect("valid");
    assert_eq!(policy.check_ip(ip("127.0.0.1")), Ok(()));
    assert_eq!(policy.check_ip(ip("127.255.0.9")), Ok(()));
    // The IPv4-mapped form of an allowed IPv4 address is the same destination.
    assert_eq!(policy.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
    assert_blocked(&policy, "10.0.0.1", BlockReason::Private);
    assert_blocked(&policy, "::1", BlockReason::Loopback);
    assert_eq!(policy.check_ip(ip("1.1.1.1")), Ok(()));
}

#[test]
fn blocked_error_message_names_address_and_reason() {
    let err = NetPolicy::default().check_ip(ip("10.0.0.1")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "destination 10.0.0.1 is not allowed (private)"
    );
    assert!(err.is_blocked());
}

#[test]
fn check_url_rejects_malformed_or_unsafe_urls() {
    let policy = NetPolicy::default();
    let invalid = [
        ("ftp://x", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("http://user:pass@example.com", "credentials"),
        ("http://user@example.com", "credentials"),
        ("http:///path", "scheme://host"),
        ("http:/example.com", "scheme://host"),
        ("http:example.com", "scheme://host"),
        ("not a url", "relative URL"),
        ("http://", "empty host"),
    ];
    for (url, fragment) in invalid {
        match policy.check_url(url) {
            Err(GuardError::InvalidUrl(message)) => {
                assert!(message.contains(fragment), "{url}: message {message:?}")
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }
}

#[test]
fn check_url_rejects_blocked_ip_literals_in_every_spelling() {
    let policy = NetPolicy::default();
    let cases = [
        ("http://127.0.0.1/", "127.0.0.1", BlockReason::Loopback),
        ("http://[::1]:8080/", "::1", BlockReason::Loopback),
        (
            "http://[::ffff:127.0.0.1]/",
            "::ffff:127.0.0.1",
            BlockReason::Loopback,
        ),
        (
            "http://169.254.169.254/latest/meta-data",
            "169.254.169.254",
            BlockReason::Metadata,
        ),
        // The URL standard normalises decimal, hex and short forms to 127.0.0.1.
        ("http://2130706433/", "127.0.0.1", BlockReason::Loopback),
        ("http://0x7f.1/", "127.0.0.1", BlockReason::Loopback),
        ("http://0177.0.0.1/", "127.0.0.1", BlockReason::Loopback),
        ("http://127.1/", "127.0.0.1", BlockReason::Loopback),
        ("https://0/", "0.0.0.0", BlockReason::Unspecified),
        (
            "http://[fd00:ec2::254]/",
            "fd00:ec2::254",
            BlockReason::Metadata,
        ),
        (
            "http://10.0.0.1:9200/_search",
            "10.0.0.1",
            BlockReason::Private,
        ),
    ];
    for (url, addr, reason) in cases {
        assert_eq!(policy.check_url(url), Err(blocked(addr, reason)), "{url}");
    }
}

#[test]
fn check_url_accepts_public_urls_and_allowed_literals() {
    let policy = NetPolicy::default();
    let url = policy
        .check_url("https://example.com/x")
        .expect("public URL");
    assert_eq!(url.host_str(), Some("example.com"));
    assert_eq!(url.path(), "/x");
    assert!(policy.check_url("http://8.8.8.8:8080/?q=1").is_ok());
    // Host names are not resolved by check_url, so local names pass here and are caught by
    // the resolver; `localhost` and names under it are loopback by definition and refused.
    assert!(policy.check_url("http://db.internal/").is_ok());
    assert!(policy.check_url("http://notlocalhost/").is_ok());
    assert!(policy.check_url("http://localhost.example.com/").is_ok());
    for url in [
        "http://localhost/",
        "http://LOCALHOST:8080/",
        "http://localhost./",
        "http://api.localhost/x",
    ] {
        assert_eq!(
            policy.check_url(url),
            Err(blocked("127.0.0.1", BlockReason::Loopback)),
            "{url}"
        );
    }

    let local = NetPolicy::parse("127.0.0.0/8,::1/128").expect("valid");
    let url = local.check_url("http://2130706433:3000/").expect("allowed");
    assert_eq!(url.as_str(), "http://127.0.0.1:3000/");
    assert!(local.check_url("http://[::1]:8080/").is_ok());
    assert!(local.check_url("http://localhost:3000/").is_ok());
}

#[tokio::test]
async fn resolve_checks_ip_literals_without_dns() {
    let policy = NetPolicy::default();
    assert_eq!(
        policy.resolve("[::1]", 80).await,
        Err(blocked("::1", BlockReason::Loopback))
    );
    assert_eq!(
        policy.resolve("8.8.8.8", 53).await,
        Ok(vec![SocketAddr::new(ip("8.8.8.8"), 53)])
    );
}

#[tokio::test]
async fn resolve_refuses_names_resolving_to_loopback_unless_allowed() {
    let err = NetPolicy::default()
        .resolve("localhost", 8080)
        .await
        .expect_err("localhost is loopback");
    match err {
        GuardError::Blocked { ip, reason } => {
            assert!(ip.is_loopback(), "{ip}");
            assert_eq!(reason, BlockReason::Loopback);
        }
        other => panic!("expected Blocked, got {other:?}"),
    }

    let allowed = NetPolicy::parse("127.0.0.0/8,::1/128").expect("valid");
    let addrs = allowed.resolve("localhost", 8080).await.expect("allowed");
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080),
        "{addrs:?}"
    );
}

#[test]
fn a_dns_answer_mixing_public_and_private_addresses_is_refused_whole() {
    let sock = |text: &str| SocketAddr::new(ip(text), 443);
    let policy = NetPolicy::default();
    assert_eq!(
        policy.check_answer([sock("93.184.216.34"), sock("10.0.0.5"), sock("1.1.1.1")]),
        Err(blocked("10.0.0.5", BlockReason::Private))
    );
    assert_eq!(
        policy.check_answer([sock("2606:4700:4700::1111"), sock("fe80::1")]),
        Err(blocked("fe80::1", BlockReason::LinkLocal))
    );
    assert_eq!(
        policy.check_answer([sock("1.1.1.1"), sock("8.8.8.8"), sock("1.1.1.1")]),
        Ok(vec![sock("1.1.1.1"), sock("8.8.8.8")])
    );
    // With the private address allowed, the same mixed answer passes.
    let allowed = NetPolicy::parse("10.0.0.0/8").expect("valid");
    assert_eq!(
        allowed.check_answer([sock("93.184.216.34"), sock("10.0.0.5")]),
        Ok(vec![sock("93.184.216.34"), sock("10.0.0.5")])
    );
}
