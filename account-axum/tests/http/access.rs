//! Programmatic access over HTTP (SECURITY.md I): personal API tokens and bearer
//! authentication, the scope × method × route matrix, network allowlists, app passwords
//! with HTTP Basic, SSH keys, limits, events and mail.

use std::collections::{BTreeMap, BTreeSet};

use account_axum::{AccountRouter, AppPasswordAuth, Authenticated, HttpConfig, RateLimits};
use account_core::api_token::{ApiTokenSecret, AppPasswordSecret};
use account_core::random::OsRandom;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::*;

/// A fixed Ed25519 key line with the fingerprint `ssh-keygen -lf` printed for it (the
/// known-answer vectors of `account_core::ssh_key`).
const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMROdKbP6qcd/dttCqs8TuOwfc7tC/Otdk4q/eyP5n84 vec-ed25519";
const ED25519_FINGERPRINT: &str = "SHA256:Wqqa2HlfGas9Bxg8NHvhdio9M58jg/DUklhxAypGetQ";
const ECDSA_256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBML71P+6ZfubHYDUgeoZX48d2eRCqCwG9JgOJs5BbpYNsk5hQ8C4V95k5Q733jUqNbC2/1bUD3nyh8DANjcKRFY= vec-ecdsa256";
const ECDSA_384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBBKovxmGx+fvZ+uqwCB9yYBNkQuxlhuroQ6cpXCY8Nc0b+XCLuXrMfc4qnhfsEtokVQjS5+8Q8O2g3qMxCN+rYn1Obb7EQ+nQPYjDbyIzeDsx6PgIcbmmNkOBlvQB6m6yw== vec-ecdsa384";
/// A 1024-bit RSA key (`ssh-keygen -t rsa -b 1024`): too weak.
const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCh1eb8RXDynFtrms5Ie5+1WBUpsZkVWQ4OAT88J9mUIHH5HMaBU22XNmJJ2gnl6E03/FYDOX+bkfrH2QTJK9Hfrgf4xR/4Vl4/02d9IQ4UtAdPW+HejXXLhRIZ3deVDklUcJ2ww/N+c8UdJf/debBI1hmSR7MmxR1l29ipOJRbVQ== vec-rsa1024";
/// A DSA key (`ssh-keygen -t dsa`): a type OpenSSH itself no longer accepts.
const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBALutzyKuYngqhaeFsFHyx43IeBJXxJSDDaW/Wfcrv8qk1RNvquqDH9Moy5MBJI+JW9nonAOed20TOqduJv/6+rF/Vtl8SbQA4OMn+fFXcPmWsXMOSpqVeyfhQQ7aVlE/hQJmyvBiQVBgCHiz2FCGLJElqdTuADjWYVG4pa5IhR1HAAAAFQD0UFFZo6F3Cu4ISstUbrGmV6chAwAAAIEAh5+no8nDc+vskwb+U9qJbMRjXVz4hTXofyfHuk4UrT+BxdT8aH91dbLFPV+kSQwjkegBE04cp3TwZqrQZOn7UGmR/10Xv8rsLaLwyqbSeiorVnKd0WymRxM+F53800KMRiSNgl9kaWkkzjohNTrGp/0Ex0bn6GTXdDrrTprulA4AAACAZdbAXz57utErYvvs2R3wNfDnjBAc0KHxV/JRRWi/XaWq8GxL5b0UWEdIpNa8h8rwifsZW9JroEdRjl35KFkh3bKr0+EfUT+21oKBwJPOyocd+5iicN944la8RP/bWmkqjaqKhic6aY25rMyXfDDWnu54cEWyqKcRcHEpbuKcxBc= vec-dsa1024";

/// The challenge of a bad bearer token (RFC 6750 §3).
const BEARER_CHALLENGE: &str = r#"Bearer error="invalid_token""#;

/// The request with `Authorization: Bearer <token>`.
fn bearer(request: Request<Body>, token: &str) -> Request<Body> {
    with(request, "authorization", &format!("Bearer {token}"))
}

/// The request with `Authorization: Basic base64(login:password)`.
fn basic(request: Request<Body>, login: &str, password: &str) -> Request<Body> {
    let encoded = STANDARD.encode(format!("{login}:{password}"));
    with(request, "authorization", &format!("Basic {encoded}"))
}

/// Sends a request without the harness's session cookie (which it keeps for later).
async fn without_cookie(app: &mut TestApp, request: Request<Body>) -> Reply {
    let cookie = app.cookie.take();
    let reply = app.send(request).await;
    app.cookie = cookie;
    reply
}

/// Sends a request with a bearer token and no cookie.
async fn with_token(app: &mut TestApp, request: Request<Body>, token: &str) -> Reply {
    without_cookie(app, bearer(request, token)).await
}

/// Asserts a 401 for a bad bearer token, with its challenge.
#[track_caller]
fn assert_bad_token(reply: &Reply) {
    reply.problem(401, "unauthenticated");
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        BEARER_CHALLENGE,
        "{reply:?}"
    );
}

/// Creates a token with the signed-in session; answers the creation's body.
async fn create_token(app: &mut TestApp, body: Value) -> Value {
    app.post("/api/account/tokens", body).await.ok(201).clone()
}

