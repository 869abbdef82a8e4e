//! Administration without JavaScript: the list of users (search, filters, paging), the
//! invitation, one user's page and its actions (edit, disable and enable, 2FA reset,
//! ending sessions, deletion), the policy form, re-authentication, and German labels.

use account_core::model::{AccountState, Role, SecurityEventKind};
use account_core::policy::Policy;

use crate::second_factors::{add_passkey, enrol_totp, new_device};
use crate::support::{PASSWORD, Reply, TestApp};

/// `ada` (a user, signed in on another client) and `rosa` (the administrator, signed in
/// on `app`).
async fn with_ada_and_rosa() -> (TestApp, TestApp) {
    let mut app = TestApp::unlimited();
    app.user("ada").await;
    let ada = app.clone_handle();
    // Another browser: a login ends the session the browser had before.
    app.cookie = None;
    app.admin("rosa").await;
    (app, ada)
}

async fn user_path(app: &TestApp, username: &str) -> String {
    format!("/account/admin/users/{}", app.account(username).await.id)
}

/// The account page at `path`: a 200 with every one of `texts`, and no catalog key left
/// untranslated (the forms that ask first fill their texts from keys they are given).
async fn user_page(app: &mut TestApp, path: &str, texts: &[&str]) -> String {
    let html = app.get(path).await.page(200, texts).to_owned();
    assert!(!html.contains("admin.user"), "an untranslated key: {html}");
    html
}

/// Asserts a refusal with `status` shown as an alert next to the form `form`, with every
/// one of `texts`.
#[track_caller]
fn refused_next_to(reply: &Reply, status: u16, form: &str, texts: &[&str]) {
    let html = reply.page(status, &[&format!("{form}-notice"), "role=\"alert\""]);
    for text in texts {
        assert!(html.contains(text), "the page lacks {text:?}: {html}");
    }
}

/// The fields of an account's edit form.
fn edit_form<'a>(display_name: &'a str, email: &'a str, role: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("display_name", display_name),
        ("email", email),
        ("role", role),
    ]
}

/// Asserts that `ada` has no session left and that her browser is signed out.
async fn ada_is_signed_out(app: &TestApp, ada_client: &mut TestApp) {
    assert!(app.sessions_of("ada").await.is_empty());
    ada_client
        .get("/account/profile")
        .await
        .redirects_to("/account/login");
}

/// Whether `username`'s security log holds an event of `kind`.
async fn logged(app: &TestApp, username: &str, kind: SecurityEventKind) -> bool {
    app.events(username).await.iter().any(|e| e.kind == kind)
}

async fn policy(app: &TestApp) -> Policy {
    app.accounts.policy().await.expect("policy")
}

