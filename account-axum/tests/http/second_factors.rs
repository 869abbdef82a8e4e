//! Second factors over HTTP: TOTP, recovery codes and passkeys (real WebAuthn ceremonies
//! with webauthn-authenticator-rs's `SoftPasskey`), the login flow with a pending session,
//! passwordless login, the "require 2FA" policy, and the administrator's reset.

use account_core::domain::{EmailAddress, Username};
use account_core::model::{
    AssuranceLevel, AuthMethod, Authentication, Role, SessionId, SessionRecord, SessionStage,
};
use account_core::random::OsRandom;
use account_core::store::SessionStore;
use account_core::testing::passkey::SoftDevice;
use account_core::token::OpaqueToken;
use account_core::{NewAccountByAdmin, RequestInfo};
use axum::http::Method;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::*;

// ---------------------------------------------------------------------------------------
// A browser with a passkey provider (as in account-core's tests/passkeys.rs).

/// A software passkey on the test app's public URL.
pub fn new_device() -> SoftDevice {
    SoftDevice::at(PUBLIC_URL)
}

/// An authenticator app, built from the `otpauth://` URI the API handed out.
pub struct App(totp_rs::Totp);

impl App {
    /// The code at the harness clock's time.
    pub fn code(&self, app: &TestApp) -> String {
        let now = u64::try_from(app.accounts.now().timestamp()).expect("after 1970");
        self.0.generate(now).to_string()
    }
}

