//! The security page without JavaScript: the password, passkeys (added through the API, as
//! the script does), the authenticator app and recovery codes, the sessions, the security
//! log, deleting the account, the "require 2FA" policy's enrolment-only session, and
//! re-authentication of a stale session.

use account_core::model::SessionStage;
use axum::http::Method;
use chrono::Duration;
use serde_json::json;

use super::signin::{log_in, signed_in};
use crate::second_factors::{add_passkey, enrol_totp, new_device};
use crate::support::{NEW_PASSWORD, PASSWORD, Reply, TestApp, empty, with};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

/// The password form sent with the current and the new password.
async fn change_password(app: &mut TestApp, current: &str, new: &str) -> Reply {
    let fields = [("current_password", current), ("new_password", new)];
    app.submit("/account/security/password", &fields).await
}

/// Asserts that a new browser logs in as Ada with the password `works`, and not with
/// `refused`.
async fn ada_logs_in_only_with(app: &TestApp, works: &str, refused: &str) {
    let mut check = app.clone_handle();
    check.cookie = None;
    check
        .login("ada", refused)
        .await
        .problem(401, "invalid_credentials");
    check.login("ada", works).await.ok(200);
}

/// Another browser of the same application, logged in as `username` through the API with
/// this user agent and these client hints.
async fn other_browser(
    app: &TestApp,
    username: &str,
    user_agent: &str,
    hints: &[(&'static str, &str)],
) -> TestApp {
    let mut other = app.clone_handle();
    crate::sessions::login_from(&mut other, username, user_agent, hints).await;
    other
}

/// The text between `start` and the next `end` after it.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in {html}"))
        + start.len();
    let to = html[from..].find(end).expect("the end marker") + from;
    &html[from..to]
}

/// The TOTP secret the set-up page shows for typing in.
fn secret_of(html: &str) -> String {
    between(html, "id=\"totp-secret\">", "</code>")
        .trim()
        .to_owned()
}

/// The recovery codes a page shows.
fn codes_of(html: &str) -> Vec<String> {
    between(html, "id=\"recovery-codes\">", "</ul>")
        .split("<li>")
        .filter_map(|item| item.split("</li>").next())
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An authenticator app with the secret typed in, as a person does who cannot scan.
fn authenticator(secret: &str) -> totp_rs::Totp {
    totp_rs::Totp::from_url(format!(
        "otpauth://totp/Example:ada?secret={secret}&issuer=Example"
    ))
    .expect("a Key Uri Format URI")
}

fn code_at(totp: &totp_rs::Totp, app: &TestApp) -> String {
    let now = u64::try_from(app.accounts.now().timestamp()).expect("after 1970");
    totp.generate(now).to_string()
}

#[tokio::test]
async fn the_password_changes_the_old_one_stops_working_and_the_cookie_is_rotated() {
    let mut app = signed_in("ada").await;
    let mut elsewhere = other_browser(&app, "ada", FIREFOX, &[]).await;
    app.get("/account/security").await.page(
        200,
        &[
            "Current password",
            "New password",
            "Change password",
            "Use a long passphrase.",
            "aria-current=\"page\"",
        ],
    );
    let before = app.cookie.clone();
    let reply = change_password(&mut app, PASSWORD, NEW_PASSWORD).await;
    reply.redirects_to("/account/security?done=password_changed");
    assert_ne!(app.cookie, before, "the session gets a new token");
    app.follow(reply)
        .await
        .page(200, &["Your password was changed."]);
    // The browser elsewhere was signed out; the old password no longer logs in.
    elsewhere
        .get("/api/account")
        .await
        .problem(401, "unauthenticated");
    ada_logs_in_only_with(&app, NEW_PASSWORD, PASSWORD).await;
}

#[tokio::test]
async fn a_wrong_current_password_or_a_weak_new_one_is_refused_next_to_the_form() {
    let mut app = signed_in("ada").await;
    let html = change_password(&mut app, "not my password", NEW_PASSWORD)
        .await
        .page(
            403,
            &[
                "id=\"password-notice\"",
                "role=\"alert\"",
                "Your current password is not right.",
            ],
        )
        .to_owned();
    assert!(html.find("password-notice") < html.find("id=\"current-password\""));
    change_password(&mut app, PASSWORD, "short").await.page(
        422,
        &[
            "This password cannot be used.",
            "It must be at least 8 characters long.",
        ],
    );
    // Nothing changed: the password still logs in, the new one does not.
    ada_logs_in_only_with(&app, PASSWORD, NEW_PASSWORD).await;
}

#[tokio::test]
async fn totp_is_set_up_with_a_code_from_the_app_and_the_codes_are_shown_once() {
    let mut app = signed_in("ada").await;
    let id = app.account("ada").await.id;
    app.get("/account/security")
        .await
        .page(200, &["Two-factor authentication", "Set up"]);
    let started = app.submit("/account/security/totp/start", &[]).await;
    let html = started.page(
        200,
        &[
            "<img class=\"qr\" src=\"data:image/png;base64,",
            "alt=\"QR code for your authenticator app\"",
            "Scan the QR code",
            "class=\"secret\"",
            "data-copy=\"totp-secret\"",
            "Code from your authenticator app",
            "action=\"/account/security/totp/confirm\"",
        ],
    );
    let secret = secret_of(html);
    assert!(secret.len() >= 32, "a 160-bit secret in base32: {secret}");
    let app_on_phone = authenticator(&secret);

    // A wrong code changes nothing and asks again.
    app.submit("/account/security/totp/confirm", &[("code", "000000")])
        .await
        .page(
            401,
            &[
                "id=\"two-factor-notice\"",
                "The code is not right.",
                "id=\"totp-code\"",
            ],
        );
    assert!(!app.accounts.second_factors(id).await.unwrap().totp);

    let before = app.cookie.clone();
    let confirmed = app
        .submit(
            "/account/security/totp/confirm",
            &[("code", &code_at(&app_on_phone, &app))],
        )
        .await;
    let html = confirmed.page(
        200,
        &[
            "Two-factor authentication is on.",
            "Save these recovery codes",
            "download=\"recovery-codes.txt\"",
            "href=\"data:text/plain;charset=utf-8,",
            "data-print",
            "data-copy=\"recovery-codes\"",
            "Done",
        ],
    );
    assert_ne!(app.cookie, before, "confirming rotates the session cookie");
    let codes = codes_of(html);
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(html.contains(&format!("{}%0A", codes.join("%0A"))));
    let factors = app.accounts.second_factors(id).await.unwrap();
    assert!(factors.totp);
    assert_eq!(factors.recovery_codes_left, 10);

    // Shown once: the page afterwards has the state, not the codes.
    let page = app.get("/account/security").await;
    let html = page.page(200, &["Enabled", "10 recovery codes left", "Disable"]);
    assert!(!html.contains(&codes[0]));
    assert!(!html.contains(&secret));
}

#[tokio::test]
async fn recovery_codes_are_regenerated_and_totp_is_disabled() {
    let mut app = signed_in("ada").await;
    let id = app.account("ada").await.id;
    let (_, old) = enrol_totp(&mut app).await;
    let html = app
        .submit("/account/security/recovery-codes", &[])
        .await
        .page(
            200,
            &[
                "New recovery codes were made",
                "Save these recovery codes",
                "recovery-codes.txt",
            ],
        )
        .to_owned();
    let new = codes_of(&html);
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|code| !old.contains(code)));

    app.submit_and_follow("/account/security/totp/disable", &[])
        .await
        .page(
            200,
            &["Two-factor authentication with your authenticator app is off."],
        );
    let factors = app.accounts.second_factors(id).await.unwrap();
    assert!(!factors.totp);
    assert_eq!(factors.recovery_codes_left, 0);
    // Recovery codes back up a factor; without one there is nothing to back up.
    app.submit("/account/security/recovery-codes", &[])
        .await
        .page(409, &["Two-factor authentication is not set up."]);
}

