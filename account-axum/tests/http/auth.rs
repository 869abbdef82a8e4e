//! Sign-up, login, logout, forgot and reset password, email verification,
//! re-authentication.

use std::sync::Arc;

use account_core::NewAccountByAdmin;
use account_core::directory::DirectoryProfile;
use account_core::domain::{DisplayName, EmailAddress, Username};
use account_core::model::{AccountId, AccountSource, RequestInfo, Role};
use account_core::random::OsRandom;
use account_core::testing::MemoryDirectory;
use axum::http::{Method, header};
use serde_json::json;

use crate::support::*;

const ACCOUNT_FIELDS: &[&str] = &[
    "avatar_url",
    "created_at",
    "display_name",
    "email",
    "email_verified",
    "id",
    "language",
    "recovery_email",
    "role",
    "second_factors",
    "source",
    "state",
    "username",
];

fn signup_body(username: &str, email: &str) -> serde_json::Value {
    json!({"username": username, "email": email, "password": PASSWORD})
}

#[tokio::test]
async fn signup_creates_an_account_and_mails_a_verification_link() {
    let mut app = TestApp::new();
    let reply = app
        .post(
            "/api/auth/signup",
            json!({"username": "Ada", "email": "ada@Example.com", "password": PASSWORD, "display_name": "Ada L."}),
        )
        .await;
    let body = reply.ok(201);
    assert_eq!(keys(body), ACCOUNT_FIELDS);
    assert_eq!(body["username"], "ada");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["display_name"], "Ada L.");
    assert_eq!(body["email_verified"], false);
    assert_eq!(body["source"], json!({"type": "local"}));
    assert_eq!(body["role"], "user");
    assert_eq!(
        body["second_factors"],
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    // No session at sign-up: the new user logs in next.
    assert!(reply.set_cookies().is_empty());
    let stored = app.account("ada").await;
    assert_eq!(body["id"], stored.id.to_string());
    app.link_sent_to("ada@example.com", "verify_email").await;
}

#[tokio::test]
async fn c11_signup_with_an_address_in_use_looks_like_a_new_account() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    settle().await;
    app.mailer.clear();

    // bob takes ada's address; eve signs up for real. Same lengths, so the bytes can match.
    let taken = app
        .post("/api/auth/signup", signup_body("bob", "ada@example.com"))
        .await;
    let fresh = app
        .post("/api/auth/signup", signup_body("eve", "eve@example.com"))
        .await;
    assert_eq!(taken.status, fresh.status);
    assert_eq!(taken.status, 201);
    assert_eq!(
        headers_without_date(&taken.headers),
        headers_without_date(&fresh.headers)
    );
    assert_eq!(keys(&taken.body), keys(&fresh.body));
    assert_eq!(
        keys(&taken.body["second_factors"]),
        keys(&fresh.body["second_factors"])
    );
    for field in [
        "email_verified",
        "recovery_email",
        "language",
        "avatar_url",
        "source",
        "role",
        "second_factors",
        "created_at",
    ] {
        assert_eq!(taken.body[field], fresh.body[field], "{field}");
    }
    assert_eq!(taken.bytes.len(), fresh.bytes.len());
    assert_eq!(taken.body["username"], "bob");

    // Nothing was made for bob, and the id names no account; ada was told.
    assert!(app.find_account("bob").await.is_none());
    let ada = app.account("ada").await;
    assert_ne!(taken.body["id"], ada.id.to_string());
    assert_eq!(
        app.mail_kinds("ada@example.com").await,
        vec!["sign_up_attempted"]
    );
}

#[tokio::test]
async fn signup_refuses_bad_fields_with_the_field_and_rule() {
    let mut app = TestApp::new();
    let body = app
        .post("/api/auth/signup", signup_body("a", "a@example.com"))
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(body["field"], "username");
    assert_eq!(body["rule"], "too_short");
    assert_eq!(body["reason"], "username_too_short");

    let body = app
        .post("/api/auth/signup", signup_body("ada", "not an address"))
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(body["field"], "email");

    let body = app
        .post(
            "/api/auth/signup",
            json!({"username": "ada", "email": "ada@example.com", "password": "password1"}),
        )
        .await
        .problem(422, "weak_password")
        .clone();
    assert_eq!(body["reason"], "common");
    assert!(app.find_account("ada").await.is_none());

    app.post(
        "/api/auth/signup",
        json!({"username": "ada", "email": "ada@example.com"}),
    )
    .await
    .problem(400, "malformed_json");
}

