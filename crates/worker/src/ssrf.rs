//! The SSRF guard: which addresses Herald refuses to deliver to, and a DNS resolver
//! that applies the rule *after* resolution, so the HTTP client connects only to
//! addresses that were checked (DNS rebinding cannot slip a private address in).
//!
//! The rule is the IANA special-purpose address registries, not a hand-kept list of
//! "private" ranges: an address passes only when it is global unicast (for IPv6,
//! inside `2000::/3`) and no registry row that is not globally reachable holds it.
//! Every IPv6 form that carries an IPv4 address is judged by that address as well:
//! IPv4-mapped addresses are IPv4 on the wire and are judged as IPv4 alone; NAT64
//! (well-known `64:ff9b::/96`), 6to4 (`2002::/16`) and Teredo (`2001::/32`, server
//! and client) reach the IPv4 address they carry, so both must pass. The registry
//! rows are data in [`IPV4_REGISTRY`] and [`IPV6_REGISTRY`], one per IANA row, as
//! of the registries' 2024 updates.

use std::error::Error;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which addresses deliveries may go to: global unicast addresses, plus the networks
/// an operator opened (`allowed_target_cidrs`), or everything at all
/// (`allow_private_targets`, for development); and, with `https_only`, only over TLS.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub allow_private_targets: bool,
    pub allowed_networks: Vec<IpNet>,
    /// Refuse `http://` endpoints: every delivery goes over TLS.
    pub https_only: bool,
}

impl TargetPolicy {
    /// Whether an attempt may connect to `ip`. Every address the connection reaches
    /// must be global or opened by the allow-list: an IPv4-mapped address is judged
    /// as the IPv4 address it is on the wire (so `::/0` in the allow-list opens no
    /// IPv4 range), and a translated form (NAT64, 6to4, Teredo) must pass both as
    /// itself and as the IPv4 address it carries.
    pub fn permits(&self, ip: IpAddr) -> bool {
        if self.allow_private_targets {
            return true;
        }
        let opened = |ip: IpAddr| self.allowed_networks.iter().any(|network| network.contains(&ip));
        match ip {
            IpAddr::V4(v4) => classify_v4(v4).is_global() || opened(ip),
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return self.permits(IpAddr::V4(v4));
                }
                let itself = classify_v6_prefix(v6).is_global() || opened(ip);
                itself && carried_v4(v6).iter().all(|&v4| self.permits(IpAddr::V4(v4)))
            }
        }
    }

    /// Why `url` may not be delivered to before any address is looked at, if it may not.
    pub fn refuses_url(&self, url: &str) -> Option<&'static str> {
        let https = url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        (self.https_only && !https).then_some("this Herald delivers only to https:// endpoints (https_only)")
    }
}

/// What the registries say of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Global unicast: no registry row withholds it.
    Global,
    /// Not globally reachable: the registry row (or address block) that says so.
    Special(&'static str),
}

impl AddressClass {
    pub fn is_global(self) -> bool {
        self == AddressClass::Global
    }
}

/// Classifies an address by itself and, for IPv6 forms that carry an IPv4 address,
/// by that address too (the first reason found).
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            let own = classify_v6_prefix(v6);
            if !own.is_global() {
                return own;
            }
            carried_v4(v6).into_iter().map(classify_v4).find(|class| !class.is_global()).unwrap_or(own)
        }
    }
}

/// Whether an address is off limits for deliveries when nothing is allowed.
pub fn is_forbidden(ip: IpAddr) -> bool {
    !classify(ip).is_global()
}

/// Whether a registry row's addresses are globally reachable (IANA's column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Global,
    NotGlobal,
    /// IANA says "N/A": the block is judged by the IPv4 address it carries.
    ByCarriedAddress,
}

