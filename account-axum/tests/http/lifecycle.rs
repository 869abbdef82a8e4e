//! Deleting one's own account, the export, and the administrator's user API: every route's
//! success, 401, 403 (not an administrator, stale re-authentication), 404, 409 and 422.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::{Value, json};

use account_core::hooks::{AccountHooks, DeletionRefused};
use account_core::model::Account;

use crate::support::*;

fn bearer(mut request: Request<Body>, token: &str) -> Request<Body> {
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

async fn new_token(app: &mut TestApp) -> String {
    let body = app
        .post(
            "/api/account/tokens",
            json!({"name": "ci", "scope": "write"}),
        )
        .await
        .ok(201)
        .clone();
    body["token"].as_str().expect("a token").to_owned()
}

fn user_path(account: &Account, rest: &str) -> String {
    format!("/api/admin/users/{}{rest}", account.id)
}

#[tokio::test]
async fn l44_deleting_ones_account_over_http_refuses_every_old_credential() {
    let mut app = TestApp::unlimited();
    let ada = app.user("ada").await;
    let token = new_token(&mut app).await;
    let app_password = app
        .post("/api/account/app-passwords", json!({"name": "mail"}))
        .await
        .ok(201)["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let cookie = app.cookie.clone();

    check_body_errors(&mut app, Method::DELETE, "/api/account").await;
    app.send(json_request(
        Method::DELETE,
        "/api/account",
        &json!({"confirm_username": "bob"}),
    ))
    .await
    .problem(422, "validation_failed");
    app.go_stale();
    app.send(json_request(
        Method::DELETE,
        "/api/account",
        &json!({"confirm_username": "ada"}),
    ))
    .await
    .problem(403, "reauthentication_required");
    app.post("/api/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .ok(200);
    // A personal API token cannot delete the account.
    let mut by_token = TestApp {
        cookie: None,
        ..app.clone_handle()
    };
    by_token
        .send(bearer(
            json_request(
                Method::DELETE,
                "/api/account",
                &json!({"confirm_username": "ada"}),
            ),
            &token,
        ))
        .await
        .expect(403, Some("session_required"));
    let reply = app
        .send(json_request(
            Method::DELETE,
            "/api/account",
            &json!({"confirm_username": "ada"}),
        ))
        .await;
    reply.expect(204, None);
    assert!(app.cookie.is_none(), "the answer clears the session cookie");
    assert!(app.find_account("ada").await.is_none());

    // Every old credential is refused.
    app.cookie = cookie;
    app.get("/api/account")
        .await
        .problem(401, "unauthenticated");
    app.cookie = None;
    app.send(bearer(empty(Method::GET, "/api/account"), &token))
        .await
        .expect(401, Some("unauthenticated"));
    app.login("ada", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    assert!(
        app.accounts
            .authenticate_app_password("ada", &app_password)
            .await
            .is_err()
    );
    // The username is never given again; the address is free.
    app.post(
        "/api/auth/signup",
        json!({"username": "ada", "email": "new@example.com", "password": PASSWORD}),
    )
    .await
    .problem(409, "username_taken");
    app.post(
        "/api/auth/signup",
        json!({"username": "ada2", "email": "ada@example.com", "password": PASSWORD}),
    )
    .await
    .ok(201);
    assert!(
        app.mail_kinds("ada@example.com")
            .await
            .contains(&"account_deleted")
    );
    let _ = ada;
}

/// A host's hook that keeps every account.
#[derive(Debug)]
struct KeepsEveryone;

#[async_trait::async_trait]
impl AccountHooks for KeepsEveryone {
    async fn before_delete(&self, _account: &Account) -> Result<(), DeletionRefused> {
        Err(DeletionRefused::new("owns an organisation"))
    }
}

#[tokio::test]
async fn a_hooks_refusal_is_a_clear_409() {
    let mut app = TestApp::with(Options {
        hooks: Some(Arc::new(KeepsEveryone)),
        ..Options::default()
    });
    let ada = app.user("ada").await;
    let body = app
        .send(json_request(
            Method::DELETE,
            "/api/account",
            &json!({"confirm_username": "ada"}),
        ))
        .await
        .problem(409, "deletion_refused")
        .clone();
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("owns an organisation")),
        "{body}"
    );
    app.cookie = None;
    app.admin("rosa").await;
    app.delete(&user_path(&ada, ""))
        .await
        .problem(409, "deletion_refused");
    assert!(app.find_account("ada").await.is_some());
}

#[tokio::test]
async fn the_export_is_the_accounts_data_without_a_secret() {
    let mut app = TestApp::new();
    app.get("/api/account/export")
        .await
        .problem(401, "unauthenticated");
    app.user("ada").await;
    let token = new_token(&mut app).await;
    let reply = app.get("/api/account/export").await;
    let body = reply.ok(200).clone();
    assert!(
        reply.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    assert_eq!(
        keys(&body),
        [
            "account",
            "api_tokens",
            "app_passwords",
            "exported_at",
            "passkeys",
            "security_events",
            "sessions",
            "ssh_keys"
        ]
    );
    assert_eq!(body["account"]["username"], "ada");
    assert_eq!(body["api_tokens"].as_array().expect("list").len(), 1);
    assert!(!body["security_events"].as_array().expect("list").is_empty());
    let text = String::from_utf8(reply.bytes.to_vec()).expect("utf-8");
    assert!(!text.contains(&token), "the token itself");
    assert!(!text.contains("digest"), "no digest either");
    let cookie = app.cookie.take();
    app.send(bearer(empty(Method::GET, "/api/account/export"), &token))
        .await
        .expect(403, Some("session_required"));
    app.cookie = cookie;
}

#[tokio::test]
async fn l45_the_admin_user_routes_are_for_fresh_administrators_only() {
    let mut app = TestApp::new();
    let ada = app.user("ada").await;
    let routes = [
        (Method::GET, "/api/admin/users".to_owned()),
        (Method::POST, "/api/admin/users".to_owned()),
        (Method::GET, user_path(&ada, "")),
        (Method::PATCH, user_path(&ada, "")),
        (Method::DELETE, user_path(&ada, "")),
        (Method::POST, user_path(&ada, "/sessions/revoke")),
        (Method::GET, user_path(&ada, "/security-events")),
        (Method::GET, "/api/admin/security-events".to_owned()),
    ];
    for (method, path) in &routes {
        app.send(json_request(method.clone(), path, &json!({})))
            .await
            .problem(403, "forbidden");
    }
    let cookie = app.cookie.take();
    for (method, path) in &routes {
        app.send(json_request(method.clone(), path, &json!({})))
            .await
            .problem(401, "unauthenticated");
    }
    app.cookie = cookie;
    app.cookie = None;
    app.admin("rosa").await;
    app.go_stale();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/admin/users".to_owned(),
            json!({"username": "bob", "email": "bob@example.com"}),
        ),
        (
            Method::PATCH,
            user_path(&ada, ""),
            json!({"state": "disabled"}),
        ),
        (Method::DELETE, user_path(&ada, ""), json!({})),
        (Method::POST, user_path(&ada, "/sessions/revoke"), json!({})),
    ] {
        app.send(json_request(method, &path, &body))
            .await
            .problem(403, "reauthentication_required");
    }
    // Reading needs no fresh authentication.
    app.get("/api/admin/users").await.ok(200);
    app.get(&user_path(&ada, "")).await.ok(200);
    assert_eq!(
        app.account("ada").await.state,
        account_core::model::AccountState::Active
    );
}

#[tokio::test]
async fn an_administrator_runs_an_accounts_whole_life() {
    let mut admin = TestApp::unlimited();
    admin.admin("rosa").await;

    // Created: the person gets a setup link, the administrator never a password.
    let created = admin
        .post(
            "/api/admin/users",
            json!({"username": "bob", "email": "bob@example.com", "display_name": "Bob B."}),
        )
        .await
        .ok(201)
        .clone();
    assert_eq!(created["username"], "bob");
    assert_eq!(created["state"], "active");
    assert!(!created.to_string().contains("password"));
    admin
        .post(
            "/api/admin/users",
            json!({"username": "bob", "email": "other@example.com"}),
        )
        .await
        .problem(409, "username_taken");
    let setup = token_of(&admin.link_sent_to("bob@example.com", "account_setup").await);
    let mut bob_app = admin.clone_handle();
    bob_app.cookie = None;
    bob_app
        .post(
            "/api/auth/password/reset",
            json!({"token": setup, "new_password": "bob's own good passphrase"}),
        )
        .await
        .ok(200);
    bob_app
        .login("bob", "bob's own good passphrase")
        .await
        .ok(200);
    let bob = admin.account("bob").await;
    assert!(bob.email_verified, "the setup link proves the address");
    let token = new_token(&mut bob_app).await;

    // Listed, searched, shown.
    let page = admin
        .get("/api/admin/users?q=BOB%20b&limit=10")
        .await
        .ok(200)
        .clone();
    assert_eq!(page["users"].as_array().expect("list").len(), 1);
    assert_eq!(page["users"][0]["username"], "bob");
    assert_eq!(page["next_cursor"], Value::Null);
    let first = admin.get("/api/admin/users?limit=1").await.ok(200).clone();
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = admin
        .get(&format!("/api/admin/users?limit=1&cursor={cursor}"))
        .await
        .ok(200)
        .clone();
    assert_ne!(first["users"][0]["id"], second["users"][0]["id"]);
    let details = admin.get(&user_path(&bob, "")).await.ok(200).clone();
    assert_eq!(details["live_sessions"], 1);
    assert_eq!(details["last_login_method"], "password");
    assert_eq!(details["account"]["second_factors"]["totp"], false);

    // Disabled: the session and the token stop at once; enabled again.
    let disabled = admin
        .patch(&user_path(&bob, ""), json!({"state": "disabled"}))
        .await
        .ok(200)
        .clone();
    assert_eq!(disabled["state"], "disabled");
    bob_app
        .get("/api/account")
        .await
        .problem(401, "unauthenticated");
    let cookie = bob_app.cookie.take();
    bob_app
        .send(bearer(empty(Method::GET, "/api/account"), &token))
        .await
        .expect(401, Some("unauthenticated"));
    bob_app
        .login("bob", "bob's own good passphrase")
        .await
        .problem(401, "invalid_credentials");
    bob_app.cookie = cookie;
    admin
        .patch(&user_path(&bob, ""), json!({"state": "active"}))
        .await
        .ok(200);
    bob_app
        .send(bearer(empty(Method::GET, "/api/account"), &token))
        .await
        .ok(200);
    bob_app
        .login("bob", "bob's own good passphrase")
        .await
        .ok(200);

    // Renamed, and promoted, then demoted; sessions revoked.
    let changed = admin
        .patch(
            &user_path(&bob, ""),
            json!({"display_name": "Robert", "role": "admin"}),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(
        (changed["display_name"].clone(), changed["role"].clone()),
        (json!("Robert"), json!("admin"))
    );
    admin
        .patch(&user_path(&bob, ""), json!({"role": "user"}))
        .await
        .ok(200);
    admin
        .post(&user_path(&bob, "/sessions/revoke"), json!({}))
        .await
        .expect(204, None);
    bob_app
        .get("/api/account")
        .await
        .problem(401, "unauthenticated");

    // The log, of one account and of all.
    let events = admin
        .get(&user_path(&bob, "/security-events?kind=account_disabled"))
        .await
        .ok(200)
        .clone();
    assert_eq!(events.as_array().expect("list").len(), 1);
    let all = admin
        .get("/api/admin/security-events?kind=sessions_revoked_by_admin&limit=5")
        .await
        .ok(200)
        .clone();
    assert_eq!(all.as_array().expect("list").len(), 1);

    // Deleted: gone, and recorded as the administrator's doing.
    admin.delete(&user_path(&bob, "")).await.expect(204, None);
    for (method, path) in [
        (Method::GET, user_path(&bob, "")),
        (Method::PATCH, user_path(&bob, "")),
        (Method::DELETE, user_path(&bob, "")),
        (Method::POST, user_path(&bob, "/sessions/revoke")),
    ] {
        admin
            .send(json_request(method, &path, &json!({"state": "active"})))
            .await
            .problem(404, "not_found");
    }
    let record = admin
        .get(&user_path(&bob, "/security-events"))
        .await
        .ok(200)
        .clone();
    assert_eq!(record[0]["kind"], "account_deleted");
    assert_eq!(
        record[0]["details"]["by"],
        admin.account("rosa").await.id.to_string()
    );
    admin
        .get(&format!(
            "/api/admin/users/{}/security-events",
            uuid::Uuid::nil()
        ))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn the_last_administrator_and_ones_own_account_are_409() {
    let mut app = TestApp::new();
    let rosa = app.admin("rosa").await;
    for body in [json!({"role": "user"}), json!({"state": "disabled"})] {
        app.patch(&user_path(&rosa, ""), body)
            .await
            .problem(409, "own_account");
    }
    app.delete(&user_path(&rosa, ""))
        .await
        .problem(409, "own_account");
    app.send(json_request(
        Method::DELETE,
        "/api/account",
        &json!({"confirm_username": "rosa"}),
    ))
    .await
    .problem(409, "last_admin");
    // A renaming of oneself is no stepping down.
    app.patch(&user_path(&rosa, ""), json!({"display_name": "Rosa"}))
        .await
        .ok(200);
}

#[tokio::test]
async fn bad_input_to_the_admin_routes_is_422_and_changes_nothing() {
    let mut app = TestApp::new();
    app.admin("rosa").await;
    app.sign_up("ada", "ada@example.com").await;
    let ada = app.account("ada").await;
    for (body, field) in [
        (
            json!({"username": "a b", "email": "x@example.com"}),
            "username",
        ),
        (
            json!({"username": "bob", "email": "not an address"}),
            "email",
        ),
        (
            json!({"username": "bob", "email": "ada@example.com"}),
            "email",
        ),
    ] {
        let problem = app
            .post("/api/admin/users", body)
            .await
            .problem(422, "validation_failed")
            .clone();
        assert_eq!(problem["field"], field);
    }
    for body in [
        json!({"email": "nope"}),
        json!({"display_name": ""}),
        json!({"email": "rosa@example.com", "display_name": "Changed"}),
    ] {
        app.patch(&user_path(&ada, ""), body)
            .await
            .problem(422, "validation_failed");
    }
    app.patch(&user_path(&ada, ""), json!({"state": "gone"}))
        .await
        .problem(400, "malformed_json");
    assert_eq!(app.account("ada").await.display_name.as_str(), "ada");
    for query in [
        "state=gone",
        "role=root",
        "source=mars",
        "limit=many",
        "cursor=garbage",
    ] {
        app.get(&format!("/api/admin/users?{query}"))
            .await
            .problem(422, "validation_failed");
    }
    for query in ["kind=nonsense", "since=yesterday", "before=garbage"] {
        app.get(&format!("/api/admin/security-events?{query}"))
            .await
            .problem(422, "validation_failed");
    }
    check_body_errors(&mut app, Method::POST, "/api/admin/users").await;
    check_body_errors(&mut app, Method::PATCH, &user_path(&ada, "")).await;
}
