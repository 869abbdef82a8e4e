//! TOTP and recovery-code input: the normalisers that a login's second step, a TOTP
//! confirmation and a re-authentication run on the typed `code` before anything else
//! (`normalize_totp_code`, `normalize_recovery_code`).
//!
//! Invariants: nothing panics; a TOTP code is exactly six ASCII digits, the input without
//! its white space; a recovery code is 25 characters of lowercase Crockford base32; each
//! normal form is its own normal form (normalise, format, normalise); a recovery code
//! reads the same in either ASCII case and in the dashed groups it is shown in; and
//! input beyond the length bounds is refused before it is copied.

#![no_main]

use account_core::{normalize_recovery_code, normalize_totp_code};
use libfuzzer_sys::fuzz_target;

/// Crockford's base32 in lowercase: the characters of a recovery code.
const RECOVERY_ALPHABET: &str = "0123456789abcdefghjkmnpqrstvwxyz";

fuzz_target!(|data: &[u8]| {
    // The code arrives in a JSON string or a form field: always text.
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    totp(input);
    recovery(input);
});

fn totp(input: &str) {
    let Some(code) = normalize_totp_code(input) else {
        return;
    };
    assert!(input.len() <= 64);
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let without_space: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(code.as_str(), without_space);
    assert_eq!(normalize_totp_code(&code).as_deref(), Some(&*code));
    // Spaced as some apps show it, "123 456", it reads the same.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    assert_eq!(normalize_totp_code(&spaced).as_deref(), Some(&*code));
}

fn recovery(input: &str) {
    let code = normalize_recovery_code(input);
    assert_eq!(
        normalize_recovery_code(&input.to_ascii_uppercase()).as_deref(),
        code.as_deref()
    );
    let Some(code) = code else {
        return;
    };
    assert!(input.len() <= 100);
    assert_eq!(code.len(), 25);
    assert!(code.chars().all(|c| RECOVERY_ALPHABET.contains(c)));
    assert_eq!(normalize_recovery_code(&code).as_deref(), Some(&*code));
    // The form it is shown in, five dashed groups, reads the same.
    let groups: Vec<&str> = (0..5).map(|i| &code[i * 5..i * 5 + 5]).collect();
    assert_eq!(
        normalize_recovery_code(&groups.join("-")).as_deref(),
        Some(&*code)
    );
}
