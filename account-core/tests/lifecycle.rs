//! An account's lifecycle through the services: deleting one's own account, the host's
//! hooks, the administrator's changes, list and details, the setup link, sign-in notices
//! and the export.

mod support;

use std::sync::{Arc, Mutex};

use account_core::domain::{DisplayName, EmailAddress, Password};
use account_core::hooks::{AccountHooks, DeletionRefused};
use account_core::mail::MemoryMailer;
use account_core::model::{
    Account, AccountId, AccountQuery, AccountState, EventFilter, EventPage, RequestInfo, Role,
    SecurityEventKind, TokenScope,
};
use account_core::store::AuthenticatorStore;
use account_core::testing::passkey::SoftDevice;
use account_core::{
    AccountChangeByAdmin, Accounts, CreatedApiToken, CreatedAppPassword, Error, NewApiToken,
    SignedIn, SignedInSession,
};
use support::{Harness, PASSWORD, enrolling, info, info_from, token_of};

const ORIGIN: &str = "https://accounts.example.com";
const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMROdKbP6qcd/dttCqs8TuOwfc7tC/Otdk4q/eyP5n84 ada@laptop";

async fn passwordless(accounts: &Accounts, device: &mut SoftDevice) -> Result<SignedIn, Error> {
    let ceremony = accounts.start_passkey_login().await?;
    let assertion = device
        .sign(&ceremony.options)
        .expect("the authenticator signs");
    accounts
        .finish_passkey_login(&ceremony.ceremony_id, assertion, &info())
        .await
}

/// Every mail kind sent to `address` so far, after the background tasks have run.
async fn kinds_sent_to(h: &Harness, address: &str) -> Vec<&'static str> {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    h.mailer
        .sent_to(address)
        .iter()
        .map(|m| m.message.kind())
        .collect()
}

/// A personal API token and an app password of the signed-in account.
async fn programmatic_access(
    h: &Harness,
    session: &SignedInSession,
) -> (CreatedApiToken, CreatedAppPassword) {
    let token = h
        .accounts
        .create_api_token(
            session,
            NewApiToken {
                name: "ci".into(),
                scope: TokenScope::Write,
                allowed_networks: Vec::new(),
                expires_at: None,
            },
            &info(),
        )
        .await
        .expect("token");
    let app = h
        .accounts
        .create_app_password(session, "mail", &info())
        .await
        .expect("app password");
    (token, app)
}

async fn promote(h: &Harness, username: &str) -> Account {
    let id = h.id_of(username).await;
    h.accounts
        .change_account(
            h.admin_id(),
            id,
            AccountChangeByAdmin {
                role: Some(Role::Admin),
                ..AccountChangeByAdmin::default()
            },
            &info(),
        )
        .await
        .expect("promoted")
}