/// The secret of a token just created or regenerated.
fn secret(body: &Value) -> String {
    body["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn i34_tokens_are_created_listed_regenerated_and_deleted_and_shown_once() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let created = create_token(&mut app, json!({"name": "ci", "scope": "write"})).await;
    assert_eq!(
        keys(&created),
        [
            "allowed_networks",
            "created_at",
            "expires_at",
            "id",
            "last_four",
            "last_used_at",
            "last_used_ip",
            "name",
            "scope",
            "token"
        ]
    );
    let token = secret(&created);
    assert!(token.starts_with("acct_"), "{token}");
    assert_eq!(created["name"], "ci");
    assert_eq!(created["scope"], "write");
    assert_eq!(created["allowed_networks"], json!([]));
    assert_eq!(created["expires_at"], Value::Null);
    assert_eq!(created["last_four"], token[token.len() - 4..]);

    // The list never shows the secret again.
    let reply = app.get("/api/account/tokens").await;
    let list = reply.ok(200).clone();
    assert_eq!(list.as_array().expect("a list").len(), 1);
    let mut listed = created.clone();
    listed.as_object_mut().expect("object").remove("token");
    assert_eq!(list[0], listed);
    assert!(!String::from_utf8_lossy(&reply.bytes).contains(&token));

    // The token signs in as the account, and is seen used.
    let me = with_token(&mut app, empty(Method::GET, "/api/account"), &token).await;
    assert_eq!(me.ok(200)["username"], "ada");
    let list = app.get("/api/account/tokens").await.ok(200).clone();
    assert_eq!(list[0]["last_used_ip"], "198.51.100.1");
    assert!(list[0]["last_used_at"].is_string());

    // Regenerate: same settings, a new secret; the old one is dead at once.
    let id = created["id"].as_str().expect("id").to_owned();
    let regenerated = app
        .post(&format!("/api/account/tokens/{id}/regenerate"), json!({}))
        .await
        .ok(200)
        .clone();
    let new_token = secret(&regenerated);
    assert_ne!(new_token, token);
    assert_eq!(regenerated["id"], created["id"]);
    assert_eq!(regenerated["name"], "ci");
    assert_eq!(regenerated["scope"], "write");
    assert_eq!(regenerated["last_four"], new_token[new_token.len() - 4..]);
    assert_bad_token(&with_token(&mut app, empty(Method::GET, "/api/account"), &token).await);
    with_token(&mut app, empty(Method::GET, "/api/account"), &new_token)
        .await
        .ok(200);

    // Delete: dead at once.
    let reply = app.delete(&format!("/api/account/tokens/{id}")).await;
    assert_eq!(reply.status, 204);
    assert_bad_token(&with_token(&mut app, empty(Method::GET, "/api/account"), &new_token).await);
    assert_eq!(app.get("/api/account/tokens").await.ok(200), &json!([]));
    app.delete(&format!("/api/account/tokens/{id}"))
        .await
        .problem(404, "not_found");
    app.post(&format!("/api/account/tokens/{id}/regenerate"), json!({}))
        .await
        .problem(404, "not_found");
    app.delete("/api/account/tokens/not-an-id")
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn i37_unknown_malformed_expired_and_disabled_tokens_get_401_with_the_challenge() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let expires = app.accounts.now() + chrono::Duration::hours(1);
    let created = create_token(
        &mut app,
        json!({"name": "short", "scope": "read", "expires_at": expires.to_rfc3339()}),
    )
    .await;
    let listed_expiry = created["expires_at"]
        .as_str()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&chrono::Utc));
    assert_eq!(listed_expiry, Some(expires));
    let token = secret(&created);
    let forever = secret(&create_token(&mut app, json!({"name": "long", "scope": "read"})).await);
    let account = || empty(Method::GET, "/api/account");
    with_token(&mut app, account(), &token).await.ok(200);
    // The scheme is case-insensitive.
    without_cookie(
        &mut app,
        with(account(), "authorization", &format!("bEaReR {token}")),
    )
    .await
    .ok(200);

    let mut flipped = token.clone();
    let last = flipped.pop().expect("a char");
    flipped.push(if last == 'a' { 'b' } else { 'a' });
    let unknown = ApiTokenSecret::generate(&OsRandom).expose().to_owned();
    for bad in ["", "nope", "acct_", flipped.as_str(), unknown.as_str()] {
        assert_bad_token(&with_token(&mut app, account(), bad).await);
    }

    // Expired: the clock passes the expiry; the token without one still works.
    app.clock.advance(chrono::Duration::minutes(61));
    assert_bad_token(&with_token(&mut app, account(), &token).await);
    with_token(&mut app, account(), &forever).await.ok(200);

    // A token of a disabled account is dead too.
    app.disable("ada").await;
    assert_bad_token(&with_token(&mut app, account(), &forever).await);
}

