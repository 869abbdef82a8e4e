#![cfg(feature = "testing")]

//! Passkeys through real WebAuthn ceremonies: webauthn-rs on the server side, the
//! `SoftPasskey` software authenticator of webauthn-authenticator-rs on the client side,
//! over the memory store and a manual clock. Tests named after an item of SECURITY.md
//! show that item (c13, g23, g24, h29–h32).

mod support;

use std::sync::Arc;

use account_core::config::CounterPolicy;
use account_core::model::{
    AccountId, AssuranceLevel, AuthMethod, Authentication, PasskeyRecord, SecurityEventKind,
    SessionId, SessionRecord, SessionStage,
};
use account_core::random::OsRandom;
use account_core::store::{AuthenticatorStore, CredentialStore, SessionStore};
use account_core::token::OpaqueToken;
use account_core::{AccountConfig, Accounts, EnrollingSession, Error, SignedIn, SignedInSession};
use chrono::Duration;
use serde_json::{Value, json};
use support::{Harness, enrolling, info};

/// The public URL of the harness: relying-party id `accounts.example.com`.
const ORIGIN: &str = "https://accounts.example.com";

use account_core::testing::passkey::{SoftDevice, signature_counter};

/// A software passkey on the harness's origin.
fn new_device() -> SoftDevice {
    SoftDevice::at(ORIGIN)
}

/// Another instance of the services over the harness's store and clock, configured by
/// `configure`.
fn instance(h: &Harness, configure: impl FnOnce(&mut AccountConfig)) -> Accounts {
    let mut config = AccountConfig::new(ORIGIN.parse().expect("url"));
    config.hashing = support::fast_hashing();
    configure(&mut config);
    Accounts::builder(h.store.clone(), Arc::new(h.mailer.clone()), config)
        .clock(h.clock.clone())
        .build()
}

async fn register(
    accounts: &Accounts,
    session: &SignedInSession,
    device: &mut SoftDevice,
    name: &str,
) -> PasskeyRecord {
    let session = &enrolling(session);
    let ceremony = accounts
        .start_passkey_registration(session, name)
        .await
        .expect("registration starts");
    let credential = device
        .register(&ceremony.options)
        .expect("the authenticator registers");
    accounts
        .finish_passkey_registration(session, &ceremony.ceremony_id, credential, &info())
        .await
        .expect("registration finishes")
        .passkey
}

async fn passwordless(accounts: &Accounts, device: &mut SoftDevice) -> Result<SignedIn, Error> {
    let ceremony = accounts.start_passkey_login().await.expect("login starts");
    let assertion = device
        .sign(&ceremony.options)
        .expect("the authenticator signs");
    accounts
        .finish_passkey_login(&ceremony.ceremony_id, assertion, &info())
        .await
}

/// The session a login made, validated by its token as a host does.
async fn session_of(accounts: &Accounts, signed_in: SignedIn) -> SignedInSession {
    accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("a new session is valid")
}

/// A session put straight into the store, then validated by its token as a host does: for
/// an account that has no password to log in with, standing in for whatever first brought
/// its owner in (a reset link, the host's own sign-in).
async fn stored_session(
    h: &Harness,
    account: AccountId,
    method: AuthMethod,
    assurance: AssuranceLevel,
) -> SignedInSession {
    let token = store_session(h, account, method, assurance, |_| {}).await;
    h.accounts
        .authenticate(token.expose())
        .await
        .expect("a stored full session is valid")
}

/// Puts a session into the store as `change` leaves it, and returns its token.
async fn store_session(
    h: &Harness,
    account: AccountId,
    method: AuthMethod,
    assurance: AssuranceLevel,
    change: impl FnOnce(&mut SessionRecord),
) -> OpaqueToken {
    let now = h.accounts.now();
    let token = OpaqueToken::generate(&OsRandom);
    let mut session = SessionRecord {
        id: SessionId::generate(now, &OsRandom),
        token_digest: token.digest(),
        account_id: account,
        created_at: now,
        last_seen_at: now,
        idle_timeout: Duration::hours(1),
        absolute_expires_at: now + Duration::hours(24),
        ip: None,
        user_agent: None,
        device: Default::default(),
        authentications: vec![Authentication { method, at: now }],
        assurance,
        stage: SessionStage::Full,
    };
    change(&mut session);
    h.store.insert_session(&session).await.expect("store");
    token
}

/// Whether a message of `kind` reached `address`, waiting for it to leave its background
/// task.
async fn received(h: &Harness, address: &str, kind: &str) -> bool {
    for _ in 0..200 {
        if h.mailer
            .sent_to(address)
            .iter()
            .any(|m| m.message.kind() == kind)
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    false
}

async fn kinds(h: &Harness, username: &str) -> Vec<SecurityEventKind> {
    h.events(username).await.iter().map(|e| e.kind).collect()
}

fn assert_code(result: Result<impl std::fmt::Debug, Error>, code: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), code, "{e}"),
        Ok(v) => panic!("expected {code}, got {v:?}"),
    }
}

