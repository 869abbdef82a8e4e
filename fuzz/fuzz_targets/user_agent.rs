//! User agents and client hints: `parse_device` and `sanitize_user_agent`, what every
//! login and session list reads from `User-Agent` and `Sec-CH-UA*`.
//!
//! The input is up to five lines: the user agent, then the platform, arch, model and
//! brands hints (a missing line is a missing header).
//!
//! Invariants: nothing panics; each detail is `None` or 1 to `MAX_DETAIL_CHARS`
//! characters without control or bidirectional-control characters and without white
//! space at its ends; the stored user agent is at most `MAX_USER_AGENT_BYTES`, clean,
//! trimmed, and cleaning it again changes nothing; parsing the cleaned user agent gives
//! the same details as the raw one.

#![no_main]

use account_core::device::{
    ClientHints, DeviceDetails, MAX_DETAIL_CHARS, MAX_USER_AGENT_BYTES, parse_device,
    sanitize_user_agent,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Headers reach the parser as text only (the extractor drops a value that is not).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(5, '\n');
    let mut next = || lines.next().map(str::to_owned);
    let user_agent = next();
    let hints = ClientHints {
        platform: next(),
        arch: next(),
        model: next(),
        brands: next(),
    };

    let details = parse_device(user_agent.as_deref(), &hints);
    check(&details);
    assert_eq!(parse_device(user_agent.as_deref(), &hints), details);

    if let Some(ua) = &user_agent {
        let stored = sanitize_user_agent(ua);
        if let Some(stored) = &stored {
            assert!(!stored.is_empty() && stored.len() <= MAX_USER_AGENT_BYTES);
            assert!(!stored.chars().any(is_unsafe));
            assert_eq!(stored.as_str(), stored.trim());
            assert_eq!(sanitize_user_agent(stored).as_ref(), Some(stored));
        }
        // The parser reads the cleaned user agent, so handing it the cleaned one changes
        // nothing.
        assert_eq!(parse_device(stored.as_deref(), &hints), details);
    }

    // Without hints, and without a user agent, the same rules hold.
    check(&parse_device(
        user_agent.as_deref(),
        &ClientHints::default(),
    ));
    check(&parse_device(None, &hints));
});

fn check(details: &DeviceDetails) {
    for field in [
        &details.browser,
        &details.os,
        &details.device,
        &details.engine,
        &details.cpu_arch,
    ]
    .into_iter()
    .flatten()
    {
        assert!(!field.is_empty());
        assert!(field.chars().count() <= MAX_DETAIL_CHARS);
        assert!(!field.chars().any(is_unsafe), "{field:?}");
        assert_eq!(field.as_str(), field.trim(), "{field:?}");
    }
}

/// The characters the module promises never to keep: controls and the bidirectional
/// formatting characters (which could make one session look like another in a list).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}
