//! TOTP and recovery codes through the services: enrolment, the Key Uri Format and the QR
//! code, one step back and no further, each step and each recovery code once,
//! regenerating, disabling, and freshness. Codes are computed here with totp-rs from the
//! secret the enrolment returned, at the harness clock's time.

mod support;

use account_core::domain::Password;
use account_core::mail::Message;
use account_core::model::{
    AccountSource, AssuranceLevel, AuthMethod, SecurityEventKind, SessionStage,
};
use account_core::policy::Policy;
use account_core::{
    EnrollingSession, Error, LoginOutcome, RecoveryCodes, SignedIn, SignedInSession, TotpEnrollment,
};
use base64::Engine as _;
use chrono::Duration;
use support::{Harness, PASSWORD, enrolling, info};

/// An account with a confirmed TOTP, with the session that confirmed it.
struct Enrolled {
    session: SignedInSession,
    secret: String,
    codes: RecoveryCodes,
}

async fn enrolled(h: &Harness, username: &str) -> Enrolled {
    h.sign_up(username, &format!("{username}@example.com"))
        .await;
    let session = h.fresh_session(username).await;
    let enrollment = h
        .accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect("start");
    let code = support::totp_code(&enrollment.secret, h.accounts.now());
    let confirmed = h
        .accounts
        .confirm_totp_enrollment(&enrolling(&session), &code, &info())
        .await
        .expect("confirm");
    Enrolled {
        session: h
            .accounts
            .authenticate(confirmed.token.expose())
            .await
            .expect("the renewed session is valid"),
        secret: enrollment.secret.clone(),
        codes: confirmed.recovery_codes,
    }
}

/// A correct password: the pending session's token.
async fn pending_login(h: &Harness, username: &str) -> String {
    match h
        .accounts
        .login(username, &Password::new(PASSWORD), &info())
        .await
        .expect("the password is right")
    {
        LoginOutcome::SecondFactorRequired { pending, .. } => pending.token.expose().to_owned(),
        other => panic!("expected a second factor to be required, got {other:?}"),
    }
}

async fn login_with_totp(h: &Harness, username: &str, code: &str) -> Result<SignedIn, Error> {
    let pending = h
        .accounts
        .authenticate_pending(&pending_login(h, username).await)
        .await?;
    h.accounts
        .complete_login_with_totp(&pending, code, &info())
        .await
}

async fn login_with_recovery_code(
    h: &Harness,
    username: &str,
    code: &str,
) -> Result<SignedIn, Error> {
    let pending = h
        .accounts
        .authenticate_pending(&pending_login(h, username).await)
        .await?;
    h.accounts
        .complete_login_with_recovery_code(&pending, code, &info())
        .await
}

/// Waits for the background mail tasks, then the kinds of mail `address` got.
async fn mail_kinds(h: &Harness, address: &str) -> Vec<&'static str> {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    h.mailer
        .sent_to(address)
        .iter()
        .map(|m| m.message.kind())
        .collect()
}

async fn has_event(h: &Harness, username: &str, kind: SecurityEventKind) -> bool {
    h.events(username).await.iter().any(|e| e.kind == kind)
}

async fn start(h: &Harness, username: &str) -> (EnrollingSession, TotpEnrollment) {
    h.sign_up(username, &format!("{username}@example.com"))
        .await;
    let session = enrolling(&h.fresh_session(username).await);
    let enrollment = h
        .accounts
        .start_totp_enrollment(&session)
        .await
        .expect("start");
    (session, enrollment)
}

