//! CIDR lists: the allowed networks of a personal API token (`parse_network`, for each
//! entry of the JSON array or of the settings page's list, split on commas and white
//! space), and the client address worked out from a peer and its forwarding headers
//! behind a list of trusted proxies (`client_ip`), which every per-IP limit and every
//! token network check uses.
//!
//! The input is lines: the first is a list of networks; the second names the peer (an
//! address, or nothing for an unknown one); the rest are `X-Forwarded-For: ...` or
//! `Forwarded: ...` headers (any other line is an `X-Forwarded-For` value).
//!
//! Invariants: nothing panics; an accepted network has no host bits, prints as text that
//! parses back to the same network, and contains its own first and last address; a bare
//! address is a network of one address; the client address is unknown only when the peer
//! is; an untrusted peer is taken as it is, headers ignored; and a trusted peer's headers
//! can only name an address that one of them holds.

#![no_main]

use std::net::IpAddr;

use account_axum::fuzzing::client_ip;
use account_core::parse_network;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let list = lines.next().unwrap_or_default();

    // The settings page's split, and each entry as an element of the JSON array.
    let mut trusted = Vec::new();
    for entry in list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        if let Ok(net) = parse_network(entry) {
            check_network(entry, net);
            trusted.push(net);
        }
    }
    if let Ok(net) = parse_network(list) {
        check_network(list, net);
    }

    let peer = lines.next().and_then(|p| p.trim().parse::<IpAddr>().ok());
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("forwarded") => ("forwarded", value),
            Some((name, value)) if name.eq_ignore_ascii_case("x-forwarded-for") => {
                ("x-forwarded-for", value)
            }
            _ => ("x-forwarded-for", line),
        };
        if let Ok(value) = HeaderValue::from_str(value.trim()) {
            headers.append(HeaderName::from_static(name), value);
        }
    }

    let resolved = client_ip(peer, &headers, &trusted);
    let Some(peer) = peer else {
        assert_eq!(resolved, None);
        return;
    };
    let resolved = resolved.expect("a known peer gives a known client");
    let peer = peer.to_canonical();
    if !trusted.iter().any(|net| net.contains(&peer)) {
        assert_eq!(resolved, peer, "an untrusted peer's headers were believed");
    } else if resolved != peer {
        // Behind a trusted proxy, the client is an address one of the headers holds.
        let held = headers
            .iter()
            .any(|(_, value)| holds(value.to_str().unwrap_or_default(), resolved));
        assert!(held, "the client {resolved} is in no header");
    }
    // The same request gives the same answer.
    assert_eq!(client_ip(Some(peer), &headers, &trusted), Some(resolved));
});

fn check_network(text: &str, net: IpNet) {
    assert_eq!(net, net.trunc(), "host bits kept: {text:?}");
    let printed = net.to_string();
    assert_eq!(parse_network(&printed), Ok(net), "{printed}");
    assert!(net.contains(&net.network()) && net.contains(&net.broadcast()));
    if let Ok(address) = text.trim().parse::<IpAddr>() {
        assert_eq!(net, IpNet::from(address));
        assert_eq!(net.prefix_len(), net.max_prefix_len());
    }
}

/// Whether some address written in `value` (in any of its spellings: with a port, in
/// brackets, with leading zeros in IPv6 groups) is `address`.
fn holds(value: &str, address: IpAddr) -> bool {
    value
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .flat_map(|token| {
            // An address with a port: the part before the last colon, for IPv4.
            let without_port = token.rsplit_once(':').map(|(a, _)| a);
            [Some(token), without_port].into_iter().flatten()
        })
        .filter_map(|token| token.parse::<IpAddr>().ok())
        .any(|ip| ip.to_canonical() == address)
}