#[tokio::test]
async fn h29_register_list_rename_and_delete() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();

    let ceremony = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "  Laptop  ")
        .await
        .expect("starts");
    let public_key = &ceremony.options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "accounts.example.com");
    assert_eq!(public_key["user"]["name"], "ada");
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"], "required",
        "discoverable, so it can log in without a username"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert!(
        public_key["challenge"].as_str().expect("challenge").len() >= 22,
        "at least 16 random bytes (h31)"
    );
    assert!(!format!("{ceremony:?}").contains(&ceremony.ceremony_id));
    let credential = device.register(&ceremony.options).expect("registers");
    let passkey = h
        .accounts
        .finish_passkey_registration(
            &enrolling(&session),
            &ceremony.ceremony_id,
            credential,
            &info(),
        )
        .await
        .expect("finishes")
        .passkey;
    assert_eq!(passkey.name, "Laptop");
    assert_eq!(passkey.account_id, session.account_id);
    assert_eq!(passkey.last_used_at, None);
    assert_eq!(passkey.created_at, h.accounts.now());
    assert_eq!(passkey.sign_count, 0);
    assert!(!passkey.backup_eligible && !passkey.backup_state);

    let listed = h.accounts.passkeys(session.account_id).await.expect("list");
    assert_eq!(listed, vec![passkey.clone()]);

    // From now on the account has a second factor, and changing factors needs it (g24).
    let session = session_of(
        &h.accounts,
        passwordless(&h.accounts, &mut device)
            .await
            .expect("logs in"),
    )
    .await;
    // Registering again excludes the credential already there.
    let again = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "Phone")
        .await
        .expect("starts");
    let excluded: Vec<&str> = again.options["publicKey"]["excludeCredentials"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(excluded.len(), 1);

    h.accounts
        .rename_passkey(&session, passkey.id, " Work laptop ", &info())
        .await
        .expect("renames");
    assert_eq!(
        h.accounts.passkeys(session.account_id).await.expect("list")[0].name,
        "Work laptop"
    );
    assert_code(
        h.accounts
            .rename_passkey(&session, passkey.id, "   ", &info())
            .await,
        "validation_failed",
    );
    assert_code(
        h.accounts
            .rename_passkey(&session, passkey.id, &"x".repeat(101), &info())
            .await,
        "validation_failed",
    );
    assert_code(
        h.accounts
            .start_passkey_registration(&enrolling(&session), "")
            .await,
        "validation_failed",
    );

    // The account still has its password, so its only passkey may go.
    h.accounts
        .delete_passkey(&session, passkey.id, &info())
        .await
        .expect("deletes");
    assert!(
        h.accounts
            .passkeys(session.account_id)
            .await
            .expect("list")
            .is_empty()
    );
    assert_code(
        h.accounts
            .delete_passkey(&session, passkey.id, &info())
            .await,
        "not_found",
    );
    let kinds = kinds(&h, "ada").await;
    for kind in [
        SecurityEventKind::PasskeyAdded,
        SecurityEventKind::PasskeyRenamed,
        SecurityEventKind::PasskeyRemoved,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} recorded");
    }
}

#[tokio::test]
async fn passkeys_of_another_account_cannot_be_renamed_or_deleted() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let ada = h.fresh_session("ada").await;
    let bob = h.fresh_session("bob").await;
    let passkey = register(&h.accounts, &ada, &mut new_device(), "Laptop").await;
    assert_code(
        h.accounts
            .rename_passkey(&bob, passkey.id, "Mine", &info())
            .await,
        "not_found",
    );
    assert_code(
        h.accounts.delete_passkey(&bob, passkey.id, &info()).await,
        "not_found",
    );
    assert!(
        h.accounts
            .passkeys(bob.account_id)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        h.accounts
            .passkeys(ada.account_id)
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn h30_passwordless_login_yields_a_level_two_session() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    let passkey = register(&h.accounts, &session, &mut device, "Laptop").await;

    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    assert_eq!(ceremony.options["mediation"], "conditional");
    assert_eq!(
        ceremony.options["publicKey"]["userVerification"],
        "required"
    );
    let assertion = device.sign(&ceremony.options).expect("signs");
    let signed_in = h
        .accounts
        .finish_passkey_login(&ceremony.ceremony_id, assertion, &info())
        .await
        .expect("logs in");
    assert_eq!(signed_in.account.id, session.account_id);
    assert_eq!(signed_in.session.assurance, AssuranceLevel::Two);
    assert_eq!(signed_in.session.stage, SessionStage::Full);
    assert_eq!(
        signed_in
            .session
            .authentications
            .iter()
            .map(|a| a.method)
            .collect::<Vec<_>>(),
        vec![AuthMethod::Passkey]
    );
    let validated = h
        .accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("the new session is valid");
    assert!(h.accounts.is_fresh(&validated).await.expect("fresh"));

    let used = &h
        .accounts
        .passkeys(validated.account_id)
        .await
        .expect("list")[0];
    assert_eq!(used.id, passkey.id);
    assert_eq!(used.last_used_at, Some(h.accounts.now()));
    assert_eq!(used.sign_count, 1);
    let login = h
        .events("ada")
        .await
        .into_iter()
        .find(|e| {
            e.kind == SecurityEventKind::LoginSucceeded
                && e.details.get("method").map(String::as_str) == Some("passkey")
        })
        .expect("the login is in the log");
    assert_eq!(login.details.get("passkey"), Some(&passkey.id.to_string()));
}

