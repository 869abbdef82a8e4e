//! The account: read, profile, email, recovery email, password, avatar.

use axum::http::{Method, header};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn get_account_answers_the_documented_fields() {
    let mut app = TestApp::new();
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
    let ada = app.user("ada").await;
    let body = app.get("/api/account").await.ok(200).clone();
    assert_eq!(
        body,
        json!({
            "id": ada.id.to_string(),
            "username": "ada",
            "display_name": "ada",
            "email": "ada@example.com",
            "email_verified": false,
            "recovery_email": null,
            "language": null,
            "avatar_url": null,
            "created_at": "2026-01-01T00:00:00Z",
            "source": {"type": "local"},
            "role": "user",
            "state": "active",
            "second_factors": {"totp": false, "recovery_codes_left": 0, "passkeys": 0},
        })
    );
}

#[tokio::test]
async fn a_disabled_account_is_signed_out() {
    let mut app = TestApp::new();
    app.user("ada").await;
    app.disable("ada").await;
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn patch_account_changes_the_profile() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let body = app
        .patch(
            "/api/account",
            json!({"display_name": "Ada Lovelace", "language": "DE-ch"}),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(body["display_name"], "Ada Lovelace");
    assert_eq!(body["language"], "de-CH");
    let stored = app.account("ada").await;
    assert_eq!(stored.display_name.as_str(), "Ada Lovelace");

    // Absent leaves as is; null clears the language.
    let body = app
        .patch("/api/account", json!({"language": null}))
        .await
        .ok(200)
        .clone();
    assert_eq!(body["display_name"], "Ada Lovelace");
    assert_eq!(body["language"], serde_json::Value::Null);
    assert!(app.account("ada").await.language.is_none());
}

#[tokio::test]
async fn patch_account_refuses_bad_fields_locked_profiles_and_strangers() {
    let mut app = TestApp::new();
    app.patch("/api/account", json!({"display_name": "X"}))
        .await
        .problem(401, "unauthenticated");
    app.user("ada").await;
    let body = app
        .patch("/api/account", json!({"language": "english!"}))
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(body["field"], "language");
    app.patch("/api/account", json!({"display_name": " "}))
        .await
        .problem(422, "validation_failed");

    app.set_policy(|p| p.lock_profiles = true).await;
    app.patch("/api/account", json!({"display_name": "Someone Else"}))
        .await
        .problem(403, "profile_locked");
    assert_eq!(app.account("ada").await.display_name.as_str(), "ada");
    // The language stays the user's to choose.
    app.patch("/api/account", json!({"language": "fr"}))
        .await
        .ok(200);

    check_body_errors(&mut app, Method::PATCH, "/api/account").await;
    check_cross_site_refused(&mut app, || {
        json_request(Method::PATCH, "/api/account", &json!({"language": "it"}))
    })
    .await;
    assert_eq!(
        app.account("ada").await.language.map(|l| l.to_string()),
        Some("fr".to_owned())
    );
}

#[tokio::test]
async fn email_change_waits_for_the_link_to_the_new_address() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let reply = app
        .post(
            "/api/account/email",
            json!({"email": "lovelace@example.com"}),
        )
        .await;
    assert_eq!(reply.ok(202), &json!({"status": "accepted"}));
    assert_eq!(app.account("ada").await.email.as_str(), "ada@example.com");
    assert!(
        app.mail_kinds("ada@example.com")
            .await
            .contains(&"email_change_requested")
    );

    let token = token_of(
        &app.link_sent_to("lovelace@example.com", "verify_email")
            .await,
    );
    let body = app
        .post("/api/auth/email/verify", json!({"token": token}))
        .await
        .ok(200)
        .clone();
    assert_eq!(body["email"], "lovelace@example.com");
    assert_eq!(
        app.account("ada").await.email.as_str(),
        "lovelace@example.com"
    );
}

