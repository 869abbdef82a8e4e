//! Cases for [`AuthenticatorStore`](crate::store::AuthenticatorStore) (TOTP, recovery
//! codes, passkeys), for the session stage of [`SessionStore`](crate::store::SessionStore),
//! and for their atomic operations under contention.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{assert_conflict, ok, together};
use crate::model::{
    AccountId, AssuranceLevel, AuthMethod, Authentication, PasskeyDeletion, PasskeyId,
    PasskeyRecord, SecondFactors, SessionRecord, SessionRotation, SessionStage, TotpRecord,
    TotpSecret,
};
use crate::random::OsRandom;
use crate::store::{Conflict, Store};
use crate::testing::fixtures::{self, time, time_ms};
use crate::token::TokenDigest;

/// A TOTP secret whose bytes include 0x00, 0xFF and bytes that are not UTF-8, so a store
/// that keeps it as text is caught.
fn awkward_secret() -> TotpSecret {
    TotpSecret::from_bytes(vec![
        0x00, 0xff, 0x80, 0x7f, 0x27, 0x22, 0x5c, 0x0a, 0x0d, 0xc3, 0x28, 0x01, 0xfe, 0x00, 0x00,
        0x3b, 0x2d, 0x2d, 0xe2, 0x82,
    ])
}

/// The account's TOTP record, read through `totp`.
async fn totp_of(store: &dyn Store, account: AccountId) -> Option<TotpRecord> {
    ok(store.totp(account).await, "totp")
}

/// The account's second factors, read through `second_factors`.
async fn factors_of(store: &dyn Store, account: AccountId) -> SecondFactors {
    ok(store.second_factors(account).await, "second_factors")
}

/// Puts a pending TOTP with `secret` at `time(0)` and confirms it at `time(60)` with
/// `step` and `codes`; panics unless both answer `true`.
async fn enrol_totp(
    store: &dyn Store,
    account: AccountId,
    secret: &TotpSecret,
    step: i64,
    codes: &[TokenDigest],
) {
    assert!(
        ok(
            store.put_pending_totp(account, secret, time(0)).await,
            "put_pending_totp"
        ),
        "put_pending_totp on an account without TOTP must answer true"
    );
    assert!(
        ok(
            store.confirm_totp(account, step, codes, time(60)).await,
            "confirm_totp"
        ),
        "confirm_totp of a pending TOTP must answer true"
    );
}

// ---------------------------------------------------------------------------------------
// TOTP
// ---------------------------------------------------------------------------------------

/// An account starts without TOTP. `put_pending_totp` stores a pending record (the
/// secret's bytes exactly, `created_at`, no `confirmed_at`, no `last_step`) that does not
/// count as a second factor, and a second call replaces the pending one.
pub async fn totp_put_pending(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    assert_eq!(
        totp_of(&*store, alice.id).await,
        None,
        "a new account must have no TOTP"
    );
    assert_eq!(
        factors_of(&*store, alice.id).await,
        SecondFactors::default(),
        "a new account must have no second factor"
    );

    let first = awkward_secret();
    assert!(
        ok(
            store
                .put_pending_totp(alice.id, &first, time_ms(1_234))
                .await,
            "put_pending_totp"
        ),
        "put_pending_totp on an account without TOTP must answer true"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        Some(TotpRecord {
            secret: first.clone(),
            confirmed_at: None,
            created_at: time_ms(1_234),
            last_step: None,
        }),
        "put_pending_totp must store a pending record with the secret's exact bytes and \
         created_at, and no confirmed_at or last_step"
    );
    assert!(
        !factors_of(&*store, alice.id).await.totp,
        "a pending TOTP must not count as a second factor"
    );

    let second = fixtures::totp_secret();
    assert!(
        ok(
            store
                .put_pending_totp(alice.id, &second, time_ms(5_678))
                .await,
            "put_pending_totp"
        ),
        "put_pending_totp over a pending TOTP must answer true"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        Some(TotpRecord {
            secret: second,
            confirmed_at: None,
            created_at: time_ms(5_678),
            last_step: None,
        }),
        "a second put_pending_totp must replace the pending record"
    );
}

/// `confirm_totp` without a pending TOTP answers `false` and changes nothing (the recovery
/// codes stay). With one, it sets `confirmed_at` and `last_step`, keeps the secret and
/// `created_at`, and replaces the recovery codes: the old ones no longer redeem, the new
/// ones do. Confirming again answers `false`.
pub async fn totp_confirm(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let old_codes = fixtures::recovery_codes(3);
    let new_codes = fixtures::recovery_codes(10);
    ok(
        store
            .replace_recovery_codes(alice.id, &old_codes, time(0))
            .await,
        "replace_recovery_codes",
    );

    assert!(
        !ok(
            store
                .confirm_totp(alice.id, 100, &new_codes, time(10))
                .await,
            "confirm_totp"
        ),
        "confirm_totp without a pending TOTP must answer false"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        None,
        "a refused confirm_totp must not create a TOTP"
    );
    assert_eq!(
        factors_of(&*store, alice.id).await.recovery_codes_left,
        3,
        "a refused confirm_totp must not replace the recovery codes"
    );

    let secret = awkward_secret();
    assert!(
        ok(
            store
                .put_pending_totp(alice.id, &secret, time_ms(20_500))
                .await,
            "put_pending_totp"
        ),
        "put_pending_totp must answer true"
    );
    assert!(
        ok(
            store
                .confirm_totp(alice.id, 59_000_123, &new_codes, time_ms(30_750))
                .await,
            "confirm_totp"
        ),
        "confirm_totp of a pending TOTP must answer true"
    );
    let confirmed = TotpRecord {
        secret: secret.clone(),
        confirmed_at: Some(time_ms(30_750)),
        created_at: time_ms(20_500),
        last_step: Some(59_000_123),
    };
    assert_eq!(
        totp_of(&*store, alice.id).await,
        Some(confirmed.clone()),
        "confirm_totp must set confirmed_at and last_step and keep the secret and created_at"
    );
    assert_eq!(
        factors_of(&*store, alice.id).await,
        SecondFactors {
            totp: true,
            recovery_codes_left: 10,
            passkeys: 0,
        },
        "after confirm_totp the account must have TOTP and exactly the new recovery codes"
    );

    assert!(
        !ok(
            store
                .confirm_totp(alice.id, 59_000_200, &old_codes, time(90))
                .await,
            "confirm_totp"
        ),
        "confirm_totp of an already confirmed TOTP must answer false"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        Some(confirmed),
        "a refused confirm_totp must not change the confirmed TOTP"
    );

    for (i, code) in old_codes.iter().enumerate() {
        assert!(
            !ok(
                store.redeem_recovery_code(alice.id, code).await,
                "redeem_recovery_code"
            ),
            "old recovery code {i} must not redeem after confirm_totp replaced the codes"
        );
    }
    for (i, code) in new_codes.iter().enumerate() {
        assert!(
            ok(
                store.redeem_recovery_code(alice.id, code).await,
                "redeem_recovery_code"
            ),
            "new recovery code {i} given to confirm_totp must redeem"
        );
    }
}