#[tokio::test]
async fn h32_the_signature_counter_goes_up_with_each_use() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    register(&h.accounts, &session, &mut device, "Laptop").await;
    for expected in 1..=3 {
        passwordless(&h.accounts, &mut device)
            .await
            .expect("logs in");
        let stored = &h.accounts.passkeys(session.account_id).await.expect("list")[0];
        assert_eq!(stored.sign_count, expected);
    }
}

#[tokio::test]
async fn h30_a_passkey_as_second_factor_verifies_for_its_session() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    let passkey = register(&h.accounts, &session, &mut device, "Laptop").await;

    let ceremony = h
        .accounts
        .start_passkey_authentication(&enrolling(&session))
        .await
        .expect("starts");
    assert!(
        ceremony.options.get("mediation").is_none(),
        "a modal prompt"
    );
    let allowed = ceremony.options["publicKey"]["allowCredentials"]
        .as_array()
        .expect("allowCredentials");
    assert_eq!(allowed.len(), 1, "the account's passkeys are allowed");
    let assertion = device.sign(&ceremony.options).expect("signs");
    // The device's next answer to the same challenge: a replay that only the single use
    // of the ceremony refuses, since its counter is higher than the one stored.
    let next = device.sign(&ceremony.options).expect("signs again");
    let verified = h
        .accounts
        .verify_passkey_authentication(
            &enrolling(&session),
            &ceremony.ceremony_id,
            assertion.clone(),
            &info(),
        )
        .await
        .expect("verifies");
    assert_eq!(verified.passkey_id, passkey.id);
    assert!(verified.user_verified);
    assert!(
        signature_counter(&next)
            > h.accounts.passkeys(session.account_id).await.expect("list")[0].sign_count
    );
    for replay in [next, assertion] {
        let refused = h
            .accounts
            .verify_passkey_authentication(
                &enrolling(&session),
                &ceremony.ceremony_id,
                replay,
                &info(),
            )
            .await;
        assert!(
            matches!(refused, Err(Error::InvalidSecondFactor)),
            "{refused:?}"
        );
    }
    // Refused as a spent ceremony, not by the counter check, which would have logged a
    // regression.
    assert!(
        !kinds(&h, "ada")
            .await
            .contains(&SecurityEventKind::PasskeyCounterRegressed)
    );

    // Bound to the session that started it: another session, of the same or of another
    // account, cannot finish it.
    let bob = h.fresh_session("bob").await;
    assert_code(
        h.accounts
            .start_passkey_authentication(&enrolling(&bob))
            .await,
        "not_found",
    );
    let other_session = stored_session(
        &h,
        session.account_id,
        AuthMethod::Password,
        AssuranceLevel::One,
    )
    .await;
    for intruder in [&bob, &other_session] {
        let ceremony = h
            .accounts
            .start_passkey_authentication(&enrolling(&session))
            .await
            .expect("starts");
        let assertion = device.sign(&ceremony.options).expect("signs");
        assert_code(
            h.accounts
                .verify_passkey_authentication(
                    &enrolling(intruder),
                    &ceremony.ceremony_id,
                    assertion,
                    &info(),
                )
                .await,
            "invalid_second_factor",
        );
    }
}

#[tokio::test]
async fn a_pending_login_may_use_its_passkey_but_not_manage_passkeys() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    register(&h.accounts, &session, &mut device, "Laptop").await;
    let pending_token = store_session(
        &h,
        session.account_id,
        AuthMethod::Password,
        AssuranceLevel::One,
        |s| s.stage = SessionStage::SecondFactorPending { attempts: 0 },
    )
    .await;
    let pending = h
        .accounts
        .authenticate_pending(pending_token.expose())
        .await
        .expect("a pending login");

    // Registering takes an `EnrollingSession` and deleting a `SignedInSession`: the
    // pending token validates as neither.
    assert_code(
        h.accounts
            .authenticate_enrolling(pending_token.expose())
            .await,
        "unauthenticated",
    );
    assert_code(
        h.accounts.authenticate(pending_token.expose()).await,
        "unauthenticated",
    );

    let ceremony = h
        .accounts
        .start_login_passkey(&pending)
        .await
        .expect("starts");
    let assertion = device.sign(&ceremony.options).expect("signs");
    h.accounts
        .complete_login_with_passkey(&pending, &ceremony.ceremony_id, assertion, &info())
        .await
        .expect("the second factor verifies");
}

