//! The starter, started as a real process on a free port, walked through a whole user
//! journey by two cookie-keeping HTTP clients ("devices"): sign up, log in twice, edit the
//! profile, upload an avatar, change the email through the link in the outbox, change the
//! password and see the other device signed out, reset a forgotten password through the
//! outbox, list sessions with their device details, revoke one; then the administrator's
//! side (create a user who sets a password through the mailed link, disable and enable
//! them) and the end of an account (export, deletion, every old credential refused); and
//! stop cleanly.
//!
//! Each backend twice: with the sqlx store (the default) and with the diesel store
//! (`ACCOUNT_STORE=diesel`). SQLite always; PostgreSQL and MySQL when `ACCOUNT_TEST_POSTGRES_URL` and
//! `ACCOUNT_TEST_MYSQL_URL` name a server (each run in a fresh database it drops after).
//! Without one the journey is skipped with a note, or fails under `CI=true`
//! (`account_store_sqlx::testing` decides).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use account_store_sqlx::Backend;
use account_store_sqlx::testing;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const PASSWORD: &str = "correct horse battery staple";
/// The bootstrap administrator's password (`ACCOUNT_ADMIN_PASSWORD`).
const ADMIN_PASSWORD: &str = "the administrator's own passphrase";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_sqlite() {
    journey_on(Backend::Sqlite, "sqlx").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_postgres() {
    journey_on(Backend::Postgres, "sqlx").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_mysql() {
    journey_on(Backend::MySql, "sqlx").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_sqlite_through_diesel() {
    journey_on(Backend::Sqlite, "diesel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_postgres_through_diesel() {
    journey_on(Backend::Postgres, "diesel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_mysql_through_diesel() {
    journey_on(Backend::MySql, "diesel").await;
}

/// The journey in a fresh database of `backend`, dropped afterwards, with the store
/// adapter `store` (`ACCOUNT_STORE`); skipped, with a note, when the backend's server is
/// not configured (a failure under `CI=true`).
async fn journey_on(backend: Backend, store: &str) {
    let Some(db) = testing::fresh_database(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    journey(db.url(), store, dir.path()).await;
}

async fn journey(database_url: &str, store: &str, dir: &Path) {
    let outbox = dir.join("outbox");
    let server = Starter::start(database_url, store, &outbox).await;
    let base = server.base.clone();
    let laptop = Device::new(&base, FIREFOX);
    let phone = Device::new(&base, IPHONE);

    // Sign up, then log in from two devices.
    let (status, account) = laptop
        .send(
            "POST",
            "/api/auth/signup",
            json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(account["username"], "ada");
    for device in [&laptop, &phone] {
        let (status, body) = device
            .send(
                "POST",
                "/api/auth/login",
                json!({"login": "ada", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ok");
    }

    // Edit the profile and upload an avatar.
    let (status, account) = laptop
        .send(
            "PATCH",
            "/api/account",
            json!({"display_name": "Ada Lovelace", "language": "en-GB"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["display_name"], "Ada Lovelace");
    assert_eq!(account["language"], "en-GB");
    let png = png(400, 300);
    let response = laptop
        .raw("PUT", "/api/account/avatar")
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::OK);
    let account: Value = response.json().await.expect("json");
    let avatar_url = account["avatar_url"]
        .as_str()
        .expect("an avatar URL")
        .to_owned();
    let avatar = laptop
        .client
        .get(absolute(&base, &avatar_url))
        .send()
        .await
        .expect("avatar");
    assert_eq!(avatar.status(), StatusCode::OK);
    assert_eq!(avatar.headers()["content-type"], "image/png");
    let decoded = image::load_from_memory(&avatar.bytes().await.expect("bytes")).expect("an image");
    assert_eq!((decoded.width(), decoded.height()), (256, 256));

    // Change the email through the link in the outbox.
    let (status, body) = laptop
        .send(
            "POST",
            "/api/account/email",
            json!({"email": "ada@new.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let token = wait_for_link(&outbox, "ada@new.example", "verify_email").await;
    let (status, account) = phone
        .send("POST", "/api/auth/email/verify", json!({"token": token}))
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["email"], "ada@new.example");
    assert_eq!(
        laptop.send("GET", "/api/account", Value::Null).await.1["email"],
        "ada@new.example"
    );

    // Change the password: the other device is signed out, this one keeps going.
    let (status, body) = laptop
        .send(
            "PUT",
            "/api/account/password",
            json!({"current_password": PASSWORD, "new_password": "a second passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        phone.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        laptop.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::OK
    );

    // Forget it, and reset it through the outbox: every session ends.
    let (status, _) = phone
        .send(
            "POST",
            "/api/auth/password/forgot",
            json!({"email": "ada@new.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = wait_for_link(&outbox, "ada@new.example", "password_reset").await;
    let (status, body) = phone
        .send(
            "POST",
            "/api/auth/password/reset",
            json!({"token": token, "new_password": "a third passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        laptop.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Log in again on both, list the sessions with their devices, revoke the phone's.
    for device in [&laptop, &phone] {
        let (status, body) = device
            .send(
                "POST",
                "/api/auth/login",
                json!({"login": "ada@new.example", "password": "a third passphrase"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, sessions) = laptop
        .send("GET", "/api/account/sessions", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    let sessions = sessions.as_array().expect("a list").clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let current = sessions
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session is marked");
    assert_eq!(current["engine"], "Gecko");
    assert_eq!(current["cpu_arch"], "x86_64");
    assert_eq!(current["ip"], "127.0.0.1");
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .expect("the phone's session");
    assert_eq!(other["device"], "iPhone");
    assert_eq!(other["engine"], "WebKit");
    assert!(
        other["browser"]
            .as_str()
            .is_some_and(|b| b.starts_with("Safari")),
        "{other}"
    );
    let id = other["id"].as_str().expect("an id");
    let (status, _) = laptop
        .send(
            "DELETE",
            &format!("/api/account/sessions/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        phone.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        laptop.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::OK
    );

    let (status, events) = laptop
        .send("GET", "/api/account/security-events", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = events
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in [
        "signed_up",
        "login_succeeded",
        "email_changed",
        "password_changed",
        "password_reset",
        "session_revoked",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }

    // Second factors over HTTP: enrol TOTP from the URI a phone app would scan, then a
    // password login stops at the second factor and a recovery code finishes it.
    let (status, enrollment) = laptop
        .send("POST", "/api/account/totp/start", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{enrollment}");
    let uri = enrollment["otpauth_uri"].as_str().expect("a URI");
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains("algorithm=SHA1&digits=6&period=30"),
        "{uri}"
    );
    let secret = totp_rs::Secret::try_from_base32(enrollment["secret"].as_str().expect("a secret"))
        .expect("base32");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(0)
        .with_secret(secret.as_ref().to_vec())
        .build()
        .expect("valid TOTP");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let (status, confirmed) = laptop
        .send(
            "POST",
            "/api/account/totp/confirm",
            json!({"code": totp.generate(now).to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let codes = confirmed["recovery_codes"]
        .as_array()
        .expect("codes")
        .clone();
    assert_eq!(codes.len(), 10);
    let (_, account) = laptop.send("GET", "/api/account", Value::Null).await;
    assert_eq!(account["second_factors"]["totp"], true, "{account}");
    let (status, body) = phone
        .send(
            "POST",
            "/api/auth/login",
            json!({"login": "ada", "password": "a third passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "second_factor_required", "{body}");
    assert_eq!(
        phone.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::UNAUTHORIZED,
        "a pending session is not signed in"
    );
    let (status, body) = phone
        .send(
            "POST",
            "/api/auth/login/recovery-code",
            json!({"code": codes[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        phone.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::OK
    );

    // Passkeys have a relying party on the starter's default public URL.
    let (status, ceremony) = phone
        .send("POST", "/api/auth/passkey/start", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{ceremony}");
    assert!(ceremony["ceremony_id"].is_string(), "{ceremony}");

    programmatic_access(&server.base, &phone).await;
    lifecycle(&server.base, &outbox).await;

    server.stop().await;
}

/// The administrator's side and the end of an account: the bootstrap administrator
/// creates a user, who sets a password through the mailed setup link; the administrator
/// disables them (their session and token stop at once) and enables them again; the user
/// takes their data and deletes the account; every credential they had is refused, their
/// username is never given out again, and their address makes a new account.
async fn lifecycle(base: &str, outbox: &Path) {
    let admin = Device::new(base, FIREFOX);
    let (status, body) = admin
        .send(
            "POST",
            "/api/auth/login",
            json!({"login": "rosa", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, created) = admin
        .send(
            "POST",
            "/api/admin/users",
            json!({"username": "bob", "email": "bob@example.com", "display_name": "Bob"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let bob_id = created["id"].as_str().expect("an id").to_owned();

    let bob = Device::new(base, IPHONE);
    let setup = wait_for_link(outbox, "bob@example.com", "account_setup").await;
    let bobs_password = "bob chose this passphrase";
    let (status, body) = bob
        .send(
            "POST",
            "/api/auth/password/reset",
            json!({"token": setup, "new_password": bobs_password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bob
        .send(
            "POST",
            "/api/auth/login",
            json!({"login": "bob", "password": bobs_password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, account) = bob.send("GET", "/api/account", Value::Null).await;
    assert_eq!(account["email_verified"], true, "the setup link proved it");
    let (status, created) = bob
        .send(
            "POST",
            "/api/account/tokens",
            json!({"name": "sync", "scope": "write"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("the token").to_owned();
    let (status, created) = bob
        .send(
            "POST",
            "/api/account/app-passwords",
            json!({"name": "Mail"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let app_password = created["password"]
        .as_str()
        .expect("the password")
        .to_owned();
    let script = reqwest::Client::new();
    let with_token = || async {
        script
            .get(format!("{base}/api/account"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answer")
            .status()
    };
    let with_app_password = || async {
        script
            .get(format!("{base}/dav/whoami"))
            .basic_auth("bob", Some(&app_password))
            .send()
            .await
            .expect("answer")
            .status()
    };
    assert_eq!(with_token().await, StatusCode::OK);
    assert_eq!(with_app_password().await, StatusCode::OK);

    // Disabled: signed out at once, and the token and app password stop; then enabled.
    let user = format!("/api/admin/users/{bob_id}");
    let (status, body) = admin
        .send("PATCH", &user, json!({"state": "disabled"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        bob.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(with_token().await, StatusCode::UNAUTHORIZED);
    assert_eq!(with_app_password().await, StatusCode::UNAUTHORIZED);
    let (status, body) = admin.send("PATCH", &user, json!({"state": "active"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(with_token().await, StatusCode::OK);
    let (status, body) = bob
        .send(
            "POST",
            "/api/auth/login",
            json!({"login": "bob", "password": bobs_password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, details) = admin.send("GET", &user, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{details}");
    assert_eq!(details["live_sessions"], 1, "{details}");

    // Bob takes his data, then deletes the account.
    let (status, export) = bob.send("GET", "/api/account/export", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["account"]["username"], "bob");
    assert_eq!(export["api_tokens"].as_array().map(Vec::len), Some(1));
    assert!(
        !export.to_string().contains(&token),
        "no secret in the export"
    );
    let (status, body) = bob
        .send("DELETE", "/api/account", json!({"confirm_username": "bob"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Every credential he had is refused.
    assert_eq!(
        bob.send("GET", "/api/account", Value::Null).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = bob
        .send(
            "POST",
            "/api/auth/login",
            json!({"login": "bob", "password": bobs_password}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(with_token().await, StatusCode::UNAUTHORIZED);
    assert_eq!(with_app_password().await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        admin.send("GET", &user, Value::Null).await.0,
        StatusCode::NOT_FOUND
    );
    // The username is never given out again; the address is free.
    let stranger = Device::new(base, "curl/8.5.0");
    let (status, body) = stranger
        .send(
            "POST",
            "/api/auth/signup",
            json!({"username": "bob", "email": "robert@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "username_taken");
    let (status, body) = stranger
        .send(
            "POST",
            "/api/auth/signup",
            json!({"username": "robert", "email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = stranger
        .send(
            "POST",
            "/api/auth/login",
            json!({"login": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Developer settings over HTTP, from a signed-in device with a fresh login: a read token
/// for a script (limited to loopback, where the test runs), an app password for a mail
/// client, and an SSH key for a git server.
async fn programmatic_access(base: &str, device: &Device) {
    let (status, created) = device
        .send(
            "POST",
            "/api/account/tokens",
            json!({"name": "backup script", "scope": "read", "allowed_networks": ["127.0.0.0/8", "::1"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("the token, shown once");
    assert!(token.starts_with("acct_"), "{created}");
    assert_eq!(created["last_four"], token[token.len() - 4..], "{created}");

    // The script: no cookies, only the bearer header.
    let script = reqwest::Client::new();
    let bearer = |method: reqwest::Method, path: &str, token: &str| {
        script
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
    };
    let response = bearer(reqwest::Method::GET, "/api/account", token)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let account: Value = response.json().await.expect("json");
    assert_eq!(account["username"], "ada");
    let response = bearer(reqwest::Method::GET, "/app/whoami", token)
        .send()
        .await
        .expect("answer");
    let whoami: Value = response.json().await.expect("json");
    assert_eq!(whoami["via"], "api_token", "{whoami}");
    assert_eq!(whoami["scope"], "read", "{whoami}");
    let response = bearer(reqwest::Method::PATCH, "/api/account", token)
        .json(&json!({"display_name": "Script"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "a read token writes nothing"
    );
    let response = bearer(reqwest::Method::PUT, "/api/account/password", token)
        .json(&json!({"current_password": "x", "new_password": "y"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "no token changes the password"
    );
    let response = script
        .get(format!("{base}/api/account?access_token={token}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a token in the URL is ignored"
    );

    let (status, tokens) = device.send("GET", "/api/account/tokens", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let listed = &tokens.as_array().expect("a list")[0];
    assert!(listed.get("token").is_none(), "shown once: {listed}");
    assert_eq!(listed["last_used_ip"], "127.0.0.1", "{listed}");
    let id = listed["id"].as_str().expect("an id");

    let (status, regenerated) = device
        .send(
            "POST",
            &format!("/api/account/tokens/{id}/regenerate"),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{regenerated}");
    let new_token = regenerated["token"].as_str().expect("a new token");
    for (secret, expected) in [
        (token, StatusCode::UNAUTHORIZED),
        (new_token, StatusCode::OK),
    ] {
        let response = bearer(reqwest::Method::GET, "/api/account", secret)
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), expected);
    }
    let (status, _) = device
        .send("DELETE", &format!("/api/account/tokens/{id}"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = bearer(reqwest::Method::GET, "/api/account", new_token)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // An app password is for a mail client, never for the login form.
    let (status, created) = device
        .send(
            "POST",
            "/api/account/app-passwords",
            json!({"name": "Thunderbird"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let app_password = created["password"]
        .as_str()
        .expect("the password, shown once");
    let stranger = Device::new(base, "curl/8.5.0");
    let (status, body) = stranger
        .send(
            "POST",
            "/api/auth/login",
            json!({"login": "ada", "password": app_password}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The starter's example route for such clients takes it, with the username or the
    // address; the account password is refused there.
    for (login, secret, expected) in [
        ("ada", app_password, StatusCode::OK),
        ("ada@new.example", app_password, StatusCode::OK),
        ("ada", "a third passphrase", StatusCode::UNAUTHORIZED),
    ] {
        let response = script
            .get(format!("{base}/dav/whoami"))
            .basic_auth(login, Some(secret))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), expected, "{login}");
    }
    let response = script
        .get(format!("{base}/dav/whoami"))
        .basic_auth("ada", Some(app_password))
        .send()
        .await
        .expect("answer");
    let whoami: Value = response.json().await.expect("json");
    assert_eq!(whoami["app_password"], "Thunderbird", "{whoami}");

    let (status, listed) = device
        .send("GET", "/api/account/app-passwords", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().expect("a list").len(), 1, "{listed}");
    assert!(listed[0].get("password").is_none(), "{listed}");

    // An SSH key, with the fingerprint ssh-keygen prints.
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMROdKbP6qcd/dttCqs8TuOwfc7tC/Otdk4q/eyP5n84 ada@laptop";
    let (status, added) = device
        .send(
            "POST",
            "/api/account/ssh-keys",
            json!({"name": "laptop", "public_key": key}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(
        added["fingerprint"],
        "SHA256:Wqqa2HlfGas9Bxg8NHvhdio9M58jg/DUklhxAypGetQ"
    );
    let (status, keys) = device
        .send("GET", "/api/account/ssh-keys", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys[0]["algorithm"], "ssh-ed25519", "{keys}");
    let id = added["id"].as_str().expect("an id");
    let (status, _) = device
        .send(
            "DELETE",
            &format!("/api/account/ssh-keys/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// The starter as a child process, killed if a test fails half-way.
struct Starter {
    child: Child,
    base: String,
}

impl Starter {
    async fn start(database_url: &str, store: &str, outbox: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_starter"))
            .env("ACCOUNT_BIND", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env("ACCOUNT_STORE", store)
            .env("ACCOUNT_OUTBOX", outbox)
            .env("ACCOUNT_ADMIN", "rosa:rosa@example.com")
            .env("ACCOUNT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("ACCOUNT_PUBLIC_URL")
            .env_remove("ACCOUNT_SMTP_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the starter binary runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let through = format!(" through {store}");
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            let mut adapter_named = false;
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                adapter_named |= line.starts_with("accounts stored in") && line.ends_with(&through);
                if let Some(addr) = line.strip_prefix("listening on ") {
                    assert!(adapter_named, "the starter did not say it stores{through}");
                    return addr.trim().to_owned();
                }
            }
            panic!("the starter exited before listening");
        })
        .await
        .expect("the starter listens within a minute");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, base }
    }

    /// Asks the starter to stop as an operator would (SIGTERM) and checks it exits cleanly.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the starter stops within 30 s")
            .expect("wait");
        assert!(exit.success(), "the starter exits cleanly: {exit:?}");
    }
}

/// One "device": an HTTP client with its own cookie jar and user agent.
struct Device {
    client: reqwest::Client,
    base: String,
}

impl Device {
    fn new(base: &str, user_agent: &str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .user_agent(user_agent)
            .build()
            .expect("client");
        Self {
            client,
            base: base.to_owned(),
        }
    }

    fn raw(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.client.request(method, format!("{}{path}", self.base))
    }

    async fn send(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let mut request = self.raw(method, path);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the starter answers");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }
}

fn absolute(base: &str, url: &str) -> String {
    if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{base}{url}")
    }
}

/// The token of the newest link of `kind` mailed to `to`, read from the outbox's `.eml`
/// files as a person would copy it.
async fn wait_for_link(outbox: &Path, to: &str, kind: &str) -> String {
    for _ in 0..100 {
        let mut found: Vec<PathBuf> = std::fs::read_dir(outbox)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        found.retain(|p| {
            p.extension().is_some_and(|e| e == "eml")
                && p.to_string_lossy().ends_with(&format!("-{kind}.eml"))
        });
        found.sort();
        for path in found.iter().rev() {
            let text = std::fs::read_to_string(path).expect("read mail");
            if !text.lines().any(|l| l.starts_with("To:") && l.contains(to)) {
                continue;
            }
            let start = text.find("token=").expect("a link with a token") + "token=".len();
            let token: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            return token;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {kind} mail to {to} in {}", outbox.display());
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}