#[tokio::test]
async fn a_stale_session_confirms_its_identity_before_disabling_totp() {
    let mut app = signed_in("ada").await;
    let id = app.account("ada").await.id;
    let (phone, _) = enrol_totp(&mut app).await;
    app.go_stale();
    app.submit("/account/security/totp/disable", &[])
        .await
        .page(
            403,
            &[
                "Confirm your identity",
                "action=\"/account/security/totp/disable\"",
                "reauth_password",
                "reauth_code",
            ],
        );
    // With a second factor, the password alone is not the account's strongest level: the
    // prompt comes again, and nothing is disabled.
    app.submit(
        "/account/security/totp/disable",
        &[("reauth_password", PASSWORD)],
    )
    .await
    .page(403, &["Confirm your identity", "reauth_code"]);
    assert!(app.accounts.second_factors(id).await.unwrap().totp);
    app.submit(
        "/account/security/totp/disable",
        &[("reauth_code", "000000")],
    )
    .await
    .page(403, &["The code is not right."]);
    assert!(app.accounts.second_factors(id).await.unwrap().totp);
    let before = app.cookie.clone();
    app.submit_and_follow(
        "/account/security/totp/disable",
        &[("reauth_code", &phone.code(&app))],
    )
    .await
    .page(
        200,
        &["Two-factor authentication with your authenticator app is off."],
    );
    assert_ne!(app.cookie, before, "re-authentication rotates the cookie");
    assert!(!app.accounts.second_factors(id).await.unwrap().totp);
}

