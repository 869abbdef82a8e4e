//! Cases for [`CredentialStore`](crate::store::CredentialStore).

use std::sync::Arc;

use super::ok;
use crate::store::Store;
use crate::testing::fixtures::{self, time};

/// `set_password_hash` replaces the hash and the security stamp together (and gives an
/// account without a password one); `password_hash` reads it back; an unknown account
/// answers `false` and has no hash.
pub async fn password_set_and_read(store: Arc<dyn Store>) {
    let alice = fixtures::new_account("alice", "alice@example.com");
    ok(store.insert_account(&alice).await, "insert_account");
    let id = alice.account.id;
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        alice.password_hash,
        "password_hash must read back the hash inserted with the account"
    );

    let hash = fixtures::password_hash();
    let stamp = fixtures::stamp();
    assert!(
        ok(
            store.set_password_hash(id, &hash, &stamp, time(60)).await,
            "set_password_hash"
        ),
        "set_password_hash of an existing account must answer true"
    );
    assert_eq!(
        ok(store.password_hash(id).await, "password_hash"),
        Some(hash),
        "set_password_hash must store the new hash"
    );
    let account = ok(store.account_by_id(id).await, "account_by_id").expect("account exists");
    assert_eq!(
        account.security_stamp, stamp,
        "set_password_hash must store the new security stamp with the hash"
    );
    assert_ne!(account.security_stamp, alice.account.security_stamp);

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
                .set_password_hash(bob.account.id, &hash, &fixtures::stamp(), time(60))
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