#[tokio::test]
async fn i38_a_token_in_the_url_is_ignored() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let token = secret(&create_token(&mut app, json!({"name": "ci", "scope": "read"})).await);
    for query in ["access_token", "token"] {
        let reply = without_cookie(
            &mut app,
            empty(Method::GET, &format!("/api/account?{query}={token}")),
        )
        .await;
        reply.problem(401, "unauthenticated");
        // The cookie's 401, not the token's: the token was never looked at.
        assert!(!reply.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let list = app.get("/api/account/tokens").await.ok(200).clone();
    assert_eq!(list[0]["last_used_at"], Value::Null);
}

#[tokio::test]
async fn a_bearer_token_alone_decides_and_skips_the_csrf_check() {
    let mut app = TestApp::new();
    app.user("bob").await;
    let bob_read = secret(&create_token(&mut app, json!({"name": "r", "scope": "read"})).await);
    let bob_write = secret(&create_token(&mut app, json!({"name": "w", "scope": "write"})).await);
    app.cookie = None;
    app.user("ada").await;

    // With ada's cookie and bob's token, the request is bob's.
    let me = app
        .send(bearer(empty(Method::GET, "/api/account"), &bob_read))
        .await;
    assert_eq!(me.ok(200)["username"], "bob");
    // A bad token is not saved by a good cookie.
    assert_bad_token(
        &app.send(bearer(empty(Method::GET, "/api/account"), "acct_x"))
            .await,
    );
    // Nor does the cookie lend a read token the right to write.
    app.send(bearer(
        json_request(Method::PATCH, "/api/account", &json!({"display_name": "X"})),
        &bob_read,
    ))
    .await
    .problem(403, "insufficient_scope");
    // A Basic header is not a token: the cookie decides.
    let me = app
        .send(basic(empty(Method::GET, "/api/account"), "bob", PASSWORD))
        .await;
    assert_eq!(me.ok(200)["username"], "ada");

    // A browser never sends a bearer header on its own, so a token's request is not
    // judged by where it says it came from.
    let request = json_request(
        Method::PATCH,
        "/api/account",
        &json!({"display_name": "Bob B."}),
    );
    let request = with(
        with(request, "sec-fetch-site", "cross-site"),
        "origin",
        "https://evil.test",
    );
    let reply = with_token(&mut app, request, &bob_write).await;
    assert_eq!(reply.ok(200)["display_name"], "Bob B.");
}

#[tokio::test]
async fn write_tokens_use_the_token_routes_and_read_tokens_only_read() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let read = secret(&create_token(&mut app, json!({"name": "r", "scope": "read"})).await);
    let write = secret(&create_token(&mut app, json!({"name": "w", "scope": "write"})).await);

    let patch = || {
        json_request(
            Method::PATCH,
            "/api/account",
            &json!({"display_name": "Ada L."}),
        )
    };
    let reply = with_token(&mut app, patch(), &read).await;
    reply.problem(403, "insufficient_scope");
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope""#
    );
    let body = with_token(&mut app, patch(), &write).await.ok(200).clone();
    assert_eq!(body["display_name"], "Ada L.");
    let avatar = || raw(Method::PUT, "/api/account/avatar", "image/png", png(4, 4));
    with_token(&mut app, avatar(), &read)
        .await
        .problem(403, "insufficient_scope");
    let body = with_token(&mut app, avatar(), &write).await.ok(200).clone();
    assert!(body["avatar_url"].is_string());
    let body = with_token(
        &mut app,
        empty(Method::DELETE, "/api/account/avatar"),
        &write,
    )
    .await
    .ok(200)
    .clone();
    assert_eq!(body["avatar_url"], Value::Null);

    // With a token, no session of the list is the current one.
    let sessions = with_token(&mut app, empty(Method::GET, "/api/account/sessions"), &read)
        .await
        .ok(200)
        .clone();
    let sessions = sessions.as_array().expect("a list");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(
        app.get("/api/account/sessions").await.ok(200)[0]["current"],
        true
    );
    let passkeys = with_token(&mut app, empty(Method::GET, "/api/account/passkeys"), &read).await;
    assert_eq!(passkeys.ok(200), &json!([]));
    // HEAD and OPTIONS are reads too.
    let head = with_token(&mut app, empty(Method::HEAD, "/api/account"), &read).await;
    assert_eq!(head.status, 200);

    // The security log, read with the token, shows the changes it made.
    let events = with_token(
        &mut app,
        empty(Method::GET, "/api/account/security-events"),
        &read,
    )
    .await
    .ok(200)
    .clone();
    let kinds: Vec<&str> = events
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in ["profile_updated", "avatar_changed", "avatar_removed"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

/// The operations a personal API token may use. Every other operation that needs a
/// session must refuse every token.
const TOKEN_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/api/account"),
    ("PATCH", "/api/account"),
    ("PUT", "/api/account/avatar"),
    ("DELETE", "/api/account/avatar"),
    ("GET", "/api/account/sessions"),
    ("GET", "/api/account/security-events"),
    ("GET", "/api/account/passkeys"),
    ("GET", "/api/account/tokens"),
    ("GET", "/api/account/app-passwords"),
    ("GET", "/api/account/ssh-keys"),
];

/// The operations that need no session at all: a token there is ignored.
const PUBLIC_OPERATIONS: &[(&str, &str)] = &[
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/password/forgot"),
    ("POST", "/api/auth/password/reset"),
    ("POST", "/api/auth/email/verify"),
    ("POST", "/api/auth/passkey/start"),
    ("POST", "/api/auth/passkey/finish"),
    ("GET", "/api/openapi.json"),
];

/// What no token of any scope may ever do (SECURITY.md I35): named here so that none of
/// them can slip into [`TOKEN_OPERATIONS`]. Deleting the account and the user
/// administration routes join the matrix by themselves when they are mounted.
const NEVER_BY_TOKEN: &[(&str, &str)] = &[
    ("PUT", "/api/account/password"),
    ("POST", "/api/account/email"),
    ("PUT", "/api/account/recovery-email"),
    ("POST", "/api/account/totp/start"),
    ("POST", "/api/account/totp/confirm"),
    ("DELETE", "/api/account/totp"),
    ("POST", "/api/account/recovery-codes"),
    ("POST", "/api/account/passkeys/start"),
    ("POST", "/api/account/passkeys/finish"),
    ("PATCH", "/api/account/passkeys/{id}"),
    ("DELETE", "/api/account/passkeys/{id}"),
    ("POST", "/api/account/tokens"),
    ("POST", "/api/account/tokens/{id}/regenerate"),
    ("DELETE", "/api/account/tokens/{id}"),
    ("POST", "/api/account/app-passwords"),
    ("DELETE", "/api/account/app-passwords/{id}"),
    ("POST", "/api/account/ssh-keys"),
    ("DELETE", "/api/account/ssh-keys/{id}"),
    ("DELETE", "/api/account/sessions/{id}"),
    ("DELETE", "/api/account/sessions"),
    ("POST", "/api/auth/reauthenticate"),
    ("GET", "/api/admin/policy"),
    ("PUT", "/api/admin/policy"),
    ("POST", "/api/admin/users/{id}/reset-2fa"),
];

