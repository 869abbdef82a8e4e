//! Cases for [`AccountStore`](crate::store::AccountStore).

use std::sync::Arc;

use super::{assert_conflict, ok};
use crate::avatar::{Avatar, ImageType};
use crate::domain::Language;
use chrono::{DateTime, Utc};

use crate::model::{Account, AccountId, AccountSource, AccountState, ProfileChange, Role};
use crate::store::{Conflict, Store};
use crate::testing::fixtures::{self, email, time, time_ms, username};

/// Inserts two accounts, one with every optional field set and one with none, and reads
/// each back by id, by username and by address (in any case) with every field intact,
/// together with its password hash or the lack of one.
pub async fn account_insert_and_read_back(store: Arc<dyn Store>) {
    let mut alice = fixtures::new_account("alice", "Alice@Example.com");
    alice.account.display_name = fixtures::display_name("Alice Ó Súilleabháin 🦀 \"Al\"");
    alice.account.email_verified = true;
    alice.account.recovery_email = Some(email("Alice.Backup@example.org"));
    alice.account.language = Some(Language::parse("zh-Hant-TW").expect("valid tag"));
    alice.account.source = AccountSource::External {
        directory: "corp-ldap".to_owned(),
    };
    alice.account.role = Role::Admin;
    alice.account.created_at = time_ms(1_234);
    alice.account.updated_at = time_ms(5_678);
    ok(store.insert_account(&alice).await, "insert_account(alice)");

    let mut bob = fixtures::new_account("bob.smith-2", "bob@example.com");
    bob.account.state = AccountState::Disabled;
    bob.password_hash = None;
    ok(store.insert_account(&bob).await, "insert_account(bob)");

    for new in [&alice, &bob] {
        let want = Some(new.account.clone());
        let name = new.account.username.as_str();
        assert_eq!(
            ok(store.account_by_id(new.account.id).await, "account_by_id"),
            want,
            "account_by_id must read back every field of {name}"
        );
        assert_eq!(
            ok(
                store.account_by_username(&new.account.username).await,
                "account_by_username"
            ),
            want,
            "account_by_username must find {name}"
        );
        assert_eq!(
            ok(
                store.account_by_email(&new.account.email).await,
                "account_by_email"
            ),
            want,
            "account_by_email must find {name} by the address as stored"
        );
        assert_eq!(
            ok(store.password_hash(new.account.id).await, "password_hash"),
            new.password_hash,
            "password_hash must read back the hash inserted with {name}"
        );
    }

    for other_case in [
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "aLiCe@eXample.Com",
    ] {
        let found = ok(
            store.account_by_email(&email(other_case)).await,
            "account_by_email",
        );
        assert_eq!(
            found.map(|a| a.id),
            Some(alice.account.id),
            "account_by_email({other_case:?}) must find the account of Alice@Example.com: \
             addresses are compared by lookup key, ignoring case"
        );
        assert_eq!(
            ok(store.account_by_id(alice.account.id).await, "account_by_id")
                .map(|a| a.email.as_str().to_owned()),
            Some("Alice@example.com".to_owned()),
            "the address keeps the case it was stored in"
        );
    }
}

/// Lookups of ids, usernames and addresses that no account has find nothing, in an empty
/// store and in one with an account; a recovery address is not a login address.
pub async fn account_unknown_lookups_find_nothing(store: Arc<dyn Store>) {
    assert_none(
        ok(
            store.account_by_id(fixtures::account_id()).await,
            "account_by_id",
        ),
        "account_by_id in an empty store",
    );
    assert_none(
        ok(
            store.account_by_username(&username("alice")).await,
            "account_by_username",
        ),
        "account_by_username in an empty store",
    );
    assert_none(
        ok(
            store.account_by_email(&email("alice@example.com")).await,
            "account_by_email",
        ),
        "account_by_email in an empty store",
    );

    let mut alice = fixtures::new_account("alice", "alice@example.com");
    alice.account.recovery_email = Some(email("alice@backup.example.org"));
    ok(store.insert_account(&alice).await, "insert_account");

    assert_none(
        ok(
            store.account_by_id(fixtures::account_id()).await,
            "account_by_id",
        ),
        "account_by_id of an unknown id",
    );
    assert_none(
        ok(
            store.account_by_username(&username("alice2")).await,
            "account_by_username",
        ),
        "account_by_username(\"alice2\")",
    );
    assert_none(
        ok(
            store.account_by_email(&email("alice@example.net")).await,
            "account_by_email",
        ),
        "account_by_email(\"alice@example.net\")",
    );
    assert_none(
        ok(
            store
                .account_by_email(&email("alice@backup.example.org"))
                .await,
            "account_by_email",
        ),
        "account_by_email of a recovery address",
    );
    assert_eq!(
        ok(
            store.password_hash(fixtures::account_id()).await,
            "password_hash"
        ),
        None,
        "password_hash of an unknown account must be None"
    );
}