#[tokio::test]
async fn email_change_needs_a_fresh_session_and_a_valid_address() {
    let mut app = TestApp::new();
    app.post("/api/account/email", json!({"email": "x@example.com"}))
        .await
        .problem(401, "unauthenticated");
    app.user("ada").await;
    app.post("/api/account/email", json!({"email": "nope"}))
        .await
        .problem(422, "validation_failed");
    check_body_errors(&mut app, Method::POST, "/api/account/email").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::POST,
            "/api/account/email",
            &json!({"email": "evil@example.com"}),
        )
    })
    .await;

    app.go_stale();
    app.post("/api/account/email", json!({"email": "new@example.com"}))
        .await
        .problem(403, "reauthentication_required");
    assert!(app.mail_kinds("new@example.com").await.is_empty());
    assert!(app.mail_kinds("evil@example.com").await.is_empty());
    assert_eq!(app.account("ada").await.email.as_str(), "ada@example.com");
}

#[tokio::test]
async fn recovery_email_is_set_through_a_link_and_removed_at_once() {
    let mut app = TestApp::new();
    app.user("ada").await;
    app.put(
        "/api/account/recovery-email",
        json!({"email": "backup@example.com"}),
    )
    .await
    .ok(202);
    assert!(app.account("ada").await.recovery_email.is_none());
    let token = token_of(
        &app.link_sent_to("backup@example.com", "verify_recovery_email")
            .await,
    );
    let body = app
        .post("/api/auth/email/verify", json!({"token": token}))
        .await
        .ok(200)
        .clone();
    assert_eq!(body["recovery_email"], "backup@example.com");

    let reply = app
        .put("/api/account/recovery-email", json!({"email": null}))
        .await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    assert!(app.account("ada").await.recovery_email.is_none());
}

#[tokio::test]
async fn recovery_email_refuses_missing_fields_stale_sessions_and_strangers() {
    let mut app = TestApp::new();
    app.put("/api/account/recovery-email", json!({"email": null}))
        .await
        .problem(401, "unauthenticated");
    app.user("ada").await;
    // An empty body must not remove the address by accident.
    let body = app
        .put("/api/account/recovery-email", json!({}))
        .await
        .problem(400, "malformed_json")
        .clone();
    assert_eq!(body["field"], "email");
    app.put("/api/account/recovery-email", json!({"email": "nope"}))
        .await
        .problem(422, "validation_failed");
    check_body_errors(&mut app, Method::PUT, "/api/account/recovery-email").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::PUT,
            "/api/account/recovery-email",
            &json!({"email": "evil@example.com"}),
        )
    })
    .await;
    app.go_stale();
    app.put(
        "/api/account/recovery-email",
        json!({"email": "backup@example.com"}),
    )
    .await
    .problem(403, "reauthentication_required");
    assert!(app.mail_kinds("backup@example.com").await.is_empty());
}

#[tokio::test]
async fn password_change_rotates_the_cookie_and_signs_other_devices_out() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let laptop = app.cookie.clone();
    app.cookie = None;
    app.login("ada", PASSWORD).await.ok(200);
    let phone = app.cookie.clone();

    let reply = app
        .put(
            "/api/account/password",
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.ok(200), &json!({"status": "ok"}));
    assert_ne!(app.cookie, phone);
    app.get("/api/account").await.ok(200);

    for old in [laptop, phone] {
        app.send(with(
            empty(Method::GET, "/api/account"),
            "cookie",
            old.as_deref().expect("cookie"),
        ))
        .await
        .problem(401, "unauthenticated");
    }
    assert_eq!(app.sessions_of("ada").await.len(), 1);
    assert!(
        app.mail_kinds("ada@example.com")
            .await
            .contains(&"password_changed")
    );
}