fn owned(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

#[tokio::test]
async fn i35_the_scope_by_method_by_route_matrix() {
    let mut app = TestApp::unlimited();
    // An administrator's tokens: not even they open the admin routes.
    let root = app.admin("root").await;
    let read_body = create_token(&mut app, json!({"name": "r", "scope": "read"})).await;
    let write_body = create_token(&mut app, json!({"name": "w", "scope": "write"})).await;
    let app_password = app
        .post("/api/account/app-passwords", json!({"name": "mail"}))
        .await
        .ok(201)
        .clone();
    let key = app
        .post(
            "/api/account/ssh-keys",
            json!({"name": "laptop", "public_key": ED25519}),
        )
        .await
        .ok(201)
        .clone();
    let session_id = app.sessions_of("root").await[0].id.to_string();
    // Real targets where the path names one, so that a refusal cannot be a 404 in
    // disguise; a random id elsewhere.
    let ids: BTreeMap<&str, String> = [
        (
            "/api/account/tokens/",
            read_body["id"].as_str().expect("id").to_owned(),
        ),
        (
            "/api/account/app-passwords/",
            app_password["id"].as_str().expect("id").to_owned(),
        ),
        (
            "/api/account/ssh-keys/",
            key["id"].as_str().expect("id").to_owned(),
        ),
        ("/api/account/sessions/", session_id),
        ("/api/admin/users/", root.id.to_string()),
    ]
    .into_iter()
    .collect();
    let concrete = |path: &str| -> String {
        let id = ids
            .iter()
            .find(|(prefix, _)| path.starts_with(*prefix))
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), |(_, id)| id.clone());
        path.replace("{id}", &id)
    };
    let request = |method: &Method, path: &str| -> Request<Body> {
        if path == "/api/account/avatar" && method == Method::PUT {
            raw(method.clone(), path, "image/png", png(4, 4))
        } else if *method == Method::GET || *method == Method::DELETE {
            empty(method.clone(), path)
        } else {
            json_request(method.clone(), path, &json!({}))
        }
    };
    let tokens = [("read", secret(&read_body)), ("write", secret(&write_body))];

    let doc = app.get("/api/openapi.json").await.ok(200).clone();
    let allowed = owned(TOKEN_OPERATIONS);
    let public = owned(PUBLIC_OPERATIONS);
    let mut documented = BTreeSet::new();
    let mut bearer_documented = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("an item") {
            // An item also holds `parameters`, `summary` and the like.
            if !["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let op = (method.to_string(), path.clone());
            documented.insert(op.clone());
            let schemes: Vec<&str> = operation["security"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .flat_map(|s| s.as_object().expect("a requirement").keys())
                        .map(String::as_str)
                        .collect()
                })
                .unwrap_or_default();
            if schemes.contains(&"bearer") {
                bearer_documented.insert(op.clone());
            }
            let target = concrete(path);
            let safe = method == Method::GET || method == Method::HEAD;
            for (scope, token) in &tokens {
                let reply = with_token(&mut app, request(&method, &target), token).await;
                let code = reply.body["code"].as_str().unwrap_or("");
                let what = format!("{scope} token: {method} {path} -> {} {code}", reply.status);
                if allowed.contains(&op) {
                    if safe || *scope == "write" {
                        assert!(reply.status.is_success(), "{what}");
                    } else {
                        assert_eq!(
                            (reply.status.as_u16(), code),
                            (403, "insufficient_scope"),
                            "{what}"
                        );
                    }
                } else if public.contains(&op) {
                    // The token is not looked at: the answer is the one without it.
                    let plain = without_cookie(&mut app, request(&method, &target)).await;
                    assert_eq!(reply.status, plain.status, "{what}");
                    assert_eq!(reply.body["code"], plain.body["code"], "{what}");
                    assert_ne!(code, "session_required", "{what}");
                } else {
                    assert_eq!(
                        (reply.status.as_u16(), code),
                        (403, "session_required"),
                        "{what}"
                    );
                    refused.insert(op.clone());
                }
            }
        }
    }

    // The lists are the document's, and the document says the same as this test.
    assert!(
        allowed.is_subset(&documented),
        "{:?}",
        allowed.difference(&documented)
    );
    assert!(
        public.is_subset(&documented),
        "{:?}",
        public.difference(&documented)
    );
    assert_eq!(
        bearer_documented, allowed,
        "the operations documented with `bearer`"
    );
    for op in owned(NEVER_BY_TOKEN) {
        assert!(refused.contains(&op), "{op:?} must refuse every token");
    }
    assert_eq!(
        documented.len(),
        allowed.len() + public.len() + refused.len(),
        "every operation was judged"
    );

    // Nothing the tokens tried changed the account's security.
    let list = app.get("/api/account/tokens").await.ok(200).clone();
    assert_eq!(list.as_array().expect("a list").len(), 2);
    assert_eq!(
        app.get("/api/account/app-passwords")
            .await
            .ok(200)
            .as_array()
            .expect("a list")
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/account/ssh-keys")
            .await
            .ok(200)
            .as_array()
            .expect("a list")
            .len(),
        1
    );
    assert_eq!(app.sessions_of("root").await.len(), 1);
    app.get("/api/admin/policy").await.ok(200);
    assert_eq!(app.account("root").await.email, root.email);
    app.cookie = None;
    app.login("root", PASSWORD).await.ok(200);
}