#[tokio::test]
async fn ceremonies_finish_on_another_instance() {
    let h = Harness::new().await;
    let other = instance(&h, |_| {});
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();

    let ceremony = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "Laptop")
        .await
        .expect("starts");
    let credential = device.register(&ceremony.options).expect("registers");
    other
        .finish_passkey_registration(
            &enrolling(&session),
            &ceremony.ceremony_id,
            credential,
            &info(),
        )
        .await
        .expect("the state is in the store, not in the first instance");

    let ceremony = other.start_passkey_login().await.expect("starts");
    let assertion = device.sign(&ceremony.options).expect("signs");
    h.accounts
        .finish_passkey_login(&ceremony.ceremony_id, assertion, &info())
        .await
        .expect("logs in on the first instance");
}

#[tokio::test]
async fn h29_a_wrong_origin_is_refused_at_registration() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    // A page under the relying-party id, so the browser goes along, but not the
    // application's origin.
    let mut phish = SoftDevice::at("https://phish.accounts.example.com");
    let ceremony = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "Laptop")
        .await
        .expect("starts");
    let credential = phish.register(&ceremony.options).expect("registers");
    assert_code(
        h.accounts
            .finish_passkey_registration(
                &enrolling(&session),
                &ceremony.ceremony_id,
                credential,
                &info(),
            )
            .await,
        "passkey_rejected",
    );
    assert!(
        h.accounts
            .passkeys(session.account_id)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn h30_a_wrong_origin_is_refused_at_login() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    register(&h.accounts, &session, &mut device, "Laptop").await;
    // The same authenticator, now asked from another page.
    device.move_to("https://phish.accounts.example.com");
    assert_code(
        passwordless(&h.accounts, &mut device).await,
        "invalid_credentials",
    );
    let failed = h
        .events("ada")
        .await
        .into_iter()
        .find(|e| e.kind == SecurityEventKind::LoginFailed)
        .expect("the failure is in the log");
    assert_eq!(
        failed.details.get("reason").map(String::as_str),
        Some("verification_failed")
    );
}

#[tokio::test]
async fn h29_a_wrong_relying_party_id_is_refused() {
    let h = Harness::new().await;
    // A second instance on the same store whose relying party is `example.com`: the page
    // is the same origin, so the browser accepts either id, and the authenticator signs
    // the hash of `example.com`.
    let sibling = instance(&h, |c| c.passkeys.rp_id = Some("example.com".into()));
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();

    let ceremony = sibling
        .start_passkey_registration(&enrolling(&session), "Laptop")
        .await
        .expect("starts");
    assert_eq!(ceremony.options["publicKey"]["rp"]["id"], "example.com");
    let credential = device.register(&ceremony.options).expect("registers");
    assert_code(
        h.accounts
            .finish_passkey_registration(
                &enrolling(&session),
                &ceremony.ceremony_id,
                credential,
                &info(),
            )
            .await,
        "passkey_rejected",
    );

    // The same credential, registered where it belongs, then offered to the application
    // whose relying-party id differs: the rpIdHash of the assertion does not match.
    let ceremony = sibling
        .start_passkey_registration(&enrolling(&session), "Laptop")
        .await
        .expect("starts");
    let credential = device.register(&ceremony.options).expect("registers");
    sibling
        .finish_passkey_registration(
            &enrolling(&session),
            &ceremony.ceremony_id,
            credential,
            &info(),
        )
        .await
        .expect("the sibling accepts it");
    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    let mut options = ceremony.options.clone();
    options["publicKey"]["rpId"] = "example.com".into();
    let assertion = device.sign(&options).expect("signs");
    assert_code(
        h.accounts
            .finish_passkey_login(&ceremony.ceremony_id, assertion, &info())
            .await,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn h31_a_replayed_assertion_is_refused() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    register(&h.accounts, &session, &mut device, "Laptop").await;

    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    let assertion = device.sign(&ceremony.options).expect("signs");
    // A second answer to the same challenge, as whoever captured the ceremony could have
    // the device make: it carries the next counter, so the counter check passes it and
    // only the single use of the ceremony can refuse it.
    let next = device.sign(&ceremony.options).expect("signs again");
    h.accounts
        .finish_passkey_login(&ceremony.ceremony_id, assertion.clone(), &info())
        .await
        .expect("the first use logs in");
    let stored = h.accounts.passkeys(session.account_id).await.expect("list")[0].sign_count;
    assert!(
        signature_counter(&next) > stored,
        "the replay carries a counter the passkey has not seen"
    );
    let events = h.events("ada").await.len();

    // The ceremony is used up, so neither the device's next answer to it nor the same
    // answer again gets anywhere. They are refused before the passkey is looked at, so
    // nothing is recorded: a failed login or a counter regression in the log would mean
    // the answer reached the signature or counter check, that is, the ceremony was still
    // there.
    for replay in [next.clone(), assertion] {
        let refused = h
            .accounts
            .finish_passkey_login(&ceremony.ceremony_id, replay, &info())
            .await;
        assert!(
            matches!(refused, Err(Error::InvalidCredentials)),
            "{refused:?}"
        );
        assert_eq!(h.events("ada").await.len(), events, "nothing is recorded");
        assert_eq!(
            h.accounts.passkeys(session.account_id).await.expect("list")[0].sign_count,
            stored,
            "the passkey's counter is untouched"
        );
    }

    // The next answer with a new ceremony: its challenge is not the one signed, so the
    // signature check refuses it and says so in the log.
    let fresh = h.accounts.start_passkey_login().await.expect("starts");
    let refused = h
        .accounts
        .finish_passkey_login(&fresh.ceremony_id, next, &info())
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidCredentials)),
        "{refused:?}"
    );
    let failed = h
        .events("ada")
        .await
        .into_iter()
        .find(|e| e.kind == SecurityEventKind::LoginFailed)
        .expect("the failure is in the log");
    assert_eq!(
        failed.details.get("reason").map(String::as_str),
        Some("verification_failed")
    );
}

