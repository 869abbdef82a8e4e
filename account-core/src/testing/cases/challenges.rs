//! Cases for [`ChallengeStore`](crate::store::ChallengeStore).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{assert_conflict, ok};
use crate::model::{Challenge, ChallengePurpose};
use crate::store::{Conflict, Store};
use crate::testing::fixtures::{self, time};

const RESET: ChallengePurpose = ChallengePurpose::PasswordReset;
const VERIFY: ChallengePurpose = ChallengePurpose::VerifyEmail;

/// `find_challenge` reads a challenge back field for field without using it up;
/// `consume_challenge` returns it once and then it is gone. A challenge of no account,
/// with no stamp and an empty payload, round-trips too.
pub async fn challenge_insert_find_consume(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let challenge = fixtures::insert_challenge(&*store, alice.id, RESET).await;
    let now = time(60);

    for attempt in ["first", "second"] {
        assert_eq!(
            ok(
                store.find_challenge(&challenge.digest, RESET, now).await,
                "find_challenge"
            ),
            Some(challenge.clone()),
            "find_challenge ({attempt} call) must read back every field and not use the \
             challenge up"
        );
    }
    assert_eq!(
        ok(
            store.consume_challenge(&challenge.digest, RESET, now).await,
            "consume_challenge"
        ),
        Some(challenge.clone()),
        "consume_challenge must return the challenge"
    );
    assert_eq!(
        ok(
            store.consume_challenge(&challenge.digest, RESET, now).await,
            "consume_challenge"
        ),
        None,
        "a second consume_challenge must find nothing: challenges are single use"
    );
    assert_eq!(
        ok(
            store.find_challenge(&challenge.digest, RESET, now).await,
            "find_challenge"
        ),
        None,
        "find_challenge after consume_challenge must find nothing"
    );

    let anonymous = Challenge {
        account_id: None,
        security_stamp: None,
        payload: String::new(),
        ..fixtures::challenge(alice.id, VERIFY)
    };
    ok(
        store.insert_challenge(&anonymous, false).await,
        "insert_challenge of a challenge of no account",
    );
    assert_eq!(
        ok(
            store
                .consume_challenge(&anonymous.digest, VERIFY, now)
                .await,
            "consume_challenge"
        ),
        Some(anonymous),
        "a challenge without account, stamp or payload must round-trip"
    );
    assert_eq!(
        ok(
            store.find_challenge(&fixtures::digest(), RESET, now).await,
            "find_challenge"
        ),
        None,
        "find_challenge of an unknown digest must find nothing"
    );
    assert_eq!(
        ok(
            store
                .consume_challenge(&fixtures::digest(), RESET, now)
                .await,
            "consume_challenge"
        ),
        None,
        "consume_challenge of an unknown digest must find nothing"
    );
}

/// A challenge asked for with another purpose is neither found nor consumed, and stays
/// usable for its own purpose.
pub async fn challenge_wrong_purpose(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let challenge = fixtures::insert_challenge(&*store, alice.id, RESET).await;
    let now = time(60);

    for other in [VERIFY, ChallengePurpose::VerifyRecoveryEmail] {
        assert_eq!(
            ok(
                store.find_challenge(&challenge.digest, other, now).await,
                "find_challenge"
            ),
            None,
            "find_challenge with purpose {other:?} must not find a {RESET:?} challenge"
        );
        assert_eq!(
            ok(
                store.consume_challenge(&challenge.digest, other, now).await,
                "consume_challenge"
            ),
            None,
            "consume_challenge with purpose {other:?} must not return a {RESET:?} challenge"
        );
    }
    assert_eq!(
        ok(
            store.consume_challenge(&challenge.digest, RESET, now).await,
            "consume_challenge"
        ),
        Some(challenge),
        "consume_challenge with the wrong purpose must leave the challenge in place"
    );
}

/// A challenge is live strictly before `expires_at`: from that instant on, `find` finds
/// nothing, and `consume` finds nothing and removes it.
pub async fn challenge_expired(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let challenge = fixtures::insert_challenge(&*store, alice.id, RESET).await;
    let expiry = challenge.expires_at;

    assert_eq!(
        ok(
            store
                .find_challenge(
                    &challenge.digest,
                    RESET,
                    expiry - chrono::Duration::milliseconds(1)
                )
                .await,
            "find_challenge"
        ),
        Some(challenge.clone()),
        "find_challenge one millisecond before expires_at must find the challenge"
    );
    for now in [expiry, expiry + chrono::Duration::seconds(1)] {
        assert_eq!(
            ok(
                store.find_challenge(&challenge.digest, RESET, now).await,
                "find_challenge"
            ),
            None,
            "find_challenge at {now} must not find a challenge that expires at {expiry}"
        );
    }
    assert_eq!(
        ok(
            store
                .consume_challenge(&challenge.digest, RESET, expiry)
                .await,
            "consume_challenge"
        ),
        None,
        "consume_challenge at expires_at must not return the challenge"
    );
    assert_eq!(
        ok(
            store
                .find_challenge(&challenge.digest, RESET, time(60))
                .await,
            "find_challenge"
        ),
        None,
        "consume_challenge of an expired challenge must remove it"
    );
}

