//! JSON request bodies: the bytes of a body read as every type the routes take with
//! `ApiJson` (`parse_json`, the deserializer of `json.rs` that reads a struct only from an
//! object, at every depth).
//!
//! Invariants: nothing panics or overflows the stack; a body is accepted only if it is
//! one JSON object (never an array read by position, SECURITY.md M49); an accepted body
//! written again by serde_json (parse, format, parse) is accepted too and reads the same;
//! the administrator's policy, whose sections are nested structs, takes them only from
//! objects and survives its own serialisation; and a refusal names at most a missing
//! field of our own types, never a piece of the input.

#![no_main]

use account_axum::ApiError;
use account_axum::fuzzing::{REQUEST_BODIES, parse_json};
use account_core::policy::Policy;
use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // serde_json's own readings of the bytes, the references: whether they are JSON at
    // all (numbers out of a float's range included, as an ignored field takes them), and
    // the value they hold when it can be represented.
    let is_json = serde_json::from_slice::<IgnoredAny>(data).is_ok();
    let opens_object = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let value = serde_json::from_slice::<Value>(data).ok();
    let canonical = value
        .as_ref()
        .map(|v| serde_json::to_vec(v).expect("a Value writes"));

    for (name, parse) in REQUEST_BODIES {
        match parse(data) {
            Ok(read) => {
                assert!(is_json, "{name} was read from something that is not JSON");
                assert!(opens_object, "{name} was read from a non-object");
                if let Some(canonical) = canonical.as_deref() {
                    let again = parse(canonical).expect("the body written again is accepted");
                    assert_eq!(again, read, "{name} reads differently once written again");
                }
            }
            Err(error) => refused(&error),
        }
    }

    if let Ok(policy) = parse_json::<Policy>(data) {
        for section in ["sessions", "passwords"] {
            if let Some(inner) = value.as_ref().and_then(|v| v.get(section)) {
                assert!(
                    inner.is_object(),
                    "the policy's {section} from a non-object"
                );
            }
        }
        let written = serde_json::to_vec(&policy).expect("a policy writes");
        assert_eq!(parse_json::<Policy>(&written).ok(), Some(policy));
    }
});

fn refused(error: &ApiError) {
    let ApiError::MalformedJson { field } = error else {
        panic!("a body was refused with another problem: {error:?}");
    };
    if let Some(field) = field {
        assert!(
            !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "the refusal names something that is no field of ours"
        );
    }
}
