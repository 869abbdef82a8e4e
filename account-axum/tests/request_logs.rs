//! Request logs carry no secret, from any thread: every event of an HTTP journey is
//! captured at TRACE level and searched for every secret the journey sent or received.
//!
//! This binary holds one test, because its capture is the process's global subscriber
//! ([`GlobalLogs`], which says why only a global one sees every thread).

// The HTTP tests' harness, shared with the `http` binary; this binary uses only part of it.
#[allow(dead_code, unreachable_pub)]
#[path = "http/support.rs"]
mod support;

use account_core::testing::logs::GlobalLogs;
use axum::http::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn request_logs_carry_no_secret() {
    let logs = GlobalLogs::install().await;

    let mut app = TestApp::new();
    app.user("ada").await;
    let session_cookie = app.cookie.clone().expect("cookie");
    let token = session_cookie.split_once('=').expect("pair").1.to_owned();
    app.send(with(
        empty(
            Method::GET,
            "/api/account/security-events?limit=3&before=c2VjcmV0",
        ),
        "user-agent",
        "SecretAgent/1.0",
    ))
    .await;
    app.put(
        "/api/account/password",
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await
    .ok(200);
    let new_token = app
        .cookie
        .clone()
        .expect("cookie")
        .split_once('=')
        .expect("pair")
        .1
        .to_owned();
    app.post(
        "/api/auth/password/forgot",
        json!({"email": "ada@example.com"}),
    )
    .await
    .ok(202);
    let reset = token_of(&app.link_sent_to("ada@example.com", "password_reset").await);
    app.post(
        "/api/auth/password/reset",
        json!({"token": reset, "new_password": PASSWORD}),
    )
    .await
    .ok(200);
    app.login("ada", PASSWORD).await.ok(200);
    // An avatar, decoded and re-encoded on the blocking pool.
    app.send(raw(
        Method::PUT,
        "/api/account/avatar",
        "image/png",
        png(16, 16),
    ))
    .await
    .ok(200);
    // Personal API tokens and app passwords travel in the Authorization header, which the
    // request span never records, whether the request succeeds or fails.
    let created = app
        .post(
            "/api/account/tokens",
            json!({"name": "ci", "scope": "read"}),
        )
        .await
        .ok(201)
        .clone();
    let api_token = created["token"].as_str().expect("token").to_owned();
    let app_password = app
        .post("/api/account/app-passwords", json!({"name": "mail"}))
        .await
        .ok(201)["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("ada:{app_password}"),
    );
    app.cookie = None;
    for (authorization, status) in [
        (format!("Bearer {api_token}"), 200),
        (format!("Bearer {api_token}x"), 401),
        (format!("Basic {basic}"), 401),
    ] {
        let reply = app
            .send(with(
                empty(Method::GET, "/api/account"),
                "authorization",
                &authorization,
            ))
            .await;
        assert_eq!(reply.status, status, "{:?}", reply.body);
    }

    let text = logs.text();
    assert!(text.contains("request finished"), "{text}");
    assert!(text.contains("path=/api/auth/login"), "{text}");
    assert!(text.contains("path=/api/account/security-events"), "{text}");
    assert!(text.contains("status=200"), "{text}");
    assert!(text.contains("client_ip=198.51.100.1"), "{text}");
    for secret in [
        PASSWORD,
        NEW_PASSWORD,
        &token,
        &new_token,
        &reset,
        &api_token,
        &api_token[api_token.len() - 8..],
        &app_password,
        &basic,
        "Bearer",
        "Basic",
        "limit=3",
        "c2VjcmV0",
        "SecretAgent",
        "ada@example.com",
    ] {
        assert!(!text.contains(secret), "{secret:?} in the logs:\n{text}");
    }
}