#[tokio::test]
async fn h25_the_secret_is_160_random_bits_fresh_at_every_start() {
    let h = Harness::new().await;
    let (session, first) = start(&h, "ada").await;
    let second = h
        .accounts
        .start_totp_enrollment(&session)
        .await
        .expect("a second start replaces the pending secret");
    for e in [&first, &second] {
        assert!(!e.secret.contains('='), "no padding: {}", e.secret);
        let decoded = totp_rs::Secret::try_from_base32(&e.secret).expect("base32");
        assert!(
            decoded.as_ref().len() >= 20,
            "{} bytes",
            decoded.as_ref().len()
        );
    }
    assert_ne!(first.secret, second.secret);
    // Only the latest pending secret confirms.
    let stale = support::totp_code(&first.secret, h.accounts.now());
    let current = support::totp_code(&second.secret, h.accounts.now());
    if stale != current {
        let refused = h
            .accounts
            .confirm_totp_enrollment(&session, &stale, &info())
            .await
            .expect_err("the replaced secret");
        assert_eq!(refused.code(), "invalid_second_factor");
    }
    h.accounts
        .confirm_totp_enrollment(&session, &current, &info())
        .await
        .expect("the latest secret confirms");
}

#[tokio::test]
async fn the_uri_follows_the_key_uri_format() {
    let h = Harness::new().await;
    let (_, e) = start(&h, "ada").await;
    let uri = url::Url::parse(&e.otpauth_uri).expect("a URL");
    assert_eq!(uri.scheme(), "otpauth");
    assert_eq!(uri.host_str(), Some("totp"));
    // The issuer prefix of the label: the product name by default.
    assert_eq!(uri.path(), "/Account:ada");
    let params: std::collections::HashMap<String, String> =
        uri.query_pairs().into_owned().collect();
    assert_eq!(params.get("secret"), Some(&e.secret));
    assert_eq!(params.get("issuer").map(String::as_str), Some("Account"));
    assert_eq!(params.get("algorithm").map(String::as_str), Some("SHA1"));
    assert_eq!(params.get("digits").map(String::as_str), Some("6"));
    assert_eq!(params.get("period").map(String::as_str), Some("30"));
    assert_eq!(params.len(), 5, "{params:?}");
    // An independent parser reads the same secret back.
    let parsed = totp_rs::Totp::from_url(&e.otpauth_uri).expect("totp-rs parses it");
    assert_eq!(parsed.issuer(), Some("Account"));
    assert_eq!(parsed.account_name(), "ada");
    assert_eq!(parsed.secret().to_base32(), e.secret);
}

#[tokio::test]
async fn the_qr_code_is_a_png_data_url() {
    let h = Harness::new().await;
    let (_, e) = start(&h, "ada").await;
    let b64 = e
        .qr_png
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(
        image::guess_format(&png).expect("a known format"),
        image::ImageFormat::Png
    );
    let img = image::load_from_memory(&png).expect("decodes as an image");
    assert!(
        img.width() >= 21 && img.width() == img.height(),
        "{}x{}",
        img.width(),
        img.height()
    );
}

#[tokio::test]
async fn confirming_returns_ten_codes_and_a_two_factor_session_with_a_new_token() {
    let h = Harness::new().await;
    let (session, e) = start(&h, "ada").await;
    let old = h
        .accounts
        .second_factors(session.account_id)
        .await
        .expect("read");
    assert!(!old.totp, "pending is not enrolled");
    h.clear_mail().await;

    let code = support::totp_code(&e.secret, h.accounts.now());
    let confirmed = h
        .accounts
        .confirm_totp_enrollment(&session, &code, &info())
        .await
        .expect("confirm");
    let codes = confirmed.recovery_codes.expose();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        10
    );
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 29 && c.matches('-').count() == 4),
        "{codes:?}"
    );

    let s = &confirmed.session;
    assert_eq!(s.id, session.id);
    assert_eq!(s.assurance, AssuranceLevel::Two);
    assert_eq!(s.stage, SessionStage::Full);
    assert!(
        s.authentications
            .iter()
            .any(|a| a.method == AuthMethod::Totp)
    );
    assert_ne!(s.token_digest, session.token_digest, "a new token");
    assert_eq!(
        h.accounts
            .authenticate(confirmed.token.expose())
            .await
            .expect("the new token works")
            .id,
        s.id
    );

    let factors = h.accounts.second_factors(s.account_id).await.expect("read");
    assert!(factors.totp);
    assert_eq!(factors.recovery_codes_left, 10);
    assert_eq!(
        h.accounts
            .recovery_codes_left(s.account_id)
            .await
            .expect("read"),
        10
    );
    assert!(has_event(&h, "ada", SecurityEventKind::TotpEnabled).await);
    assert_eq!(mail_kinds(&h, "ada@example.com").await, ["factor_added"]);

    // The code that confirmed cannot log in (its step is used).
    let refused = login_with_totp(&h, "ada", &code)
        .await
        .expect_err("used step");
    assert_eq!(refused.code(), "invalid_second_factor");
}