/// Enrols TOTP for the signed-in user through the API; answers the app and the recovery
/// codes.
pub async fn enrol_totp(app: &mut TestApp) -> (App, Vec<String>) {
    let started = app
        .post("/api/account/totp/start", json!({}))
        .await
        .ok(200)
        .clone();
    let uri = started["otpauth_uri"].as_str().expect("a URI");
    let totp = App(totp_rs::Totp::from_url(uri).expect("a Key Uri Format URI"));
    let code = totp.code(app);
    let before = app.cookie.clone();
    let confirmed = app
        .post("/api/account/totp/confirm", json!({ "code": code }))
        .await
        .ok(200)
        .clone();
    assert_ne!(app.cookie, before, "the session cookie is rotated");
    let codes = confirmed["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    // The same step cannot be used twice: move to the next one.
    app.clock.advance(Duration::seconds(30));
    (totp, codes)
}

/// Registers a passkey for the signed-in user through the API; answers it.
pub async fn add_passkey(app: &mut TestApp, device: &mut SoftDevice, name: &str) -> Value {
    let ceremony = app
        .post("/api/account/passkeys/start", json!({ "name": name }))
        .await
        .ok(200)
        .clone();
    let credential = device
        .register(&ceremony["options"])
        .expect("the authenticator registers");
    let before = app.cookie.clone();
    let passkey = app
        .post(
            "/api/account/passkeys/finish",
            json!({ "ceremony_id": ceremony["ceremony_id"], "credential": credential }),
        )
        .await
        .ok(201)
        .clone();
    assert_ne!(app.cookie, before, "the session cookie is rotated");
    passkey
}

/// Logs in with the password and expects the second-factor step; answers the methods.
async fn login_pending(app: &mut TestApp, username: &str) -> Vec<String> {
    let reply = app.login(username, PASSWORD).await;
    let body = reply.ok(200).clone();
    assert_eq!(body["status"], "second_factor_required", "{body}");
    assert!(
        reply
            .set_cookies()
            .iter()
            .any(|c| c.starts_with(&format!("{}=", app.cookie_name))),
        "the pending session's cookie is set"
    );
    body["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m.as_str().expect("a method").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// TOTP and recovery codes

#[tokio::test]
async fn totp_enrolment_gives_a_key_uri_format_uri_a_qr_code_and_recovery_codes() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let started = app
        .post("/api/account/totp/start", json!({}))
        .await
        .ok(200)
        .clone();
    assert_eq!(keys(&started), ["otpauth_uri", "qr_png", "secret"]);
    let uri = url::Url::parse(started["otpauth_uri"].as_str().expect("uri")).expect("a URL");
    assert_eq!(uri.scheme(), "otpauth");
    assert_eq!(uri.host_str(), Some("totp"));
    let label = uri.path().trim_start_matches('/');
    let query: std::collections::BTreeMap<String, String> =
        uri.query_pairs().into_owned().collect();
    let issuer = query.get("issuer").expect("issuer parameter");
    assert!(
        label.starts_with(&format!("{}:", issuer.replace(' ', "%20")))
            || label.starts_with(&format!("{issuer}:")),
        "the label has the issuer prefix: {label}"
    );
    assert_eq!(
        query.get("secret"),
        started["secret"].as_str().map(str::to_owned).as_ref()
    );
    assert_eq!(query.get("algorithm").map(String::as_str), Some("SHA1"));
    assert_eq!(query.get("digits").map(String::as_str), Some("6"));
    assert_eq!(query.get("period").map(String::as_str), Some("30"));
    assert!(
        started["qr_png"]
            .as_str()
            .expect("qr")
            .starts_with("data:image/png;base64,")
    );
    // Nothing is active until confirmed; a wrong code changes nothing.
    let account = app.get("/api/account").await.ok(200).clone();
    assert_eq!(account["second_factors"]["totp"], false);
    app.post("/api/account/totp/confirm", json!({"code": "000000"}))
        .await
        .problem(401, "invalid_second_factor");

    let (_, codes) = enrol_totp(&mut app).await;
    assert_eq!(codes.len(), 10);
    let account = app.get("/api/account").await.ok(200).clone();
    assert_eq!(
        account["second_factors"],
        json!({"totp": true, "recovery_codes_left": 10, "passkeys": 0})
    );
    // One TOTP per account.
    app.post("/api/account/totp/start", json!({}))
        .await
        .problem(409, "already_enrolled");
}

#[tokio::test]
async fn login_with_totp_over_http() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let (totp, _) = enrol_totp(&mut app).await;
    app.post("/api/auth/logout", json!({})).await.ok(204);

    let methods = login_pending(&mut app, "alice").await;
    assert_eq!(methods, ["totp", "recovery_code"]);
    // The pending session is no session for the other routes.
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
    app.patch("/api/account", json!({"display_name": "Eve"}))
        .await
        .problem(401, "unauthenticated");
    app.get("/api/account/sessions")
        .await
        .problem(401, "unauthenticated");

    app.post("/api/auth/login/totp", json!({"code": "123456"}))
        .await
        .problem(401, "invalid_second_factor");
    let pending_cookie = app.cookie.clone();
    let reply = app
        .post("/api/auth/login/totp", json!({"code": totp.code(&app)}))
        .await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    assert_ne!(app.cookie, pending_cookie, "a new session, a new cookie");
    app.get("/api/account").await.ok(200);
    let sessions = app.sessions_of("alice").await;
    assert_eq!(sessions.len(), 1, "the pending session was replaced");
    assert_eq!(sessions[0].assurance, AssuranceLevel::Two);
    assert_eq!(sessions[0].stage, SessionStage::Full);

    // The pending cookie is dead.
    app.cookie = pending_cookie;
    app.post("/api/auth/login/totp", json!({"code": totp.code(&app)}))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn login_with_a_recovery_code_over_http_uses_it_up() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let (_, codes) = enrol_totp(&mut app).await;
    app.post("/api/auth/logout", json!({})).await.ok(204);

    login_pending(&mut app, "alice").await;
    app.post(
        "/api/auth/login/recovery-code",
        json!({"code": codes[0].to_uppercase()}),
    )
    .await
    .ok(200);
    let account = app.get("/api/account").await.ok(200).clone();
    assert_eq!(account["second_factors"]["recovery_codes_left"], 9);
    app.post("/api/auth/logout", json!({})).await.ok(204);

    login_pending(&mut app, "alice").await;
    app.post("/api/auth/login/recovery-code", json!({"code": codes[0]}))
        .await
        .problem(401, "invalid_second_factor");
    app.post("/api/auth/login/recovery-code", json!({"code": codes[1]}))
        .await
        .ok(200);
}

#[tokio::test]
async fn the_pending_session_allows_five_attempts_and_five_minutes() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let (totp, _) = enrol_totp(&mut app).await;
    app.post("/api/auth/logout", json!({})).await.ok(204);

    login_pending(&mut app, "alice").await;
    for _ in 0..5 {
        app.post("/api/auth/login/totp", json!({"code": "000000"}))
            .await
            .problem(401, "invalid_second_factor");
    }
    // The fifth failure ended the pending session: even the right code is too late.
    app.post("/api/auth/login/totp", json!({"code": totp.code(&app)}))
        .await
        .problem(401, "unauthenticated");
    assert!(app.sessions_of("alice").await.is_empty());

    // Without a cookie, nothing to finish.
    app.cookie = None;
    app.post("/api/auth/login/totp", json!({"code": totp.code(&app)}))
        .await
        .problem(401, "unauthenticated");

    // A pending session lives five minutes. (Past the failure throttle first.)
    app.clock.advance(Duration::hours(2));
    login_pending(&mut app, "alice").await;
    app.clock.advance(Duration::minutes(6));
    app.post("/api/auth/login/totp", json!({"code": totp.code(&app)}))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn reauthentication_takes_a_password_or_a_totp_code() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let (totp, _) = enrol_totp(&mut app).await;
    app.go_stale();
    app.post("/api/account/recovery-codes", json!({}))
        .await
        .problem(403, "reauthentication_required");
    app.post(
        "/api/auth/reauthenticate",
        json!({"password": PASSWORD, "totp_code": "123456"}),
    )
    .await
    .problem(400, "malformed_json");
    app.post("/api/auth/reauthenticate", json!({}))
        .await
        .problem(400, "malformed_json");
    app.post("/api/auth/reauthenticate", json!({"totp_code": "000000"}))
        .await
        .problem(401, "invalid_second_factor");
    let before = app.cookie.clone();
    app.post(
        "/api/auth/reauthenticate",
        json!({"totp_code": totp.code(&app)}),
    )
    .await
    .ok(200);
    assert_ne!(app.cookie, before, "the cookie is rotated");
    let codes = app
        .post("/api/account/recovery-codes", json!({}))
        .await
        .ok(200)
        .clone();
    assert_eq!(codes["recovery_codes"].as_array().expect("codes").len(), 10);
}

