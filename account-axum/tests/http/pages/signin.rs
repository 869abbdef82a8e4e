//! Signing in and out, sign-up, forgot and reset password, email verification: each
//! form without JavaScript.

use crate::support::{NEW_PASSWORD, PASSWORD, Reply, TestApp, token_of};

/// Logs in through the login page, as a browser without JavaScript does.
pub(super) async fn log_in(app: &mut TestApp, login: &str, password: &str) -> Reply {
    app.submit(
        "/account/login",
        &[("login", login), ("password", password)],
    )
    .await
}

/// A browser signed in through the login page as `username`, a new user whose address is
/// `<username>@example.com`; no other session.
pub(super) async fn signed_in(username: &str) -> TestApp {
    let mut app = TestApp::unlimited();
    app.sign_up(username, &format!("{username}@example.com"))
        .await;
    log_in(&mut app, username, PASSWORD)
        .await
        .redirects_to("/account/profile");
    app
}

/// A browser that is not signed in, of an application where Ada has signed up.
async fn ada_signed_up() -> TestApp {
    let mut app = TestApp::new();
    app.sign_up("ada", "ada@example.com").await;
    app
}

/// Grace signs up through the sign-up page with this address.
async fn grace_signs_up(app: &mut TestApp, email: &str) -> Reply {
    let fields = [
        ("username", "grace"),
        ("email", email),
        ("password", PASSWORD),
    ];
    app.submit("/account/signup", &fields).await
}

/// The reset-password form sent with the new password and its confirmation.
async fn reset_password(app: &mut TestApp, token: &str, confirm: &str) -> Reply {
    let fields = [
        ("token", token),
        ("new_password", NEW_PASSWORD),
        ("confirm_password", confirm),
    ];
    app.submit("/account/reset-password", &fields).await
}

#[tokio::test]
async fn a_visitor_is_sent_to_the_login_and_back_after_it() {
    let mut app = ada_signed_up().await;
    app.get("/account/profile")
        .await
        .redirects_to("/account/login?next=%2Faccount%2Fprofile");
    let page = app.get("/account/login?next=/account/profile").await;
    page.page(
        200,
        &[
            "Username or email",
            "Log in with a passkey",
            "Forgot Password",
        ],
    );
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    app.submit(
        "/account/login",
        &[
            ("login", "ada"),
            ("password", PASSWORD),
            ("next", "/account/profile"),
        ],
    )
    .await
    .redirects_to("/account/profile");
    app.get("/account/profile")
        .await
        .page(200, &["ada", "Usernames cannot be changed."]);
}