/// `put_pending_totp` on an account with a confirmed TOTP answers `false` and leaves the
/// confirmed record as it was (one TOTP per account).
pub async fn totp_put_pending_after_confirmation(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let secret = fixtures::totp_secret();
    enrol_totp(
        &*store,
        alice.id,
        &secret,
        1_000,
        &fixtures::recovery_codes(2),
    )
    .await;
    let confirmed = totp_of(&*store, alice.id).await;

    assert!(
        !ok(
            store
                .put_pending_totp(alice.id, &fixtures::totp_secret(), time(120))
                .await,
            "put_pending_totp"
        ),
        "put_pending_totp on an account with a confirmed TOTP must answer false"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        confirmed,
        "a refused put_pending_totp must leave the confirmed TOTP unchanged"
    );
    assert_eq!(
        confirmed.map(|t| t.secret),
        Some(secret),
        "the confirmed TOTP must keep its secret"
    );
}

/// `accept_totp_step` answers `false` without TOTP and for a pending one; for a confirmed
/// one it answers `true` only for a step newer than the last accepted (the confirmation's
/// step counts as accepted), recording it, and `false` for the same step again or an
/// older one.
pub async fn totp_accept_step(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    assert!(
        !ok(
            store.accept_totp_step(alice.id, 100).await,
            "accept_totp_step"
        ),
        "accept_totp_step without a TOTP must answer false"
    );
    assert!(
        !ok(
            store.accept_totp_step(fixtures::account_id(), 100).await,
            "accept_totp_step"
        ),
        "accept_totp_step of an unknown account must answer false"
    );

    let secret = fixtures::totp_secret();
    ok(
        store.put_pending_totp(alice.id, &secret, time(0)).await,
        "put_pending_totp",
    );
    assert!(
        !ok(
            store.accept_totp_step(alice.id, 100).await,
            "accept_totp_step"
        ),
        "accept_totp_step of a pending TOTP must answer false"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await.and_then(|t| t.last_step),
        None,
        "a refused accept_totp_step must not record a step"
    );

    ok(
        store
            .confirm_totp(alice.id, 100, &fixtures::recovery_codes(1), time(30))
            .await,
        "confirm_totp",
    );
    for (step, want, what) in [
        (100, false, "the confirmation's own step"),
        (101, true, "a newer step"),
        (101, false, "the same step again"),
        (100, false, "an older step"),
        (105, true, "a step several steps ahead"),
        (103, false, "a step older than the last accepted"),
        (105, false, "the last accepted step again"),
        (106, true, "the next step"),
    ] {
        assert_eq!(
            ok(
                store.accept_totp_step(alice.id, step).await,
                "accept_totp_step"
            ),
            want,
            "accept_totp_step with {what} ({step}) must answer {want}"
        );
    }
    assert_eq!(
        totp_of(&*store, alice.id).await,
        Some(TotpRecord {
            secret,
            confirmed_at: Some(time(30)),
            created_at: time(0),
            last_step: Some(106),
        }),
        "accept_totp_step must record the newest accepted step and change nothing else"
    );
}

/// `delete_totp` removes a confirmed TOTP (answering `true`), then answers `false`; it
/// removes a pending one too; and a new enrolment may start afterwards.
pub async fn totp_delete(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    assert!(
        !ok(store.delete_totp(alice.id).await, "delete_totp"),
        "delete_totp without a TOTP must answer false"
    );

    enrol_totp(
        &*store,
        alice.id,
        &fixtures::totp_secret(),
        500,
        &fixtures::recovery_codes(2),
    )
    .await;
    assert!(
        ok(store.delete_totp(alice.id).await, "delete_totp"),
        "delete_totp of a confirmed TOTP must answer true"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        None,
        "after delete_totp the account must have no TOTP"
    );
    assert!(
        !factors_of(&*store, alice.id).await.totp,
        "after delete_totp second_factors must not report TOTP"
    );
    assert!(
        !ok(store.delete_totp(alice.id).await, "delete_totp"),
        "a second delete_totp must answer false"
    );
    assert!(
        !ok(
            store.accept_totp_step(alice.id, 600).await,
            "accept_totp_step"
        ),
        "accept_totp_step after delete_totp must answer false"
    );

    let pending = fixtures::totp_secret();
    assert!(
        ok(
            store.put_pending_totp(alice.id, &pending, time(300)).await,
            "put_pending_totp"
        ),
        "put_pending_totp after delete_totp must answer true"
    );
    assert!(
        ok(store.delete_totp(alice.id).await, "delete_totp"),
        "delete_totp of a pending TOTP must answer true"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        None,
        "after delete_totp of a pending TOTP the account must have no TOTP"
    );
}

