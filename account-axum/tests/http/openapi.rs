//! The OpenAPI document: every mounted route is in it, and everything in it is mounted.

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::Value;

use crate::support::*;

/// Every route of the HTTP contract in DESIGN.md, including those that later versions of
/// the core will bring, plus a few that exist nowhere: the paths the router is probed on.
const CONTRACT: &[&str] = &[
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/logout",
    "/api/auth/login/totp",
    "/api/auth/login/recovery-code",
    "/api/auth/login/passkey/start",
    "/api/auth/login/passkey/finish",
    "/api/auth/passkey/start",
    "/api/auth/passkey/finish",
    "/api/auth/password/forgot",
    "/api/auth/password/reset",
    "/api/auth/email/verify",
    "/api/auth/reauthenticate",
    "/api/auth/reauthenticate/passkey/start",
    "/api/auth/reauthenticate/passkey/finish",
    "/api/account",
    "/api/account/email",
    "/api/account/recovery-email",
    "/api/account/password",
    "/api/account/avatar",
    "/api/users/{id}/avatar",
    "/api/account/sessions",
    "/api/account/sessions/{id}",
    "/api/account/passkeys",
    "/api/account/passkeys/start",
    "/api/account/passkeys/finish",
    "/api/account/passkeys/{id}",
    "/api/account/totp/start",
    "/api/account/totp/confirm",
    "/api/account/totp",
    "/api/account/recovery-codes",
    "/api/account/app-passwords",
    "/api/account/app-passwords/{id}",
    "/api/account/tokens",
    "/api/account/tokens/{id}/regenerate",
    "/api/account/tokens/{id}",
    "/api/account/ssh-keys",
    "/api/account/ssh-keys/{id}",
    "/api/account/security-events",
    "/api/account/export",
    "/api/admin/users",
    "/api/admin/users/{id}",
    "/api/admin/users/{id}/reset-2fa",
    "/api/admin/users/{id}/sessions/revoke",
    "/api/admin/users/{id}/security-events",
    "/api/admin/security-events",
    "/api/admin/policy",
    "/api/openapi.json",
    "/api",
    "/api/health",
    "/api/users/{id}",
    "/openapi.json",
];

