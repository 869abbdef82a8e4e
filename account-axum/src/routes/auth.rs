//! Signing up, in and out; forgot and reset password; email verification;
//! re-authentication.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use account_core::domain::{DisplayName, EmailAddress};
use account_core::model::AccountId;
use account_core::random::OsRandom;
use account_core::{Error, LoginOutcome, SignUp, SignUpOutcome};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ClientInfo, EnrollingSession, Mount};
use crate::state::AccountsState;
use crate::views::{
    AccountBody, ForgotPasswordRequest, LoginBody, LoginRequest, ReauthenticateRequest,
    ResetPasswordRequest, RoleBody, SecondFactorMethodBody, SecondFactorsBody, SignUpRequest,
    SourceBody, StatusBody, VerifyEmailRequest,
};

/// Creates an account and mails a verification link. No session is made: the new user
/// logs in next.
///
/// An address that already has an account gets the very same answer (with an id that
/// names no account), and its owner is told by mail, so sign-up cannot be used to find
/// out who has an account here.
#[utoipa::path(
    post,
    path = "/api/auth/signup",
    tag = "auth",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "The account", body = AccountBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`signup_disabled`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`; `weak_password`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn signup(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    mount: Mount,
    ApiJson(body): ApiJson<SignUpRequest>,
) -> Result<(StatusCode, Json<AccountBody>), ApiError> {
    let form = SignUp::parse(
        &body.username,
        &body.email,
        body.password.expose(),
        body.display_name.as_deref(),
    )
    .map_err(Error::from)?;
    let (username, email, display_name) = (
        form.username.clone(),
        form.email.clone(),
        form.display_name.clone(),
    );
    match state.accounts.sign_up(form, &info).await? {
        SignUpOutcome::Created(account) => Ok((
            StatusCode::CREATED,
            Json(AccountBody::new(&account, &mount)),
        )),
        SignUpOutcome::EmailInUse => {
            // No enumeration (SECURITY.md C11): the address belongs to an account, whose
            // owner has been mailed. Answering differently (409, or no body) would tell
            // whoever typed the address that it has an account here. So the answer is
            // exactly what a new account gets: the same status, headers and fields, built
            // from the submitted fields, with a fresh random id that names no account.
            // Nothing was created, and nothing that follows (login, verification) works
            // for it.
            let now = state.accounts.now();
            let display_name = match display_name {
                Some(name) => name,
                None => DisplayName::parse(username.as_str()).map_err(Error::from)?,
            };
            Ok((
                StatusCode::CREATED,
                Json(AccountBody {
                    id: AccountId::generate(now, &OsRandom).as_uuid(),
                    username: username.as_str().to_owned(),
                    display_name: display_name.as_str().to_owned(),
                    email: email.as_str().to_owned(),
                    email_verified: false,
                    recovery_email: None,
                    language: None,
                    avatar_url: None,
                    created_at: now,
                    source: SourceBody::Local,
                    role: RoleBody::User,
                    state: crate::views::StateBody::Active,
                    second_factors: SecondFactorsBody {
                        totp: false,
                        recovery_codes_left: 0,
                        passkeys: 0,
                    },
                }),
            ))
        }
        _ => Err(Error::Internal("a sign-up outcome this adapter does not know".into()).into()),
    }
}

/// Logs in with a username or an email address and a password, and sets the session
/// cookie (a new session, with a new token).
///
/// For an account with a second factor the answer is `{"status": "second_factor_required",
/// "methods": [...]}` and the cookie holds a pending session (5 minutes, 5 attempts) that
/// only the second-factor login routes accept: `/api/auth/login/totp`,
/// `/api/auth/login/recovery-code`, `/api/auth/login/passkey/start` and `/finish`.
///
/// An unknown login, a wrong password and a disabled or locked account all get the same
/// 401 `invalid_credentials`, byte for byte. The password of an account of an external
/// directory is checked by that directory, with the same answers; when the directory
/// cannot answer, 503 `directory_unavailable`.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (`ok`), or a second factor must finish the login (`second_factor_required`); the session cookie is set", body = LoginBody,
            headers(("set-cookie" = String, description = "The session cookie (a pending one with `second_factor_required`)"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password` with reason `too_large`: a password over 1 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`directory_unavailable`: the external directory of the account cannot check its password", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn login(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    previous: Option<EnrollingSession>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let (signed_in, answer) = match state
        .accounts
        .login(&body.login, &body.password, &info)
        .await?
    {
        LoginOutcome::SignedIn(signed_in) => (
            signed_in,
            LoginBody {
                status: "ok",
                methods: None,
            },
        ),
        LoginOutcome::SecondFactorRequired { pending, methods } => (
            pending,
            LoginBody {
                status: "second_factor_required",
                methods: Some(
                    methods
                        .into_iter()
                        .map(SecondFactorMethodBody::of)
                        .collect(),
                ),
            },
        ),
        _ => {
            return Err(
                Error::Internal("a login outcome this adapter does not know".into()).into(),
            );
        }
    };
    // The browser's previous session, if it had one, ends here: its cookie is about to be
    // replaced, and a session nobody can present any more should not linger in the list.
    if let Some(EnrollingSession(previous)) = previous
        && let Err(e) = state.accounts.logout(&previous, &info).await
    {
        tracing::warn!(error = %e, "ending the previous session at login failed");
    }
    let cookie = state.session_cookie(&signed_in.session, &signed_in.token);
    // The password was right: this browser is now known to the account.
    let device = state.device_cookie(&signed_in.account);
    Ok((cookie, device, Json(answer)).into_response())
}

/// Logs out: the session ends on the server, the cookie is removed, and the browser is
/// asked to clear this site's cookies. Answers 204 with or without a session, so a stale
/// cookie is always cleared.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Logged out; the cookie is removed",
            headers(("clear-site-data" = String, description = "`\"cookies\"`"))),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("session_cookie" = []))
)]
pub(crate) async fn logout(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    current: Option<EnrollingSession>,
) -> Result<Response, ApiError> {
    if let Some(EnrollingSession(session)) = current {
        state.accounts.logout(&session, &info).await?;
    }
    Ok(signed_out(&state))
}

