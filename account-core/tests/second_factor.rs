//! The login flow with a second factor: the pending session and its limits, finishing
//! with TOTP or a recovery code, re-authentication at the account's strongest level, the
//! "require 2FA" policy, and the administrator's reset.

mod support;

use account_core::model::{AssuranceLevel, AuthMethod, SecurityEventKind, SessionStage};
use account_core::{Error, LoginOutcome, SecondFactorMethod, SignedIn};
use chrono::Duration;
use support::{Harness, PASSWORD, enrolling, info};

/// Signs `ada` up, logs in, and enrols TOTP; returns the base32 secret and the codes.
async fn ada_with_totp(h: &Harness) -> (Vec<u8>, Vec<String>) {
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let enrollment = h
        .accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect("start");
    let secret = totp_rs::Secret::try_from_base32(&enrollment.secret)
        .expect("base32")
        .as_ref()
        .to_vec();
    let code = code_at(&secret, h.accounts.now().timestamp());
    let confirmed = h
        .accounts
        .confirm_totp_enrollment(&enrolling(&session), &code, &info())
        .await
        .expect("confirm");
    let codes = confirmed.recovery_codes.expose().to_vec();
    // Later codes must come from later steps: each step is accepted once.
    h.clock.advance(Duration::seconds(30));
    (secret, codes)
}

fn code_at(secret: &[u8], unix: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(0)
        .with_secret(secret.to_vec())
        .build()
        .expect("valid TOTP");
    totp.generate(u64::try_from(unix).expect("after 1970"))
        .to_string()
}

async fn password_step(
    h: &Harness,
    login: &str,
    password: &str,
) -> (SignedIn, Vec<SecondFactorMethod>) {
    match h
        .accounts
        .login(login, &password.into(), &info())
        .await
        .expect("right password")
    {
        LoginOutcome::SecondFactorRequired { pending, methods } => (pending, methods),
        other => panic!("expected a second factor to be required, got {other:?}"),
    }
}

#[tokio::test]
async fn a_password_alone_gives_a_pending_session_that_is_not_signed_in() {
    let h = Harness::new().await;
    ada_with_totp(&h).await;
    let (pending, methods) = password_step(&h, "ada", PASSWORD).await;
    assert_eq!(
        methods,
        [SecondFactorMethod::Totp, SecondFactorMethod::RecoveryCode]
    );
    assert!(matches!(
        pending.session.stage,
        SessionStage::SecondFactorPending { attempts: 0 }
    ));
    assert_eq!(
        h.accounts
            .authenticate(pending.token.expose())
            .await
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("unauthenticated"),
        "only the second-factor steps accept a pending session"
    );
    h.accounts
        .authenticate_pending(pending.token.expose())
        .await
        .expect("the second-factor steps do");
}

#[tokio::test]
async fn totp_finishes_the_login_at_level_two_with_both_methods() {
    let h = Harness::new().await;
    let (secret, _) = ada_with_totp(&h).await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    let code = code_at(&secret, h.accounts.now().timestamp());
    let signed_in = h
        .complete_login_with_totp(pending.token.expose(), &code)
        .await
        .expect("code");
    assert_eq!(signed_in.session.assurance, AssuranceLevel::Two);
    assert_eq!(signed_in.session.stage, SessionStage::Full);
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
    assert!(
        matches!(
            h.accounts
                .authenticate_pending(pending.token.expose())
                .await,
            Err(Error::Unauthenticated)
        ),
        "the pending session is gone"
    );
    let events = h.events("ada").await;
    assert_eq!(events[0].kind, SecurityEventKind::LoginSucceeded);
    assert_eq!(
        events[0].details.get("method").map(String::as_str),
        Some("totp")
    );
}

#[tokio::test]
async fn a_recovery_code_finishes_the_login_once() {
    let h = Harness::new().await;
    let (_, codes) = ada_with_totp(&h).await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    h.complete_login_with_recovery_code(pending.token.expose(), &codes[0])
        .await
        .expect("code");
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    let err = h
        .complete_login_with_recovery_code(pending.token.expose(), &codes[0])
        .await
        .expect_err("used");
    assert_eq!(err.code(), "invalid_second_factor");
    assert_eq!(
        h.accounts
            .second_factors(h.id_of("ada").await)
            .await
            .expect("factors")
            .recovery_codes_left,
        9
    );
}