#[tokio::test]
async fn l44_deleting_the_account_refuses_every_old_credential() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let first = h.fresh_session("ada").await;
    let (token, app) = programmatic_access(&h, &first).await;
    let key = h
        .accounts
        .add_ssh_key(&first, "laptop", SSH_KEY, &info())
        .await
        .expect("ssh key");
    let mut device = SoftDevice::at(ORIGIN);
    let ceremony = h
        .accounts
        .start_passkey_registration(&enrolling(&first), "Laptop")
        .await
        .expect("registration starts");
    let credential = device.register(&ceremony.options).expect("registers");
    h.accounts
        .finish_passkey_registration(
            &enrolling(&first),
            &ceremony.ceremony_id,
            credential,
            &info(),
        )
        .await
        .expect("registration finishes");
    h.accounts
        .request_password_reset(
            &EmailAddress::parse("ada@example.com").expect("valid"),
            &info(),
        )
        .await
        .expect("reset requested");
    let reset = token_of(&h.link_sent_to("ada@example.com", "password_reset").await);
    // The passkey is the strongest factor now: only a passkey login is fresh enough.
    let by_passkey = passwordless(&h.accounts, &mut device)
        .await
        .expect("logs in");
    let session = h
        .accounts
        .authenticate(by_passkey.token.expose())
        .await
        .expect("valid");
    let id = session.account_id;
    assert_eq!(
        h.accounts
            .delete_own_account(&first, "ada", &info())
            .await
            .expect_err("a password session is not fresh at the passkey's level")
            .code(),
        "reauthentication_required"
    );

    h.accounts
        .delete_own_account(&session, "ADA", &info())
        .await
        .expect("deleted");

    let refused = |r: Result<SignedIn, Error>| r.expect_err("refused").code();
    assert_eq!(
        refused(h.login_with("ada", PASSWORD, &info()).await),
        "invalid_credentials",
        "the password"
    );
    for old in [&first.token_digest, &session.token_digest] {
        assert!(
            h.accounts
                .store()
                .session_by_token(old)
                .await
                .expect("store")
                .is_none(),
            "every session"
        );
    }
    assert_eq!(
        h.accounts
            .authenticate(by_passkey.token.expose())
            .await
            .expect_err("refused")
            .code(),
        "unauthenticated",
        "the session token"
    );
    assert_eq!(
        h.accounts
            .authenticate_api_token(token.secret.expose(), None)
            .await
            .expect_err("refused")
            .code(),
        "unauthenticated",
        "the API token"
    );
    assert_eq!(
        h.accounts
            .authenticate_app_password("ada", app.secret.expose())
            .await
            .expect_err("refused")
            .code(),
        "invalid_credentials",
        "the app password"
    );
    assert!(
        h.accounts
            .ssh_key_owner(&key.fingerprint)
            .await
            .expect("lookup")
            .is_none(),
        "the SSH key"
    );
    assert!(
        passwordless(&h.accounts, &mut device).await.is_err(),
        "the passkey"
    );
    assert_eq!(
        h.accounts
            .reset_password(&reset, &Password::new("another good passphrase"), &info())
            .await
            .expect_err("refused")
            .code(),
        "invalid_token",
        "the pending reset link"
    );
    let factors = h.store.second_factors(id).await.expect("store");
    assert!(
        !factors.any() && factors.recovery_codes_left == 0,
        "TOTP and codes"
    );
}

#[tokio::test]
async fn deleting_needs_a_fresh_session_and_the_username_typed_again() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    for typed in ["bob", "", "ad", "not a username!"] {
        let err = h
            .accounts
            .delete_own_account(&session, typed, &info())
            .await
            .expect_err("refused");
        assert_eq!(err.reason().as_deref(), Some("confirm_username_mismatch"));
    }
    h.clock.advance(chrono::Duration::minutes(11));
    assert_eq!(
        h.accounts
            .delete_own_account(&session, "ada", &info())
            .await
            .expect_err("stale")
            .code(),
        "reauthentication_required"
    );
    assert_eq!(h.account("ada").await.state, AccountState::Active);
}

#[tokio::test]
async fn l46_a_deleted_username_is_never_given_again_and_the_address_is_free() {
    let h = Harness::new().await;
    let ada = h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    h.accounts
        .delete_own_account(&session, "ada", &info())
        .await
        .expect("deleted");
    assert_eq!(
        h.try_sign_up("ada", "new@example.com", PASSWORD)
            .await
            .expect_err("taken")
            .code(),
        "username_taken"
    );
    let heir = h.sign_up("ada2", "ADA@example.com").await;
    assert_ne!(heir.id, ada.id);

    // The log keeps only that the account existed and was deleted.
    let log = h
        .accounts
        .security_events(
            EventFilter::account(ada.id),
            EventPage {
                before: None,
                limit: 50,
            },
        )
        .await
        .expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, SecurityEventKind::AccountDeleted);
    assert_eq!(log[0].ip, None);
    assert_eq!(log[0].user_agent, None);
    assert_eq!(
        log[0].details.get("username").map(String::as_str),
        Some("ada")
    );
    assert_eq!(log[0].details.get("by").map(String::as_str), Some("self"));
    assert!(
        kinds_sent_to(&h, "ada@example.com")
            .await
            .contains(&"account_deleted")
    );
}

