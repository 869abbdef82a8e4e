//! The administrator's routes.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use account_core::domain::{DisplayName, EmailAddress, Username};
use account_core::model::{AccountId, AccountQuery, AccountSource, AccountState, Role, SourceKind};
use account_core::policy::Policy;
use account_core::{AccountChangeByAdmin, NewAccountByAdmin};

use crate::error::{ApiError, Problem};
use crate::extract::{AdminAccount, ApiJson, ClientInfo, Mount, PathParam};
use crate::routes::sessions::event_page;
use crate::state::AccountsState;
use crate::views::{
    AccountBody, CreateUserRequest, ResetBody, SecurityEventBody, UpdateUserRequest, UserBody,
    UserDetailsBody, UserPageBody, decode_account_cursor, encode_account_cursor,
};

/// Accounts per page of the list unless `limit` says otherwise.
const DEFAULT_USER_PAGE: u32 = 50;

/// The accounts, oldest first, a page at a time: searched by a case-insensitive part of
/// the username, the address or the display name, and filtered by state, role and source.
/// Never a secret.
#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    params(
        ("q" = Option<String>, Query, description = "A part of the username, address or display name, in any case"),
        ("state" = Option<String>, Query, description = "`active` or `disabled`"),
        ("role" = Option<String>, Query, description = "`user` or `admin`"),
        ("source" = Option<String>, Query, description = "`local` or `external`"),
        ("limit" = Option<u32>, Query, description = "Accounts per page: 50 by default, at most 200 (more is capped)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of accounts", body = UserPageBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` for a parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn list_users(
    State(state): State<AccountsState>,
    _admin: AdminAccount,
    RawQuery(query): RawQuery,
) -> Result<Json<UserPageBody>, ApiError> {
    let mut q = AccountQuery {
        limit: DEFAULT_USER_PAGE,
        ..AccountQuery::default()
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let bad = |name| ApiError::InvalidParameter { name };
        match &*key {
            "q" => q.search = AccountQuery::search(&value),
            "state" => q.state = Some(AccountState::parse(&value).ok_or(bad("state"))?),
            "role" => q.role = Some(Role::parse(&value).ok_or(bad("role"))?),
            "source" => {
                q.source = Some(match &*value {
                    "local" => SourceKind::Local,
                    "external" => SourceKind::External,
                    _ => return Err(bad("source")),
                });
            }
            "limit" => q.limit = value.parse().map_err(|_| bad("limit"))?,
            "cursor" => q.after = Some(decode_account_cursor(&value).ok_or(bad("cursor"))?),
            _ => {}
        }
    }
    let page = state.accounts.list_accounts(q).await?;
    Ok(Json(UserPageBody {
        users: page.accounts.iter().map(UserBody::from).collect(),
        next_cursor: page.next.as_ref().map(encode_account_cursor),
    }))
}

/// Creates an account. The administrator never sets or sees a password: the person gets
/// a setup link by mail, which lets them choose one and proves the address. An account
/// of an external directory (`directory`) gets no link: the directory checks its
/// password. Needs a recent authentication.
#[utoipa::path(
    post,
    path = "/api/admin/users",
    tag = "admin",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The account", body = AccountBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator; `reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`username_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (reason `email_reserved`: the address has an account)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn create_user(
    State(state): State<AccountsState>,
    AdminAccount(admin): AdminAccount,
    ClientInfo(info): ClientInfo,
    mount: Mount,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<AccountBody>), ApiError> {
    let form = NewAccountByAdmin {
        username: Username::parse(&body.username).map_err(account_core::Error::from)?,
        email: EmailAddress::parse(&body.email).map_err(account_core::Error::from)?,
        display_name: body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(account_core::Error::from)?,
        role: body.role.map_or(Role::User, Into::into),
        source: match body.directory {
            Some(directory) => AccountSource::External { directory },
            None => AccountSource::Local,
        },
    };
    state.accounts.require_fresh(&admin.session).await?;
    let account = state
        .accounts
        .create_account(admin.account.id, form, &info)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountBody::load(&state.accounts, &account, &mount).await?),
    ))
}

/// One account with its second factors, how many sessions are signed in, and its last
/// login.
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The account", body = UserDetailsBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn get_user(
    State(state): State<AccountsState>,
    _admin: AdminAccount,
    mount: Mount,
    PathParam(id): PathParam<AccountId>,
) -> Result<Json<UserDetailsBody>, ApiError> {
    let details = state.accounts.account_details(id).await?;
    Ok(Json(UserDetailsBody {
        account: AccountBody::with_second_factors(&details.account, details.second_factors, &mount),
        live_sessions: details.live_sessions,
        last_login_at: details.last_login_at,
        last_login_method: details.last_login_method,
    }))
}

/// Changes an account: display name and address (also of a locked profile: the lock is
/// for users, not administrators), role, and state. Disabling ends every session at once
/// and stops every token and app password. An administrator can neither demote nor
/// disable themselves, nor the last active administrator. Needs a recent authentication.
#[utoipa::path(
    patch,
    path = "/api/admin/users/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The account as changed", body = AccountBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator; `reauthentication_required`; `managed_by_directory`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`; `own_account`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (reason `email_reserved`: another account has the address)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn update_user(
    State(state): State<AccountsState>,
    AdminAccount(admin): AdminAccount,
    ClientInfo(info): ClientInfo,
    mount: Mount,
    PathParam(id): PathParam<AccountId>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<AccountBody>, ApiError> {
    let change = AccountChangeByAdmin {
        display_name: body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(account_core::Error::from)?,
        email: body
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(account_core::Error::from)?,
        role: body.role.map(Into::into),
        state: body.state.map(Into::into),
    };
    state.accounts.require_fresh(&admin.session).await?;
    let account = state
        .accounts
        .change_account(admin.account.id, id, change, &info)
        .await?;
    Ok(Json(
        AccountBody::load(&state.accounts, &account, &mount).await?,
    ))
}

/// Deletes an account: the same erasure as the owner's own deletion, recorded as done by
/// this administrator. Not the administrator's own account, nor the last active
/// administrator. Needs a recent authentication.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    responses(
        (status = 204, description = "The account is gone"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator; `reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`deletion_refused`: the application keeps the account (the detail says why); `last_admin`; `own_account`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn delete_user(
    State(state): State<AccountsState>,
    AdminAccount(admin): AdminAccount,
    ClientInfo(info): ClientInfo,
    PathParam(id): PathParam<AccountId>,
) -> Result<StatusCode, ApiError> {
    state.accounts.require_fresh(&admin.session).await?;
    state
        .accounts
        .delete_account_as_admin(admin.account.id, id, &info)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of an account (its tokens and app passwords stay: disable the
/// account to stop those too). Needs a recent authentication.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/sessions/revoke",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator; `reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn revoke_user_sessions(
    State(state): State<AccountsState>,
    AdminAccount(admin): AdminAccount,
    ClientInfo(info): ClientInfo,
    PathParam(id): PathParam<AccountId>,
) -> Result<StatusCode, ApiError> {
    state.accounts.require_fresh(&admin.session).await?;
    state
        .accounts
        .revoke_sessions_as_admin(admin.account.id, id, &info)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of one account's security log, newest first.
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/security-events",
    tag = "admin",
    params(
        ("id" = uuid::Uuid, Path, description = "The account's id"),
        ("kind" = Option<String>, Query, description = "Only events of this kind, such as `login_failed`"),
        ("since" = Option<String>, Query, description = "Only events at or after this time (RFC 3339)"),
        ("limit" = Option<u32>, Query, description = "Events per page: 50 by default, at most 200 (more is capped)"),
        ("before" = Option<String>, Query, description = "The `cursor` of the last event of the previous page"),
    ),
    responses(
        (status = 200, description = "The events", body = Vec<SecurityEventBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` for a parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn user_security_events(
    State(state): State<AccountsState>,
    _admin: AdminAccount,
    PathParam(id): PathParam<AccountId>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<SecurityEventBody>>, ApiError> {
    // A deleted account has no account but still its deletion record.
    let (mut filter, page) = event_page(query.as_deref(), true)?;
    filter.account = Some(id);
    let events = state.accounts.security_events(filter, page).await?;
    if events.is_empty() && page.before.is_none() {
        state.accounts.account(id).await?;
    }
    Ok(Json(events.into_iter().map(Into::into).collect()))
}

/// A page of every account's security log, newest first: logins, changes, deletions.
#[utoipa::path(
    get,
    path = "/api/admin/security-events",
    tag = "admin",
    params(
        ("kind" = Option<String>, Query, description = "Only events of this kind, such as `account_deleted`"),
        ("since" = Option<String>, Query, description = "Only events at or after this time (RFC 3339)"),
        ("limit" = Option<u32>, Query, description = "Events per page: 50 by default, at most 200 (more is capped)"),
        ("before" = Option<String>, Query, description = "The `cursor` of the last event of the previous page"),
    ),
    responses(
        (status = 200, description = "The events", body = Vec<SecurityEventBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` for a parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn all_security_events(
    State(state): State<AccountsState>,
    _admin: AdminAccount,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<SecurityEventBody>>, ApiError> {
    let (filter, page) = event_page(query.as_deref(), true)?;
    let events = state.accounts.security_events(filter, page).await?;
    Ok(Json(events.into_iter().map(Into::into).collect()))
}

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
    /// Whether a login from a device and network not seen on the account before mails a
    /// notice to its addresses.
    sign_in_notices: bool,
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
