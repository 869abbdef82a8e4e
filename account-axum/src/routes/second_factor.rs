//! Finishing a login with a second factor, passwordless passkey login, and
//! re-authenticating with a passkey.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use account_core::SignedIn;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ClientInfo, EnrollingSession, PendingLogin};
use crate::state::AccountsState;
use crate::views::{CeremonyBody, CodeRequest, PasskeyFinishRequest, StatusBody};

/// The answer of a finished login or re-authentication: the new session's cookie and
/// `{"status": "ok"}`.
fn signed_in(state: &AccountsState, signed_in: &SignedIn) -> Response {
    let cookie = state.session_cookie(&signed_in.session, &signed_in.token);
    (cookie, Json(StatusBody::OK)).into_response()
}

/// Finishes a login that answered `second_factor_required` with a code from the
/// authenticator app. The pending session is replaced by a full one (a new cookie).
#[utoipa::path(
    post,
    path = "/api/auth/login/totp",
    tag = "auth",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = StatusBody,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`: no pending login (none, expired, or out of attempts); `invalid_second_factor`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn login_totp(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    PendingLogin(pending): PendingLogin,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let done = state
        .accounts
        .complete_login_with_totp(&pending, &body.code, &info)
        .await?;
    Ok(signed_in(&state, &done))
}

/// Finishes a login that answered `second_factor_required` with one of the recovery
/// codes, which is used up (the owner is told by mail).
#[utoipa::path(
    post,
    path = "/api/auth/login/recovery-code",
    tag = "auth",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = StatusBody,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`: no pending login (none, expired, or out of attempts); `invalid_second_factor`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn login_recovery_code(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    PendingLogin(pending): PendingLogin,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let done = state
        .accounts
        .complete_login_with_recovery_code(&pending, &body.code, &info)
        .await?;
    Ok(signed_in(&state, &done))
}

/// Starts the passkey ceremony that finishes a login that answered
/// `second_factor_required`: the options (listing the account's passkeys) go to
/// `navigator.credentials.get()`.
#[utoipa::path(
    post,
    path = "/api/auth/login/passkey/start",
    tag = "auth",
    responses(
        (status = 200, description = "The ceremony", body = CeremonyBody),
        (status = 401, description = "`unauthenticated`: no pending login; `invalid_second_factor`: throttled", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has no passkey", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn login_passkey_start(
    State(state): State<AccountsState>,
    PendingLogin(pending): PendingLogin,
) -> Result<Json<CeremonyBody>, ApiError> {
    let ceremony = state.accounts.start_login_passkey(&pending).await?;
    Ok(Json(ceremony.into()))
}

/// Finishes a login that answered `second_factor_required` with the browser's answer to
/// the ceremony of `/api/auth/login/passkey/start`.
#[utoipa::path(
    post,
    path = "/api/auth/login/passkey/finish",
    tag = "auth",
    request_body = PasskeyFinishRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = StatusBody,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`: no pending login (none, expired, or out of attempts); `invalid_second_factor`: the answer does not verify", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn login_passkey_finish(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    PendingLogin(pending): PendingLogin,
    ApiJson(body): ApiJson<PasskeyFinishRequest>,
) -> Result<Response, ApiError> {
    let done = state
        .accounts
        .complete_login_with_passkey(&pending, &body.ceremony_id, body.credential, &info)
        .await?;
    Ok(signed_in(&state, &done))
}

/// Starts a passwordless login with a passkey: options for `navigator.credentials.get()`
/// that let the browser offer any passkey of this site (discoverable credentials,
/// `mediation: "conditional"` for the autofill UI). The same for everyone; limited per IP
/// like password logins.
#[utoipa::path(
    post,
    path = "/api/auth/passkey/start",
    tag = "auth",
    responses(
        (status = 200, description = "The ceremony", body = CeremonyBody),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn passkey_start(
    State(state): State<AccountsState>,
) -> Result<Json<CeremonyBody>, ApiError> {
    Ok(Json(state.accounts.start_passkey_login().await?.into()))
}

/// Finishes a passwordless login with the browser's answer to the ceremony of
/// `/api/auth/passkey/start`, and sets the session cookie. Every failure is the same 401
/// `invalid_credentials`.
#[utoipa::path(
    post,
    path = "/api/auth/passkey/finish",
    tag = "auth",
    request_body = PasskeyFinishRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = StatusBody,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn passkey_finish(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    previous: Option<EnrollingSession>,
    ApiJson(body): ApiJson<PasskeyFinishRequest>,
) -> Result<Response, ApiError> {
    let done = state
        .accounts
        .finish_passkey_login(&body.ceremony_id, body.credential, &info)
        .await?;
    // As at a password login: the browser's previous session ends with its cookie.
    if let Some(EnrollingSession(previous)) = previous
        && let Err(e) = state.accounts.logout(&previous, &info).await
    {
        tracing::warn!(error = %e, "ending the previous session at login failed");
    }
    Ok(signed_in(&state, &done))
}

/// Starts re-authenticating the session with one of the account's passkeys: the options
/// go to `navigator.credentials.get()`.
#[utoipa::path(
    post,
    path = "/api/auth/reauthenticate/passkey/start",
    tag = "auth",
    responses(
        (status = 200, description = "The ceremony", body = CeremonyBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has no passkey", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn reauthenticate_passkey_start(
    State(state): State<AccountsState>,
    EnrollingSession(session): EnrollingSession,
) -> Result<Json<CeremonyBody>, ApiError> {
    let ceremony = state
        .accounts
        .start_passkey_authentication(&session)
        .await?;
    Ok(Json(ceremony.into()))
}

/// Re-authenticates the session with the browser's answer to the ceremony of
/// `/api/auth/reauthenticate/passkey/start`: the session is fresh at assurance level 2 and
/// gets a new token.
#[utoipa::path(
    post,
    path = "/api/auth/reauthenticate/passkey/finish",
    tag = "auth",
    request_body = PasskeyFinishRequest,
    responses(
        (status = 200, description = "Re-authenticated; a new session cookie is set", body = StatusBody,
            headers(("set-cookie" = String, description = "The session cookie, with a new token"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`; `invalid_second_factor`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn reauthenticate_passkey_finish(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<PasskeyFinishRequest>,
) -> Result<Response, ApiError> {
    let done = state
        .accounts
        .reauthenticate_with_passkey(&session, &body.ceremony_id, body.credential, &info)
        .await?;
    Ok(signed_in(&state, &done))
}
