#![cfg(feature = "testing")]

//! Accounts of an external directory, driven by `testing::MemoryDirectory`: the password
//! goes to the directory with the throttle, the answers and the cost of a local login;
//! the fields the directory manages are refreshed at login and refused here, the others
//! stay the user's; the password cannot be changed or reset here; second factors work as
//! for local accounts.

mod support;

use std::sync::Arc;

use account_core::directory::{Directory, DirectoryProfile, ManagedFields};
use account_core::domain::{DisplayName, EmailAddress, Language, Password, Username};
use account_core::model::{
    Account, AssuranceLevel, AuthMethod, FailureKind, ProfileChange, SecurityEvent,
    SecurityEventKind, SessionStage,
};
use account_core::policy::Policy;
use account_core::store::{CredentialStore, ThrottleStore};
use account_core::testing::MemoryDirectory;
use account_core::testing::logs::GlobalLogs;
use account_core::{AccountConfig, Error, LoginOutcome};
use chrono::Duration;
use support::{Harness, PASSWORD, enrolling, info};

/// The directory's password for dora, which the account here never stores.
const DIRECTORY_PASSWORD: &str = "the directory's own long passphrase";
/// A password that is nobody's.
const WRONG: &str = "wrong password here";

fn display_name(name: &str) -> DisplayName {
    DisplayName::parse(name).expect("valid display name")
}

fn email(address: &str) -> EmailAddress {
    EmailAddress::parse(address).expect("valid address")
}

/// The directory `ldap` (the harness's `create_external` puts accounts there) with dora,
/// whose name there is "Dora Directory" and whose address is the one she is created with.
fn ldap() -> MemoryDirectory {
    let directory = MemoryDirectory::new("ldap");
    directory.add_user(
        "dora",
        DIRECTORY_PASSWORD,
        DirectoryProfile {
            display_name: Some(display_name("Dora Directory")),
            email: Some(email("dora@example.com")),
        },
    );
    directory
}

async fn harness_with(directory: &MemoryDirectory) -> Harness {
    harness_configured(directory, |_| {}).await
}

async fn harness_configured(
    directory: &MemoryDirectory,
    change: impl FnOnce(&mut AccountConfig),
) -> Harness {
    let directory: Arc<dyn Directory> = Arc::new(directory.clone());
    Harness::with_directories(vec![directory], change).await
}

/// A harness with the `ldap` directory and dora's account in it.
async fn with_dora(directory: &MemoryDirectory) -> (Harness, Account) {
    let h = harness_with(directory).await;
    let dora = h.create_external("dora", "dora@example.com").await;
    (h, dora)
}

async fn failures(h: &Harness, username: &str) -> u32 {
    h.store
        .failures(h.id_of(username).await, FailureKind::Password)
        .await
        .expect("store")
        .count
}

fn detail<'a>(event: &'a SecurityEvent, key: &str) -> Option<&'a str> {
    event.details.get(key).map(String::as_str)
}

fn of_kind(events: &[SecurityEvent], kind: SecurityEventKind) -> Vec<&SecurityEvent> {
    events.iter().filter(|e| e.kind == kind).collect()
}