/// The TOTP of one account does not affect another's: enrolment, steps and deletion are
/// per account.
pub async fn totp_accounts_independent(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let alice_secret = fixtures::totp_secret();
    let bob_secret = fixtures::totp_secret();

    enrol_totp(
        &*store,
        alice.id,
        &alice_secret,
        1_000,
        &fixtures::recovery_codes(2),
    )
    .await;
    assert_eq!(
        totp_of(&*store, bob.id).await,
        None,
        "another account's enrolment must not give bob a TOTP"
    );
    assert!(
        !ok(
            store.accept_totp_step(bob.id, 2_000).await,
            "accept_totp_step"
        ),
        "accept_totp_step of an account without TOTP must answer false while another \
         account has one"
    );
    assert!(
        !ok(
            store
                .confirm_totp(bob.id, 1_000, &fixtures::recovery_codes(1), time(60))
                .await,
            "confirm_totp"
        ),
        "confirm_totp must not confirm another account's TOTP"
    );

    assert!(
        ok(
            store.put_pending_totp(bob.id, &bob_secret, time(90)).await,
            "put_pending_totp"
        ),
        "put_pending_totp must answer true for bob while alice has a confirmed TOTP"
    );
    assert_eq!(
        totp_of(&*store, bob.id)
            .await
            .map(|t| (t.secret, t.confirmed_at)),
        Some((bob_secret, None)),
        "bob's pending TOTP must be his own"
    );
    assert!(
        ok(
            store.accept_totp_step(alice.id, 1_001).await,
            "accept_totp_step"
        ),
        "alice's newer step must be accepted"
    );
    assert!(
        !ok(
            store.accept_totp_step(bob.id, 1_002).await,
            "accept_totp_step"
        ),
        "bob's pending TOTP must not accept steps because alice's is confirmed"
    );

    assert!(
        ok(store.delete_totp(bob.id).await, "delete_totp"),
        "delete_totp of bob's pending TOTP must answer true"
    );
    assert_eq!(
        totp_of(&*store, alice.id)
            .await
            .map(|t| (t.secret, t.last_step)),
        Some((alice_secret, Some(1_001))),
        "deleting bob's TOTP must leave alice's as it was"
    );
}

// ---------------------------------------------------------------------------------------
// Recovery codes
// ---------------------------------------------------------------------------------------

/// After `replace_recovery_codes`, each code redeems once (`true`) and never again
/// (`false`), `second_factors` counts the codes left down to zero, and an unknown code or
/// an account without codes answers `false`.
pub async fn recovery_codes_replace_and_redeem(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let codes = fixtures::recovery_codes(10);

    assert!(
        !ok(
            store.redeem_recovery_code(alice.id, &codes[0]).await,
            "redeem_recovery_code"
        ),
        "redeem_recovery_code on an account without codes must answer false"
    );
    ok(
        store
            .replace_recovery_codes(alice.id, &codes, time(0))
            .await,
        "replace_recovery_codes",
    );
    assert_eq!(
        factors_of(&*store, alice.id).await.recovery_codes_left,
        10,
        "after replace_recovery_codes with 10 codes, 10 must be left"
    );
    assert!(
        !ok(
            store
                .redeem_recovery_code(alice.id, &fixtures::digest())
                .await,
            "redeem_recovery_code"
        ),
        "redeem_recovery_code of an unknown code must answer false"
    );

    for (i, code) in codes.iter().enumerate() {
        assert!(
            ok(
                store.redeem_recovery_code(alice.id, code).await,
                "redeem_recovery_code"
            ),
            "recovery code {i} must redeem the first time"
        );
        assert!(
            !ok(
                store.redeem_recovery_code(alice.id, code).await,
                "redeem_recovery_code"
            ),
            "recovery code {i} must not redeem a second time"
        );
        let left = u32::try_from(codes.len() - i - 1).expect("few codes");
        assert_eq!(
            factors_of(&*store, alice.id).await.recovery_codes_left,
            left,
            "after redeeming {} of 10 codes, {left} must be left",
            i + 1
        );
    }
}

/// A recovery code of one account does not redeem on another, and the failed attempt
/// leaves it usable by its own account.
pub async fn recovery_codes_of_another_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let alice_codes = fixtures::recovery_codes(3);
    let bob_codes = fixtures::recovery_codes(3);
    ok(
        store
            .replace_recovery_codes(alice.id, &alice_codes, time(0))
            .await,
        "replace_recovery_codes",
    );
    ok(
        store
            .replace_recovery_codes(bob.id, &bob_codes, time(0))
            .await,
        "replace_recovery_codes",
    );

    assert!(
        !ok(
            store.redeem_recovery_code(bob.id, &alice_codes[0]).await,
            "redeem_recovery_code"
        ),
        "alice's recovery code must not redeem on bob's account"
    );
    assert_eq!(
        (
            factors_of(&*store, alice.id).await.recovery_codes_left,
            factors_of(&*store, bob.id).await.recovery_codes_left,
        ),
        (3, 3),
        "a refused redeem_recovery_code must use up no code of either account"
    );
    assert!(
        ok(
            store.redeem_recovery_code(alice.id, &alice_codes[0]).await,
            "redeem_recovery_code"
        ),
        "alice's recovery code must still redeem on her own account"
    );
    assert_eq!(
        factors_of(&*store, bob.id).await.recovery_codes_left,
        3,
        "redeeming alice's code must leave bob's codes alone"
    );

    ok(
        store
            .replace_recovery_codes(alice.id, &fixtures::recovery_codes(5), time(60))
            .await,
        "replace_recovery_codes",
    );
    assert!(
        ok(
            store.redeem_recovery_code(bob.id, &bob_codes[1]).await,
            "redeem_recovery_code"
        ),
        "replacing alice's codes must leave bob's codes usable"
    );
}

