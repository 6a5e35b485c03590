//! Table-driven tests for [`classify`](super::classify): every special-purpose range with its
//! first and last address, and the public neighbours just outside it.

use super::{BlockReason, classify};
use std::net::IpAddr;

use BlockReason::*;

/// Asserts each `(address, expected)` pair, reporting every mismatch at once.
fn check_table(table: &[(&str, Option<BlockReason>)]) {
    let failures: Vec<String> = table
        .iter()
        .filter_map(|(text, expected)| {
            let ip: IpAddr = text
                .parse()
                .unwrap_or_else(|e| panic!("bad test IP {text}: {e}"));
            let got = classify(ip);
            (got != *expected).then(|| format!("{text}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "misclassified:\n{}",
        failures.join("\n")
    );
}

#[test]
fn ipv4_special_ranges_and_edges() {
    check_table(&[
        ("0.0.0.0", Some(Unspecified)),
        ("0.0.0.1", Some(Reserved)),
        ("0.255.255.255", Some(Reserved)),
        ("1.0.0.0", None),
        ("9.255.255.255", None),
        ("10.0.0.0", Some(Private)),
        ("10.255.255.255", Some(Private)),
        ("11.0.0.0", None),
        ("100.63.255.255", None),
        ("100.64.0.0", Some(SharedAddressSpace)),
        ("100.127.255.255", Some(SharedAddressSpace)),
        ("100.128.0.0", None),
        ("126.255.255.255", None),
        ("127.0.0.0", Some(Loopback)),
        ("127.0.0.1", Some(Loopback)),
        ("127.255.255.255", Some(Loopback)),
        ("128.0.0.0", None),
        ("169.253.255.255", None),
        ("169.254.0.0", Some(LinkLocal)),
        ("169.254.255.255", Some(LinkLocal)),
        ("169.255.0.0", None),
        ("172.15.255.255", None),
        ("172.16.0.0", Some(Private)),
        ("172.31.255.255", Some(Private)),
        ("172.32.0.0", None),
        ("191.255.255.255", None),
        ("192.0.0.0", Some(Reserved)),
        ("192.0.0.255", Some(Reserved)),
        ("192.0.1.0", None),
        ("192.0.2.0", Some(Reserved)),
        ("192.0.2.255", Some(Reserved)),
        ("192.0.3.0", None),
        ("192.88.98.255", None),
        ("192.88.99.0", Some(Reserved)),
        ("192.88.99.255", Some(Reserved)),
        ("192.88.100.0", None),
        ("192.167.255.255", None),
        ("192.168.0.0", Some(Private)),
        ("192.168.255.255", Some(Private)),
        ("192.169.0.0", None),
        ("198.17.255.255", None),
        ("198.18.0.0", Some(Reserved)),
        ("198.19.255.255", Some(Reserved)),
        ("198.20.0.0", None),
        ("198.51.99.255", None),
        ("198.51.100.0", Some(Reserved)),
        ("198.51.100.255", Some(Reserved)),
        ("198.51.101.0", None),
        ("203.0.112.255", None),
        ("203.0.113.0", Some(Reserved)),
        ("203.0.113.255", Some(Reserved)),
        ("203.0.114.0", None),
        ("223.255.255.255", None),
        ("224.0.0.0", Some(Multicast)),
        ("239.255.255.255", Some(Multicast)),
        ("240.0.0.0", Some(Reserved)),
        ("255.255.255.254", Some(Reserved)),
        ("255.255.255.255", Some(Broadcast)),
    ]);
}

#[test]
fn metadata_endpoints() {
    check_table(&[
        ("169.254.169.254", Some(Metadata)),
        ("169.254.170.2", Some(Metadata)),
        ("169.254.169.253", Some(LinkLocal)),
        ("100.100.100.200", Some(Metadata)),
        ("100.100.100.201", Some(SharedAddressSpace)),
        ("168.63.129.16", Some(Metadata)),
        ("fd00:ec2::254", Some(Metadata)),
        ("fd00:ec2::253", Some(UniqueLocal)),
        ("::ffff:169.254.169.254", Some(Metadata)),
    ]);
}

#[test]
fn public_addresses_pass() {
    check_table(&[
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
        ("2001:4860:4860::8888", None),
        ("2a00:1450:4001::1", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None), // NAT64 of 8.8.8.8
        ("2002:808:808::1", None),  // 6to4 of 8.8.8.8
        ("2001:200::1", None),      // first address after 2001::/23
        ("3fff:1000::", None),      // just after 3fff::/20
        ("2001:db7:ffff::1", None), // just below 2001:db8::/32
        ("2001:db9::1", None),      // just above 2001:db8::/32
    ]);
}

#[test]
fn ipv4_mapped_and_compatible_use_ipv4_rules() {
    check_table(&[
        ("::ffff:127.0.0.1", Some(Loopback)),
        ("::ffff:10.0.0.1", Some(Private)),
        ("::ffff:0.0.0.0", Some(Unspecified)),
        ("::ffff:255.255.255.255", Some(Broadcast)),
        ("::ffff:100.64.0.1", Some(SharedAddressSpace)),
        ("::127.0.0.1", Some(Loopback)),
        ("::10.1.2.3", Some(Private)),
        ("::169.254.169.254", Some(Metadata)),
        ("::0.0.0.2", Some(Reserved)),
        ("::8.8.8.8", None),
    ]);
}

#[test]
fn ipv6_special_ranges_and_edges() {
    check_table(&[
        ("::", Some(Unspecified)),
        ("::1", Some(Loopback)),
        // NAT64 well-known prefix: judged by the embedded IPv4 address.
        ("64:ff9b::7f00:1", Some(Loopback)),
        ("64:ff9b::a00:1", Some(Private)),
        ("64:ff9b::a9fe:a9fe", Some(Metadata)),
        ("64:ff9b:1::", Some(Reserved)),
        ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
        ("100::", Some(Reserved)),
        ("100::ffff:ffff:ffff:ffff", Some(Reserved)),
        ("100:0:0:1::", Some(Reserved)), // outside 100::/64 but still outside 2000::/3
        ("2001::", Some(Reserved)),      // Teredo
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
        ("2001:2::1", Some(Reserved)), // benchmarking, inside 2001::/23
        ("2001:db8::", Some(Reserved)),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
        ("3fff::1", Some(Reserved)),
        // 6to4: judged by the IPv4 address in bits 16..48.
        ("2002:7f00:1::", Some(Loopback)),
        ("2002:c0a8:101::1", Some(Private)),
        ("2002:a9fe:a9fe::", Some(Metadata)),
        ("2002::", Some(Unspecified)),
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
        ("4000::1", Some(Reserved)),
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
        ("fc00::", Some(UniqueLocal)),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(UniqueLocal)),
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
        ("fe80::", Some(LinkLocal)),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(LinkLocal)),
        ("fec0::", Some(SiteLocal)),
        ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(SiteLocal)),
        ("ff00::", Some(Multicast)),
        ("ff02::1", Some(Multicast)),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Multicast)),
    ]);
}

#[test]
fn reason_names_are_stable() {
    for (reason, name) in [
        (Loopback, "loopback"),
        (Private, "private"),
        (SharedAddressSpace, "shared_address_space"),
        (LinkLocal, "link_local"),
        (Metadata, "metadata"),
        (Multicast, "multicast"),
        (Unspecified, "unspecified"),
        (Broadcast, "broadcast"),
        (Reserved, "reserved"),
        (UniqueLocal, "unique_local"),
        (SiteLocal, "site_local"),
    ] {
        assert_eq!(reason.as_str(), name);
        assert_eq!(reason.to_string(), name);
    }
}
