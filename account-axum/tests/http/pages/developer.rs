//! The developer settings without JavaScript: personal API tokens (shown once, working as
//! `Authorization: Bearer`, regenerated, deleted, refused, behind a re-authentication when
//! the session is stale), app passwords, SSH keys, and the API documentation page.

use account_core::model::{ApiTokenRecord, SshKeyRecord};
use axum::http::Method;

use super::signin::signed_in;
use crate::support::{PASSWORD, Reply, TestApp, empty, with};

/// A fixed Ed25519 key line and its fingerprint (the known-answer vectors of
/// `account_core::ssh_key`).
const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMROdKbP6qcd/dttCqs8TuOwfc7tC/Otdk4q/eyP5n84 vec-ed25519";
const ED25519_FINGERPRINT: &str = "SHA256:Wqqa2HlfGas9Bxg8NHvhdio9M58jg/DUklhxAypGetQ";
/// A 1024-bit RSA key: too weak.
const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCh1eb8RXDynFtrms5Ie5+1WBUpsZkVWQ4OAT88J9mUIHH5HMaBU22XNmJJ2gnl6E03/FYDOX+bkfrH2QTJK9Hfrgf4xR/4Vl4/02d9IQ4UtAdPW+HejXXLhRIZ3deVDklUcJ2ww/N+c8UdJf/debBI1hmSR7MmxR1l29ipOJRbVQ== vec-rsa1024";

const PAGE: &str = "/account/developer";
const TOKENS: &str = "/account/developer/tokens";
const APP_PASSWORDS: &str = "/account/developer/app-passwords";
const SSH_KEYS: &str = "/account/developer/ssh-keys";

const ONCE: &str = "Copy this token now. You will not be able to see it again.";
const REGENERATE_WARNING: &str = "Generating a new API key will replace the existing API key. API calls made with the old API key will fail.";

/// The text of the element with this id (a secret shown once), as the page has it.
#[track_caller]
fn secret_in(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("the page has no #{id}: {html}"));
    let rest = &html[start..];
    let rest = &rest[rest.find('>').expect("the tag ends") + 1..];
    rest[..rest.find('<').expect("the element ends")].to_owned()
}

/// `GET /api/account` with this token and no cookie.
async fn account_with_token(app: &mut TestApp, token: &str) -> Reply {
    let cookie = app.cookie.take();
    let request = with(
        empty(Method::GET, "/api/account"),
        "authorization",
        &format!("Bearer {token}"),
    );
    let reply = app.send(request).await;
    app.cookie = cookie;
    reply
}

/// The developer page as it is now, which has these texts.
async fn developer_page(app: &mut TestApp, texts: &[&str]) -> String {
    app.get(PAGE).await.page(200, texts).to_owned()
}

/// Ada's tokens as they are stored.
async fn tokens(app: &TestApp) -> Vec<ApiTokenRecord> {
    let id = app.account("ada").await.id;
    app.accounts.api_tokens(id).await.expect("tokens")
}

/// Ada's SSH keys as they are stored.
async fn ssh_keys(app: &TestApp) -> Vec<SshKeyRecord> {
    let id = app.account("ada").await.id;
    app.accounts.ssh_keys(id).await.expect("keys")
}

/// Creates a token through the page; answers the token.
async fn create_token(app: &mut TestApp, name: &str, scope: &str) -> String {
    let fields = [
        ("name", name),
        ("scope", scope),
        ("allowed_networks", ""),
        ("expires", ""),
    ];
    let reply = app.submit(TOKENS, &fields).await;
    secret_in(
        reply.page(201, &[ONCE, "data-copy=\"new-token\""]),
        "new-token",
    )
}

/// Posts `fields` to `path` with a stale session: the answer is the prompt to confirm the
/// identity, which keeps the form (`kept`).
async fn asks_for_the_password(
    app: &mut TestApp,
    path: &str,
    fields: &[(&str, &str)],
    kept: &[&str],
) {
    let texts = [&["Confirm your identity", "reauth_password"], kept].concat();
    app.submit(path, fields).await.page(403, &texts);
}

