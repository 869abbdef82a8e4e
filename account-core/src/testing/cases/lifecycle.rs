//! Cases for an account's lifecycle: an administrator's changes
//! ([`change_account`](crate::store::AccountStore::change_account)), deletion
//! ([`delete_account`](crate::store::AccountStore::delete_account)), the list of accounts
//! ([`list_accounts`](crate::store::AccountStore::list_accounts)), the rule that no row is
//! added to an account that is gone, and the security log of every account.

use std::sync::Arc;

use super::events::first_page;
use super::{assert_conflict, ok, together};
use crate::avatar::{Avatar, ImageType};
use crate::model::{
    Account, AccountChange, AccountId, AccountQuery, AccountRemoval, AccountSource, AccountState,
    AccountUpdate, AssuranceLevel, AuthMethod, Authentication, ChallengePurpose, EventFilter,
    EventPage, FailureKind, LimitedInsert, Role, SecurityEvent, SecurityEventKind, SessionRotation,
    SessionStage, SourceKind,
};
use crate::store::{Conflict, Store, StoreError, StoreResult};
use crate::testing::fixtures::{self, display_name, email, time};

/// The deletion record of `account`, as a service makes it: no address, no user agent.
fn deletion_record(account: &Account, at: i64) -> SecurityEvent {
    SecurityEvent {
        ip: None,
        user_agent: None,
        details: [
            ("username".to_owned(), account.username.as_str().to_owned()),
            ("by".to_owned(), "self".to_owned()),
        ]
        .into(),
        ..fixtures::event(account.id, time(at), SecurityEventKind::AccountDeleted)
    }
}

/// An account of `role` inserted at `secs` after the base time.
async fn insert_at(store: &dyn Store, name: &str, secs: i64, role: Role) -> Account {
    let mut new = fixtures::new_account(name, &format!("{name}@example.com"));
    new.account.created_at = time(secs);
    new.account.updated_at = time(secs);
    new.account.role = role;
    new.account.id = AccountId::generate(time(secs), &crate::random::OsRandom);
    ok(store.insert_account(&new).await, "insert_account");
    new.account
}

fn changed(update: AccountUpdate, what: &str) -> (Account, u64) {
    match update {
        AccountUpdate::Changed {
            account,
            sessions_ended,
        } => (*account, sessions_ended),
        other => panic!("{what}: expected AccountUpdate::Changed, got {other:?}"),
    }
}

fn state(to: AccountState) -> AccountChange {
    AccountChange {
        state: Some(to),
        ..AccountChange::default()
    }
}

fn role(to: Role) -> AccountChange {
    AccountChange {
        role: Some(to),
        ..AccountChange::default()
    }
}

/// `change_account` changes exactly the fields given (a new address unverified, found by
/// its lookup key, the old one free), sets `updated_at`, and answers `NotFound` for an
/// unknown account.
pub async fn account_change_fields(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let change = AccountChange {
        display_name: Some(display_name("Alice Ünal")),
        email: Some(email("Alice.New@Example.com")),
        role: Some(Role::Admin),
        state: None,
    };
    let (after, ended) = changed(
        ok(
            store.change_account(alice.id, &change, time(90)).await,
            "change_account",
        ),
        "change_account of an existing account",
    );
    let want = Account {
        display_name: display_name("Alice Ünal"),
        email: email("Alice.New@Example.com"),
        email_verified: false,
        role: Role::Admin,
        updated_at: time(90),
        ..alice.clone()
    };
    assert_eq!(
        after, want,
        "change_account must return the account as changed"
    );
    assert_eq!(ended, 0, "a change that does not disable ends no session");
    assert_eq!(
        ok(store.account_by_id(alice.id).await, "account_by_id"),
        Some(want.clone()),
        "change_account must store exactly the fields given"
    );
    assert_eq!(
        ok(
            store
                .account_by_email(&email("alice.new@example.COM"))
                .await,
            "account_by_email"
        ),
        Some(want),
        "the new address must be found by its lookup key"
    );
    assert_eq!(
        ok(
            store.account_by_email(&email("alice@example.com")).await,
            "account_by_email"
        ),
        None,
        "the old address must be free after change_account"
    );
    assert_eq!(
        ok(store.account_by_id(bob.id).await, "account_by_id"),
        Some(bob),
        "change_account must not touch another account"
    );
    assert_eq!(
        ok(
            store
                .change_account(fixtures::account_id(), &change, time(90))
                .await,
            "change_account"
        ),
        AccountUpdate::NotFound,
        "change_account of an unknown account must answer NotFound"
    );
}