/// Lets the mail sent in background tasks so far arrive (the tests run on a
/// current-thread runtime, where yielding runs every task that is ready).
async fn settle_mail() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Captures the log lines of this thread (the tests run on a current-thread runtime, so
/// the services log here) until the guard is dropped.
fn capture_logs() -> (GlobalLogs, tracing::subscriber::DefaultGuard) {
    let logs = GlobalLogs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn an_external_account_logs_in_through_its_directory() {
    let directory = ldap();
    let (h, dora) = with_dora(&directory).await;
    let signed_in = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("the directory accepts the password");
    assert_eq!(signed_in.account.id, dora.id);
    assert_eq!(directory.calls(), 1);
    assert_eq!(signed_in.session.stage, SessionStage::Full);
    assert_eq!(
        signed_in.session.authentications[0].method,
        AuthMethod::Password
    );
    h.accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("the new session is valid");
    // The address finds the account, and the directory is asked with the username.
    h.login_with("dora@example.com", DIRECTORY_PASSWORD, &info())
        .await
        .expect("the address works too");
    assert_eq!(directory.calls(), 2);
    assert!(
        h.store
            .password_hash(dora.id)
            .await
            .expect("store")
            .is_none(),
        "the directory's password is never stored here"
    );
    let events = h.events("dora").await;
    let succeeded = of_kind(&events, SecurityEventKind::LoginSucceeded);
    assert_eq!(succeeded.len(), 2);
    assert_eq!(detail(succeeded[0], "method"), Some("password"));

    // The directory's answer is the truth of the moment: a password changed there works
    // here at once, and the old one no longer does.
    assert!(directory.set_password("dora", "a newer directory passphrase"));
    h.login_with("dora", "a newer directory passphrase", &info())
        .await
        .expect("the directory's new password");
    let err = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect_err("the old one");
    assert_eq!(err.code(), "invalid_credentials");
}

#[tokio::test]
async fn a_wrong_directory_password_answers_and_costs_like_an_unknown_user_and_a_local_wrong_password()
 {
    let directory = ldap();
    let (h, _) = with_dora(&directory).await;
    h.sign_up("ada", "ada@example.com").await;
    // An account of the directory that the directory does not know (any more).
    h.create_external("ghost", "ghost@example.com").await;
    let attempts = [
        ("nobody", PASSWORD, "an unknown login"),
        ("ada", WRONG, "a local wrong password"),
        ("dora", WRONG, "a wrong directory password"),
        (
            "ghost",
            DIRECTORY_PASSWORD,
            "a user the directory does not know",
        ),
    ];
    let mut answers = Vec::new();
    for (login, password, what) in attempts {
        let before = h.accounts.password_verifications();
        let err = h
            .login_with(login, password, &info())
            .await
            .expect_err(what);
        assert_eq!(
            h.accounts.password_verifications() - before,
            1,
            "{what} costs one verification"
        );
        answers.push((err.code(), err.to_string(), format!("{err:?}")));
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every refusal is the same: {answers:?}"
    );
    assert_eq!(answers[0].0, "invalid_credentials");
    assert_eq!(directory.calls(), 2, "dora and ghost went to the directory");

    // A right directory password costs one verification too: the directory's check never
    // makes an external login cheaper than a local one.
    let before = h.accounts.password_verifications();
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("right");
    assert_eq!(h.accounts.password_verifications() - before, 1);
}

#[tokio::test]
async fn directory_failures_are_counted_and_throttled_exactly_like_local_ones() {
    let directory = ldap();
    let h = harness_configured(&directory, |c| c.login_throttle.lock_after = 8).await;
    h.create_external("dora", "dora@example.com").await;
    h.sign_up("ada", "ada@example.com").await;
    h.clear_mail().await;
    let right = |username: &str| -> &'static str {
        if username == "dora" {
            DIRECTORY_PASSWORD
        } else {
            PASSWORD
        }
    };
    for round in 1..=8 {
        for username in ["ada", "dora"] {
            let err = h
                .login_with(username, WRONG, &info())
                .await
                .expect_err("wrong");
            assert_eq!(err.code(), "invalid_credentials");
        }
        assert_eq!(failures(&h, "ada").await, round);
        assert_eq!(failures(&h, "dora").await, round, "round {round}");
        if round >= 5 {
            // From the fifth failure on, even the right password must wait, and a
            // throttled attempt never reaches the directory nor counts.
            let calls = directory.calls();
            for username in ["ada", "dora"] {
                let err = h
                    .login_with(username, right(username), &info())
                    .await
                    .expect_err("throttled");
                assert_eq!(err.code(), "invalid_credentials", "{username}");
            }
            assert_eq!(directory.calls(), calls);
            assert_eq!(failures(&h, "dora").await, round);
        }
        if round < 8 {
            h.clock.advance(Duration::hours(2));
        }
    }
    for username in ["ada", "dora"] {
        let events = h.events(username).await;
        assert_eq!(
            of_kind(&events, SecurityEventKind::LoginLocked).len(),
            1,
            "{username} is locked at the eighth failure"
        );
        let failed = of_kind(&events, SecurityEventKind::LoginFailed);
        assert_eq!(
            failed
                .iter()
                .filter(|e| detail(e, "reason") == Some("wrong_password"))
                .count(),
            8
        );
        assert_eq!(
            failed
                .iter()
                .filter(|e| detail(e, "reason") == Some("throttled"))
                .count(),
            4
        );
        let address = format!("{username}@example.com");
        settle_mail().await;
        assert!(
            h.mailer
                .sent_to(&address)
                .iter()
                .any(|m| m.message.kind() == "account_temporarily_locked"),
            "{username} is told of the lock"
        );
    }
    // Locked for a day after the last failure, then the right password works again and
    // clears the counter.
    h.clock.advance(Duration::hours(2));
    let err = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect_err("locked");
    assert_eq!(err.code(), "invalid_credentials");
    h.clock.advance(Duration::hours(23));
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("the lock is over");
    assert_eq!(failures(&h, "dora").await, 0);
}

#[tokio::test]
async fn a_directory_that_cannot_answer_gives_directory_unavailable_and_counts_nothing() {
    let directory = ldap();
    let (h, _) = with_dora(&directory).await;
    // Another account names a directory that nobody registered.
    h.create_in_directory("otto", "otto@example.com", "elsewhere")
        .await;
    directory.set_down(true);
    let (logs, guard) = capture_logs();
    for (login, what) in [("dora", "down"), ("otto", "not registered")] {
        let before = h.accounts.password_verifications();
        let err = h
            .login_with(login, DIRECTORY_PASSWORD, &info())
            .await
            .expect_err(what);
        assert_eq!(err.code(), "directory_unavailable", "{what}");
        assert_eq!(
            h.accounts.password_verifications() - before,
            1,
            "{what}: the dummy verification is spent all the same"
        );
        assert_eq!(failures(&h, login).await, 0, "{what}: nothing is counted");
        assert!(
            of_kind(&h.events(login).await, SecurityEventKind::LoginFailed).is_empty(),
            "{what}: the person may well have typed the right password"
        );
    }
    drop(guard);
    let text = logs.text();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(warnings[0].contains("the directory could not check a password"));
    assert!(warnings[0].contains("switched down"), "the cause is logged");
    assert!(warnings[0].contains("ldap"));
    assert!(warnings[1].contains("no directory is registered"));
    assert!(warnings[1].contains("elsewhere"));
    assert!(!text.contains(DIRECTORY_PASSWORD), "{text}");

    // Back up, the same password works and nothing was held against it.
    directory.set_down(false);
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("the directory is back");
}

#[tokio::test]
async fn the_profile_is_refreshed_from_the_directory_at_login() {
    let directory = ldap();
    let (h, dora) = with_dora(&directory).await;
    assert_eq!(dora.display_name.as_str(), "dora");
    assert!(!dora.email_verified);
    let signed_in = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("login");
    // The session's account and the stored one both have the directory's fields; the
    // address the directory vouches for counts as verified.
    for account in [signed_in.account, h.account("dora").await] {
        assert_eq!(account.display_name.as_str(), "Dora Directory");
        assert_eq!(account.email.as_str(), "dora@example.com");
        assert!(account.email_verified);
    }
    let updates = |events: Vec<SecurityEvent>| -> Vec<(String, String)> {
        of_kind(&events, SecurityEventKind::ProfileUpdated)
            .iter()
            .map(|e| {
                assert_eq!(detail(e, "by"), Some("directory"));
                assert_eq!(detail(e, "directory"), Some("ldap"));
                (
                    detail(e, "fields").unwrap_or_default().to_owned(),
                    e.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                )
            })
            .collect()
    };
    assert_eq!(
        updates(h.events("dora").await),
        [("display_name,email".to_owned(), "127.0.0.1".to_owned())]
    );

    // Nothing changed in the directory: nothing is written, no event.
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("login");
    assert_eq!(updates(h.events("dora").await).len(), 1);

    // A new name and a new address in the directory arrive at the next login.
    assert!(directory.set_profile(
        "dora",
        DirectoryProfile {
            display_name: Some(display_name("Dora Marquez")),
            email: Some(email("Dora.Marquez@example.com")),
        }
    ));
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("login");
    let account = h.account("dora").await;
    assert_eq!(account.display_name.as_str(), "Dora Marquez");
    assert_eq!(account.email.as_str(), "Dora.Marquez@example.com");
    assert_eq!(
        updates(h.events("dora").await)[0].0,
        "display_name,email",
        "newest first"
    );
    h.login_with("dora.marquez@example.com", DIRECTORY_PASSWORD, &info())
        .await
        .expect("the new address finds her");

    // A field the directory leaves out is kept as it is.
    assert!(directory.set_profile("dora", DirectoryProfile::default()));
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("login");
    let account = h.account("dora").await;
    assert_eq!(account.display_name.as_str(), "Dora Marquez");
    assert_eq!(account.email.as_str(), "Dora.Marquez@example.com");
    assert_eq!(updates(h.events("dora").await).len(), 2);
}

#[tokio::test]
async fn an_address_of_another_account_is_not_taken_from_it() {
    let directory = ldap();
    let (h, _) = with_dora(&directory).await;
    h.sign_up("ada", "ada@example.com").await;
    assert!(directory.set_profile(
        "dora",
        DirectoryProfile {
            display_name: Some(display_name("Dora Directory")),
            email: Some(email("ADA@example.com")),
        }
    ));
    let (logs, guard) = capture_logs();
    let signed_in = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("the login works all the same");
    drop(guard);
    assert_eq!(signed_in.account.email.as_str(), "dora@example.com");
    assert_eq!(signed_in.account.display_name.as_str(), "Dora Directory");
    assert_eq!(h.account("dora").await.email.as_str(), "dora@example.com");
    assert_eq!(h.account("ada").await.email.as_str(), "ada@example.com");
    let events = h.events("dora").await;
    let updated = of_kind(&events, SecurityEventKind::ProfileUpdated);
    assert_eq!(updated.len(), 1);
    assert_eq!(detail(updated[0], "fields"), Some("display_name"));
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains("belongs to another account")),
        "{text}"
    );
}