#[tokio::test]
async fn the_pending_session_allows_five_attempts_and_five_minutes() {
    let h = Harness::new().await;
    let (secret, _) = ada_with_totp(&h).await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    // Each of the five is refused as a wrong code; the fifth also ends the pending
    // session.
    for _ in 0..5 {
        let err = h
            .complete_login_with_totp(pending.token.expose(), "000000")
            .await
            .expect_err("wrong");
        assert!(matches!(err, Error::InvalidSecondFactor), "{err:?}");
    }
    h.clock.advance(Duration::seconds(31));
    let right = code_at(&secret, h.accounts.now().timestamp());
    assert!(
        matches!(
            h.complete_login_with_totp(pending.token.expose(), &right)
                .await,
            Err(Error::Unauthenticated)
        ),
        "after five wrong codes the pending session is dead, even for the right code"
    );

    let h = Harness::new().await;
    let (secret, _) = ada_with_totp(&h).await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    h.clock.advance(Duration::minutes(5) + Duration::seconds(1));
    let right = code_at(&secret, h.accounts.now().timestamp());
    let err = h
        .complete_login_with_totp(pending.token.expose(), &right)
        .await
        .expect_err("expired");
    assert_eq!(err.code(), "unauthenticated");
}

#[tokio::test]
async fn b8_second_factor_failures_are_throttled_per_account_across_sessions() {
    let h = Harness::new().await;
    let (secret, _) = ada_with_totp(&h).await;
    // Five wrong codes spread over five pending sessions.
    for _ in 0..5 {
        let (pending, _) = password_step(&h, "ada", PASSWORD).await;
        let _ = h
            .complete_login_with_totp(pending.token.expose(), "000000")
            .await;
    }
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    h.clock.advance(Duration::seconds(1));
    let right = code_at(&secret, h.accounts.now().timestamp());
    let err = h
        .complete_login_with_totp(pending.token.expose(), &right)
        .await
        .expect_err("throttled");
    assert_eq!(
        err.code(),
        "invalid_second_factor",
        "the shared counter makes the next attempt wait"
    );
    h.clock.advance(Duration::seconds(31));
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    let right = code_at(&secret, h.accounts.now().timestamp());
    h.complete_login_with_totp(pending.token.expose(), &right)
        .await
        .expect("after the delay");
}

#[tokio::test]
async fn k43_a_right_password_then_a_wrong_factor_tells_the_owner() {
    let h = Harness::new().await;
    ada_with_totp(&h).await;
    h.clear_mail().await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    let _ = h
        .complete_login_with_totp(pending.token.expose(), "000000")
        .await;
    let mails = h.mailer.wait_for(1).await;
    assert!(
        mails
            .iter()
            .any(|m| m.message.kind() == "second_factor_failed"),
        "{mails:?}"
    );
}

#[tokio::test]
async fn g23_with_a_second_factor_a_password_alone_is_not_fresh_enough() {
    let h = Harness::new().await;
    let (secret, _) = ada_with_totp(&h).await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    let code = code_at(&secret, h.accounts.now().timestamp());
    let signed_in = h
        .complete_login_with_totp(pending.token.expose(), &code)
        .await
        .expect("code");
    h.clock.advance(Duration::minutes(11));
    let stale = h
        .accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("valid");
    let again = h
        .accounts
        .reauthenticate(&enrolling(&stale), &PASSWORD.into(), &info())
        .await
        .expect("the password is right");
    let after_password = h
        .accounts
        .authenticate(again.token.expose())
        .await
        .expect("valid");
    assert!(
        !h.accounts.is_fresh(&after_password).await.expect("fresh?"),
        "a password alone is below the account's level"
    );
    let code = code_at(&secret, h.accounts.now().timestamp());
    let again = h
        .accounts
        .reauthenticate_with_totp(&enrolling(&after_password), &code, &info())
        .await
        .expect("totp");
    let fresh = h
        .accounts
        .authenticate(again.token.expose())
        .await
        .expect("valid");
    assert!(h.accounts.is_fresh(&fresh).await.expect("fresh?"));
}