/// `replace_recovery_codes` voids the old set: none of its codes redeems afterwards, the
/// new ones do, and replacing with no codes leaves none.
pub async fn recovery_codes_replace_voids_old(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let old = fixtures::recovery_codes(10);
    let new = fixtures::recovery_codes(8);
    ok(
        store.replace_recovery_codes(alice.id, &old, time(0)).await,
        "replace_recovery_codes",
    );
    ok(
        store
            .redeem_recovery_code(alice.id, &old[0])
            .await
            .map(|_| ()),
        "redeem_recovery_code",
    );
    ok(
        store.replace_recovery_codes(alice.id, &new, time(60)).await,
        "replace_recovery_codes",
    );
    assert_eq!(
        factors_of(&*store, alice.id).await.recovery_codes_left,
        8,
        "after replace_recovery_codes exactly the 8 new codes must be left"
    );
    for (i, code) in old.iter().enumerate() {
        assert!(
            !ok(
                store.redeem_recovery_code(alice.id, code).await,
                "redeem_recovery_code"
            ),
            "old recovery code {i} must not redeem after replace_recovery_codes"
        );
    }
    assert!(
        ok(
            store.redeem_recovery_code(alice.id, &new[7]).await,
            "redeem_recovery_code"
        ),
        "a new recovery code must redeem after replace_recovery_codes"
    );

    ok(
        store.replace_recovery_codes(alice.id, &[], time(120)).await,
        "replace_recovery_codes with no codes",
    );
    assert_eq!(
        factors_of(&*store, alice.id).await.recovery_codes_left,
        0,
        "replace_recovery_codes with no codes must leave none"
    );
    assert!(
        !ok(
            store.redeem_recovery_code(alice.id, &new[0]).await,
            "redeem_recovery_code"
        ),
        "no code may redeem after replace_recovery_codes with no codes"
    );
}

// ---------------------------------------------------------------------------------------
// Passkeys
// ---------------------------------------------------------------------------------------

/// Passkeys that between them use every field (credential ids of every byte value and of
/// the largest size, a credential of a few KB of JSON, names with quotes and non-ASCII
/// text, the largest counter, every combination of backup flags, a last use and none,
/// millisecond times) read back field for field through `passkeys_of` (oldest first,
/// whatever the order of insertion) and `passkey_by_credential_id`; unknown credential
/// ids and accounts find nothing.
pub async fn passkey_insert_and_read_back(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    let every_byte: Vec<u8> = (0..=255u8).collect();
    let largest: Vec<u8> = (0..1023u32).map(|i| (i * 7 % 256) as u8).collect();
    let newest = PasskeyRecord {
        name: "Zoë's \"work\" key 🔑".to_owned(),
        sign_count: u32::MAX,
        backup_eligible: true,
        backup_state: true,
        ..fixtures::passkey(alice.id, &every_byte, time_ms(90_123))
    };
    let oldest = PasskeyRecord {
        sign_count: 0,
        backup_eligible: false,
        backup_state: false,
        ..fixtures::passkey(alice.id, &largest, time_ms(1_001))
    };
    let middle = PasskeyRecord {
        last_used_at: Some(time_ms(45_678)),
        ..fixtures::passkey(alice.id, b"\x00", time_ms(30_500))
    };
    let bobs = fixtures::passkey(bob.id, b"bob's credential", time(10));
    assert!(
        oldest.credential.len() > 2_000,
        "the fixture credential must be a few KB"
    );

    for passkey in [&newest, &bobs, &oldest, &middle] {
        ok(store.insert_passkey(passkey).await, "insert_passkey");
    }

    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        vec![oldest.clone(), middle.clone(), newest.clone()],
        "passkeys_of must list the account's passkeys oldest first, field for field"
    );
    assert_eq!(
        ok(store.passkeys_of(bob.id).await, "passkeys_of"),
        vec![bobs.clone()],
        "passkeys_of must list only the account's own passkeys"
    );
    for (passkey, what) in [
        (
            &newest,
            "every byte value, the largest counter, both backup flags",
        ),
        (&oldest, "a 1023-byte credential id, no backup flag"),
        (&middle, "a one-byte credential id and a last use"),
        (&bobs, "another account"),
    ] {
        assert_eq!(
            ok(
                store.passkey_by_credential_id(&passkey.credential_id).await,
                "passkey_by_credential_id"
            ),
            Some(passkey.clone()),
            "passkey_by_credential_id must read back the passkey with {what}, field for field"
        );
    }
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"unknown").await,
            "passkey_by_credential_id"
        ),
        None,
        "passkey_by_credential_id of an unknown credential id must find nothing"
    );
    assert_eq!(
        ok(
            store.passkey_by_credential_id(&every_byte[..255]).await,
            "passkey_by_credential_id"
        ),
        None,
        "passkey_by_credential_id must match the whole credential id, not a prefix"
    );
    assert_eq!(
        ok(
            store.passkeys_of(fixtures::account_id()).await,
            "passkeys_of"
        ),
        Vec::new(),
        "passkeys_of of an unknown account must find nothing"
    );
}

/// A passkey whose id is taken, or whose credential id is taken (here by another
/// account's passkey), fails with [`Conflict::Id`] and neither overwrites the first nor
/// leaves anything behind.
pub async fn passkey_insert_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::insert_passkey(&*store, alice.id, b"credential-1", time(0)).await;

    let same_id = PasskeyRecord {
        id: first.id,
        ..fixtures::passkey(alice.id, b"credential-2", time(10))
    };
    assert_conflict(
        store.insert_passkey(&same_id).await,
        Conflict::Id,
        "insert_passkey with a taken id",
    );
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"credential-2").await,
            "passkey_by_credential_id"
        ),
        None,
        "a refused insert_passkey must not store the passkey"
    );

    let same_credential = fixtures::passkey(bob.id, b"credential-1", time(20));
    assert_conflict(
        store.insert_passkey(&same_credential).await,
        Conflict::Id,
        "insert_passkey with a credential id taken by another account's passkey",
    );
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"credential-1").await,
            "passkey_by_credential_id"
        ),
        Some(first.clone()),
        "a refused insert_passkey must not overwrite the passkey that has the credential id"
    );
    assert_eq!(
        ok(store.passkeys_of(bob.id).await, "passkeys_of"),
        Vec::new(),
        "a refused insert_passkey must leave nothing on the other account"
    );
    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        vec![first],
        "refused insert_passkey calls must leave only the first passkey"
    );
}

