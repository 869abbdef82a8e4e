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
use account_core::{Error, FieldAccess};

use super::form::act;
use super::{Ctx, Lang, Notice, Page, PageForm, Ui, Viewer, avatar_url, initials, render};
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
        return ctx.see_other("/security#two-factor");
    }
    let fields = match ctx.accounts().editable_fields(&viewer.account).await {
        Ok(fields) => fields,
        Err(e) => return ctx.error_page(Some(viewer), e),
    };
    let account = &viewer.account;
    let page = ctx.page(Some(viewer), "profile.title").with_notice(notice);
    let current = page.t.lang();
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
            languages: Lang::ALL
                .iter()
                .map(|lang| LanguageOption {
                    tag: lang.tag(),
                    name: lang.native_name(),
                    selected: *lang == current,
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

/// Shows the page again with a refusal next to `form`, as the API's status.
async fn refused(ctx: &Ctx, viewer: &Viewer, form: &'static str, error: Error) -> Response {
    let (status, notice) = super::refusal(ctx.tr(Some(viewer)), form, error);
    show(ctx, viewer, Some(notice), status).await
}

async fn update(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    if viewer.signed_in().is_none() {
        return ctx.see_other("/security#two-factor");
    }
    let display_name = match DisplayName::parse(form.text("display_name")) {
        Ok(name) => name,
        Err(e) => return refused(&ctx, &viewer, "name", e.into()).await,
    };
    if display_name == viewer.account.display_name {
        return ctx.done("/profile", "nothing_changed", "name");
    }
    let change = ProfileChange {
        display_name: Some(display_name),
        language: None,
    };
    match ctx
        .accounts()
        .update_profile(viewer.account.id, change, &info)
        .await
    {
        Ok(_) => ctx.done("/profile", "profile_saved", "name"),
        Err(e) => refused(&ctx, &viewer, "name", e).await,
    }
}

/// The language selector: the pages switch to it at once (the redirect renders in it).
async fn language(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    if viewer.signed_in().is_none() {
        return ctx.see_other("/security#two-factor");
    }
    let language = match form.optional("language") {
        Some(tag) => match Language::parse(tag) {
            Ok(language) => Some(language),
            Err(e) => return refused(&ctx, &viewer, "language", e.into()).await,
        },
        None => None,
    };
    let change = ProfileChange {
        display_name: None,
        language: Some(language),
    };
    match ctx
        .accounts()
        .update_profile(viewer.account.id, change, &info)
        .await
    {
        Ok(_) => ctx.done("/profile", "language_saved", "language"),
        Err(e) => refused(&ctx, &viewer, "language", e).await,
    }
}

async fn change_email(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    let email = match EmailAddress::parse(form.text("email")) {
        Ok(email) => email,
        Err(e) => return refused(&ctx, &viewer, "email", e.into()).await,
    };
    let outcome = act(&ctx, &viewer, &info, &form, async |session| {
        ctx.accounts()
            .request_email_change(session, email, &info)
            .await?;
        Ok(ctx.done("/profile", "email_pending", "email"))
    })
    .await;
    match outcome {
        Ok(response) => response,
        Err(e) => refused(&ctx, &viewer, "email", e).await,
    }
}

async fn recovery_email(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    // An empty address, or the primary one, means "use the primary address".
    let email = match form.optional("email") {
        None => None,
        Some(text) => match EmailAddress::parse(text) {
            Ok(email) if email == viewer.account.email => None,
            Ok(email) => Some(email),
            Err(e) => return refused(&ctx, &viewer, "recovery", e.into()).await,
        },
    };
    let done = if email.is_some() {
        "recovery_pending"
    } else {
        "recovery_primary"
    };
    let outcome = act(&ctx, &viewer, &info, &form, async |session| {
        ctx.accounts()
            .set_recovery_email(session, email, &info)
            .await?;
        Ok(ctx.done("/profile", done, "recovery"))
    })
    .await;
    match outcome {
        Ok(response) => response,
        Err(e) => refused(&ctx, &viewer, "recovery", e).await,
    }
}

async fn upload_avatar(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    mut multipart: Multipart,
) -> Response {
    if viewer.signed_in().is_none() {
        return ctx.see_other("/security#two-factor");
    }
    let mut upload = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("avatar") => match field.bytes().await {
                Ok(bytes) => {
                    upload = Some(bytes.to_vec());
                    break;
                }
                Err(_) => break,
            },
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let Some(upload) = upload.filter(|bytes| !bytes.is_empty()) else {
        let t = ctx.tr(Some(&viewer));
        let notice = Notice::message(t, "avatar", "profile.avatar_missing", true);
        return show(
            &ctx,
            &viewer,
            Some(notice),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match ctx
        .accounts()
        .set_avatar(viewer.account.id, upload, &info)
        .await
    {
        Ok(_) => ctx.done("/profile", "avatar_saved", "avatar"),
        Err(e) => refused(&ctx, &viewer, "avatar", e).await,
    }
}

async fn remove_avatar(ctx: Ctx, viewer: Viewer, ClientInfo(info): ClientInfo) -> Response {
    if viewer.signed_in().is_none() {
        return ctx.see_other("/security#two-factor");
    }
    match ctx.accounts().remove_avatar(viewer.account.id, &info).await {
        Ok(_) => ctx.done("/profile", "avatar_removed", "avatar"),
        Err(e) => refused(&ctx, &viewer, "avatar", e).await,
    }
}