#[tokio::test]
async fn i36_networks_admit_and_refuse_by_the_trusted_client_ip() {
    let mut http = HttpConfig::default();
    // The test's socket peer is the proxy; the client is what it forwards.
    http.trusted_proxies = vec!["198.51.100.1/32".parse().expect("cidr")];
    let mut app = TestApp::with(Options {
        http,
        ..Options::default()
    });
    app.user("ada").await;
    let v4 = create_token(
        &mut app,
        json!({"name": "v4", "scope": "read", "allowed_networks": ["10.0.0.0/24"]}),
    )
    .await;
    let v6 = create_token(
        &mut app,
        json!({"name": "v6", "scope": "read", "allowed_networks": ["2001:db8::/64"]}),
    )
    .await;
    assert_eq!(v4["allowed_networks"], json!(["10.0.0.0/24"]));
    assert_eq!(v6["allowed_networks"], json!(["2001:db8::/64"]));
    let from = |client: &str, token: &Value, path: &str| {
        bearer(
            with(empty(Method::GET, path), "x-forwarded-for", client),
            &secret(token),
        )
    };

    without_cookie(&mut app, from("10.0.0.5", &v4, "/api/account"))
        .await
        .ok(200);
    without_cookie(&mut app, from("10.0.1.5", &v4, "/api/account"))
        .await
        .problem(403, "network_not_allowed");
    without_cookie(&mut app, from("2001:db8::1", &v6, "/api/account"))
        .await
        .ok(200);
    without_cookie(&mut app, from("2001:db8:1::1", &v6, "/api/account"))
        .await
        .problem(403, "network_not_allowed");
    without_cookie(&mut app, from("10.0.0.5", &v6, "/api/account"))
        .await
        .problem(403, "network_not_allowed");
    // Without a forwarded address the client is the proxy itself: outside.
    without_cookie(
        &mut app,
        bearer(empty(Method::GET, "/api/account"), &secret(&v4)),
    )
    .await
    .problem(403, "network_not_allowed");
    // From an untrusted peer the header is ignored, whatever it claims.
    without_cookie(
        &mut app,
        from_peer(from("10.0.0.5", &v4, "/api/account"), "203.0.113.9:5000"),
    )
    .await
    .problem(403, "network_not_allowed");
    // A cookie-only route judges the token the same way before refusing it.
    without_cookie(&mut app, from("10.0.1.5", &v4, "/api/admin/policy"))
        .await
        .problem(403, "network_not_allowed");
    without_cookie(&mut app, from("10.0.0.5", &v4, "/api/admin/policy"))
        .await
        .problem(403, "session_required");

    // The list shows the admitted addresses.
    let list = app.get("/api/account/tokens").await.ok(200).clone();
    assert_eq!(list[0]["name"], "v4");
    assert_eq!(list[0]["last_used_ip"], "10.0.0.5");
    assert_eq!(list[1]["name"], "v6");
    assert_eq!(list[1]["last_used_ip"], "2001:db8::1");

    // Single addresses and host bits are read as blocks; anything else is refused.
    let odd = create_token(
        &mut app,
        json!({"name": "odd", "scope": "read", "allowed_networks": ["192.0.2.7", "10.0.0.5/24", " 2001:db8::1 "]}),
    )
    .await;
    assert_eq!(
        odd["allowed_networks"],
        json!(["10.0.0.0/24", "192.0.2.7/32", "2001:db8::1/128"])
    );
    for bad in ["10.0.0.0/33", "banana", "", "10.0.0.0/24,10.0.1.0/24"] {
        let body = app
            .post(
                "/api/account/tokens",
                json!({"name": "bad", "scope": "read", "allowed_networks": [bad]}),
            )
            .await
            .problem(422, "validation_failed")
            .clone();
        assert_eq!(body["field"], "allowed_networks", "{bad}");
    }
}

#[tokio::test]
async fn g23_making_access_needs_a_fresh_authentication_and_a_cookie() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let write = create_token(&mut app, json!({"name": "w", "scope": "write"})).await;
    let id = write["id"].as_str().expect("id").to_owned();

    // A token cannot make, renew or remove access, even a write token for itself.
    let token = secret(&write);
    for request in [
        json_request(
            Method::POST,
            "/api/account/tokens",
            &json!({"name": "x", "scope": "write"}),
        ),
        json_request(
            Method::POST,
            &format!("/api/account/tokens/{id}/regenerate"),
            &json!({}),
        ),
        empty(Method::DELETE, &format!("/api/account/tokens/{id}")),
        json_request(
            Method::POST,
            "/api/account/app-passwords",
            &json!({"name": "x"}),
        ),
        json_request(
            Method::POST,
            "/api/account/ssh-keys",
            &json!({"name": "x", "public_key": ED25519}),
        ),
    ] {
        with_token(&mut app, request, &token)
            .await
            .problem(403, "session_required");
    }

    app.go_stale();
    let regenerate = format!("/api/account/tokens/{id}/regenerate");
    for (path, body) in [
        ("/api/account/tokens", json!({"name": "x", "scope": "read"})),
        (regenerate.as_str(), json!({})),
        ("/api/account/app-passwords", json!({"name": "x"})),
        (
            "/api/account/ssh-keys",
            json!({"name": "x", "public_key": ED25519}),
        ),
    ] {
        app.post(path, body)
            .await
            .problem(403, "reauthentication_required");
    }
    // Taking access away is always allowed.
    assert_eq!(
        app.delete(&format!("/api/account/tokens/{id}"))
            .await
            .status,
        204
    );

    app.post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .ok(200);
    create_token(&mut app, json!({"name": "x", "scope": "read"})).await;
    app.post("/api/account/app-passwords", json!({"name": "x"}))
        .await
        .ok(201);
    app.post(
        "/api/account/ssh-keys",
        json!({"name": "x", "public_key": ED25519}),
    )
    .await
    .ok(201);
}