#[tokio::test]
async fn a_stale_session_confirms_its_identity_before_adding_a_passkey() {
    let mut app = signed_in("ada").await;
    app.get("/account/security").await.page(
        200,
        &[
            "Passkey name",
            "data-passkey=\"register\"",
            "data-reauth=\"",
            "Register Passkey",
        ],
    );
    app.go_stale();
    let html = app
        .get("/account/security")
        .await
        .page(200, &["action=\"/account/security/passkeys/confirm\""])
        .to_owned();
    assert!(!html.contains("data-passkey=\"register\""));
    app.submit("/account/security/passkeys/confirm", &[])
        .await
        .page(403, &["Confirm your identity", "reauth_password"]);
    let reply = app
        .submit(
            "/account/security/passkeys/confirm",
            &[("reauth_password", PASSWORD)],
        )
        .await;
    reply.redirects_to("/account/security?done=identity_confirmed#passkeys");
    app.follow(reply).await.page(
        200,
        &["You can add a passkey now.", "data-passkey=\"register\""],
    );
    // The script can register now: the API accepts the fresh session.
    app.post("/api/account/passkeys/start", json!({"name": "Laptop"}))
        .await
        .ok(200);
}

#[tokio::test]
async fn passkeys_are_listed_renamed_and_deleted() {
    let mut app = signed_in("ada").await;
    let passkey = add_passkey(&mut app, &mut new_device(), "Laptop").await;
    let id = passkey["id"].as_str().expect("an id").to_owned();
    let html = app
        .get("/account/security?done=passkey_added")
        .await
        .page(
            200,
            &["Your passkey was added.", "Laptop", "Rename", "Last used"],
        )
        .to_owned();
    assert!(html.contains(">Synced<") || html.contains(">This device only<"));

    app.submit_and_follow(
        &format!("/account/security/passkeys/{id}/rename"),
        &[("name", "Work laptop")],
    )
    .await
    .page(200, &["The passkey was renamed.", "value=\"Work laptop\""]);
    app.submit(
        &format!("/account/security/passkeys/{id}/rename"),
        &[("name", "  ")],
    )
    .await
    .page(422, &["id=\"passkeys-notice\"", "role=\"alert\""]);
    assert_eq!(
        app.accounts
            .passkeys(app.account("ada").await.id)
            .await
            .unwrap()[0]
            .name,
        "Work laptop"
    );

    // Without JavaScript, the registration form says what it needs.
    app.submit("/account/security/passkeys", &[("name", "Phone")])
        .await
        .page(200, &["Passkeys need JavaScript in this browser."]);

    app.submit_and_follow(&format!("/account/security/passkeys/{id}/delete"), &[])
        .await
        .page(
            200,
            &["The passkey was deleted.", "You have no passkeys yet."],
        );
    assert!(
        app.accounts
            .passkeys(app.account("ada").await.id)
            .await
            .unwrap()
            .is_empty()
    );
    app.submit(&format!("/account/security/passkeys/{id}/delete"), &[])
        .await
        .page(404, &["It no longer exists."]);
}