/// A change whose new address is another account's fails with `Conflict::Email` and
/// changes nothing, not even the other fields of the same change.
pub async fn account_change_email_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let session = fixtures::insert_session(&*store, alice.id, time(10)).await;
    let change = AccountChange {
        display_name: Some(display_name("Not Saved")),
        email: Some(email("BOB@example.com")),
        role: Some(Role::Admin),
        state: Some(AccountState::Disabled),
    };
    assert_conflict(
        store.change_account(alice.id, &change, time(90)).await,
        Conflict::Email,
        "change_account to another account's address",
    );
    assert_eq!(
        ok(store.account_by_id(alice.id).await, "account_by_id"),
        Some(alice),
        "a change_account that fails must change nothing"
    );
    assert!(
        ok(
            store.session_by_token(&session.token_digest).await,
            "session_by_token"
        )
        .is_some(),
        "a change_account that fails must end no session"
    );
}

/// Disabling ends every session of the account in the same step (and no other account's);
/// enabling again ends none.
pub async fn account_disable_ends_sessions(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::insert_session(&*store, alice.id, time(10)).await;
    let second = fixtures::insert_session(&*store, alice.id, time(20)).await;
    let bobs = fixtures::insert_session(&*store, bob.id, time(30)).await;

    let (after, ended) = changed(
        ok(
            store
                .change_account(alice.id, &state(AccountState::Disabled), time(60))
                .await,
            "change_account",
        ),
        "disabling",
    );
    assert_eq!(after.state, AccountState::Disabled);
    assert_eq!(ended, 2, "disabling must end (and count) every session");
    for s in [&first, &second] {
        assert_eq!(
            ok(
                store.session_by_token(&s.token_digest).await,
                "session_by_token"
            ),
            None,
            "a disabled account's session must be gone"
        );
    }
    assert_eq!(
        ok(
            store.session_by_token(&bobs.token_digest).await,
            "session_by_token"
        ),
        Some(bobs),
        "disabling must not end another account's session"
    );
    let (after, ended) = changed(
        ok(
            store
                .change_account(alice.id, &state(AccountState::Active), time(70))
                .await,
            "change_account",
        ),
        "enabling",
    );
    assert_eq!(
        (after.state, ended),
        (AccountState::Active, 0),
        "enabling must store the state and end nothing"
    );
}

/// The last active administrator can be neither demoted, disabled nor deleted; a disabled
/// administrator does not count; with a second active one, either may step down, and
/// then the other is the last.
pub async fn account_last_admin(store: Arc<dyn Store>) {
    let root = insert_at(&*store, "root", 10, Role::Admin).await;
    let other = insert_at(&*store, "other", 20, Role::Admin).await;
    changed(
        ok(
            store
                .change_account(other.id, &state(AccountState::Disabled), time(30))
                .await,
            "change_account",
        ),
        "disabling one of two active administrators",
    );
    for (change, what) in [
        (role(Role::User), "demoting"),
        (state(AccountState::Disabled), "disabling"),
    ] {
        assert_eq!(
            ok(
                store.change_account(root.id, &change, time(40)).await,
                "change_account"
            ),
            AccountUpdate::LastAdmin,
            "{what} the last active administrator must be refused"
        );
    }
    assert_eq!(
        ok(
            store
                .delete_account(root.id, &deletion_record(&root, 40))
                .await,
            "delete_account"
        ),
        AccountRemoval::LastAdmin,
        "deleting the last active administrator must be refused"
    );
    assert_eq!(
        ok(store.account_by_id(root.id).await, "account_by_id"),
        Some(root.clone()),
        "a refused change or deletion must leave the administrator as it was"
    );
    let rename = AccountChange {
        display_name: Some(display_name("Root")),
        ..AccountChange::default()
    };
    changed(
        ok(
            store.change_account(root.id, &rename, time(45)).await,
            "change_account",
        ),
        "renaming the last active administrator",
    );
    changed(
        ok(
            store
                .change_account(other.id, &state(AccountState::Active), time(50))
                .await,
            "change_account",
        ),
        "enabling the second administrator",
    );
    changed(
        ok(
            store
                .change_account(root.id, &role(Role::User), time(60))
                .await,
            "change_account",
        ),
        "demoting one of two active administrators",
    );
    assert_eq!(
        ok(
            store
                .delete_account(other.id, &deletion_record(&other, 70))
                .await,
            "delete_account"
        ),
        AccountRemoval::LastAdmin,
        "the remaining administrator is the last one now"
    );
}