/// The IANA IPv4 Special-Purpose Address Registry, plus multicast (its own registry),
/// most specific rows first where rows nest.
const IPV4_REGISTRY: &[(Ipv4Net, Reach, &str)] = &[
    (v4(0, 0, 0, 0, 8), Reach::NotGlobal, "this network (0.0.0.0/8)"),
    (v4(10, 0, 0, 0, 8), Reach::NotGlobal, "private use (10.0.0.0/8)"),
    (v4(100, 64, 0, 0, 10), Reach::NotGlobal, "shared address space (100.64.0.0/10)"),
    (v4(127, 0, 0, 0, 8), Reach::NotGlobal, "loopback (127.0.0.0/8)"),
    (v4(169, 254, 0, 0, 16), Reach::NotGlobal, "link local (169.254.0.0/16)"),
    (v4(172, 16, 0, 0, 12), Reach::NotGlobal, "private use (172.16.0.0/12)"),
    (v4(192, 0, 0, 9, 32), Reach::Global, "port control protocol anycast (192.0.0.9/32)"),
    (v4(192, 0, 0, 10, 32), Reach::Global, "traversal using relays around NAT anycast (192.0.0.10/32)"),
    (v4(192, 0, 0, 0, 24), Reach::NotGlobal, "IETF protocol assignments (192.0.0.0/24)"),
    (v4(192, 0, 2, 0, 24), Reach::NotGlobal, "documentation TEST-NET-1 (192.0.2.0/24)"),
    (v4(192, 31, 196, 0, 24), Reach::Global, "AS112-v4 (192.31.196.0/24)"),
    (v4(192, 52, 193, 0, 24), Reach::Global, "AMT (192.52.193.0/24)"),
    (v4(192, 88, 99, 0, 24), Reach::NotGlobal, "deprecated 6to4 relay anycast (192.88.99.0/24)"),
    (v4(192, 168, 0, 0, 16), Reach::NotGlobal, "private use (192.168.0.0/16)"),
    (v4(192, 175, 48, 0, 24), Reach::Global, "direct delegation AS112 service (192.175.48.0/24)"),
    (v4(198, 18, 0, 0, 15), Reach::NotGlobal, "benchmarking (198.18.0.0/15)"),
    (v4(198, 51, 100, 0, 24), Reach::NotGlobal, "documentation TEST-NET-2 (198.51.100.0/24)"),
    (v4(203, 0, 113, 0, 24), Reach::NotGlobal, "documentation TEST-NET-3 (203.0.113.0/24)"),
    (v4(224, 0, 0, 0, 4), Reach::NotGlobal, "multicast (224.0.0.0/4)"),
    (v4(255, 255, 255, 255, 32), Reach::NotGlobal, "limited broadcast (255.255.255.255/32)"),
    (v4(240, 0, 0, 0, 4), Reach::NotGlobal, "reserved (240.0.0.0/4)"),
];

/// The IANA IPv6 Special-Purpose Address Registry, plus the address-space rows that
/// are not global unicast, most specific rows first where rows nest.
const IPV6_REGISTRY: &[(Ipv6Net, Reach, &str)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), Reach::NotGlobal, "loopback (::1/128)"),
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), Reach::NotGlobal, "unspecified (::/128)"),
    (v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96), Reach::NotGlobal, "IPv4-mapped (::ffff:0:0/96)"),
    (v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96), Reach::NotGlobal, "IPv4-translated, SIIT (::ffff:0:0:0/96)"),
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 96), Reach::NotGlobal, "IPv4-compatible, deprecated (::/96)"),
    (v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96), Reach::ByCarriedAddress, "IPv4-IPv6 translation (64:ff9b::/96)"),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), Reach::NotGlobal, "local-use IPv4/IPv6 translation (64:ff9b:1::/48)"),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), Reach::NotGlobal, "discard-only (100::/64)"),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), Reach::ByCarriedAddress, "Teredo (2001::/32)"),
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128), Reach::Global, "port control protocol anycast (2001:1::1/128)"),
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128), Reach::Global, "TURN anycast (2001:1::2/128)"),
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128), Reach::Global, "DNS-SD service registration anycast (2001:1::3/128)"),
    (v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), Reach::NotGlobal, "benchmarking (2001:2::/48)"),
    (v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32), Reach::Global, "AMT (2001:3::/32)"),
    (v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48), Reach::Global, "AS112-v6 (2001:4:112::/48)"),
    (v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28), Reach::NotGlobal, "deprecated ORCHID (2001:10::/28)"),
    (v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), Reach::Global, "ORCHIDv2 (2001:20::/28)"),
    (v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28), Reach::Global, "drone remote ID protocol entity tags (2001:30::/28)"),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), Reach::NotGlobal, "IETF protocol assignments (2001::/23)"),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), Reach::NotGlobal, "documentation (2001:db8::/32)"),
    (v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), Reach::ByCarriedAddress, "6to4 (2002::/16)"),
    (
        v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48),
        Reach::Global,
        "direct delegation AS112 service (2620:4f:8000::/48)",
    ),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), Reach::NotGlobal, "documentation (3fff::/20)"),
    (v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), Reach::NotGlobal, "segment routing SIDs (5f00::/16)"),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), Reach::NotGlobal, "unique local (fc00::/7)"),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), Reach::NotGlobal, "link-local unicast (fe80::/10)"),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), Reach::NotGlobal, "site-local, deprecated (fec0::/10)"),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), Reach::NotGlobal, "multicast (ff00::/8)"),
];

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]), prefix)
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    match IPV4_REGISTRY.iter().find(|(network, _, _)| network.contains(&ip)) {
        Some((_, Reach::NotGlobal, name)) => AddressClass::Special(name),
        _ => AddressClass::Global,
    }
}

