//! Where webhooks may go: the check that keeps deliveries out of the internal network.
//!
//! This module owns [`EgressPolicy`] (the allow list of `--webhook-allow-cidr` and
//! `--webhook-require-https`), [`forbidden_range`] (which addresses are internal: loopback,
//! private, link-local, CGNAT, unspecified, multicast, broadcast, documentation, benchmark and
//! reserved ranges, also in their IPv4-mapped, IPv4-compatible and NAT64 IPv6 forms), the
//! [`HostLookup`] seam that turns a host name into addresses, and the reqwest resolver that
//! applies the policy to every address a name resolves to. The resolver runs when the client
//! connects, so the addresses checked are the addresses connected to: a name that resolved to a
//! public address when the endpoint was registered and to an internal one now (DNS rebinding)
//! is refused now. reqwest does not resolve IP-literal hosts, so the delivery worker checks
//! those itself before each request ([`EgressPolicy::check_url`]), as endpoint creation does.
//!
//! It does not send anything, and it knows nothing of endpoints or the delivery schedule.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

pub use ipnet::IpNet;

/// Where deliveries may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Internal ranges deliveries may reach all the same (`--webhook-allow-cidr`).
    pub allowed: Vec<IpNet>,
    /// Whether endpoints must be `https` (`--webhook-require-https`).
    pub require_https: bool,
}

/// Why a delivery may not go to an address or URL. Its text is what the deliveries log keeps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressRefusal {
    /// The address is in an internal range that is not allowed.
    #[error("refused: {address} is a {range} address, which webhooks may not reach unless --webhook-allow-cidr lists it")]
    Address {
        /// The address.
        address: IpAddr,
        /// The kind of range it lies in.
        range: &'static str,
    },
    /// The host name resolved to no address at all that webhooks may reach.
    #[error("refused: the host resolves only to internal addresses, such as {address} ({range}), which webhooks may not reach unless --webhook-allow-cidr lists them")]
    Resolved {
        /// The first address refused.
        address: IpAddr,
        /// The kind of range it lies in.
        range: &'static str,
    },
    /// The URL is plain `http` while `https` is required.
    #[error("refused: endpoints must use https (--webhook-require-https)")]
    NotHttps,
}

/// The internal range `address` lies in, or `None` for a public (globally routable) address.
///
/// IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address.
///
/// ```
/// use caseledger_webhooks::egress::forbidden_range;
/// assert_eq!(forbidden_range("127.0.0.1".parse().unwrap()), Some("loopback"));
/// assert_eq!(forbidden_range("::ffff:10.1.2.3".parse().unwrap()), Some("private"));
/// assert_eq!(forbidden_range("93.184.216.34".parse().unwrap()), None);
/// ```
pub fn forbidden_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    Some(match (a, b, c) {
        _ if address.is_unspecified() => "unspecified",
        (0, ..) => "unspecified",
        (127, ..) => "loopback",
        (10, ..) => "private",
        (172, 16..=31, _) => "private",
        (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT)",
        (169, 254, _) => "link-local",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        _ if address.is_broadcast() => "broadcast",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    })
}

fn forbidden_v6(address: Ipv6Addr) -> Option<&'static str> {
    if address.is_unspecified() {
        return Some("unspecified");
    }
    if address.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = embedded_v4(address) {
        return forbidden_v4(v4);
    }
    let segments = address.segments();
    Some(match segments[0] {
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xfc00..=0xfdff => "private (unique local)",
        0xff00..=0xffff => "multicast",
        0x2001 if segments[1] == 0x0db8 => "documentation",
        0x0100 if segments[1..4] == [0, 0, 0] => "discard-only",
        // Everything else below 2000::/3 is unassigned or special.
        0x0000..=0x1fff => "reserved",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one.
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = address.segments();
    let octets = address.octets();
    let last_four = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match segments {
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(last_four),
        // NAT64 (RFC 6052's well-known prefix).
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(last_four),
        // 6to4: 2002:a.b.c.d::/48.
        [0x2002, high, low, ..] => {
            let [a, b] = high.to_be_bytes();
            let [c, d] = low.to_be_bytes();
            Some(Ipv4Addr::new(a, b, c, d))
        }
        _ => None,
    }
}

/// `address` with an IPv4-mapped IPv6 address turned into the IPv4 address it maps, so that
/// an allow list of IPv4 ranges covers both forms.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Parses a CIDR such as `127.0.0.0/8` or `fd00::/8`; a bare address is its own /32 or /128.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = IpNet::from_str(text) {
        return Ok(net.trunc());
    }
    IpAddr::from_str(text)
        .map(IpNet::from)
        .map_err(|_| format!("'{text}' is not a CIDR such as 10.20.0.0/16 or fd00::/8"))
}