/// Deleting an account takes everything of it in one step and nothing of another: the
/// account, its password, sessions, challenges, counters, TOTP, recovery codes, passkeys,
/// API tokens, app passwords, SSH keys and avatar; its log is replaced by the deletion
/// record. The username stays taken; the address, the SSH key and the passkey are free.
pub async fn account_delete_removes_everything(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let s = &*store;
    let session = fixtures::insert_session(s, alice.id, time(10)).await;
    let link = fixtures::insert_challenge(s, alice.id, ChallengePurpose::PasswordReset).await;
    ok(
        s.record_failure(alice.id, FailureKind::Password, time(11))
            .await,
        "record_failure",
    );
    ok(
        s.put_pending_totp(alice.id, &fixtures::totp_secret(), time(12))
            .await,
        "put_pending_totp",
    );
    let codes = fixtures::recovery_codes(3);
    ok(
        s.confirm_totp(alice.id, 100, &codes, time(13)).await,
        "confirm_totp",
    );
    let passkey = fixtures::insert_passkey(s, alice.id, b"alice-key", time(14)).await;
    let token = fixtures::api_token(alice.id, time(15));
    ok(s.insert_api_token(&token, 10).await, "insert_api_token");
    let app = fixtures::app_password(alice.id, time(16));
    ok(s.insert_app_password(&app, 10).await, "insert_app_password");
    let key = fixtures::ssh_key(alice.id, time(17));
    ok(s.insert_ssh_key(&key, 10).await, "insert_ssh_key");
    let avatar = Avatar {
        image_type: ImageType::Png,
        bytes: vec![1, 2, 3],
    };
    ok(
        s.set_avatar(alice.id, Some(&avatar), time(18)).await,
        "set_avatar",
    );
    let alice = ok(s.account_by_id(alice.id).await, "account_by_id").expect("alice exists");
    let event = fixtures::event(alice.id, time(19), SecurityEventKind::LoginSucceeded);
    ok(s.record_event(&event).await, "record_event");
    let bobs_session = fixtures::insert_session(s, bob.id, time(20)).await;
    let bobs_token = fixtures::api_token(bob.id, time(21));
    ok(
        s.insert_api_token(&bobs_token, 10).await,
        "insert_api_token",
    );
    let bobs_event = fixtures::event(bob.id, time(22), SecurityEventKind::LoginSucceeded);
    ok(s.record_event(&bobs_event).await, "record_event");

    let record = deletion_record(&alice, 60);
    assert_eq!(
        ok(s.delete_account(alice.id, &record).await, "delete_account"),
        AccountRemoval::Removed(Box::new(alice.clone())),
        "delete_account must answer the account as it was"
    );

    assert_eq!(ok(s.account_by_id(alice.id).await, "account_by_id"), None);
    assert_eq!(
        ok(
            s.account_by_username(&alice.username).await,
            "account_by_username"
        ),
        None
    );
    assert_eq!(
        ok(s.account_by_email(&alice.email).await, "account_by_email"),
        None
    );
    assert_eq!(ok(s.password_hash(alice.id).await, "password_hash"), None);
    assert_eq!(
        ok(
            s.session_by_token(&session.token_digest).await,
            "session_by_token"
        ),
        None,
        "a deleted account's session must be gone"
    );
    assert_eq!(
        ok(
            s.find_challenge(&link.digest, ChallengePurpose::PasswordReset, time(61))
                .await,
            "find_challenge"
        ),
        None,
        "a deleted account's links must be gone"
    );
    assert_eq!(
        ok(
            s.failures(alice.id, FailureKind::Password).await,
            "failures"
        )
        .count,
        0,
        "a deleted account's failure counter must be gone"
    );
    assert_eq!(ok(s.totp(alice.id).await, "totp"), None);
    assert!(
        !ok(
            s.redeem_recovery_code(alice.id, &codes[0]).await,
            "redeem_recovery_code"
        ),
        "a deleted account's recovery codes must be gone"
    );
    assert_eq!(
        ok(
            s.passkey_by_credential_id(&passkey.credential_id).await,
            "passkey_by_credential_id"
        ),
        None,
        "a deleted account's passkeys must be gone"
    );
    assert_eq!(
        ok(
            s.api_token_by_digest(&token.digest).await,
            "api_token_by_digest"
        ),
        None,
        "a deleted account's API tokens must be gone"
    );
    assert_eq!(
        ok(
            s.app_password_by_digest(&app.digest).await,
            "app_password_by_digest"
        ),
        None,
        "a deleted account's app passwords must be gone"
    );
    assert_eq!(
        ok(
            s.ssh_key_by_fingerprint(&key.fingerprint).await,
            "ssh_key_by_fingerprint"
        ),
        None,
        "a deleted account's SSH keys must be gone"
    );
    assert_eq!(ok(s.avatar(alice.id).await, "avatar"), None);
    assert_eq!(
        ok(
            s.events(&EventFilter::account(alice.id), first_page(10))
                .await,
            "events"
        ),
        vec![record],
        "the deletion record must replace the account's log"
    );

    assert!(
        ok(
            s.session_by_token(&bobs_session.token_digest).await,
            "session_by_token"
        )
        .is_some(),
        "deleting one account must not end another's session"
    );
    assert!(
        ok(
            s.api_token_by_digest(&bobs_token.digest).await,
            "api_token_by_digest"
        )
        .is_some(),
        "deleting one account must not take another's token"
    );
    assert_eq!(
        ok(
            s.events(&EventFilter::account(bob.id), first_page(10))
                .await,
            "events"
        ),
        vec![bobs_event],
        "deleting one account must not touch another's log"
    );

    let mut again = fixtures::new_account("alice", "someone@example.com");
    again.account.id = fixtures::account_id();
    assert_conflict(
        s.insert_account(&again).await,
        Conflict::Username,
        "insert_account with a deleted account's username",
    );
    let heir = fixtures::insert_account(s, "alicia", "ALICE@example.com").await;
    assert_eq!(
        ok(
            s.insert_ssh_key(
                &crate::model::SshKeyRecord {
                    account_id: heir.id,
                    ..key
                },
                10
            )
            .await,
            "insert_ssh_key"
        ),
        LimitedInsert::Inserted,
        "a deleted account's SSH key must be free for another account"
    );
    ok(
        s.insert_passkey(&crate::model::PasskeyRecord {
            account_id: heir.id,
            id: crate::model::PasskeyId::generate(time(70), &crate::random::OsRandom),
            ..passkey
        })
        .await,
        "insert_passkey of a deleted account's credential id",
    );
}

