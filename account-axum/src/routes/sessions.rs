//! The signed-in account's sessions and its security log.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use account_core::MAX_EVENT_PAGE;
use account_core::model::{EventFilter, EventPage, SecurityEventKind, SessionId};
use chrono::{DateTime, Utc};

use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, ClientInfo, CurrentAccount, PathParam};
use crate::routes::auth::signed_out;
use crate::state::AccountsState;
use crate::views::{RevokedBody, SecurityEventBody, SessionBody, decode_cursor};

/// The events of a page of the security log when the client does not say.
const DEFAULT_EVENT_PAGE: u32 = 50;

/// The account's live sessions, newest first, with the current one marked. A personal API
/// token of either scope may list them (and then none is current); ending them needs the
/// session cookie.
#[utoipa::path(
    get,
    path = "/api/account/sessions",
    tag = "sessions",
    responses(
        (status = 200, description = "The sessions", body = Vec<SessionBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`network_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn list_sessions(
    State(state): State<AccountsState>,
    me: Authenticated,
) -> Result<Json<Vec<SessionBody>>, ApiError> {
    let current = me.session().map(|s| s.id);
    let sessions = state.accounts.sessions(me.account.id, current).await?;
    Ok(Json(sessions.into_iter().map(SessionBody::from).collect()))
}

/// Ends one session. Ending another session needs a recent authentication; ending the
/// current one is a logout (and clears the cookie).
#[utoipa::path(
    delete,
    path = "/api/account/sessions/{id}",
    tag = "sessions",
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    responses(
        (status = 204, description = "The session ended"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has no such session", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn revoke_session(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    me: CurrentAccount,
    PathParam(id): PathParam<SessionId>,
) -> Result<Response, ApiError> {
    state
        .accounts
        .revoke_session(&me.session, id, &info)
        .await?;
    if id == me.session.id {
        return Ok(signed_out(&state));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ends every session of the account but the current one. Needs a recent
/// authentication.
#[utoipa::path(
    delete,
    path = "/api/account/sessions",
    tag = "sessions",
    responses(
        (status = 200, description = "How many sessions ended", body = RevokedBody),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`; `csrf_refused`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []))
)]
pub(crate) async fn revoke_other_sessions(
    State(state): State<AccountsState>,
    ClientInfo(info): ClientInfo,
    me: CurrentAccount,
) -> Result<Json<RevokedBody>, ApiError> {
    let revoked = state
        .accounts
        .revoke_other_sessions(&me.session, &info)
        .await?;
    Ok(Json(RevokedBody { revoked }))
}

/// A page of the account's security log, newest first. A personal API token of either
/// scope may read it.
#[utoipa::path(
    get,
    path = "/api/account/security-events",
    tag = "sessions",
    params(
        ("limit" = Option<u32>, Query, description = "Events per page: 50 by default, at most 200 (more is capped)"),
        ("before" = Option<String>, Query, description = "The `cursor` of the last event of the previous page"),
    ),
    responses(
        (status = 200, description = "The events", body = Vec<SecurityEventBody>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`network_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` for `limit` or `before`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub(crate) async fn security_events(
    State(state): State<AccountsState>,
    me: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<SecurityEventBody>>, ApiError> {
    let (_, page) = event_page(query.as_deref(), false)?;
    let events = state
        .accounts
        .security_events(EventFilter::account(me.account.id), page)
        .await?;
    Ok(Json(
        events.into_iter().map(SecurityEventBody::from).collect(),
    ))
}

/// The page (`limit`, `before`) and, for an administrator's view (`filters`), the filters
/// (`kind`, `since`) a query string asks for. Anything else is ignored.
pub(crate) fn event_page(
    query: Option<&str>,
    filters: bool,
) -> Result<(EventFilter, EventPage), ApiError> {
    let mut filter = EventFilter::default();
    let mut page = EventPage {
        before: None,
        limit: DEFAULT_EVENT_PAGE,
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let bad = |name| ApiError::InvalidParameter { name };
        match &*key {
            "limit" => {
                let limit: u32 = value.parse().map_err(|_| bad("limit"))?;
                page.limit = limit.clamp(1, MAX_EVENT_PAGE);
            }
            "before" => page.before = Some(decode_cursor(&value).ok_or(bad("before"))?),
            "kind" if filters => {
                filter.kind = Some(SecurityEventKind::parse(&value).ok_or(bad("kind"))?);
            }
            "since" if filters => {
                let since = DateTime::parse_from_rfc3339(&value).map_err(|_| bad("since"))?;
                filter.since = Some(since.with_timezone(&Utc));
            }
            _ => {}
        }
    }
    Ok((filter, page))
}
