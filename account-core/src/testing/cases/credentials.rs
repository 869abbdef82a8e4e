//! Cases for [`CredentialStore`](crate::store::CredentialStore).

use std::sync::Arc;

use super::ok;
use crate::store::Store;
use crate::testing::fixtures::{self, time};

/// `set_password_hash` replaces the hash and the security stamp together (and gives an
/// account without a password one) and ends every session of the account but the one
/// kept, in the same step; `password_hash` reads it back. From a stamp that is no longer
/// the account's, or for an unknown account, it answers `false` and changes nothing.
pub async fn password_set_and_read(store: Arc<dyn Store>) {
    let alice = fixtures::new_account("alice", "alice@example.com");
    ok(store.insert_account(&alice).await, "insert_account");
    let id = alice.account.id;
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        alice.password_hash,
        "password_hash must read back the hash inserted with the account"
    );
    let kept = fixtures::insert_session(&*store, id, time(1)).await;
    let other = fixtures::insert_session(&*store, id, time(2)).await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;
    let carols = fixtures::insert_session(&*store, carol.id, time(3)).await;

    let hash = fixtures::password_hash();
    let stamp = fixtures::stamp();
    let current = alice.account.security_stamp.clone();
    assert!(
        ok(
            store
                .set_password_hash(id, &hash, &stamp, &current, Some(kept.id), time(60))
                .await,
            "set_password_hash"
        ),
        "set_password_hash of an existing account from its stamp must answer true"
    );
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        Some(hash.clone()),
        "set_password_hash must store the new hash"
    );
    let account = ok(store.account_by_id(id).await, "account_by_id").expect("account exists");
    assert_eq!(
        account.security_stamp, stamp,
        "set_password_hash must store the new security stamp with the hash"
    );
    assert_ne!(account.security_stamp, alice.account.security_stamp);
    let left: Vec<_> = ok(store.sessions_of(id).await, "sessions_of")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        left,
        vec![kept.id],
        "set_password_hash must end every session of the account but the one kept ({:?} \
         ended)",
        other.id
    );
    assert_eq!(
        ok(store.sessions_of(carol.id).await, "sessions_of").len(),
        1,
        "set_password_hash must not end another account's sessions ({:?})",
        carols.id
    );

    let stale = fixtures::password_hash();
    assert!(
        !ok(
            store
                .set_password_hash(id, &stale, &fixtures::stamp(), &current, None, time(70))
                .await,
            "set_password_hash"
        ),
        "set_password_hash from a stamp that is no longer the account's must answer false"
    );
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        Some(hash),
        "set_password_hash from a stale stamp must not change the hash"
    );
    assert_eq!(
        ok(store.account_by_id(id).await, "account_by_id").map(|a| a.security_stamp),
        Some(stamp.clone()),
        "set_password_hash from a stale stamp must not change the stamp"
    );
    assert_eq!(
        ok(store.sessions_of(id).await, "sessions_of").len(),
        1,
        "set_password_hash from a stale stamp must not end any session"
    );
    assert!(
        ok(
            store
                .set_password_hash(id, &stale, &fixtures::stamp(), &stamp, None, time(80))
                .await,
            "set_password_hash"
        ),
        "set_password_hash from the new stamp must answer true"
    );
    assert!(
        ok(store.sessions_of(id).await, "sessions_of").is_empty(),
        "set_password_hash with no session kept must end them all"
    );

    let mut bob = fixtures::new_account("bob", "bob@example.com");
    bob.password_hash = None;
    ok(store.insert_account(&bob).await, "insert_account");
    assert_eq!(
        ok(store.password_hash(bob.account.id).await, "password_hash"),
        None,
        "an account inserted without a password has no hash"
    );
    let hash = fixtures::password_hash();
    assert!(
        ok(
            store
                .set_password_hash(
                    bob.account.id,
                    &hash,
                    &fixtures::stamp(),
                    &bob.account.security_stamp,
                    None,
                    time(60)
                )
                .await,
            "set_password_hash"
        ),
        "set_password_hash of an account without a password must answer true"
    );
    assert_eq!(
        ok(store.password_hash(bob.account.id).await, "password_hash"),
        Some(hash),
        "set_password_hash must give an account without a password one"
    );

    let unknown = fixtures::account_id();
    assert!(
        !ok(
            store
                .set_password_hash(
                    unknown,
                    &fixtures::password_hash(),
                    &fixtures::stamp(),
                    &fixtures::stamp(),
                    None,
                    time(60)
                )
                .await,
            "set_password_hash"
        ),
        "set_password_hash of an unknown account must answer false"
    );
    assert_eq!(
        ok(store.password_hash(unknown).await, "password_hash"),
        None,
        "an unknown account has no hash"
    );
}

/// `upgrade_password_hash` swaps the hash only while it is still the one read, and keeps
/// the security stamp; a stale hash, an account without a password and an unknown
/// account all answer `false` and change nothing.
pub async fn password_upgrade(store: Arc<dyn Store>) {
    let alice = fixtures::new_account("alice", "alice@example.com");
    ok(store.insert_account(&alice).await, "insert_account");
    let id = alice.account.id;
    let original = alice
        .password_hash
        .clone()
        .expect("fixture accounts have a password");

    let upgraded = fixtures::password_hash();
    assert!(
        ok(
            store.upgrade_password_hash(id, &original, &upgraded).await,
            "upgrade_password_hash"
        ),
        "upgrade_password_hash from the current hash must answer true"
    );
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        Some(upgraded.clone()),
        "upgrade_password_hash must store the upgraded hash"
    );
    assert_eq!(
        ok(store.account_by_id(id).await, "account_by_id"),
        Some(alice.account.clone()),
        "upgrade_password_hash must keep the security stamp (and every other field)"
    );

    let late = fixtures::password_hash();
    assert!(
        !ok(
            store.upgrade_password_hash(id, &original, &late).await,
            "upgrade_password_hash"
        ),
        "upgrade_password_hash from a stale hash must answer false"
    );
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        Some(upgraded),
        "upgrade_password_hash from a stale hash must not change the hash"
    );

    let mut bob = fixtures::new_account("bob", "bob@example.com");
    bob.password_hash = None;
    ok(store.insert_account(&bob).await, "insert_account");
    assert!(
        !ok(
            store
                .upgrade_password_hash(bob.account.id, &original, &late)
                .await,
            "upgrade_password_hash"
        ),
        "upgrade_password_hash of an account without a password must answer false"
    );
    assert_eq!(
        ok(store.password_hash(bob.account.id).await, "password_hash"),
        None,
        "upgrade_password_hash must not give an account without a password one"
    );
    assert!(
        !ok(
            store
                .upgrade_password_hash(fixtures::account_id(), &original, &late)
                .await,
            "upgrade_password_hash"
        ),
        "upgrade_password_hash of an unknown account must answer false"
    );
}
