//! The profile page without JavaScript: display name, email change through the link,
//! recovery address, avatar, language, and the read-only fields of a locked profile.

use super::signin::signed_in;
use crate::support::{PASSWORD, png, token_of};

#[tokio::test]
async fn the_display_name_is_saved_and_a_refusal_names_the_rule() {
    let mut app = signed_in("ada").await;
    app.submit_and_follow("/account/profile", &[("display_name", "Ada Lovelace")])
        .await
        .page(
            200,
            &["Your profile was saved.", "value=\"Ada Lovelace\"", ">AL<"],
        );
    assert_eq!(
        app.account("ada").await.display_name.as_str(),
        "Ada Lovelace"
    );
    app.submit("/account/profile", &[("display_name", "   ")])
        .await
        .page(422, &["role=\"alert\"", "Display name: must not be empty."]);
    assert_eq!(
        app.account("ada").await.display_name.as_str(),
        "Ada Lovelace"
    );
}

#[tokio::test]
async fn the_email_changes_when_the_link_is_opened() {
    let mut app = signed_in("ada").await;
    app.submit_and_follow("/account/profile/email", &[("email", "ada@new.example")])
        .await
        .page(200, &["We sent a link to the new address."]);
    assert_eq!(app.account("ada").await.email.as_str(), "ada@example.com");
    let link = app.link_sent_to("ada@new.example", "verify_email").await;
    app.submit_and_follow("/account/verify-email", &[("token", &token_of(&link))])
        .await
        .page(200, &["Your email address is verified.", "ada@new.example"]);
    assert_eq!(app.account("ada").await.email.as_str(), "ada@new.example");
}

#[tokio::test]
async fn a_stale_session_is_asked_for_the_password_and_the_change_then_finishes() {
    let mut app = signed_in("ada").await;
    app.go_stale();
    let prompt = app
        .submit("/account/profile/email", &[("email", "ada@new.example")])
        .await;
    prompt.page(
        403,
        &[
            "Confirm your identity",
            "name=\"email\" value=\"ada@new.example\"",
            "reauth_password",
        ],
    );
    app.submit(
        "/account/profile/email",
        &[("email", "ada@new.example"), ("reauth_password", "wrong")],
    )
    .await
    .page(
        403,
        &["The username, email address or password is not right."],
    );
    let before = app.cookie.clone();
    app.submit_and_follow(
        "/account/profile/email",
        &[("email", "ada@new.example"), ("reauth_password", PASSWORD)],
    )
    .await
    .page(200, &["We sent a link to the new address."]);
    assert_ne!(
        app.cookie, before,
        "re-authentication rotates the session cookie"
    );
    app.link_sent_to("ada@new.example", "verify_email").await;
}

#[tokio::test]
async fn the_recovery_address_defaults_to_the_primary_one() {
    let mut app = signed_in("ada").await;
    app.get("/account/profile")
        .await
        .page(200, &["(your primary email address)"]);
    app.submit_and_follow(
        "/account/profile/recovery-email",
        &[("email", "ada@backup.example")],
    )
    .await
    .page(200, &["We sent a link to the recovery address."]);
    app.submit_and_follow("/account/profile/recovery-email", &[("email", "")])
        .await
        .page(
            200,
            &["Password recovery now uses your primary email address."],
        );
}

#[tokio::test]
async fn the_avatar_is_uploaded_as_a_form_file_and_removed() {
    let mut app = signed_in("ada").await;
    let boundary = "XBOUNDARYX";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend(png(64, 64));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let request = crate::support::with(
        crate::support::raw(
            axum::http::Method::POST,
            "/account/profile/avatar",
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        ),
        "sec-fetch-site",
        "same-origin",
    );
    let reply = app.send(request).await;
    let page = app.follow(reply).await;
    page.page(200, &["Your avatar was updated.", "/avatar?v="]);
    assert!(app.account("ada").await.avatar_updated_at.is_some());
    app.submit_and_follow("/account/profile/avatar/remove", &[])
        .await
        .page(200, &["Your avatar was removed."]);
    assert!(app.account("ada").await.avatar_updated_at.is_none());
}

#[tokio::test]
async fn choosing_german_switches_the_pages_at_once() {
    let mut app = signed_in("ada").await;
    app.submit_and_follow("/account/profile/language", &[("language", "de")])
        .await
        .page(
            200,
            &[
                "lang=\"de\"",
                "Ihre Sprache wurde gespeichert.",
                "Kontoeinstellungen",
            ],
        );
}

#[tokio::test]
async fn a_locked_profile_shows_its_fields_read_only_with_the_reason() {
    let mut app = signed_in("ada").await;
    app.set_policy(|p| p.lock_profiles = true).await;
    let page = app.get("/account/profile").await;
    let html = page.page(200, &["Your administrator has locked profiles"]);
    assert!(!html.contains("name=\"display_name\""));
    app.submit("/account/profile", &[("display_name", "Someone Else")])
        .await
        .page(403, &["Your administrator has locked profiles."]);
}
