//! The rules of SECURITY.md that the HTTP layer enforces, and embedding in a host.

use std::io::Write;
use std::sync::{Arc, Mutex};

use account_axum::{
    AccountRouter, AccountsState, CurrentAccount, CurrentSession, HttpConfig, RateLimits,
};
use axum::Router;
use axum::extract::FromRef;
use axum::http::{Method, header};
use axum::routing::{get, post};
use serde_json::json;

use crate::failing_store::{FAILURE, failing_sessions_of};
use crate::support::*;

/// The session's IP as the sessions list shows it.
async fn session_ip(app: &mut TestApp) -> String {
    let list = app.get("/api/account/sessions").await.ok(200).clone();
    list[0]["ip"].as_str().expect("ip").to_owned()
}

fn login_request(login: &str, password: &str) -> axum::http::Request<axum::body::Body> {
    json_request(
        Method::POST,
        "/api/auth/login",
        &json!({"login": login, "password": password}),
    )
}

#[tokio::test]
async fn b9_forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let request = with(login_request("ada", PASSWORD), "x-forwarded-for", "1.2.3.4");
    let request = with(request, "forwarded", "for=5.6.7.8");
    app.send(request).await.ok(200);
    assert_eq!(session_ip(&mut app).await, "198.51.100.1");
    assert_eq!(
        app.events("ada").await[0].ip,
        Some("198.51.100.1".parse().expect("ip"))
    );

    // Nor can a client dodge the per-IP limit by making up a new address each time.
    app.cookie = None;
    for i in 0..19 {
        let request = with(
            login_request("ada", "wrong"),
            "x-forwarded-for",
            &format!("9.9.9.{i}"),
        );
        app.send(request).await.problem(401, "invalid_credentials");
    }
    let request = with(
        login_request("ada", "wrong"),
        "x-forwarded-for",
        "9.9.9.250",
    );
    app.send(request).await.problem(429, "rate_limited");
}

#[tokio::test]
async fn b9_forwarding_headers_from_a_trusted_proxy_are_believed() {
    let mut http = HttpConfig::default();
    http.trusted_proxies = vec!["10.0.0.0/8".parse().expect("cidr")];
    let mut app = TestApp::with(Options {
        http,
        ..Options::default()
    });
    app.sign_up("ada", "ada@example.com").await;
    let via_proxy = |client: &str, password: &str| {
        from_peer(
            with(
                login_request("ada", password),
                "x-forwarded-for",
                &format!("6.6.6.6, {client}, 10.0.0.1"),
            ),
            "10.0.0.2:50000",
        )
    };
    app.send(via_proxy("203.0.113.7", PASSWORD)).await.ok(200);
    assert_eq!(session_ip(&mut app).await, "203.0.113.7");

    // The limit counts the real client, not the proxy all clients share.
    for _ in 0..19 {
        app.send(via_proxy("203.0.113.7", "wrong"))
            .await
            .problem(401, "invalid_credentials");
    }
    app.send(via_proxy("203.0.113.7", "wrong"))
        .await
        .problem(429, "rate_limited");
    app.send(via_proxy("203.0.113.8", "wrong"))
        .await
        .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn requests_without_connect_info_count_as_one_unknown_client() {
    let mut app = TestApp::new();
    let router = app.router.clone();
    for _ in 0..10 {
        let reply = tower::ServiceExt::oneshot(
            router.clone(),
            json_request(
                Method::POST,
                "/api/auth/password/forgot",
                &json!({"email": "x@example.com"}),
            ),
        )
        .await
        .expect("infallible");
        assert_eq!(reply.status(), 202);
    }
    let reply = tower::ServiceExt::oneshot(
        router,
        json_request(
            Method::POST,
            "/api/auth/password/forgot",
            &json!({"email": "x@example.com"}),
        ),
    )
    .await
    .expect("infallible");
    assert_eq!(reply.status(), 429);
    // A client with a known address is counted on its own.
    app.post(
        "/api/auth/password/forgot",
        json!({"email": "x@example.com"}),
    )
    .await
    .ok(202);
}

/// The attributes of a `Set-Cookie`, lowercased names.
fn cookie_attributes(set_cookie: &str) -> (String, String, Vec<(String, Option<String>)>) {
    let mut parts = set_cookie.split(';').map(str::trim);
    let (name, value) = parts
        .next()
        .expect("a pair")
        .split_once('=')
        .expect("name=value");
    let attributes = parts
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_owned())),
            None => (a.to_ascii_lowercase(), None),
        })
        .collect();
    (name.to_owned(), value.to_owned(), attributes)
}

