//! Request logs carry no secret, from any thread: every event of an HTTP journey is
//! captured at TRACE level and searched for every secret the journey sent or received.
//!
//! This binary holds one test, because its subscriber is the process's global default
//! (`set_global_default`). Only a global subscriber sees the events of every thread: the
//! blocking pool, where passwords are hashed and verified and avatars decoded, as well as
//! the runtime's own. A thread-local one (`set_default`) sees the test's thread alone, so
//! a secret logged by a blocking job would go unseen. A second test in this binary would
//! share the one subscriber and its buffer, and its log lines could satisfy this test's
//! checks that something was logged, so there is none.

// The HTTP tests' harness, shared with the `http` binary; this binary uses only part of it.
#[allow(dead_code, unreachable_pub)]
#[path = "http/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::Method;
use serde_json::json;

use crate::support::*;

/// Log lines captured from `tracing`, from every thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Installs a subscriber that writes every event at TRACE level and above into this
    /// buffer as the global default, for every thread of the process.
    fn install_globally(&self) {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of this test binary");
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_logs_carry_no_secret() {
    let logs = Logs::default();
    logs.install_globally();

    // The capture sees other threads: an event from the blocking pool and one from a
    // thread of its own both arrive.
    tokio::task::spawn_blocking(|| tracing::trace!("canary from the blocking pool"))
        .await
        .expect("the blocking job runs");
    std::thread::spawn(|| tracing::trace!("canary from another thread"))
        .join()
        .expect("the thread runs");
    let canaries = logs.text();
    assert!(
        canaries.contains("canary from the blocking pool")
            && canaries.contains("canary from another thread"),
        "the subscriber captures every thread at TRACE level: {canaries}"
    );

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