#[tokio::test]
async fn token_requests_are_checked() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let post = |body: Value| json_request(Method::POST, "/api/account/tokens", &body);
    let body = app
        .send(post(json!({"name": "x", "scope": "admin"})))
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(body["field"], "scope");
    assert_eq!(body["rule"], "invalid_syntax");
    let body = app
        .send(post(json!({"name": "x"})))
        .await
        .problem(400, "malformed_json")
        .clone();
    assert_eq!(body["field"], "scope");
    let body = app
        .send(post(
            json!({"name": "x", "scope": "read", "expires_at": "tomorrow"}),
        ))
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(
        (&body["field"], &body["rule"]),
        (&json!("expires_at"), &json!("invalid_syntax"))
    );
    let past = (app.accounts.now() - chrono::Duration::seconds(1)).to_rfc3339();
    let body = app
        .send(post(
            json!({"name": "x", "scope": "read", "expires_at": past}),
        ))
        .await
        .problem(422, "validation_failed")
        .clone();
    assert_eq!(
        (&body["field"], &body["rule"]),
        (&json!("expires_at"), &json!("in_the_past"))
    );
    // `null` is "never", like leaving it out.
    let body = create_token(
        &mut app,
        json!({"name": "x", "scope": "read", "expires_at": null, "allowed_networks": null}),
    )
    .await;
    assert_eq!(body["expires_at"], Value::Null);
    check_body_errors(&mut app, Method::POST, "/api/account/tokens").await;
    check_cross_site_refused(&mut app, || post(json!({"name": "x", "scope": "read"}))).await;
}

#[tokio::test]
async fn names_are_1_to_100_characters() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let keys_in_order = [ED25519, ECDSA_256, ECDSA_384];
    for (path, extra) in [
        ("/api/account/tokens", json!({"scope": "read"})),
        ("/api/account/app-passwords", json!({})),
        (
            "/api/account/ssh-keys",
            json!({"public_key": keys_in_order[0]}),
        ),
    ] {
        let body_with = |name: String| {
            let mut body = extra.clone();
            body["name"] = json!(name);
            body
        };
        for (name, rule) in [
            (String::new(), "empty"),
            ("   ".to_owned(), "empty"),
            ("a".repeat(101), "too_long"),
            ("tab\there".to_owned(), "control_character"),
        ] {
            let body = app
                .post(path, body_with(name))
                .await
                .problem(422, "validation_failed")
                .clone();
            assert_eq!(
                (&body["field"], &body["rule"]),
                (&json!("name"), &json!(rule)),
                "{path}"
            );
        }
        let body = app
            .post(path, body_with("é".repeat(100)))
            .await
            .ok(201)
            .clone();
        assert_eq!(body["name"], "é".repeat(100));
    }
}

#[tokio::test]
async fn limits_answer_409_with_their_code() {
    let mut app = TestApp::with(Options {
        configure: Some(|config| {
            config.access_limits.api_tokens = 2;
            config.access_limits.app_passwords = 2;
            config.access_limits.ssh_keys = 2;
        }),
        ..Options::default()
    });
    app.user("ada").await;
    let mut first_ids = Vec::new();
    for (path, bodies, code) in [
        (
            "/api/account/tokens",
            [0, 1, 2].map(|i| json!({"name": format!("t{i}"), "scope": "read"})),
            "too_many_api_tokens",
        ),
        (
            "/api/account/app-passwords",
            [0, 1, 2].map(|i| json!({"name": format!("p{i}")})),
            "too_many_app_passwords",
        ),
        (
            "/api/account/ssh-keys",
            [ED25519, ECDSA_256, ECDSA_384].map(|k| json!({"name": "k", "public_key": k})),
            "too_many_ssh_keys",
        ),
    ] {
        let [a, b, c] = bodies;
        let first = app.post(path, a).await.ok(201).clone();
        app.post(path, b).await.ok(201);
        app.post(path, c.clone()).await.problem(409, code);
        // Room again once one goes.
        let id = first["id"].as_str().expect("id");
        assert_eq!(app.delete(&format!("{path}/{id}")).await.status, 204);
        app.post(path, c).await.ok(201);
        first_ids.push(id.to_owned());
    }
    assert_eq!(first_ids.len(), 3);
}