/// Posts `fields` to `path` again with this answer to the password prompt.
async fn with_password(
    app: &mut TestApp,
    path: &str,
    fields: &[(&str, &str)],
    password: &str,
) -> Reply {
    let answer = [fields, &[("reauth_password", password)]].concat();
    app.submit(path, &answer).await
}

#[tokio::test]
async fn a_visitor_is_sent_to_the_login() {
    let mut app = TestApp::unlimited();
    app.get("/account/developer")
        .await
        .redirects_to("/account/login?next=");
}

#[tokio::test]
async fn a_new_token_is_shown_once_and_works_as_a_bearer_token() {
    let mut app = signed_in("ada").await;
    developer_page(
        &mut app,
        &[
            "Personal API tokens let scripts and other programs use the API as you.",
            "href=\"/account/api-docs\"",
            "You can find all necessary information about this functionality in our API documentation",
            "Generate new API Key",
            "You have no API tokens yet.",
            "aria-current=\"page\"",
        ],
    )
    .await;
    let token = create_token(&mut app, "deploy script", "read").await;
    assert!(token.starts_with("acct_"), "{token}");

    let reply = account_with_token(&mut app, &token).await;
    assert_eq!(reply.ok(200)["username"], "ada");

    let last_four = &token[token.len() - 4..];
    let html = developer_page(
        &mut app,
        &[
            "deploy script",
            "Read only",
            "Any network",
            &format!("Ends in …{last_four}"),
            "from 198.51.100.1",
            REGENERATE_WARNING,
        ],
    )
    .await;
    assert!(!html.contains(&token), "the token is shown once only");
    assert!(!html.contains(ONCE));
}

#[tokio::test]
async fn a_token_with_networks_and_an_expiry_keeps_them() {
    let mut app = signed_in("ada").await;
    let fields = [
        ("name", "ci"),
        ("scope", "write"),
        (
            "allowed_networks",
            "10.0.0.5/24\r\n2001:db8::/48, 198.51.100.0/24",
        ),
        ("expires", "2026-03-31"),
    ];
    app.submit(TOKENS, &fields).await.page(
        201,
        &[
            ONCE,
            "Read and write",
            "<code>10.0.0.0/24</code>",
            "2026-03-31 23:59 UTC",
        ],
    );
    let tokens = tokens(&app).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].scope.as_str(), "write");
    assert_eq!(tokens[0].allowed_networks.len(), 3);
    assert_eq!(
        tokens[0].expires_at.map(|at| at.to_rfc3339()).as_deref(),
        Some("2026-03-31T23:59:59+00:00")
    );
}

#[tokio::test]
async fn a_refused_token_is_explained_next_to_the_form_and_nothing_is_made() {
    let mut app = signed_in("ada").await;
    let fields = [
        ("name", "  "),
        ("scope", "write"),
        ("allowed_networks", "10.0.0.0/8"),
        ("expires", ""),
    ];
    let reply = app.submit(TOKENS, &fields).await;
    let html = reply.page(
        422,
        &[
            "role=\"alert\"",
            "id=\"token-new-notice\"",
            "Name: must not be empty.",
            ">10.0.0.0/8</textarea>",
        ],
    );
    assert!(
        html.contains("value=\"write\" checked"),
        "the scope is kept"
    );

    app.submit(
        TOKENS,
        &[
            ("name", "ci"),
            ("scope", "read"),
            ("allowed_networks", "10.0.0.0/8\nthe office"),
        ],
    )
    .await
    .page(
        422,
        &[
            "Allowed networks: is not written correctly.",
            "value=\"ci\"",
        ],
    );

    app.submit(
        TOKENS,
        &[("name", "ci"), ("scope", "read"), ("expires", "2025-12-31")],
    )
    .await
    .page(422, &["Expiry date: must be in the future."]);

    app.submit(TOKENS, &[("name", "ci"), ("scope", "admin")])
        .await
        .page(422, &["Choose “Read only” or “Read and write”."]);

    assert!(tokens(&app).await.is_empty());
}