/// The `href` of the link whose text is `text`, unescaped.
fn link_to(html: &str, text: &str) -> String {
    let end = html
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link {text:?}: {html}"));
    let start = html[..end].rfind("href=\"").expect("an href") + "href=\"".len();
    let href = &html[start..];
    href[..href.find('"').expect("a closing quote")]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

#[tokio::test]
async fn a_user_who_is_not_an_administrator_gets_403_everywhere() {
    let mut app = TestApp::unlimited();
    app.sign_up("bob", "bob@example.com").await;
    app.user("ada").await;
    let bob = user_path(&app, "bob").await;
    for path in [
        "/account/admin".to_owned(),
        "/account/admin/users".to_owned(),
        bob.clone(),
        "/account/admin/policy".to_owned(),
    ] {
        let html = app
            .get(&path)
            .await
            .page(403, &["You may not do this."])
            .to_owned();
        assert!(!html.contains("Invite a user"), "{path}");
    }
    for (path, fields) in [
        (
            "/account/admin/users".to_owned(),
            vec![("username", "eve"), ("email", "eve@example.com")],
        ),
        (bob.clone(), vec![("display_name", "Bobby")]),
        (format!("{bob}/state"), vec![("state", "disabled")]),
        (format!("{bob}/reset-2fa"), vec![]),
        (format!("{bob}/sessions/revoke"), vec![]),
        (format!("{bob}/delete"), vec![]),
        (
            "/account/admin/policy".to_owned(),
            vec![("idle_timeout_secs", "600")],
        ),
    ] {
        app.submit(&path, &fields)
            .await
            .page(403, &["You may not do this."]);
    }
    let bob = app.account("bob").await;
    assert_eq!(bob.state, AccountState::Active);
    assert_eq!(bob.display_name.as_str(), "bob");
    assert!(app.find_account("eve").await.is_none());
    assert!(policy(&app).await.allow_signup);
    // Someone signed out is sent to the login first.
    app.cookie = None;
    app.get("/account/admin/users")
        .await
        .redirects_to("/account/login?next=");
}

#[tokio::test]
async fn the_administrator_searches_filters_and_pages_through_the_users() {
    let mut app = TestApp::unlimited();
    for name in ["ada", "bob", "carol"] {
        app.sign_up(name, &format!("{name}@example.com")).await;
    }
    app.admin("rosa").await;
    let page = app.get("/account/admin/users").await;
    let html = page.page(
        200,
        &[
            "<h1>Users</h1>",
            ">ada</a>",
            ">bob</a>",
            ">carol</a>",
            ">rosa</a>",
            "Administrator",
            "Invite a user",
            "aria-current=\"page\">Administration</a>",
        ],
    );
    assert!(!html.contains("Next page"));

    let html = app
        .get("/account/admin/users?q=ADA")
        .await
        .page(200, &[">ada</a>", "value=\"ADA\""])
        .to_owned();
    assert!(!html.contains(">bob</a>"));

    let html = app
        .get("/account/admin/users?q=&state=active&role=admin&source=")
        .await
        .page(200, &[">rosa</a>"])
        .to_owned();
    assert!(!html.contains(">ada</a>"));

    // Two a page: the next page carries the search on.
    let first = app
        .get("/account/admin/users?state=active&limit=2")
        .await
        .page(200, &[">ada</a>", ">bob</a>", "Next page"])
        .to_owned();
    assert!(!first.contains(">carol</a>"));
    let next = link_to(&first, "Next page");
    assert!(
        next.contains("state=active") && next.contains("cursor="),
        "{next}"
    );
    let second = app
        .get(&next)
        .await
        .page(200, &[">carol</a>", ">rosa</a>", "First page"])
        .to_owned();
    assert!(!second.contains(">ada</a>"));
    assert!(!second.contains("Next page"));

    // A filter the list does not know is refused next to the search, as the API's 422.
    let reply = app.get("/account/admin/users?state=asleep").await;
    refused_next_to(&reply, 422, "search", &[]);

    // Each username leads to the user's page.
    let ada = user_path(&app, "ada").await;
    assert!(first.contains(&format!("href=\"{ada}\"")));
    user_page(
        &mut app,
        &ada,
        &[
            "ada@example.com",
            "Not verified",
            "Security log",
            "Account created",
            "Authenticator app (TOTP)",
        ],
    )
    .await;
    app.get("/account/admin/users/not-an-id")
        .await
        .page(404, &[]);
}

#[tokio::test]
async fn an_invited_user_gets_a_setup_link_and_refusals_keep_the_form() {
    let mut app = TestApp::unlimited();
    app.admin("rosa").await;
    let reply = app
        .submit(
            "/account/admin/users",
            &[
                ("username", "dora"),
                ("email", "dora@example.com"),
                ("display_name", "Dora Explorer"),
                ("role", "user"),
            ],
        )
        .await;
    let dora = app.account("dora").await;
    reply.redirects_to(&format!(
        "/account/admin/users/{}?done=user_invited",
        dora.id
    ));
    app.follow(reply).await.page(
        200,
        &[
            "Invitation sent.",
            "Dora Explorer",
            "dora@example.com",
            "Account created by an administrator",
        ],
    );
    assert_eq!(dora.role, Role::User);
    let link = app.link_sent_to("dora@example.com", "account_setup").await;
    assert!(link.as_str().contains("token="));

    // The same username again: refused next to the form, which keeps what was typed.
    let reply = app
        .submit(
            "/account/admin/users",
            &[
                ("username", "dora"),
                ("email", "dora2@example.com"),
                ("display_name", ""),
                ("role", "admin"),
            ],
        )
        .await;
    refused_next_to(
        &reply,
        409,
        "invite",
        &[
            "This username is taken.",
            "value=\"dora2@example.com\"",
            "<option value=\"admin\" selected>",
        ],
    );
    let reply = app
        .submit(
            "/account/admin/users",
            &[
                ("username", "erin"),
                ("email", "not an address"),
                ("role", "user"),
            ],
        )
        .await;
    refused_next_to(&reply, 422, "invite", &["Email address:", "value=\"erin\""]);
    assert!(app.find_account("erin").await.is_none());

    // An administrator may be invited as one.
    app.submit_and_follow(
        "/account/admin/users",
        &[
            ("username", "fay"),
            ("email", "fay@example.com"),
            ("role", "admin"),
        ],
    )
    .await
    .page(200, &["Invitation sent."]);
    assert_eq!(app.account("fay").await.role, Role::Admin);
}

#[tokio::test]
async fn the_profile_and_role_are_edited_and_a_taken_address_is_refused() {
    let (mut app, _ada) = with_ada_and_rosa().await;
    let ada = user_path(&app, "ada").await;
    let lovelace = edit_form("Ada Lovelace", "ada@new.example", "admin");
    app.submit_and_follow(&ada, &lovelace).await.page(
        200,
        &[
            "The changes were saved.",
            "Ada Lovelace",
            "Changed by an administrator",
        ],
    );
    let account = app.account("ada").await;
    assert_eq!(account.display_name.as_str(), "Ada Lovelace");
    assert_eq!(account.email.as_str(), "ada@new.example");
    assert!(!account.email_verified);
    assert_eq!(account.role, Role::Admin);
    app.link_sent_to("ada@new.example", "verify_email").await;

    // Nothing different: nothing changes.
    app.submit_and_follow(&ada, &lovelace)
        .await
        .page(200, &["Nothing was changed."]);

    // Another account's address: refused, the typed values stay, nothing is saved.
    let reply = app
        .submit(&ada, &edit_form("Someone", "rosa@example.com", "user"))
        .await;
    refused_next_to(
        &reply,
        422,
        "edit",
        &["value=\"rosa@example.com\"", "value=\"Someone\""],
    );
    let account = app.account("ada").await;
    assert_eq!(account.display_name.as_str(), "Ada Lovelace");
    assert_eq!(account.role, Role::Admin);
}

#[tokio::test]
async fn disabling_ends_the_sessions_and_enabling_lets_the_user_back_in() {
    let (mut app, mut ada_client) = with_ada_and_rosa().await;
    assert!(!app.sessions_of("ada").await.is_empty());
    let ada = user_path(&app, "ada").await;
    user_page(
        &mut app,
        &ada,
        &["Signed-in sessions: 1", "198.51.100.1", "Disable"],
    )
    .await;
    app.submit_and_follow(&format!("{ada}/state"), &[("state", "disabled")])
        .await
        .page(
            200,
            &[
                "The account is disabled and all its sessions ended.",
                "Signed-in sessions: 0",
                "Account disabled",
                "Enable",
            ],
        );
    assert_eq!(app.account("ada").await.state, AccountState::Disabled);
    ada_is_signed_out(&app, &mut ada_client).await;
    user_page(&mut app, &ada, &["Enable"]).await;
    app.submit_and_follow(&format!("{ada}/state"), &[("state", "active")])
        .await
        .page(200, &["The account is enabled again.", "Account enabled"]);
    assert_eq!(app.account("ada").await.state, AccountState::Active);
    ada_client.login("ada", PASSWORD).await.ok(200);
}

#[tokio::test]
async fn the_last_administrator_cannot_disable_demote_or_delete_themselves() {
    let mut app = TestApp::unlimited();
    app.admin("rosa").await;
    let rosa = user_path(&app, "rosa").await;
    user_page(&mut app, &rosa, &["This is your own account."]).await;
    let own = ["You cannot do this to your own account here."];
    let reply = app
        .submit(&format!("{rosa}/state"), &[("state", "disabled")])
        .await;
    refused_next_to(&reply, 409, "state", &own);
    let reply = app
        .submit(&rosa, &edit_form("rosa", "rosa@example.com", "user"))
        .await;
    refused_next_to(&reply, 409, "edit", &own);
    let reply = app.submit(&format!("{rosa}/delete"), &[]).await;
    refused_next_to(&reply, 409, "delete", &own);
    let account = app.account("rosa").await;
    assert_eq!(account.state, AccountState::Active);
    assert_eq!(account.role, Role::Admin);
    app.get("/account/admin/users")
        .await
        .page(200, &[">rosa</a>"]);
}

#[tokio::test]
async fn resetting_two_factor_removes_every_factor_and_ends_the_sessions() {
    let mut app = TestApp::unlimited();
    app.user("ada").await;
    enrol_totp(&mut app).await;
    let mut device = new_device();
    add_passkey(&mut app, &mut device, "Laptop").await;
    app.admin("rosa").await;
    let ada = user_path(&app, "ada").await;
    let ada_id = app.account("ada").await.id;
    user_page(
        &mut app,
        &ada,
        &[
            "<dd><span class=\"badge badge-ok\">On</span></dd>",
            "<dd>1</dd>",
        ],
    )
    .await;
    app.submit_and_follow(&format!("{ada}/reset-2fa"), &[])
        .await
        .page(
            200,
            &[
                "Two-factor authentication was reset",
                "Second factors reset by an administrator",
                "<dd>Off</dd>",
            ],
        );
    let factors = app.accounts.second_factors(ada_id).await.expect("factors");
    assert!(!factors.totp);
    assert_eq!(factors.passkeys, 0);
    assert_eq!(factors.recovery_codes_left, 0);
    assert!(app.sessions_of("ada").await.is_empty());
    assert!(
        app.mail_kinds("ada@example.com")
            .await
            .contains(&"second_factors_reset")
    );
}

#[tokio::test]
async fn ending_the_sessions_signs_the_user_out_everywhere() {
    let (mut app, mut ada_client) = with_ada_and_rosa().await;
    let ada = user_path(&app, "ada").await;
    app.submit_and_follow(&format!("{ada}/sessions/revoke"), &[])
        .await
        .page(
            200,
            &[
                "All sessions of the user ended.",
                "Signed-in sessions: 0",
                "Sessions ended by an administrator",
            ],
        );
    assert_eq!(app.account("ada").await.state, AccountState::Active);
    ada_is_signed_out(&app, &mut ada_client).await;
}

#[tokio::test]
async fn a_deleted_user_is_gone_from_the_list() {
    let (mut app, _ada) = with_ada_and_rosa().await;
    let ada = user_path(&app, "ada").await;
    let reply = app.submit(&format!("{ada}/delete"), &[]).await;
    reply.redirects_to("/account/admin/users?done=user_deleted");
    let html = app
        .follow(reply)
        .await
        .page(200, &["The user was deleted.", ">rosa</a>"])
        .to_owned();
    assert!(!html.contains(">ada</a>"));
    assert!(app.find_account("ada").await.is_none());
    app.get(&ada).await.page(404, &[]);
    assert!(logged(&app, "rosa", SecurityEventKind::DeletedAccount).await);
}

/// Every field of the policy form, as a browser sends it: ticked boxes only.
fn policy_form<'a>(ticked: &[&'a str], numbers: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields: Vec<(&str, &str)> = ticked.iter().map(|name| (*name, "on")).collect();
    for (name, default) in [
        ("idle_timeout_secs", "3600"),
        ("absolute_timeout_secs", "86400"),
        ("reauthentication_window_secs", "600"),
        ("min_length", "8"),
        ("min_length_single_factor", "15"),
        ("max_length", "256"),
    ] {
        let value = numbers
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(default, |(_, v)| *v);
        fields.push((name, value));
    }
    fields
}