#[tokio::test]
async fn k42_k43_every_change_is_logged_and_mailed() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let created = create_token(&mut app, json!({"name": "ci", "scope": "read"})).await;
    let token = secret(&created);
    let id = created["id"].as_str().expect("id").to_owned();
    let regenerated = app
        .post(&format!("/api/account/tokens/{id}/regenerate"), json!({}))
        .await
        .ok(200)
        .clone();
    let new_token = secret(&regenerated);
    let reply = with_token(
        &mut app,
        empty(Method::GET, "/api/account/security-events"),
        &new_token,
    )
    .await;
    let events = reply.ok(200).clone();
    let kinds: Vec<&str> = events
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds[..2], ["api_token_regenerated", "api_token_created"]);
    assert_eq!(events[1]["details"]["name"], "ci");
    assert_eq!(events[1]["details"]["scope"], "read");
    let text = String::from_utf8_lossy(&reply.bytes);
    assert!(
        !text.contains(&token) && !text.contains(&new_token),
        "{text}"
    );
    assert_eq!(
        app.delete(&format!("/api/account/tokens/{id}"))
            .await
            .status,
        204
    );

    let pw = app
        .post("/api/account/app-passwords", json!({"name": "mail"}))
        .await
        .ok(201)
        .clone();
    let pw_id = pw["id"].as_str().expect("id");
    assert_eq!(
        app.delete(&format!("/api/account/app-passwords/{pw_id}"))
            .await
            .status,
        204
    );
    let key = app
        .post(
            "/api/account/ssh-keys",
            json!({"name": "laptop", "public_key": ED25519}),
        )
        .await
        .ok(201)
        .clone();
    let key_id = key["id"].as_str().expect("id");
    assert_eq!(
        app.delete(&format!("/api/account/ssh-keys/{key_id}"))
            .await
            .status,
        204
    );

    let kinds: Vec<&str> = app
        .events("ada")
        .await
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    for kind in [
        "api_token_created",
        "api_token_regenerated",
        "api_token_deleted",
        "app_password_created",
        "app_password_revoked",
        "ssh_key_added",
        "ssh_key_removed",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let mail = app.mail_kinds("ada@example.com").await;
    let count = |kind: &str| mail.iter().filter(|k| **k == kind).count();
    // Created, regenerated, app password, SSH key; deleted, revoked, removed.
    assert_eq!(count("access_created"), 4, "{mail:?}");
    assert_eq!(count("access_removed"), 3, "{mail:?}");
    let sent = format!("{:?}", app.mailer.sent());
    assert!(!sent.contains(&token) && !sent.contains(&new_token));
    assert!(!sent.contains(pw["password"].as_str().expect("password")));
}

/// A host's route for Basic clients (a CalDAV collection, say).
async fn dav(me: AppPasswordAuth) -> String {
    format!("{} via {}", me.account.username, me.app_password.name)
}

/// A host's route for scripts: the signed-in account and how.
async fn whoami(me: Authenticated) -> String {
    let via = if me.session().is_some() {
        "session"
    } else {
        "token"
    };
    format!("{} {via} {}", me.account.username, me.scope())
}

/// The harness with a host's routes merged beside the API: `/dav` (app passwords) and
/// `/whoami` (tokens or cookie).
fn host_app(limits: RateLimits) -> TestApp {
    let mut app = TestApp::new();
    let mut http = HttpConfig::default();
    http.rate_limits = limits;
    let api = AccountRouter::new(app.accounts.clone(), http);
    app.router = Router::new()
        .route("/dav", get(dav).put(dav))
        .route("/whoami", get(whoami).post(whoami))
        .with_state(api.state().clone())
        .merge(api.into_router());
    app
}