fn attribute<'a>(
    attributes: &'a [(String, Option<String>)],
    name: &str,
) -> Option<&'a Option<String>> {
    attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[tokio::test]
async fn f19_the_session_cookie_over_https() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let reply = app.login("ada", PASSWORD).await;
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 2, "the session and the known-device cookie");
    // The known-device cookie has the same prefix and attributes, and lasts 400 days.
    let (name, _, device) = cookie_attributes(&cookies[1]);
    assert_eq!(name, "__Host-session-device");
    for (key, value) in [
        ("secure", None),
        ("httponly", None),
        ("samesite", Some("Lax")),
        ("path", Some("/")),
        ("max-age", Some("34560000")),
    ] {
        assert_eq!(
            attribute(&device, key),
            Some(&value.map(str::to_owned)),
            "{key}"
        );
    }
    assert_eq!(attribute(&device, "domain"), None);
    let (name, value, attributes) = cookie_attributes(&cookies[0]);
    assert_eq!(name, "__Host-session");
    assert_eq!(value.len(), 43, "a 256-bit token");
    assert_eq!(attribute(&attributes, "secure"), Some(&None));
    assert_eq!(attribute(&attributes, "httponly"), Some(&None));
    assert_eq!(
        attribute(&attributes, "samesite"),
        Some(&Some("Lax".to_owned()))
    );
    assert_eq!(attribute(&attributes, "path"), Some(&Some("/".to_owned())));
    assert_eq!(attribute(&attributes, "domain"), None);
    // The policy's absolute lifetime.
    assert_eq!(
        attribute(&attributes, "max-age"),
        Some(&Some("86400".to_owned()))
    );
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn f19_the_session_cookie_over_http_for_local_development() {
    let mut app = TestApp::with(Options {
        public_url: "http://127.0.0.1:8080",
        ..Options::default()
    });
    app.sign_up("ada", "ada@example.com").await;
    let reply = app.login("ada", PASSWORD).await;
    let (name, _, attributes) = cookie_attributes(&reply.set_cookies()[0]);
    assert_eq!(name, "session");
    assert_eq!(attribute(&attributes, "secure"), None);
    assert_eq!(attribute(&attributes, "httponly"), Some(&None));
    assert_eq!(
        attribute(&attributes, "samesite"),
        Some(&Some("Lax".to_owned()))
    );
    assert!(
        !reply
            .headers
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    );
    app.get("/api/account").await.ok(200);
    // Over http the browser's Origin is the http origin.
    app.send(with(
        json_request(Method::PATCH, "/api/account", &json!({"language": "en"})),
        "origin",
        "http://127.0.0.1:8080",
    ))
    .await
    .ok(200);
}

#[tokio::test]
async fn j41_every_answer_carries_the_security_headers() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let evil = |r| with(r, "origin", "https://evil.test");
    let mut replies = vec![
        app.send(evil(empty(Method::GET, "/api/account"))).await,
        app.send(login_request("ada", "wrong")).await,
        app.send(login_request("ada", PASSWORD)).await,
        app.send(evil(empty(Method::GET, "/api/account"))).await,
        app.send(evil(empty(Method::GET, "/api/nothing-here")))
            .await,
        app.send(evil(empty(Method::OPTIONS, "/api/account"))).await,
        app.send(evil(empty(Method::GET, "/api/openapi.json")))
            .await,
        app.post("/api/auth/signup", json!({"username": "x"})).await,
    ];
    app.send(raw(
        Method::PUT,
        "/api/account/avatar",
        "image/png",
        png(4, 4),
    ))
    .await
    .ok(200);
    let ada = app.account("ada").await;
    let avatar = app.get(&format!("/api/users/{}/avatar", ada.id)).await;
    assert_eq!(
        avatar.headers[header::CACHE_CONTROL],
        "private, max-age=300"
    );
    replies.push(avatar);

    for reply in &replies {
        let h = &reply.headers;
        if reply.headers[header::CONTENT_TYPE] != "image/png" {
            assert_eq!(h[header::CACHE_CONTROL], "no-store", "{reply:?}");
        }
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(
            h[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000; includeSubDomains"
        );
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("ascii")
                .contains("frame-ancestors 'none'")
        );
        assert!(
            h.keys().all(|k| !k.as_str().starts_with("access-control-")),
            "{h:?}"
        );
    }
}