/// A host's hooks: what it was told, and a refusal it can give.
#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    refuse: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl AccountHooks for Recorder {
    async fn before_delete(&self, account: &Account) -> Result<(), DeletionRefused> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("before_delete {}", account.username));
        match self.refuse.lock().expect("lock").clone() {
            Some(reason) => Err(DeletionRefused::new(reason)),
            None => Ok(()),
        }
    }
    async fn after_delete(&self, account: &Account) {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("after_delete {}", account.username));
    }
    async fn after_create(&self, account: &Account) {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("after_create {}", account.username));
    }
    async fn after_disable(&self, account: &Account) {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("after_disable {}", account.username));
    }
}

#[tokio::test]
async fn the_hosts_hooks_hear_the_lifecycle_and_may_refuse_a_deletion() {
    let hooks = Arc::new(Recorder::default());
    let h = Harness::with_hooks(hooks.clone()).await;
    h.sign_up("ada", "ada@example.com").await;
    let bob = h.create_by_admin("bob", "bob@example.com").await;
    h.accounts
        .change_account(
            h.admin_id(),
            bob.id,
            AccountChangeByAdmin {
                state: Some(AccountState::Disabled),
                ..AccountChangeByAdmin::default()
            },
            &info(),
        )
        .await
        .expect("disabled");
    *hooks.refuse.lock().expect("lock") = Some("owns an organisation".into());
    let session = h.fresh_session("ada").await;
    let err = h
        .accounts
        .delete_own_account(&session, "ada", &info())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "deletion_refused");
    assert!(err.to_string().contains("owns an organisation"));
    assert_eq!(
        h.account("ada").await.state,
        AccountState::Active,
        "nothing deleted"
    );
    *hooks.refuse.lock().expect("lock") = None;
    h.accounts
        .delete_own_account(&session, "ada", &info())
        .await
        .expect("deleted");
    assert_eq!(
        *hooks.calls.lock().expect("lock"),
        [
            "after_create ada",
            "after_create bob",
            "after_disable bob",
            "before_delete ada",
            "before_delete ada",
            "after_delete ada",
        ]
    );
}

#[tokio::test]
async fn an_administrator_deletes_an_account_but_not_their_own_nor_the_last_admin() {
    let h = Harness::new().await;
    h.sign_up("rosa", "rosa@example.com").await;
    let root = promote(&h, "rosa").await;
    let bob = h.sign_up("bob", "bob@example.com").await;
    assert_eq!(
        h.accounts
            .delete_account_as_admin(root.id, root.id, &info())
            .await
            .expect_err("own")
            .code(),
        "own_account"
    );
    assert_eq!(
        h.accounts
            .delete_account_as_admin(
                root.id,
                AccountId::generate(h.accounts.now(), &account_core::random::OsRandom),
                &info()
            )
            .await
            .expect_err("unknown")
            .code(),
        "not_found"
    );
    h.accounts
        .delete_account_as_admin(root.id, bob.id, &info())
        .await
        .expect("deleted");
    let record = h
        .accounts
        .security_events(
            EventFilter::account(bob.id),
            EventPage {
                before: None,
                limit: 5,
            },
        )
        .await
        .expect("log");
    assert_eq!(record[0].details.get("by"), Some(&root.id.to_string()));
    assert!(
        h.events("rosa")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::DeletedAccount),
        "the administrator's own log says what they deleted"
    );
    assert!(
        kinds_sent_to(&h, "bob@example.com")
            .await
            .contains(&"account_deleted")
    );
    // The last active administrator cannot delete their own account either.
    let session = h.fresh_session("rosa").await;
    assert_eq!(
        h.accounts
            .delete_own_account(&session, "rosa", &info())
            .await
            .expect_err("last admin")
            .code(),
        "last_admin"
    );
}