#[tokio::test]
async fn signup_refuses_a_taken_username_and_a_closed_signup() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    app.post("/api/auth/signup", signup_body("ADA", "other@example.com"))
        .await
        .problem(409, "username_taken");

    app.set_policy(|p| p.allow_signup = false).await;
    app.post("/api/auth/signup", signup_body("bob", "bob@example.com"))
        .await
        .problem(403, "signup_disabled");
    assert!(app.find_account("bob").await.is_none());
}

#[tokio::test]
async fn signup_body_errors_and_cross_site_requests() {
    let mut app = TestApp::new();
    check_body_errors(&mut app, Method::POST, "/api/auth/signup").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::POST,
            "/api/auth/signup",
            &signup_body("ada", "ada@example.com"),
        )
    })
    .await;
    assert!(app.find_account("ada").await.is_none());
}

#[tokio::test]
async fn signup_is_limited_per_ip() {
    let mut app = TestApp::new();
    for i in 0..10 {
        app.sign_up(&format!("user{i}"), &format!("user{i}@example.com"))
            .await;
    }
    let reply = app
        .post("/api/auth/signup", signup_body("late", "late@example.com"))
        .await;
    reply.problem(429, "rate_limited");
    let retry: i64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=3600).contains(&retry), "{retry}");
    assert!(app.find_account("late").await.is_none());

    // Another client is not affected.
    app.send(from_peer(
        json_request(
            Method::POST,
            "/api/auth/signup",
            &signup_body("other", "other@example.com"),
        ),
        "192.0.2.44:1000",
    ))
    .await
    .ok(201);
}

#[tokio::test]
async fn login_sets_a_session_cookie_that_signs_requests_in() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");

    let reply = app.login("ada", PASSWORD).await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    // The session, and the known-device cookie (SECURITY.md M47).
    assert_eq!(reply.set_cookies().len(), 2);
    assert_eq!(app.get("/api/account").await.ok(200)["username"], "ada");

    // By address too, in any case.
    app.cookie = None;
    app.login("ADA@example.com", PASSWORD).await.ok(200);
    assert_eq!(app.sessions_of("ada").await.len(), 2);
}

#[tokio::test]
async fn login_refuses_wrong_credentials_and_bad_bodies() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let reply = app.login("ada", "wrong password").await;
    reply.problem(401, "invalid_credentials");
    assert!(reply.set_cookies().is_empty());
    assert!(app.sessions_of("ada").await.is_empty());

    app.login("ada", &"x".repeat(2000))
        .await
        .problem(422, "weak_password");
    check_body_errors(&mut app, Method::POST, "/api/auth/login").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::POST,
            "/api/auth/login",
            &json!({"login": "ada", "password": PASSWORD}),
        )
    })
    .await;
    assert!(app.sessions_of("ada").await.is_empty());
}

#[tokio::test]
async fn c11_login_failures_are_byte_identical() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    app.sign_up("bob", "bob@example.com").await;
    app.disable("bob").await;

    let unknown = app.login("nobody", PASSWORD).await;
    let wrong = app.login("ada", "not the password").await;
    let disabled = app.login("bob", PASSWORD).await;
    for reply in [&wrong, &disabled] {
        assert_eq!(reply.status, unknown.status);
        assert_eq!(
            headers_without_date(&reply.headers),
            headers_without_date(&unknown.headers)
        );
        assert_eq!(reply.bytes, unknown.bytes);
    }
    unknown.problem(401, "invalid_credentials");
}