#[tokio::test]
async fn only_the_fields_the_directory_manages_are_refused() {
    // A directory that owns the display name only: the addresses are the user's, and the
    // directory's address is not applied.
    let directory = ldap().managing(ManagedFields {
        display_name: true,
        email: false,
    });
    assert!(directory.set_profile(
        "dora",
        DirectoryProfile {
            display_name: Some(display_name("Dora Directory")),
            email: Some(email("dora@corp.example")),
        },
    ));
    let (h, dora) = with_dora(&directory).await;
    let session = h.fresh_session_with("dora", DIRECTORY_PASSWORD).await;
    let account = h.account("dora").await;
    assert_eq!(account.display_name.as_str(), "Dora Directory");
    assert_eq!(account.email.as_str(), "dora@example.com");
    let rename = |name: &str| ProfileChange {
        display_name: Some(display_name(name)),
        language: None,
    };
    let err = h
        .accounts
        .update_profile(dora.id, rename("D"), &info())
        .await
        .expect_err("the directory's");
    assert_eq!(err.code(), "managed_by_directory");
    h.accounts
        .update_profile(
            dora.id,
            ProfileChange {
                display_name: None,
                language: Some(Some(Language::parse("de").expect("tag"))),
            },
            &info(),
        )
        .await
        .expect("the language is the user's");
    h.accounts
        .request_email_change(&session, email("dora@home.example"), &info())
        .await
        .expect("the address is the user's");
    h.accounts
        .set_recovery_email(&session, Some(email("dora@backup.example")), &info())
        .await
        .expect("so is the recovery address");
    h.accounts
        .set_avatar(dora.id, support::png(64, 64), &info())
        .await
        .expect("and the avatar");
    // The administrator's lock still holds over the fields the directory leaves alone.
    h.accounts
        .set_policy(
            h.admin_id(),
            Policy {
                lock_profiles: true,
                ..Policy::default()
            },
            &info(),
        )
        .await
        .expect("policy");
    let err = h
        .accounts
        .request_email_change(&session, email("dora@home.example"), &info())
        .await
        .expect_err("locked");
    assert_eq!(err.code(), "profile_locked");

    // A directory that owns the addresses only.
    let directory = ldap().managing(ManagedFields {
        display_name: false,
        email: true,
    });
    let (h, dora) = with_dora(&directory).await;
    let session = h.fresh_session_with("dora", DIRECTORY_PASSWORD).await;
    assert_eq!(
        h.account("dora").await.display_name.as_str(),
        "dora",
        "the directory's name is not applied"
    );
    h.accounts
        .update_profile(dora.id, rename("Dee"), &info())
        .await
        .expect("the display name is the user's");
    for (err, what) in [
        (
            h.accounts
                .request_email_change(&session, email("dora@home.example"), &info())
                .await
                .expect_err("the directory's"),
            "address",
        ),
        (
            h.accounts
                .set_recovery_email(&session, Some(email("dora@backup.example")), &info())
                .await
                .expect_err("the directory's"),
            "recovery address",
        ),
        (
            h.accounts
                .set_recovery_email(&session, None, &info())
                .await
                .expect_err("the directory's"),
            "removing the recovery address",
        ),
    ] {
        assert_eq!(err.code(), "managed_by_directory", "{what}");
    }
    // The user's own display name stays through the next login.
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("login");
    assert_eq!(h.account("dora").await.display_name.as_str(), "Dee");

    // An account whose directory is not registered: every field is treated as managed.
    let otto = h
        .create_in_directory("otto", "otto@example.com", "elsewhere")
        .await;
    let session = h.session_for_external(&otto).await;
    let err = h
        .accounts
        .update_profile(otto.id, rename("Otto"), &info())
        .await
        .expect_err("managed");
    assert_eq!(err.code(), "managed_by_directory");
    let err = h
        .accounts
        .request_email_change(&session, email("otto@home.example"), &info())
        .await
        .expect_err("managed");
    assert_eq!(err.code(), "managed_by_directory");
}