#[tokio::test]
async fn j40_every_unsafe_route_refuses_cross_site_requests() {
    let mut app = TestApp::new();
    app.admin("root").await;
    let doc = app.get("/api/openapi.json").await.ok(200).clone();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let path = path.replace("{id}", &uuid::Uuid::nil().to_string());
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            for (name, value) in [
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-site", "same-site"),
                ("origin", "https://evil.test"),
                ("origin", "null"),
            ] {
                let request = with(json_request(method.clone(), &path, &json!({})), name, value);
                app.send(request).await.problem(403, "csrf_refused");
            }
            // The application's own pages pass the check (and fail or succeed on their
            // merits).
            let request = with(
                with(
                    json_request(method.clone(), &path, &json!({})),
                    "sec-fetch-site",
                    "same-origin",
                ),
                "origin",
                PUBLIC_URL,
            );
            let reply = app.send(request).await;
            assert_ne!(reply.body["code"], "csrf_refused", "{method} {path}");
            if path == "/api/auth/logout" {
                // Logged out by the check itself: sign in again for the routes after it.
                app.login("root", PASSWORD).await.ok(200);
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked, 45,
        "every unsafe route of the document was checked"
    );
}

#[tokio::test]
async fn a_storage_failure_is_an_opaque_500_with_the_detail_in_the_log() {
    let logs = Logs::capture();
    let _guard = logs.install();
    let mut app = TestApp::with(Options {
        wrap_store: Some(failing_sessions_of),
        ..Options::default()
    });
    app.user("ada").await;
    let reply = app.get("/api/account/sessions").await;
    let body = reply.problem(500, "internal");
    assert_eq!(body["detail"], "internal error");
    assert_eq!(body["title"], "Internal Server Error");
    let text = String::from_utf8_lossy(&reply.bytes);
    assert!(!text.contains("10.1.2.3"), "{text}");
    assert!(!text.contains("storage"), "{text}");
    assert!(logs.text().contains(FAILURE), "{}", logs.text());
}

#[tokio::test]
async fn unknown_api_routes_and_methods_are_problems() {
    let mut app = TestApp::new();
    let reply = app.get("/api/nothing/here").await;
    reply.problem(404, "not_found");
    assert_eq!(reply.route, None);
    app.post("/api/accounts", json!({}))
        .await
        .problem(404, "not_found");
    let reply = app.send(empty(Method::PUT, "/api/account")).await;
    reply.problem(405, "method_not_allowed");
    let allow = reply.headers[header::ALLOW].to_str().expect("ascii");
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
}

#[derive(Clone, FromRef)]
struct HostState {
    accounts: AccountsState,
    greeting: &'static str,
}

async fn hello(
    axum::extract::State(greeting): axum::extract::State<&'static str>,
    me: CurrentAccount,
) -> String {
    format!("{greeting}, {}!", me.account.display_name)
}

async fn notes(CurrentSession(session): CurrentSession) -> String {
    session.account_id.to_string()
}

#[tokio::test]
async fn a_host_nests_the_router_and_uses_the_extractors() {
    let mut app = TestApp::new();
    let api = AccountRouter::new(app.accounts.clone(), HttpConfig::default());
    let state = HostState {
        accounts: api.state().clone(),
        greeting: "Hello",
    };
    app.router = Router::new()
        .route("/hello", get(hello))
        .route("/notes", post(notes))
        .with_state(state)
        .nest("/accounts", api.into_router());

    app.post(
        "/accounts/api/auth/signup",
        json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}),
    )
    .await
    .ok(201);
    app.send(empty(Method::GET, "/hello"))
        .await
        .problem(401, "unauthenticated");
    app.post(
        "/accounts/api/auth/login",
        json!({"login": "ada", "password": PASSWORD}),
    )
    .await
    .ok(200);
    let reply = app.get("/hello").await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.bytes[..], b"Hello, ada!");

    // The host's own unsafe route is covered by the extractor's CSRF check.
    app.send(with(
        empty(Method::POST, "/notes"),
        "sec-fetch-site",
        "cross-site",
    ))
    .await
    .problem(403, "csrf_refused");
    let reply = app.send(empty(Method::POST, "/notes")).await;
    assert_eq!(reply.status, 200);

    // Links the API hands out point under the prefix.
    let body = app
        .send(raw(
            Method::PUT,
            "/accounts/api/account/avatar",
            "image/png",
            png(4, 4),
        ))
        .await
        .ok(200)
        .clone();
    let url = body["avatar_url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/accounts/api/users/"), "{url}");
    app.get(&url).await.ok(200);
    app.get("/accounts/api/nope")
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn merging_the_router_into_an_app_with_a_fallback_works() {
    let mut app = TestApp::unlimited();
    let mut http = HttpConfig::default();
    http.rate_limits = RateLimits::none();
    let api = AccountRouter::new(app.accounts.clone(), http);
    app.router = Router::new()
        .fallback(|| async { "the host's page" })
        .merge(api.into_router());
    app.user("ada").await;
    app.get("/api/account").await.ok(200);
    let page = app.get("/some/page").await;
    assert_eq!(&page.bytes[..], b"the host's page");
}