#[tokio::test]
async fn sessions_show_their_devices_and_others_are_closed() {
    let mut app = signed_in("ada").await;
    app.clock.advance(Duration::seconds(5));
    let mut firefox = other_browser(&app, "ada", FIREFOX, &[]).await;
    app.clock.advance(Duration::seconds(5));
    let mut phone = other_browser(
        &app,
        "ada",
        CHROME_ANDROID,
        &[
            ("sec-ch-ua-platform", "\"Android\""),
            ("sec-ch-ua-model", "\"Pixel 7\""),
        ],
    )
    .await;
    let page = app.get("/account/security").await;
    let html = page.page(
        200,
        &[
            "This session",
            "Firefox 128",
            "Gecko",
            "x86_64",
            "Linux",
            "Pixel 7",
            "Android",
            "198.51.100.1",
            "CPU architecture",
            "Last authentication",
            "<time datetime=\"2026-01-01T00:00:00Z\">2026-01-01 00:00 UTC</time>",
            "Close all other sessions",
        ],
    );
    let sessions = between(html, "id=\"sessions\"", "</section>");
    assert!(
        sessions.find("This session") < sessions.find("Firefox 128"),
        "this session comes first"
    );
    assert_eq!(sessions.matches(">Close<").count(), 2, "not for this one");

    let firefox_id = app
        .sessions_of("ada")
        .await
        .into_iter()
        .find(|s| {
            s.user_agent
                .as_deref()
                .is_some_and(|ua| ua.contains("Firefox"))
        })
        .expect("the Firefox session")
        .id;
    app.submit_and_follow(
        &format!("/account/security/sessions/{firefox_id}/close"),
        &[],
    )
    .await
    .page(200, &["The session was closed."]);
    firefox
        .get("/api/account")
        .await
        .problem(401, "unauthenticated");
    phone.get("/api/account").await.ok(200);

    app.submit_and_follow("/account/security/sessions/close-others", &[])
        .await
        .page(200, &["All your other sessions were closed."]);
    phone
        .get("/api/account")
        .await
        .problem(401, "unauthenticated");
    assert_eq!(app.sessions_of("ada").await.len(), 1);
    app.get("/account/security")
        .await
        .page(200, &["This session"]);
}

#[tokio::test]
async fn the_security_log_lists_events_in_english_and_german_with_older_pages() {
    let mut app = signed_in("ada").await;
    let html = app
        .get("/account/security")
        .await
        .page(
            200,
            &[
                "Security log",
                "<th scope=\"col\">When</th>",
                "Account created",
                "Logged in",
                "198.51.100.1",
            ],
        )
        .to_owned();
    assert!(!html.contains("security.event."), "every kind has a label");
    let german = app
        .send(with(
            empty(Method::GET, "/account/security"),
            "accept-language",
            "de-DE,de;q=0.9",
        ))
        .await;
    german.page(
        200,
        &[
            "lang=\"de\"",
            "Sicherheitsprotokoll",
            "Konto erstellt",
            "Angemeldet",
            "Aktuelles Passwort",
        ],
    );

    // More events than a page holds: the newest first, and a link to the older ones.
    for i in 0..25 {
        app.patch("/api/account", json!({"display_name": format!("Ada {i}")}))
            .await
            .ok(200);
    }
    let html = app
        .get("/account/security")
        .await
        .page(200, &["Profile changed", "Older"])
        .to_owned();
    assert!(!html.contains("Account created"));
    let older = between(&html, "<a href=\"/account/security?before=", "\"");
    let older = older.trim_end_matches("#log");
    app.get(&format!("/account/security?before={older}"))
        .await
        .page(200, &["Account created", "Newest"]);
    app.get("/account/security?before=nonsense")
        .await
        .page(422, &[]);
}