/// A second account with a taken username fails with [`Conflict::Username`] and leaves
/// nothing behind: not its id, not its address.
pub async fn account_insert_conflict_username(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    // Usernames are folded to lowercase when parsed, so "ALICE" is the same name.
    let dup = fixtures::new_account("ALICE", "other@example.com");
    assert_conflict(
        store.insert_account(&dup).await,
        Conflict::Username,
        "insert_account with a taken username",
    );
    assert_eq!(
        ok(store.account_by_id(dup.account.id).await, "account_by_id"),
        None,
        "a refused insert_account must not store the account"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("other@example.com")).await,
            "account_by_email"
        ),
        None,
        "a refused insert_account must not take the address"
    );
    assert_eq!(
        ok(
            store.account_by_username(&username("alice")).await,
            "account_by_username"
        ),
        Some(alice),
        "the first account must be unchanged"
    );
    let carol = fixtures::new_account("carol", "other@example.com");
    ok(
        store.insert_account(&carol).await,
        "insert_account with the address of an earlier refused insert",
    );
}

/// A second account with another account's address, in another case, fails with
/// [`Conflict::Email`] and leaves nothing behind: its username stays free.
pub async fn account_insert_conflict_email(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "Alice@Example.com").await;

    let dup = fixtures::new_account("bob", "aLiCe@example.COM");
    assert_conflict(
        store.insert_account(&dup).await,
        Conflict::Email,
        "insert_account with another account's address in another case",
    );
    assert_eq!(
        ok(store.account_by_id(dup.account.id).await, "account_by_id"),
        None,
        "a refused insert_account must not store the account"
    );
    assert_eq!(
        ok(
            store.account_by_username(&username("bob")).await,
            "account_by_username"
        ),
        None,
        "a refused insert_account must not store the username"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("alice@example.com")).await,
            "account_by_email"
        ),
        Some(alice),
        "the address must still find the first account"
    );
    let bob = fixtures::new_account("bob", "bob@example.com");
    ok(
        store.insert_account(&bob).await,
        "insert_account with the username of an earlier refused insert (a refused insert \
         must not take the username for ever)",
    );
}

/// A second account with a taken id fails with [`Conflict::Id`] and leaves nothing
/// behind.
pub async fn account_insert_conflict_id(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    let mut dup = fixtures::new_account("bob", "bob@example.com");
    dup.account.id = alice.id;
    assert_conflict(
        store.insert_account(&dup).await,
        Conflict::Id,
        "insert_account with a taken id",
    );
    assert_eq!(
        ok(store.account_by_id(alice.id).await, "account_by_id"),
        Some(alice),
        "the first account must be unchanged"
    );
    assert_eq!(
        ok(
            store.account_by_username(&username("bob")).await,
            "account_by_username"
        ),
        None,
        "a refused insert_account must not store the username"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("bob@example.com")).await,
            "account_by_email"
        ),
        None,
        "a refused insert_account must not take the address"
    );
    ok(
        store
            .insert_account(&fixtures::new_account("bob", "bob@example.com"))
            .await,
        "insert_account with the username and address of an earlier refused insert",
    );
}