#[tokio::test]
async fn a_wrong_code_confirms_nothing() {
    let h = Harness::new().await;
    let (session, e) = start(&h, "ada").await;
    let right = support::totp_code(&e.secret, h.accounts.now());
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().expect("digits") + 1) % 1_000_000
    );
    for bad in [wrong.as_str(), "12345", "abcdef", ""] {
        let err = h
            .accounts
            .confirm_totp_enrollment(&session, bad, &info())
            .await
            .expect_err("a wrong code");
        assert_eq!(err.code(), "invalid_second_factor", "{bad:?}");
    }
    let factors = h
        .accounts
        .second_factors(session.account_id)
        .await
        .expect("read");
    assert!(!factors.totp);
    assert_eq!(factors.recovery_codes_left, 0);
    assert!(!has_event(&h, "ada", SecurityEventKind::TotpEnabled).await);
    // The session is untouched and can still confirm.
    h.accounts
        .confirm_totp_enrollment(&session, &right, &info())
        .await
        .expect("the right code still works");
}

#[tokio::test]
async fn confirming_without_a_pending_enrolment_is_not_found() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let err = h
        .accounts
        .confirm_totp_enrollment(&enrolling(&session), "123456", &info())
        .await
        .expect_err("nothing pending");
    assert_eq!(err.code(), "not_found");
}

#[tokio::test]
async fn one_totp_per_account() {
    let h = Harness::new().await;
    let e = enrolled(&h, "ada").await;
    let err = h
        .accounts
        .start_totp_enrollment(&enrolling(&e.session))
        .await
        .expect_err("enrolled already");
    assert_eq!(err.code(), "already_enrolled");
}

#[tokio::test]
async fn h26_login_accepts_one_step_back_but_not_two() {
    let h = Harness::new().await;
    let e = enrolled(&h, "ada").await;
    h.clock.advance(Duration::minutes(3));
    let now = h.accounts.now();

    let two_back = support::totp_code(&e.secret, now - Duration::seconds(60));
    let err = login_with_totp(&h, "ada", &two_back)
        .await
        .expect_err("T-2 is too old");
    assert_eq!(err.code(), "invalid_second_factor");

    let one_back = support::totp_code(&e.secret, now - Duration::seconds(30));
    let signed_in = login_with_totp(&h, "ada", &one_back)
        .await
        .expect("T-1 is accepted");
    assert_eq!(signed_in.session.assurance, AssuranceLevel::Two);

    // Spaces, as apps show the code, are fine.
    h.clock.advance(Duration::seconds(30));
    let spaced = support::totp_code(&e.secret, h.accounts.now());
    let spaced = format!("{} {}", &spaced[..3], &spaced[3..]);
    login_with_totp(&h, "ada", &spaced)
        .await
        .expect("spaced code");
}