/// Deleting an unknown account, or one already deleted, answers `NotFound` and records
/// nothing.
pub async fn account_delete_unknown(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let record = deletion_record(&alice, 60);
    assert!(matches!(
        ok(
            store.delete_account(alice.id, &record).await,
            "delete_account"
        ),
        AccountRemoval::Removed(_)
    ));
    let again = SecurityEvent {
        id: crate::model::EventId::generate(time(61), &crate::random::OsRandom),
        ..record.clone()
    };
    assert_eq!(
        ok(
            store.delete_account(alice.id, &again).await,
            "delete_account"
        ),
        AccountRemoval::NotFound,
        "deleting an account twice must answer NotFound"
    );
    assert_eq!(
        ok(
            store
                .events(&EventFilter::account(alice.id), first_page(10))
                .await,
            "events"
        ),
        vec![record],
        "a deletion that found nothing must record nothing"
    );
    let stranger = fixtures::account_id();
    let mut record = deletion_record(&alice, 62);
    record.account_id = stranger;
    assert_eq!(
        ok(
            store.delete_account(stranger, &record).await,
            "delete_account"
        ),
        AccountRemoval::NotFound,
        "deleting an unknown account must answer NotFound"
    );
}

/// No row is added to an account that does not exist (never inserted, or deleted): every
/// insert fails with `NoSuchAccount` and leaves nothing behind.
pub async fn account_rows_of_missing_account(store: Arc<dyn Store>) {
    let gone = fixtures::insert_account(&*store, "gone", "gone@example.com").await;
    ok(
        store
            .delete_account(gone.id, &deletion_record(&gone, 5))
            .await,
        "delete_account",
    );
    for account in [gone.id, fixtures::account_id()] {
        let s = &*store;
        let session = fixtures::session(account, time(10));
        missing(s.insert_session(&session).await, "insert_session");
        assert_eq!(
            ok(
                s.session_by_token(&session.token_digest).await,
                "session_by_token"
            ),
            None
        );
        let link = fixtures::challenge(account, ChallengePurpose::PasswordReset);
        missing(s.insert_challenge(&link, true).await, "insert_challenge");
        assert_eq!(
            ok(
                s.find_challenge(&link.digest, ChallengePurpose::PasswordReset, time(11))
                    .await,
                "find_challenge"
            ),
            None
        );
        let passkey = fixtures::passkey(account, b"orphan", time(12));
        missing(s.insert_passkey(&passkey).await, "insert_passkey");
        missing(
            s.put_pending_totp(account, &fixtures::totp_secret(), time(13))
                .await,
            "put_pending_totp",
        );
        missing(
            s.confirm_totp(account, 1, &fixtures::recovery_codes(2), time(13))
                .await,
            "confirm_totp",
        );
        missing(
            s.replace_recovery_codes(account, &fixtures::recovery_codes(2), time(14))
                .await,
            "replace_recovery_codes",
        );
        let token = fixtures::api_token(account, time(15));
        missing(s.insert_api_token(&token, 10).await, "insert_api_token");
        assert_eq!(
            ok(
                s.api_token_by_digest(&token.digest).await,
                "api_token_by_digest"
            ),
            None
        );
        let app = fixtures::app_password(account, time(16));
        missing(s.insert_app_password(&app, 10).await, "insert_app_password");
        let key = fixtures::ssh_key(account, time(17));
        missing(s.insert_ssh_key(&key, 10).await, "insert_ssh_key");
        missing(
            s.record_failure(account, FailureKind::Password, time(18))
                .await,
            "record_failure",
        );
        assert_eq!(ok(s.totp(account).await, "totp"), None);
        assert_eq!(
            ok(
                s.passkey_by_credential_id(b"orphan").await,
                "passkey_by_credential_id"
            ),
            None
        );
    }
}