#[tokio::test]
async fn regenerating_a_token_replaces_it() {
    let mut app = signed_in("ada").await;
    let old = create_token(&mut app, "deploy", "read").await;
    let id = tokens(&app).await[0].id;
    developer_page(
        &mut app,
        &[&format!(
            "action=\"{TOKENS}/{id}/regenerate\" data-confirm=\"{REGENERATE_WARNING}\""
        )],
    )
    .await;

    let reply = app.submit(&format!("{TOKENS}/{id}/regenerate"), &[]).await;
    let html = reply.page(
        200,
        &[
            "The API token “deploy” has a new key.",
            ONCE,
            "data-copy=\"new-token\"",
        ],
    );
    let new = secret_in(html, "new-token");
    assert_ne!(new, old);
    account_with_token(&mut app, &old)
        .await
        .problem(401, "unauthenticated");
    account_with_token(&mut app, &new).await.ok(200);
    assert_eq!(tokens(&app).await.len(), 1);
}

#[tokio::test]
async fn deleting_a_token_stops_it_at_once() {
    let mut app = signed_in("ada").await;
    let token = create_token(&mut app, "deploy", "read").await;
    let id = tokens(&app).await[0].id;
    let delete = format!("{TOKENS}/{id}/delete");
    app.submit_and_follow(&delete, &[]).await.page(
        200,
        &["The API token was deleted.", "You have no API tokens yet."],
    );
    account_with_token(&mut app, &token)
        .await
        .problem(401, "unauthenticated");
    app.submit(&delete, &[])
        .await
        .page(404, &["id=\"tokens-notice\"", "It no longer exists."]);
    app.submit(&format!("{TOKENS}/not-an-id/delete"), &[])
        .await
        .page(404, &["It no longer exists."]);
}

#[tokio::test]
async fn a_stale_session_confirms_the_password_and_then_the_token_is_made() {
    let mut app = signed_in("ada").await;
    app.go_stale();
    let fields = [
        ("name", "deploy"),
        ("scope", "write"),
        ("allowed_networks", "198.51.100.0/24"),
        ("expires", ""),
    ];
    let kept = [
        "action=\"/account/developer/tokens\"",
        "name=\"name\" value=\"deploy\"",
        "name=\"scope\" value=\"write\"",
    ];
    asks_for_the_password(&mut app, TOKENS, &fields, &kept).await;
    assert!(tokens(&app).await.is_empty());

    with_password(&mut app, TOKENS, &fields, "wrong")
        .await
        .page(
            403,
            &["The username, email address or password is not right."],
        );
    assert!(tokens(&app).await.is_empty());

    let reply = with_password(&mut app, TOKENS, &fields, PASSWORD).await;
    let token = secret_in(reply.page(201, &[ONCE, "Read and write"]), "new-token");
    account_with_token(&mut app, &token).await.ok(200);
    // The re-authenticated session is the cookie the browser keeps: the page works on.
    developer_page(&mut app, &["deploy"]).await;
}