/// `rename_passkey` renames one of the account's own passkeys (answering `true`) and
/// nothing else; another account's passkey or an unknown id answers `false` and changes
/// nothing.
pub async fn passkey_rename(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let mut renamed = fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(0)).await;
    let other = fixtures::insert_passkey(&*store, alice.id, b"alice-2", time(10)).await;

    assert!(
        ok(
            store
                .rename_passkey(alice.id, renamed.id, "Téléphone d'Alice \"perso\"")
                .await,
            "rename_passkey"
        ),
        "rename_passkey of the account's own passkey must answer true"
    );
    renamed.name = "Téléphone d'Alice \"perso\"".to_owned();
    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        vec![renamed.clone(), other.clone()],
        "rename_passkey must change the name of that passkey only"
    );

    assert!(
        !ok(
            store.rename_passkey(bob.id, renamed.id, "stolen").await,
            "rename_passkey"
        ),
        "rename_passkey of another account's passkey must answer false"
    );
    let unknown = PasskeyId::generate(time(0), &OsRandom);
    assert!(
        !ok(
            store.rename_passkey(alice.id, unknown, "nothing").await,
            "rename_passkey"
        ),
        "rename_passkey of an unknown passkey must answer false"
    );
    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        vec![renamed, other],
        "refused rename_passkey calls must change nothing"
    );
}

/// `record_passkey_use` replaces the credential, the counter and the backup state and
/// sets `last_used_at`, leaving every other field and every other passkey as it was; an
/// unknown passkey answers `false`.
pub async fn passkey_record_use(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let used = fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(0)).await;
    let other = fixtures::insert_passkey(&*store, alice.id, b"alice-2", time(10)).await;
    let updated_credential = fixtures::passkey(alice.id, b"alice-1", time(0)).credential;

    assert!(
        ok(
            store
                .record_passkey_use(
                    used.id,
                    &updated_credential,
                    3_000_000_000,
                    true,
                    time_ms(75_321)
                )
                .await,
            "record_passkey_use"
        ),
        "record_passkey_use of an existing passkey must answer true"
    );
    let want = PasskeyRecord {
        credential: updated_credential.clone(),
        sign_count: 3_000_000_000,
        backup_state: true,
        last_used_at: Some(time_ms(75_321)),
        ..used.clone()
    };
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"alice-1").await,
            "passkey_by_credential_id"
        ),
        Some(want.clone()),
        "record_passkey_use must set the credential, counter, backup state and last use, \
         and change nothing else"
    );
    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        vec![want.clone(), other],
        "record_passkey_use must leave the account's other passkey alone"
    );

    assert!(
        ok(
            store
                .record_passkey_use(used.id, &used.credential, 12, false, time(120))
                .await,
            "record_passkey_use"
        ),
        "a second record_passkey_use must answer true"
    );
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"alice-1").await,
            "passkey_by_credential_id"
        )
        .map(|p| (p.credential, p.sign_count, p.backup_state, p.last_used_at)),
        Some((used.credential.clone(), 12, false, Some(time(120)))),
        "record_passkey_use must write the values it is given, even a lower counter and a \
         cleared backup state (the service judges them)"
    );

    let unknown = PasskeyId::generate(time(0), &OsRandom);
    assert!(
        !ok(
            store
                .record_passkey_use(unknown, &updated_credential, 1, false, time(180))
                .await,
            "record_passkey_use"
        ),
        "record_passkey_use of an unknown passkey must answer false"
    );
}

/// `delete_passkey` of another account's passkey, or of an unknown one, answers
/// `NotFound` and deletes nothing.
pub async fn passkey_delete_not_found(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let alices = fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(0)).await;
    let bobs = fixtures::insert_passkey(&*store, bob.id, b"bob-1", time(0)).await;

    assert_eq!(
        ok(
            store.delete_passkey(bob.id, alices.id).await,
            "delete_passkey"
        ),
        PasskeyDeletion::NotFound,
        "delete_passkey of another account's passkey must answer NotFound"
    );
    assert_eq!(
        ok(
            store
                .delete_passkey(alice.id, PasskeyId::generate(time(0), &OsRandom))
                .await,
            "delete_passkey"
        ),
        PasskeyDeletion::NotFound,
        "delete_passkey of an unknown passkey must answer NotFound"
    );
    assert_eq!(
        (
            ok(store.passkeys_of(alice.id).await, "passkeys_of"),
            ok(store.passkeys_of(bob.id).await, "passkeys_of"),
        ),
        (vec![alices], vec![bobs]),
        "delete_passkey answering NotFound must delete nothing"
    );
}

/// The only passkey of an account without a password is its last way to log in:
/// `delete_passkey` answers `LastLoginMethod` and keeps it. The only passkey of an account
/// with a password is deleted.
pub async fn passkey_delete_last_login_method(store: Arc<dyn Store>) {
    let alice =
        fixtures::insert_account_without_password(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let alices = fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(0)).await;
    let bobs = fixtures::insert_passkey(&*store, bob.id, b"bob-1", time(0)).await;

    assert_eq!(
        ok(
            store.delete_passkey(alice.id, alices.id).await,
            "delete_passkey"
        ),
        PasskeyDeletion::LastLoginMethod,
        "delete_passkey of the only passkey of an account without a password must answer \
         LastLoginMethod"
    );
    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        vec![alices.clone()],
        "the passkey refused as the last login method must survive"
    );
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"alice-1").await,
            "passkey_by_credential_id"
        ),
        Some(alices),
        "the passkey refused as the last login method must still be found"
    );

    assert_eq!(
        ok(
            store.delete_passkey(bob.id, bobs.id).await,
            "delete_passkey"
        ),
        PasskeyDeletion::Deleted,
        "delete_passkey of the only passkey of an account with a password must answer Deleted"
    );
    assert_eq!(
        ok(store.passkeys_of(bob.id).await, "passkeys_of"),
        Vec::new(),
        "a deleted passkey must be gone from passkeys_of"
    );
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"bob-1").await,
            "passkey_by_credential_id"
        ),
        None,
        "a deleted passkey must be gone from passkey_by_credential_id"
    );
    assert_eq!(
        ok(
            store.delete_passkey(bob.id, bobs.id).await,
            "delete_passkey"
        ),
        PasskeyDeletion::NotFound,
        "delete_passkey of a deleted passkey must answer NotFound"
    );
}