#[track_caller]
fn missing<T: std::fmt::Debug>(result: StoreResult<T>, what: &str) {
    match result {
        Err(StoreError::NoSuchAccount) => {}
        other => panic!(
            "{what} for an account that does not exist: expected Err(NoSuchAccount), got \
             {other:?}"
        ),
    }
}

/// The list of accounts: oldest first in pages that continue after their cursor, and
/// each filter (a case-insensitive substring of the username, the address or the display
/// name, including non-ASCII letters and a changed name; the state, the role, the source),
/// alone and together. `%` and `_` in a search are plain characters.
pub async fn account_list(store: Arc<dyn Store>) {
    let s = &*store;
    let ada = insert_at(s, "ada", 10, Role::Admin).await;
    let bob = insert_at(s, "bob", 20, Role::User).await;
    let zoe = insert_at(s, "zoe", 30, Role::User).await;
    let zoe = changed(
        ok(
            s.change_account(
                zoe.id,
                &AccountChange {
                    display_name: Some(display_name("Zoë ÜNAL")),
                    ..AccountChange::default()
                },
                time(31),
            )
            .await,
            "change_account",
        ),
        "renaming",
    )
    .0;
    let mut external = fixtures::new_account("eve", "eve_100%@corp.example");
    external.account.created_at = time(40);
    external.account.id = AccountId::generate(time(40), &crate::random::OsRandom);
    external.account.source = AccountSource::External {
        directory: "ldap".to_owned(),
    };
    ok(s.insert_account(&external).await, "insert_account");
    let eve = external.account;
    let dan = insert_at(s, "dan", 50, Role::User).await;
    let dan = changed(
        ok(
            s.change_account(dan.id, &state(AccountState::Disabled), time(51))
                .await,
            "change_account",
        ),
        "disabling",
    )
    .0;
    let mut ina = insert_at(s, "ina", 60, Role::User).await;
    ina = ok(
        s.update_profile(
            ina.id,
            &crate::model::ProfileChange {
                display_name: Some(display_name("Ōtani Ína")),
                language: None,
            },
            time(61),
        )
        .await,
        "update_profile",
    )
    .expect("ina exists");

    let query = |f: &dyn Fn(&mut AccountQuery)| {
        let mut q = AccountQuery {
            limit: 100,
            ..AccountQuery::default()
        };
        f(&mut q);
        q
    };
    let names = |accounts: Vec<Account>| -> Vec<String> {
        accounts
            .into_iter()
            .map(|a| a.username.as_str().to_owned())
            .collect()
    };
    let list = |q: AccountQuery| async move { ok(s.list_accounts(&q).await, "list_accounts") };

    let all = list(query(&|_| {})).await;
    assert_eq!(
        all,
        vec![
            ada.clone(),
            bob.clone(),
            zoe.clone(),
            eve.clone(),
            dan.clone(),
            ina.clone()
        ],
        "list_accounts must list every account oldest first, field for field"
    );
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = list(query(&|q| {
            q.limit = 4;
            q.after = after;
        }))
        .await;
        assert!(page.len() <= 4, "list_accounts must return at most `limit`");
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        pages.extend(names(page));
        assert!(pages.len() <= 6, "list_accounts keeps returning accounts");
    }
    assert_eq!(
        pages,
        ["ada", "bob", "zoe", "eve", "dan", "ina"],
        "pages must continue strictly after their cursor"
    );

    let search = |term: &str| {
        let term = AccountQuery::search(term);
        query(&move |q| q.search = term.clone())
    };
    for (term, want) in [
        ("ZOE", vec!["zoe"]),
        ("ünal", vec!["zoe"]),
        ("ŌTANI", vec!["ina"]),
        ("ōtani", vec!["ina"]),
        ("@EXAMPLE.com", vec!["ada", "bob", "zoe", "dan", "ina"]),
        ("corp", vec!["eve"]),
        ("100%", vec!["eve"]),
        ("e_1", vec!["eve"]),
        ("%", vec!["eve"]),
        ("_", vec!["eve"]),
        ("!", vec![]),
        ("user x", vec![]),
        ("user ", vec!["ada", "bob", "eve", "dan"]),
    ] {
        assert_eq!(
            names(list(search(term)).await),
            want,
            "list_accounts searching {term:?}"
        );
    }
    assert_eq!(
        names(list(query(&|q| q.state = Some(AccountState::Disabled))).await),
        ["dan"],
        "filter by state"
    );
    assert_eq!(
        names(list(query(&|q| q.role = Some(Role::Admin))).await),
        ["ada"],
        "filter by role"
    );
    assert_eq!(
        names(list(query(&|q| q.source = Some(SourceKind::External))).await),
        ["eve"],
        "filter by source"
    );
    assert_eq!(
        names(
            list(query(&|q| {
                q.source = Some(SourceKind::Local);
                q.state = Some(AccountState::Active);
                q.role = Some(Role::User);
                q.search = AccountQuery::search("N");
            }))
            .await
        ),
        ["zoe", "ina"],
        "filters together"
    );
}