#[tokio::test]
async fn reauthentication_goes_through_the_directory() {
    let directory = ldap();
    let (h, _) = with_dora(&directory).await;
    let session = h.fresh_session_with("dora", DIRECTORY_PASSWORD).await;
    h.clock.advance(Duration::minutes(11));
    assert_eq!(directory.calls(), 1);

    let err = h
        .accounts
        .reauthenticate(&enrolling(&session), &Password::new(WRONG), &info())
        .await
        .expect_err("wrong");
    assert_eq!(err.code(), "invalid_credentials");
    assert_eq!(failures(&h, "dora").await, 1, "counted like a failed login");

    directory.set_down(true);
    let err = h
        .accounts
        .reauthenticate(
            &enrolling(&session),
            &Password::new(DIRECTORY_PASSWORD),
            &info(),
        )
        .await
        .expect_err("down");
    assert_eq!(err.code(), "directory_unavailable");
    assert_eq!(failures(&h, "dora").await, 1);
    directory.set_down(false);

    assert!(directory.set_profile(
        "dora",
        DirectoryProfile {
            display_name: Some(display_name("Dora Again")),
            email: None,
        },
    ));
    let renewed = h
        .accounts
        .reauthenticate(
            &enrolling(&session),
            &Password::new(DIRECTORY_PASSWORD),
            &info(),
        )
        .await
        .expect("the directory accepts it");
    assert_eq!(directory.calls(), 4);
    assert_eq!(
        failures(&h, "dora").await,
        0,
        "a success clears the counter"
    );
    assert_eq!(renewed.account.display_name.as_str(), "Dora Again");
    let events = h.events("dora").await;
    assert_eq!(events[0].kind, SecurityEventKind::Reauthenticated);
    assert_eq!(events[1].kind, SecurityEventKind::ProfileUpdated);
    // The renewed session is fresh: a sensitive action works without another prompt.
    let renewed = h
        .accounts
        .authenticate(renewed.token.expose())
        .await
        .expect("valid");
    h.accounts
        .set_recovery_email(&renewed, None, &info())
        .await
        .expect_err("the directory manages the addresses");
    h.accounts
        .start_totp_enrollment(&enrolling(&renewed))
        .await
        .expect("fresh enough to enrol");
}