#[tokio::test]
async fn the_policy_form_saves_every_field_and_refuses_a_bad_value_without_saving() {
    let mut app = TestApp::unlimited();
    app.admin("rosa").await;
    let html = app
        .get("/account/admin/policy")
        .await
        .page(
            200,
            &[
                "<h1>Policy</h1>",
                "Allow sign-up",
                "Allow reserved usernames",
                "Lock profiles",
                "Require two-factor authentication",
                "Directory provides second factor",
                "Sign-in notices",
                "name=\"idle_timeout_secs\"",
                "value=\"3600\"",
                "name=\"max_length\"",
                "aria-current=\"page\">Policy</a>",
            ],
        )
        .to_owned();
    assert!(html.contains("name=\"allow_signup\" type=\"checkbox\" value=\"on\" checked"));
    assert!(!html.contains("name=\"lock_profiles\" type=\"checkbox\" value=\"on\" checked"));

    // Sign-up left unticked (absent), profiles locked, shorter idle timeout.
    let fields = policy_form(
        &["lock_profiles", "sign_in_notices", "strict_single_factor"],
        &[("idle_timeout_secs", "1800"), ("min_length", "10")],
    );
    app.submit_and_follow("/account/admin/policy", &fields)
        .await
        .page(200, &["The policy was saved.", "value=\"1800\""]);
    let saved = policy(&app).await;
    assert!(!saved.allow_signup);
    assert!(saved.lock_profiles);
    assert!(saved.sign_in_notices);
    assert!(!saved.require_second_factor);
    assert!(saved.passwords.strict_single_factor);
    assert_eq!(saved.sessions.idle_timeout_secs, 1800);
    assert_eq!(saved.passwords.min_length, 10);
    assert!(logged(&app, "rosa", SecurityEventKind::PolicyChanged).await);

    // Out of range: refused with the rule, the typed value shown again, nothing saved.
    let fields = policy_form(&["allow_signup"], &[("idle_timeout_secs", "0")]);
    let reply = app.submit("/account/admin/policy", &fields).await;
    refused_next_to(
        &reply,
        422,
        "policy",
        &[
            "These policy settings cannot be used.",
            "The idle timeout must be between 60 and 31622400 seconds",
            "name=\"idle_timeout_secs\" type=\"number\" inputmode=\"numeric\" min=\"60\" max=\"31622400\" step=\"1\" value=\"0\"",
        ],
    );
    let fields = policy_form(&["allow_signup"], &[("max_length", "many")]);
    let reply = app.submit("/account/admin/policy", &fields).await;
    refused_next_to(
        &reply,
        422,
        "policy",
        &["Maximum length (characters): please enter a whole number."],
    );
    assert_eq!(policy(&app).await, saved);
}

