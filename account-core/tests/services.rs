//! The services end to end over the in-memory store, a manual clock and a memory mailer.
//!
//! Tests are named after the SECURITY.md rule they show (`a2_...`, `b7_...`), or after the
//! feature they exercise.

mod support;

use account_core::domain::{DisplayName, EmailAddress, Language, Password};
use account_core::model::{EventPage, ProfileChange, SecurityEventKind};
use account_core::password::PasswordRejection;
use account_core::{Error, SignUpOutcome};
use chrono::Duration;
use support::{Harness, PASSWORD, enrolling, info, info_from};

#[tokio::test]
async fn sign_up_sends_a_verification_link_that_verifies_the_address() {
    let h = Harness::new().await;
    let account = h.sign_up("ada", "Ada@Example.com").await;
    assert!(!account.email_verified);
    assert_eq!(account.display_name.as_str(), "ada");
    let link = h.link_sent_to("Ada@example.com", "verify_email").await;
    let (verified, _) = h
        .accounts
        .verify_email(&support::token_of(&link), &info())
        .await
        .expect("link works");
    assert!(verified.email_verified);
    assert_eq!(verified.email.as_str(), "Ada@example.com");
    assert_eq!(
        h.accounts
            .verify_email(&support::token_of(&link), &info())
            .await
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("invalid_token"),
        "a verification link works once"
    );
}

#[tokio::test]
async fn sign_up_refuses_reserved_and_taken_usernames_and_respects_the_policy() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let err = h
        .try_sign_up("ADA", "other@example.com", PASSWORD)
        .await
        .expect_err("taken");
    assert_eq!(err.code(), "username_taken");
    let err = h
        .try_sign_up("admin", "root@example.com", PASSWORD)
        .await
        .expect_err("reserved");
    assert_eq!(
        (err.code(), err.reason().as_deref()),
        ("validation_failed", Some("username_reserved"))
    );

    let mut policy = h.accounts.policy().await.expect("policy");
    policy.allow_reserved_usernames = true;
    h.accounts
        .set_policy(h.admin_id(), policy.clone(), &info())
        .await
        .expect("valid policy");
    h.try_sign_up("admin", "root@example.com", PASSWORD)
        .await
        .expect("the policy allows reserved names");

    policy.allow_signup = false;
    h.accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect("valid policy");
    let err = h
        .try_sign_up("grace", "grace@example.com", PASSWORD)
        .await
        .expect_err("closed");
    assert_eq!(err.code(), "signup_disabled");
}

#[tokio::test]
async fn c11_sign_up_with_an_address_in_use_reveals_nothing_and_tells_the_owner() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.clear_mail().await;
    let outcome = h
        .try_sign_up("grace", "ADA@example.com", PASSWORD)
        .await
        .expect("not an error");
    assert!(matches!(outcome, SignUpOutcome::EmailInUse));
    let mails = h.mailer.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].message.kind(), "sign_up_attempted");
    assert_eq!(mails[0].to.as_str(), "ada@example.com");
    assert!(
        matches!(
            h.accounts.login("grace", &PASSWORD.into(), &info()).await,
            Err(Error::InvalidCredentials)
        ),
        "nothing was made"
    );
}

#[tokio::test]
async fn a5_sign_up_refuses_username_and_common_passwords_with_a_reason() {
    let h = Harness::new().await;
    let err = h
        .try_sign_up("margaret", "m@example.com", "margaret-1234567")
        .await
        .expect_err("context word");
    assert_eq!(
        (err.code(), err.reason().as_deref()),
        ("weak_password", Some("contains_username"))
    );
    let err = h
        .try_sign_up("margaret", "m@example.com", "password")
        .await
        .expect_err("common");
    assert_eq!(err.reason().as_deref(), Some("common"));
    let err = h
        .try_sign_up("margaret", "m@example.com", "short")
        .await
        .expect_err("short");
    assert_eq!(err.reason().as_deref(), Some("too_short"));
}

#[tokio::test]
async fn login_works_with_username_or_email_and_records_device_details() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let by_name = h
        .login_with("ada", PASSWORD, &info_from("203.0.113.7", ua))
        .await
        .expect("by username");
    let by_mail = h
        .login_with("ADA@example.com", PASSWORD, &info())
        .await
        .expect("by email");
    assert_ne!(by_name.token.expose(), by_mail.token.expose());
    let session = h
        .accounts
        .authenticate(by_name.token.expose())
        .await
        .expect("valid");
    assert_eq!(session.ip, Some("203.0.113.7".parse().expect("ip")));
    assert_eq!(session.device.engine.as_deref(), Some("Gecko"));
    assert_eq!(session.device.cpu_arch.as_deref(), Some("x86_64"));
    assert!(
        session
            .device
            .browser
            .as_deref()
            .is_some_and(|b| b.starts_with("Firefox"))
    );
    // The newest login came from a new device and network, so its notice is newer still.
    let events = h.events("ada").await;
    assert_eq!(events[0].kind, SecurityEventKind::NewSignInNotified);
    assert_eq!(events[1].kind, SecurityEventKind::LoginSucceeded);
    assert_eq!(
        events[1].details.get("method").map(String::as_str),
        Some("password")
    );
}