#[tokio::test]
async fn h31_a_registration_cannot_be_finished_twice() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let ceremony = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "Laptop")
        .await
        .expect("starts");
    let credential = new_device().register(&ceremony.options).expect("registers");
    // Another authenticator's answer to the same ceremony: a new credential over the same
    // challenge. Its credential id is not registered, so the refusal of duplicates cannot
    // stop it; only the single use of the ceremony can.
    let another = new_device().register(&ceremony.options).expect("registers");
    let added = h
        .accounts
        .finish_passkey_registration(
            &enrolling(&session),
            &ceremony.ceremony_id,
            credential.clone(),
            &info(),
        )
        .await
        .expect("registers once");

    // From the session as the first finish left it (a new token, the same id), which is
    // still the session the ceremony was started by.
    assert_eq!(added.session.id, session.id);
    let renewed = h
        .accounts
        .authenticate_enrolling(added.token.expose())
        .await
        .expect("the renewed session is valid");
    for answer in [credential, another] {
        let refused = h
            .accounts
            .finish_passkey_registration(&renewed, &ceremony.ceremony_id, answer, &info())
            .await;
        assert!(
            matches!(refused, Err(Error::PasskeyRejected)),
            "{refused:?}"
        );
    }
    assert_eq!(
        h.accounts.passkeys(session.account_id).await.expect("list"),
        vec![added.passkey],
        "only the first answer's passkey is registered"
    );
    assert_eq!(
        kinds(&h, "ada")
            .await
            .iter()
            .filter(|k| **k == SecurityEventKind::PasskeyAdded)
            .count(),
        1
    );
}

#[tokio::test]
async fn h31_an_answer_for_another_ceremony_is_refused() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    register(&h.accounts, &session, &mut device, "Laptop").await;

    let a = h.accounts.start_passkey_login().await.expect("starts");
    let b = h.accounts.start_passkey_login().await.expect("starts");
    let for_a = device.sign(&a.options).expect("signs");
    assert_code(
        h.accounts
            .finish_passkey_login(&b.ceremony_id, for_a.clone(), &info())
            .await,
        "invalid_credentials",
    );
    let signed_in = h
        .accounts
        .finish_passkey_login(&a.ceremony_id, for_a, &info())
        .await
        .expect("the answer still fits its own ceremony");
    let session = enrolling(&session_of(&h.accounts, signed_in).await);

    // Registration too: an attestation made for ceremony A, sent with B's id.
    let a = h
        .accounts
        .start_passkey_registration(&session, "Phone")
        .await
        .expect("starts");
    let b = h
        .accounts
        .start_passkey_registration(&session, "Tablet")
        .await
        .expect("starts");
    let for_a = new_device().register(&a.options).expect("registers");
    assert_code(
        h.accounts
            .finish_passkey_registration(&session, &b.ceremony_id, for_a, &info())
            .await,
        "passkey_rejected",
    );
}