#[tokio::test]
async fn recovery_codes_regenerate_and_void_the_old_set() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    app.post("/api/account/recovery-codes", json!({}))
        .await
        .problem(409, "no_second_factor");
    let (_, old) = enrol_totp(&mut app).await;
    let new = app
        .post("/api/account/recovery-codes", json!({}))
        .await
        .ok(200)
        .clone();
    let new: Vec<String> = serde_json::from_value(new["recovery_codes"].clone()).expect("codes");
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    app.post("/api/auth/logout", json!({})).await.ok(204);
    login_pending(&mut app, "alice").await;
    app.post("/api/auth/login/recovery-code", json!({"code": old[0]}))
        .await
        .problem(401, "invalid_second_factor");
    app.post("/api/auth/login/recovery-code", json!({"code": new[0]}))
        .await
        .ok(200);
}

#[tokio::test]
async fn disabling_totp_needs_a_fresh_session() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let (totp, _) = enrol_totp(&mut app).await;
    app.go_stale();
    app.delete("/api/account/totp")
        .await
        .problem(403, "reauthentication_required");
    app.post(
        "/api/auth/reauthenticate",
        json!({"totp_code": totp.code(&app)}),
    )
    .await
    .ok(200);
    app.delete("/api/account/totp").await.ok(204);
    let account = app.get("/api/account").await.ok(200).clone();
    assert_eq!(
        account["second_factors"],
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    app.delete("/api/account/totp")
        .await
        .problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------
// Passkeys

#[tokio::test]
async fn a_passkey_as_second_factor_and_passwordless_over_http() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let mut device = new_device();
    let passkey = add_passkey(&mut app, &mut device, "Laptop").await;
    assert_eq!(
        keys(&passkey),
        [
            "backed_up",
            "backup_eligible",
            "created_at",
            "id",
            "last_used_at",
            "name"
        ]
    );
    assert_eq!(passkey["name"], "Laptop");
    let list = app.get("/api/account/passkeys").await.ok(200).clone();
    assert_eq!(list, json!([passkey]));
    app.post("/api/auth/logout", json!({})).await.ok(204);

    // As the second factor after the password.
    let methods = login_pending(&mut app, "alice").await;
    assert!(methods.contains(&"passkey".to_owned()), "{methods:?}");
    let ceremony = app
        .post("/api/auth/login/passkey/start", json!({}))
        .await
        .ok(200)
        .clone();
    assert_eq!(keys(&ceremony), ["ceremony_id", "options"]);
    let assertion = device.sign(&ceremony["options"]).expect("signs");
    // The device's next answer to the same challenge, as whoever captured the ceremony
    // could have it made: its counter is higher than any the passkey has shown, so the
    // counter check lets it through.
    let next = device.sign(&ceremony["options"]).expect("signs again");
    app.post(
        "/api/auth/login/passkey/finish",
        json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion}),
    )
    .await
    .ok(200);
    app.get("/api/account").await.ok(200);
    app.post("/api/auth/logout", json!({})).await.ok(204);

    // A replayed assertion does not finish another login: the ceremony was bound to the
    // first login's pending session.
    login_pending(&mut app, "alice").await;
    app.post(
        "/api/auth/login/passkey/finish",
        json!({"ceremony_id": ceremony["ceremony_id"], "credential": next}),
    )
    .await
    .problem(401, "invalid_second_factor");
    // Nor can a ceremony of this login be answered twice. The first answer, damaged on
    // the way, is refused and uses the ceremony up; the device's next, valid answer to the
    // same ceremony is then refused too, and only the single use of the ceremony refuses
    // it (the session and the counter are right).
    let ceremony = app
        .post("/api/auth/login/passkey/start", json!({}))
        .await
        .ok(200)
        .clone();
    let mut damaged = device.sign(&ceremony["options"]).expect("signs");
    damaged["response"]["signature"] = "AAAA".into();
    let valid = device.sign(&ceremony["options"]).expect("signs again");
    for answer in [damaged, valid] {
        app.post(
            "/api/auth/login/passkey/finish",
            json!({"ceremony_id": ceremony["ceremony_id"], "credential": answer}),
        )
        .await
        .problem(401, "invalid_second_factor");
    }
    // The login itself is still open: a new ceremony finishes it.
    let ceremony = app
        .post("/api/auth/login/passkey/start", json!({}))
        .await
        .ok(200)
        .clone();
    let assertion = device.sign(&ceremony["options"]).expect("signs");
    app.post(
        "/api/auth/login/passkey/finish",
        json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion}),
    )
    .await
    .ok(200);
    app.post("/api/auth/logout", json!({})).await.ok(204);

    // Passwordless.
    app.cookie = None;
    let ceremony = app
        .post("/api/auth/passkey/start", json!({}))
        .await
        .ok(200)
        .clone();
    let assertion = device.sign(&ceremony["options"]).expect("signs");
    // The next answer to the same challenge, for the replay below.
    let next = device.sign(&ceremony["options"]).expect("signs again");
    let reply = app
        .post(
            "/api/auth/passkey/finish",
            json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion}),
        )
        .await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    let me = app.get("/api/account").await.ok(200).clone();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["second_factors"]["passkeys"], 1);
    let list = app.get("/api/account/passkeys").await.ok(200).clone();
    assert!(!list[0]["last_used_at"].is_null());

    // The device's next answer to the used ceremony is refused, as every failure is:
    // invalid_credentials, and no session cookie.
    app.cookie = None;
    let reply = app
        .post(
            "/api/auth/passkey/finish",
            json!({"ceremony_id": ceremony["ceremony_id"], "credential": next}),
        )
        .await;
    reply.problem(401, "invalid_credentials");
    assert!(
        !reply
            .set_cookies()
            .iter()
            .any(|c| c.starts_with(&format!("{}=", app.cookie_name))),
        "no session"
    );
}

