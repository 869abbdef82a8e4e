//! The signed-in account's SSH keys, for a host's SSH server (a git server, say), which
//! finds a key's owner with
//! [`Accounts::ssh_key_owner`](account_core::Accounts::ssh_key_owner).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use account_core::model::SshKeyId;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Authenticated, ClientInfo, CurrentSession, PathParam};
use crate::state::AccountsState;
use crate::views::{NewSshKeyRequest, SshKeyBody};

/// The account's SSH keys, oldest first.
#[utoipa::path(
    get,
    path = "/api/account/ssh-keys",
    tag = "access",
    responses(
        (status = 200, description = "The keys", body = Vec<SshKeyBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`network_not_allowed`; `second_factor_enrollment_required`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn list_ssh_keys(
    State(state): State<AccountsState>,
    me: Authenticated,
) -> Result<Json<Vec<SshKeyBody>>, ApiError> {
    let keys = state.accounts.ssh_keys(me.account.id).await?;
    Ok(Json(keys.iter().map(SshKeyBody::from).collect()))
}

/// Adds an SSH key from one OpenSSH public-key line. A key can be on one account only.
/// Needs a recent authentication and the session cookie. The account's addresses are told
/// by mail.
#[utoipa::path(
    post,
    path = "/api/account/ssh-keys",
    tag = "access",
    request_body = NewSshKeyRequest,
    responses(
        (status = 201, description = "The key", body = SshKeyBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `session_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ssh_key_in_use`: the key is on an account already; `too_many_ssh_keys`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_ssh_key` with a reason (`ssh_key_too_weak`, `ssh_key_unsupported_type`, `ssh_key_malformed`, ...); `validation_failed` on `name`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn add_ssh_key(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<NewSshKeyRequest>,
) -> Result<(StatusCode, Json<SshKeyBody>), ApiError> {
    let key = state
        .accounts
        .add_ssh_key(&session, &body.name, &body.public_key, &info)
        .await?;
    Ok((StatusCode::CREATED, Json(SshKeyBody::from(&key))))
}

/// Removes an SSH key. Needs the session cookie.
#[utoipa::path(
    delete,
    path = "/api/account/ssh-keys/{id}",
    tag = "access",
    params(("id" = uuid::Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "The key is removed"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`session_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has no such key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn delete_ssh_key(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    PathParam(id): PathParam<SshKeyId>,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_ssh_key(&session, id, &info).await?;
    Ok(StatusCode::NO_CONTENT)
}