#[tokio::test]
async fn c11_unknown_user_wrong_password_disabled_and_locked_answer_alike() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    h.sign_up("eve", "eve@example.com").await;
    h.disable("bob").await;
    for _ in 0..5 {
        let _ = h.login_with("eve", "wrong password here", &info()).await;
    }
    let answers = [
        h.login_with("nobody", PASSWORD, &info())
            .await
            .expect_err("unknown"),
        h.login_with("ada", "wrong password here", &info())
            .await
            .expect_err("wrong"),
        h.login_with("bob", PASSWORD, &info())
            .await
            .expect_err("disabled"),
        h.login_with("eve", PASSWORD, &info())
            .await
            .expect_err("throttled"),
    ];
    for e in &answers {
        assert_eq!(
            (e.code(), e.to_string()),
            (
                "invalid_credentials",
                "the login or the password is wrong".to_owned()
            )
        );
    }
}

#[tokio::test]
async fn c12_unknown_user_still_costs_one_verification() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let before = h.accounts.password_verifications();
    let _ = h.login_with("nobody", PASSWORD, &info()).await;
    let _ = h.login_with("nobody@example.com", PASSWORD, &info()).await;
    let _ = h.login_with("ada", "wrong password here", &info()).await;
    assert_eq!(
        h.accounts.password_verifications() - before,
        3,
        "one verification per attempt, known or not"
    );
}

#[tokio::test]
async fn a4_one_mebibyte_password_refused_before_lookup_and_128_chars_round_trip() {
    let h = Harness::new().await;
    let long = "correct horse battery staple ".repeat(5)[..128].to_owned();
    h.try_sign_up("ada", "ada@example.com", &long)
        .await
        .expect("128 characters are fine");
    h.login_with("ada", &long, &info())
        .await
        .expect("and round-trip without truncation");
    let before = h.accounts.password_verifications();
    let huge = "x".repeat(1 << 20);
    let err = h
        .login_with("ada", &huge, &info())
        .await
        .expect_err("too large");
    assert_eq!(
        (err.code(), err.reason().as_deref()),
        ("weak_password", Some("too_large"))
    );
    assert_eq!(
        h.accounts.password_verifications(),
        before,
        "refused before any hashing"
    );
}

#[tokio::test]
async fn a2_login_upgrades_a_hash_below_policy() {
    let h = Harness::with_default_hashing().await;
    h.sign_up("ada", "ada@example.com").await;
    let id = h.id_of("ada").await;
    let weak = support::weak_hash(PASSWORD).await;
    assert!(weak.as_phc().contains("m=4096"));
    h.replace_password_hash(id, &weak).await;
    h.login_with("ada", PASSWORD, &info()).await.expect("login");
    let stored = h.password_hash_of(id).await;
    assert!(
        stored
            .as_phc()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "upgraded: {stored:?}"
    );
    assert_eq!(
        h.events("ada")
            .await
            .iter()
            .filter(|e| e.kind == SecurityEventKind::PasswordHashUpgraded)
            .count(),
        1
    );
    h.login_with("ada", PASSWORD, &info())
        .await
        .expect("the upgraded hash verifies");
}

#[tokio::test]
async fn b7_hundred_failures_from_rotating_ips_lock_the_account_until_a_reset() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    for i in 0..100u32 {
        let ip = format!("198.51.100.{}", i % 250);
        let err = h
            .login_with("ada", "wrong password here", &info_from(&ip, "curl/8"))
            .await
            .expect_err("wrong");
        assert_eq!(err.code(), "invalid_credentials");
        // Wait out the growing delay so that each attempt is really checked.
        h.clock.advance(Duration::hours(1) + Duration::seconds(1));
    }
    let err = h
        .login_with("ada", PASSWORD, &info_from("192.0.2.1", "curl/8"))
        .await
        .expect_err("locked");
    assert_eq!(
        err.code(),
        "invalid_credentials",
        "the correct password is refused while locked"
    );
    assert!(
        h.events("ada")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::LoginLocked)
    );
    assert!(
        h.mailer
            .wait_for(2)
            .await
            .iter()
            .any(|m| m.message.kind() == "account_temporarily_locked")
    );

    // A reset still works while locked, and clears the lock.
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let link = h.link_sent_to("ada@example.com", "password_reset").await;
    h.accounts
        .reset_password(
            &support::token_of(&link),
            &"a brand new passphrase".into(),
            &info(),
        )
        .await
        .expect("reset");
    h.login_with("ada", "a brand new passphrase", &info())
        .await
        .expect("unlocked by the reset");
}

