//! Security: the password, passkeys, two-factor authentication (an authenticator app and
//! recovery codes), the sessions, the security log, exporting the data and deleting the
//! account.
//!
//! A session the "require 2FA" policy restricts to enrolling a second factor lands here
//! (the other pages send it here) and sees only the passkeys and the two-factor set-up.
//! Secrets (the TOTP secret, recovery codes) appear only in the answer of the action that
//! made them, never after a redirect.

use std::str::FromStr;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use account_core::domain::Password;
use account_core::model::{EventCursor, EventFilter, EventPage, PasskeyId, SessionId};
use account_core::{EnrollingSession, Error, RequestInfo, SessionView};

use super::form::{Posted, Reauthentication, SettingsPage, reauthenticate};
use super::view::{EventRow, When, device_summary};
use super::{Ctx, Notice, Page, PageForm, Tr, Ui, Viewer, render, with_cookie};
use crate::error::ApiError;
use crate::views::{decode_cursor, encode_cursor};

/// How many events one page of the security log shows.
const LOG_PAGE: u32 = 20;

pub(crate) fn routes(prefix: &str) -> Router<Ui> {
    let at = |path: &str| format!("{prefix}/security{path}");
    Router::new()
        .route(&at(""), get(security_page))
        .route(&at("/password"), post(change_password))
        .route(&at("/passkeys"), post(passkey_needs_js))
        .route(&at("/passkeys/confirm"), post(confirm_identity))
        .route(&at("/passkeys/{id}/rename"), post(rename_passkey))
        .route(&at("/passkeys/{id}/delete"), post(delete_passkey))
        .route(&at("/totp/start"), post(totp_start))
        .route(&at("/totp/confirm"), post(totp_confirm))
        .route(&at("/totp/disable"), post(totp_disable))
        .route(&at("/recovery-codes"), post(regenerate_codes))
        .route(&at("/sessions/{id}/close"), post(close_session))
        .route(&at("/sessions/close-others"), post(close_other_sessions))
        .route(&at("/delete"), post(delete_account))
}

struct PasskeyRow {
    id: String,
    name: String,
    created: When,
    last_used: Option<When>,
    /// Whether the authenticator may sync it to the user's other devices (a multi-device
    /// credential), rather than keep it on this one.
    synced: bool,
}

struct SessionRow {
    id: String,
    current: bool,
    /// Browser and system in a few words, to name the session in its button.
    summary: String,
    browser: String,
    os: String,
    device: String,
    ip: String,
    engine: String,
    cpu_arch: String,
    created: When,
    last_active: When,
    expires: When,
    last_authenticated: Option<When>,
}

#[derive(Template)]
#[template(path = "ui/security.html")]
struct SecurityPage {
    p: Page,
    /// A full session: every section. Else (enrolment only) the second factors alone.
    full: bool,
    /// Whether the session authenticated recently enough to add a factor.
    fresh: bool,
    /// The password is the external directory's and cannot be changed here.
    password_managed: bool,
    passkeys: Vec<PasskeyRow>,
    totp: bool,
    /// Whether the account has a second factor that recovery codes back up.
    any_factor: bool,
    codes_left: String,
    /// A TOTP set-up waits for its code (a wrong one was just refused).
    confirming: bool,
    sessions: Vec<SessionRow>,
    events: Vec<EventRow>,
    /// The link to the next, older page of the log.
    log_older: Option<String>,
    /// On an older page, the link back to the newest.
    log_newest: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/security_totp.html")]
struct TotpSetupPage {
    p: Page,
    qr_png: String,
    otpauth_uri: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "ui/security_codes.html")]
struct RecoveryCodesPage {
    p: Page,
    codes: Vec<String>,
    /// The codes as a `data:` URL for the download link.
    download: String,
}

/// What a rendering of the page adds to the stored state.
#[derive(Default)]
struct View {
    notice: Option<Notice>,
    status: StatusCode,
    confirming: bool,
    before: Option<EventCursor>,
}

impl View {
    fn refusal(t: Tr, form: &'static str, error: Error) -> View {
        let (status, notice) = super::refusal(t, form, error);
        View {
            notice: Some(notice),
            status,
            ..View::default()
        }
    }
}

async fn security_page(ctx: Ctx, viewer: Viewer, RawQuery(query): RawQuery) -> Response {
    let mut before = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "before" {
            match decode_cursor(&value) {
                Some(cursor) => before = Some(cursor),
                None => {
                    let error = ApiError::InvalidParameter { name: "before" };
                    return ctx.error_page(Some(&viewer), error);
                }
            }
        }
    }
    show(
        &ctx,
        &viewer,
        View {
            before,
            ..View::default()
        },
    )
    .await
}