#[tokio::test]
async fn reauthentication_with_a_passkey_over_http() {
    let mut app = TestApp::unlimited();
    app.user("alice").await;
    let mut device = new_device();
    add_passkey(&mut app, &mut device, "Laptop").await;
    app.go_stale();
    let ceremony = app
        .post("/api/auth/reauthenticate/passkey/start", json!({}))
        .await
        .ok(200)
        .clone();
    let assertion = device.sign(&ceremony["options"]).expect("signs");
    // The device's next answer to the same challenge: the same session, a higher counter,
    // so only the single use of the ceremony refuses it.
    let next = device.sign(&ceremony["options"]).expect("signs again");
    let before = app.cookie.clone();
    app.post(
        "/api/auth/reauthenticate/passkey/finish",
        json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion.clone()}),
    )
    .await
    .ok(200);
    assert_ne!(app.cookie, before, "the cookie is rotated");
    // Replayed, as the next answer or as the same one: refused.
    for replay in [next, assertion] {
        app.post(
            "/api/auth/reauthenticate/passkey/finish",
            json!({"ceremony_id": ceremony["ceremony_id"], "credential": replay}),
        )
        .await
        .problem(401, "invalid_second_factor");
    }
}

#[tokio::test]
async fn passkeys_are_renamed_and_deleted_but_never_the_last_way_to_log_in() {
    let mut app = TestApp::unlimited();
    let root = app.admin("root").await;
    // An account an administrator created has no password.
    let cleo = app
        .accounts
        .create_account(
            root.id,
            NewAccountByAdmin {
                username: Username::parse("cleo").expect("valid"),
                email: EmailAddress::parse("cleo@example.com").expect("valid"),
                display_name: None,
                role: Role::User,
                source: account_core::model::AccountSource::Local,
            },
            &RequestInfo::default(),
        )
        .await
        .expect("created");
    // Whatever first brought Cleo in (a reset link, the host's own sign-in): a session
    // put straight into the store.
    let now = app.accounts.now();
    let token = OpaqueToken::generate(&OsRandom);
    let session = SessionRecord {
        id: SessionId::generate(now, &OsRandom),
        token_digest: token.digest(),
        account_id: cleo.id,
        created_at: now,
        last_seen_at: now,
        idle_timeout: Duration::hours(1),
        absolute_expires_at: now + Duration::hours(24),
        ip: None,
        user_agent: None,
        device: Default::default(),
        authentications: vec![Authentication {
            method: AuthMethod::External,
            at: now,
        }],
        assurance: AssuranceLevel::One,
        stage: SessionStage::Full,
    };
    app.store.insert_session(&session).await.expect("store");
    app.cookie = Some(format!("{}={}", app.cookie_name, token.expose()));

    let mut laptop = new_device();
    let laptop_key = add_passkey(&mut app, &mut laptop, "Laptop").await;
    let phone_key = add_passkey(&mut app, &mut new_device(), "Phone").await;

    let renamed = app
        .patch(
            &format!(
                "/api/account/passkeys/{}",
                phone_key["id"].as_str().expect("id")
            ),
            json!({"name": "Old phone"}),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(renamed["name"], "Old phone");
    app.patch(
        &format!("/api/account/passkeys/{}", uuid::Uuid::nil()),
        json!({"name": "x"}),
    )
    .await
    .problem(404, "not_found");
    app.patch(
        &format!(
            "/api/account/passkeys/{}",
            phone_key["id"].as_str().expect("id")
        ),
        json!({"name": ""}),
    )
    .await
    .problem(422, "validation_failed");

    app.delete(&format!(
        "/api/account/passkeys/{}",
        phone_key["id"].as_str().expect("id")
    ))
    .await
    .ok(204);
    app.delete(&format!(
        "/api/account/passkeys/{}",
        laptop_key["id"].as_str().expect("id")
    ))
    .await
    .problem(409, "last_login_method");
    let list = app.get("/api/account/passkeys").await.ok(200).clone();
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["name"], "Laptop");
}