#[tokio::test]
async fn b7_delays_grow_after_five_failures_and_are_counted_per_account() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    for _ in 0..5 {
        let _ = h.login_with("ada", "wrong password here", &info()).await;
    }
    let before = h.accounts.password_verifications();
    assert!(
        matches!(
            h.login_with("ada", PASSWORD, &info()).await,
            Err(Error::InvalidCredentials)
        ),
        "the sixth attempt waits 30 s"
    );
    h.clock.advance(Duration::seconds(31));
    h.login_with("ada", PASSWORD, &info())
        .await
        .expect("after the delay the right password works");
    assert_eq!(
        h.accounts.password_verifications() - before,
        2,
        "a throttled attempt still costs one (dummy) verification"
    );
    for _ in 0..5 {
        let _ = h.login_with("ada", "wrong password here", &info()).await;
    }
    h.clock.advance(Duration::seconds(31));
    h.login_with("ada", PASSWORD, &info())
        .await
        .expect("a success cleared the counter before");
}

#[tokio::test]
async fn a6_password_change_needs_the_current_password_and_ends_other_sessions() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let laptop = h
        .login_with("ada", PASSWORD, &info())
        .await
        .expect("laptop");
    let phone = h.login_with("ada", PASSWORD, &info()).await.expect("phone");
    let current = h
        .accounts
        .authenticate(laptop.token.expose())
        .await
        .expect("valid");
    let err = h
        .accounts
        .change_password(
            &current,
            &"not my password".into(),
            &"a brand new passphrase".into(),
            &info(),
        )
        .await
        .expect_err("wrong current");
    assert_eq!(err.code(), "current_password_incorrect");
    let err = h
        .accounts
        .change_password(&current, &PASSWORD.into(), &"ada".into(), &info())
        .await
        .expect_err("weak new");
    assert_eq!(err.code(), "weak_password");
    let changed = h
        .accounts
        .change_password(
            &current,
            &PASSWORD.into(),
            &"a brand new passphrase".into(),
            &info(),
        )
        .await
        .expect("changed");
    assert!(
        matches!(
            h.accounts.authenticate(phone.token.expose()).await,
            Err(Error::Unauthenticated)
        ),
        "the other device is signed out"
    );
    assert!(
        matches!(
            h.accounts.authenticate(laptop.token.expose()).await,
            Err(Error::Unauthenticated)
        ),
        "the old token of this device died"
    );
    h.accounts
        .authenticate(changed.token.expose())
        .await
        .expect("the rotated token works");
    assert!(matches!(
        h.login_with("ada", PASSWORD, &info()).await,
        Err(Error::InvalidCredentials)
    ));
    h.login_with("ada", "a brand new passphrase", &info())
        .await
        .expect("new password");
    assert!(
        h.mailer
            .wait_for(2)
            .await
            .iter()
            .any(|m| m.message.kind() == "password_changed")
    );
}

#[tokio::test]
async fn d14_reset_token_is_single_use_expires_and_is_stored_only_as_a_digest() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let link = h.link_sent_to("ada@example.com", "password_reset").await;
    let token = support::token_of(&link);
    assert_eq!(token.len(), 43, "256 bits in base64url");
    assert!(
        !format!("{:?}", h.store).contains(&token),
        "the store never holds the token"
    );
    h.accounts
        .reset_password(&token, &"a brand new passphrase".into(), &info())
        .await
        .expect("first use");
    let err = h
        .accounts
        .reset_password(&token, &"another new passphrase".into(), &info())
        .await
        .expect_err("reuse");
    assert_eq!(err.code(), "invalid_token");

    h.clear_mail().await;
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let late = support::token_of(&h.link_sent_to("ada@example.com", "password_reset").await);
    h.clock.advance(Duration::minutes(31));
    let err = h
        .accounts
        .reset_password(&late, &"another new passphrase".into(), &info())
        .await
        .expect_err("expired");
    assert_eq!(err.code(), "invalid_token");
}