/// Log lines captured from `tracing`, for the test that looks for a line in them.
///
/// The subscriber is thread-local (`set_default`), which is enough for a check that a line
/// is there: a line logged on another thread would be missed and fail the check, never
/// pass it. A check that no secret is logged needs every thread's lines, so
/// `request_logs_carry_no_secret` runs in a binary of its own (`tests/request_logs.rs`)
/// under a global subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture() -> Self {
        Self::default()
    }

    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_default(subscriber)
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

/// A JSON array never stands for an object (issue 14, SECURITY.md M49): serde reads a
/// struct from an array by position, so `["ada", "<password>"]` signed in and
/// `["New name", null]` renamed the account. Refused at the top and at every depth, and
/// nothing changes.
#[tokio::test]
async fn m49_a_json_array_never_stands_for_an_object() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    app.post("/api/auth/login", json!(["ada", PASSWORD]))
        .await
        .problem(400, "malformed_json");
    assert!(app.cookie.is_none(), "no session was given");
    assert!(app.sessions_of("ada").await.is_empty());

    app.login("ada", PASSWORD).await.ok(200);
    app.patch("/api/account", json!(["New name", null]))
        .await
        .problem(400, "malformed_json");
    assert_eq!(app.account("ada").await.display_name.as_str(), "ada");

    // Nested: the policy's session rules given as an array of their values.
    app.cookie = None;
    app.admin("root").await;
    let mut policy = app.get("/api/admin/policy").await.ok(200).clone();
    let sessions: Vec<serde_json::Value> = policy["sessions"]
        .as_object()
        .expect("the session rules are an object")
        .values()
        .cloned()
        .collect();
    policy["sessions"] = json!(sessions);
    app.put("/api/admin/policy", policy)
        .await
        .problem(400, "malformed_json");
    assert_eq!(
        app.accounts.policy().await.expect("policy"),
        account_core::policy::Policy::default()
    );
}

/// A request of the wrong method spends no rate-limit budget (issue 14, SECURITY.md M49):
/// thirty `GET`, `PUT` and `DELETE` requests to the login route get their 405, and all
/// twenty logins of the address's budget are still there.
#[tokio::test]
async fn m49_a_wrong_method_spends_no_rate_limit_budget() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        for _ in 0..10 {
            app.send(empty(method.clone(), "/api/auth/login"))
                .await
                .problem(405, "method_not_allowed");
        }
    }
    // Nineteen logins to an unknown account (so that no account's own throttle is
    // touched), then the twentieth, which works, and the twenty-first, over the budget.
    for _ in 0..19 {
        app.login("nobody", "wrong")
            .await
            .problem(401, "invalid_credentials");
    }
    app.login("ada", PASSWORD).await.ok(200);
    app.cookie = None;
    app.login("ada", PASSWORD)
        .await
        .problem(429, "rate_limited");
}