#[tokio::test]
async fn h27_the_same_code_twice_is_refused() {
    let h = Harness::new().await;
    let e = enrolled(&h, "ada").await;
    h.clock.advance(Duration::seconds(30));
    let code = support::totp_code(&e.secret, h.accounts.now());
    login_with_totp(&h, "ada", &code).await.expect("first use");
    let err = login_with_totp(&h, "ada", &code)
        .await
        .expect_err("second use of the same step");
    assert_eq!(err.code(), "invalid_second_factor");
    // Nor does the step before count once a newer one was accepted.
    let older = support::totp_code(&e.secret, h.accounts.now() - Duration::seconds(30));
    if older != code {
        let err = login_with_totp(&h, "ada", &older)
            .await
            .expect_err("older step");
        assert_eq!(err.code(), "invalid_second_factor");
    }
    h.clock.advance(Duration::seconds(30));
    let next = support::totp_code(&e.secret, h.accounts.now());
    login_with_totp(&h, "ada", &next)
        .await
        .expect("the next step works");
}

#[tokio::test]
async fn h28_each_recovery_code_works_once() {
    let h = Harness::new().await;
    let e = enrolled(&h, "ada").await;
    h.clear_mail().await;
    let codes = e.codes.expose();

    let signed_in = login_with_recovery_code(&h, "ada", &codes[0])
        .await
        .expect("an unused code");
    assert!(
        signed_in
            .session
            .authentications
            .iter()
            .any(|a| a.method == AuthMethod::RecoveryCode)
    );
    let err = login_with_recovery_code(&h, "ada", &codes[0])
        .await
        .expect_err("used");
    assert_eq!(err.code(), "invalid_second_factor");

    // Typed loosely: upper case, spaces for dashes.
    let loose = codes[1].to_uppercase().replace('-', " ");
    login_with_recovery_code(&h, "ada", &loose)
        .await
        .expect("normalised");

    let id = h.id_of("ada").await;
    assert_eq!(h.accounts.recovery_codes_left(id).await.expect("read"), 8);
    assert!(has_event(&h, "ada", SecurityEventKind::RecoveryCodeUsed).await);
    mail_kinds(&h, "ada@example.com").await;
    let used: Vec<u32> = h
        .mailer
        .sent_to("ada@example.com")
        .iter()
        .filter_map(|m| match m.message {
            Message::RecoveryCodeUsed { codes_left, .. } => Some(codes_left),
            _ => None,
        })
        .collect();
    assert_eq!(used, [9, 8]);
}

#[tokio::test]
async fn regenerating_voids_the_old_set_and_sends_a_notice() {
    let h = Harness::new().await;
    let e = enrolled(&h, "ada").await;
    h.clear_mail().await;
    let new = h
        .accounts
        .regenerate_recovery_codes(&e.session, &info())
        .await
        .expect("fresh session");
    assert_eq!(new.expose().len(), 10);
    assert!(new.expose().iter().all(|c| !e.codes.expose().contains(c)));
    assert!(has_event(&h, "ada", SecurityEventKind::RecoveryCodesRegenerated).await);
    assert_eq!(
        mail_kinds(&h, "ada@example.com").await,
        ["recovery_codes_regenerated"]
    );

    let err = login_with_recovery_code(&h, "ada", &e.codes.expose()[0])
        .await
        .expect_err("the old set is void");
    assert_eq!(err.code(), "invalid_second_factor");
    login_with_recovery_code(&h, "ada", &new.expose()[0])
        .await
        .expect("the new set works");
}

#[tokio::test]
async fn regenerating_needs_a_second_factor_and_a_fresh_session() {
    let h = Harness::new().await;
    h.sign_up("bob", "bob@example.com").await;
    let session = h.fresh_session("bob").await;
    let err = h
        .accounts
        .regenerate_recovery_codes(&session, &info())
        .await
        .expect_err("no factor");
    assert_eq!(err.code(), "no_second_factor");

    let e = enrolled(&h, "ada").await;
    h.clock.advance(Duration::minutes(11));
    let err = h
        .accounts
        .regenerate_recovery_codes(&e.session, &info())
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "reauthentication_required");
}