#[tokio::test]
async fn d14_a_newer_link_or_a_password_change_kills_the_older_link() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let first = support::token_of(&h.link_sent_to("ada@example.com", "password_reset").await);
    h.clear_mail().await;
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let second = support::token_of(&h.link_sent_to("ada@example.com", "password_reset").await);
    let err = h
        .accounts
        .reset_password(&first, &"a brand new passphrase".into(), &info())
        .await
        .expect_err("superseded");
    assert_eq!(err.code(), "invalid_token");

    let signed_in = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    let session = h
        .accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("valid");
    h.accounts
        .change_password(
            &session,
            &PASSWORD.into(),
            &"a brand new passphrase".into(),
            &info(),
        )
        .await
        .expect("changed");
    let err = h
        .accounts
        .reset_password(&second, &"another new passphrase".into(), &info())
        .await
        .expect_err("dead");
    assert_eq!(err.code(), "invalid_token");
}

#[tokio::test]
async fn d14_a_refused_new_password_does_not_use_up_the_link() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let token = support::token_of(&h.link_sent_to("ada@example.com", "password_reset").await);
    let err = h
        .accounts
        .reset_password(&token, &"password".into(), &info())
        .await
        .expect_err("common");
    assert_eq!(err.code(), "weak_password");
    h.accounts
        .reset_password(&token, &"a brand new passphrase".into(), &info())
        .await
        .expect("the link still works");
}

#[tokio::test]
async fn c11_forgot_password_answers_the_same_for_every_address() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.clear_mail().await;
    let known = h
        .accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await;
    let unknown = h
        .accounts
        .request_password_reset(&email("nobody@example.com"), &info())
        .await;
    assert_eq!(format!("{known:?}"), format!("{unknown:?}"));
    let mails = h.mailer.wait_for(1).await;
    assert_eq!(mails.len(), 1, "mail only for the real account");
}

#[tokio::test]
async fn d15_reset_link_uses_the_configured_public_url_and_goes_to_the_recovery_address() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    h.accounts
        .set_recovery_email(&session, Some(email("ada.backup@example.org")), &info())
        .await
        .expect("requested");
    let link = h
        .link_sent_to("ada.backup@example.org", "verify_recovery_email")
        .await;
    h.accounts
        .verify_email(&support::token_of(&link), &info())
        .await
        .expect("verified");
    h.clear_mail().await;
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let link = h
        .link_sent_to("ada.backup@example.org", "password_reset")
        .await;
    assert!(
        link.as_str()
            .starts_with("https://accounts.example.com/account/reset-password?token="),
        "{link}"
    );
    assert!(
        h.mailer.sent_to("ada@example.com").is_empty(),
        "the reset went to the recovery address only"
    );
}

#[tokio::test]
async fn d16_reset_ends_every_session_signs_nobody_in_and_notifies() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let before = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("accepted");
    let token = support::token_of(&h.link_sent_to("ada@example.com", "password_reset").await);
    let account = h
        .accounts
        .reset_password(&token, &"a brand new passphrase".into(), &info())
        .await
        .expect("reset");
    assert_eq!(account.username.as_str(), "ada");
    assert!(
        matches!(
            h.accounts.authenticate(before.token.expose()).await,
            Err(Error::Unauthenticated)
        ),
        "every session ended"
    );
    let session = h.fresh_session_with("ada", "a brand new passphrase").await;
    assert_eq!(
        h.accounts
            .sessions(session.account_id, Some(session.id))
            .await
            .expect("list")
            .len(),
        1,
        "the reset made no session"
    );
    assert!(
        h.mailer
            .wait_for(3)
            .await
            .iter()
            .any(|m| m.message.kind() == "password_was_reset")
    );
    assert!(
        h.events("ada")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::PasswordReset)
    );
}

#[tokio::test]
async fn e17_primary_unchanged_until_confirmed_and_old_inbox_notified() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    h.clear_mail().await;
    h.accounts
        .request_email_change(&session, email("ada@newmail.example"), &info())
        .await
        .expect("requested");
    let mails = h.mailer.wait_for(2).await;
    assert!(mails.iter().any(
        |m| m.to.as_str() == "ada@example.com" && m.message.kind() == "email_change_requested"
    ));
    assert_eq!(
        h.account("ada").await.email.as_str(),
        "ada@example.com",
        "unchanged until the link is used"
    );
    let link = h.link_sent_to("ada@newmail.example", "verify_email").await;
    let (account, _) = h
        .accounts
        .verify_email(&support::token_of(&link), &info())
        .await
        .expect("confirmed");
    assert_eq!(account.email.as_str(), "ada@newmail.example");
    assert!(account.email_verified);
    assert!(
        h.mailer
            .wait_for(4)
            .await
            .iter()
            .any(|m| m.to.as_str() == "ada@example.com" && m.message.kind() == "email_changed")
    );
    h.login_with("ada@newmail.example", PASSWORD, &info())
        .await
        .expect("log in with the new address");
    assert!(matches!(
        h.login_with("ada@example.com", PASSWORD, &info()).await,
        Err(Error::InvalidCredentials)
    ));
}

