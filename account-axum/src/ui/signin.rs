//! Signing in and out, and the pages a link in mail opens: login (with a passkey too),
//! the second-factor step, sign-up, forgot and reset password (an administrator's set-up
//! link is a reset link), and email verification.

use askama::Template;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use account_core::domain::{EmailAddress, Password};
use account_core::{Error, LoginOutcome, SecondFactorMethod, SignUp};

use super::form::{encode, local_path};
use super::{Ctx, Notice, Page, PageForm, Ui, Viewer, render};
use crate::cookie::cookie_value;
use crate::extract::ClientInfo;
use crate::middleware::{Limited, rate_limit};

pub(crate) fn routes(prefix: &str, ui_state: &crate::AccountsState) -> Router<Ui> {
    let limited = |kind: Limited, path: &str, router: axum::routing::MethodRouter<Ui>| {
        Router::new().route(
            &format!("{prefix}{path}"),
            router.route_layer(from_fn_with_state((ui_state.clone(), kind), rate_limit)),
        )
    };
    Router::new()
        .route(&format!("{prefix}/login"), get(login_page))
        .merge(limited(Limited::Login, "/login", post(login)))
        .route(
            &format!("{prefix}/login/second-factor"),
            get(second_factor_page),
        )
        .route(&format!("{prefix}/login/totp"), post(login_totp))
        .route(
            &format!("{prefix}/login/recovery-code"),
            post(login_recovery_code),
        )
        .route(&format!("{prefix}/logout"), post(logout))
        .route(&format!("{prefix}/signup"), get(signup_page))
        .merge(limited(Limited::SignUp, "/signup", post(signup)))
        .route(&format!("{prefix}/forgot-password"), get(forgot_page))
        .merge(limited(
            Limited::ForgotPassword,
            "/forgot-password",
            post(forgot),
        ))
        .route(&format!("{prefix}/reset-password"), get(reset_page))
        .merge(limited(
            Limited::ResetPassword,
            "/reset-password",
            post(reset),
        ))
        .route(&format!("{prefix}/verify-email"), get(verify_page))
        .merge(limited(Limited::VerifyEmail, "/verify-email", post(verify)))
        .merge(home_routes(prefix))
}

/// The prefix itself, with and without its slash; the root when the pages are there.
fn home_routes(prefix: &str) -> Router<Ui> {
    if prefix.is_empty() {
        Router::new().route("/", get(home))
    } else {
        Router::new()
            .route(prefix, get(home))
            .route(&format!("{prefix}/"), get(home))
    }
}

/// The prefix itself: the settings for a signed-in visitor, else the login.
async fn home(ctx: Ctx, viewer: Option<Viewer>) -> Response {
    match viewer {
        Some(_) => ctx.see_other("/profile"),
        None => ctx.see_other("/login"),
    }
}

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
    token: Option<String>,
}

impl NextQuery {
    /// The `next` a form carries on from the page that showed it.
    fn posted(form: &PageForm) -> Self {
        NextQuery {
            next: form.optional("next").map(str::to_owned),
            token: None,
        }
    }

    /// Where to go after signing in: the page that sent the visitor here, if it is one of
    /// this site's, else the settings.
    fn next(&self, ctx: &Ctx) -> String {
        let default = format!("{}/profile", ctx.base);
        local_path(self.next.as_deref(), &default).to_owned()
    }
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    p: Page,
    next: String,
    login: String,
    signup: bool,
}

async fn login_page(ctx: Ctx, viewer: Option<Viewer>, Query(q): Query<NextQuery>) -> Response {
    if viewer.is_some() {
        return super::see_other(&q.next(&ctx));
    }
    login_form(&ctx, &q, String::new(), None, StatusCode::OK).await
}

async fn login_form(
    ctx: &Ctx,
    q: &NextQuery,
    login: String,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let signup = ctx
        .accounts()
        .policy()
        .await
        .is_ok_and(|policy| policy.allow_signup);
    render(
        status,
        &LoginPage {
            p: ctx.page(None, "login.title").with_notice(notice),
            next: q.next.clone().unwrap_or_default(),
            login,
            signup,
        },
    )
}