#[tokio::test]
async fn app_passwords_are_shown_once_listed_and_deleted() {
    let mut app = signed_in("ada").await;
    developer_page(
        &mut app,
        &[
            "mail, calendar and git clients that cannot use passkeys or two-factor",
            "You have no app passwords yet.",
        ],
    )
    .await;
    app.submit(APP_PASSWORDS, &[("name", "")]).await.page(
        422,
        &["id=\"app-password-new-notice\"", "Name: must not be empty."],
    );

    let reply = app
        .submit(APP_PASSWORDS, &[("name", "Mail on my laptop")])
        .await;
    let html = reply.page(
        201,
        &[
            "Your app password “Mail on my laptop” was created.",
            "Copy this password now. You will not be able to see it again.",
            "data-copy=\"new-app-password\"",
            "with your username ada",
        ],
    );
    let password = secret_in(html, "new-app-password");
    let login = app
        .accounts
        .authenticate_app_password("ada", &password)
        .await
        .expect("the app password works");
    assert_eq!(login.app_password.name, "Mail on my laptop");

    let html = developer_page(
        &mut app,
        &["Mail on my laptop", "Last used", "2026-01-01 00:00 UTC"],
    )
    .await;
    assert!(!html.contains(&password), "the password is shown once only");

    let id = login.app_password.id;
    app.submit_and_follow(&format!("{APP_PASSWORDS}/{id}/delete"), &[])
        .await
        .page(
            200,
            &[
                "The app password was deleted.",
                "You have no app passwords yet.",
            ],
        );
    assert!(
        app.accounts
            .authenticate_app_password("ada", &password)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_app_password_after_a_stale_session_needs_the_password() {
    let mut app = signed_in("ada").await;
    app.go_stale();
    let fields = [("name", "Mail")];
    let kept = ["name=\"name\" value=\"Mail\""];
    asks_for_the_password(&mut app, APP_PASSWORDS, &fields, &kept).await;
    let reply = with_password(&mut app, APP_PASSWORDS, &fields, PASSWORD).await;
    let password = secret_in(
        reply.page(201, &["Your app password “Mail” was created."]),
        "new-app-password",
    );
    assert!(!password.is_empty());
}

#[tokio::test]
async fn ssh_keys_are_added_listed_refused_and_deleted() {
    let mut app = signed_in("ada").await;
    developer_page(
        &mut app,
        &[
            "Begins with ssh-ed25519, ecdsa-sha2-nistp256",
            "You have no SSH keys yet.",
        ],
    )
    .await;
    app.submit(
        SSH_KEYS,
        &[("name", "laptop"), ("public_key", "ssh-ed25519 AAAA")],
    )
    .await
    .page(
        422,
        &[
            "id=\"ssh-key-new-notice\"",
            "This is not an SSH public key we can use. It is not a valid OpenSSH public key.",
            ">ssh-ed25519 AAAA</textarea>",
        ],
    );
    app.submit(SSH_KEYS, &[("name", "old"), ("public_key", RSA_1024)])
        .await
        .page(422, &["RSA keys must have at least 2048 bits."]);
    app.submit(SSH_KEYS, &[("name", ""), ("public_key", ED25519)])
        .await
        .page(422, &["Name: must not be empty."]);
    assert!(ssh_keys(&app).await.is_empty());

    let key_line = format!("{ED25519}\r\n");
    app.submit_and_follow(SSH_KEYS, &[("name", "laptop"), ("public_key", &key_line)])
        .await
        .page(
            200,
            &[
                "Your SSH key was added.",
                "laptop",
                "ssh-ed25519 (256 bits)",
                ED25519_FINGERPRINT,
                "vec-ed25519",
            ],
        );
    let keys = ssh_keys(&app).await;
    assert_eq!(keys.len(), 1);

    app.submit_and_follow(&format!("{SSH_KEYS}/{}/delete", keys[0].id), &[])
        .await
        .page(
            200,
            &["The SSH key was deleted.", "You have no SSH keys yet."],
        );
    assert!(ssh_keys(&app).await.is_empty());
}

#[tokio::test]
async fn the_api_documentation_describes_every_operation_and_how_to_authenticate() {
    let mut app = TestApp::unlimited();
    let page = app.get("/account/api-docs").await;
    let html = page.page(
        200,
        &[
            "<h1>API documentation</h1>",
            "/api/account/tokens",
            "Authorization: Bearer",
            "Session cookie",
            "href=\"/api/openapi.json\"",
            "id=\"tag-access\"",
            "href=\"#op-create_token\"",
            "id=\"schema-NewApiTokenRequest\"",
            "<code>allowed_networks</code>",
            "Personal API token with the write scope",
            "Not with a personal API token",
            "None: anyone may call it.",
            "<code>validation_failed</code>",
        ],
    );
    assert!(
        !html.contains("class=\"settings-nav\""),
        "no settings for a visitor"
    );
    assert!(!html.contains("<script>"), "no inline script");

    let mut app = signed_in("ada").await;
    app.get("/account/api-docs")
        .await
        .page(200, &["class=\"settings-nav\"", "/api/account/ssh-keys"]);
}

#[tokio::test]
async fn the_api_documentation_is_in_german_for_a_german_browser() {
    let mut app = TestApp::unlimited();
    let request = with(
        empty(Method::GET, "/account/api-docs"),
        "accept-language",
        "de-DE,de;q=0.9,en;q=0.8",
    );
    app.send(request).await.page(
        200,
        &[
            "lang=\"de\"",
            "<h1>API-Dokumentation</h1>",
            "Authentifizierung",
            "Persönliches API-Token",
            "Bearer",
            "/api/account/tokens",
        ],
    );
}