#[tokio::test]
async fn e17_an_address_in_use_gets_the_same_answer_and_no_link() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let session = h.fresh_session("ada").await;
    h.clear_mail().await;
    let taken = h
        .accounts
        .request_email_change(&session, email("BOB@example.com"), &info())
        .await;
    let free = h
        .accounts
        .request_email_change(&session, email("free@example.com"), &info())
        .await;
    assert_eq!(format!("{taken:?}"), format!("{free:?}"));
    let mails = h.mailer.wait_for(3).await;
    assert!(
        mails.iter().all(|m| m.to.as_str() != "bob@example.com"),
        "the other owner's inbox gets nothing"
    );
}

#[tokio::test]
async fn e17_recovery_email_is_active_only_after_confirmation() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    h.accounts
        .set_recovery_email(&session, Some(email("backup@example.org")), &info())
        .await
        .expect("requested");
    assert_eq!(h.account("ada").await.recovery_email, None);
    let link = h
        .link_sent_to("backup@example.org", "verify_recovery_email")
        .await;
    h.accounts
        .verify_email(&support::token_of(&link), &info())
        .await
        .expect("confirmed");
    assert_eq!(
        h.account("ada").await.recovery_email,
        Some(email("backup@example.org"))
    );
    h.accounts
        .set_recovery_email(&session, None, &info())
        .await
        .expect("removed");
    assert_eq!(h.account("ada").await.recovery_email, None);
}

#[tokio::test]
async fn g23_stale_session_cannot_change_email_until_it_reauthenticates() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let signed_in = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    h.clock.advance(Duration::minutes(11));
    let stale = h
        .accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("still a valid session");
    assert!(!h.accounts.is_fresh(&stale).await.expect("policy"));
    let err = h
        .accounts
        .request_email_change(&stale, email("new@example.com"), &info())
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "reauthentication_required");
    let err = h
        .accounts
        .set_recovery_email(&stale, None, &info())
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "reauthentication_required");
    let again = h
        .accounts
        .reauthenticate(&enrolling(&stale), &PASSWORD.into(), &info())
        .await
        .expect("reauthenticated");
    let fresh = h
        .accounts
        .authenticate(again.token.expose())
        .await
        .expect("valid");
    h.accounts
        .request_email_change(&fresh, email("new@example.com"), &info())
        .await
        .expect("fresh again");
}

#[tokio::test]
async fn b10_reauthentication_rotates_the_session_token() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let signed_in = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    let session = h
        .accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("valid");
    let err = h
        .accounts
        .reauthenticate(&enrolling(&session), &"wrong password here".into(), &info())
        .await
        .expect_err("wrong");
    assert_eq!(err.code(), "invalid_credentials");
    let again = h
        .accounts
        .reauthenticate(&enrolling(&session), &PASSWORD.into(), &info())
        .await
        .expect("ok");
    assert_ne!(again.token.expose(), signed_in.token.expose());
    assert_eq!(
        again.session.id, session.id,
        "the same session, with a new token"
    );
    assert!(
        matches!(
            h.accounts.authenticate(signed_in.token.expose()).await,
            Err(Error::Unauthenticated)
        ),
        "the pre-reauthentication token is dead"
    );
    h.accounts
        .authenticate(again.token.expose())
        .await
        .expect("the new token works");
}

#[tokio::test]
async fn f18_unknown_or_malformed_session_tokens_are_refused() {
    let h = Harness::new().await;
    for token in ["", "nonsense", &"A".repeat(43), &"é".repeat(43)] {
        assert_eq!(
            h.accounts
                .authenticate(token)
                .await
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("unauthenticated")
        );
    }
}

#[tokio::test]
async fn f20_idle_session_expires_after_61_minutes_and_absolute_after_24_hours() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let idle = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    let busy = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    h.clock.advance(Duration::minutes(59));
    h.accounts
        .authenticate(busy.token.expose())
        .await
        .expect("used within the hour");
    h.clock.advance(Duration::minutes(2));
    assert!(
        matches!(
            h.accounts.authenticate(idle.token.expose()).await,
            Err(Error::Unauthenticated)
        ),
        "61 minutes idle"
    );
    for _ in 0..24 {
        h.accounts
            .authenticate(busy.token.expose())
            .await
            .expect("kept alive by use");
        h.clock.advance(Duration::minutes(59));
    }
    assert!(
        matches!(
            h.accounts.authenticate(busy.token.expose()).await,
            Err(Error::Unauthenticated)
        ),
        "24 hours absolute"
    );
}

