//! Profile: the username (shown, never editable), the display name, the primary address
//! (edited behind a pencil, pending until its link is opened), the password-recovery
//! address, the avatar and the language.

use askama::Template;
use axum::Router;
use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use account_core::domain::{DisplayName, EmailAddress, Language};
use account_core::model::{AccountSource, ProfileChange};
use account_core::{Error, FieldAccess, RequestInfo};

use super::form::{Posted, SET_UP, SettingsPage};
use super::{Ctx, Notice, Page, Ui, Viewer, avatar_url, initials, render};
use crate::extract::ClientInfo;

pub(crate) fn routes(prefix: &str) -> Router<Ui> {
    Router::new()
        .route(&format!("{prefix}/profile"), get(profile_page).post(update))
        .route(&format!("{prefix}/profile/language"), post(language))
        .route(&format!("{prefix}/profile/email"), post(change_email))
        .route(
            &format!("{prefix}/profile/recovery-email"),
            post(recovery_email),
        )
        .route(&format!("{prefix}/profile/avatar"), post(upload_avatar))
        .route(
            &format!("{prefix}/profile/avatar/remove"),
            post(remove_avatar),
        )
}

/// A language in the selector.
struct LanguageOption {
    tag: &'static str,
    name: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "ui/profile.html")]
struct ProfilePage {
    p: Page,
    username: String,
    display_name: String,
    email: String,
    email_verified: bool,
    recovery_email: String,
    recovery_is_primary: bool,
    avatar: Option<String>,
    initials: String,
    languages: Vec<LanguageOption>,
    /// Why the display name cannot be changed here, if it cannot.
    name_locked: Option<&'static str>,
    /// Why the addresses cannot be changed here, if they cannot.
    email_locked: Option<&'static str>,
    directory: Option<String>,
}

fn reason(access: FieldAccess) -> Option<&'static str> {
    match access {
        FieldAccess::Editable => None,
        FieldAccess::ManagedByDirectory => Some("profile.managed_by_directory"),
        _ => Some("profile.locked"),
    }
}

async fn profile_page(ctx: Ctx, viewer: Viewer) -> Response {
    show(&ctx, &viewer, None, StatusCode::OK).await
}

async fn show(ctx: &Ctx, viewer: &Viewer, notice: Option<Notice>, status: StatusCode) -> Response {
    if viewer.signed_in().is_none() {
        return ctx.see_other(SET_UP);
    }
    let fields = match ctx.accounts().editable_fields(&viewer.account).await {
        Ok(fields) => fields,
        Err(e) => return ctx.error_page(Some(viewer), e),
    };
    let account = &viewer.account;
    let page = ctx.page(Some(viewer), "profile.title").with_notice(notice);
    let current = page.t.tag();
    render(
        status,
        &ProfilePage {
            username: account.username.as_str().to_owned(),
            display_name: account.display_name.as_str().to_owned(),
            email: account.email.as_str().to_owned(),
            email_verified: account.email_verified,
            recovery_email: account
                .recovery_email
                .as_ref()
                .unwrap_or(&account.email)
                .as_str()
                .to_owned(),
            recovery_is_primary: account.recovery_email.is_none(),
            avatar: avatar_url(account, &ctx.api),
            initials: initials(account.display_name.as_str()),
            languages: page
                .t
                .languages()
                .map(|lang| LanguageOption {
                    tag: lang.tag(),
                    name: lang.native_name(),
                    selected: lang.tag() == current,
                })
                .collect(),
            name_locked: reason(fields.display_name),
            email_locked: reason(fields.email),
            directory: match &account.source {
                AccountSource::External { directory } => Some(directory.clone()),
                _ => None,
            },
            p: page,
        },
    )
}

impl SettingsPage for ProfilePage {
    async fn refused(ctx: &Ctx, viewer: &Viewer, form_id: &'static str, error: Error) -> Response {
        let (status, notice) = super::refusal(ctx.tr(Some(viewer)), form_id, error);
        show(ctx, viewer, Some(notice), status).await
    }
}