#[tokio::test]
async fn deleting_the_account_needs_the_username_typed_again() {
    let mut app = signed_in("ada").await;
    app.get("/account/security").await.page(
        200,
        &[
            "class=\"card danger\" id=\"delete\"",
            "Deleting your account is permanent: your profile, passkeys, tokens, keys and sessions are removed and cannot be restored.",
            "Type your username to confirm",
            "name=\"confirm_username\"",
            "Download your data (JSON)",
            "href=\"/api/account/export\"",
        ],
    );
    app.submit("/account/security/delete", &[("confirm_username", "bob")])
        .await
        .page(
            422,
            &[
                "id=\"delete-notice\"",
                "Username confirmation: does not match.",
            ],
        );
    assert!(app.find_account("ada").await.is_some());
    app.get("/api/account").await.ok(200);

    let reply = app
        .submit("/account/security/delete", &[("confirm_username", "ada")])
        .await;
    reply.redirects_to("/account/login?done=account_deleted");
    assert!(app.cookie.is_none(), "the session cookie is cleared");
    assert!(app.find_account("ada").await.is_none());
    app.follow(reply)
        .await
        .page(200, &["Your account was deleted."]);
}

#[tokio::test]
async fn an_enrolment_only_session_sees_only_the_second_factors_and_sets_one_up() {
    let mut app = TestApp::unlimited();
    app.sign_up("ada", "ada@example.com").await;
    app.set_policy(|p| p.require_second_factor = true).await;
    let login = log_in(&mut app, "ada", PASSWORD).await;
    let profile = app.follow(login).await;
    profile.redirects_to("/account/security#two-factor");
    let page = app.get("/account/security").await;
    let html = page.page(
        200,
        &[
            "Your administrator requires two-factor authentication. Set it up to continue.",
            "id=\"two-factor\"",
            "id=\"passkeys\"",
            "Set up",
            "Register Passkey",
        ],
    );
    for absent in [
        "id=\"password\"",
        "id=\"sessions\"",
        "id=\"log\"",
        "id=\"delete\"",
        "Change password",
    ] {
        assert!(!html.contains(absent), "{absent} is shown: {html}");
    }
    // The other sections' actions send it back to the set-up.
    change_password(&mut app, PASSWORD, NEW_PASSWORD)
        .await
        .redirects_to("/account/security#two-factor");
    app.submit("/account/security/delete", &[("confirm_username", "ada")])
        .await
        .redirects_to("/account/security#two-factor");
    assert!(app.find_account("ada").await.is_some());

    // Once its sign-in is stale, the set-up asks for the password in the form itself.
    app.go_stale();
    app.get("/account/security")
        .await
        .page(200, &["name=\"reauth_password\"", "Your password"]);
    app.submit("/account/security/totp/start", &[])
        .await
        .page(403, &["Please confirm your identity first."]);
    app.submit(
        "/account/security/totp/start",
        &[("reauth_password", "wrong")],
    )
    .await
    .page(401, &["is not right"]);
    let before = app.cookie.clone();
    let started = app
        .submit(
            "/account/security/totp/start",
            &[("reauth_password", PASSWORD)],
        )
        .await;
    let secret = secret_of(started.page(200, &["Scan the QR code"]));
    assert_ne!(app.cookie, before, "re-authentication rotates the cookie");
    let phone = authenticator(&secret);
    app.submit(
        "/account/security/totp/confirm",
        &[("code", &code_at(&phone, &app))],
    )
    .await
    .page(200, &["Save these recovery codes"]);
    assert_eq!(app.sessions_of("ada").await[0].stage, SessionStage::Full);
    app.get("/account/security")
        .await
        .page(200, &["Change password", "Security log", "Enabled"]);
}