/// The IPv6 address's own class, without looking at a carried IPv4 address.
fn classify_v6_prefix(ip: Ipv6Addr) -> AddressClass {
    match IPV6_REGISTRY.iter().find(|(network, _, _)| network.contains(&ip)) {
        Some((_, Reach::NotGlobal, name)) => AddressClass::Special(name),
        Some(_) => AddressClass::Global,
        // Outside every registry row: only the global unicast block 2000::/3 is global.
        None if (ip.segments()[0] & 0xe000) == 0x2000 => AddressClass::Global,
        None => AddressClass::Special("not global unicast (outside 2000::/3)"),
    }
}

/// The IPv4 addresses an IPv6 address reaches through a translation or tunnel:
/// NAT64 (the last 32 bits), 6to4 (bits 16–47), Teredo (the server at bits 32–63 and
/// the client, obfuscated, in the last 32 bits).
fn carried_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let pair = |high: u16, low: u16| Ipv4Addr::from(((high as u32) << 16) | low as u32);
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => vec![pair(high, low)],
        [0x2002, high, low, ..] => vec![pair(high, low)],
        [0x2001, 0, server_high, server_low, _, _, client_high, client_low] => {
            vec![pair(server_high, server_low), pair(!client_high, !client_low)]
        }
        _ => vec![],
    }
}

