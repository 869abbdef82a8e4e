//! SSH public keys as a user pastes them when adding a key (`POST /api/account/ssh-keys`,
//! the settings page): `SshPublicKey::parse`, then everything the key list shows of it.
//!
//! Invariants: the parser never panics; an accepted key is one of the accepted types and
//! sizes; its fingerprint is the SHA-256 of its wire bytes; its canonical line parses
//! back to the same key (parse, format, parse); a comment is cleaned and bounded; and a
//! refusal never quotes the input.

#![no_main]

use account_core::ssh_key::{
    MAX_COMMENT_CHARS, MAX_LINE_BYTES, MAX_RSA_BITS, MIN_RSA_BITS, SshKeyError, SshPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest as _, Sha256};

fuzz_target!(|data: &[u8]| {
    // The body of the request is JSON, so the line is always text.
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    match SshPublicKey::parse(line) {
        Ok(key) => accepted(line, &key),
        Err(error) => refused(line, &error),
    }
});

fn accepted(line: &str, key: &SshPublicKey) {
    assert!(line.len() <= MAX_LINE_BYTES);
    let bits = key.bits();
    match key.algorithm() {
        "ssh-ed25519" => assert_eq!(bits, 256),
        "ecdsa-sha2-nistp256" => assert_eq!(bits, 256),
        "ecdsa-sha2-nistp384" => assert_eq!(bits, 384),
        "ecdsa-sha2-nistp521" => assert_eq!(bits, 521),
        "ssh-rsa" => assert!((MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits), "{bits}"),
        other => panic!("a refused type was accepted: {other}"),
    }
    let digest = STANDARD_NO_PAD.encode(Sha256::digest(key.wire_bytes()));
    assert_eq!(key.fingerprint(), format!("SHA256:{digest}"));

    if let Some(comment) = key.comment() {
        assert!(!comment.is_empty());
        assert!(comment.chars().count() <= MAX_COMMENT_CHARS);
        assert!(!comment.chars().any(char::is_control));
        assert_eq!(comment, comment.trim());
    }

    // The canonical line (what is stored and written to authorized_keys) is the same key.
    let canonical = key.to_openssh();
    let again = SshPublicKey::parse(&canonical).expect("the canonical line parses");
    assert_eq!(again.algorithm(), key.algorithm());
    assert_eq!(again.bits(), key.bits());
    assert_eq!(again.wire_bytes(), key.wire_bytes());
    assert_eq!(again.fingerprint(), key.fingerprint());
    assert_eq!(again.comment(), None);
    assert_eq!(again.to_openssh(), canonical);

    // The cleaned comment survives a second trip.
    if let Some(comment) = key.comment() {
        let with_comment = SshPublicKey::parse(&format!("{canonical} {comment}"))
            .expect("the canonical line with its comment parses");
        assert_eq!(&with_comment, key);
    }
}

fn refused(line: &str, error: &SshKeyError) {
    assert!(error.code().starts_with("ssh_key_"));
    // The messages are fixed sentences; none may carry a piece of the key back into an
    // answer or a log.
    let shown = format!("{error} {error:?}");
    for field in line.split([' ', '\t', '\n', '\r']) {
        if field.len() >= 24 {
            assert!(!shown.contains(field), "the refusal quotes the input");
        }
    }
}