#[tokio::test]
async fn the_password_cannot_be_changed_or_reset_for_an_external_account() {
    let directory = ldap();
    let (h, dora) = with_dora(&directory).await;
    let session = h.fresh_session_with("dora", DIRECTORY_PASSWORD).await;
    let calls = directory.calls();
    let err = h
        .accounts
        .change_password(
            &session,
            &Password::new(DIRECTORY_PASSWORD),
            &Password::new("a brand new and long passphrase"),
            &info(),
        )
        .await
        .expect_err("the directory's password");
    assert_eq!(err.code(), "managed_by_directory");
    assert_eq!(
        directory.calls(),
        calls,
        "refused before anything is checked"
    );
    assert!(
        h.store
            .password_hash(dora.id)
            .await
            .expect("store")
            .is_none()
    );

    h.clear_mail().await;
    h.accounts
        .request_password_reset(&email("dora@example.com"), &info())
        .await
        .expect("the same answer as for any address");
    settle_mail().await;
    assert!(
        h.mailer.sent_to("dora@example.com").is_empty(),
        "no reset link: {:?}",
        h.mailer.sent()
    );
    assert!(
        of_kind(
            &h.events("dora").await,
            SecurityEventKind::PasswordResetRequested
        )
        .is_empty()
    );
    // The directory's password is all there is.
    h.login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("unchanged");
}

