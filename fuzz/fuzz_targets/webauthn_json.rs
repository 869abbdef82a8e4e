//! WebAuthn client data and attestation/assertion JSON: the `credential` of a passkey
//! route's body, read as the server reads it (`parse_json` into a JSON value, then
//! serde_json into webauthn-rs's `RegisterPublicKeyCredential` or `PublicKeyCredential`)
//! and verified by webauthn-rs against ceremony state, which parses the base64url
//! `clientDataJSON` (type, challenge, origin), the CBOR attestation object and the
//! authenticator data.
//!
//! The relying party is the starter's (`localhost`, `http://localhost:8080`). The
//! ceremony states and the passkey are fixed (`fuzz/fixtures/webauthn/`), made with the
//! software passkey of `account_core::testing` like the seeds of the corpus, so that a
//! mutated answer still matches its challenge and reaches the deeper parsers.
//!
//! Invariants: nothing panics; a credential written again (parse, format, parse) reads
//! the same and gets the same verdict; an accepted registration gives a passkey whose
//! stored form holds the counter and backup flags the server reads from it; an assertion
//! is accepted only for the fixture's credential and user.

#![no_main]

use std::sync::LazyLock;

use account_axum::fuzzing::parse_json;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

struct Fixture {
    webauthn: Webauthn,
    registration: PasskeyRegistration,
    authentication: DiscoverableAuthentication,
    passkey: Passkey,
    user: Uuid,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let origin = Url::parse("http://localhost:8080").expect("a URL");
    let webauthn = WebauthnBuilder::new("localhost", &origin)
        .expect("a relying party")
        .rp_name("Account")
        .build()
        .expect("a relying party");
    Fixture {
        webauthn,
        registration: fixture(include_str!("../fixtures/webauthn/registration_state.json")),
        authentication: fixture(include_str!(
            "../fixtures/webauthn/authentication_state.json"
        )),
        passkey: fixture(include_str!("../fixtures/webauthn/passkey.json")),
        user: Uuid::parse_str("0192d2d0-8a5e-7000-8000-000000000001").expect("a UUID"),
    }
});

fn fixture<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).expect("a fixture parses")
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    // `PasskeyFinishRequest.credential` is a JSON value read by the body parser.
    let Ok(credential) = parse_json::<Value>(data) else {
        return;
    };
    if let Ok(answer) = serde_json::from_value::<RegisterPublicKeyCredential>(credential.clone()) {
        let again: RegisterPublicKeyCredential = rewritten(&answer);
        let verdict = register(fixture, &answer);
        assert_eq!(register(fixture, &again), verdict);
        if let Some(stored) = verdict {
            // What the server stores, and reads its counter and backup flags from.
            let stored: Value = serde_json::from_str(&stored).expect("a stored passkey reads");
            assert!(stored["cred"]["counter"].is_u64());
            assert!(stored["cred"]["backup_eligible"].is_boolean());
            assert!(stored["cred"]["backup_state"].is_boolean());
        }
    }
    if let Ok(answer) = serde_json::from_value::<PublicKeyCredential>(credential) {
        let again: PublicKeyCredential = rewritten(&answer);
        let verdict = authenticate(fixture, &answer);
        assert_eq!(authenticate(fixture, &again), verdict);
        if let Some(counter) = verdict {
            assert_eq!(
                answer.get_credential_id(),
                fixture.passkey.cred_id().as_slice()
            );
            assert!(counter > 0, "the software passkey counts its signatures");
        }
    }
});

/// `value` written as JSON and read back, which must give the same JSON again.
fn rewritten<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    let written = serde_json::to_value(value).expect("a credential writes");
    let again: T = serde_json::from_value(written.clone()).expect("a credential reads back");
    assert_eq!(serde_json::to_value(&again).expect("writes"), written);
    again
}

/// The registration's verdict: the passkey as the server stores it (webauthn-rs's JSON),
/// or `None` when refused. The credential id stored is the one in the authenticator data;
/// webauthn-rs does not compare it with the answer's `rawId`, and needs not to: only the
/// authenticator data is the authenticator's word.
fn register(fixture: &Fixture, answer: &RegisterPublicKeyCredential) -> Option<String> {
    fixture
        .webauthn
        .finish_passkey_registration(answer, &fixture.registration)
        .ok()
        .map(|passkey| serde_json::to_string(&passkey).expect("a passkey writes"))
}

/// The assertion's verdict, as the login and second-factor routes reach it: the user
/// handle, when the answer has one, must be the passkey's account, then the signature is
/// checked against the stored passkey. The counter when accepted, `None` when refused.
fn authenticate(fixture: &Fixture, answer: &PublicKeyCredential) -> Option<u32> {
    // The passwordless login names its user by the handle; a refusal is no panic.
    if let Ok((user, credential_id)) = fixture
        .webauthn
        .identify_discoverable_authentication(answer)
    {
        assert_eq!(credential_id, answer.get_credential_id());
        assert_eq!(answer.get_user_unique_id(), Some(&user.as_bytes()[..]));
    }
    let handle_matches = answer
        .get_user_unique_id()
        .is_none_or(|handle| handle == fixture.user.as_bytes());
    if !handle_matches || answer.get_credential_id() != fixture.passkey.cred_id().as_slice() {
        return None;
    }
    fixture
        .webauthn
        .finish_discoverable_authentication_v2(
            answer,
            fixture.authentication.clone(),
            &fixture.passkey,
        )
        .ok()
        .map(|result| result.counter())
}