#[tokio::test]
async fn an_external_account_logs_in_through_its_directory_and_fails_like_any_other() {
    const DIRECTORY_PASSWORD: &str = "the directory's own long passphrase";
    let directory = MemoryDirectory::new("ldap");
    directory.add_user(
        "dora",
        DIRECTORY_PASSWORD,
        DirectoryProfile {
            display_name: Some(DisplayName::parse("Dora Directory").expect("valid")),
            email: None,
        },
    );
    let mut app = TestApp::with(Options {
        directories: vec![Arc::new(directory.clone())],
        ..Options::default()
    });
    let info = RequestInfo::default();
    let admin = AccountId::generate(app.accounts.now(), &OsRandom);
    let form = NewAccountByAdmin {
        username: Username::parse("dora").expect("valid"),
        email: EmailAddress::parse("dora@example.com").expect("valid"),
        display_name: None,
        role: Role::User,
        source: AccountSource::External {
            directory: "ldap".to_owned(),
        },
    };
    app.accounts
        .create_account(admin, form, &info)
        .await
        .expect("created");

    let reply = app.login("dora", DIRECTORY_PASSWORD).await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    let me = app.get("/api/account").await.ok(200).clone();
    assert_eq!(me["username"], "dora");
    assert_eq!(me["display_name"], "Dora Directory", "refreshed at login");
    assert_eq!(
        me["source"],
        json!({"type": "external", "directory": "ldap"})
    );
    assert_eq!(directory.calls(), 1);

    // A wrong directory password is, byte for byte, an unknown login.
    app.cookie = None;
    let unknown = app.login("nobody", DIRECTORY_PASSWORD).await;
    let wrong = app.login("dora", "not the directory password").await;
    unknown.problem(401, "invalid_credentials");
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(
        headers_without_date(&wrong.headers),
        headers_without_date(&unknown.headers)
    );
    assert_eq!(wrong.bytes, unknown.bytes);
    assert!(wrong.set_cookies().is_empty());

    directory.set_down(true);
    let reply = app.login("dora", DIRECTORY_PASSWORD).await;
    reply.problem(503, "directory_unavailable");
    assert!(reply.set_cookies().is_empty());
    assert_eq!(app.sessions_of("dora").await.len(), 1);
}

#[tokio::test]
async fn login_is_limited_per_ip_and_the_window_passes() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    for _ in 0..20 {
        app.login("ada", "wrong password")
            .await
            .problem(401, "invalid_credentials");
    }
    let reply = app.login("ada", PASSWORD).await;
    reply.problem(429, "rate_limited");
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    assert!(app.sessions_of("ada").await.is_empty());

    // The per-account throttle (core) still holds after 20 failures, so let both pass.
    app.clock.advance(chrono::Duration::hours(2));
    app.login("ada", PASSWORD).await.ok(200);
}

#[tokio::test]
async fn b10_the_cookie_from_before_login_is_dead_after_it() {
    let mut app = TestApp::unlimited();
    app.user("ada").await;
    let before = app.cookie.clone().expect("cookie");

    // Logging in again from the same browser: a new token, and the old session ends.
    app.login("ada", PASSWORD).await.ok(200);
    let after = app.cookie.clone().expect("cookie");
    assert_ne!(before, after);
    app.cookie = Some(before);
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
    app.cookie = Some(after);
    app.get("/api/account").await.ok(200);
    assert_eq!(app.sessions_of("ada").await.len(), 1);

    // A made-up cookie is never adopted.
    app.cookie = Some(format!("{}={}", app.cookie_name, "A".repeat(43)));
    app.login("ada", PASSWORD).await.ok(200);
    assert_ne!(
        app.cookie,
        Some(format!("{}={}", app.cookie_name, "A".repeat(43)))
    );
}

#[tokio::test]
async fn f21_logout_ends_the_session_and_clears_the_cookie() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let old = app.cookie.clone();
    let reply = app.post("/api/auth/logout", json!({})).await;
    reply.ok(204);
    assert_eq!(reply.headers["clear-site-data"], "\"cookies\"");
    let cleared = reply.set_cookies();
    assert_eq!(cleared.len(), 1);
    assert!(cleared[0].starts_with("__Host-session=;"), "{cleared:?}");
    assert!(cleared[0].contains("Max-Age=0"));
    assert!(cleared[0].contains("Secure"));
    assert!(app.sessions_of("ada").await.is_empty());
    assert!(
        app.events("ada")
            .await
            .iter()
            .any(|e| e.kind.as_str() == "logged_out")
    );

    // Replaying the old cookie gets nowhere.
    app.cookie = old;
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
    // Logging out without a session still clears the cookie.
    app.cookie = None;
    app.send(empty(Method::POST, "/api/auth/logout"))
        .await
        .ok(204);
}