async fn show(ctx: &Ctx, viewer: &Viewer, view: View) -> Response {
    match load(ctx, viewer, view).await {
        Ok(page) => render(page.0, &page.1),
        Err(e) => ctx.error_page(Some(viewer), e),
    }
}

impl SettingsPage for SecurityPage {
    async fn refused(ctx: &Ctx, viewer: &Viewer, form_id: &'static str, error: Error) -> Response {
        let view = View::refusal(ctx.tr(Some(viewer)), form_id, error);
        show(ctx, viewer, view).await
    }
}

async fn load(ctx: &Ctx, viewer: &Viewer, view: View) -> Result<(StatusCode, SecurityPage), Error> {
    let accounts = ctx.accounts();
    let account = &viewer.account;
    let page = ctx
        .page(Some(viewer), "security.title")
        .with_notice(view.notice);
    let t = page.t;
    let factors = accounts.second_factors(account.id).await?;
    let fresh = accounts.is_fresh(&viewer.session).await?;
    let passkeys = accounts
        .passkeys(account.id)
        .await?
        .into_iter()
        .map(|k| PasskeyRow {
            id: k.id.to_string(),
            created: When::of(k.created_at),
            last_used: k.last_used_at.map(When::of),
            synced: k.backup_eligible || k.backup_state,
            name: k.name,
        })
        .collect();
    let full = viewer.signed_in();
    let (mut sessions, mut events, mut older) = (Vec::new(), Vec::new(), None);
    if let Some(session) = full {
        let mut list = accounts.sessions(account.id, Some(session.id)).await?;
        // This one first, then the others newest first (the service's order).
        list.sort_by_key(|s| !s.current);
        sessions = list.into_iter().map(|s| session_row(t, s)).collect();
        let found = accounts
            .security_events(
                EventFilter::account(account.id),
                EventPage {
                    before: view.before,
                    limit: LOG_PAGE,
                },
            )
            .await?;
        if found.len() == LOG_PAGE as usize
            && let Some(last) = found.last()
        {
            older = Some(format!(
                "{}/security?before={}#log",
                ctx.base,
                encode_cursor(&last.cursor())
            ));
        }
        events = found.iter().map(|e| EventRow::of(t, e)).collect();
    }
    let codes_left = match factors.recovery_codes_left {
        1 => t.get("security.codes_left_one").to_owned(),
        n => t.fill("security.codes_left", &[("n", &n.to_string())]),
    };
    Ok((
        view.status,
        SecurityPage {
            full: full.is_some(),
            fresh,
            password_managed: account.source.is_external(),
            passkeys,
            totp: factors.totp,
            any_factor: factors.any(),
            codes_left,
            confirming: view.confirming,
            sessions,
            events,
            log_older: older,
            log_newest: view.before.map(|_| format!("{}/security#log", ctx.base)),
            p: page,
        },
    ))
}

/// A detail the service could not know, in the page's language.
fn or_unknown(t: Tr, value: Option<String>) -> String {
    value.unwrap_or_else(|| t.get("security.unknown").to_owned())
}

fn session_row(t: Tr, view: SessionView) -> SessionRow {
    let s = view.session;
    let expires = s.expires_at();
    let last_authenticated = s.last_authenticated_at();
    let device = s.device;
    let summary = device_summary(t, device.browser.as_deref(), device.os.as_deref());
    SessionRow {
        id: s.id.to_string(),
        current: view.current,
        summary,
        browser: or_unknown(t, device.browser),
        os: or_unknown(t, device.os),
        device: or_unknown(t, device.device),
        ip: or_unknown(t, s.ip.map(|ip| ip.to_string())),
        engine: or_unknown(t, device.engine),
        cpu_arch: or_unknown(t, device.cpu_arch),
        created: When::of(s.created_at),
        last_active: When::of(s.last_seen_at),
        expires: When::of(expires),
        last_authenticated: last_authenticated.map(When::of),
    }
}

/// `text` percent-encoded for a `data:` URL: everything but the unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The page that shows a new set of recovery codes, once.
fn codes_page(ctx: &Ctx, viewer: &Viewer, codes: &[String], done: &str) -> Response {
    let t = ctx.tr(Some(viewer));
    let page = ctx
        .page(Some(viewer), "security.title")
        .with_notice(Some(Notice::message(t, "", done, false)));
    let mut text = codes.join("\n");
    text.push('\n');
    render(
        StatusCode::OK,
        &RecoveryCodesPage {
            p: page,
            codes: codes.to_vec(),
            download: format!("data:text/plain;charset=utf-8,{}", percent_encode(&text)),
        },
    )
}

