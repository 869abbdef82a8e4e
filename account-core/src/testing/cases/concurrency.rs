//! The atomic operations under contention.
//!
//! Each case starts its tasks with [`tokio::spawn`] behind one
//! [`Barrier`](tokio::sync::Barrier), so on a multi-threaded runtime they reach the store
//! at the same moment, and then checks that
//! exactly the outcomes the trait promises happened: one winner where there may be only
//! one, no lost update where every call must count.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{assert_conflict, ok, together};
use crate::model::{
    AssuranceLevel, AuthMethod, Authentication, ChallengePurpose, FailureKind, SessionRotation,
};
use crate::store::{Conflict, Store};
use crate::testing::fixtures::{self, email, time, username};

/// 20 concurrent `consume_challenge` calls of one reset challenge: exactly one gets it.
pub async fn concurrent_consume_challenge(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let challenge =
        fixtures::insert_challenge(&*store, alice.id, ChallengePurpose::PasswordReset).await;

    let results = together(20, |_| {
        let store = Arc::clone(&store);
        let digest = challenge.digest;
        async move {
            store
                .consume_challenge(&digest, ChallengePurpose::PasswordReset, time(60))
                .await
        }
    })
    .await;
    let winners: Vec<_> = results
        .into_iter()
        .filter_map(|r| ok(r, "consume_challenge"))
        .collect();
    assert_eq!(
        winners,
        vec![challenge],
        "of 20 concurrent consume_challenge calls of one challenge exactly one must get it"
    );
}

/// 50 concurrent `record_failure` calls on one counter: none is lost, each sees a
/// different count, and together they saw exactly 1 to 50.
pub async fn concurrent_record_failure(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    let results = together(50, |_| {
        let store = Arc::clone(&store);
        async move {
            store
                .record_failure(alice.id, FailureKind::Password, time(60))
                .await
        }
    })
    .await;
    let counts: BTreeSet<u32> = results
        .into_iter()
        .map(|r| ok(r, "record_failure").count)
        .collect();
    assert_eq!(
        counts,
        (1..=50).collect::<BTreeSet<u32>>(),
        "50 concurrent record_failure calls must return the counts 1 to 50, each once"
    );
    assert_eq!(
        ok(
            store.failures(alice.id, FailureKind::Password).await,
            "failures"
        )
        .count,
        50,
        "after 50 concurrent record_failure calls the counter must be 50"
    );
}

/// 20 concurrent `rotate_session` calls from the same current digest: exactly one
/// happens, and its digest is the only one that finds the session.
pub async fn concurrent_rotate_session(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let session = fixtures::insert_session(&*store, alice.id, time(0)).await;
    let rotations: Vec<SessionRotation> = (0..20)
        .map(|i| SessionRotation {
            token_digest: fixtures::digest(),
            authentications: vec![Authentication {
                method: AuthMethod::Password,
                at: time(i),
            }],
            assurance: AssuranceLevel::One,
            stage: crate::model::SessionStage::Full,
            at: time(60 + i),
        })
        .collect();

    let results = together(rotations.len(), |i| {
        let store = Arc::clone(&store);
        let rotation = rotations[i].clone();
        let current = session.token_digest;
        async move { store.rotate_session(session.id, &current, &rotation).await }
    })
    .await;
    let winners: Vec<usize> = results
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| ok(r, "rotate_session").then_some(i))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "of 20 concurrent rotate_session calls from one digest exactly one must happen, \
         but {} did",
        winners.len()
    );
    let winner = &rotations[winners[0]];
    for (i, rotation) in rotations.iter().enumerate() {
        let found = ok(
            store.session_by_token(&rotation.token_digest).await,
            "session_by_token",
        );
        if i == winners[0] {
            let found = found.expect("the winning rotation's digest must find the session");
            assert_eq!(
                (found.id, &found.authentications, found.last_seen_at),
                (session.id, &winner.authentications, winner.at),
                "the session must carry the winning rotation's state"
            );
        } else {
            assert!(
                found.is_none(),
                "a losing rotation's digest must find nothing"
            );
        }
    }
    assert!(
        ok(
            store.session_by_token(&session.token_digest).await,
            "session_by_token"
        )
        .is_none(),
        "after the rotation the old digest must find nothing"
    );
}