#[tokio::test]
async fn h31_an_expired_ceremony_is_refused() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();

    let registration = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "Laptop")
        .await
        .expect("starts");
    let credential = device.register(&registration.options).expect("registers");
    h.clock.advance(Duration::minutes(6));
    assert_code(
        h.accounts
            .finish_passkey_registration(
                &enrolling(&session),
                &registration.ceremony_id,
                credential,
                &info(),
            )
            .await,
        "passkey_rejected",
    );

    let session = h.fresh_session("ada").await;
    register(&h.accounts, &session, &mut device, "Laptop").await;
    let login = h.accounts.start_passkey_login().await.expect("starts");
    let assertion = device.sign(&login.options).expect("signs");
    h.clock.advance(Duration::minutes(6));
    assert_code(
        h.accounts
            .finish_passkey_login(&login.ceremony_id, assertion, &info())
            .await,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn unknown_and_malformed_ceremony_ids_are_refused() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    register(&h.accounts, &session, &mut device, "Laptop").await;
    let session = session_of(
        &h.accounts,
        passwordless(&h.accounts, &mut device)
            .await
            .expect("logs in"),
    )
    .await;
    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    let assertion = device.sign(&ceremony.options).expect("signs");
    let unknown = OpaqueToken::generate(&OsRandom);
    for id in ["", "not a ceremony", unknown.expose()] {
        assert_code(
            h.accounts
                .finish_passkey_login(id, assertion.clone(), &info())
                .await,
            "invalid_credentials",
        );
    }
    // A registration ceremony id is not a login ceremony id.
    let registration = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "Phone")
        .await
        .expect("starts");
    assert_code(
        h.accounts
            .finish_passkey_login(&registration.ceremony_id, assertion, &info())
            .await,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn c13_passwordless_login_names_no_account_and_its_failures_look_alike() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let ada = h.fresh_session("ada").await;
    let bob = h.fresh_session("bob").await;

    // The options are the same for everyone: no username asked, no credentials listed.
    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    let public_key = &ceremony.options["publicKey"];
    assert!(
        public_key["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    assert!(public_key.get("user").is_none());

    let mut ada_device = new_device();
    let ada_passkey = register(&h.accounts, &ada, &mut ada_device, "Laptop").await;
    let mut bob_device = new_device();
    register(&h.accounts, &bob, &mut bob_device, "Laptop").await;

    let mut failures = Vec::new();
    // A user handle naming another account.
    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    let mut assertion = ada_device.sign(&ceremony.options).expect("signs");
    assertion["response"]["userHandle"] = bob_device
        .last_user_handle()
        .expect("bob registered")
        .into();
    failures.push(
        h.accounts
            .finish_passkey_login(&ceremony.ceremony_id, assertion, &info())
            .await,
    );
    // A signature that does not verify.
    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    let mut assertion = ada_device.sign(&ceremony.options).expect("signs");
    assertion["response"]["signature"] = "AAAA".into();
    failures.push(
        h.accounts
            .finish_passkey_login(&ceremony.ceremony_id, assertion, &info())
            .await,
    );
    // Not an assertion at all.
    let ceremony = h.accounts.start_passkey_login().await.expect("starts");
    failures.push(
        h.accounts
            .finish_passkey_login(&ceremony.ceremony_id, json!({"id": "x"}), &info())
            .await,
    );
    // A disabled account, with a perfect assertion.
    h.disable("bob").await;
    failures.push(passwordless(&h.accounts, &mut bob_device).await);
    // A passkey the store no longer knows.
    let ada = session_of(
        &h.accounts,
        passwordless(&h.accounts, &mut ada_device)
            .await
            .expect("logs in"),
    )
    .await;
    h.accounts
        .delete_passkey(&ada, ada_passkey.id, &info())
        .await
        .expect("deletes");
    failures.push(passwordless(&h.accounts, &mut ada_device).await);

    for failure in failures {
        match failure {
            Err(e) => {
                assert_eq!(e.code(), "invalid_credentials");
                assert_eq!(e.to_string(), Error::InvalidCredentials.to_string());
            }
            Ok(s) => panic!(
                "expected a failure, got a session for {}",
                s.account.username
            ),
        }
    }
}

#[tokio::test]
async fn g23_a_stale_session_cannot_add_or_remove_passkeys() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let passkey = register(&h.accounts, &session, &mut new_device(), "Laptop").await;
    h.clock.advance(Duration::minutes(11));
    assert_code(
        h.accounts
            .start_passkey_registration(&enrolling(&session), "Phone")
            .await,
        "reauthentication_required",
    );
    assert_code(
        h.accounts
            .delete_passkey(&session, passkey.id, &info())
            .await,
        "reauthentication_required",
    );
    // Listing and renaming are not sensitive.
    assert_eq!(
        h.accounts
            .passkeys(session.account_id)
            .await
            .expect("list")
            .len(),
        1
    );
    h.accounts
        .rename_passkey(&session, passkey.id, "Old laptop", &info())
        .await
        .expect("renames");
}

#[tokio::test]
async fn g24_with_a_passkey_a_password_session_cannot_add_or_remove_one() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    let passkey = register(&h.accounts, &session, &mut device, "Laptop").await;

    // A fresh session from the password alone.
    let password_only = stored_session(
        &h,
        session.account_id,
        AuthMethod::Password,
        AssuranceLevel::One,
    )
    .await;
    assert_code(
        h.accounts
            .start_passkey_registration(&enrolling(&password_only), "Phone")
            .await,
        "reauthentication_required",
    );
    assert_code(
        h.accounts
            .delete_passkey(&password_only, passkey.id, &info())
            .await,
        "reauthentication_required",
    );
    // Level 2 from a passkey used long ago, with a fresh password on top: the password
    // alone is not the account's strongest factor.
    let long_ago = h.accounts.now() - Duration::minutes(11);
    let stale_strong = store_session(
        &h,
        session.account_id,
        AuthMethod::Password,
        AssuranceLevel::Two,
        |s| {
            s.authentications.push(Authentication {
                method: AuthMethod::Passkey,
                at: long_ago,
            })
        },
    )
    .await;
    let stale_strong = h
        .accounts
        .authenticate_enrolling(stale_strong.expose())
        .await
        .expect("a stored full session is valid");
    assert_code(
        h.accounts
            .start_passkey_registration(&stale_strong, "Phone")
            .await,
        "reauthentication_required",
    );

    // A session that used the passkey recently is at the account's highest level.
    let strong = session_of(
        &h.accounts,
        passwordless(&h.accounts, &mut device)
            .await
            .expect("logs in"),
    )
    .await;
    register(&h.accounts, &strong, &mut new_device(), "Phone").await;
    h.accounts
        .delete_passkey(&strong, passkey.id, &info())
        .await
        .expect("deletes");
}