#[tokio::test]
async fn a_host_route_knows_how_the_request_was_authenticated() {
    let mut app = host_app(RateLimits::default());
    app.user("ada").await;
    let read = secret(&create_token(&mut app, json!({"name": "r", "scope": "read"})).await);
    let reply = app.get("/whoami").await;
    assert_eq!(&reply.bytes[..], b"ada session write");
    let reply = with_token(&mut app, empty(Method::GET, "/whoami"), &read).await;
    assert_eq!(&reply.bytes[..], b"ada token read");
    with_token(&mut app, empty(Method::POST, "/whoami"), &read)
        .await
        .problem(403, "insufficient_scope");
    assert_bad_token(&with_token(&mut app, empty(Method::GET, "/whoami"), "acct_nope").await);
    without_cookie(&mut app, empty(Method::GET, "/whoami"))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn i39_app_passwords_open_basic_routes_and_nothing_else() {
    let mut app = host_app(RateLimits::default());
    app.user("ada").await;
    let created = app
        .post("/api/account/app-passwords", json!({"name": "Thunderbird"}))
        .await
        .ok(201)
        .clone();
    assert_eq!(
        keys(&created),
        ["created_at", "id", "last_used_at", "name", "password"]
    );
    let password = created["password"].as_str().expect("password").to_owned();
    let reply = app.get("/api/account/app-passwords").await;
    let list = reply.ok(200).clone();
    let mut listed = created.clone();
    listed.as_object_mut().expect("object").remove("password");
    assert_eq!(list, json!([listed]));
    assert!(!String::from_utf8_lossy(&reply.bytes).contains(&password));

    let challenge = r#"Basic realm="Account", charset="UTF-8""#;
    let dav_as = |login: &str, password: &str| basic(empty(Method::GET, "/dav"), login, password);
    // No credentials: the challenge, so that the client asks.
    let reply = without_cookie(&mut app, empty(Method::GET, "/dav")).await;
    reply.problem(401, "unauthenticated");
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], challenge);
    // The username or the address, with the app password.
    for login in ["ada", "ada@example.com", "ADA"] {
        let reply = without_cookie(&mut app, dav_as(login, &password)).await;
        assert_eq!(reply.status, 200, "{login}: {:?}", reply.body);
        assert_eq!(&reply.bytes[..], b"ada via Thunderbird");
    }
    let spaced = password.to_uppercase();
    let reply = without_cookie(&mut app, dav_as("ada", &spaced)).await;
    assert_eq!(
        reply.status, 200,
        "app passwords are typed, so case does not matter"
    );
    let list = app.get("/api/account/app-passwords").await.ok(200).clone();
    assert!(list[0]["last_used_at"].is_string());

    // Never the account password, another app password, another account's login.
    let other = AppPasswordSecret::generate(&OsRandom).expose().to_owned();
    for (login, secret) in [
        ("ada", PASSWORD),
        ("ada", other.as_str()),
        ("bob", password.as_str()),
    ] {
        let reply = without_cookie(&mut app, dav_as(login, secret)).await;
        reply.problem(401, "unauthenticated");
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], challenge);
    }
    // A cross-site browser request cannot replay remembered credentials.
    let request = with(
        basic(empty(Method::PUT, "/dav"), "ada", &password),
        "sec-fetch-site",
        "cross-site",
    );
    without_cookie(&mut app, request)
        .await
        .problem(403, "csrf_refused");

    // The login route and the account routes do not take it.
    let login = json_request(
        Method::POST,
        "/api/auth/login",
        &json!({"login": "ada", "password": password}),
    );
    without_cookie(&mut app, login)
        .await
        .problem(401, "invalid_credentials");
    without_cookie(
        &mut app,
        basic(empty(Method::GET, "/api/account"), "ada", &password),
    )
    .await
    .problem(401, "unauthenticated");
    let change = json_request(
        Method::PUT,
        "/api/account/password",
        &json!({"current_password": password, "new_password": NEW_PASSWORD}),
    );
    without_cookie(&mut app, basic(change, "ada", &password))
        .await
        .problem(401, "unauthenticated");
    with_token(&mut app, empty(Method::GET, "/api/account"), &password)
        .await
        .problem(401, "unauthenticated");

    // Revoked: dead at once.
    let id = created["id"].as_str().expect("id");
    assert_eq!(
        app.delete(&format!("/api/account/app-passwords/{id}"))
            .await
            .status,
        204
    );
    let reply = without_cookie(&mut app, dav_as("ada", &password)).await;
    reply.problem(401, "unauthenticated");
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], challenge);
    assert_eq!(
        app.get("/api/account/app-passwords").await.ok(200),
        &json!([])
    );
    app.delete(&format!("/api/account/app-passwords/{id}"))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn failed_app_password_sign_ins_are_limited_per_ip() {
    let mut app = host_app(RateLimits::default());
    app.user("ada").await;
    let password = app
        .post("/api/account/app-passwords", json!({"name": "git"}))
        .await
        .ok(201)["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let dav_as = |password: &str| basic(empty(Method::GET, "/dav"), "ada", password);
    // Asking for the challenge is not a failure.
    for _ in 0..12 {
        without_cookie(&mut app, empty(Method::GET, "/dav"))
            .await
            .problem(401, "unauthenticated");
    }
    for _ in 0..10 {
        without_cookie(&mut app, dav_as("wrong"))
            .await
            .problem(401, "unauthenticated");
    }
    let reply = without_cookie(&mut app, dav_as(PASSWORD)).await;
    reply.problem(429, "rate_limited");
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    // Only failures count: a client with the right app password keeps working.
    let reply = without_cookie(&mut app, dav_as(&password)).await;
    assert_eq!(reply.status, 200);
    // Another address has its own count.
    without_cookie(&mut app, from_peer(dav_as("wrong"), "203.0.113.50:4000"))
        .await
        .problem(401, "unauthenticated");
    // The limit's window passes.
    app.clock.advance(chrono::Duration::minutes(1));
    without_cookie(&mut app, dav_as("wrong"))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn ssh_keys_are_added_listed_refused_and_removed() {
    let mut app = TestApp::new();
    app.user("ada").await;
    let key = app
        .post(
            "/api/account/ssh-keys",
            json!({"name": "laptop", "public_key": format!("  {ED25519}\n")}),
        )
        .await
        .ok(201)
        .clone();
    assert_eq!(
        keys(&key),
        [
            "algorithm",
            "bits",
            "comment",
            "created_at",
            "fingerprint",
            "id",
            "name"
        ]
    );
    assert_eq!(key["name"], "laptop");
    assert_eq!(key["algorithm"], "ssh-ed25519");
    assert_eq!(key["bits"], 256);
    assert_eq!(key["fingerprint"], ED25519_FINGERPRINT);
    assert_eq!(key["comment"], "vec-ed25519");
    assert_eq!(
        app.get("/api/account/ssh-keys").await.ok(200),
        &json!([key])
    );
    let owner = app
        .accounts
        .ssh_key_owner(ED25519_FINGERPRINT)
        .await
        .expect("store")
        .expect("an owner");
    assert_eq!(owner.account.username.as_str(), "ada");

    // A key can be on one account only.
    app.post(
        "/api/account/ssh-keys",
        json!({"name": "again", "public_key": ED25519}),
    )
    .await
    .problem(409, "ssh_key_in_use");
    let ada_cookie = app.cookie.take();
    app.user("bob").await;
    app.post(
        "/api/account/ssh-keys",
        json!({"name": "mine", "public_key": ED25519}),
    )
    .await
    .problem(409, "ssh_key_in_use");

    for (line, reason) in [
        (RSA_1024, "ssh_key_too_weak"),
        (DSA, "ssh_key_unsupported_type"),
        ("ssh-ed25519 AAAA", "ssh_key_malformed"),
        ("", "ssh_key_empty"),
    ] {
        let body = app
            .post(
                "/api/account/ssh-keys",
                json!({"name": "bad", "public_key": line}),
            )
            .await
            .problem(422, "invalid_ssh_key")
            .clone();
        assert_eq!(body["reason"], reason, "{line}");
    }

    let bob_cookie = app.cookie.take();
    app.cookie = ada_cookie;
    let id = key["id"].as_str().expect("id");
    assert_eq!(
        app.delete(&format!("/api/account/ssh-keys/{id}"))
            .await
            .status,
        204
    );
    assert_eq!(app.get("/api/account/ssh-keys").await.ok(200), &json!([]));
    app.delete(&format!("/api/account/ssh-keys/{id}"))
        .await
        .problem(404, "not_found");
    // Bob may have it now.
    app.cookie = bob_cookie;
    app.post(
        "/api/account/ssh-keys",
        json!({"name": "mine", "public_key": ED25519}),
    )
    .await
    .ok(201);
    check_body_errors(&mut app, Method::POST, "/api/account/ssh-keys").await;
}