#[tokio::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let s = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    let created = s.session.last_seen_at;
    h.clock.advance(Duration::seconds(30));
    h.accounts
        .authenticate(s.token.expose())
        .await
        .expect("valid");
    assert_eq!(
        h.stored_session(&s).await.last_seen_at,
        created,
        "no write within the minute"
    );
    h.clock.advance(Duration::seconds(31));
    let seen = h
        .accounts
        .authenticate(s.token.expose())
        .await
        .expect("valid")
        .last_seen_at;
    assert_eq!(seen, created + Duration::seconds(61));
    assert_eq!(
        h.stored_session(&s).await.last_seen_at,
        seen,
        "written once the minute passed"
    );
}

#[tokio::test]
async fn f21_logged_out_token_is_refused() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let s = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    let session = h
        .accounts
        .authenticate(s.token.expose())
        .await
        .expect("valid");
    h.accounts
        .logout(&enrolling(&session), &info())
        .await
        .expect("logout");
    assert!(matches!(
        h.accounts.authenticate(s.token.expose()).await,
        Err(Error::Unauthenticated)
    ));
}

#[tokio::test]
async fn f22_a_revokes_b_and_b_is_refused_and_the_list_marks_the_current_one() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    let a = h.login_with("ada", PASSWORD, &info()).await.expect("a");
    let b = h
        .login_with("ada", PASSWORD, &info_from("2001:db8::1", iphone))
        .await
        .expect("b");
    let c = h.login_with("ada", PASSWORD, &info()).await.expect("c");
    let current = h
        .accounts
        .authenticate(a.token.expose())
        .await
        .expect("valid");
    let list = h
        .accounts
        .sessions(current.account_id, Some(current.id))
        .await
        .expect("list");
    assert_eq!(list.len(), 3);
    assert_eq!(
        list.iter()
            .filter(|v| v.current)
            .map(|v| v.session.id)
            .collect::<Vec<_>>(),
        vec![a.session.id]
    );
    let phone = list
        .iter()
        .find(|v| v.session.id == b.session.id)
        .expect("b listed");
    assert_eq!(phone.session.device.device.as_deref(), Some("iPhone"));
    assert_eq!(phone.session.ip, Some("2001:db8::1".parse().expect("ip")));

    h.accounts
        .revoke_session(&current, b.session.id, &info())
        .await
        .expect("revoked");
    assert!(matches!(
        h.accounts.authenticate(b.token.expose()).await,
        Err(Error::Unauthenticated)
    ));
    let err = h
        .accounts
        .revoke_session(&current, b.session.id, &info())
        .await
        .expect_err("gone");
    assert_eq!(err.code(), "not_found");
    assert_eq!(
        h.accounts
            .revoke_other_sessions(&current, &info())
            .await
            .expect("others"),
        1
    );
    assert!(matches!(
        h.accounts.authenticate(c.token.expose()).await,
        Err(Error::Unauthenticated)
    ));
    h.accounts
        .authenticate(a.token.expose())
        .await
        .expect("the current one stays");
}

#[tokio::test]
async fn f22_a_stale_session_cannot_revoke_others_nor_another_accounts_session() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let a = h.login_with("ada", PASSWORD, &info()).await.expect("a");
    let a2 = h.login_with("ada", PASSWORD, &info()).await.expect("a2");
    let bob = h.login_with("bob", PASSWORD, &info()).await.expect("bob");
    let current = h
        .accounts
        .authenticate(a.token.expose())
        .await
        .expect("valid");
    let err = h
        .accounts
        .revoke_session(&current, bob.session.id, &info())
        .await
        .expect_err("not ada's");
    assert_eq!(err.code(), "not_found");
    h.accounts
        .authenticate(bob.token.expose())
        .await
        .expect("bob's session survives");
    h.clock.advance(Duration::minutes(11));
    let stale = h
        .accounts
        .authenticate(a.token.expose())
        .await
        .expect("valid");
    let err = h
        .accounts
        .revoke_session(&stale, a2.session.id, &info())
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "reauthentication_required");
    assert_eq!(
        h.accounts
            .revoke_other_sessions(&stale, &info())
            .await
            .map_err(|e| e.code()),
        Err("reauthentication_required")
    );
}

