//! The pages' forms: an `application/x-www-form-urlencoded` body read as name–value
//! pairs, and re-authentication folded into the action that asked for it.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use account_core::domain::Password;
use account_core::{Error, RequestInfo, SignedInSession};

use super::{Ctx, Notice, Page, Ui, Viewer, render, with_cookie};
use crate::cookie::SetSessionCookie;
use crate::extract::ClientInfo;

/// The fields a page's form posted, in order. A missing field reads as empty: each
/// service says what it needs, in the same words as for the API.
#[derive(Debug, Default)]
pub(crate) struct PageForm {
    fields: Vec<(String, String)>,
}

impl PageForm {
    /// The first value of `name`, or `""`.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// The first value of `name`, if the form has it.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` trimmed, or `None` when it is empty.
    pub(crate) fn optional(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The fields to carry through the re-authentication prompt: everything but the
    /// prompt's own answers and anything secret, which the person types again.
    fn carried(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter(|(k, _)| !k.starts_with("reauth_") && !k.contains("password"))
            .cloned()
            .collect()
    }
}

impl FromRequest<Ui> for PageForm {
    type Rejection = Response;

    async fn from_request(request: Request, ui: &Ui) -> Result<Self, Response> {
        let body = Bytes::from_request(request, ui)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .map_err(|_| (StatusCode::BAD_REQUEST, "the form could not be read").into_response())?;
        Ok(PageForm { fields })
    }
}

/// What the action of a signed-in viewer's form starts from, in the order it is read: the
/// request's context, the viewer (without one, the login page answers), where the request
/// came from, and the form's fields.
pub(crate) struct Posted(
    pub(crate) Ctx,
    pub(crate) Viewer,
    pub(crate) RequestInfo,
    pub(crate) PageForm,
);

impl FromRequest<Ui> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, ui: &Ui) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, ui).await;
        let viewer = Viewer::from_request_parts(&mut parts, ui)
            .await
            .map_err(IntoResponse::into_response)?;
        let Ok(ClientInfo(info)) = ClientInfo::from_request_parts(&mut parts, ui).await;
        let form = PageForm::from_request(Request::from_parts(parts, body), ui).await?;
        Ok(Posted(ctx, viewer, info, form))
    }
}

/// `text` percent-encoded for a query value.
pub(crate) fn encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// A `next` value that stays on this site: a path (not `//host`), else the default.
pub(crate) fn local_path<'a>(next: Option<&'a str>, default: &'a str) -> &'a str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => default,
    }
}

/// Where a session that may only enrol a second factor goes from every other action: the
/// set-up.
pub(crate) const SET_UP: &str = "/security#two-factor";

/// What the answer to a re-authentication that a form carries came to.
pub(crate) enum Reauthentication {
    /// The form carries no answer: the session stays as it is.
    Unasked,
    /// The session re-authenticated: the viewer on its new token (boxed: it is large), and
    /// the cookie that takes the token to the browser.
    Renewed(Box<Viewer>, SetSessionCookie),
    /// The answer was refused; nothing changed.
    Refused(Error),
    /// The token was rotated but the new session could not be read: the error page, with
    /// the cookie all the same, or the browser would keep a token that no longer works.
    Failed(Response),
}

/// Re-authenticates the viewer's session, full or enrolment-only, with the answer the form
/// carries: the password in `reauth_password`, or a code from the authenticator app in
/// `reauth_code`.
pub(crate) async fn reauthenticate(
    ctx: &Ctx,
    viewer: &Viewer,
    info: &RequestInfo,
    form: &PageForm,
) -> Reauthentication {
    let accounts = ctx.accounts();
    let answer = if let Some(password) = form.optional("reauth_password") {
        let password = Password::new(password);
        accounts
            .reauthenticate(&viewer.session, &password, info)
            .await
    } else if let Some(code) = form.optional("reauth_code") {
        accounts
            .reauthenticate_with_totp(&viewer.session, code, info)
            .await
    } else {
        return Reauthentication::Unasked;
    };
    let signed_in = match answer {
        Ok(signed_in) => signed_in,
        Err(e) => return Reauthentication::Refused(e),
    };
    let cookie = ctx
        .ui
        .state
        .session_cookie(&signed_in.session, &signed_in.token);
    match accounts
        .authenticate_enrolling(signed_in.token.expose())
        .await
    {
        Ok(session) => Reauthentication::Renewed(
            Box::new(Viewer {
                account: signed_in.account,
                session,
            }),
            cookie,
        ),
        Err(e) => {
            Reauthentication::Failed(with_cookie(Some(cookie), ctx.error_page(Some(viewer), e)))
        }
    }
}

