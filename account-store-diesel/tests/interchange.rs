//! The two adapters are interchangeable on one database: on each backend, a database
//! migrated and written by one is read back whole by the other, which then writes to it
//! (rotates the session, uses the token, the passkey, a recovery code...), and the first
//! reads those changes. Both ways: diesel then sqlx, sqlx then diesel.

use std::net::IpAddr;

use account_core::avatar::{Avatar, ImageType};
use account_core::model::{
    Account, AccountRemoval, AccountState, ApiTokenRecord, AppPasswordRecord, AssuranceLevel,
    AuthMethod, Authentication, Challenge, ChallengePurpose, EventFilter, EventPage, FailureKind,
    LimitedInsert, PasskeyRecord, ProfileChange, SecurityEvent, SecurityEventKind, SessionRecord,
    SessionRotation, SessionStage, SshKeyRecord, TokenScope,
};
use account_core::password::PasswordRules;
use account_core::policy::{Policy, SessionPolicy};
use account_core::store::Store;
use account_core::testing::fixtures::{self, time};
use account_core::token::TokenDigest;
use account_store_diesel::DieselStore;
use account_store_sqlx::testing::fresh_database;
use account_store_sqlx::{Backend, SqlStore};

/// Everything one adapter wrote, to be read back by the other.
struct Written {
    account: Account,
    session: SessionRecord,
    challenge: Challenge,
    passkey: PasskeyRecord,
    codes: Vec<TokenDigest>,
    token: ApiTokenRecord,
    app_password: AppPasswordRecord,
    ssh_key: SshKeyRecord,
    event: SecurityEvent,
    policy: Policy,
    avatar: Avatar,
}