#[tokio::test]
async fn adding_a_passkey_renews_the_session_and_tells_the_owner() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    // A session that may only enrol a second factor, as the "require 2FA" policy gives.
    let mut policy = h.accounts.policy().await.expect("policy");
    policy.require_second_factor = true;
    h.accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect("policy");
    let signed_in = h
        .login_with("ada", support::PASSWORD, &info())
        .await
        .expect("logs in");
    let session = h
        .accounts
        .authenticate_enrolling(signed_in.token.expose())
        .await
        .expect("valid");
    assert!(matches!(session, EnrollingSession::EnrollmentOnly(_)));
    h.clear_mail().await;

    let ceremony = h
        .accounts
        .start_passkey_registration(&session, "Laptop")
        .await
        .expect("starts");
    let credential = new_device().register(&ceremony.options).expect("registers");
    let added = h
        .accounts
        .finish_passkey_registration(&session, &ceremony.ceremony_id, credential, &info())
        .await
        .expect("finishes");
    assert_eq!(added.session.id, session.id);
    assert_eq!(added.session.assurance, AssuranceLevel::Two);
    assert_eq!(added.session.stage, SessionStage::Full);
    assert!(
        added
            .session
            .authentications
            .iter()
            .any(|a| a.method == AuthMethod::Passkey)
    );
    assert_code(
        h.accounts.authenticate(signed_in.token.expose()).await,
        "unauthenticated",
    );
    h.accounts
        .authenticate(added.token.expose())
        .await
        .expect("the new token works");
    assert!(
        received(&h, "ada@example.com", "factor_added").await,
        "a notice of the new factor"
    );

    let renewed = h
        .accounts
        .authenticate(added.token.expose())
        .await
        .expect("a full session now");
    h.accounts
        .delete_passkey(&renewed, added.passkey.id, &info())
        .await
        .expect("deletes");
    assert!(received(&h, "ada@example.com", "factor_removed").await);
}

#[tokio::test]
async fn the_last_passkey_of_an_account_without_a_password_cannot_be_deleted() {
    let h = Harness::new().await;
    // An account an administrator created: it has no password.
    let account = h.create_by_admin("cleo", "cleo@example.com").await;
    assert!(
        h.store
            .password_hash(account.id)
            .await
            .expect("store")
            .is_none()
    );
    let first = stored_session(&h, account.id, AuthMethod::External, AssuranceLevel::One).await;
    let mut laptop = new_device();
    let laptop_key = register(&h.accounts, &first, &mut laptop, "Laptop").await;

    // From now on the passkey is how Cleo logs in.
    let session = session_of(
        &h.accounts,
        passwordless(&h.accounts, &mut laptop)
            .await
            .expect("logs in"),
    )
    .await;
    let phone_key = register(&h.accounts, &session, &mut new_device(), "Phone").await;
    h.accounts
        .delete_passkey(&session, phone_key.id, &info())
        .await
        .expect("another passkey remains, so this one may go");
    let refused = h
        .accounts
        .delete_passkey(&session, laptop_key.id, &info())
        .await;
    assert!(matches!(refused, Err(Error::LastLoginMethod)));
    assert_code(refused, "last_login_method");
    assert_eq!(
        h.accounts.passkeys(session.account_id).await.expect("list"),
        vec![
            h.store
                .passkeys_of(account.id)
                .await
                .expect("store")
                .remove(0)
        ]
    );
    assert!(
        passwordless(&h.accounts, &mut laptop).await.is_ok(),
        "Cleo can still log in"
    );
}