/// With two passkeys and no password, the first `delete_passkey` deletes and the second
/// answers `LastLoginMethod`, keeping the remaining passkey.
pub async fn passkey_delete_two_without_password(store: Arc<dyn Store>) {
    let alice =
        fixtures::insert_account_without_password(&*store, "alice", "alice@example.com").await;
    let first = fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(0)).await;
    let second = fixtures::insert_passkey(&*store, alice.id, b"alice-2", time(10)).await;

    assert_eq!(
        ok(
            store.delete_passkey(alice.id, first.id).await,
            "delete_passkey"
        ),
        PasskeyDeletion::Deleted,
        "delete_passkey of one of two passkeys of an account without a password must answer \
         Deleted"
    );
    assert_eq!(
        ok(
            store.delete_passkey(alice.id, second.id).await,
            "delete_passkey"
        ),
        PasskeyDeletion::LastLoginMethod,
        "delete_passkey of the remaining passkey of an account without a password must \
         answer LastLoginMethod"
    );
    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        vec![second],
        "only the passkey refused as the last login method must remain"
    );
}

// ---------------------------------------------------------------------------------------
// All authenticators
// ---------------------------------------------------------------------------------------

/// `second_factors` reports a confirmed TOTP (a pending one does not count), the unused
/// recovery codes and the passkeys, each per account.
pub async fn authenticators_second_factors(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    assert_eq!(
        factors_of(&*store, fixtures::account_id()).await,
        SecondFactors::default(),
        "second_factors of an unknown account must report nothing"
    );

    ok(
        store
            .put_pending_totp(alice.id, &fixtures::totp_secret(), time(0))
            .await,
        "put_pending_totp",
    );
    assert_eq!(
        factors_of(&*store, alice.id).await,
        SecondFactors::default(),
        "a pending TOTP must not count in second_factors"
    );

    let codes = fixtures::recovery_codes(10);
    ok(
        store.confirm_totp(alice.id, 7, &codes, time(30)).await,
        "confirm_totp",
    );
    fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(40)).await;
    fixtures::insert_passkey(&*store, alice.id, b"alice-2", time(50)).await;
    ok(
        store
            .redeem_recovery_code(alice.id, &codes[3])
            .await
            .map(|_| ()),
        "redeem_recovery_code",
    );
    fixtures::insert_passkey(&*store, bob.id, b"bob-1", time(60)).await;

    assert_eq!(
        factors_of(&*store, alice.id).await,
        SecondFactors {
            totp: true,
            recovery_codes_left: 9,
            passkeys: 2,
        },
        "second_factors must report the confirmed TOTP, the 9 unused codes and 2 passkeys"
    );
    assert_eq!(
        factors_of(&*store, bob.id).await,
        SecondFactors {
            totp: false,
            recovery_codes_left: 0,
            passkeys: 1,
        },
        "second_factors must count only the account's own authenticators"
    );
}

/// `delete_authenticators` removes the account's TOTP, recovery codes and passkeys and
/// answers how many rows went (the TOTP, each unused recovery code and each passkey count
/// one); another account's authenticators stay; a second call answers 0.
pub async fn authenticators_delete_all(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let alice_codes = fixtures::recovery_codes(5);
    let bob_codes = fixtures::recovery_codes(4);
    let bob_secret = fixtures::totp_secret();
    enrol_totp(
        &*store,
        alice.id,
        &fixtures::totp_secret(),
        10,
        &alice_codes,
    )
    .await;
    enrol_totp(&*store, bob.id, &bob_secret, 20, &bob_codes).await;
    fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(0)).await;
    fixtures::insert_passkey(&*store, alice.id, b"alice-2", time(10)).await;
    let bobs = fixtures::insert_passkey(&*store, bob.id, b"bob-1", time(0)).await;

    assert_eq!(
        ok(
            store.delete_authenticators(alice.id).await,
            "delete_authenticators"
        ),
        8,
        "delete_authenticators must answer 8 for a TOTP, 5 recovery codes and 2 passkeys"
    );
    assert_eq!(
        factors_of(&*store, alice.id).await,
        SecondFactors::default(),
        "after delete_authenticators the account must have no second factor"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await,
        None,
        "delete_authenticators must delete the TOTP"
    );
    assert_eq!(
        ok(store.passkeys_of(alice.id).await, "passkeys_of"),
        Vec::new(),
        "delete_authenticators must delete the passkeys"
    );
    assert!(
        !ok(
            store.redeem_recovery_code(alice.id, &alice_codes[0]).await,
            "redeem_recovery_code"
        ),
        "delete_authenticators must delete the recovery codes"
    );
    assert_eq!(
        ok(
            store.passkey_by_credential_id(b"alice-1").await,
            "passkey_by_credential_id"
        ),
        None,
        "a passkey deleted by delete_authenticators must not be found by its credential id"
    );

    assert_eq!(
        factors_of(&*store, bob.id).await,
        SecondFactors {
            totp: true,
            recovery_codes_left: 4,
            passkeys: 1,
        },
        "delete_authenticators must leave another account's authenticators"
    );
    assert_eq!(
        (
            totp_of(&*store, bob.id).await.map(|t| t.secret),
            ok(store.passkeys_of(bob.id).await, "passkeys_of"),
            ok(
                store.redeem_recovery_code(bob.id, &bob_codes[0]).await,
                "redeem_recovery_code"
            ),
        ),
        (Some(bob_secret), vec![bobs], true),
        "the other account's TOTP, passkey and codes must work after delete_authenticators"
    );

    assert_eq!(
        ok(
            store.delete_authenticators(alice.id).await,
            "delete_authenticators"
        ),
        0,
        "a second delete_authenticators must answer 0"
    );
    assert!(
        ok(
            store
                .put_pending_totp(alice.id, &fixtures::totp_secret(), time(300))
                .await,
            "put_pending_totp"
        ),
        "after delete_authenticators a new TOTP enrolment must start"
    );
}

// ---------------------------------------------------------------------------------------
// Session stage
// ---------------------------------------------------------------------------------------

/// A session of `account` created at `created_at` with `stage`.
fn staged_session(
    account: AccountId,
    created_at: DateTime<Utc>,
    stage: SessionStage,
) -> SessionRecord {
    SessionRecord {
        stage,
        ..fixtures::session(account, created_at)
    }
}

