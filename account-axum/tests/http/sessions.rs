//! Sessions and the security log.

use axum::http::Method;
use serde_json::json;

use crate::support::*;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

/// Logs `username` in from a browser, keeping that device's cookie in the app.
pub async fn login_from(
    app: &mut TestApp,
    username: &str,
    user_agent: &str,
    hints: &[(&'static str, &str)],
) {
    let mut request = with(
        json_request(
            Method::POST,
            "/api/auth/login",
            &json!({"login": username, "password": PASSWORD}),
        ),
        "user-agent",
        user_agent,
    );
    for (name, value) in hints {
        request = with(request, name, value);
    }
    app.cookie = None;
    app.send(request).await.ok(200);
}

#[tokio::test]
async fn sessions_are_listed_with_their_devices() {
    let mut app = TestApp::new();
    app.get("/api/account/sessions")
        .await
        .problem(401, "unauthenticated");
    app.sign_up("ada", "ada@example.com").await;
    login_from(
        &mut app,
        "ada",
        CHROME_ANDROID,
        &[
            ("sec-ch-ua-platform", "\"Android\""),
            ("sec-ch-ua-model", "\"Pixel 7\""),
        ],
    )
    .await;
    app.clock.advance(chrono::Duration::seconds(5));
    login_from(&mut app, "ada", FIREFOX, &[]).await;

    let list = app.get("/api/account/sessions").await.ok(200).clone();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 2);
    let newest = &list[0];
    assert_eq!(
        keys(newest),
        [
            "browser",
            "cpu_arch",
            "created_at",
            "current",
            "device",
            "engine",
            "expires_at",
            "id",
            "ip",
            "last_authenticated_at",
            "last_seen_at",
            "os"
        ]
    );
    assert_eq!(newest["current"], true);
    assert_eq!(newest["browser"], "Firefox 128");
    assert_eq!(newest["engine"], "Gecko");
    assert_eq!(newest["cpu_arch"], "x86_64");
    assert_eq!(newest["ip"], "198.51.100.1");
    assert_eq!(newest["expires_at"], "2026-01-01T01:00:05Z");
    assert_eq!(newest["last_authenticated_at"], "2026-01-01T00:00:05Z");
    let phone = &list[1];
    assert_eq!(phone["current"], false);
    assert_eq!(phone["device"], "Pixel 7");
    assert_eq!(phone["os"], "Android");
}

#[tokio::test]
async fn f22_revoking_another_session_signs_that_device_out() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let phone = app.cookie.clone();
    app.cookie = None;
    app.login("ada", PASSWORD).await.ok(200);
    let list = app.get("/api/account/sessions").await.ok(200).clone();
    let other = list
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["current"] == false)
        .expect("the phone's session")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/account/sessions/{other}");
    check_cross_site_refused(&mut app, || empty(Method::DELETE, &path)).await;

    app.go_stale();
    app.delete(&path)
        .await
        .problem(403, "reauthentication_required");
    assert_eq!(app.sessions_of("ada").await.len(), 2);
    app.post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .ok(200);

    let reply = app.delete(&path).await;
    reply.ok(204);
    assert!(reply.set_cookies().is_empty());
    assert_eq!(app.sessions_of("ada").await.len(), 1);
    app.delete(&path).await.problem(404, "not_found");
    app.send(with(
        empty(Method::GET, "/api/account"),
        "cookie",
        phone.as_deref().expect("cookie"),
    ))
    .await
    .problem(401, "unauthenticated");
    app.get("/api/account").await.ok(200);

    app.delete(&format!("/api/account/sessions/{}", uuid::Uuid::nil()))
        .await
        .problem(404, "not_found");
    app.delete("/api/account/sessions/garbage")
        .await
        .problem(404, "not_found");
    app.cookie = None;
    app.delete(&path).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn revoking_the_current_session_is_a_logout() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let id = app.sessions_of("ada").await[0].id;
    let reply = app.delete(&format!("/api/account/sessions/{id}")).await;
    reply.ok(204);
    assert!(reply.set_cookies()[0].contains("Max-Age=0"));
    assert_eq!(reply.headers["clear-site-data"], "\"cookies\"");
    assert!(app.sessions_of("ada").await.is_empty());
}