/// The log of every account: merged newest first, paged by cursor, and filtered by
/// account, kind and time, alone and together.
pub async fn events_of_every_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let mut all = Vec::new();
    for (i, (account, kind)) in [
        (alice.id, SecurityEventKind::LoginSucceeded),
        (bob.id, SecurityEventKind::LoginFailed),
        (alice.id, SecurityEventKind::PasswordChanged),
        (bob.id, SecurityEventKind::LoginSucceeded),
        (alice.id, SecurityEventKind::LoginFailed),
        (fixtures::account_id(), SecurityEventKind::AccountDeleted),
        (bob.id, SecurityEventKind::LoginFailed),
    ]
    .into_iter()
    .enumerate()
    {
        let secs = i64::try_from(i).expect("small") * 10;
        let event = fixtures::event(account, time(secs), kind);
        ok(store.record_event(&event).await, "record_event");
        all.push(event);
    }
    all.reverse();
    let page = |filter: EventFilter, before, limit| {
        let store = Arc::clone(&store);
        async move {
            ok(
                store.events(&filter, EventPage { before, limit }).await,
                "events",
            )
        }
    };
    assert_eq!(
        page(EventFilter::default(), None, 100).await,
        all,
        "events without an account must list every account's, newest first"
    );
    let first = page(EventFilter::default(), None, 3).await;
    assert_eq!(first, all[..3]);
    let rest = page(EventFilter::default(), Some(first[2].cursor()), 100).await;
    assert_eq!(
        rest,
        all[3..],
        "the next page must continue after the cursor"
    );
    let failed = EventFilter {
        kind: Some(SecurityEventKind::LoginFailed),
        ..EventFilter::default()
    };
    let want: Vec<_> = all.iter().filter(|e| failed.matches(e)).cloned().collect();
    assert_eq!(want.len(), 3);
    assert_eq!(page(failed, None, 100).await, want, "filter by kind");
    assert_eq!(
        page(failed, None, 2).await,
        want[..2],
        "a filtered page holds `limit` events that pass the filter"
    );
    let recent_bob = EventFilter {
        account: Some(bob.id),
        kind: Some(SecurityEventKind::LoginFailed),
        since: Some(time(20)),
    };
    assert_eq!(
        page(recent_bob, None, 100).await,
        all[..1],
        "account, kind and time together"
    );
    let since = EventFilter {
        since: Some(time(40)),
        ..EventFilter::default()
    };
    assert_eq!(
        page(since, None, 100).await,
        all[..3],
        "events at or after `since`"
    );
}