/// Sessions of every stage (full, second factor pending with no and with some attempts,
/// enrolment only) read back exactly through `session_by_token` and `sessions_of`.
pub async fn session_stage_read_back(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let full = staged_session(alice.id, time(0), SessionStage::Full);
    let pending = staged_session(
        alice.id,
        time(10),
        SessionStage::SecondFactorPending { attempts: 0 },
    );
    let tried = staged_session(
        alice.id,
        time(20),
        SessionStage::SecondFactorPending { attempts: 3 },
    );
    let enrolment = staged_session(alice.id, time(30), SessionStage::EnrollmentOnly);

    for session in [&full, &pending, &tried, &enrolment] {
        ok(store.insert_session(session).await, "insert_session");
    }
    for session in [&full, &pending, &tried, &enrolment] {
        assert_eq!(
            ok(
                store.session_by_token(&session.token_digest).await,
                "session_by_token"
            ),
            Some(session.clone()),
            "session_by_token must read back the session with stage {:?} exactly",
            session.stage
        );
    }
    assert_eq!(
        ok(store.sessions_of(alice.id).await, "sessions_of"),
        vec![enrolment, tried, pending, full],
        "sessions_of must read back every session with its stage, newest first"
    );
}

/// `record_second_factor_attempt` on a pending session answers 1, 2, 3 and the session
/// reads back with those attempts; on a full or enrolment-only session, or an unknown
/// one, it answers `None` and changes nothing.
pub async fn session_stage_second_factor_attempts(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let pending = staged_session(
        alice.id,
        time(0),
        SessionStage::SecondFactorPending { attempts: 0 },
    );
    let other_pending = staged_session(
        alice.id,
        time(5),
        SessionStage::SecondFactorPending { attempts: 0 },
    );
    let full = staged_session(alice.id, time(10), SessionStage::Full);
    let enrolment = staged_session(alice.id, time(20), SessionStage::EnrollmentOnly);
    for session in [&pending, &other_pending, &full, &enrolment] {
        ok(store.insert_session(session).await, "insert_session");
    }

    for want in 1..=3 {
        assert_eq!(
            ok(
                store.record_second_factor_attempt(pending.id).await,
                "record_second_factor_attempt"
            ),
            Some(want),
            "record_second_factor_attempt on a pending session must answer the attempts so far"
        );
    }
    assert_eq!(
        ok(
            store.session_by_token(&pending.token_digest).await,
            "session_by_token"
        ),
        Some(SessionRecord {
            stage: SessionStage::SecondFactorPending { attempts: 3 },
            ..pending.clone()
        }),
        "after 3 record_second_factor_attempt calls the session must have 3 attempts and \
         nothing else changed"
    );
    assert_eq!(
        ok(
            store.session_by_token(&other_pending.token_digest).await,
            "session_by_token"
        ),
        Some(other_pending),
        "record_second_factor_attempt must count on its own session only"
    );

    for (session, what) in [(&full, "a full"), (&enrolment, "an enrolment-only")] {
        assert_eq!(
            ok(
                store.record_second_factor_attempt(session.id).await,
                "record_second_factor_attempt"
            ),
            None,
            "record_second_factor_attempt on {what} session must answer None"
        );
        assert_eq!(
            ok(
                store.session_by_token(&session.token_digest).await,
                "session_by_token"
            ),
            Some(session.clone()),
            "record_second_factor_attempt on {what} session must change nothing"
        );
    }
    assert_eq!(
        ok(
            store
                .record_second_factor_attempt(fixtures::session(alice.id, time(0)).id)
                .await,
            "record_second_factor_attempt"
        ),
        None,
        "record_second_factor_attempt on an unknown session must answer None"
    );
}

/// `rotate_session` writes the rotation's stage: a pending session with attempts becomes
/// a full one, and then counts no more attempts.
pub async fn session_stage_rotate(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let pending = staged_session(
        alice.id,
        time(0),
        SessionStage::SecondFactorPending { attempts: 0 },
    );
    ok(store.insert_session(&pending).await, "insert_session");
    ok(
        store.record_second_factor_attempt(pending.id).await,
        "record_second_factor_attempt",
    );

    let rotation = SessionRotation {
        token_digest: fixtures::digest(),
        authentications: vec![
            Authentication {
                method: AuthMethod::Password,
                at: time(0),
            },
            Authentication {
                method: AuthMethod::Totp,
                at: time(40),
            },
        ],
        assurance: AssuranceLevel::Two,
        stage: SessionStage::Full,
        at: time_ms(40_500),
    };
    assert!(
        ok(
            store
                .rotate_session(pending.id, &pending.token_digest, &rotation)
                .await,
            "rotate_session"
        ),
        "rotate_session of a pending session with its current digest must answer true"
    );
    let want = SessionRecord {
        token_digest: rotation.token_digest,
        authentications: rotation.authentications.clone(),
        assurance: rotation.assurance,
        stage: SessionStage::Full,
        last_seen_at: rotation.at,
        ..pending.clone()
    };
    assert_eq!(
        ok(
            store.session_by_token(&rotation.token_digest).await,
            "session_by_token"
        ),
        Some(want),
        "rotate_session must write the rotation's stage (pending to full)"
    );
    assert_eq!(
        ok(
            store.record_second_factor_attempt(pending.id).await,
            "record_second_factor_attempt"
        ),
        None,
        "record_second_factor_attempt must answer None once the session is full"
    );

    let enrolment = staged_session(alice.id, time(60), SessionStage::EnrollmentOnly);
    ok(store.insert_session(&enrolment).await, "insert_session");
    let to_pending = SessionRotation {
        token_digest: fixtures::digest(),
        stage: SessionStage::SecondFactorPending { attempts: 0 },
        at: time(90),
        ..rotation
    };
    assert!(
        ok(
            store
                .rotate_session(enrolment.id, &enrolment.token_digest, &to_pending)
                .await,
            "rotate_session"
        ),
        "rotate_session of an enrolment-only session must answer true"
    );
    assert_eq!(
        ok(
            store.session_by_token(&to_pending.token_digest).await,
            "session_by_token"
        )
        .map(|s| s.stage),
        Some(SessionStage::SecondFactorPending { attempts: 0 }),
        "rotate_session must write any stage the rotation carries"
    );
}