#[tokio::test]
async fn h23_a_stale_session_cannot_start_or_disable() {
    let h = Harness::new().await;
    h.sign_up("bob", "bob@example.com").await;
    let session = h.fresh_session("bob").await;
    let e = enrolled(&h, "ada").await;
    h.clock.advance(Duration::minutes(11));

    let err = h
        .accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "reauthentication_required");
    let err = h
        .accounts
        .disable_totp(&e.session, &info())
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "reauthentication_required");
    assert!(
        h.accounts
            .second_factors(e.session.account_id)
            .await
            .expect("read")
            .totp
    );
}

#[tokio::test]
async fn disabling_removes_the_totp_and_its_recovery_codes_with_a_notice() {
    let h = Harness::new().await;
    let e = enrolled(&h, "ada").await;
    h.clear_mail().await;
    h.accounts
        .disable_totp(&e.session, &info())
        .await
        .expect("fresh session");
    let factors = h
        .accounts
        .second_factors(e.session.account_id)
        .await
        .expect("read");
    assert!(!factors.totp);
    assert_eq!(factors.recovery_codes_left, 0, "no factor left to back up");
    assert!(has_event(&h, "ada", SecurityEventKind::TotpDisabled).await);
    assert_eq!(mail_kinds(&h, "ada@example.com").await, ["factor_removed"]);
    // The password alone signs in again.
    h.fresh_session("ada").await;
    let err = h
        .accounts
        .disable_totp(&e.session, &info())
        .await
        .expect_err("nothing left");
    assert_eq!(err.code(), "not_found");
}

#[tokio::test]
async fn the_directory_can_own_the_second_factor_of_its_accounts() {
    let h = Harness::new().await;
    let account = h.create_external("carol", "carol@example.com").await;
    assert!(matches!(account.source, AccountSource::External { .. }));
    let session = h.session_for_external(&account).await;
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

    // Local accounts are not affected.
    h.sign_up("ada", "ada@example.com").await;
    let local = h.fresh_session("ada").await;
    h.accounts
        .start_totp_enrollment(&enrolling(&local))
        .await
        .expect("a local account enrols");
}

#[tokio::test]
async fn secrets_never_show_in_debug() {
    let h = Harness::new().await;
    let (session, e) = start(&h, "ada").await;
    let shown = format!("{e:?} {e:#?}");
    assert!(!shown.contains(&e.secret), "{shown}");
    assert!(!shown.contains("otpauth://"), "{shown}");
    assert!(!shown.contains("base64,"), "{shown}");

    let code = support::totp_code(&e.secret, h.accounts.now());
    let confirmed = h
        .accounts
        .confirm_totp_enrollment(&session, &code, &info())
        .await
        .expect("confirm");
    let shown = format!("{confirmed:?} {confirmed:#?}");
    for c in confirmed.recovery_codes.expose() {
        assert!(!shown.contains(c.as_str()), "{shown}");
    }
    assert!(!shown.contains(confirmed.token.expose()), "{shown}");
    let events = format!("{:?}", h.events("ada").await);
    assert!(!events.contains(&e.secret), "{events}");
    assert!(!events.contains(&code), "{events}");
}

#[tokio::test]
async fn a_session_waiting_for_its_second_factor_cannot_manage_factors() {
    let h = Harness::new().await;
    enrolled(&h, "ada").await;
    let pending_token = pending_login(&h, "ada").await;
    h.accounts
        .authenticate_pending(&pending_token)
        .await
        .expect("pending");
    // Enrolling a factor takes an `EnrollingSession` and regenerating recovery codes a
    // `SignedInSession`; a `PendingSession` is neither, and its token validates as
    // neither.
    let err = h
        .accounts
        .authenticate_enrolling(&pending_token)
        .await
        .expect_err("pending");
    assert_eq!(err.code(), "unauthenticated");
    let err = h
        .accounts
        .authenticate(&pending_token)
        .await
        .expect_err("pending");
    assert_eq!(err.code(), "unauthenticated");
}