#[tokio::test]
async fn profile_changes_display_name_and_language_but_locked_profiles_refuse_the_name() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let change = ProfileChange {
        display_name: Some(DisplayName::parse("Ada Lovelace").expect("valid")),
        language: Some(Some(Language::parse("en-GB").expect("valid"))),
    };
    let account = h
        .accounts
        .update_profile(session.account_id, change, &info())
        .await
        .expect("updated");
    assert_eq!(account.display_name.as_str(), "Ada Lovelace");
    assert_eq!(
        account.language.as_ref().map(Language::as_str),
        Some("en-GB")
    );
    assert_eq!(
        account.username.as_str(),
        "ada",
        "the username never changes"
    );

    let mut policy = h.accounts.policy().await.expect("policy");
    policy.lock_profiles = true;
    h.accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect("valid");
    let err = h
        .accounts
        .update_profile(
            session.account_id,
            ProfileChange {
                display_name: Some(DisplayName::parse("A").expect("valid")),
                language: None,
            },
            &info(),
        )
        .await
        .expect_err("locked");
    assert_eq!(err.code(), "profile_locked");
    let err = h
        .accounts
        .request_email_change(&session, email("x@example.com"), &info())
        .await
        .expect_err("locked");
    assert_eq!(err.code(), "profile_locked");
    let err = h
        .accounts
        .set_recovery_email(&session, None, &info())
        .await
        .expect_err("locked");
    assert_eq!(err.code(), "profile_locked");
    h.accounts
        .update_profile(
            session.account_id,
            ProfileChange {
                display_name: None,
                language: Some(None),
            },
            &info(),
        )
        .await
        .expect("the language stays the user's to choose");
}

#[tokio::test]
async fn external_directory_accounts_refuse_name_email_and_password_changes() {
    let h = Harness::new().await;
    let account = h.create_external("dora", "dora@example.com").await;
    let session = h.session_for_external(&account).await;
    let err = h
        .accounts
        .update_profile(
            session.account_id,
            ProfileChange {
                display_name: Some(DisplayName::parse("D").expect("valid")),
                language: None,
            },
            &info(),
        )
        .await
        .expect_err("external");
    assert_eq!(err.code(), "managed_by_directory");
    let err = h
        .accounts
        .request_email_change(&session, email("d2@example.com"), &info())
        .await
        .expect_err("external");
    assert_eq!(err.code(), "managed_by_directory");
}

#[tokio::test]
async fn avatar_upload_read_back_and_delete() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let png = support::png(600, 400);
    let account = h
        .accounts
        .set_avatar(session.account_id, png, &info())
        .await
        .expect("stored");
    assert!(account.avatar_updated_at.is_some());
    let avatar = h.accounts.avatar(account.id).await.expect("there");
    assert_eq!(avatar.content_type(), "image/png");
    let decoded = image::load_from_memory(&avatar.bytes).expect("decodes");
    assert_eq!((decoded.width(), decoded.height()), (256, 256));
    let err = h
        .accounts
        .set_avatar(session.account_id, b"GIF89a not really".to_vec(), &info())
        .await
        .expect_err("gif");
    assert_eq!(
        (err.code(), err.reason().as_deref()),
        ("invalid_avatar", Some("avatar_unsupported_format"))
    );
    let err = h
        .accounts
        .set_avatar(session.account_id, vec![0u8; (1 << 20) + 1], &info())
        .await
        .expect_err("big");
    assert_eq!(err.reason().as_deref(), Some("avatar_too_large"));
    let account = h
        .accounts
        .remove_avatar(session.account_id, &info())
        .await
        .expect("removed");
    assert_eq!(account.avatar_updated_at, None);
    assert_eq!(
        h.accounts
            .avatar(account.id)
            .await
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("not_found")
    );
}

#[tokio::test]
async fn security_log_lists_every_action_newest_first_in_pages() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    for _ in 0..3 {
        h.login_with("ada", PASSWORD, &info()).await.expect("login");
        h.clock.advance(Duration::seconds(1));
    }
    let _ = h
        .login_with(
            "ada",
            "wrong password here",
            &info_from("192.0.2.9", "curl/8.5"),
        )
        .await;
    let id = h.id_of("ada").await;
    let first = h
        .accounts
        .security_events(
            account_core::model::EventFilter::account(id),
            EventPage {
                before: None,
                limit: 2,
            },
        )
        .await
        .expect("page");
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].kind, SecurityEventKind::LoginFailed);
    assert_eq!(first[0].ip, Some("192.0.2.9".parse().expect("ip")));
    assert_eq!(first[0].user_agent.as_deref(), Some("curl/8.5"));
    let rest = h
        .accounts
        .security_events(
            account_core::model::EventFilter::account(id),
            EventPage {
                before: Some(first[1].cursor()),
                limit: 50,
            },
        )
        .await
        .expect("page");
    let kinds: Vec<_> = first.iter().chain(&rest).map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            SecurityEventKind::LoginFailed,
            SecurityEventKind::LoginSucceeded,
            SecurityEventKind::LoginSucceeded,
            SecurityEventKind::LoginSucceeded,
            SecurityEventKind::SignedUp
        ]
    );
}