/// The answer that removes the session cookie and asks the browser to clear the site's
/// cookies (which, for an application embedding this router, means all of its cookies).
pub(crate) fn signed_out(state: &AccountsState) -> Response {
    (
        StatusCode::NO_CONTENT,
        state.clear_session_cookie(),
        [(
            HeaderName::from_static("clear-site-data"),
            HeaderValue::from_static("\"cookies\""),
        )],
    )
        .into_response()
}

/// Mails a password-reset link to the account with this address. Answers 202 for every
/// well-formed address, whether or not it has an account.
#[utoipa::path(
    post,
    path = "/api/auth/password/forgot",
    tag = "auth",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "A link was mailed if the address has an account", body = StatusBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn forgot_password(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    ApiJson(body): ApiJson<ForgotPasswordRequest>,
) -> Result<(StatusCode, Json<StatusBody>), ApiError> {
    let email = EmailAddress::parse(&body.email).map_err(Error::from)?;
    state.accounts.request_password_reset(&email, &info).await?;
    Ok((StatusCode::ACCEPTED, Json(StatusBody::ACCEPTED)))
}

/// Sets a new password with the token of a reset link. Every session of the account
/// ends; nobody is signed in (the user logs in next).
#[utoipa::path(
    post,
    path = "/api/auth/password/reset",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "The password is changed", body = StatusBody),
        (status = 400, description = "`invalid_token`; `malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn reset_password(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<Json<StatusBody>, ApiError> {
    state
        .accounts
        .reset_password(&body.token, &body.new_password, &info)
        .await?;
    Ok(Json(StatusBody::OK))
}

/// Confirms an address with the token of a verification link: the sign-up address, a
/// new primary address, or a recovery address.
#[utoipa::path(
    post,
    path = "/api/auth/email/verify",
    tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The account after the change", body = AccountBody),
        (status = 400, description = "`invalid_token`; `malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn verify_email(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    mount: Mount,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<Json<AccountBody>, ApiError> {
    let (account, _) = state.accounts.verify_email(&body.token, &info).await?;
    Ok(Json(
        AccountBody::load(&state.accounts, &account, &mount).await?,
    ))
}

/// Confirms the password (`{"password": ...}`) or a TOTP code (`{"totp_code": ...}`),
/// exactly one of them, before a sensitive action ("sudo mode"): the session is fresh for
/// the re-authentication window (10 minutes by default) and gets a new token. Once the
/// account has a second factor, changing factors needs it (a TOTP code here, or a passkey
/// through `/api/auth/reauthenticate/passkey/start` and `/finish`).
#[utoipa::path(
    post,
    path = "/api/auth/reauthenticate",
    tag = "auth",
    request_body = ReauthenticateRequest,
    responses(
        (status = 200, description = "Re-authenticated; a new session cookie is set", body = StatusBody,
            headers(("set-cookie" = String, description = "The session cookie, with a new token"))),
        (status = 400, description = "`malformed_json`: neither or both of `password` and `totp_code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`; `invalid_credentials`; `invalid_second_factor`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`directory_unavailable`: the external directory of the account cannot check its password", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn reauthenticate(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<ReauthenticateRequest>,
) -> Result<Response, ApiError> {
    let signed_in = match (&body.password, &body.totp_code) {
        (Some(password), None) => {
            state
                .accounts
                .reauthenticate(&session, password, &info)
                .await?
        }
        (None, Some(code)) => {
            state
                .accounts
                .reauthenticate_with_totp(&session, code, &info)
                .await?
        }
        (None, None) => {
            return Err(ApiError::MalformedJson {
                field: Some("password".to_owned()),
            });
        }
        (Some(_), Some(_)) => return Err(ApiError::MalformedJson { field: None }),
    };
    let cookie = state.session_cookie(&signed_in.session, &signed_in.token);
    Ok((cookie, Json(StatusBody::OK)).into_response())
}
