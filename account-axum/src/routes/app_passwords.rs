//! The signed-in account's app passwords, for clients that can only send a username and a
//! password. A host accepts them on its own routes with
//! [`AppPasswordAuth`](crate::AppPasswordAuth).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use account_core::model::AppPasswordId;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Authenticated, ClientInfo, CurrentSession, PathParam};
use crate::state::AccountsState;
use crate::views::{AppPasswordBody, CreatedAppPasswordBody, NewAppPasswordRequest};

/// The account's app passwords, oldest first. Never the passwords themselves.
#[utoipa::path(
    get,
    path = "/api/account/app-passwords",
    tag = "access",
    responses(
        (status = 200, description = "The app passwords", body = Vec<AppPasswordBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`network_not_allowed`; `second_factor_enrollment_required`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn list_app_passwords(
    State(state): State<AccountsState>,
    me: Authenticated,
) -> Result<Json<Vec<AppPasswordBody>>, ApiError> {
    let found = state.accounts.app_passwords(me.account.id).await?;
    Ok(Json(found.iter().map(AppPasswordBody::from).collect()))
}

/// Creates an app password; the answer holds the password, shown this once. Needs a
/// recent authentication and the session cookie. The account's addresses are told by
/// mail.
#[utoipa::path(
    post,
    path = "/api/account/app-passwords",
    tag = "access",
    request_body = NewAppPasswordRequest,
    responses(
        (status = 201, description = "The app password, with the password this once", body = CreatedAppPasswordBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `session_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`too_many_app_passwords`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `name`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn create_app_password(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<NewAppPasswordRequest>,
) -> Result<(StatusCode, Json<CreatedAppPasswordBody>), ApiError> {
    let created = state
        .accounts
        .create_app_password(&session, &body.name, &info)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAppPasswordBody::from(&created)),
    ))
}

/// Revokes an app password; it stops working at once. Needs the session cookie.
#[utoipa::path(
    delete,
    path = "/api/account/app-passwords/{id}",
    tag = "access",
    params(("id" = uuid::Uuid, Path, description = "The app password's id")),
    responses(
        (status = 204, description = "The app password is revoked"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`session_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has no such app password", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn revoke_app_password(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    PathParam(id): PathParam<AppPasswordId>,
) -> Result<StatusCode, ApiError> {
    state
        .accounts
        .revoke_app_password(&session, id, &info)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