async fn login(ctx: Ctx, ClientInfo(info): ClientInfo, form: PageForm) -> Response {
    let q = NextQuery::posted(&form);
    let password = Password::new(form.text("password"));
    match ctx
        .accounts()
        .login(form.text("login"), &password, &info)
        .await
    {
        // The password was right either way: this browser is now known to the account.
        Ok(LoginOutcome::SignedIn(signed_in)) => (
            ctx.ui
                .state
                .session_cookie(&signed_in.session, &signed_in.token),
            ctx.ui.state.device_cookie(&signed_in.account),
            super::see_other(&q.next(&ctx)),
        )
            .into_response(),
        Ok(LoginOutcome::SecondFactorRequired { pending, .. }) => (
            ctx.ui
                .state
                .session_cookie(&pending.session, &pending.token),
            ctx.ui.state.device_cookie(&pending.account),
            ctx.see_other(&format!(
                "/login/second-factor?next={}",
                encode(&q.next(&ctx))
            )),
        )
            .into_response(),
        Ok(_) => ctx.error_page(None, Error::Internal("an unknown login outcome".into())),
        Err(e) => {
            let (status, notice) = super::refusal(ctx.tr(None), "login", e);
            login_form(
                &ctx,
                &q,
                form.text("login").to_owned(),
                Some(notice),
                status,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "ui/second_factor.html")]
struct SecondFactorPage {
    p: Page,
    next: String,
    totp: bool,
    recovery_code: bool,
    passkey: bool,
}

/// The pending login of this request's cookie, if there is one.
async fn pending(
    ctx: &Ctx,
    headers: &axum::http::HeaderMap,
) -> Option<account_core::PendingSession> {
    let token = cookie_value(headers, &ctx.ui.state.settings.cookie_name)?;
    ctx.accounts().authenticate_pending(token).await.ok()
}

async fn second_factor_page(
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    second_factor_form(&ctx, &headers, &q, None).await
}

async fn second_factor_form(
    ctx: &Ctx,
    headers: &axum::http::HeaderMap,
    q: &NextQuery,
    notice: Option<Notice>,
) -> Response {
    let Some(pending) = pending(ctx, headers).await else {
        // The five minutes are over, or there was no password step: start again.
        return ctx.see_other("/login?done=login_expired");
    };
    let factors = match ctx.accounts().second_factors(pending.account_id).await {
        Ok(factors) => factors,
        Err(e) => return ctx.error_page(None, e),
    };
    let status = if notice.as_ref().is_some_and(|n| n.error) {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    render(
        status,
        &SecondFactorPage {
            p: ctx.page(None, "second_factor.title").with_notice(notice),
            next: q.next.clone().unwrap_or_default(),
            totp: factors.totp,
            recovery_code: factors.recovery_codes_left > 0,
            passkey: factors.passkeys > 0,
        },
    )
}

async fn login_totp(
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    finish_second_factor(ctx, headers, info, form, SecondFactorMethod::Totp).await
}

async fn login_recovery_code(
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    finish_second_factor(ctx, headers, info, form, SecondFactorMethod::RecoveryCode).await
}

async fn finish_second_factor(
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    info: account_core::RequestInfo,
    form: PageForm,
    method: SecondFactorMethod,
) -> Response {
    let q = NextQuery::posted(&form);
    let Some(pending) = pending(&ctx, &headers).await else {
        return ctx.see_other("/login?done=login_expired");
    };
    let code = form.text("code");
    let outcome = match method {
        SecondFactorMethod::RecoveryCode => {
            ctx.accounts()
                .complete_login_with_recovery_code(&pending, code, &info)
                .await
        }
        _ => {
            ctx.accounts()
                .complete_login_with_totp(&pending, code, &info)
                .await
        }
    };
    match outcome {
        Ok(signed_in) => (
            ctx.ui
                .state
                .session_cookie(&signed_in.session, &signed_in.token),
            super::see_other(&q.next(&ctx)),
        )
            .into_response(),
        Err(Error::Unauthenticated) => ctx.see_other("/login?done=login_expired"),
        Err(e) => {
            let t = ctx.tr(None);
            let form_id = match method {
                SecondFactorMethod::RecoveryCode => "recovery",
                _ => "totp",
            };
            second_factor_form(&ctx, &headers, &q, Some(Notice::error(t, form_id, e))).await
        }
    }
}

async fn logout(ctx: Ctx, viewer: Option<Viewer>, ClientInfo(info): ClientInfo) -> Response {
    if let Some(viewer) = viewer
        && let Err(e) = ctx.accounts().logout(&viewer.session, &info).await
    {
        return ctx.error_page(Some(&viewer), e);
    }
    (
        ctx.ui.state.clear_session_cookie(),
        ctx.see_other("/login?done=logged_out"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "ui/signup.html")]
struct SignUpPage {
    p: Page,
    open: bool,
    username: String,
    email: String,
    display_name: String,
}

async fn signup_page(ctx: Ctx) -> Response {
    signup_form(&ctx, &PageForm::default(), None, StatusCode::OK).await
}

async fn signup_form(
    ctx: &Ctx,
    form: &PageForm,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let open = match ctx.accounts().policy().await {
        Ok(policy) => policy.allow_signup,
        Err(e) => return ctx.error_page(None, e),
    };
    render(
        status,
        &SignUpPage {
            p: ctx.page(None, "signup.title").with_notice(notice),
            open,
            username: form.text("username").to_owned(),
            email: form.text("email").to_owned(),
            display_name: form.text("display_name").to_owned(),
        },
    )
}

async fn signup(ctx: Ctx, ClientInfo(info): ClientInfo, form: PageForm) -> Response {
    let parsed = SignUp::parse(
        form.text("username"),
        form.text("email"),
        form.text("password"),
        form.optional("display_name"),
    )
    .map_err(Error::from);
    let outcome = match parsed {
        Ok(sign_up) => ctx.accounts().sign_up(sign_up, &info).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match outcome {
        // A new account and an address already in use look the same here as in the API:
        // the page says a link is on its way either way.
        Ok(()) => ctx.see_other("/login?done=signed_up"),
        Err(e) => {
            let (status, notice) = super::refusal(ctx.tr(None), "signup", e);
            let notice = Some(notice);
            signup_form(&ctx, &form, notice, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "ui/forgot.html")]
struct ForgotPage {
    p: Page,
}

async fn forgot_page(ctx: Ctx) -> Response {
    forgot_form(&ctx, None, StatusCode::OK)
}

fn forgot_form(ctx: &Ctx, notice: Option<Notice>, status: StatusCode) -> Response {
    render(
        status,
        &ForgotPage {
            p: ctx.page(None, "forgot.title").with_notice(notice),
        },
    )
}

async fn forgot(ctx: Ctx, ClientInfo(info): ClientInfo, form: PageForm) -> Response {
    let email = match EmailAddress::parse(form.text("email")) {
        Ok(email) => email,
        Err(e) => {
            let notice = Notice::error(ctx.tr(None), "forgot", Error::from(e));
            return forgot_form(&ctx, Some(notice), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    // Every address gets the same answer, known or not (no enumeration).
    match ctx.accounts().request_password_reset(&email, &info).await {
        Ok(()) => ctx.see_other("/forgot-password?done=reset_sent"),
        Err(e) => ctx.error_page(None, e),
    }
}

#[derive(Template)]
#[template(path = "ui/reset.html")]
struct ResetPage {
    p: Page,
    token: String,
}

async fn reset_page(ctx: Ctx, Query(q): Query<NextQuery>) -> Response {
    reset_form(&ctx, q.token.unwrap_or_default(), None, StatusCode::OK)
}

fn reset_form(ctx: &Ctx, token: String, notice: Option<Notice>, status: StatusCode) -> Response {
    render(
        status,
        &ResetPage {
            p: ctx.page(None, "reset.title").with_notice(notice),
            token,
        },
    )
}

async fn reset(ctx: Ctx, ClientInfo(info): ClientInfo, form: PageForm) -> Response {
    let password = Password::new(form.text("new_password"));
    if form.text("new_password") != form.text("confirm_password") {
        let notice = Notice::message(ctx.tr(None), "reset", "reset.mismatch", true);
        return reset_form(
            &ctx,
            form.text("token").to_owned(),
            Some(notice),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match ctx
        .accounts()
        .reset_password(form.text("token"), &password, &info)
        .await
    {
        Ok(_) => ctx.see_other("/login?done=password_reset"),
        Err(e) => {
            let (status, notice) = super::refusal(ctx.tr(None), "reset", e);
            let notice = Some(notice);
            reset_form(&ctx, form.text("token").to_owned(), notice, status)
        }
    }
}

#[derive(Template)]
#[template(path = "ui/verify.html")]
struct VerifyPage {
    p: Page,
    token: String,
}

/// The link in a verification mail opens this page, which asks for one click: a link
/// scanner that fetches every URL of a mail must not verify an address on its own.
async fn verify_page(ctx: Ctx, viewer: Option<Viewer>, Query(q): Query<NextQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    verify_form(&ctx, viewer.as_ref(), token, None, StatusCode::OK)
}

fn verify_form(
    ctx: &Ctx,
    viewer: Option<&Viewer>,
    token: String,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    render(
        status,
        &VerifyPage {
            p: ctx.page(viewer, "verify.title").with_notice(notice),
            token,
        },
    )
}

async fn verify(
    ctx: Ctx,
    viewer: Option<Viewer>,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    match ctx.accounts().verify_email(form.text("token"), &info).await {
        Ok(_) if viewer.is_some() => ctx.see_other("/profile?done=email_verified"),
        Ok(_) => ctx.see_other("/login?done=email_verified"),
        Err(e) => {
            let (status, notice) = super::refusal(ctx.tr(viewer.as_ref()), "verify", e);
            let token = form.text("token").to_owned();
            verify_form(&ctx, viewer.as_ref(), token, Some(notice), status)
        }
    }
}
