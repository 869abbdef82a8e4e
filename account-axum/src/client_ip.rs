//! The client's IP address: the socket peer's, or — only when that peer is a trusted
//! proxy — the one its forwarding headers name.
//!
//! Forwarding headers are written by whoever sends the request, so from an untrusted peer
//! they are ignored entirely (SECURITY.md B9). Behind trusted proxies, `X-Forwarded-For`
//! is read from the right: each proxy appends the address it received the request from,
//! so the rightmost address that is not one of our own proxies is the first one that no
//! trusted party vouches for beyond, and everything left of it may be forged. When there
//! is no `X-Forwarded-For`, RFC 7239 `Forwarded: for=` is read the same way.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::{IpNet, Ipv6Net};

/// The client IP as this crate trusts it, computed once per request by the outermost
/// middleware and kept in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl ClientIp {
    /// The address from the request's extensions, or computed now when the middleware did
    /// not run (an extractor in a host's own route).
    pub(crate) fn of(parts: &Parts, trusted: &[IpNet]) -> Self {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return *ip;
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Self(resolve(peer, &parts.headers, trusted))
    }

    /// The key a per-IP rate limit counts under: the address, or for IPv6 its /64
    /// network, or `unknown`.
    pub(crate) fn limit_key(self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => Ipv6Net::new(v6, 64)
                .map(|net| net.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
            None => "unknown".to_owned(),
        }
    }
}

/// The client address for a request from `peer` (unknown without `ConnectInfo`).
pub(crate) fn resolve(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let chain = x_forwarded_for(headers).or_else(|| forwarded_for(headers));
    Some(chain.map_or(peer, |chain| rightmost_untrusted(&chain, trusted, peer)))
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// Walks the chain from the right past our own proxies. An entry that is not an address
/// ends the walk at the last address known; a chain of nothing but our proxies gives its
/// leftmost one.
fn rightmost_untrusted(chain: &[Option<IpAddr>], trusted: &[IpNet], peer: IpAddr) -> IpAddr {
    let mut last = peer;
    for entry in chain.iter().rev() {
        let Some(ip) = entry else { return last };
        if !is_trusted(*ip, trusted) {
            return *ip;
        }
        last = *ip;
    }
    last
}

/// Every `X-Forwarded-For` entry, in order, across all header lines.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let chain: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|entry| parse_addr(entry.trim()))
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// Every `for=` of the `Forwarded` header (RFC 7239), in order.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let chain: Vec<Option<IpAddr>> = headers
        .get_all("forwarded")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim().trim_matches('"')))
            })
        })
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_addr(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// A `Forwarded` node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]` or `[2001:db8::1]:80`;
/// `unknown` and obfuscated names (`_hidden`) are no address.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end]
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_canonical());
    }
    parse_addr(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(peer: &str, headers: &[(&str, &str)], trusted: &[&str], want: &str) {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().expect("cidr")).collect();
        let got = resolve(Some(peer.parse().expect("ip")), &map, &trusted);
        assert_eq!(got, Some(want.parse().expect("ip")), "{headers:?}");
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        check(
            "203.0.113.9",
            &[("x-forwarded-for", "1.2.3.4")],
            &[],
            "203.0.113.9",
        );
        check(
            "203.0.113.9",
            &[("forwarded", "for=1.2.3.4")],
            &["10.0.0.0/8"],
            "203.0.113.9",
        );
    }

    #[test]
    fn the_rightmost_untrusted_address_wins() {
        let proxies = ["10.0.0.0/8"];
        check(
            "10.0.0.2",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.1")],
            &proxies,
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &[
                ("x-forwarded-for", "6.6.6.6"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
            &proxies,
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &[("x-forwarded-for", "10.0.0.5, 10.0.0.1")],
            &proxies,
            "10.0.0.5",
        );
        check(
            "10.0.0.2",
            &[("x-forwarded-for", "198.51.100.7:4711")],
            &proxies,
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &[("x-forwarded-for", "6.6.6.6, garbage, 10.0.0.1")],
            &proxies,
            "10.0.0.1",
        );
        check("10.0.0.2", &[], &proxies, "10.0.0.2");
    }

    #[test]
    fn forwarded_is_read_when_x_forwarded_for_is_absent() {
        let proxies = ["10.0.0.0/8"];
        check(
            "10.0.0.2",
            &[(
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.1"#,
            )],
            &proxies,
            "2001:db8:cafe::17",
        );
        check(
            "10.0.0.2",
            &[("forwarded", "for=unknown")],
            &proxies,
            "10.0.0.2",
        );
    }

    #[test]
    fn ipv4_mapped_peers_are_plain_ipv4() {
        check(
            "::ffff:10.0.0.2",
            &[("x-forwarded-for", "198.51.100.7")],
            &["10.0.0.0/8"],
            "198.51.100.7",
        );
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let ip = ClientIp(Some("2001:db8:1:2:3:4:5:6".parse().expect("ip")));
        assert_eq!(ip.limit_key(), "2001:db8:1:2::/64");
        assert_eq!(ClientIp(None).limit_key(), "unknown");
    }
}