#[tokio::test]
async fn revoking_every_other_session() {
    let mut app = TestApp::unlimited();
    app.user("ada").await;
    for _ in 0..2 {
        app.cookie = None;
        app.login("ada", PASSWORD).await.ok(200);
    }
    check_cross_site_refused(&mut app, || empty(Method::DELETE, "/api/account/sessions")).await;
    app.go_stale();
    app.delete("/api/account/sessions")
        .await
        .problem(403, "reauthentication_required");
    assert_eq!(app.sessions_of("ada").await.len(), 3);

    app.post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .ok(200);
    let reply = app.delete("/api/account/sessions").await;
    assert_eq!(reply.ok(200), &json!({"revoked": 2}));
    assert_eq!(app.sessions_of("ada").await.len(), 1);
    app.get("/api/account").await.ok(200);
    app.cookie = None;
    app.delete("/api/account/sessions")
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn security_events_are_paged_with_a_cursor() {
    let mut app = TestApp::unlimited();
    app.get("/api/account/security-events")
        .await
        .problem(401, "unauthenticated");
    app.user("ada").await;
    app.login("ada", "wrong")
        .await
        .problem(401, "invalid_credentials");
    app.login("ada", PASSWORD).await.ok(200);

    let all = app
        .get("/api/account/security-events")
        .await
        .ok(200)
        .clone();
    let all = all.as_array().expect("array").clone();
    let kinds: Vec<&str> = all
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "logged_out",
            "login_succeeded",
            "login_failed",
            "login_succeeded",
            "signed_up"
        ]
    );
    assert_eq!(
        keys(&all[0]),
        ["at", "cursor", "details", "id", "ip", "kind", "user_agent"]
    );
    // The new login ended the browser's previous session.
    assert_eq!(all[1]["details"]["method"], "password");
    assert_eq!(all[0]["ip"], "198.51.100.1");

    // Page by page: each page continues after the last one's cursor.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(cursor) => format!("/api/account/security-events?limit=2&before={cursor}"),
            None => "/api/account/security-events?limit=2".to_owned(),
        };
        let page = app.get(&path).await.ok(200).clone();
        let page = page.as_array().expect("array").clone();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        before = Some(
            page.last().expect("one")["cursor"]
                .as_str()
                .expect("cursor")
                .to_owned(),
        );
        seen.extend(page.into_iter().map(|e| e["id"].clone()));
    }
    let ids: Vec<_> = all.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, ids);

    // A limit above the maximum is capped; nonsense is refused.
    app.get("/api/account/security-events?limit=1000")
        .await
        .ok(200);
    let body = app
        .get("/api/account/security-events?limit=ten")
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(body["field"], "limit");
    let body = app
        .get("/api/account/security-events?before=garbage")
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(body["field"], "before");
}

/// An authenticated `GET /api/account` costs one store read in all: the session with its
/// account and the account's second factors (DESIGN.md, "Performance targets"). The last
/// seen time was written at login, so no touch is due.
#[tokio::test]
async fn an_authenticated_read_costs_one_store_read() {
    use std::sync::{Arc, OnceLock};

    use account_core::store::Store;
    use account_core::store::memory::MemoryStore;
    use account_core::testing::CountingStore;

    static COUNTS: OnceLock<Arc<CountingStore>> = OnceLock::new();
    fn counted(store: Arc<MemoryStore>) -> Arc<dyn Store> {
        COUNTS
            .get_or_init(|| Arc::new(CountingStore::new(store)))
            .clone()
    }
    let mut app = TestApp::with(Options {
        wrap_store: Some(counted),
        ..Options::default()
    });
    app.user("alice").await;
    let counts = COUNTS.get().expect("the app wrapped its store");

    counts.reset();
    let account = app.get("/api/account").await.ok(200).clone();
    assert_eq!(account["username"], "alice", "{account}");
    assert_eq!(
        (counts.calls("session_with_account"), counts.total()),
        (1, 1),
        "GET /api/account must cost the one read of the session with its account: {counts:?}"
    );
}