#[tokio::test]
async fn disabling_ends_sessions_and_stops_tokens_and_app_passwords_at_once() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let (token, app) = programmatic_access(&h, &session).await;
    let change = |state| AccountChangeByAdmin {
        state: Some(state),
        ..AccountChangeByAdmin::default()
    };
    h.accounts
        .change_account(
            h.admin_id(),
            session.account_id,
            change(AccountState::Disabled),
            &info(),
        )
        .await
        .expect("disabled");
    assert!(
        h.accounts
            .store()
            .session_by_token(&session.token_digest)
            .await
            .expect("store")
            .is_none(),
        "the session ended in the same step"
    );
    assert!(
        h.accounts
            .authenticate_api_token(token.secret.expose(), None)
            .await
            .is_err()
    );
    assert!(
        h.accounts
            .authenticate_app_password("ada", app.secret.expose())
            .await
            .is_err()
    );
    assert_eq!(
        h.login_with("ada", PASSWORD, &info())
            .await
            .expect_err("disabled")
            .code(),
        "invalid_credentials"
    );
    let log = h.events("ada").await;
    let disabled = log
        .iter()
        .find(|e| e.kind == SecurityEventKind::AccountDisabled)
        .expect("logged");
    assert_eq!(
        disabled.details.get("sessions_ended").map(String::as_str),
        Some("1")
    );

    h.accounts
        .change_account(
            h.admin_id(),
            session.account_id,
            change(AccountState::Active),
            &info(),
        )
        .await
        .expect("enabled");
    assert!(
        h.accounts
            .authenticate_api_token(token.secret.expose(), None)
            .await
            .is_ok()
    );
    assert!(h.login_with("ada", PASSWORD, &info()).await.is_ok());
}

#[tokio::test]
async fn an_administrator_cannot_demote_or_disable_themselves_nor_the_last_admin() {
    let h = Harness::new().await;
    h.sign_up("rosa", "rosa@example.com").await;
    let root = promote(&h, "rosa").await;
    h.sign_up("sue", "sue@example.com").await;
    let sue = promote(&h, "sue").await;
    for change in [
        AccountChangeByAdmin {
            role: Some(Role::User),
            ..AccountChangeByAdmin::default()
        },
        AccountChangeByAdmin {
            state: Some(AccountState::Disabled),
            ..AccountChangeByAdmin::default()
        },
    ] {
        assert_eq!(
            h.accounts
                .change_account(root.id, root.id, change.clone(), &info())
                .await
                .expect_err("own")
                .code(),
            "own_account"
        );
    }
    h.accounts
        .change_account(
            root.id,
            sue.id,
            AccountChangeByAdmin {
                role: Some(Role::User),
                ..AccountChangeByAdmin::default()
            },
            &info(),
        )
        .await
        .expect("demoted");
    // Someone else (a second tool, the host) now tries to demote the last administrator.
    assert_eq!(
        h.accounts
            .change_account(
                sue.id,
                root.id,
                AccountChangeByAdmin {
                    role: Some(Role::User),
                    ..AccountChangeByAdmin::default()
                },
                &info(),
            )
            .await
            .expect_err("last admin")
            .code(),
        "last_admin"
    );
}

#[tokio::test]
async fn an_administrator_changes_a_locked_profile_and_the_new_address_is_proved_by_link() {
    let h = Harness::new().await;
    let mut policy = h.accounts.policy().await.expect("policy");
    policy.lock_profiles = true;
    h.accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect("policy set");
    let ada = h.sign_up("ada", "ada@example.com").await;
    h.clear_mail().await;
    let changed = h
        .accounts
        .change_account(
            h.admin_id(),
            ada.id,
            AccountChangeByAdmin {
                display_name: Some(DisplayName::parse("Ada Lovelace").expect("valid")),
                email: Some(EmailAddress::parse("ada@lovelace.example").expect("valid")),
                ..AccountChangeByAdmin::default()
            },
            &info(),
        )
        .await
        .expect("an administrator may change a locked profile");
    assert_eq!(changed.display_name.as_str(), "Ada Lovelace");
    assert!(!changed.email_verified);
    assert!(
        kinds_sent_to(&h, "ada@example.com")
            .await
            .contains(&"email_changed")
    );
    let link = token_of(&h.link_sent_to("ada@lovelace.example", "verify_email").await);
    h.accounts
        .verify_email(&link, &info())
        .await
        .expect("verified");
    assert!(h.account("ada").await.email_verified);
    let taken = h.sign_up("bob", "bob@example.com").await;
    assert_eq!(
        h.accounts
            .change_account(
                h.admin_id(),
                ada.id,
                AccountChangeByAdmin {
                    email: Some(taken.email.clone()),
                    ..AccountChangeByAdmin::default()
                },
                &info(),
            )
            .await
            .expect_err("taken")
            .reason()
            .as_deref(),
        Some("email_reserved")
    );
    let ldap = h.create_external("eve", "eve@corp.example").await;
    assert_eq!(
        h.accounts
            .change_account(
                h.admin_id(),
                ldap.id,
                AccountChangeByAdmin {
                    display_name: Some(DisplayName::parse("Eve").expect("valid")),
                    ..AccountChangeByAdmin::default()
                },
                &info(),
            )
            .await
            .expect_err("the directory's field")
            .code(),
        "managed_by_directory"
    );
}