/// 10 concurrent `insert_account` calls with the same username and different addresses:
/// exactly one succeeds, the others fail with [`Conflict::Username`] and leave nothing.
pub async fn concurrent_insert_account_same_username(store: Arc<dyn Store>) {
    let accounts: Vec<_> = (0..10)
        .map(|i| fixtures::new_account("alice", &format!("alice{i}@example.com")))
        .collect();

    let results = together(accounts.len(), |i| {
        let store = Arc::clone(&store);
        let new = accounts[i].clone();
        async move { store.insert_account(&new).await }
    })
    .await;
    let mut winner = None;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(()) => {
                assert!(
                    winner.is_none(),
                    "of 10 concurrent insert_account calls with one username only one may \
                     succeed"
                );
                winner = Some(i);
            }
            Err(_) => assert_conflict(
                result,
                Conflict::Username,
                "a losing concurrent insert_account with a taken username",
            ),
        }
    }
    let winner = winner.expect("one of 10 concurrent insert_account calls must succeed");
    assert_eq!(
        ok(
            store.account_by_username(&username("alice")).await,
            "account_by_username"
        )
        .map(|a| a.id),
        Some(accounts[winner].account.id),
        "the username must find the account that won"
    );
    for (i, new) in accounts.iter().enumerate().filter(|(i, _)| *i != winner) {
        assert_eq!(
            ok(
                store.account_by_email(&new.account.email).await,
                "account_by_email"
            ),
            None,
            "the address of losing insert_account call {i} must not be taken"
        );
    }
}

/// 10 concurrent `insert_account` calls with one address in different cases and
/// different usernames: exactly one succeeds, the others fail with [`Conflict::Email`].
pub async fn concurrent_insert_account_same_email(store: Arc<dyn Store>) {
    let addresses = [
        "alice@example.com",
        "Alice@example.com",
        "ALICE@example.com",
        "aLice@Example.com",
        "alIce@example.COM",
        "aliCe@example.com",
        "alicE@example.com",
        "ALIce@example.com",
        "aliCE@EXAMPLE.com",
        "AlIcE@example.com",
    ];
    let accounts: Vec<_> = addresses
        .iter()
        .enumerate()
        .map(|(i, address)| fixtures::new_account(&format!("user{i}"), address))
        .collect();

    let results = together(accounts.len(), |i| {
        let store = Arc::clone(&store);
        let new = accounts[i].clone();
        async move { store.insert_account(&new).await }
    })
    .await;
    let mut winners = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(()) => winners.push(i),
            Err(_) => assert_conflict(
                result,
                Conflict::Email,
                "a losing concurrent insert_account with a taken address",
            ),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "of 10 concurrent insert_account calls with one address exactly one must succeed"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("alice@example.com")).await,
            "account_by_email"
        )
        .map(|a| a.id),
        Some(accounts[winners[0]].account.id),
        "the address must find the account that won"
    );
}

/// 10 concurrent `set_password_hash` calls from the account's stamp (ten resets with one
/// link, ten password changes from one read): exactly one sets its hash and stamp.
pub async fn concurrent_set_password_hash(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let id = alice.id;
    let current = alice.security_stamp.clone();
    let changes: Vec<_> = (0..10)
        .map(|_| (fixtures::password_hash(), fixtures::stamp()))
        .collect();
    let results = together(changes.len(), |i| {
        let store = Arc::clone(&store);
        let current = current.clone();
        let (hash, stamp) = changes[i].clone();
        async move {
            store
                .set_password_hash(id, &hash, &stamp, &current, None, time(60))
                .await
        }
    })
    .await;
    let winners: Vec<usize> = results
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| ok(r, "set_password_hash").then_some(i))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "of 10 concurrent set_password_hash calls from one stamp exactly one must happen, \
         got {winners:?}"
    );
    let (hash, stamp) = &changes[winners[0]];
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash").as_ref(),
        Some(hash),
        "the stored hash must be the winner's"
    );
    assert_eq!(
        ok(store.account_by_id(id).await, "account_by_id").map(|a| a.security_stamp),
        Some(stamp.clone()),
        "the stored stamp must be the winner's, with its hash"
    );
}

/// 10 concurrent `upgrade_password_hash` calls from the same current hash: exactly one
/// swaps, and the stored hash is its.
pub async fn concurrent_upgrade_password_hash(store: Arc<dyn Store>) {
    let alice = fixtures::new_account("alice", "alice@example.com");
    ok(store.insert_account(&alice).await, "insert_account");
    let id = alice.account.id;
    let current = alice
        .password_hash
        .clone()
        .expect("fixture accounts have a password");
    let upgrades: Vec<_> = (0..10).map(|_| fixtures::password_hash()).collect();

    let results = together(upgrades.len(), |i| {
        let store = Arc::clone(&store);
        let current = current.clone();
        let upgraded = upgrades[i].clone();
        async move { store.upgrade_password_hash(id, &current, &upgraded).await }
    })
    .await;
    let winners: Vec<usize> = results
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| ok(r, "upgrade_password_hash").then_some(i))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "of 10 concurrent upgrade_password_hash calls from one hash exactly one must swap, \
         but {} did",
        winners.len()
    );
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        Some(upgrades[winners[0]].clone()),
        "the stored hash must be the winning upgrade's"
    );
}