/// A challenge whose digest is taken fails with [`Conflict::Id`]; even with `replace` it
/// deletes nothing and overwrites nothing.
pub async fn challenge_insert_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let first = fixtures::insert_challenge(&*store, alice.id, RESET).await;
    let second = fixtures::insert_challenge(&*store, alice.id, RESET).await;

    let dup = Challenge {
        digest: second.digest,
        payload: "other".to_owned(),
        ..fixtures::challenge(alice.id, RESET)
    };
    for replace in [false, true] {
        assert_conflict(
            store.insert_challenge(&dup, replace).await,
            Conflict::Id,
            &format!("insert_challenge(replace = {replace}) with a taken digest"),
        );
    }
    for kept in [&first, &second] {
        assert_eq!(
            ok(
                store.find_challenge(&kept.digest, RESET, time(60)).await,
                "find_challenge"
            ),
            Some(kept.clone()),
            "a refused insert_challenge must neither replace nor overwrite other challenges"
        );
    }
}

/// `insert_challenge` with `replace` deletes the account's other challenges of the same
/// purpose, and only those; without `replace` it keeps them.
pub async fn challenge_replace(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let older = fixtures::insert_challenge(&*store, alice.id, RESET).await;
    let other_purpose = fixtures::insert_challenge(&*store, alice.id, VERIFY).await;
    let other_account = fixtures::insert_challenge(&*store, bob.id, RESET).await;
    let now = time(60);

    let newer = fixtures::challenge(alice.id, RESET);
    ok(
        store.insert_challenge(&newer, true).await,
        "insert_challenge(replace = true)",
    );
    assert!(
        !is_stored(&*store, &older, now).await,
        "insert_challenge(replace = true) must delete the account's older challenge of the \
         same purpose"
    );
    assert!(
        is_stored(&*store, &newer, now).await,
        "the replacing challenge must be stored"
    );
    assert!(
        is_stored(&*store, &other_purpose, now).await,
        "insert_challenge(replace = true) must keep the account's challenges of other purposes"
    );
    assert!(
        is_stored(&*store, &other_account, now).await,
        "insert_challenge(replace = true) must keep other accounts' challenges"
    );

    let newest = fixtures::challenge(alice.id, RESET);
    ok(
        store.insert_challenge(&newest, false).await,
        "insert_challenge(replace = false)",
    );
    assert!(
        is_stored(&*store, &newer, now).await && is_stored(&*store, &newest, now).await,
        "insert_challenge(replace = false) must keep the account's other challenges"
    );
}

/// `delete_challenges` deletes the account's challenges of one purpose, counts them, and
/// keeps the rest.
pub async fn challenge_delete_of_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::insert_challenge(&*store, alice.id, RESET).await;
    let second = fixtures::insert_challenge(&*store, alice.id, RESET).await;
    let verify = fixtures::insert_challenge(&*store, alice.id, VERIFY).await;
    let bobs = fixtures::insert_challenge(&*store, bob.id, RESET).await;
    let now = time(60);

    assert_eq!(
        ok(
            store.delete_challenges(alice.id, RESET).await,
            "delete_challenges"
        ),
        2,
        "delete_challenges must count the account's challenges of the purpose"
    );
    for (challenge, kept, what) in [
        (&first, false, "a deleted challenge"),
        (&second, false, "a deleted challenge"),
        (&verify, true, "the account's challenge of another purpose"),
        (&bobs, true, "another account's challenge"),
    ] {
        assert_eq!(
            ok(
                store
                    .find_challenge(&challenge.digest, challenge.purpose, now)
                    .await,
                "find_challenge"
            )
            .is_some(),
            kept,
            "after delete_challenges, {what} must {}",
            if kept { "remain" } else { "be gone" }
        );
    }
    assert_eq!(
        ok(
            store.delete_challenges(alice.id, RESET).await,
            "delete_challenges"
        ),
        0,
        "a second delete_challenges must find nothing to delete"
    );
}

/// `purge_expired_challenges` deletes the challenges that expired (of an account or of
/// none), counts them, and keeps the live ones.
pub async fn challenge_purge_expired(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let expiring = |secs: i64, account| Challenge {
        account_id: account,
        expires_at: time(secs),
        ..fixtures::challenge(alice.id, RESET)
    };
    let expired = [
        expiring(100, Some(alice.id)),
        expiring(200, Some(alice.id)),
        expiring(50, None),
    ];
    let live = expiring(10_000, Some(alice.id));
    for challenge in expired.iter().chain([&live]) {
        ok(
            store.insert_challenge(challenge, false).await,
            "insert_challenge",
        );
    }

    let now = time(300);
    assert_eq!(
        ok(
            store.purge_expired_challenges(now).await,
            "purge_expired_challenges"
        ),
        3,
        "purge_expired_challenges must count the expired challenges"
    );
    assert_eq!(
        ok(
            store.find_challenge(&live.digest, RESET, now).await,
            "find_challenge"
        ),
        Some(live),
        "purge_expired_challenges must keep live challenges"
    );
    for challenge in &expired {
        assert_eq!(
            ok(
                store
                    .consume_challenge(&challenge.digest, RESET, time(0))
                    .await,
                "consume_challenge"
            ),
            None,
            "purge_expired_challenges must delete expired challenges (asked for at a time \
             before their expiry, they must be gone)"
        );
    }
    assert_eq!(
        ok(
            store.purge_expired_challenges(now).await,
            "purge_expired_challenges"
        ),
        0,
        "a second purge_expired_challenges must find nothing left to delete"
    );
}

/// Whether `find_challenge` finds the challenge at `now`.
async fn is_stored(store: &dyn Store, challenge: &Challenge, now: DateTime<Utc>) -> bool {
    ok(
        store
            .find_challenge(&challenge.digest, challenge.purpose, now)
            .await,
        "find_challenge",
    )
    .is_some()
}
