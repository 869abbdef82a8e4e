//! The signed-in account's second factors: TOTP, recovery codes and passkeys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use account_core::model::PasskeyId;

use crate::error::{ApiError, Problem};
use crate::extract::{
    ApiJson, Authenticated, ClientInfo, CurrentSession, EnrollingSession, PathParam,
};
use crate::state::AccountsState;
use crate::views::{
    CeremonyBody, CodeRequest, PasskeyBody, PasskeyFinishRequest, PasskeyNameRequest,
    RecoveryCodesBody, TotpEnrollmentBody,
};

/// Starts enrolling an authenticator app: a fresh secret, its `otpauth://` URI and the QR
/// code of the URI. Nothing is active until `/api/account/totp/confirm`. Needs a fresh
/// authentication (with the account's second factor, when it has one).
#[utoipa::path(
    post,
    path = "/api/account/totp/start",
    tag = "account",
    responses(
        (status = 200, description = "The secret to show once", body = TotpEnrollmentBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `managed_by_directory`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_enrolled`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn totp_start(
    State(state): State<AccountsState>,
    EnrollingSession(session): EnrollingSession,
) -> Result<Json<TotpEnrollmentBody>, ApiError> {
    let enrollment = state.accounts.start_totp_enrollment(&session).await?;
    Ok(Json(TotpEnrollmentBody {
        secret: enrollment.secret.clone(),
        otpauth_uri: enrollment.otpauth_uri.clone(),
        qr_png: enrollment.qr_png.clone(),
    }))
}

/// Confirms the pending enrolment with a code from the app: TOTP becomes active, and the
/// answer holds the account's new recovery codes (shown once). The session gets a new
/// token (and, under the "require 2FA" policy, becomes a full session).
#[utoipa::path(
    post,
    path = "/api/account/totp/confirm",
    tag = "account",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "TOTP is active; a new session cookie is set", body = RecoveryCodesBody,
            headers(("set-cookie" = String, description = "The session cookie, with a new token"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`; `invalid_second_factor`: a wrong code", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no enrolment is pending", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_enrolled`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn totp_confirm(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let confirmed = state
        .accounts
        .confirm_totp_enrollment(&session, &body.code, &info)
        .await?;
    let cookie = state.session_cookie(&confirmed.session, &confirmed.token);
    let codes = RecoveryCodesBody {
        recovery_codes: confirmed.recovery_codes.expose().to_vec(),
    };
    Ok((cookie, Json(codes)).into_response())
}

/// Removes the authenticator app (or cancels a pending enrolment). Without a passkey left,
/// the recovery codes go too. Needs a fresh authentication.
#[utoipa::path(
    delete,
    path = "/api/account/totp",
    tag = "account",
    responses(
        (status = 204, description = "TOTP is removed"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no TOTP", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn totp_delete(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
) -> Result<StatusCode, ApiError> {
    state.accounts.disable_totp(&session, &info).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a new set of ten recovery codes (shown once) and voids the old one. Needs a fresh
/// authentication and a second factor for the codes to back up.
#[utoipa::path(
    post,
    path = "/api/account/recovery-codes",
    tag = "account",
    responses(
        (status = 200, description = "The new codes", body = RecoveryCodesBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn regenerate_recovery_codes(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
) -> Result<Json<RecoveryCodesBody>, ApiError> {
    let codes = state
        .accounts
        .regenerate_recovery_codes(&session, &info)
        .await?;
    Ok(Json(RecoveryCodesBody {
        recovery_codes: codes.expose().to_vec(),
    }))
}

/// The account's passkeys, oldest first. A personal API token of either scope may list
/// them; adding, renaming and removing one needs the session cookie.
#[utoipa::path(
    get,
    path = "/api/account/passkeys",
    tag = "account",
    responses(
        (status = 200, description = "The passkeys", body = Vec<PasskeyBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`second_factor_enrollment_required`; `network_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn list_passkeys(
    State(state): State<AccountsState>,
    me: Authenticated,
) -> Result<Json<Vec<PasskeyBody>>, ApiError> {
    let passkeys = state.accounts.passkeys(me.account.id).await?;
    Ok(Json(passkeys.iter().map(PasskeyBody::from).collect()))
}

/// Starts adding a passkey with a name: the options go to
/// `navigator.credentials.create()`. Needs a fresh authentication (with the account's
/// second factor, when it has one).
#[utoipa::path(
    post,
    path = "/api/account/passkeys/start",
    tag = "account",
    request_body = PasskeyNameRequest,
    responses(
        (status = 200, description = "The ceremony", body = CeremonyBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn passkey_registration_start(
    State(state): State<AccountsState>,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<PasskeyNameRequest>,
) -> Result<Json<CeremonyBody>, ApiError> {
    let ceremony = state
        .accounts
        .start_passkey_registration(&session, &body.name)
        .await?;
    Ok(Json(ceremony.into()))
}

/// Finishes adding a passkey with the browser's answer to the ceremony of
/// `/api/account/passkeys/start`. The session gets a new token.
#[utoipa::path(
    post,
    path = "/api/account/passkeys/finish",
    tag = "account",
    request_body = PasskeyFinishRequest,
    responses(
        (status = 201, description = "The passkey; a new session cookie is set", body = PasskeyBody,
            headers(("set-cookie" = String, description = "The session cookie, with a new token"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`passkey_rejected`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn passkey_registration_finish(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<PasskeyFinishRequest>,
) -> Result<Response, ApiError> {
    let added = state
        .accounts
        .finish_passkey_registration(&session, &body.ceremony_id, body.credential, &info)
        .await?;
    let cookie = state.session_cookie(&added.session, &added.token);
    Ok((
        StatusCode::CREATED,
        cookie,
        Json(PasskeyBody::from(&added.passkey)),
    )
        .into_response())
}

/// Renames one of the account's passkeys.
#[utoipa::path(
    patch,
    path = "/api/account/passkeys/{id}",
    tag = "account",
    params(("id" = uuid::Uuid, Path, description = "The passkey's id")),
    request_body = PasskeyNameRequest,
    responses(
        (status = 200, description = "The passkey", body = PasskeyBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn rename_passkey(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    PathParam(id): PathParam<PasskeyId>,
    ApiJson(body): ApiJson<PasskeyNameRequest>,
) -> Result<Json<PasskeyBody>, ApiError> {
    state
        .accounts
        .rename_passkey(&session, id, &body.name, &info)
        .await?;
    let passkeys = state.accounts.passkeys(session.account_id).await?;
    let renamed = passkeys
        .iter()
        .find(|p| p.id == id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(PasskeyBody::from(renamed)))
}

/// Removes one of the account's passkeys. Needs a fresh authentication; the last way to
/// log in (no password and no other passkey) cannot be removed.
#[utoipa::path(
    delete,
    path = "/api/account/passkeys/{id}",
    tag = "account",
    params(("id" = uuid::Uuid, Path, description = "The passkey's id")),
    responses(
        (status = 204, description = "The passkey is removed"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_login_method`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn delete_passkey(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    PathParam(id): PathParam<PasskeyId>,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_passkey(&session, id, &info).await?;
    Ok(StatusCode::NO_CONTENT)
}