#[tokio::test]
async fn totp_enrolment_is_refused_only_when_the_directory_supplies_the_second_factor() {
    let directory = ldap();
    let (h, _) = with_dora(&directory).await;
    let session = h.fresh_session_with("dora", DIRECTORY_PASSWORD).await;
    h.accounts
        .set_policy(
            h.admin_id(),
            Policy {
                directory_provides_second_factor: true,
                ..Policy::default()
            },
            &info(),
        )
        .await
        .expect("policy");
    let err = h
        .accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect_err("the directory supplies 2FA");
    assert_eq!(err.code(), "managed_by_directory");

    h.accounts
        .set_policy(h.admin_id(), Policy::default(), &info())
        .await
        .expect("policy");
    h.accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect("enrols here when the directory does not supply 2FA");
}

#[tokio::test]
async fn totp_finishes_the_login_of_an_external_account() {
    let directory = ldap();
    let (h, _) = with_dora(&directory).await;
    // Under the require-2FA policy, the directory's password alone gives a session that
    // may only enrol a factor, as for a local account.
    h.accounts
        .set_policy(
            h.admin_id(),
            Policy {
                require_second_factor: true,
                ..Policy::default()
            },
            &info(),
        )
        .await
        .expect("policy");
    let first = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("password accepted");
    assert_eq!(first.session.stage, SessionStage::EnrollmentOnly);
    let err = h
        .accounts
        .authenticate(first.token.expose())
        .await
        .expect_err("enrolment only");
    assert_eq!(err.code(), "second_factor_enrollment_required");
    let session = h
        .accounts
        .authenticate_enrolling(first.token.expose())
        .await
        .expect("may enrol");
    let enrollment = h
        .accounts
        .start_totp_enrollment(&session)
        .await
        .expect("start");
    let code = support::totp_code(&enrollment.secret, h.accounts.now());
    h.accounts
        .confirm_totp_enrollment(&session, &code, &info())
        .await
        .expect("confirm");

    h.clock.advance(Duration::seconds(30));
    let outcome = h
        .accounts
        .login("dora", &Password::new(DIRECTORY_PASSWORD), &info())
        .await
        .expect("password accepted");
    let LoginOutcome::SecondFactorRequired { pending, methods } = outcome else {
        panic!("expected a second factor to be required, got {outcome:?}");
    };
    assert!(methods.contains(&account_core::SecondFactorMethod::Totp));
    let code = support::totp_code(&enrollment.secret, h.accounts.now());
    // The right code with its last digit changed is wrong for certain.
    let mut wrong = code.clone();
    let last = wrong.pop().and_then(|d| d.to_digit(10)).expect("a digit");
    wrong.push(char::from_digit((last + 1) % 10, 10).expect("a digit"));
    let err = h
        .complete_login_with_totp(pending.token.expose(), &wrong)
        .await
        .expect_err("wrong code");
    assert_eq!(err.code(), "invalid_second_factor");
    let signed_in = h
        .complete_login_with_totp(pending.token.expose(), &code)
        .await
        .expect("the code finishes the login");
    assert_eq!(signed_in.session.stage, SessionStage::Full);
    assert_eq!(signed_in.session.assurance, AssuranceLevel::Two);
    let methods: Vec<AuthMethod> = signed_in
        .session
        .authentications
        .iter()
        .map(|a| a.method)
        .collect();
    assert_eq!(methods, [AuthMethod::Password, AuthMethod::Totp]);
    h.accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("a full session");
}