/// Runs an enrolment step that needs a fresh session: starting a TOTP set-up, or confirming
/// the identity before adding a passkey. The action gets the viewer on the session it runs
/// on. Refusals show next to the form `form_id`.
///
/// A full session goes through [`act`](super::form::act) and its re-authentication prompt. That prompt
/// takes only full sessions, so a session the "require 2FA" policy restricts to enrolling
/// sends its password with the form itself: the page adds a password field to these forms
/// when such a session is not fresh.
async fn act_enrolling(
    ctx: &Ctx,
    viewer: &Viewer,
    info: &RequestInfo,
    form: &PageForm,
    form_id: &'static str,
    action: impl AsyncFnOnce(&Viewer) -> Result<Response, Error>,
) -> Response {
    if viewer.signed_in().is_some() {
        return SecurityPage::act(ctx, viewer, info, form, form_id, async |session| {
            let on_session = Viewer {
                account: viewer.account.clone(),
                session: EnrollingSession::from(session.clone()),
            };
            action(&on_session).await
        })
        .await;
    }
    let (renewed, cookie) = match reauthenticate(ctx, viewer, info, form).await {
        Reauthentication::Unasked => (None, None),
        Reauthentication::Renewed(renewed, cookie) => (Some(renewed), Some(cookie)),
        Reauthentication::Refused(e) => {
            return SecurityPage::refused(ctx, viewer, form_id, e).await;
        }
        Reauthentication::Failed(response) => return response,
    };
    let viewer = renewed.as_deref().unwrap_or(viewer);
    let outcome = action(viewer).await;
    let response = SecurityPage::or_refused(ctx, viewer, form_id, outcome).await;
    with_cookie(cookie, response)
}

async fn change_password(Posted(ctx, viewer, info, form): Posted) -> Response {
    SecurityPage::answer(&ctx, &viewer, "password", async |session| {
        let current = Password::new(form.text("current_password"));
        let new = Password::new(form.text("new_password"));
        let signed_in = ctx
            .accounts()
            .change_password(session, &current, &new, &info)
            .await?;
        // Every other session ended and this one has a new token.
        let cookie = ctx
            .ui
            .state
            .session_cookie(&signed_in.session, &signed_in.token);
        Ok(with_cookie(
            Some(cookie),
            ctx.done("/security", "password_changed", "password"),
        ))
    })
    .await
}

/// The registration form's action without JavaScript: a passkey ceremony needs the script.
async fn passkey_needs_js(ctx: Ctx, viewer: Viewer) -> Response {
    let notice = Notice::message(ctx.tr(Some(&viewer)), "passkeys", "passkey.needs_js", true);
    show(
        &ctx,
        &viewer,
        View {
            notice: Some(notice),
            ..View::default()
        },
    )
    .await
}

/// Makes the session fresh before adding a passkey: the registration (through the API,
/// from the script) refuses a stale session, and the script cannot ask for the password.
/// This form goes through the re-authentication prompt and comes back to the passkeys.
async fn confirm_identity(Posted(ctx, viewer, info, form): Posted) -> Response {
    act_enrolling(&ctx, &viewer, &info, &form, "passkeys", async |viewer| {
        ctx.accounts().require_fresh(&viewer.session).await?;
        Ok(ctx.done("/security", "identity_confirmed", "passkeys"))
    })
    .await
}

/// The passkey or session an address names; an id that cannot be one names nothing.
fn named<T: FromStr>(id: &str) -> Result<T, Error> {
    id.parse().map_err(|_| Error::NotFound)
}

async fn rename_passkey(
    Path(id): Path<String>,
    Posted(ctx, viewer, info, form): Posted,
) -> Response {
    SecurityPage::answer(&ctx, &viewer, "passkeys", async |session| {
        let id = named::<PasskeyId>(&id)?;
        ctx.accounts()
            .rename_passkey(session, id, form.text("name"), &info)
            .await?;
        Ok(ctx.done("/security", "passkey_renamed", "passkeys"))
    })
    .await
}

async fn delete_passkey(
    Path(id): Path<String>,
    Posted(ctx, viewer, info, form): Posted,
) -> Response {
    let id = match named::<PasskeyId>(&id) {
        Ok(id) => id,
        Err(e) => return SecurityPage::refused(&ctx, &viewer, "passkeys", e).await,
    };
    SecurityPage::act(&ctx, &viewer, &info, &form, "passkeys", async |session| {
        ctx.accounts().delete_passkey(session, id, &info).await?;
        Ok(ctx.done("/security", "passkey_deleted", "passkeys"))
    })
    .await
}