/// Parses `allowed_target_cidrs`: comma-separated networks (`10.0.0.0/8, fd00::/8`)
/// or single addresses.
pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{item}` is not a network such as 10.0.0.0/8 or an address"))
        })
        .collect()
}

/// The resolver found addresses, and the guard refused every one of them.
#[derive(Debug)]
pub struct BlockedAddress {
    pub host: String,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to addresses Herald does not deliver to (loopback, private, link-local, …)",
            self.host
        )
    }
}

impl Error for BlockedAddress {}

/// The host name did not resolve.
#[derive(Debug)]
pub struct DnsFailure {
    pub host: String,
    pub cause: std::io::Error,
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not resolve {}: {}", self.host, self.cause)
    }
}

impl Error for DnsFailure {}

/// A `reqwest` resolver that drops the addresses the [`TargetPolicy`] does not permit,
/// so the client connects only to addresses that were checked.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: std::sync::Arc<TargetPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|cause| Box::new(DnsFailure { host: host.clone(), cause }) as Box<dyn Error + Send + Sync>)?;
            let allowed: Vec<SocketAddr> = resolved.filter(|addr| policy.permits(addr.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(BlockedAddress { host }) as Box<dyn Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(address: &str, global: bool) {
        let ip: IpAddr = address.parse().unwrap();
        assert_eq!(classify(ip).is_global(), global, "{address}: {:?}", classify(ip));
    }

    fn closed() -> TargetPolicy {
        TargetPolicy::default()
    }

    /// Every registry row, at its first and last address: what IANA's "globally
    /// reachable" column says (carried-address rows are checked below).
    #[test]
    fn every_registry_row_is_judged_as_iana_says() {
        for (network, reach, name) in IPV4_REGISTRY {
            for ip in [network.network(), network.broadcast()] {
                // Rows nest (192.0.0.9/32 in 192.0.0.0/24): judge by the first row that holds it.
                let (_, first_reach, _) = IPV4_REGISTRY.iter().find(|(n, _, _)| n.contains(&ip)).unwrap();
                assert_eq!(classify_v4(ip).is_global(), *first_reach == Reach::Global, "{name} at {ip}");
            }
            assert_ne!(*reach, Reach::ByCarriedAddress, "{name}");
        }
        for (network, reach, name) in IPV6_REGISTRY {
            for ip in [network.network(), network.broadcast()] {
                let (_, first_reach, _) = IPV6_REGISTRY.iter().find(|(n, _, _)| n.contains(&ip)).unwrap();
                let expected = match first_reach {
                    Reach::Global => true,
                    Reach::NotGlobal => false,
                    Reach::ByCarriedAddress => carried_v4(ip).iter().all(|&v4| classify_v4(v4).is_global()),
                };
                assert_eq!(classify(IpAddr::V6(ip)).is_global(), expected, "{name} ({reach:?}) at {ip}");
            }
        }
    }

    #[test]
    fn forbidden_addresses() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.0.170",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            // IPv4-compatible (deprecated) and SIIT forms.
            "::10.0.0.1",
            "::8.8.8.8",
            "::ffff:0:10.0.0.1",
            "::ffff:0:8.8.8.8",
            // NAT64: well-known with a private address, and local-use with any.
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1::808:808",
            // 6to4 and Teredo carrying private addresses.
            "2002:a00:1::1",
            "2002:7f00:1::",
            "2001:0:a00:1::808:808",
            "2001:0:808:808::f5ff:fffe",
            // Discard-only, benchmarking, the rest of 2001::/23, outside 2000::/3.
            "100::1",
            "2001:2::1",
            "2001:100::1",
            "4000::1",
            "1::1",
        ] {
            check(address, false);
        }
    }

    #[test]
    fn global_addresses_pass() {
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "192.0.0.9",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            // Teredo: server 8.8.8.8, client 1.1.1.1 (obfuscated as fefe:fefe).
            "2001:0:808:808::fefe:fefe",
            "2001:4:112::1",
            "2620:4f:8000::1",
        ] {
            check(address, true);
        }
    }

    #[test]
    fn allowed_networks_open_only_themselves() {
        let policy = TargetPolicy {
            allowed_networks: parse_networks("127.0.0.1/32, 10.20.0.0/16,fd00::1").unwrap(),
            ..TargetPolicy::default()
        };
        for (address, permitted) in [
            ("127.0.0.1", true),
            ("127.0.0.2", false),
            ("10.20.5.5", true),
            ("10.21.0.1", false),
            ("::ffff:10.20.0.9", true),
            ("::ffff:10.21.0.9", false),
            ("fd00::1", true),
            ("fd00::2", false),
            ("169.254.169.254", false),
            ("8.8.8.8", true),
            ("64:ff9b::10.20.0.1", true),
        ] {
            assert_eq!(policy.permits(address.parse().unwrap()), permitted, "{address}");
        }
        assert!(TargetPolicy { allow_private_targets: true, ..closed() }.permits("169.254.169.254".parse().unwrap()));
        assert!(parse_networks("10.0.0.0/33").is_err());
        assert!(parse_networks("nope").is_err());
        assert_eq!(parse_networks(" ").unwrap(), vec![]);
    }

    /// `::/0` opens IPv6 ranges only: no IPv4 range through its mapped or translated forms.
    #[test]
    fn an_ipv6_wildcard_opens_no_ipv4_range() {
        let policy = TargetPolicy { allowed_networks: parse_networks("::/0").unwrap(), ..closed() };
        for (address, permitted) in [
            ("fd00::1", true),
            ("::1", true),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("64:ff9b::10.0.0.1", false),
            ("2002:a00:1::1", false),
            ("2001:0:a00:1::f5ff:fffe", false),
            ("127.0.0.1", false),
        ] {
            assert_eq!(policy.permits(address.parse().unwrap()), permitted, "{address}");
        }
        let both = TargetPolicy { allowed_networks: parse_networks("::/0, 10.0.0.0/8").unwrap(), ..closed() };
        assert!(both.permits("64:ff9b::10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn https_only_refuses_plain_http() {
        let policy = TargetPolicy { https_only: true, ..closed() };
        assert!(policy.refuses_url("http://example.com/").is_some());
        assert!(policy.refuses_url("HTTPS://example.com/").is_none());
        assert!(closed().refuses_url("http://example.com/").is_none());
    }
}
