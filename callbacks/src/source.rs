//! Where a request may come from: the networks allowed to call, and the proxies whose
//! `X-Forwarded-For` is believed.
//!
//! The vendor's `Sign` does not cover the body and is the same for every request of one second,
//! so a token alone cannot tell the vendor from someone who saw one signed URL. The source
//! address can: the vendor calls from its published egress ranges.

use std::net::IpAddr;

use ipnet::IpNet;

/// The allow-list and the trusted proxies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    /// Empty: any source.
    allowed: Vec<IpNet>,
    trusted_proxies: Vec<IpNet>,
}

impl Sources {
    pub(crate) fn allow(&mut self, networks: impl IntoIterator<Item = IpNet>) {
        self.allowed.extend(networks);
    }

    pub(crate) fn trust_proxies(&mut self, proxies: impl IntoIterator<Item = IpNet>) {
        self.trusted_proxies.extend(proxies);
    }

    /// Whether an allow-list is set.
    pub(crate) fn is_restricted(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the last address
    /// of `X-Forwarded-For` that is not a trusted proxy. `None` when that header is present but
    /// an entry in it cannot be read: whoever wrote it is unknown.
    pub(crate) fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer.to_canonical();
        let Some(header) = forwarded_for.filter(|_| self.is_proxy(peer)) else { return Some(peer) };
        let mut client = peer;
        for entry in header.rsplit(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            client = entry.parse::<IpAddr>().ok()?.to_canonical();
            if !self.is_proxy(client) {
                break;
            }
        }
        Some(client)
    }

    /// Whether a request from `source` may be handled; an unknown source only without an allow-list.
    pub(crate) fn allows(&self, source: Option<IpAddr>) -> bool {
        self.allowed.is_empty() || source.is_some_and(|ip| self.allowed.iter().any(|net| net.contains(&ip)))
    }

    pub(crate) fn is_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// The address a source is counted by: IPv4 as it is, IPv6 by its /64, the block one host is
/// usually given (so rotating through its own addresses does not multiply its share).
pub(crate) fn source_key(source: IpAddr) -> IpAddr {
    match source.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn sources(allowed: &[&str], proxies: &[&str]) -> Sources {
        let mut sources = Sources::default();
        sources.allow(allowed.iter().map(|n| n.parse().unwrap()));
        sources.trust_proxies(proxies.iter().map(|n| n.parse().unwrap()));
        sources
    }

    #[test]
    fn without_a_list_every_source_is_allowed() {
        assert!(Sources::default().allows(None));
        assert!(Sources::default().allows(Some(ip("203.0.113.9"))));
    }

    #[test]
    fn a_list_allows_its_networks_only() {
        let sources = sources(&["203.0.113.0/24", "2001:db8::/32"], &[]);
        assert!(sources.allows(Some(ip("203.0.113.9"))));
        assert!(sources.allows(Some(ip("2001:db8::1"))));
        assert!(!sources.allows(Some(ip("198.51.100.1"))));
        assert!(!sources.allows(None));
        // An IPv4 peer seen on a dual-stack socket is compared as IPv4.
        assert!(sources.allows(sources.client(ip("::ffff:203.0.113.9"), None)));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let sources = sources(&[], &["10.0.0.0/8"]);
        assert_eq!(sources.client(ip("10.0.0.2"), Some("203.0.113.9")), Some(ip("203.0.113.9")));
        // The proxies' own entries are skipped; what a client wrote before them is not believed.
        assert_eq!(
            sources.client(ip("10.0.0.2"), Some("198.51.100.7, 203.0.113.9, 10.0.0.3")),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(sources.client(ip("198.51.100.1"), Some("203.0.113.9")), Some(ip("198.51.100.1")));
        assert_eq!(sources.client(ip("10.0.0.2"), Some("not-an-address")), None);
        assert_eq!(sources.client(ip("10.0.0.2"), None), Some(ip("10.0.0.2")));
    }
}