/// Runs an action that may need a recent authentication, as the pages do it.
///
/// When the form carries the answer of a re-authentication prompt (`reauth_password` or
/// `reauth_code`), the session is re-authenticated first and the action runs on the new
/// one, whose cookie the answer sets. When the action is refused for want of a recent
/// authentication, the answer is the prompt itself: a form that posts the same fields
/// back here with the password or a code, so that the action finishes after it. A
/// session that may only enrol a second factor goes to the set-up instead.
///
/// Any other refusal is the action's error, for the page to show next to its form.
pub(crate) async fn act(
    ctx: &Ctx,
    viewer: &Viewer,
    info: &RequestInfo,
    form: &PageForm,
    action: impl AsyncFnOnce(&SignedInSession) -> Result<Response, Error>,
) -> Result<Response, Error> {
    if viewer.signed_in().is_none() {
        return Ok(ctx.see_other(SET_UP));
    }
    let (renewed, cookie) = match reauthenticate(ctx, viewer, info, form).await {
        Reauthentication::Unasked => (None, None),
        Reauthentication::Renewed(renewed, cookie) => (Some(renewed), Some(cookie)),
        Reauthentication::Refused(e @ (Error::InvalidCredentials | Error::InvalidSecondFactor)) => {
            let t = ctx.tr(Some(viewer));
            return Ok(prompt(ctx, viewer, form, Some(Notice::error(t, "reauth", e))).await);
        }
        Reauthentication::Refused(e) => return Err(e),
        Reauthentication::Failed(response) => return Ok(response),
    };
    // A full session stays one when it re-authenticates.
    let Some(session) = renewed.as_deref().unwrap_or(viewer).signed_in() else {
        return Ok(with_cookie(cookie, ctx.see_other(SET_UP)));
    };
    match action(session).await {
        Ok(response) => Ok(with_cookie(cookie, response)),
        Err(Error::ReauthenticationRequired) => {
            Ok(with_cookie(cookie, prompt(ctx, viewer, form, None).await))
        }
        Err(e) => {
            // The re-authentication happened: its cookie must reach the browser even when
            // the action is refused, or the browser keeps a token that no longer works.
            if let Some(cookie) = cookie {
                return Ok((cookie, ctx.error_page(Some(viewer), e)).into_response());
            }
            Err(e)
        }
    }
}

/// A settings page: an action answers with a redirect (or a page of its own), or shows the
/// page again with the refusal next to the form that was sent, as the API's status.
pub(crate) trait SettingsPage {
    /// Shows the page again with `error` next to the form `form_id`.
    async fn refused(ctx: &Ctx, viewer: &Viewer, form_id: &'static str, error: Error) -> Response;

    /// The action's answer, or the page again with its refusal next to the form `form_id`.
    async fn or_refused(
        ctx: &Ctx,
        viewer: &Viewer,
        form_id: &'static str,
        outcome: Result<Response, Error>,
    ) -> Response {
        match outcome {
            Ok(response) => response,
            Err(e) => Self::refused(ctx, viewer, form_id, e).await,
        }
    }

    /// Runs an action of the page that needs a full session but no recent authentication
    /// (a session that may only enrol a second factor goes to the set-up).
    async fn answer(
        ctx: &Ctx,
        viewer: &Viewer,
        form_id: &'static str,
        action: impl AsyncFnOnce(&SignedInSession) -> Result<Response, Error>,
    ) -> Response {
        let Some(session) = viewer.signed_in() else {
            return ctx.see_other(SET_UP);
        };
        let outcome = action(session).await;
        Self::or_refused(ctx, viewer, form_id, outcome).await
    }

    /// Runs an action of the page through [`act`], with its re-authentication prompt.
    async fn act(
        ctx: &Ctx,
        viewer: &Viewer,
        info: &RequestInfo,
        form: &PageForm,
        form_id: &'static str,
        action: impl AsyncFnOnce(&SignedInSession) -> Result<Response, Error>,
    ) -> Response {
        let outcome = act(ctx, viewer, info, form, action).await;
        Self::or_refused(ctx, viewer, form_id, outcome).await
    }
}

/// The re-authentication prompt for an action of this form.
async fn prompt(ctx: &Ctx, viewer: &Viewer, form: &PageForm, notice: Option<Notice>) -> Response {
    let factors = ctx
        .accounts()
        .second_factors(viewer.account.id)
        .await
        .unwrap_or_default();
    let page = ctx.page(Some(viewer), "reauth.title").with_notice(notice);
    render(
        StatusCode::FORBIDDEN,
        &ReauthPage {
            action: ctx.here.clone(),
            fields: form.carried(),
            totp: factors.totp,
            passkeys: factors.passkeys > 0,
            p: page,
        },
    )
}

#[derive(Template)]
#[template(path = "ui/reauth.html")]
struct ReauthPage {
    p: Page,
    action: String,
    fields: Vec<(String, String)>,
    totp: bool,
    passkeys: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            local_path(Some("/account/security"), "/a"),
            "/account/security"
        );
        assert_eq!(local_path(Some("//evil.example/"), "/a"), "/a");
        assert_eq!(local_path(Some("https://evil.example/"), "/a"), "/a");
        assert_eq!(local_path(Some("/\\evil.example"), "/a"), "/a");
        assert_eq!(local_path(None, "/a"), "/a");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode("/account/x?a=1&b=2"),
            "%2Faccount%2Fx%3Fa%3D1%26b%3D2"
        );
    }
}