#[tokio::test]
async fn a_wrong_password_is_shown_next_to_the_form_and_next_never_leaves_the_site() {
    let mut app = ada_signed_up().await;
    let page = log_in(&mut app, "ada", "wrong password").await;
    page.page(401, &["role=\"alert\"", "is not right", "value=\"ada\""]);
    app.submit(
        "/account/login",
        &[
            ("login", "ada"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ],
    )
    .await
    .redirects_to("/account/profile");
}

#[tokio::test]
async fn logging_out_ends_the_session_and_clears_the_cookie() {
    let mut app = ada_signed_up().await;
    log_in(&mut app, "ada", PASSWORD).await;
    let out = app.submit("/account/logout", &[]).await;
    out.redirects_to("/account/login?done=logged_out");
    assert!(app.sessions_of("ada").await.is_empty());
    app.follow(out).await.page(200, &["You are logged out."]);
}

#[tokio::test]
async fn a_form_from_another_site_is_refused() {
    let mut app = ada_signed_up().await;
    let request = crate::support::with(
        crate::support::raw(
            axum::http::Method::POST,
            "/account/login",
            "application/x-www-form-urlencoded",
            format!(
                "login=ada&password={}",
                crate::support::form_encode(PASSWORD)
            ),
        ),
        "sec-fetch-site",
        "cross-site",
    );
    let reply = app.send(request).await;
    reply.page(403, &["The form was sent from another site and refused."]);
    assert!(app.sessions_of("ada").await.is_empty());
}

#[tokio::test]
async fn too_many_logins_get_a_page_that_says_when_to_come_back() {
    let mut app = ada_signed_up().await;
    let mut last = None;
    for _ in 0..40 {
        let reply = log_in(&mut app, "ada", "wrong").await;
        if reply.status.as_u16() == 429 {
            last = Some(reply);
            break;
        }
    }
    let reply = last.expect("the login limit is reached");
    reply.page(429, &["Too many attempts."]);
    assert!(reply.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn sign_up_then_verify_the_address_through_the_link() {
    let mut app = TestApp::new();
    app.get("/account/signup")
        .await
        .page(200, &["Create an account", "Username"]);
    grace_signs_up(&mut app, "not an address")
        .await
        .page(422, &["Email address:", "value=\"grace\""]);
    let created = grace_signs_up(&mut app, "grace@example.com").await;
    app.follow(created)
        .await
        .page(200, &["Your account was created."]);
    let link = app.link_sent_to("grace@example.com", "verify_email").await;
    assert_eq!(link.path(), "/account/verify-email");
    // Opening the link changes nothing until the button is pressed.
    app.get(&format!("/account/verify-email?token={}", token_of(&link)))
        .await
        .page(200, &["Verify email address"]);
    assert!(!app.account("grace").await.email_verified);
    app.submit_and_follow("/account/verify-email", &[("token", &token_of(&link))])
        .await
        .page(200, &["Your email address is verified."]);
    assert!(app.account("grace").await.email_verified);
}

#[tokio::test]
async fn sign_up_closed_says_so() {
    let mut app = TestApp::new();
    app.set_policy(|p| p.allow_signup = false).await;
    app.get("/account/signup")
        .await
        .page(200, &["Sign-up is closed here."]);
    grace_signs_up(&mut app, "grace@example.com")
        .await
        .page(403, &["Sign-up is closed here."]);
    assert!(app.find_account("grace").await.is_none());
}

#[tokio::test]
async fn forgot_and_reset_password_through_the_mailed_link() {
    let mut app = ada_signed_up().await;
    app.submit_and_follow("/account/forgot-password", &[("email", "ada@example.com")])
        .await
        .page(200, &["If an account uses that address"]);
    // An unknown address gets the very same page.
    app.submit_and_follow(
        "/account/forgot-password",
        &[("email", "nobody@example.com")],
    )
    .await
    .page(200, &["If an account uses that address"]);
    let link = app.link_sent_to("ada@example.com", "password_reset").await;
    assert_eq!(link.path(), "/account/reset-password");
    let token = token_of(&link);
    app.get(&format!("/account/reset-password?token={token}"))
        .await
        .page(200, &["Choose a new password", &token]);
    reset_password(&mut app, &token, "other")
        .await
        .page(422, &["The two passwords are not the same."]);
    let changed = reset_password(&mut app, &token, NEW_PASSWORD).await;
    app.follow(changed)
        .await
        .page(200, &["Your password was changed."]);
    log_in(&mut app, "ada", NEW_PASSWORD)
        .await
        .redirects_to("/account/profile");
}

#[tokio::test]
async fn the_second_factor_step_finishes_a_login_with_a_code() {
    let mut app = TestApp::unlimited();
    app.user("ada").await;
    let (_, codes) = crate::second_factors::enrol_totp(&mut app).await;
    app.submit("/account/logout", &[]).await;
    log_in(&mut app, "ada", PASSWORD)
        .await
        .redirects_to("/account/login/second-factor");
    app.get("/account/login/second-factor").await.page(
        200,
        &[
            "Code from your authenticator app",
            "One of your recovery codes",
        ],
    );
    app.submit("/account/login/totp", &[("code", "000000")])
        .await
        .page(401, &["The code is not right."]);
    app.submit("/account/login/recovery-code", &[("code", &codes[0])])
        .await
        .redirects_to("/account/profile");
    app.get("/account/profile").await.page(200, &["ada"]);
}

#[tokio::test]
async fn german_pages_for_a_german_browser() {
    let mut app = TestApp::new();
    let request = crate::support::with(
        crate::support::empty(axum::http::Method::GET, "/account/login"),
        "accept-language",
        "de-DE,de;q=0.9,en;q=0.8",
    );
    let page = app.send(request).await;
    page.page(
        200,
        &[
            "lang=\"de\"",
            "Benutzername oder E-Mail",
            "Passwort vergessen",
        ],
    );
}