/// `update_profile` changes exactly the fields that are `Some` (a language is set and
/// cleared with `Some(None)`), sets `updated_at`, returns the account as stored, and
/// answers `None` for an unknown account.
pub async fn account_update_profile(store: Arc<dyn Store>) {
    let mut want = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    let check = |want: &Account, got: Option<Account>, what: &str| {
        assert_eq!(
            got.as_ref(),
            Some(want),
            "update_profile {what}: returned account"
        );
    };

    let name = fixtures::display_name("Alice Liddell");
    let change = ProfileChange {
        display_name: Some(name.clone()),
        language: None,
    };
    let got = ok(
        store.update_profile(want.id, &change, time(60)).await,
        "update_profile",
    );
    want.display_name = name;
    want.updated_at = time(60);
    check(&want, got, "of the display name only");

    let language = Language::parse("fr-CA").expect("valid tag");
    let change = ProfileChange {
        display_name: None,
        language: Some(Some(language.clone())),
    };
    let got = ok(
        store.update_profile(want.id, &change, time(120)).await,
        "update_profile",
    );
    want.language = Some(language);
    want.updated_at = time(120);
    check(
        &want,
        got,
        "setting the language (the display name must stay)",
    );

    let change = ProfileChange {
        display_name: None,
        language: Some(None),
    };
    let got = ok(
        store.update_profile(want.id, &change, time(180)).await,
        "update_profile",
    );
    want.language = None;
    want.updated_at = time(180);
    check(&want, got, "clearing the language with Some(None)");

    assert_eq!(
        ok(store.account_by_id(want.id).await, "account_by_id"),
        Some(want),
        "account_by_id after update_profile must show the changes"
    );
    let change = ProfileChange {
        display_name: Some(fixtures::display_name("Nobody")),
        language: None,
    };
    assert_eq!(
        ok(
            store
                .update_profile(fixtures::account_id(), &change, time(240))
                .await,
            "update_profile"
        ),
        None,
        "update_profile of an unknown account must answer None"
    );
}

/// `set_email` replaces the primary address and its verified flag: the new address finds
/// the account in any case, the old one finds nothing and is free for another account,
/// the account's own address in another case is accepted, and an unknown account answers
/// `false`.
pub async fn account_set_email(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    let new = email("Alice.New@Example.org");
    assert!(
        ok(
            store.set_email(alice.id, &new, true, time(60)).await,
            "set_email"
        ),
        "set_email of an existing account must answer true"
    );
    let got = ok(store.account_by_id(alice.id).await, "account_by_id").expect("account exists");
    assert_eq!(got.email, new, "set_email must store the address");
    assert!(
        got.email_verified,
        "set_email(verified = true) must store the flag"
    );
    assert_eq!(
        ok(
            store
                .account_by_email(&email("alice.new@example.org"))
                .await,
            "account_by_email"
        )
        .map(|a| a.id),
        Some(alice.id),
        "account_by_email must find the account by its new address, in any case"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("alice@example.com")).await,
            "account_by_email"
        ),
        None,
        "account_by_email must not find the account by its old address"
    );

    let same_in_other_case = email("ALICE.NEW@example.org");
    assert!(
        ok(
            store
                .set_email(alice.id, &same_in_other_case, false, time(120))
                .await,
            "set_email to the account's own address in another case (not a conflict)"
        ),
        "set_email of an existing account must answer true"
    );
    let got = ok(store.account_by_id(alice.id).await, "account_by_id").expect("account exists");
    assert_eq!(
        got.email, same_in_other_case,
        "set_email must store the address as given"
    );
    assert!(
        !got.email_verified,
        "set_email(verified = false) must store the flag"
    );

    ok(
        store
            .insert_account(&fixtures::new_account("bob", "alice@example.com"))
            .await,
        "insert_account with an address another account gave up",
    );
    assert!(
        !ok(
            store
                .set_email(
                    fixtures::account_id(),
                    &email("x@example.com"),
                    true,
                    time(180)
                )
                .await,
            "set_email"
        ),
        "set_email of an unknown account must answer false"
    );
}

/// `set_email` to another account's address, in another case, fails with
/// [`Conflict::Email`] and changes nothing.
pub async fn account_set_email_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    assert_conflict(
        store
            .set_email(bob.id, &email("ALICE@example.com"), true, time(60))
            .await,
        Conflict::Email,
        "set_email to another account's address",
    );
    assert_eq!(
        ok(store.account_by_id(bob.id).await, "account_by_id"),
        Some(bob.clone()),
        "a refused set_email must leave the account unchanged"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("alice@example.com")).await,
            "account_by_email"
        ),
        Some(alice),
        "the address must still find its owner"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("bob@example.com")).await,
            "account_by_email"
        ),
        Some(bob),
        "the refused account's own address must still find it"
    );
}