/// Avatar decoding is bounded before it starts (issue 14, SECURITY.md M48): with one
/// upload decoding and one waiting, the other four of six parallel uploads are refused at
/// once with 429 and `Retry-After`, and only the accepted ones were decoded.
#[tokio::test]
async fn m48_avatar_uploads_beyond_the_decoders_are_refused_early() {
    let mut app = TestApp::with(Options {
        configure: Some(|config| {
            config.avatar.max_concurrent = 1;
            config.avatar.max_waiting = 1;
        }),
        ..Options::default()
    });
    app.user("ada").await;
    let cookie = app.cookie.clone().expect("signed in");
    // Large enough that its decoding outlasts sending all six.
    let image = png(1500, 1500);
    let uploads: Vec<_> = (0..6)
        .map(|_| {
            let mut request = raw(
                Method::PUT,
                "/api/account/avatar",
                "image/png",
                image.clone(),
            );
            request
                .headers_mut()
                .insert(header::COOKIE, cookie.parse().expect("cookie"));
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                PEER.parse::<std::net::SocketAddr>().expect("addr"),
            ));
            tokio::spawn(tower::ServiceExt::oneshot(app.router.clone(), request))
        })
        .collect();
    let mut statuses = Vec::new();
    for upload in uploads {
        let response = upload.await.expect("task").expect("infallible");
        if response.status() == 429 {
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
        statuses.push(response.status().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429, 429, 429, 429]);
    let changes = app
        .events("ada")
        .await
        .iter()
        .filter(|e| e.kind == account_core::model::SecurityEventKind::AvatarChanged)
        .count();
    assert_eq!(changes, 2);
}

/// An account uploads at most ten avatars a minute (issue 14, SECURITY.md M48), counted
/// before decoding; another account has its own budget.
#[tokio::test]
async fn m48_an_account_uploads_at_most_ten_avatars_a_minute() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let upload = || raw(Method::PUT, "/api/account/avatar", "image/png", png(40, 40));
    for _ in 0..10 {
        app.send(upload()).await.ok(200);
    }
    let refused = app.send(upload()).await;
    refused.problem(429, "rate_limited");
    assert!(refused.headers.contains_key(header::RETRY_AFTER));
    app.cookie = None;
    app.user("bob").await;
    app.send(upload()).await.ok(200);
}

/// A database that cannot be reached is a fast 503 with `Retry-After` (issue 14,
/// SECURITY.md M50): the first request that finds it down is answered 503
/// `storage_unavailable`; for the pause after it, requests are answered at once without
/// asking the store; after the pause one request tries again, and when the database is
/// back, everything works without a restart. The answer is in the OpenAPI document of
/// every operation that needs the store.
#[tokio::test]
async fn m50_an_unreachable_database_is_a_fast_503_with_retry_after() {
    use std::sync::atomic::Ordering;

    use crate::failing_store::{CALLS_WHILE_DOWN, DOWN, UnreachableStore};

    let mut app = TestApp::with(Options {
        wrap_store: Some(|store| Arc::new(UnreachableStore(store))),
        ..Options::default()
    });
    app.user("ada").await;
    DOWN.store(true, Ordering::SeqCst);
    let reply = app.get("/api/account").await;
    let body = reply.problem(503, "storage_unavailable");
    assert_eq!(body["detail"], "the database cannot be reached just now");
    assert!(!body.to_string().contains("10.1.2.3"), "{body}");
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    assert_eq!(CALLS_WHILE_DOWN.load(Ordering::SeqCst), 1);
    for _ in 0..5 {
        app.get("/api/account")
            .await
            .problem(503, "storage_unavailable");
        app.login("ada", PASSWORD)
            .await
            .problem(503, "storage_unavailable");
    }
    assert_eq!(
        CALLS_WHILE_DOWN.load(Ordering::SeqCst),
        1,
        "answered without asking the store"
    );

    // Back: after the pause, the next request finds it.
    DOWN.store(false, Ordering::SeqCst);
    app.clock.advance(chrono::Duration::seconds(1));
    app.get("/api/account").await.ok(200);

    let doc = app.get("/api/openapi.json").await.ok(200).clone();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let documented = operation["responses"].get("503").is_some();
            assert_eq!(
                documented,
                path != "/api/openapi.json",
                "{method} {path}: 503 documented: {documented}"
            );
        }
    }
}