/// Starts the TOTP set-up: the QR code and the secret, shown once, with the form for the
/// first code.
async fn totp_start(Posted(ctx, viewer, info, form): Posted) -> Response {
    act_enrolling(&ctx, &viewer, &info, &form, "two-factor", async |viewer| {
        let enrollment = ctx
            .accounts()
            .start_totp_enrollment(&viewer.session)
            .await?;
        Ok(render(
            StatusCode::OK,
            &TotpSetupPage {
                p: ctx.page(Some(viewer), "security.title"),
                qr_png: enrollment.qr_png.clone(),
                otpauth_uri: enrollment.otpauth_uri.clone(),
                secret: enrollment.secret.clone(),
            },
        ))
    })
    .await
}

/// Confirms the set-up with a code from the app: TOTP is on, and the recovery codes are
/// shown once. The session gets a new token (and, under the "require 2FA" policy, becomes a
/// full one).
async fn totp_confirm(Posted(ctx, viewer, info, form): Posted) -> Response {
    match ctx
        .accounts()
        .confirm_totp_enrollment(&viewer.session, form.text("code"), &info)
        .await
    {
        Ok(confirmed) => {
            let cookie = ctx
                .ui
                .state
                .session_cookie(&confirmed.session, &confirmed.token);
            let page = codes_page(
                &ctx,
                &viewer,
                confirmed.recovery_codes.expose(),
                "done.totp_enabled",
            );
            with_cookie(Some(cookie), page)
        }
        // The set-up is still pending: the page asks for another code.
        Err(e @ Error::InvalidSecondFactor) => {
            let mut view = View::refusal(ctx.tr(Some(&viewer)), "two-factor", e);
            view.confirming = true;
            show(&ctx, &viewer, view).await
        }
        Err(e) => SecurityPage::refused(&ctx, &viewer, "two-factor", e).await,
    }
}

async fn totp_disable(Posted(ctx, viewer, info, form): Posted) -> Response {
    SecurityPage::act(&ctx, &viewer, &info, &form, "two-factor", async |session| {
        ctx.accounts().disable_totp(session, &info).await?;
        Ok(ctx.done("/security", "totp_disabled", "two-factor"))
    })
    .await
}

async fn regenerate_codes(Posted(ctx, viewer, info, form): Posted) -> Response {
    SecurityPage::act(&ctx, &viewer, &info, &form, "two-factor", async |session| {
        let accounts = ctx.accounts();
        let codes = accounts.regenerate_recovery_codes(session, &info).await?;
        let done = "done.recovery_codes_regenerated";
        Ok(codes_page(&ctx, &viewer, codes.expose(), done))
    })
    .await
}

/// The answer that signs the browser out: the cookie cleared (and, as the API does,
/// `Clear-Site-Data`), then a page under the prefix.
fn signed_out(ctx: &Ctx, path: &str) -> Response {
    (
        ctx.ui.state.clear_session_cookie(),
        [(
            HeaderName::from_static("clear-site-data"),
            HeaderValue::from_static("\"cookies\""),
        )],
        ctx.see_other(path),
    )
        .into_response()
}

async fn close_session(
    Path(id): Path<String>,
    Posted(ctx, viewer, info, form): Posted,
) -> Response {
    let id = match named::<SessionId>(&id) {
        Ok(id) => id,
        Err(e) => return SecurityPage::refused(&ctx, &viewer, "sessions", e).await,
    };
    SecurityPage::act(&ctx, &viewer, &info, &form, "sessions", async |session| {
        ctx.accounts().revoke_session(session, id, &info).await?;
        // Closing this very session is logging out.
        if id == session.id {
            return Ok(signed_out(&ctx, "/login?done=logged_out"));
        }
        Ok(ctx.done("/security", "session_closed", "sessions"))
    })
    .await
}

async fn close_other_sessions(Posted(ctx, viewer, info, form): Posted) -> Response {
    SecurityPage::act(&ctx, &viewer, &info, &form, "sessions", async |session| {
        ctx.accounts().revoke_other_sessions(session, &info).await?;
        Ok(ctx.done("/security", "other_sessions_closed", "sessions"))
    })
    .await
}

async fn delete_account(Posted(ctx, viewer, info, form): Posted) -> Response {
    SecurityPage::act(&ctx, &viewer, &info, &form, "delete", async |session| {
        let username = form.text("confirm_username");
        ctx.accounts()
            .delete_own_account(session, username, &info)
            .await?;
        Ok(signed_out(&ctx, "/login?done=account_deleted"))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_text_is_percent_encoded() {
        assert_eq!(percent_encode("AB-12 x\n"), "AB-12%20x%0A");
        assert_eq!(percent_encode("ä#%"), "%C3%A4%23%25");
    }
}
