//! Session cookies: the `Cookie` headers of a request, read as the session extractors read
//! them (`cookie_value` for the session cookie and the known-device cookie), then the
//! session token's shape check (`OpaqueToken::parse`, before any store lookup) and the
//! known-device cookie's check (`known_device::is_for`).
//!
//! The input is one or more `Cookie` header lines, separated by newlines.
//!
//! Invariants: nothing panics; a cookie value is non-empty, holds no `;`, is a piece of a
//! header the client sent, and reads back the same from a header written with it; an
//! accepted session token is 43 base64url characters that parse back to the same token
//! and are stored under their digest; and no value a client makes up is taken for a
//! known-device cookie of an account (its tag is an HMAC under the account's secret
//! stamp).

#![no_main]

use std::sync::LazyLock;

use account_axum::fuzzing::cookie_value;
use account_core::domain::{DisplayName, EmailAddress, Username};
use account_core::known_device::{DeviceCookie, is_for};
use account_core::model::{Account, AccountId, AccountSource, AccountState, Role, SecurityStamp};
use account_core::token::{OpaqueToken, TOKEN_LEN, TokenDigest};
use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// The cookie names of the default configuration, over http and over https.
const SESSION_COOKIES: [&str; 2] = ["session", "__Host-session"];
const DEVICE_COOKIES: [&str; 2] = ["session-device", "__Host-session-device"];

/// An account whose known-device cookies the fuzzer tries to forge.
static ACCOUNT: LazyLock<Account> = LazyLock::new(|| {
    let at = fixed_time();
    Account {
        id: "0192d2d0-8a5e-7000-8000-000000000001"
            .parse::<AccountId>()
            .expect("a UUID"),
        username: Username::parse("ada").expect("a username"),
        display_name: DisplayName::parse("Ada").expect("a display name"),
        email: EmailAddress::parse("ada@example.com").expect("an address"),
        email_verified: true,
        recovery_email: None,
        language: None,
        avatar_updated_at: None,
        source: AccountSource::Local,
        state: AccountState::Active,
        role: Role::User,
        security_stamp: SecurityStamp::from_stored("5f0c2b7e9d4a4c31a8e6b0d2f7c91e43"),
        created_at: at,
        updated_at: at,
    }
});

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value);
        }
    }
    let sent: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();

    for name in SESSION_COOKIES {
        let Some(value) = read(&headers, name, &sent) else {
            continue;
        };
        if let Some(token) = OpaqueToken::parse(value) {
            assert_eq!(token.expose(), value);
            assert_eq!(value.len(), TOKEN_LEN);
            assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(OpaqueToken::parse(token.expose()).as_ref(), Some(&token));
            assert_eq!(token.digest(), TokenDigest::of(value.as_bytes()));
            assert_eq!(format!("{token:?}"), "OpaqueToken(***)");
        }
    }
    for name in DEVICE_COOKIES {
        let Some(value) = read(&headers, name, &sent) else {
            continue;
        };
        let cookie = DeviceCookie::new(value);
        assert!(
            !is_for(&cookie, &ACCOUNT),
            "a made-up device cookie was accepted"
        );
        assert_eq!(format!("{cookie:?}"), "DeviceCookie(..)");
    }
});

/// The cookie `name` as the extractors read it, checked against what was sent.
fn read<'h>(headers: &'h HeaderMap, name: &str, sent: &[&[u8]]) -> Option<&'h str> {
    let value = cookie_value(headers, name)?;
    assert!(!value.is_empty());
    assert!(!value.contains(';'));
    assert!(!value.starts_with('"') && !value.ends_with('"'));
    assert!(
        sent.iter().any(|header| contains(header, value.as_bytes())),
        "the value is not a piece of a header sent"
    );
    // Written again as the only cookie of a request, the value reads the same, unless
    // the reader's trimming of white space and quotes would have removed part of it.
    if value == value.trim() {
        if let Ok(header) = HeaderValue::from_str(&format!("{name}={value}")) {
            let mut again = HeaderMap::new();
            again.insert(COOKIE, header);
            assert_eq!(cookie_value(&again, name), Some(value));
        }
    }
    Some(value)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A fixed time, so that every run builds the same account.
fn fixed_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("a valid time")
}
