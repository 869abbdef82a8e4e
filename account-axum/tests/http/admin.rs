//! The administrator's policy.

use axum::http::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn admins_read_the_policy_and_users_do_not() {
    let mut app = TestApp::new();
    app.get("/api/admin/policy")
        .await
        .problem(401, "unauthenticated");
    app.user("ada").await;
    app.get("/api/admin/policy").await.problem(403, "forbidden");
    app.cookie = None;
    app.admin("root").await;
    let body = app.get("/api/admin/policy").await.ok(200).clone();
    assert_eq!(
        body,
        serde_json::to_value(account_core::policy::Policy::default()).expect("json")
    );
}

#[tokio::test]
async fn admins_change_the_policy_and_it_takes_effect() {
    let mut app = TestApp::new();
    app.admin("root").await;
    let mut policy = app.get("/api/admin/policy").await.ok(200).clone();
    policy["allow_signup"] = json!(false);
    let body = app
        .put("/api/admin/policy", policy.clone())
        .await
        .ok(200)
        .clone();
    assert_eq!(body, policy);
    assert!(!app.accounts.policy().await.expect("policy").allow_signup);

    app.cookie = None;
    app.post(
        "/api/auth/signup",
        json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}),
    )
    .await
    .problem(403, "signup_disabled");
}

#[tokio::test]
async fn policy_changes_are_checked_fresh_and_for_admins_only() {
    let mut app = TestApp::new();
    app.admin("root").await;
    let mut policy = app.get("/api/admin/policy").await.ok(200).clone();
    policy["sessions"]["idle_timeout_secs"] = json!(1);
    app.put("/api/admin/policy", policy.clone())
        .await
        .problem(422, "invalid_policy");
    policy["sessions"]["idle_timeout_secs"] = json!(3600);
    policy["lock_profiles"] = json!(true);
    check_body_errors(&mut app, Method::PUT, "/api/admin/policy").await;
    check_cross_site_refused(&mut app, || {
        json_request(Method::PUT, "/api/admin/policy", &policy)
    })
    .await;

    app.go_stale();
    app.put("/api/admin/policy", policy.clone())
        .await
        .problem(403, "reauthentication_required");
    assert!(!app.accounts.policy().await.expect("policy").lock_profiles);

    app.cookie = None;
    app.user("ada").await;
    app.put("/api/admin/policy", policy.clone())
        .await
        .problem(403, "forbidden");
    app.cookie = None;
    app.put("/api/admin/policy", policy)
        .await
        .problem(401, "unauthenticated");
    assert!(!app.accounts.policy().await.expect("policy").lock_profiles);
}