#[tokio::test]
async fn l45_an_administrator_creates_an_account_whose_owner_chooses_the_password() {
    let h = Harness::new().await;
    let bob = h.create_by_admin("bob", "bob@example.com").await;
    assert!(
        h.accounts
            .store()
            .password_hash(bob.id)
            .await
            .expect("store")
            .is_none()
    );
    let mail = h.link_sent_to("bob@example.com", "account_setup").await;
    h.accounts
        .reset_password(
            &token_of(&mail),
            &Password::new("bob's own good passphrase"),
            &info(),
        )
        .await
        .expect("the owner sets a password");
    let bob = h.account("bob").await;
    assert!(bob.email_verified, "the setup link proves the address");
    assert!(
        h.login_with("bob", "bob's own good passphrase", &info())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_list_pages_and_filters_and_the_details_help_support() {
    let h = Harness::new().await;
    for (i, name) in ["amy", "ben", "cat", "dan", "eve"].iter().enumerate() {
        h.sign_up(name, &format!("{name}@example.com")).await;
        h.clock.advance(chrono::Duration::seconds(
            i64::try_from(i).expect("small") + 1,
        ));
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = h
            .accounts
            .list_accounts(AccountQuery {
                after,
                limit: 2,
                ..AccountQuery::default()
            })
            .await
            .expect("page");
        seen.extend(page.accounts.iter().map(|a| a.username.to_string()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["amy", "ben", "cat", "dan", "eve"]);
    let found = h
        .accounts
        .list_accounts(AccountQuery {
            search: AccountQuery::search(" CAT@"),
            limit: 50,
            ..AccountQuery::default()
        })
        .await
        .expect("search");
    assert_eq!(found.accounts.len(), 1);
    assert!(found.next.is_none());

    h.login_with("cat", PASSWORD, &info()).await.expect("login");
    let cat = h.id_of("cat").await;
    let details = h.accounts.account_details(cat).await.expect("details");
    assert_eq!(details.live_sessions, 1);
    assert_eq!(details.last_login_method.as_deref(), Some("password"));
    assert!(details.last_login_at.is_some());
    assert!(!details.second_factors.any());
    let ended = h
        .accounts
        .revoke_sessions_as_admin(h.admin_id(), cat, &info())
        .await
        .expect("revoked");
    assert_eq!(ended, 1);
    assert_eq!(
        h.accounts
            .account_details(cat)
            .await
            .expect("details")
            .live_sessions,
        0
    );
    assert!(
        h.events("cat")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::SessionsRevokedByAdmin)
    );
}

#[tokio::test]
async fn k43_a_sign_in_from_a_new_device_and_network_is_told_to_every_address() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let home = info_from("203.0.113.7", firefox);
    h.login_with("ada", PASSWORD, &home)
        .await
        .expect("first login");
    h.login_with("ada", PASSWORD, &info_from("203.0.113.99", firefox))
        .await
        .expect("same device, same network");
    assert!(
        !kinds_sent_to(&h, "ada@example.com")
            .await
            .contains(&"new_sign_in"),
        "neither the first login nor a known device and network is news"
    );
    let elsewhere = info_from("198.51.100.23", firefox);
    h.login_with("ada", PASSWORD, &elsewhere)
        .await
        .expect("new network");
    kinds_sent_to(&h, "ada@example.com").await;
    let notices: Vec<_> = h
        .mailer
        .sent_to("ada@example.com")
        .into_iter()
        .filter(|m| m.message.kind() == "new_sign_in")
        .collect();
    assert_eq!(notices.len(), 1);
    let text = notices[0].text();
    assert!(text.contains("Firefox on Linux"), "{text}");
    assert!(text.contains("198.51.100.23"), "{text}");
    assert!(text.contains("If this wasn't you"), "{text}");
    assert!(
        h.events("ada")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::NewSignInNotified)
    );

    // The policy turns them off.
    let mut policy = h.accounts.policy().await.expect("policy");
    policy.sign_in_notices = false;
    h.accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect("policy set");
    h.login_with("ada", PASSWORD, &info_from("192.0.2.1", "curl/8.5"))
        .await
        .expect("login");
    let count = kinds_sent_to(&h, "ada@example.com")
        .await
        .iter()
        .filter(|k| **k == "new_sign_in")
        .count();
    assert_eq!(count, 1, "no notice with the policy off");
}

#[tokio::test]
async fn k42_lifecycle_events_are_logged_with_who_did_them() {
    let h = Harness::new().await;
    let ada = h.sign_up("ada", "ada@example.com").await;
    let admin = h.admin_id();
    let (accounts, id) = (h.accounts.clone(), ada.id);
    let change = |c: AccountChangeByAdmin| {
        let accounts = accounts.clone();
        async move {
            accounts
                .change_account(admin, id, c, &RequestInfo::default())
                .await
                .expect("changed");
        }
    };
    change(AccountChangeByAdmin {
        display_name: Some(DisplayName::parse("Ada L.").expect("valid")),
        ..AccountChangeByAdmin::default()
    })
    .await;
    change(AccountChangeByAdmin {
        state: Some(AccountState::Disabled),
        ..AccountChangeByAdmin::default()
    })
    .await;
    change(AccountChangeByAdmin {
        state: Some(AccountState::Active),
        ..AccountChangeByAdmin::default()
    })
    .await;
    h.accounts
        .revoke_sessions_as_admin(admin, ada.id, &info())
        .await
        .expect("revoked");
    let kinds: Vec<_> = h.events("ada").await.iter().rev().map(|e| e.kind).collect();
    assert!(kinds.ends_with(&[
        SecurityEventKind::ChangedByAdmin,
        SecurityEventKind::AccountDisabled,
        SecurityEventKind::AccountEnabled,
        SecurityEventKind::SessionsRevokedByAdmin,
    ]));
    for event in h.events("ada").await.iter().take(4) {
        assert_eq!(
            event.details.get("by"),
            Some(&admin.to_string()),
            "{event:?}"
        );
    }
    // Every account's log, for administrators, filtered by kind.
    // Secrets are absent: neither the password nor a token is in any event.
    let session = h.fresh_session("ada").await;
    let (token, app) = programmatic_access(&h, &session).await;
    let log = format!("{:?}", h.events("ada").await);
    for secret in [PASSWORD, token.secret.expose(), app.secret.expose()] {
        assert!(!log.contains(secret), "a secret in the log");
    }
    let all = h
        .accounts
        .security_events(
            EventFilter {
                kind: Some(SecurityEventKind::AccountDisabled),
                ..EventFilter::default()
            },
            EventPage {
                before: None,
                limit: 10,
            },
        )
        .await
        .expect("log");
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn the_export_holds_the_accounts_own_data() {
    let h = Harness::with_mailer(MemoryMailer::new()).await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    h.accounts
        .add_ssh_key(&session, "laptop", SSH_KEY, &info())
        .await
        .expect("key");
    let app = h
        .accounts
        .create_app_password(&session, "mail", &info())
        .await
        .expect("app password");
    let export = h.accounts.export_account(&session).await.expect("export");
    assert_eq!(export.account.username.as_str(), "ada");
    assert_eq!(export.ssh_keys.len(), 1);
    assert_eq!(export.app_passwords.len(), 1);
    assert_eq!(export.sessions.len(), 1);
    assert!(export.sessions[0].current);
    assert!(export.security_events.len() >= 3);
    assert!(!format!("{export:?}").contains(app.secret.expose()));
}
