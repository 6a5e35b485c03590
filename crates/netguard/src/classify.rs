//! Address classification: decides whether an IP address is a non-public destination that
//! outbound requests must not reach (loopback, private, link-local, cloud metadata, ...).
//!
//! The rules follow the IANA special-purpose address registries (RFC 6890 and successors).
//! IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`,
//! 6to4 `2002::/16`) are judged by the embedded IPv4 address, so `::ffff:127.0.0.1` is loopback
//! and `2002:a9fe:a9fe::` is the metadata service. Anything outside the IPv6 global unicast
//! space `2000::/3` that no narrower rule covers is reserved.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused as an outbound destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// RFC 6598 carrier-grade NAT space `100.64.0.0/10`.
    SharedAddressSpace,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Cloud instance-metadata endpoints (`169.254.169.254`, `fd00:ec2::254`,
    /// `100.100.100.200`, ...).
    Metadata,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `255.255.255.255`.
    Broadcast,
    /// Reserved, documentation, benchmarking, transition-mechanism and other special-purpose
    /// ranges that are not ordinary public destinations.
    Reserved,
    /// RFC 4193 unique local addresses `fc00::/7`.
    UniqueLocal,
    /// Deprecated IPv6 site-local addresses `fec0::/10`.
    SiteLocal,
}

impl BlockReason {
    /// A stable lower-case, snake_case name, e.g. `"loopback"`, `"shared_address_space"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared_address_space",
            Self::LinkLocal => "link_local",
            Self::Metadata => "metadata",
            Self::Multicast => "multicast",
            Self::Unspecified => "unspecified",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
            Self::UniqueLocal => "unique_local",
            Self::SiteLocal => "site_local",
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Well-known cloud metadata addresses (IPv4).
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean, ...
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata / credentials
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(168, 63, 129, 16),   // Azure WireServer (public range, only meaningful in Azure)
];

/// Well-known cloud metadata addresses (IPv6).
const METADATA_V6: [Ipv6Addr; 1] = [
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254), // AWS IMDS over IPv6
];

/// Classifies an address: `None` if it is an ordinary public destination, otherwise why not.
///
/// IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) IPv6 addresses are
/// classified as their IPv4 address; so are the IPv4 addresses embedded in NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses.
pub fn classify(ip: IpAddr) -> Option<BlockReason> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// `true` if `ip` lies in `base/prefix` (IPv4).
fn in_v4(ip: Ipv4Addr, base: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(base)) & mask)
}

/// `true` if `ip` lies in `base/prefix` (IPv6).
fn in_v6(ip: Ipv6Addr, base: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(base) & mask)
}

/// IPv4 rules, most specific first.
fn classify_v4(ip: Ipv4Addr) -> Option<BlockReason> {
    use BlockReason::*;
    if METADATA_V4.contains(&ip) {
        return Some(Metadata);
    }
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_broadcast() {
        return Some(Broadcast);
    }
    const RULES: &[([u8; 4], u32, BlockReason)] = &[
        ([0, 0, 0, 0], 8, Reserved),               // "this network"
        ([10, 0, 0, 0], 8, Private),               // RFC 1918
        ([100, 64, 0, 0], 10, SharedAddressSpace), // RFC 6598 CGNAT
        ([127, 0, 0, 0], 8, Loopback),             // RFC 1122
        ([169, 254, 0, 0], 16, LinkLocal),         // RFC 3927
        ([172, 16, 0, 0], 12, Private),            // RFC 1918
        ([192, 0, 0, 0], 24, Reserved),            // IETF protocol assignments
        ([192, 0, 2, 0], 24, Reserved),            // TEST-NET-1
        ([192, 88, 99, 0], 24, Reserved),          // deprecated 6to4 relay anycast
        ([192, 168, 0, 0], 16, Private),           // RFC 1918
        ([198, 18, 0, 0], 15, Reserved),           // benchmarking
        ([198, 51, 100, 0], 24, Reserved),         // TEST-NET-2
        ([203, 0, 113, 0], 24, Reserved),          // TEST-NET-3
        ([224, 0, 0, 0], 4, Multicast),            // RFC 5771
        ([240, 0, 0, 0], 4, Reserved),             // future use
    ];
    RULES
        .iter()
        .find(|(base, prefix, _)| in_v4(ip, *base, *prefix))
        .map(|(_, _, reason)| *reason)
}

/// IPv6 rules, most specific first; embedded IPv4 addresses defer to [`classify_v4`].
fn classify_v6(ip: Ipv6Addr) -> Option<BlockReason> {
    use BlockReason::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if METADATA_V6.contains(&ip) {
        return Some(Metadata);
    }
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    // ::ffff:0:0/96 (IPv4-mapped) and ::/96 (IPv4-compatible, deprecated).
    if ip.to_ipv4_mapped().is_some() || bits >> 32 == 0 {
        return classify_v4(low32);
    }
    // 64:ff9b::/96 NAT64 well-known prefix: the gateway connects to the embedded address.
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        return classify_v4(low32);
    }
    // 2002::/16 6to4: the IPv4 address of the tunnel endpoint sits in bits 16..48.
    if in_v6(ip, Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        let embedded = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return classify_v4(embedded);
    }
    let rules: [(Ipv6Addr, u32, BlockReason); 8] = [
        (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, Reserved), // local-use NAT64
        (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, Reserved),     // discard-only
        (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, Reserved), // IETF protocol assignments, Teredo 2001::/32
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, Reserved), // documentation
        (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, Reserved), // documentation (RFC 9637)
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, UniqueLocal),
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, LinkLocal),
        (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, SiteLocal),
    ];
    if let Some((_, _, reason)) = rules
        .iter()
        .find(|(base, prefix, _)| in_v6(ip, *base, *prefix))
    {
        return Some(*reason);
    }
    if ip.is_multicast() {
        return Some(Multicast);
    }
    // Everything outside global unicast 2000::/3 is reserved by the IETF.
    if !in_v6(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return Some(Reserved);
    }
    None
}

#[cfg(test)]
mod tests;