// ---------------------------------------------------------------------------------------
// Policy and administration

#[tokio::test]
async fn require_2fa_restricts_a_session_to_enrolling_a_factor() {
    let mut app = TestApp::unlimited();
    app.sign_up("alice", "alice@example.com").await;
    app.set_policy(|p| p.require_second_factor = true).await;
    let body = app.login("alice", PASSWORD).await.ok(200).clone();
    assert_eq!(body["status"], "ok");
    assert_eq!(
        app.sessions_of("alice").await[0].stage,
        SessionStage::EnrollmentOnly
    );

    // Refused everywhere else, with one code.
    app.patch("/api/account", json!({"display_name": "Al"}))
        .await
        .problem(403, "second_factor_enrollment_required");
    app.get("/api/account/sessions")
        .await
        .problem(403, "second_factor_enrollment_required");
    app.get("/api/account/passkeys")
        .await
        .problem(403, "second_factor_enrollment_required");
    app.post("/api/account/recovery-codes", json!({}))
        .await
        .problem(403, "second_factor_enrollment_required");
    app.put(
        "/api/account/password",
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(403, "second_factor_enrollment_required");
    // Allowed: the account read-out, re-authentication and enrolment.
    let me = app.get("/api/account").await.ok(200).clone();
    assert_eq!(me["second_factors"]["totp"], false);
    app.post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .ok(200);
    app.send(json_request(
        Method::POST,
        "/api/account/passkeys/start",
        &json!({"name": "Laptop"}),
    ))
    .await
    .ok(200);
    enrol_totp(&mut app).await;
    // Enrolled: a full session.
    app.patch("/api/account", json!({"display_name": "Al"}))
        .await
        .ok(200);
    app.get("/api/account/sessions").await.ok(200);

    // Logout works for a restricted session too.
    app.sign_up("bob", "bob@example.com").await;
    app.login("bob", PASSWORD).await.ok(200);
    app.post("/api/auth/logout", json!({})).await.ok(204);
    assert!(app.sessions_of("bob").await.is_empty());
}

#[tokio::test]
async fn an_admin_resets_second_factors_with_a_fresh_session() {
    let mut app = TestApp::unlimited();
    app.user("bob").await;
    let (_, _) = enrol_totp(&mut app).await;
    add_passkey(&mut app, &mut new_device(), "Phone").await;
    let bob = app.account("bob").await;
    let path = format!("/api/admin/users/{}/reset-2fa", bob.id);
    // Not for users.
    app.post(&path, json!({})).await.problem(403, "forbidden");
    let bob_cookie = app.cookie.clone();

    app.admin("root").await;
    app.post(
        &format!("/api/admin/users/{}/reset-2fa", uuid::Uuid::nil()),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    app.go_stale();
    app.post(&path, json!({}))
        .await
        .problem(403, "reauthentication_required");
    app.post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .ok(200);
    let reply = app.post(&path, json!({})).await.ok(200).clone();
    assert!(reply["removed"].as_u64().expect("a count") >= 2, "{reply}");

    // Bob's sessions ended, and his factors are gone: the password alone logs in.
    assert!(app.sessions_of("bob").await.is_empty());
    app.cookie = bob_cookie;
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
    let body = app.login("bob", PASSWORD).await.ok(200).clone();
    assert_eq!(body, json!({"status": "ok"}));
    let me = app.get("/api/account").await.ok(200).clone();
    assert_eq!(
        me["second_factors"],
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
}