// ---------------------------------------------------------------------------------------
// Under contention
// ---------------------------------------------------------------------------------------

/// 20 concurrent `accept_totp_step` calls with one new step: exactly one is accepted.
pub async fn concurrent_accept_totp_step(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    enrol_totp(
        &*store,
        alice.id,
        &fixtures::totp_secret(),
        1_000,
        &fixtures::recovery_codes(1),
    )
    .await;

    let results = together(20, |_| {
        let store = Arc::clone(&store);
        async move { store.accept_totp_step(alice.id, 1_001).await }
    })
    .await;
    let accepted = results
        .into_iter()
        .map(|r| ok(r, "accept_totp_step"))
        .filter(|&r| r)
        .count();
    assert_eq!(
        accepted, 1,
        "of 20 concurrent accept_totp_step calls with one step exactly one must be accepted"
    );
    assert_eq!(
        totp_of(&*store, alice.id).await.and_then(|t| t.last_step),
        Some(1_001),
        "after concurrent accept_totp_step calls the step must be recorded"
    );
}

/// 20 concurrent `redeem_recovery_code` calls of one code: exactly one redeems it.
pub async fn concurrent_redeem_recovery_code(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let codes = fixtures::recovery_codes(3);
    ok(
        store
            .replace_recovery_codes(alice.id, &codes, time(0))
            .await,
        "replace_recovery_codes",
    );

    let results = together(20, |_| {
        let store = Arc::clone(&store);
        let code = codes[1];
        async move { store.redeem_recovery_code(alice.id, &code).await }
    })
    .await;
    let redeemed = results
        .into_iter()
        .map(|r| ok(r, "redeem_recovery_code"))
        .filter(|&r| r)
        .count();
    assert_eq!(
        redeemed, 1,
        "of 20 concurrent redeem_recovery_code calls of one code exactly one must redeem it"
    );
    assert_eq!(
        factors_of(&*store, alice.id).await.recovery_codes_left,
        2,
        "after concurrent redemptions of one code the other 2 must be left"
    );
}

/// 10 concurrent `record_second_factor_attempt` calls on one pending session: none is
/// lost, and together they answered exactly 1 to 10.
pub async fn concurrent_record_second_factor_attempt(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let pending = staged_session(
        alice.id,
        time(0),
        SessionStage::SecondFactorPending { attempts: 0 },
    );
    ok(store.insert_session(&pending).await, "insert_session");

    let results = together(10, |_| {
        let store = Arc::clone(&store);
        async move { store.record_second_factor_attempt(pending.id).await }
    })
    .await;
    let counts: BTreeSet<Option<u32>> = results
        .into_iter()
        .map(|r| ok(r, "record_second_factor_attempt"))
        .collect();
    assert_eq!(
        counts,
        (1..=10).map(Some).collect::<BTreeSet<_>>(),
        "10 concurrent record_second_factor_attempt calls must answer 1 to 10, each once"
    );
    assert_eq!(
        ok(
            store.session_by_token(&pending.token_digest).await,
            "session_by_token"
        )
        .map(|s| s.stage),
        Some(SessionStage::SecondFactorPending { attempts: 10 }),
        "after 10 concurrent attempts the session must have 10"
    );
}

/// How many passkeys, each deleted by its own task, contend in one round of
/// [`concurrent_delete_last_passkeys`].
const LAST_PASSKEY_CONTENDERS: usize = 12;

/// How many rounds [`concurrent_delete_last_passkeys`] runs, each on a fresh account.
const LAST_PASSKEY_ROUNDS: usize = 20;

/// Concurrent `delete_passkey` calls of every passkey of an account without a password,
/// one task per passkey, round after round: each time exactly one passkey remains, the
/// call for it answers `LastLoginMethod` and every other call `Deleted`, so the account
/// always keeps a way to log in.
///
/// A check-then-delete that is not atomic (count the other passkeys, then delete) lets two
/// calls each see another passkey and both delete, leaving none. Two contenders run once
/// often miss that interleaving (a PostgreSQL store without its row lock passed such a
/// case three times in four); twelve, twenty times over, catch it.
pub async fn concurrent_delete_last_passkeys(store: Arc<dyn Store>) {
    for round in 0..LAST_PASSKEY_ROUNDS {
        let account = fixtures::insert_account_without_password(
            &*store,
            &format!("alice{round}"),
            &format!("alice{round}@example.com"),
        )
        .await;
        let mut passkeys = Vec::with_capacity(LAST_PASSKEY_CONTENDERS);
        for i in 0..LAST_PASSKEY_CONTENDERS {
            let credential_id = format!("alice{round}-{i}");
            let created_at = time(i64::try_from(i).expect("a small index"));
            passkeys.push(
                fixtures::insert_passkey(&*store, account.id, credential_id.as_bytes(), created_at)
                    .await,
            );
        }

        let results = together(passkeys.len(), |i| {
            let store = Arc::clone(&store);
            let id = passkeys[i].id;
            async move { store.delete_passkey(account.id, id).await }
        })
        .await;
        let results: Vec<PasskeyDeletion> = results
            .into_iter()
            .map(|r| ok(r, "delete_passkey"))
            .collect();
        let kept: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == PasskeyDeletion::LastLoginMethod)
            .map(|(i, _)| i)
            .collect();
        let deleted = results
            .iter()
            .filter(|r| **r == PasskeyDeletion::Deleted)
            .count();
        assert!(
            kept.len() == 1 && deleted == LAST_PASSKEY_CONTENDERS - 1,
            "round {round}: {LAST_PASSKEY_CONTENDERS} concurrent delete_passkey calls of the \
             {LAST_PASSKEY_CONTENDERS} passkeys of an account without a password must answer \
             LastLoginMethod once and Deleted for every other, but answered {results:?}"
        );
        assert_eq!(
            ok(store.passkeys_of(account.id).await, "passkeys_of"),
            vec![passkeys[kept[0]].clone()],
            "round {round}: the passkey refused as the last login method must remain, alone"
        );
    }
}