/// A stranger's guesses do not lock the owner out (issue 14, SECURITY.md M47): 120 wrong
/// passwords from rotating addresses lock the account's password logins for strangers,
/// but the browser the owner signed in with before carries a known-device cookie, whose
/// failures count apart, and signs in with the right password. A forged cookie (another
/// tag) or one for another account counts as no cookie.
#[tokio::test]
async fn m47_a_strangers_guesses_do_not_lock_the_owner_out() {
    let mut app = TestApp::unlimited();
    app.sign_up("ada", "ada@example.com").await;
    app.sign_up("bob", "bob@example.com").await;
    let device_cookie = |reply: &Reply| {
        reply
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.contains("-device="))
            .and_then(|v| v.split(';').next())
            .expect("a known-device cookie")
            .to_owned()
    };
    let ada_device = device_cookie(&app.login("ada", PASSWORD).await);
    let bob_device = device_cookie(&app.login("bob", PASSWORD).await);
    app.cookie = None;

    for i in 0..120 {
        let request = with(
            login_request("ada", "a wrong guess"),
            "x-forwarded-for",
            &format!("203.0.113.{}", i % 250),
        );
        app.send(request).await.problem(401, "invalid_credentials");
        // Past each delay, so that every guess counts.
        app.clock.advance(chrono::Duration::hours(1));
    }
    // A stranger with the right password is locked out, and so is one with a cookie that
    // is not ada's.
    app.login("ada", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let (name, value) = ada_device.split_once('=').expect("name=value");
    let flipped = if value.ends_with('0') { '1' } else { '0' };
    let forged = format!("{name}={}{flipped}", &value[..value.len() - 1]);
    let bobs = format!("{name}={}", bob_device.split_once('=').expect("pair").1);
    for cookie in [forged, bobs] {
        let request = with(login_request("ada", PASSWORD), "cookie", &cookie);
        app.send(request).await.problem(401, "invalid_credentials");
    }
    // Ada's own browser signs in.
    let request = with(login_request("ada", PASSWORD), "cookie", &ada_device);
    app.send(request).await.ok(200);
    app.get("/api/account").await.ok(200);
}

/// Sends `request` as raw bytes to `addr` and reads the answer until the server closes.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before a large request is all sent.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8(answer).expect("utf-8 answer")
}

/// hyper's own refusals are problem+json too (issue 14, SECURITY.md M49): served with
/// `account_axum::serve`, a control byte in a header gets 400 `malformed_request`, a
/// megabyte of header 431 `headers_too_large`, and an over-long URI 414 `uri_too_long`,
/// each with a body that says so, where hyper alone sends an empty body. An ordinary
/// request on the same server still works, with the peer's address known, and the
/// document lists the three answers on every operation.
#[tokio::test]
async fn m49_hypers_own_refusals_are_problem_json() {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(account_axum::serve(
        listener,
        app.router.clone(),
        async move {
            let _ = stopped.await;
        },
    ));

    let big_header = format!(
        "GET /api/account HTTP/1.1\r\nhost: a\r\nx-big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let long_uri = format!(
        "GET /api/account?q={} HTTP/1.1\r\nhost: a\r\n\r\n",
        "a".repeat(70_000)
    );
    for (request, status, code) in [
        (
            b"GET /api/account HTTP/1.1\r\nhost: a\r\nx-a: a\x01b\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            b"GET /api/ac count HTTP/1.1\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (big_header.into_bytes(), 431, "headers_too_large"),
        (long_uri.into_bytes(), 414, "uri_too_long"),
    ] {
        let answer = exchange(addr, &request).await;
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("\r\ncontent-type: application/problem+json"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).expect("problem+json");
        assert_eq!(problem["status"], status);
        assert_eq!(problem["code"], code);
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    // An ordinary login over the same server: the session records the socket's address.
    let body = r#"{"login":"ada","password":"correct horse battery staple"}"#;
    let request = format!(
        "POST /api/auth/login HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = exchange(addr, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let sessions = app.sessions_of("ada").await;
    assert!(
        sessions
            .iter()
            .any(|s| s.ip == Some("127.0.0.1".parse().expect("ip"))),
        "a session from 127.0.0.1"
    );

    let _ = stop.send(());
    server.await.expect("server task").expect("served");

    // Every operation of the document says it may answer these, each with its code.
    let doc = app.get("/api/openapi.json").await.ok(200).clone();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            for (status, code) in [
                ("400", "malformed_request"),
                ("414", "uri_too_long"),
                ("431", "headers_too_large"),
            ] {
                let description = operation["responses"][status]["description"]
                    .as_str()
                    .unwrap_or_default();
                assert!(
                    description.contains(&format!("`{code}`")),
                    "{method} {path}: {status} documented as {description:?}"
                );
            }
        }
    }
}