#[tokio::test]
async fn logout_from_another_site_is_refused() {
    let mut app = TestApp::new();
    app.user("ada").await;
    check_cross_site_refused(&mut app, || empty(Method::POST, "/api/auth/logout")).await;
    assert_eq!(app.sessions_of("ada").await.len(), 1);
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_every_address() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let known = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "ada@example.com"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "zed@example.com"}),
        )
        .await;
    assert_eq!(known.ok(202), &json!({"status": "accepted"}));
    assert_eq!(known.status, unknown.status);
    assert_eq!(
        headers_without_date(&known.headers),
        headers_without_date(&unknown.headers)
    );
    assert_eq!(known.bytes, unknown.bytes);
    app.link_sent_to("ada@example.com", "password_reset").await;
    assert!(app.mail_kinds("zed@example.com").await.is_empty());

    app.post("/api/auth/password/forgot", json!({"email": "nope"}))
        .await
        .problem(422, "validation_failed");
    check_body_errors(&mut app, Method::POST, "/api/auth/password/forgot").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::POST,
            "/api/auth/password/forgot",
            &json!({"email": "ada@example.com"}),
        )
    })
    .await;
}

#[tokio::test]
async fn d15_reset_links_use_the_configured_origin_not_the_host_header() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let request = with(
        json_request(
            Method::POST,
            "/api/auth/password/forgot",
            &json!({"email": "ada@example.com"}),
        ),
        "host",
        "evil.test",
    );
    let request = with(request, "x-forwarded-host", "evil.test");
    app.send(request).await.ok(202);
    let link = app.link_sent_to("ada@example.com", "password_reset").await;
    assert_eq!(link.origin().ascii_serialization(), PUBLIC_URL);
    // The answer itself does not leak the link's secret through a Referer.
    let reply = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(reply.headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn forgot_password_is_limited_per_ip() {
    let mut app = TestApp::new();
    for _ in 0..10 {
        app.post(
            "/api/auth/password/forgot",
            json!({"email": "x@example.com"}),
        )
        .await
        .ok(202);
    }
    app.post(
        "/api/auth/password/forgot",
        json!({"email": "x@example.com"}),
    )
    .await
    .problem(429, "rate_limited");
}

#[tokio::test]
async fn reset_password_sets_the_password_and_ends_every_session() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let old_cookie = app.cookie.clone();
    app.post(
        "/api/auth/password/forgot",
        json!({"email": "ada@example.com"}),
    )
    .await
    .ok(202);
    let token = token_of(&app.link_sent_to("ada@example.com", "password_reset").await);

    app.post(
        "/api/auth/password/reset",
        json!({"token": token, "new_password": "password1"}),
    )
    .await
    .problem(422, "weak_password");
    let reply = app
        .post(
            "/api/auth/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    assert!(reply.set_cookies().is_empty(), "a reset signs nobody in");
    assert!(app.sessions_of("ada").await.is_empty());
    app.cookie = old_cookie;
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");

    // The link is spent; the new password works, the old one does not.
    app.post(
        "/api/auth/password/reset",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(400, "invalid_token");
    app.cookie = None;
    app.login("ada", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.login("ada", NEW_PASSWORD).await.ok(200);
}

#[tokio::test]
async fn reset_password_refuses_bad_tokens_and_bodies() {
    let mut app = TestApp::new();
    app.post(
        "/api/auth/password/reset",
        json!({"token": "not-a-token", "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(400, "invalid_token");
    app.post(
        "/api/auth/password/reset",
        json!({"token": "A".repeat(43), "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(400, "invalid_token");
    check_body_errors(&mut app, Method::POST, "/api/auth/password/reset").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::POST,
            "/api/auth/password/reset",
            &json!({"token": "x", "new_password": NEW_PASSWORD}),
        )
    })
    .await;
}

#[tokio::test]
async fn reset_and_verify_are_limited_per_ip() {
    let mut app = TestApp::new();
    for _ in 0..30 {
        app.post(
            "/api/auth/password/reset",
            json!({"token": "x", "new_password": NEW_PASSWORD}),
        )
        .await
        .problem(400, "invalid_token");
        app.post("/api/auth/email/verify", json!({"token": "x"}))
            .await
            .problem(400, "invalid_token");
    }
    app.post(
        "/api/auth/password/reset",
        json!({"token": "x", "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(429, "rate_limited");
    app.post("/api/auth/email/verify", json!({"token": "x"}))
        .await
        .problem(429, "rate_limited");
}

#[tokio::test]
async fn verify_email_confirms_the_signup_address() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let token = token_of(&app.link_sent_to("ada@example.com", "verify_email").await);
    let body = app
        .post("/api/auth/email/verify", json!({"token": token}))
        .await
        .ok(200)
        .clone();
    assert_eq!(keys(&body), ACCOUNT_FIELDS);
    assert_eq!(body["email_verified"], true);
    assert!(app.account("ada").await.email_verified);
    app.post("/api/auth/email/verify", json!({"token": token}))
        .await
        .problem(400, "invalid_token");
    check_body_errors(&mut app, Method::POST, "/api/auth/email/verify").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::POST,
            "/api/auth/email/verify",
            &json!({"token": "x"}),
        )
    })
    .await;
}

#[tokio::test]
async fn reauthenticate_freshens_the_session_with_a_new_token() {
    let mut app = TestApp::new();
    app.user("ada").await;
    app.go_stale();
    app.post("/api/account/email", json!({"email": "new@example.com"}))
        .await
        .problem(403, "reauthentication_required");

    let before = app.cookie.clone();
    app.post("/api/auth/reauthenticate", json!({"password": "wrong one"}))
        .await
        .problem(401, "invalid_credentials");
    let reply = app
        .post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    assert_ne!(app.cookie, before);
    app.post("/api/account/email", json!({"email": "new@example.com"}))
        .await
        .ok(202);

    // B10: the token from before the privilege change is dead.
    let after = app.cookie.clone();
    app.cookie = before;
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
    app.cookie = after;
    check_body_errors(&mut app, Method::POST, "/api/auth/reauthenticate").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::POST,
            "/api/auth/reauthenticate",
            &json!({"password": PASSWORD}),
        )
    })
    .await;
    app.cookie = None;
    app.post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .problem(401, "unauthenticated");
}

/// A login flood starves nothing: past what the password hashers can take (one at a time
/// and none waiting, here), a login is refused at once with 429 `rate_limited` and
/// `Retry-After`, before any lookup, rather than queued; the logins that got a hasher were
/// answered as usual, and once the flood is over a login signs in.
#[tokio::test]
async fn logins_beyond_the_hashers_are_refused_early_with_retry_after() {
    fn one_hasher(config: &mut account_core::AccountConfig) {
        config.hashing = account_core::password::HashingConfig {
            // Costly enough that a hash is still running when the next login arrives.
            memory_kib: 8 * 1024,
            iterations: 3,
            parallelism: 1,
            max_concurrent: 1,
            max_waiting: 0,
        };
    }
    let mut app = TestApp::with(Options {
        http: {
            let mut http = account_axum::HttpConfig::default();
            http.rate_limits = account_axum::RateLimits::none();
            http
        },
        configure: Some(one_hasher),
        ..Options::default()
    });
    app.sign_up("alice", "alice@example.com").await;
    app.sign_up("bob", "bob@example.com").await;

    let mut logins = tokio::task::JoinSet::new();
    for i in 0..12 {
        let mut client = app.clone_handle();
        logins.spawn(async move {
            let reply = client
                .login("alice", &format!("wrong password number {i}"))
                .await;
            let retry_after = reply
                .headers
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().expect("ascii").to_owned());
            (
                reply.status.as_u16(),
                reply.body["code"].clone(),
                retry_after,
            )
        });
    }
    let (mut refused, mut answered) = (0, 0);
    while let Some(done) = logins.join_next().await {
        let (status, code, retry_after) = done.expect("a login task");
        match status {
            429 => {
                refused += 1;
                assert_eq!(code, "rate_limited");
                assert_eq!(retry_after.as_deref(), Some("1"));
            }
            401 => answered += 1,
            other => panic!("unexpected status {other} ({code})"),
        }
    }
    assert!(refused > 0, "no login was refused early");
    assert!(answered > 0, "no login got the hasher");
    app.login("bob", PASSWORD).await.ok(200);
}