/// `set_recovery_email` sets and clears the recovery address without touching the
/// primary one; an unknown account answers `false`.
pub async fn account_set_recovery_email(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    let recovery = email("Alice.Backup@Example.net");
    assert!(
        ok(
            store
                .set_recovery_email(alice.id, Some(&recovery), time(60))
                .await,
            "set_recovery_email"
        ),
        "set_recovery_email of an existing account must answer true"
    );
    let got = ok(store.account_by_id(alice.id).await, "account_by_id").expect("account exists");
    assert_eq!(
        got.recovery_email,
        Some(recovery),
        "set_recovery_email must store the address as given"
    );
    assert_eq!(
        got.email, alice.email,
        "the primary address must not change"
    );

    assert!(
        ok(
            store.set_recovery_email(alice.id, None, time(120)).await,
            "set_recovery_email(None)"
        ),
        "set_recovery_email of an existing account must answer true"
    );
    let got = ok(store.account_by_id(alice.id).await, "account_by_id").expect("account exists");
    assert_eq!(
        got.recovery_email, None,
        "set_recovery_email(None) must clear it"
    );
    assert!(
        !ok(
            store
                .set_recovery_email(fixtures::account_id(), None, time(180))
                .await,
            "set_recovery_email"
        ),
        "set_recovery_email of an unknown account must answer false"
    );
}

/// `set_avatar` stores, replaces and removes an avatar (every byte value round-trips),
/// keeps `avatar_updated_at` in step (`None` without an avatar), and touches no other
/// account; an unknown account answers `false` and has no avatar.
pub async fn account_avatar(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    check_avatar(&*store, alice.id, None, None, "inserting the account").await;

    let png = Avatar {
        image_type: ImageType::Png,
        bytes: (0..=255u8).chain((0..=255u8).rev()).collect(),
    };
    assert!(
        ok(
            store.set_avatar(alice.id, Some(&png), time(60)).await,
            "set_avatar"
        ),
        "set_avatar of an existing account must answer true"
    );
    check_avatar(&*store, alice.id, Some(&png), Some(time(60)), "set_avatar").await;

    let webp = Avatar {
        image_type: ImageType::WebP,
        bytes: b"RIFF\0\0\0\0WEBPVP8 ".to_vec(),
    };
    assert!(
        ok(
            store.set_avatar(alice.id, Some(&webp), time(120)).await,
            "set_avatar"
        ),
        "set_avatar of an existing account must answer true"
    );
    check_avatar(
        &*store,
        alice.id,
        Some(&webp),
        Some(time(120)),
        "replacing it",
    )
    .await;
    assert!(
        ok(store.avatar(bob.id).await, "avatar").is_none(),
        "setting one account's avatar must not give another one"
    );

    assert!(
        ok(
            store.set_avatar(alice.id, None, time(180)).await,
            "set_avatar(None)"
        ),
        "set_avatar of an existing account must answer true"
    );
    check_avatar(&*store, alice.id, None, None, "removing it").await;

    let unknown = fixtures::account_id();
    assert!(
        !ok(
            store.set_avatar(unknown, Some(&png), time(240)).await,
            "set_avatar"
        ),
        "set_avatar of an unknown account must answer false"
    );
    assert!(
        ok(store.avatar(unknown).await, "avatar").is_none(),
        "an unknown account has no avatar"
    );
}

#[track_caller]
fn assert_none(found: Option<Account>, what: &str) {
    assert_eq!(found, None, "{what} must find nothing");
}

async fn check_avatar(
    store: &dyn Store,
    id: AccountId,
    want: Option<&Avatar>,
    updated: Option<DateTime<Utc>>,
    what: &str,
) {
    let got = ok(store.avatar(id).await, "avatar");
    assert_eq!(
        got.as_ref().map(|a| (&a.image_type, a.bytes.as_slice())),
        want.map(|a| (&a.image_type, a.bytes.as_slice())),
        "avatar after {what}: image type and every byte must round-trip"
    );
    let account = ok(store.account_by_id(id).await, "account_by_id").expect("account exists");
    assert_eq!(
        account.avatar_updated_at, updated,
        "avatar_updated_at after {what}"
    );
}
