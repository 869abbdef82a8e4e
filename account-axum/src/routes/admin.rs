//! The administrator's routes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use account_core::model::AccountId;
use account_core::policy::Policy;

use crate::error::{ApiError, Problem};
use crate::extract::{AdminAccount, ApiJson, ClientInfo, PathParam};
use crate::state::AccountsState;
use crate::views::ResetBody;

/// Removes every second factor of an account (TOTP, recovery codes, passkeys) and ends
/// its sessions, for a user who lost their device. The event is recorded on both accounts
/// and the user is told by mail. Needs a recent authentication.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/reset-2fa",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "How many authenticators were removed", body = ResetBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator; `reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn reset_second_factors(
    State(state): State<AccountsState>,
    AdminAccount(admin): AdminAccount,
    ClientInfo(info): ClientInfo,
    PathParam(id): PathParam<AccountId>,
) -> Result<Json<ResetBody>, ApiError> {
    state.accounts.require_fresh(&admin.session).await?;
    let removed = state
        .accounts
        .reset_second_factors(admin.account.id, id, &info)
        .await?;
    Ok(Json(ResetBody { removed }))
}

/// The policy in force: the stored one, or the configured default.
#[utoipa::path(
    get,
    path = "/api/admin/policy",
    tag = "admin",
    responses(
        (status = 200, description = "The policy", body = PolicyBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn get_policy(
    State(state): State<AccountsState>,
    _admin: AdminAccount,
) -> Result<Json<Policy>, ApiError> {
    Ok(Json(state.accounts.policy().await?))
}

/// Replaces the policy after checking it. Fields left out take their defaults. Needs a
/// recent authentication: the policy decides how every account is protected.
#[utoipa::path(
    put,
    path = "/api/admin/policy",
    tag = "admin",
    request_body = PolicyBody,
    responses(
        (status = 200, description = "The policy as stored", body = PolicyBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator; `reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_policy`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn put_policy(
    State(state): State<AccountsState>,
    AdminAccount(admin): AdminAccount,
    ClientInfo(info): ClientInfo,
    ApiJson(policy): ApiJson<Policy>,
) -> Result<Json<Policy>, ApiError> {
    state.accounts.require_fresh(&admin.session).await?;
    let stored = state
        .accounts
        .set_policy(admin.account.id, policy, &info)
        .await?;
    Ok(Json(stored))
}

// The core's `Policy` has no OpenAPI schema (the core knows nothing of HTTP), so its shape
// is described here; a test checks that the two stay the same.

/// Rules an administrator sets for every account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Policy)]
#[allow(dead_code, reason = "a schema only; never built")]
pub(crate) struct PolicyBody {
    /// Whether people may create their own accounts.
    allow_signup: bool,
    /// Whether self sign-up may take reserved usernames such as `admin`.
    allow_reserved_usernames: bool,
    /// Whether users are kept from changing their display name and email addresses.
    lock_profiles: bool,
    /// Whether every account must set up a second factor.
    require_second_factor: bool,
    /// Whether the external directory supplies the second factor of its accounts (they
    /// cannot enrol one here).
    directory_provides_second_factor: bool,
    /// Session lifetimes and the re-authentication window.
    sessions: SessionPolicyBody,
    /// Password rules.
    passwords: PasswordRulesBody,
}

/// How long sessions live, in seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SessionPolicy)]
#[allow(dead_code, reason = "a schema only; never built")]
pub(crate) struct SessionPolicyBody {
    /// How long a session may stay unused (60 s to 366 days; 3600 by default).
    idle_timeout_secs: i64,
    /// How long a session may live however it is used (60 s to 366 days; 86400 by default).
    absolute_timeout_secs: i64,
    /// How recent an authentication must be for a sensitive action (30 s to 24 h; 600 by
    /// default).
    reauthentication_window_secs: i64,
}

/// The length rules for new passwords, in code points.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PasswordRules)]
#[allow(dead_code, reason = "a schema only; never built")]
pub(crate) struct PasswordRulesBody {
    /// The minimum length (at least 8).
    min_length: usize,
    /// The minimum when `strict_single_factor` is on and the account has no second factor.
    min_length_single_factor: usize,
    /// Whether single-factor accounts need `min_length_single_factor` characters.
    strict_single_factor: bool,
    /// The maximum length (at least 64).
    max_length: usize,
}