/// 20 concurrent deletions of one account: exactly one removes it.
pub async fn concurrent_delete_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    fixtures::insert_session(&*store, alice.id, time(10)).await;
    let results = together(20, |i| {
        let store = Arc::clone(&store);
        let record = SecurityEvent {
            id: crate::model::EventId::generate(time(60), &crate::random::OsRandom),
            ..deletion_record(&alice, 60 + i64::try_from(i).expect("small"))
        };
        async move { store.delete_account(alice.id, &record).await }
    })
    .await;
    let removed = results
        .into_iter()
        .map(|r| ok(r, "delete_account"))
        .filter(|r| matches!(r, AccountRemoval::Removed(_)))
        .count();
    assert_eq!(
        removed, 1,
        "of 20 concurrent deletions of one account exactly one must remove it"
    );
    assert_eq!(
        ok(
            store
                .events(&EventFilter::account(alice.id), first_page(100))
                .await,
            "events"
        )
        .len(),
        1,
        "concurrent deletions must leave one deletion record"
    );
}

/// Three active administrators, each stepping down (demoted or disabled) at once, ten
/// times over: exactly two may, and one active administrator always remains.
pub async fn concurrent_last_admin(store: Arc<dyn Store>) {
    let admins = [
        insert_at(&*store, "admin1", 10, Role::Admin).await,
        insert_at(&*store, "admin2", 20, Role::Admin).await,
        insert_at(&*store, "admin3", 30, Role::Admin).await,
    ];
    for round in 0..10 {
        let results = together(3, |i| {
            let store = Arc::clone(&store);
            let id = admins[i].id;
            let change = if i == 1 {
                state(AccountState::Disabled)
            } else {
                role(Role::User)
            };
            async move { store.change_account(id, &change, time(100)).await }
        })
        .await;
        let refused = results
            .into_iter()
            .map(|r| ok(r, "change_account"))
            .filter(|r| *r == AccountUpdate::LastAdmin)
            .count();
        let active = ok(
            store
                .list_accounts(&AccountQuery {
                    role: Some(Role::Admin),
                    state: Some(AccountState::Active),
                    limit: 10,
                    ..AccountQuery::default()
                })
                .await,
            "list_accounts",
        );
        assert_eq!(
            (refused, active.len()),
            (1, 1),
            "round {round}: of three administrators stepping down at once exactly one must \
             be refused, leaving one active"
        );
        for admin in &admins {
            let back = AccountChange {
                role: Some(Role::Admin),
                state: Some(AccountState::Active),
                ..AccountChange::default()
            };
            changed(
                ok(
                    store.change_account(admin.id, &back, time(110)).await,
                    "change_account",
                ),
                "restoring an administrator",
            );
        }
    }
}

