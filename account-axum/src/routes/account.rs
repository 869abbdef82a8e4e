//! The signed-in user's account: profile, addresses, password, avatar.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use account_core::Error;
use account_core::domain::{DisplayName, EmailAddress, Language};
use account_core::model::{AccountId, ProfileChange};

use crate::error::{ApiError, Problem};
use crate::extract::{
    ApiJson, Authenticated, AuthenticatedOrEnrolling, AvatarUpload, ClientInfo, CurrentSession,
    Mount, PathParam,
};
use crate::state::AccountsState;
use crate::views::{
    AccountBody, ChangeEmailRequest, ChangePasswordRequest, DeleteAccountRequest, ExportBody,
    Image, RecoveryEmailRequest, StatusBody, UpdateAccountRequest,
};

/// The signed-in account. A personal API token of either scope may read it.
#[utoipa::path(
    get,
    path = "/api/account",
    tag = "account",
    responses(
        (status = 200, description = "The account", body = AccountBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`network_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn get_account(
    State(state): State<AccountsState>,
    // Open to a session that may only enrol a second factor: the settings page needs it.
    AuthenticatedOrEnrolling(account, factors): AuthenticatedOrEnrolling,
    mount: Mount,
) -> Result<Json<AccountBody>, ApiError> {
    // A session brought the second factors in its one read; a token did not.
    Ok(Json(match factors {
        Some(factors) => AccountBody::with_second_factors(&account, factors, &mount),
        None => AccountBody::load(&state.accounts, &account, &mount).await?,
    }))
}

/// Changes the display name and/or the language. Fields left out stay as they are;
/// `"language": null` clears the language. A `write` personal API token may do it.
#[utoipa::path(
    patch,
    path = "/api/account",
    tag = "account",
    request_body = UpdateAccountRequest,
    responses(
        (status = 200, description = "The account after the change", body = AccountBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`profile_locked`; `managed_by_directory`; `csrf_refused`; `insufficient_scope`: a read token; `network_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn update_account(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    me: Authenticated,
    mount: Mount,
    ApiJson(body): ApiJson<UpdateAccountRequest>,
) -> Result<Json<AccountBody>, ApiError> {
    let change = ProfileChange {
        display_name: body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(Error::from)?,
        language: body
            .language
            .map(|l| l.as_deref().map(Language::parse).transpose())
            .transpose()
            .map_err(Error::from)?,
    };
    let account = state
        .accounts
        .update_profile(me.account.id, change, &info)
        .await?;
    Ok(Json(
        AccountBody::load(&state.accounts, &account, &mount).await?,
    ))
}

/// Starts changing the primary address: a link goes to the new address and a notice to
/// the old one. The address changes when the link is opened
/// (`POST /api/auth/email/verify`). Needs a recent authentication.
#[utoipa::path(
    post,
    path = "/api/account/email",
    tag = "account",
    request_body = ChangeEmailRequest,
    responses(
        (status = 202, description = "A link was mailed to the new address", body = StatusBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `profile_locked`; `managed_by_directory`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn change_email(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<ChangeEmailRequest>,
) -> Result<(StatusCode, Json<StatusBody>), ApiError> {
    let email = EmailAddress::parse(&body.email).map_err(Error::from)?;
    state
        .accounts
        .request_email_change(&session, email, &info)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(StatusBody::ACCEPTED)))
}

/// Sets the password-recovery address (a link goes there first; 202) or, with `null`,
/// removes it at once (200). Needs a recent authentication.
#[utoipa::path(
    put,
    path = "/api/account/recovery-email",
    tag = "account",
    request_body = RecoveryEmailRequest,
    responses(
        (status = 200, description = "The recovery address was removed", body = StatusBody),
        (status = 202, description = "A link was mailed to the recovery address", body = StatusBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `profile_locked`; `managed_by_directory`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn set_recovery_email(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<RecoveryEmailRequest>,
) -> Result<(StatusCode, Json<StatusBody>), ApiError> {
    let Some(email) = body.email else {
        return Err(ApiError::MalformedJson {
            field: Some("email".to_owned()),
        });
    };
    let email = email
        .as_deref()
        .map(EmailAddress::parse)
        .transpose()
        .map_err(Error::from)?;
    let removing = email.is_none();
    state
        .accounts
        .set_recovery_email(&session, email, &info)
        .await?;
    Ok(if removing {
        (StatusCode::OK, Json(StatusBody::OK))
    } else {
        (StatusCode::ACCEPTED, Json(StatusBody::ACCEPTED))
    })
}

/// Changes the password; the current password is required. Every other session ends and
/// this one gets a new token.
#[utoipa::path(
    put,
    path = "/api/account/password",
    tag = "account",
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "The password is changed; a new session cookie is set", body = StatusBody,
            headers(("set-cookie" = String, description = "The session cookie, with a new token"))),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`current_password_incorrect`; `managed_by_directory`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn change_password(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<Response, ApiError> {
    let signed_in = state
        .accounts
        .change_password(&session, &body.current_password, &body.new_password, &info)
        .await?;
    let cookie = state.session_cookie(&signed_in.session, &signed_in.token);
    Ok((cookie, Json(StatusBody::OK)).into_response())
}

/// Sets the avatar from a PNG, JPEG or WebP image (the raw bytes as the body, at most
/// 1 MiB). The image is judged by its bytes, and stored re-encoded as a square of at most
/// 256×256 without metadata. A `write` personal API token may do it.
#[utoipa::path(
    put,
    path = "/api/account/avatar",
    tag = "account",
    request_body(description = "The image", content((Image = "image/png"), (Image = "image/jpeg"), (Image = "image/webp"))),
    responses(
        (status = 200, description = "The account with its new avatar", body = AccountBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`; `insufficient_scope`: a read token; `network_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`; `invalid_avatar` with reason `avatar_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`; `invalid_avatar` with reason `avatar_unsupported_format`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_avatar` (`avatar_dimensions_too_large`, `avatar_undecodable`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: the decoders are busy, or the account uploaded ten avatars this minute; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn put_avatar(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    me: Authenticated,
    mount: Mount,
    AvatarUpload(bytes): AvatarUpload,
) -> Result<Json<AccountBody>, ApiError> {
    let account = state
        .accounts
        .set_avatar(me.account.id, bytes.to_vec(), &info)
        .await?;
    Ok(Json(
        AccountBody::load(&state.accounts, &account, &mount).await?,
    ))
}

/// Removes the avatar. A `write` personal API token may do it.
#[utoipa::path(
    delete,
    path = "/api/account/avatar",
    tag = "account",
    responses(
        (status = 200, description = "The account without an avatar", body = AccountBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_refused`; `insufficient_scope`: a read token; `network_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn delete_avatar(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    me: Authenticated,
    mount: Mount,
) -> Result<Json<AccountBody>, ApiError> {
    let account = state.accounts.remove_avatar(me.account.id, &info).await?;
    Ok(Json(
        AccountBody::load(&state.accounts, &account, &mount).await?,
    ))
}

/// An account's avatar, for any signed-in user. The URL in `avatar_url` carries a
/// version (`?v=`), so the image may be cached privately for five minutes.
#[utoipa::path(
    get,
    path = "/api/users/{id}/avatar",
    tag = "account",
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The image", content((Image = "image/png"), (Image = "image/jpeg"), (Image = "image/webp"))),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account, or no avatar", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn get_avatar(
    State(state): State<AccountsState>,
    _viewer: CurrentSession,
    PathParam(id): PathParam<AccountId>,
) -> Result<Response, ApiError> {
    let avatar = state.accounts.avatar(id).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(avatar.content_type()),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            ),
        ],
        avatar.bytes,
    )
        .into_response())
}

/// Deletes the signed-in user's account for good. It needs a recent authentication with
/// the account's strongest factor and the username typed again. The account and
/// everything that authenticated it (password, passkeys, TOTP, recovery codes, sessions,
/// tokens, app passwords, SSH keys, pending links) are gone in one step; the username is
/// never given out again; every address gets a notice. The answer signs the browser out.
#[utoipa::path(
    delete,
    path = "/api/account",
    tag = "account",
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "The account is gone; the session cookie is cleared"),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `session_required`: not with a personal API token; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`deletion_refused`: the application keeps the account (the detail says why); `last_admin`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` with reason `confirm_username_mismatch`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn delete_account(
    State(state): State<AccountsState>,
    CurrentSession(session): CurrentSession,
    ClientInfo(info): ClientInfo,
    ApiJson(body): ApiJson<DeleteAccountRequest>,
) -> Result<Response, ApiError> {
    state
        .accounts
        .delete_own_account(&session, &body.confirm_username, &info)
        .await?;
    Ok(crate::routes::auth::signed_out(&state))
}

/// Everything kept of the signed-in user's account, as JSON: profile, addresses,
/// second factors, passkeys, sessions, tokens, app passwords, SSH keys and the whole
/// security log. No secret is in it. Served as a download.
#[utoipa::path(
    get,
    path = "/api/account/export",
    tag = "account",
    responses(
        (status = 200, description = "The account's data", body = ExportBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`session_required`: not with a personal API token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn export_account(
    State(state): State<AccountsState>,
    CurrentSession(session): CurrentSession,
    mount: Mount,
) -> Result<Response, ApiError> {
    let export = state.accounts.export_account(&session).await?;
    let body = ExportBody {
        exported_at: export.exported_at,
        account: AccountBody::with_second_factors(&export.account, export.second_factors, &mount),
        passkeys: export.passkeys.iter().map(Into::into).collect(),
        sessions: export.sessions.into_iter().map(Into::into).collect(),
        api_tokens: export.api_tokens.iter().map(Into::into).collect(),
        app_passwords: export.app_passwords.iter().map(Into::into).collect(),
        ssh_keys: export.ssh_keys.iter().map(Into::into).collect(),
        security_events: export.security_events.into_iter().map(Into::into).collect(),
    };
    let name = format!(
        "attachment; filename=\"account-{}.json\"",
        export.account.username
    );
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static("attachment")),
        )],
        Json(body),
    )
        .into_response())
}