/// Makes the stored counter of the account's passkey jump to `to`, as if a clone of the
/// authenticator had been used that many times.
async fn counter_jumps(h: &Harness, passkey: &PasskeyRecord, to: u32) {
    let stored = h
        .store
        .passkey_by_credential_id(&passkey.credential_id)
        .await
        .expect("store")
        .expect("stored");
    let mut credential: Value = serde_json::from_str(&stored.credential).expect("json");
    credential["cred"]["counter"] = to.into();
    assert!(
        h.store
            .record_passkey_use(
                passkey.id,
                &credential.to_string(),
                to,
                stored.backup_state,
                h.accounts.now(),
            )
            .await
            .expect("store")
    );
}

#[tokio::test]
async fn h32_a_counter_that_goes_backwards_is_refused_by_default() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    let passkey = register(&h.accounts, &session, &mut device, "Laptop").await;
    passwordless(&h.accounts, &mut device)
        .await
        .expect("logs in");
    counter_jumps(&h, &passkey, 100).await;

    assert_code(
        passwordless(&h.accounts, &mut device).await,
        "invalid_credentials",
    );
    let events = h.events("ada").await;
    let regressed = events
        .iter()
        .find(|e| e.kind == SecurityEventKind::PasskeyCounterRegressed)
        .expect("the regression is in the log");
    assert_eq!(
        regressed.details.get("stored_counter").map(String::as_str),
        Some("100")
    );
    assert_eq!(
        regressed
            .details
            .get("presented_counter")
            .map(String::as_str),
        Some("2")
    );
    assert_eq!(
        regressed.details.get("action").map(String::as_str),
        Some("refused")
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == SecurityEventKind::LoginFailed
                && e.details.get("reason").map(String::as_str) == Some("counter_regressed"))
    );

    // The second-factor check applies the same rule.
    let ceremony = h
        .accounts
        .start_passkey_authentication(&enrolling(&session))
        .await
        .expect("starts");
    let assertion = device.sign(&ceremony.options).expect("signs");
    assert_code(
        h.accounts
            .verify_passkey_authentication(
                &enrolling(&session),
                &ceremony.ceremony_id,
                assertion,
                &info(),
            )
            .await,
        "invalid_second_factor",
    );
}

#[tokio::test]
async fn h32_a_counter_that_goes_backwards_is_logged_and_accepted_under_warn() {
    let h = Harness::new().await;
    let lenient = instance(&h, |c| c.passkeys.counter_regression = CounterPolicy::Warn);
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut device = new_device();
    let passkey = register(&lenient, &session, &mut device, "Laptop").await;
    passwordless(&lenient, &mut device).await.expect("logs in");
    counter_jumps(&h, &passkey, 100).await;

    passwordless(&lenient, &mut device)
        .await
        .expect("accepted under the warn policy");
    let regressed = h
        .events("ada")
        .await
        .into_iter()
        .find(|e| e.kind == SecurityEventKind::PasskeyCounterRegressed)
        .expect("the regression is in the log");
    assert_eq!(
        regressed.details.get("action").map(String::as_str),
        Some("accepted")
    );
    let stored = &lenient.passkeys(session.account_id).await.expect("list")[0];
    assert_eq!(
        stored.sign_count, 100,
        "the higher counter stays, so the clone keeps showing"
    );
}

#[tokio::test]
async fn passkeys_are_unavailable_without_a_domain_name() {
    let h = Harness::new().await;
    let by_ip = instance(&h, |c| {
        c.public_url = "http://127.0.0.1:8080".parse().expect("url")
    });
    assert_code(by_ip.start_passkey_login().await, "internal");
    let by_name = instance(&h, |c| {
        c.public_url = "http://localhost:8080".parse().expect("url")
    });
    let ceremony = by_name.start_passkey_login().await.expect("starts");
    assert_eq!(ceremony.options["publicKey"]["rpId"], "localhost");
}

#[tokio::test]
async fn a_malformed_registration_answer_is_refused() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let ceremony = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "Laptop")
        .await
        .expect("starts");
    assert_code(
        h.accounts
            .finish_passkey_registration(
                &enrolling(&session),
                &ceremony.ceremony_id,
                json!({}),
                &info(),
            )
            .await,
        "passkey_rejected",
    );
    assert!(
        h.accounts
            .passkeys(session.account_id)
            .await
            .expect("list")
            .is_empty()
    );
}