/// An account deleted while it logs in, uses its token and refreshes its session, ten
/// times over: whatever the order, nothing of it authenticates afterwards.
pub async fn concurrent_delete_while_in_use(store: Arc<dyn Store>) {
    for round in 0..10 {
        let name = format!("user{round}");
        let user = fixtures::insert_account(&*store, &name, &format!("{name}@example.com")).await;
        let session = fixtures::insert_session(&*store, user.id, time(10)).await;
        let token = fixtures::api_token(user.id, time(11));
        ok(store.insert_api_token(&token, 10).await, "insert_api_token");
        let login = fixtures::session(user.id, time(20));
        let rotated = fixtures::digest();
        let record = deletion_record(&user, 30);
        let tasks = together(5, |i| {
            let store = Arc::clone(&store);
            let (login, record, session) = (login.clone(), record.clone(), session.clone());
            let token = token.id;
            async move {
                match i {
                    0 => store.delete_account(user.id, &record).await.map(|_| ()),
                    1 => match store.insert_session(&login).await {
                        Err(StoreError::NoSuchAccount) => Ok(()),
                        other => other,
                    },
                    2 => store.touch_api_token(token, time(25), None).await,
                    3 => {
                        let rotation = SessionRotation {
                            token_digest: rotated,
                            authentications: vec![Authentication {
                                method: AuthMethod::Password,
                                at: time(26),
                            }],
                            assurance: AssuranceLevel::One,
                            stage: SessionStage::Full,
                            at: time(26),
                        };
                        store
                            .rotate_session(session.id, &session.token_digest, &rotation)
                            .await
                            .map(|_| ())
                    }
                    _ => store.touch_session(session.id, time(27)).await,
                }
            }
        })
        .await;
        for (i, result) in tasks.into_iter().enumerate() {
            ok(result, &format!("round {round}, task {i}"));
        }
        let s = &*store;
        for digest in [session.token_digest, login.token_digest, rotated] {
            assert_eq!(
                ok(s.session_by_token(&digest).await, "session_by_token"),
                None,
                "round {round}: a session of a deleted account must not survive"
            );
        }
        assert_eq!(
            ok(
                s.api_token_by_digest(&token.digest).await,
                "api_token_by_digest"
            ),
            None,
            "round {round}: a token of a deleted account must not survive"
        );
        assert_eq!(
            ok(s.account_by_id(user.id).await, "account_by_id"),
            None,
            "round {round}: the account must be gone"
        );
    }
}