#[tokio::test]
async fn a_failing_mailer_never_fails_the_action() {
    let h = Harness::with_mailer(account_core::mail::MemoryMailer::failing()).await;
    h.sign_up("ada", "ada@example.com").await;
    h.accounts
        .request_password_reset(&email("ada@example.com"), &info())
        .await
        .expect("still answers");
    h.login_with("ada", PASSWORD, &info()).await.expect("login");
}

#[tokio::test]
async fn admin_creation_allows_reserved_names_sets_no_password_and_sends_a_setup_link() {
    let h = Harness::new().await;
    let account = h.create_by_admin("admin", "boss@example.com").await;
    assert_eq!(account.username.as_str(), "admin");
    assert!(
        matches!(
            h.login_with("admin", PASSWORD, &info()).await,
            Err(Error::InvalidCredentials)
        ),
        "no password until the owner sets one"
    );
    let link = h.link_sent_to("boss@example.com", "account_setup").await;
    h.accounts
        .reset_password(
            &support::token_of(&link),
            &"the owner's own passphrase".into(),
            &info(),
        )
        .await
        .expect("set");
    h.login_with("admin", "the owner's own passphrase", &info())
        .await
        .expect("login");
    let events = h.events("admin").await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == SecurityEventKind::CreatedByAdmin)
    );
}

#[tokio::test]
async fn policy_refuses_numbers_that_lock_everyone_out() {
    let h = Harness::new().await;
    let mut policy = h.accounts.policy().await.expect("policy");
    policy.sessions.idle_timeout_secs = 0;
    let err = h
        .accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), "invalid_policy");
}

#[tokio::test]
async fn weak_password_rejection_names_the_reason() {
    assert_eq!(
        Error::from(PasswordRejection::Common).reason().as_deref(),
        Some("common")
    );
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).expect("valid address")
}

#[allow(dead_code)]
fn password(s: &str) -> Password {
    Password::new(s)
}

#[tokio::test]
async fn rate_limits_count_per_key_in_fixed_windows() {
    let h = Harness::new().await;
    let limit = account_core::RateLimit::per_minute(3);
    for _ in 0..3 {
        h.accounts
            .check_rate_limit("login:192.0.2.1", limit)
            .await
            .expect("within the limit");
    }
    let err = h
        .accounts
        .check_rate_limit("login:192.0.2.1", limit)
        .await
        .expect_err("over");
    assert_eq!(err.code(), "rate_limited");
    assert!(
        matches!(err, Error::RateLimited { retry_after_secs } if (1..=60).contains(&retry_after_secs))
    );
    h.accounts
        .check_rate_limit("login:192.0.2.2", limit)
        .await
        .expect("another address has its own count");
    h.clock.advance(Duration::minutes(1));
    h.accounts
        .check_rate_limit("login:192.0.2.1", limit)
        .await
        .expect("a new window");
}

#[tokio::test]
async fn bootstrap_admin_is_created_once_with_the_given_password() {
    let h = Harness::new().await;
    let username = account_core::domain::Username::parse("admin").expect("valid");
    let created = h
        .accounts
        .ensure_admin(
            username.clone(),
            email("admin@example.com"),
            &"the operator's passphrase".into(),
        )
        .await
        .expect("created");
    assert!(created.is_some());
    let again = h
        .accounts
        .ensure_admin(
            username,
            email("admin@example.com"),
            &"another passphrase entirely".into(),
        )
        .await
        .expect("exists");
    assert!(again.is_none(), "a second start changes nothing");
    let admin = h.account("admin").await;
    assert_eq!(admin.role, account_core::model::Role::Admin);
    assert!(admin.email_verified);
    h.login_with("admin", "the operator's passphrase", &info())
        .await
        .expect("login");
}

#[tokio::test]
async fn purge_removes_expired_sessions_and_links_only() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let old = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    h.clock.advance(Duration::minutes(50));
    let young = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    h.clock.advance(Duration::minutes(15));
    let (sessions, _) = h.accounts.purge_expired().await.expect("purge");
    assert_eq!(sessions, 1, "only the idle session went");
    assert!(matches!(
        h.accounts.authenticate(old.token.expose()).await,
        Err(Error::Unauthenticated)
    ));
    h.accounts
        .authenticate(young.token.expose())
        .await
        .expect("the young one stays");
    h.clock.advance(Duration::hours(25));
    let (_, challenges) = h.accounts.purge_expired().await.expect("purge");
    assert_eq!(challenges, 1, "the day-old sign-up verification link went");
}
