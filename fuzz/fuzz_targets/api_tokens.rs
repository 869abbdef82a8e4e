//! Personal API tokens and app passwords: `ApiTokenSecret::parse`,
//! `AppPasswordSecret::parse` and `normalize`, on the raw text and on what the extractors
//! take out of an `Authorization` header (`Bearer <token>`, `Basic base64(login:password)`).
//!
//! Invariants: nothing panics; an accepted token has the documented shape, parses back to
//! itself and is stored under the digest of its text; an accepted app password normalises
//! to 25 characters of its alphabet, is shown in five groups that parse back to the same
//! secret, and ignores ASCII case; a refusal never quotes the input; a header that the
//! extractors read gives the same reading when it is written again from that reading.

#![no_main]

use account_axum::fuzzing::{basic_credentials, bearer_token};
use account_core::api_token::{
    API_TOKEN_LEN, API_TOKEN_PREFIX, APP_PASSWORD_ALPHABET, APP_PASSWORD_GROUP_LEN,
    APP_PASSWORD_LEN, ApiTokenFormatError, ApiTokenSecret, AppPasswordSecret,
};
use account_core::token::TokenDigest;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_api_token(text);
        check_app_password(text);
    }
    // The same bytes as one `Authorization` header, as a client sends it.
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    if let Some(token) = bearer_token(&headers) {
        check_api_token(token);
        assert_eq!(token, token.trim());
        if !token.is_empty() {
            let again = header(&format!("Bearer {token}"));
            assert_eq!(bearer_token(&again), Some(token));
        }
    }
    if let Some(Some((login, password))) = basic_credentials(&headers) {
        assert!(!login.is_empty() && !login.contains(':'));
        assert!(!password.is_empty());
        check_app_password(&password);
        let encoded = STANDARD.encode(format!("{login}:{password}"));
        let again = header(&format!("Basic {encoded}"));
        assert_eq!(basic_credentials(&again), Some(Some((login, password))));
    }
});

fn header(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        // The pieces come from a header value, so the bytes are valid in one.
        HeaderValue::from_bytes(value.as_bytes()).expect("a valid header value"),
    );
    headers
}

fn check_api_token(text: &str) {
    match ApiTokenSecret::parse(text) {
        Ok(token) => {
            assert_eq!(token.expose(), text);
            assert_eq!(text.len(), API_TOKEN_LEN);
            assert!(text.starts_with(API_TOKEN_PREFIX));
            assert!(
                text[API_TOKEN_PREFIX.len()..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric())
            );
            assert_eq!(ApiTokenSecret::parse(token.expose()), Ok(token.clone()));
            assert_eq!(token.digest(), TokenDigest::of(text.as_bytes()));
            assert_eq!(token.last_four(), &text[API_TOKEN_LEN - 4..]);
            // Debug shows the prefix and the last four characters, nothing between.
            let shown = format!("{token:?}");
            assert!(!shown.contains(&text[API_TOKEN_PREFIX.len()..API_TOKEN_LEN - 4]));
        }
        Err(error) => {
            // A refusal is one of the fixed sentences: it never quotes the token.
            let fixed = [
                ApiTokenFormatError::WrongPrefix,
                ApiTokenFormatError::WrongLength,
                ApiTokenFormatError::InvalidCharacter,
                ApiTokenFormatError::ChecksumMismatch,
            ];
            assert!(fixed.iter().any(|e| e.to_string() == error.to_string()));
        }
    }
}

fn check_app_password(text: &str) {
    let normalized = AppPasswordSecret::normalize(text);
    let parsed = AppPasswordSecret::parse(text);
    assert_eq!(normalized.is_some(), parsed.is_some());
    // Case never matters: the same input in other ASCII case reads the same.
    assert_eq!(
        AppPasswordSecret::normalize(&text.to_ascii_uppercase()),
        normalized
    );
    let (Some(normalized), Some(secret)) = (normalized, parsed) else {
        return;
    };
    assert_eq!(normalized.len(), APP_PASSWORD_LEN);
    assert!(
        normalized
            .chars()
            .all(|c| APP_PASSWORD_ALPHABET.contains(c))
    );
    assert_eq!(
        AppPasswordSecret::normalize(&normalized).as_ref(),
        Some(&normalized)
    );

    let shown = secret.expose();
    let groups: Vec<&str> = shown.split('-').collect();
    assert_eq!(groups.len(), APP_PASSWORD_LEN / APP_PASSWORD_GROUP_LEN);
    assert!(groups.iter().all(|g| g.len() == APP_PASSWORD_GROUP_LEN));
    assert_eq!(groups.concat(), normalized);
    assert_eq!(AppPasswordSecret::parse(shown).as_ref(), Some(&secret));
    assert_eq!(secret.digest(), TokenDigest::of(normalized.as_bytes()));
    assert_eq!(format!("{secret:?}"), "AppPasswordSecret(***)");
}