/// Saves a change of the profile; then the page again, at the section `anchor`, with the
/// notice `done.<key>`.
async fn save(
    ctx: &Ctx,
    viewer: &Viewer,
    info: &RequestInfo,
    change: ProfileChange,
    key: &str,
    anchor: &str,
) -> Result<Response, Error> {
    ctx.accounts()
        .update_profile(viewer.account.id, change, info)
        .await?;
    Ok(ctx.done("/profile", key, anchor))
}

async fn update(Posted(ctx, viewer, info, form): Posted) -> Response {
    ProfilePage::answer(&ctx, &viewer, "name", async |_| {
        let display_name = DisplayName::parse(form.text("display_name"))?;
        if display_name == viewer.account.display_name {
            return Ok(ctx.done("/profile", "nothing_changed", "name"));
        }
        let change = ProfileChange {
            display_name: Some(display_name),
            language: None,
        };
        save(&ctx, &viewer, &info, change, "profile_saved", "name").await
    })
    .await
}

/// The language selector: the pages switch to it at once (the redirect renders in it).
async fn language(Posted(ctx, viewer, info, form): Posted) -> Response {
    ProfilePage::answer(&ctx, &viewer, "language", async |_| {
        let language = form.optional("language").map(Language::parse).transpose()?;
        let change = ProfileChange {
            display_name: None,
            language: Some(language),
        };
        save(&ctx, &viewer, &info, change, "language_saved", "language").await
    })
    .await
}

async fn change_email(Posted(ctx, viewer, info, form): Posted) -> Response {
    let email = match EmailAddress::parse(form.text("email")) {
        Ok(email) => email,
        Err(e) => return ProfilePage::refused(&ctx, &viewer, "email", e.into()).await,
    };
    ProfilePage::act(&ctx, &viewer, &info, &form, "email", async |session| {
        ctx.accounts()
            .request_email_change(session, email, &info)
            .await?;
        Ok(ctx.done("/profile", "email_pending", "email"))
    })
    .await
}

async fn recovery_email(Posted(ctx, viewer, info, form): Posted) -> Response {
    // An empty address, or the primary one, means "use the primary address".
    let email = match form.optional("email").map(EmailAddress::parse).transpose() {
        Ok(email) => email.filter(|email| *email != viewer.account.email),
        Err(e) => return ProfilePage::refused(&ctx, &viewer, "recovery", e.into()).await,
    };
    let done = if email.is_some() {
        "recovery_pending"
    } else {
        "recovery_primary"
    };
    ProfilePage::act(&ctx, &viewer, &info, &form, "recovery", async |session| {
        ctx.accounts()
            .set_recovery_email(session, email, &info)
            .await?;
        Ok(ctx.done("/profile", done, "recovery"))
    })
    .await
}

/// The file in the form's field `avatar`, if it sent one that is not empty.
async fn avatar_upload(mut multipart: Multipart) -> Option<Vec<u8>> {
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("avatar") => {
                let bytes = field.bytes().await.ok()?;
                return (!bytes.is_empty()).then(|| bytes.to_vec());
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
}

async fn upload_avatar(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    multipart: Multipart,
) -> Response {
    ProfilePage::answer(&ctx, &viewer, "avatar", async |_| {
        let Some(upload) = avatar_upload(multipart).await else {
            let t = ctx.tr(Some(&viewer));
            let notice = Notice::message(t, "avatar", "profile.avatar_missing", true);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(show(&ctx, &viewer, Some(notice), status).await);
        };
        ctx.accounts()
            .set_avatar(viewer.account.id, upload, &info)
            .await?;
        Ok(ctx.done("/profile", "avatar_saved", "avatar"))
    })
    .await
}

async fn remove_avatar(ctx: Ctx, viewer: Viewer, ClientInfo(info): ClientInfo) -> Response {
    ProfilePage::answer(&ctx, &viewer, "avatar", async |_| {
        ctx.accounts()
            .remove_avatar(viewer.account.id, &info)
            .await?;
        Ok(ctx.done("/profile", "avatar_removed", "avatar"))
    })
    .await
}
