//! The SSRF guard: which addresses Herald refuses to deliver to, and a DNS resolver
//! that applies the rule *after* resolution, so the HTTP client connects only to
//! addresses that were checked (DNS rebinding cannot slip a private address in).

use std::error::Error;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which addresses deliveries may go to: everything but the forbidden ranges, plus the
/// networks an operator opened (`allowed_target_cidrs`), or everything at all
/// (`allow_private_targets`, for development).
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub allow_private_targets: bool,
    pub allowed_networks: Vec<IpNet>,
}

impl TargetPolicy {
    /// Whether an attempt may connect to `ip`. An IPv4-mapped IPv6 address is judged as
    /// the IPv4 address it carries, so `::ffff:10.0.0.1` is no way around the rule.
    pub fn permits(&self, ip: IpAddr) -> bool {
        if self.allow_private_targets || !is_forbidden(ip) {
            return true;
        }
        let canonical = ip.to_canonical();
        self.allowed_networks.iter().any(|network| network.contains(&ip) || network.contains(&canonical))
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

/// Whether an address is off limits for deliveries: loopback, private, link-local
/// (which includes cloud metadata at 169.254.169.254), carrier-grade NAT, multicast,
/// unspecified, reserved or documentation ranges, IPv6 unique-local, and IPv4
/// addresses hidden inside IPv6 (mapped, compatible, NAT64).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10 carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24 IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // 198.18.0.0/15 benchmarking
        || a >= 240 // 240.0.0.0/4 reserved
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return is_forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (segments[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (segments[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // 2001:db8::/32 documentation
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5].iter().all(|&x| x == 0) && s[5] == 0xffff;
    let compatible = s[..6].iter().all(|&x| x == 0) && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    (mapped || compatible || nat64).then_some(tail)
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

    fn check(address: &str, forbidden: bool) {
        let ip: IpAddr = address.parse().unwrap();
        assert_eq!(is_forbidden(ip), forbidden, "{address}");
    }

    #[test]
    fn forbidden_ranges() {
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
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            check(address, true);
        }
    }

    #[test]
    fn allowed_networks_open_only_themselves() {
        let policy = TargetPolicy {
            allow_private_targets: false,
            allowed_networks: parse_networks("127.0.0.1/32, 10.20.0.0/16,fd00::1").unwrap(),
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
        ] {
            assert_eq!(policy.permits(address.parse().unwrap()), permitted, "{address}");
        }
        assert!(TargetPolicy { allow_private_targets: true, allowed_networks: vec![] }
            .permits("169.254.169.254".parse().unwrap()));
        assert!(parse_networks("10.0.0.0/33").is_err());
        assert!(parse_networks("nope").is_err());
        assert_eq!(parse_networks(" ").unwrap(), vec![]);
    }

    #[test]
    fn public_addresses_pass() {
        for address in ["93.184.216.34", "8.8.8.8", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            check(address, false);
        }
    }
}