#[tokio::test]
async fn password_change_refuses_a_wrong_current_password_and_weak_ones() {
    let mut app = TestApp::new();
    app.put(
        "/api/account/password",
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(401, "unauthenticated");
    app.user("ada").await;
    app.put(
        "/api/account/password",
        json!({"current_password": "wrong", "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(403, "current_password_incorrect");
    let body = app
        .put(
            "/api/account/password",
            json!({"current_password": PASSWORD, "new_password": "ada"}),
        )
        .await
        .problem(422, "weak_password")
        .clone();
    assert_eq!(body["reason"], "too_short");
    app.put(
        "/api/account/password",
        json!({"current_password": PASSWORD}),
    )
    .await
    .problem(400, "malformed_json");
    check_body_errors(&mut app, Method::PUT, "/api/account/password").await;
    check_cross_site_refused(&mut app, || {
        json_request(
            Method::PUT,
            "/api/account/password",
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
    })
    .await;
    // Still the old password.
    app.cookie = None;
    app.login("ada", PASSWORD).await.ok(200);
}

#[tokio::test]
async fn avatar_upload_read_and_removal() {
    let mut app = TestApp::new();
    let ada = app.user("ada").await;
    let body = app
        .send(raw(
            Method::PUT,
            "/api/account/avatar",
            "image/png",
            png(300, 200),
        ))
        .await
        .ok(200)
        .clone();
    let url = body["avatar_url"].as_str().expect("a URL").to_owned();
    let millis = app
        .account("ada")
        .await
        .avatar_updated_at
        .expect("set")
        .timestamp_millis();
    assert_eq!(url, format!("/api/users/{}/avatar?v={millis}", ada.id));

    let image = app.get(&url).await;
    image.ok(200);
    assert_eq!(image.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(image.headers[header::CACHE_CONTROL], "private, max-age=300");
    assert_eq!(image.headers["x-content-type-options"], "nosniff");
    assert!(image.bytes.starts_with(b"\x89PNG"));

    // Another signed-in user may see it; a stranger may not.
    let ada_cookie = app.cookie.take();
    app.user("bob").await;
    app.get(&url).await.ok(200);
    app.cookie = None;
    app.get(&url).await.problem(401, "unauthenticated");
    app.cookie = ada_cookie;

    let body = app.delete("/api/account/avatar").await.ok(200).clone();
    assert_eq!(body["avatar_url"], serde_json::Value::Null);
    app.get(&url).await.problem(404, "not_found");
    assert!(app.account("ada").await.avatar_updated_at.is_none());
}

#[tokio::test]
async fn avatar_refuses_wrong_types_large_bodies_and_strangers() {
    let mut app = TestApp::new();
    app.send(raw(
        Method::PUT,
        "/api/account/avatar",
        "image/png",
        png(8, 8),
    ))
    .await
    .problem(401, "unauthenticated");
    app.delete("/api/account/avatar")
        .await
        .problem(401, "unauthenticated");
    app.user("ada").await;

    app.send(raw(
        Method::PUT,
        "/api/account/avatar",
        "image/gif",
        png(8, 8),
    ))
    .await
    .problem(415, "unsupported_media_type");
    app.send(raw(
        Method::PUT,
        "/api/account/avatar",
        "application/json",
        "{}",
    ))
    .await
    .problem(415, "unsupported_media_type");
    // The declared type is only a first filter: the bytes decide.
    let body = app
        .send(raw(
            Method::PUT,
            "/api/account/avatar",
            "image/png",
            "<svg onload=alert(1)>",
        ))
        .await
        .problem(415, "invalid_avatar")
        .clone();
    assert_eq!(body["reason"], "avatar_unsupported_format");
    let mut broken = png(8, 8);
    broken.truncate(30);
    app.send(raw(Method::PUT, "/api/account/avatar", "image/png", broken))
        .await
        .problem(422, "invalid_avatar");
    app.send(raw(
        Method::PUT,
        "/api/account/avatar",
        "image/png",
        vec![0u8; 1024 * 1024 + 1],
    ))
    .await
    .problem(413, "payload_too_large");
    check_cross_site_refused(&mut app, || {
        raw(Method::PUT, "/api/account/avatar", "image/png", png(8, 8))
    })
    .await;
    check_cross_site_refused(&mut app, || empty(Method::DELETE, "/api/account/avatar")).await;
    assert!(app.account("ada").await.avatar_updated_at.is_none());
}

#[tokio::test]
async fn avatar_of_an_unknown_or_malformed_id_is_not_found() {
    let mut app = TestApp::new();
    app.user("ada").await;
    app.get(&format!("/api/users/{}/avatar", uuid::Uuid::nil()))
        .await
        .problem(404, "not_found");
    app.get("/api/users/not-an-id/avatar")
        .await
        .problem(404, "not_found");
}