impl EgressPolicy {
    /// Whether a delivery may connect to `address`.
    pub fn check_address(&self, address: IpAddr) -> Result<(), EgressRefusal> {
        let address = canonical(address);
        let Some(range) = forbidden_range(address) else {
            return Ok(());
        };
        if self.allowed.iter().any(|net| net.contains(&address)) {
            return Ok(());
        }
        Err(EgressRefusal::Address { address, range })
    }

    /// Whether a delivery may go to `url`, as far as the URL alone tells: its scheme, and its
    /// host when that is an IP literal. A host name is checked when it is resolved.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), EgressRefusal> {
        if self.require_https && url.scheme() != "https" {
            return Err(EgressRefusal::NotHttps);
        }
        // The URL parser writes IP literals in their canonical form (`0x7f.1` becomes
        // `127.0.0.1`, an IPv6 literal stands in brackets), so what parses here is a literal.
        let host = url.host_str().unwrap_or_default();
        let literal = host
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(host);
        match IpAddr::from_str(literal) {
            Ok(address) => self.check_address(address),
            Err(_) => Ok(()),
        }
    }

    /// The addresses of `resolved` a delivery may connect to, or why none.
    pub fn filter(&self, resolved: &[IpAddr]) -> Result<Vec<IpAddr>, EgressRefusal> {
        let mut first_refusal = None;
        let mut allowed = Vec::new();
        for address in resolved {
            match self.check_address(*address) {
                Ok(()) => allowed.push(*address),
                Err(refusal) => {
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (true, Some(EgressRefusal::Address { address, range })) => {
                Err(EgressRefusal::Resolved { address, range })
            }
            _ => Ok(allowed),
        }
    }
}

/// The future of a [`HostLookup`].
pub type Lookup = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// Turns a host name into addresses. The delivery worker's resolver filters what it returns.
pub trait HostLookup: Send + Sync + fmt::Debug {
    /// The addresses of `host`.
    fn lookup(&self, host: &str) -> Lookup;
}

/// The operating system's resolver (`getaddrinfo`, off the async workers). `localhost` and
/// names under `.localhost` are answered as loopback without asking anyone (RFC 6761).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                return Ok(vec![
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                ]);
            }
            let addresses = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addresses.map(|address| address.ip()).collect())
        })
    }
}

/// A fixed table of names and their addresses; any other name does not resolve. For tests and
/// benchmarks, which must never ask a real resolver about a name.
#[derive(Debug, Default, Clone)]
pub struct StaticLookup {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticLookup {
    /// A table that resolves nothing.
    pub fn new() -> StaticLookup {
        StaticLookup::default()
    }

    /// The table with `name` resolving to `addresses`.
    pub fn with(mut self, name: &str, addresses: &[IpAddr]) -> StaticLookup {
        self.names
            .insert(name.to_ascii_lowercase(), addresses.to_vec());
        self
    }
}

impl HostLookup for StaticLookup {
    fn lookup(&self, host: &str) -> Lookup {
        let found = self.names.get(&host.to_ascii_lowercase()).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host} is not in the lookup table"),
                )
            })
        })
    }
}