/// The routes of the contract that the core supports now: these must be mounted.
const SUPPORTED: &[(&str, &str)] = &[
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/password/forgot"),
    ("POST", "/api/auth/password/reset"),
    ("POST", "/api/auth/email/verify"),
    ("POST", "/api/auth/reauthenticate"),
    ("GET", "/api/account"),
    ("PATCH", "/api/account"),
    ("POST", "/api/account/email"),
    ("PUT", "/api/account/recovery-email"),
    ("PUT", "/api/account/password"),
    ("PUT", "/api/account/avatar"),
    ("DELETE", "/api/account/avatar"),
    ("GET", "/api/users/{id}/avatar"),
    ("GET", "/api/account/sessions"),
    ("DELETE", "/api/account/sessions/{id}"),
    ("DELETE", "/api/account/sessions"),
    ("GET", "/api/account/security-events"),
    ("GET", "/api/admin/policy"),
    ("PUT", "/api/admin/policy"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/login/totp"),
    ("POST", "/api/auth/login/recovery-code"),
    ("POST", "/api/auth/login/passkey/start"),
    ("POST", "/api/auth/login/passkey/finish"),
    ("POST", "/api/auth/passkey/start"),
    ("POST", "/api/auth/passkey/finish"),
    ("POST", "/api/auth/reauthenticate/passkey/start"),
    ("POST", "/api/auth/reauthenticate/passkey/finish"),
    ("POST", "/api/account/totp/start"),
    ("POST", "/api/account/totp/confirm"),
    ("DELETE", "/api/account/totp"),
    ("POST", "/api/account/recovery-codes"),
    ("GET", "/api/account/passkeys"),
    ("POST", "/api/account/passkeys/start"),
    ("POST", "/api/account/passkeys/finish"),
    ("PATCH", "/api/account/passkeys/{id}"),
    ("DELETE", "/api/account/passkeys/{id}"),
    ("POST", "/api/admin/users/{id}/reset-2fa"),
    ("GET", "/api/account/tokens"),
    ("POST", "/api/account/tokens"),
    ("POST", "/api/account/tokens/{id}/regenerate"),
    ("DELETE", "/api/account/tokens/{id}"),
    ("GET", "/api/account/app-passwords"),
    ("POST", "/api/account/app-passwords"),
    ("DELETE", "/api/account/app-passwords/{id}"),
    ("GET", "/api/account/ssh-keys"),
    ("POST", "/api/account/ssh-keys"),
    ("DELETE", "/api/account/ssh-keys/{id}"),
    ("DELETE", "/api/account"),
    ("GET", "/api/account/export"),
    ("GET", "/api/admin/users"),
    ("POST", "/api/admin/users"),
    ("GET", "/api/admin/users/{id}"),
    ("PATCH", "/api/admin/users/{id}"),
    ("DELETE", "/api/admin/users/{id}"),
    ("POST", "/api/admin/users/{id}/sessions/revoke"),
    ("GET", "/api/admin/users/{id}/security-events"),
    ("GET", "/api/admin/security-events"),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The operations of the document as (METHOD, path).
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method.to_lowercase()).is_some() {
                out.insert(((*method).to_owned(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn openapi_document_lists_every_mounted_route() {
    let mut app = TestApp::unlimited();
    let doc = app.get("/api/openapi.json").await.ok(200).clone();
    let documented = documented(&doc);

    // Probe every candidate path with every method; a route answered when the response
    // names the route that matched.
    let candidates: BTreeSet<String> = CONTRACT
        .iter()
        .map(|p| (*p).to_owned())
        .chain(documented.iter().map(|(_, p)| p.clone()))
        .collect();
    let mut mounted = BTreeSet::new();
    for path in &candidates {
        let concrete = path.replace("{id}", &uuid::Uuid::nil().to_string());
        for method in METHODS {
            let method_ = Method::from_bytes(method.as_bytes()).expect("method");
            let reply = app.send(empty(method_, &concrete)).await;
            // A 405 passed through the route's layers, but no handler is mounted for
            // the method.
            if reply.status == 405 {
                continue;
            }
            if let Some(route) = reply.route {
                assert_eq!(&route, path, "{method} {concrete} matched another route");
                mounted.insert(((*method).to_owned(), route));
            }
        }
    }

    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "mounted but not documented: {undocumented:?}"
    );
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        unmounted.is_empty(),
        "documented but not mounted: {unmounted:?}"
    );
    let supported: BTreeSet<(String, String)> = SUPPORTED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(mounted, supported);
}

#[tokio::test]
async fn openapi_document_is_3_1_with_the_problem_schema_and_the_security_schemes() {
    let mut app = TestApp::new();
    let reply = app.get("/api/openapi.json").await;
    let doc = reply.ok(200);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let schemas = &doc["components"]["schemas"];
    for name in [
        "Problem",
        "Account",
        "Session",
        "SecurityEvent",
        "Policy",
        "Image",
        "ApiToken",
        "CreatedApiToken",
        "TokenScope",
        "AppPassword",
        "CreatedAppPassword",
        "SshKey",
    ] {
        assert!(schemas.get(name).is_some(), "{name} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["session_cookie"],
        serde_json::json!({
            "type": "apiKey",
            "in": "cookie",
            "name": "__Host-session",
            "description": "The session cookie set by login",
        })
    );
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    // A created token is the listed token and its secret.
    let created = serde_json::to_string(&schemas["CreatedApiToken"]).expect("json");
    assert!(
        created.contains("#/components/schemas/ApiToken"),
        "{created}"
    );
    assert!(created.contains("\"token\""), "{created}");
    // Every error answer is documented as a problem.
    let login = &doc["paths"]["/api/auth/login"]["post"]["responses"];
    assert_eq!(
        login["401"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
}

#[tokio::test]
async fn the_policy_schema_matches_the_core_policy() {
    let mut app = TestApp::new();
    let doc = app.get("/api/openapi.json").await.ok(200).clone();
    let schemas = &doc["components"]["schemas"];
    let policy = serde_json::to_value(account_core::policy::Policy::default()).expect("json");
    let properties = |name: &str| -> Vec<String> {
        let mut keys: Vec<String> = schemas[name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has properties"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(properties("Policy"), keys(&policy));
    assert_eq!(properties("SessionPolicy"), keys(&policy["sessions"]));
    assert_eq!(properties("PasswordRules"), keys(&policy["passwords"]));
}