/// Unwraps a store call, naming it when it failed.
fn ok<T>(result: account_core::store::StoreResult<T>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// Writes one of every record through `store`, with every optional field set.
async fn write_everything(store: &dyn Store) -> Written {
    let mut new = fixtures::new_account("alice", "alice@example.com");
    new.account.recovery_email = Some(fixtures::email("alice.recovery@example.org"));
    new.account.language =
        Some(account_core::domain::Language::parse("de").expect("a language tag"));
    new.account.email_verified = true;
    ok(store.insert_account(&new).await, "insert_account");
    let id = new.account.id;

    let avatar = Avatar {
        image_type: ImageType::Png,
        bytes: (0..=255u8).collect(),
    };
    assert!(ok(
        store.set_avatar(id, Some(&avatar), time(5)).await,
        "set_avatar"
    ));
    let account = ok(store.account_by_id(id).await, "account_by_id").expect("the account");

    let mut session = fixtures::session(id, time(10));
    session.ip = Some("2001:db8::7".parse().expect("an address"));
    session.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".to_owned());
    session.device.browser = Some("Firefox 133".to_owned());
    session.device.os = Some("Linux".to_owned());
    session.device.cpu_arch = Some("x86_64".to_owned());
    ok(store.insert_session(&session).await, "insert_session");

    let challenge = fixtures::challenge(id, ChallengePurpose::VerifyRecoveryEmail);
    ok(
        store.insert_challenge(&challenge, false).await,
        "insert_challenge",
    );

    let passkey = fixtures::passkey(id, b"credential-1", time(20));
    ok(store.insert_passkey(&passkey).await, "insert_passkey");

    let codes = fixtures::recovery_codes(3);
    let secret = fixtures::totp_secret();
    assert!(ok(
        store.put_pending_totp(id, &secret, time(30)).await,
        "put_pending_totp"
    ));
    assert!(ok(
        store.confirm_totp(id, 7, &codes, time(31)).await,
        "confirm_totp"
    ));

    let mut token = fixtures::api_token(id, time(40));
    token.scope = TokenScope::Write;
    token.allowed_networks = vec!["10.0.0.0/8".parse().expect("a network")];
    token.expires_at = Some(time(86_400));
    let inserted = ok(store.insert_api_token(&token, 10).await, "insert_api_token");
    assert_eq!(inserted, LimitedInsert::Inserted);

    let app_password = fixtures::app_password(id, time(41));
    let inserted = ok(
        store.insert_app_password(&app_password, 10).await,
        "insert_app_password",
    );
    assert_eq!(inserted, LimitedInsert::Inserted);

    let ssh_key = fixtures::ssh_key(id, time(42));
    let inserted = ok(store.insert_ssh_key(&ssh_key, 10).await, "insert_ssh_key");
    assert_eq!(inserted, LimitedInsert::Inserted);

    let mut event = fixtures::event(id, time(50), SecurityEventKind::PasswordChanged);
    event.ip = Some("192.0.2.1".parse().expect("an address"));
    event.details.insert("by".to_owned(), "self".to_owned());
    ok(store.record_event(&event).await, "record_event");

    let policy = Policy {
        allow_signup: false,
        require_second_factor: true,
        sessions: SessionPolicy {
            idle_timeout_secs: 900,
            absolute_timeout_secs: 28_800,
            reauthentication_window_secs: 300,
        },
        passwords: PasswordRules {
            min_length: 12,
            ..PasswordRules::default()
        },
        ..Policy::default()
    };
    ok(store.put_policy(&policy).await, "put_policy");
    ok(
        store
            .record_failure(id, FailureKind::Password, time(60))
            .await,
        "record_failure",
    );
    assert_eq!(
        ok(
            store.hit_rate_limit("login:192.0.2.1", time(0)).await,
            "hit"
        ),
        1
    );

    Written {
        account,
        session,
        challenge,
        passkey,
        codes,
        token,
        app_password,
        ssh_key,
        event,
        policy,
        avatar,
    }
}

/// Reads back, through `store`, everything [`write_everything`] wrote through the other.
async fn read_everything(store: &dyn Store, w: &Written) {
    let id = w.account.id;
    assert_eq!(
        ok(store.account_by_id(id).await, "account_by_id").as_ref(),
        Some(&w.account)
    );
    assert_eq!(
        ok(
            store.account_by_email(&w.account.email).await,
            "account_by_email"
        )
        .as_ref(),
        Some(&w.account)
    );
    assert!(ok(store.password_hash(id).await, "password_hash").is_some());
    assert_eq!(
        ok(store.avatar(id).await, "avatar").as_ref(),
        Some(&w.avatar)
    );
    assert_eq!(
        ok(
            store.session_by_token(&w.session.token_digest).await,
            "session"
        )
        .as_ref(),
        Some(&w.session)
    );
    assert_eq!(
        ok(
            store
                .find_challenge(&w.challenge.digest, w.challenge.purpose, time(1))
                .await,
            "find_challenge"
        )
        .as_ref(),
        Some(&w.challenge)
    );
    assert_eq!(
        ok(store.passkeys_of(id).await, "passkeys_of"),
        std::slice::from_ref(&w.passkey)
    );
    let totp = ok(store.totp(id).await, "totp").expect("TOTP");
    assert_eq!(totp.confirmed_at, Some(time(31)));
    assert_eq!(totp.last_step, Some(7));
    let factors = ok(store.second_factors(id).await, "second_factors");
    assert!(factors.totp);
    assert_eq!((factors.passkeys, factors.recovery_codes_left), (1, 3));
    assert_eq!(
        ok(store.api_token_by_digest(&w.token.digest).await, "token").as_ref(),
        Some(&w.token)
    );
    assert_eq!(
        ok(
            store.app_password_by_digest(&w.app_password.digest).await,
            "app password"
        )
        .as_ref(),
        Some(&w.app_password)
    );
    assert_eq!(
        ok(
            store.ssh_key_by_fingerprint(&w.ssh_key.fingerprint).await,
            "ssh key"
        )
        .as_ref(),
        Some(&w.ssh_key)
    );
    let events = ok(
        store
            .events(
                &EventFilter::account(id),
                EventPage {
                    before: None,
                    limit: 10,
                },
            )
            .await,
        "events",
    );
    assert_eq!(events, std::slice::from_ref(&w.event));
    assert_eq!(ok(store.policy().await, "policy").as_ref(), Some(&w.policy));
    let failures = ok(store.failures(id, FailureKind::Password).await, "failures");
    assert_eq!((failures.count, failures.last_at), (1, Some(time(60))));
    assert_eq!(
        ok(
            store.hit_rate_limit("login:192.0.2.1", time(0)).await,
            "hit"
        ),
        2
    );
}

/// Changes, through `store`, what the other adapter wrote; `check_changes` reads them
/// back through the other.
async fn change_everything(store: &dyn Store, w: &Written) -> TokenDigest {
    let id = w.account.id;
    let change = ProfileChange {
        display_name: Some(fixtures::display_name("Alice B.")),
        language: Some(None),
    };
    ok(
        store.update_profile(id, &change, time(70)).await,
        "update_profile",
    )
    .expect("updated");
    let rotated = fixtures::digest();
    let rotation = SessionRotation {
        token_digest: rotated,
        authentications: vec![
            Authentication {
                method: AuthMethod::Password,
                at: time(10),
            },
            Authentication {
                method: AuthMethod::Totp,
                at: time(71),
            },
        ],
        assurance: AssuranceLevel::Two,
        stage: SessionStage::Full,
        at: time(71),
    };
    assert!(ok(
        store
            .rotate_session(w.session.id, &w.session.token_digest, &rotation)
            .await,
        "rotate_session"
    ));
    let ip: IpAddr = "10.1.2.3".parse().expect("an address");
    ok(
        store.touch_api_token(w.token.id, time(72), Some(ip)).await,
        "touch_api_token",
    );
    assert!(ok(
        store
            .record_passkey_use(w.passkey.id, "{\"updated\":true}", 9, true, time(73))
            .await,
        "record_passkey_use"
    ));
    assert!(ok(
        store.redeem_recovery_code(id, &w.codes[0]).await,
        "redeem"
    ));
    assert!(ok(store.accept_totp_step(id, 8).await, "accept_totp_step"));
    assert!(
        ok(
            store
                .consume_challenge(&w.challenge.digest, w.challenge.purpose, time(2))
                .await,
            "consume_challenge"
        )
        .is_some()
    );
    assert!(
        ok(
            store.delete_ssh_key(id, w.ssh_key.id).await,
            "delete_ssh_key"
        )
        .is_some()
    );
    ok(
        store.clear_failures(id, FailureKind::Password).await,
        "clear_failures",
    );
    rotated
}

/// Reads back, through `store`, what [`change_everything`] changed through the other.
async fn check_changes(store: &dyn Store, w: &Written, rotated: &TokenDigest) {
    let id = w.account.id;
    let account = ok(store.account_by_id(id).await, "account_by_id").expect("the account");
    assert_eq!(account.display_name.as_str(), "Alice B.");
    assert_eq!(account.language, None);
    assert_eq!(account.updated_at, time(70));
    assert_eq!(account.state, AccountState::Active);
    assert!(
        ok(
            store.session_by_token(&w.session.token_digest).await,
            "old token"
        )
        .is_none()
    );
    let session = ok(store.session_by_token(rotated).await, "session").expect("rotated");
    assert_eq!(session.assurance, AssuranceLevel::Two);
    assert_eq!(session.authentications.len(), 2);
    assert_eq!(session.last_seen_at, time(71));
    let token = ok(store.api_token_by_digest(&w.token.digest).await, "token").expect("token");
    assert_eq!(token.last_used_at, Some(time(72)));
    assert_eq!(
        token.last_used_ip,
        Some("10.1.2.3".parse().expect("an address"))
    );
    let passkey = ok(store.passkeys_of(id).await, "passkeys_of").remove(0);
    assert_eq!(
        (
            passkey.sign_count,
            passkey.backup_state,
            passkey.last_used_at
        ),
        (9, true, Some(time(73)))
    );
    assert_eq!(passkey.credential, "{\"updated\":true}");
    assert_eq!(
        ok(store.second_factors(id).await, "factors").recovery_codes_left,
        2
    );
    assert_eq!(
        ok(store.totp(id).await, "totp").and_then(|t| t.last_step),
        Some(8)
    );
    assert!(
        ok(
            store
                .find_challenge(&w.challenge.digest, w.challenge.purpose, time(3))
                .await,
            "find_challenge"
        )
        .is_none()
    );
    assert!(ok(store.ssh_keys_of(id).await, "ssh_keys_of").is_empty());
    assert_eq!(
        ok(store.failures(id, FailureKind::Password).await, "failures").count,
        0
    );
    // And the account goes whole, whichever adapter deletes it.
    let record = SecurityEvent {
        details: [("username".to_owned(), "alice".to_owned())].into(),
        ..fixtures::event(id, time(80), SecurityEventKind::AccountDeleted)
    };
    let removal = ok(store.delete_account(id, &record).await, "delete_account");
    assert!(matches!(removal, AccountRemoval::Removed(_)));
    assert!(ok(store.account_by_id(id).await, "account_by_id").is_none());
    assert!(ok(store.session_by_token(rotated).await, "session").is_none());
}

/// On each backend: a fresh database, migrated by `first`'s adapter, written by it, read
/// and changed by the other, and the changes read by the first.
async fn exchange(diesel_first: bool) {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        // `None` when the backend's server is not configured (never under CI=true).
        let Some(db) = fresh_database(backend).await else {
            continue;
        };
        let connect_diesel = async {
            let store = DieselStore::connect(db.url())
                .await
                .expect("diesel connects");
            store.migrate().await.expect("diesel migrates");
            store
        };
        let connect_sqlx = async {
            let store = SqlStore::connect(db.url()).await.expect("sqlx connects");
            store.migrate().await.expect("sqlx migrates");
            store
        };
        let (first, second): (Box<dyn Store>, Box<dyn Store>) = if diesel_first {
            let first = connect_diesel.await;
            (Box::new(first), Box::new(connect_sqlx.await))
        } else {
            let first = connect_sqlx.await;
            (Box::new(first), Box::new(connect_diesel.await))
        };
        let written = write_everything(&*first).await;
        read_everything(&*second, &written).await;
        let rotated = change_everything(&*second, &written).await;
        check_changes(&*first, &written, &rotated).await;
        eprintln!("{backend}: round trip done");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_diesel_writes_sqlx_reads_and_changes_and_diesel_reads_back() {
    exchange(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_sqlx_writes_diesel_reads_and_changes_and_sqlx_reads_back() {
    exchange(false).await;
}