/// The delivery client's resolver: looks the name up and keeps only the addresses the policy
/// allows, at connect time.
#[derive(Debug)]
pub(crate) struct GuardedResolver {
    pub(crate) lookup: Arc<dyn HostLookup>,
    pub(crate) policy: EgressPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup.lookup(name.as_str());
        let policy = self.policy.clone();
        Box::pin(async move {
            let resolved = lookup.await?;
            let allowed = policy.filter(&resolved)?;
            let addresses: reqwest::dns::Addrs = Box::new(
                allowed
                    .into_iter()
                    .map(|address| SocketAddr::new(address, 0)),
            );
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_ranges_are_named_and_public_addresses_pass() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("::1", Some("loopback")),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("::", Some("unspecified")),
            ("10.0.0.1", Some("private")),
            ("10.255.255.255", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("fc00::1", Some("private (unique local)")),
            ("fd12:3456::1", Some("private (unique local)")),
            ("100.64.0.1", Some("shared (CGNAT)")),
            ("100.127.255.255", Some("shared (CGNAT)")),
            ("169.254.169.254", Some("link-local")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("224.0.0.1", Some("multicast")),
            ("ff02::1", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("240.0.0.1", Some("reserved")),
            ("192.0.2.1", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.9", Some("documentation")),
            ("2001:db8::1", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("192.0.0.8", Some("IETF protocol assignment")),
            // Just outside the ranges.
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("169.253.255.255", None),
            ("11.0.0.1", None),
            ("8.8.8.8", None),
            ("2606:4700::1111", None),
        ];
        for (address, expected) in cases {
            assert_eq!(forbidden_range(ip(address)), expected, "{address}");
        }
    }

    #[test]
    fn ipv6_forms_of_internal_ipv4_addresses_are_internal() {
        for (address, expected) in [
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:100.64.1.1", "shared (CGNAT)"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::a00:1", "private"),
            ("2002:c0a8:0101::1", "private"),
            ("2002:7f00:1::", "loopback"),
        ] {
            assert_eq!(forbidden_range(ip(address)), Some(expected), "{address}");
        }
        assert_eq!(forbidden_range(ip("::ffff:8.8.8.8")), None);
        assert_eq!(forbidden_range(ip("64:ff9b::808:808")), None);
    }

    #[test]
    fn the_allow_list_admits_its_ranges_in_both_forms_and_nothing_else() {
        let policy = EgressPolicy {
            allowed: vec![
                parse_cidr("127.0.0.0/8").unwrap(),
                parse_cidr("::1").unwrap(),
            ],
            require_https: false,
        };
        assert!(policy.check_address(ip("127.0.0.1")).is_ok());
        assert!(policy.check_address(ip("127.1.2.3")).is_ok());
        assert!(policy.check_address(ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check_address(ip("::1")).is_ok());
        assert!(policy.check_address(ip("8.8.8.8")).is_ok());
        for refused in ["10.0.0.1", "0.0.0.0", "169.254.169.254", "fe80::1", "::"] {
            let refusal = policy.check_address(ip(refused)).unwrap_err();
            assert!(
                refusal.to_string().contains("--webhook-allow-cidr"),
                "{refusal}"
            );
        }
        let nothing_allowed = EgressPolicy::default();
        assert_eq!(
            nothing_allowed.check_address(ip("127.0.0.1")),
            Err(EgressRefusal::Address {
                address: ip("127.0.0.1"),
                range: "loopback"
            })
        );
    }

    #[test]
    fn cidrs_parse_and_are_truncated_to_their_network() {
        assert_eq!(
            parse_cidr("10.20.30.40/16").unwrap().to_string(),
            "10.20.0.0/16"
        );
        assert_eq!(parse_cidr(" ::1 ").unwrap().to_string(), "::1/128");
        assert_eq!(parse_cidr("127.0.0.1").unwrap().to_string(), "127.0.0.1/32");
        for bad in ["", "10.0.0.0/33", "localhost", "10.0.0/8", "fd00::/129"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_host() {
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        let open = EgressPolicy::default();
        for literal in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://0.0.0.0/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://[::ffff:7f00:1]/",
            "https://10.0.0.5/",
            "https://[fe80::1]/",
            "https://100.64.0.1/",
        ] {
            assert!(open.check_url(&url(literal)).is_err(), "{literal}");
        }
        assert!(open.check_url(&url("https://93.184.216.34/")).is_ok());
        // A name is judged when it is resolved, not here.
        assert!(open.check_url(&url("http://localhost/")).is_ok());

        let https_only = EgressPolicy {
            allowed: Vec::new(),
            require_https: true,
        };
        assert_eq!(
            https_only.check_url(&url("http://partner.example/")),
            Err(EgressRefusal::NotHttps)
        );
        assert!(https_only
            .check_url(&url("https://partner.example/"))
            .is_ok());
    }

    #[test]
    fn resolved_addresses_are_filtered_and_all_refused_is_an_error() {
        let policy = EgressPolicy::default();
        assert_eq!(
            policy
                .filter(&[ip("10.0.0.1"), ip("93.184.216.34")])
                .unwrap(),
            [ip("93.184.216.34")]
        );
        let refusal = policy.filter(&[ip("127.0.0.1"), ip("::1")]).unwrap_err();
        assert!(refusal.to_string().contains("127.0.0.1"), "{refusal}");
        assert!(refusal.to_string().contains("loopback"), "{refusal}");
    }

    #[tokio::test]
    async fn localhost_names_resolve_to_loopback_without_asking_anyone() {
        for name in ["localhost", "LOCALHOST.", "hooks.localhost"] {
            let addresses = SystemLookup.lookup(name).await.unwrap();
            assert!(
                addresses.iter().all(IpAddr::is_loopback) && !addresses.is_empty(),
                "{name}: {addresses:?}"
            );
        }
        let table = StaticLookup::new().with("intranet.test", &[ip("10.1.2.3")]);
        assert_eq!(
            table.lookup("intranet.test").await.unwrap(),
            [ip("10.1.2.3")]
        );
        assert!(table.lookup("elsewhere.test").await.is_err());
    }
}