#[tokio::test]
async fn a_stale_administrator_confirms_with_the_password_and_the_change_then_finishes() {
    let (mut app, _ada) = with_ada_and_rosa().await;
    let ada = user_path(&app, "ada").await;
    app.go_stale();
    let state = format!("{ada}/state");
    app.submit(&state, &[("state", "disabled")]).await.page(
        403,
        &[
            "Confirm your identity",
            "name=\"state\" value=\"disabled\"",
            "reauth_password",
        ],
    );
    assert_eq!(app.account("ada").await.state, AccountState::Active);
    app.submit(
        &state,
        &[("state", "disabled"), ("reauth_password", "wrong")],
    )
    .await
    .page(
        403,
        &["The username, email address or password is not right."],
    );
    assert_eq!(app.account("ada").await.state, AccountState::Active);
    app.submit_and_follow(
        &state,
        &[("state", "disabled"), ("reauth_password", PASSWORD)],
    )
    .await
    .page(200, &["The account is disabled"]);
    assert_eq!(app.account("ada").await.state, AccountState::Disabled);

    // The policy too: the unticked boxes stay unticked through the prompt.
    app.go_stale();
    let fields = policy_form(&["sign_in_notices"], &[]);
    app.submit("/account/admin/policy", &fields)
        .await
        .page(403, &["Confirm your identity"]);
    assert!(policy(&app).await.allow_signup);
    let mut with_password = fields.clone();
    with_password.push(("reauth_password", PASSWORD));
    app.submit_and_follow("/account/admin/policy", &with_password)
        .await
        .page(200, &["The policy was saved."]);
    assert!(!policy(&app).await.allow_signup);
}

#[tokio::test]
async fn a_german_administrator_gets_german_labels() {
    let (mut app, _ada) = with_ada_and_rosa().await;
    app.submit("/account/profile/language", &[("language", "de")])
        .await
        .redirects_to("/account/profile");
    app.get("/account/admin/users").await.page(
        200,
        &[
            "lang=\"de\"",
            "<h1>Benutzer</h1>",
            "Benutzer einladen",
            "Suchen",
            "Richtlinie",
            "Verwaltung",
        ],
    );
    let ada = user_path(&app, "ada").await;
    user_page(
        &mut app,
        &ada,
        &[
            "Sicherheitsprotokoll",
            "Konto erstellt",
            "Angemeldet",
            "Alle Sitzungen beenden",
            "Benutzer löschen",
        ],
    )
    .await;
    app.get("/account/admin/policy").await.page(
        200,
        &[
            "Registrierung erlauben",
            "Profile sperren",
            "Zwei-Faktor-Authentifizierung verlangen",
        ],
    );
}