#[tokio::test]
async fn a_local_account_is_never_sent_to_the_directory() {
    let directory = ldap();
    // The directory happens to know a user of the same name, with another password.
    directory.add_user("ada", DIRECTORY_PASSWORD, DirectoryProfile::default());
    let h = harness_with(&directory).await;
    h.sign_up("ada", "ada@example.com").await;
    let err = h
        .login_with("ada", DIRECTORY_PASSWORD, &info())
        .await
        .expect_err("not ada's password here");
    assert_eq!(err.code(), "invalid_credentials");
    let session = h.fresh_session("ada").await;
    h.clock.advance(Duration::minutes(11));
    h.accounts
        .reauthenticate(&enrolling(&session), &Password::new(PASSWORD), &info())
        .await
        .expect("her own password");
    h.accounts
        .update_profile(
            session.account_id,
            ProfileChange {
                display_name: Some(display_name("Ada L.")),
                language: None,
            },
            &info(),
        )
        .await
        .expect("a local profile is the user's");
    assert_eq!(directory.calls(), 0);
}

#[tokio::test]
async fn the_directory_password_never_shows_in_debug_errors_or_events() {
    let directory = ldap();
    let (h, _) = with_dora(&directory).await;
    let signed_in = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect("login");
    let wrong = h
        .login_with("dora", DIRECTORY_PASSWORD.to_uppercase().as_str(), &info())
        .await
        .expect_err("wrong");
    directory.set_down(true);
    let down = h
        .login_with("dora", DIRECTORY_PASSWORD, &info())
        .await
        .expect_err("down");
    let refusal = directory
        .authenticate(
            &Username::parse("dora").expect("username"),
            &Password::new(DIRECTORY_PASSWORD),
        )
        .await
        .expect_err("down");
    let builder = account_core::Accounts::builder(
        h.store.clone(),
        Arc::new(h.mailer.clone()),
        h.accounts.config().clone(),
    )
    .directory(Arc::new(directory.clone()));
    let shown = [
        format!("{directory:?} {directory:#?}"),
        format!("{:?}", h.accounts),
        format!("{builder:?}"),
        format!("{signed_in:?}"),
        format!("{wrong:?} {wrong}"),
        format!("{down:?} {down}"),
        format!("{refusal:?} {refusal}"),
        format!("{:?}", h.events("dora").await),
        format!("{:?}", h.store),
        format!("{:?}", h.mailer.sent()),
    ];
    for shown in shown {
        assert!(!shown.contains(DIRECTORY_PASSWORD), "{shown}");
        assert!(
            !shown.contains(&DIRECTORY_PASSWORD.to_uppercase()),
            "{shown}"
        );
    }
    assert!(matches!(down, Error::DirectoryUnavailable));
}