#[tokio::test]
async fn g24_adding_a_factor_needs_the_accounts_highest_level() {
    let h = Harness::new().await;
    let (secret, _) = ada_with_totp(&h).await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    let code = code_at(&secret, h.accounts.now().timestamp());
    let signed_in = h
        .complete_login_with_totp(pending.token.expose(), &code)
        .await
        .expect("code");
    h.clock.advance(Duration::minutes(11));
    let stale = h
        .accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("valid");
    let again = h
        .accounts
        .reauthenticate(&enrolling(&stale), &PASSWORD.into(), &info())
        .await
        .expect("right password");
    let password_only = h
        .accounts
        .authenticate(again.token.expose())
        .await
        .expect("valid");
    let err = h
        .accounts
        .start_passkey_registration(&enrolling(&password_only), "laptop")
        .await
        .expect_err("below TOTP");
    assert_eq!(err.code(), "reauthentication_required");
    h.clock.advance(Duration::seconds(30));
    let code = code_at(&secret, h.accounts.now().timestamp());
    let again = h
        .accounts
        .reauthenticate_with_totp(&enrolling(&password_only), &code, &info())
        .await
        .expect("totp");
    let strong = h
        .accounts
        .authenticate(again.token.expose())
        .await
        .expect("valid");
    h.accounts
        .start_passkey_registration(&enrolling(&strong), "laptop")
        .await
        .expect("at the account's highest level");
}

#[tokio::test]
async fn require_2fa_gives_an_enrollment_only_session_until_a_factor_is_set_up() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let mut policy = h.accounts.policy().await.expect("policy");
    policy.require_second_factor = true;
    h.accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect("policy");
    let signed_in = match h
        .accounts
        .login("ada", &PASSWORD.into(), &info())
        .await
        .expect("login")
    {
        LoginOutcome::SignedIn(s) => s,
        other => panic!("no factor yet: {other:?}"),
    };
    assert_eq!(signed_in.session.stage, SessionStage::EnrollmentOnly);
    let session = h
        .accounts
        .authenticate_enrolling(signed_in.token.expose())
        .await
        .expect("valid");
    let enrollment = h
        .accounts
        .start_totp_enrollment(&session)
        .await
        .expect("enrolment is allowed");
    let secret = totp_rs::Secret::try_from_base32(&enrollment.secret)
        .expect("base32")
        .as_ref()
        .to_vec();
    let code = code_at(&secret, h.accounts.now().timestamp());
    let confirmed = h
        .accounts
        .confirm_totp_enrollment(&session, &code, &info())
        .await
        .expect("confirm");
    assert_eq!(
        confirmed.session.stage,
        SessionStage::Full,
        "enrolling lifts the restriction"
    );
}

#[tokio::test]
async fn an_admin_reset_removes_every_factor_ends_sessions_and_tells_both_logs() {
    let h = Harness::new().await;
    let (secret, _) = ada_with_totp(&h).await;
    let (pending, _) = password_step(&h, "ada", PASSWORD).await;
    let code = code_at(&secret, h.accounts.now().timestamp());
    let signed_in = h
        .complete_login_with_totp(pending.token.expose(), &code)
        .await
        .expect("code");
    let admin = h.create_by_admin("boss", "boss@example.com").await;
    h.clear_mail().await;
    let removed = h
        .accounts
        .reset_second_factors(admin.id, h.id_of("ada").await, &info())
        .await
        .expect("reset");
    assert_eq!(removed, 11, "the TOTP and ten recovery codes");
    assert!(
        matches!(
            h.accounts.authenticate(signed_in.token.expose()).await,
            Err(Error::Unauthenticated)
        ),
        "sessions ended"
    );
    assert!(matches!(
        h.accounts
            .login("ada", &PASSWORD.into(), &info())
            .await
            .expect("login"),
        LoginOutcome::SignedIn(_)
    ));
    assert!(
        h.events("ada")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::SecondFactorsReset)
    );
    assert!(
        h.events("boss")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::SecondFactorsReset)
    );
    assert!(
        h.mailer
            .wait_for(1)
            .await
            .iter()
            .any(|m| m.message.kind() == "second_factors_reset")
    );
}

#[tokio::test]
async fn a_directory_that_supplies_2fa_refuses_enrolment_here() {
    let h = Harness::new().await;
    let dora = h.create_external("dora", "dora@example.com").await;
    let mut policy = h.accounts.policy().await.expect("policy");
    policy.directory_provides_second_factor = true;
    h.accounts
        .set_policy(h.admin_id(), policy, &info())
        .await
        .expect("policy");
    let session = h.session_for_external(&dora).await;
    let err = h
        .accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect_err("directory");
    assert_eq!(err.code(), "managed_by_directory");
    let err = h
        .accounts
        .start_passkey_registration(&enrolling(&session), "laptop")
        .await
        .expect_err("directory");
    assert_eq!(err.code(), "managed_by_directory");
}
