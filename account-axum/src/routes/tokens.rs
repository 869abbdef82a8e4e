//! The signed-in account's personal API tokens.
//!
//! Listing is open to the tokens themselves (a `read` token may list); creating,
//! regenerating and deleting need the session cookie, so that a leaked token can neither
//! make more tokens nor keep itself alive.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use account_core::domain::{Field, Rule, ValidationError};
use account_core::model::{ApiTokenId, TokenScope};
use account_core::{Error, NewApiToken, parse_network};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Authenticated, ClientInfo, CurrentSession, PathParam};
use crate::state::AccountsState;
use crate::views::{ApiTokenBody, CreatedApiTokenBody, NewApiTokenRequest};

/// The account's personal API tokens, oldest first. Never the tokens themselves: only
/// their last four characters.
#[utoipa::path(
    get,
    path = "/api/account/tokens",
    tag = "access",
    responses(
        (status = 200, description = "The tokens", body = Vec<ApiTokenBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`network_not_allowed`; `second_factor_enrollment_required`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn list_tokens(
    State(state): State<AccountsState>,
    me: Authenticated,
) -> Result<Json<Vec<ApiTokenBody>>, ApiError> {
    let tokens = state.accounts.api_tokens(me.account.id).await?;
    Ok(Json(tokens.iter().map(ApiTokenBody::from).collect()))
}

/// Creates a personal API token; the answer holds the token, shown this once. Needs a
/// recent authentication and the session cookie (no token can make another). The
/// account's addresses are told by mail.
#[utoipa::path(
    post,
    path = "/api/account/tokens",
    tag = "access",
    request_body = NewApiTokenRequest,
    responses(
        (status = 201, description = "The token, with its secret this once", body = CreatedApiTokenBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `session_required`: a token cannot make tokens; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`too_many_api_tokens`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `name`, `scope`, `allowed_networks` or `expires_at`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn create_token(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<NewApiTokenRequest>,
) -> Result<(StatusCode, Json<CreatedApiTokenBody>), ApiError> {
    let new = NewApiToken {
        name: body.name,
        scope: body
            .scope
            .parse::<TokenScope>()
            .map_err(|_| ApiError::InvalidParameter { name: "scope" })?,
        allowed_networks: body
            .allowed_networks
            .unwrap_or_default()
            .iter()
            .map(|text| parse_network(text))
            .collect::<Result<_, _>>()
            .map_err(Error::from)?,
        expires_at: body.expires_at.as_deref().map(parse_expiry).transpose()?,
    };
    let created = state
        .accounts
        .create_api_token(&session, new, &info)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiTokenBody::from(&created)),
    ))
}

/// Gives a token a new secret with the same settings; the old one stops working at once.
/// The answer holds the new token, shown this once. Needs a recent authentication and the
/// session cookie.
#[utoipa::path(
    post,
    path = "/api/account/tokens/{id}/regenerate",
    tag = "access",
    params(("id" = uuid::Uuid, Path, description = "The token's id")),
    responses(
        (status = 200, description = "The token, with its new secret this once", body = CreatedApiTokenBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `session_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has no such token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn regenerate_token(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    PathParam(id): PathParam<ApiTokenId>,
) -> Result<Json<CreatedApiTokenBody>, ApiError> {
    let created = state
        .accounts
        .regenerate_api_token(&session, id, &info)
        .await?;
    Ok(Json(CreatedApiTokenBody::from(&created)))
}

/// Deletes a token; it stops working at once. Needs the session cookie (no recent
/// authentication: taking access away is always safe).
#[utoipa::path(
    delete,
    path = "/api/account/tokens/{id}",
    tag = "access",
    params(("id" = uuid::Uuid, Path, description = "The token's id")),
    responses(
        (status = 204, description = "The token is deleted"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`session_required`; `second_factor_enrollment_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has no such token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn delete_token(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    CurrentSession(session): CurrentSession,
    PathParam(id): PathParam<ApiTokenId>,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_api_token(&session, id, &info).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An expiry as RFC 3339 (`2026-12-31T23:59:59Z`, any offset); anything else is a
/// validation error on `expires_at`, like an expiry in the past.
fn parse_expiry(text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            Error::from(ValidationError {
                field: Field::ExpiresAt,
                rule: Rule::InvalidSyntax,
            })
            .into()
        })
}
