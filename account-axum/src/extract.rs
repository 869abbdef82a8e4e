//! Extractors: the signed-in session and account, administrators, and where a request
//! came from — for this crate's routes and for a host's own handlers.
//!
//! Each works with any state `S` for which `AccountsState: FromRef<S>`, and rejects with
//! a problem+json [`ApiError`].
//!
//! The session extractors here read the session cookie only. A request that has no
//! session but carries a personal API token is told so: 403 `session_required` for a
//! valid token, so that no token can reach a route that takes one of them. The routes that
//! tokens may use take [`Authenticated`] (`token.rs`); a host's routes for mail, CalDAV or
//! git clients take [`AppPasswordAuth`] (`app_password.rs`).

mod app_password;
mod token;

pub use app_password::AppPasswordAuth;
pub(crate) use app_password::{Basic, basic_credentials};
pub use token::{Authenticated, AuthenticatedBy};
pub(crate) use token::{AuthenticatedOrEnrolling, bearer_token};

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{
    FromRef, FromRequest, FromRequestParts, NestedPath, OptionalFromRequestParts, Path, Request,
};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use account_core::device::ClientHints;
use account_core::model::{Account, Role};
use account_core::{Error, RequestInfo, SignedInSession};

use crate::client_ip::ClientIp;
use crate::cookie::cookie_value;
use crate::csrf;
use crate::error::ApiError;
use crate::state::AccountsState;

/// The signed-in session: the session cookie, validated by
/// [`Accounts::authenticate`](account_core::Accounts::authenticate) into a
/// [`SignedInSession`], which every service that acts for a signed-in user takes.
///
/// Rejects with 401 `unauthenticated` when the cookie is absent, malformed, unknown,
/// expired or revoked (or names a login still waiting for its second factor), with 403
/// `second_factor_enrollment_required` when the "require 2FA" policy restricts the session
/// to enrolling a second factor (see [`EnrollingSession`]), and — for unsafe methods — with
/// 403 `csrf_refused` when another site made the browser send the request (see the crate's
/// CSRF rules). Without a session
/// but with `Authorization: Bearer`, it rejects a valid token with 403 `session_required`
/// and a bad one with 401 (`WWW-Authenticate: Bearer error="invalid_token"`) or 403
/// `network_not_allowed`: no personal API token can use a route that takes it. It does not
/// read the account; use [`CurrentAccount`] when the handler needs it (or needs it active).
///
/// `Option<CurrentSession>` answers `None` instead of rejecting for a missing or invalid
/// session (a storage failure and a session restricted to enrolling are still errors).
///
/// ```
/// use account_axum::CurrentSession;
///
/// async fn my_sessions_id(CurrentSession(session): CurrentSession) -> String {
///     session.id.to_string()
/// }
/// # let _: axum::routing::MethodRouter<account_axum::AccountsState> = axum::routing::get(my_sessions_id);
/// ```
#[derive(Debug, Clone)]
pub struct CurrentSession(pub SignedInSession);

/// The signed-in account and its session: [`CurrentSession`], then the account, which must
/// exist and be active.
///
/// Rejects like [`CurrentSession`], and with 401 `unauthenticated` when the account is
/// gone or disabled.
///
/// ```
/// use account_axum::CurrentAccount;
///
/// async fn hello(me: CurrentAccount) -> String {
///     format!("Hello, {}!", me.account.display_name)
/// }
/// # let _: axum::routing::MethodRouter<account_axum::AccountsState> = axum::routing::get(hello);
/// ```
#[derive(Debug, Clone)]
pub struct CurrentAccount {
    /// The account.
    pub account: Account,
    /// The session the request came with.
    pub session: SignedInSession,
}

/// A signed-in administrator: [`CurrentAccount`] whose role is
/// [`Role::Admin`](account_core::model::Role::Admin).
///
/// Rejects like [`CurrentAccount`], and with 403 `forbidden` for any other role.
#[derive(Debug, Clone)]
pub struct AdminAccount(pub CurrentAccount);

/// Where the request came from, as the services want it
/// ([`RequestInfo`](account_core::RequestInfo)): the client IP (see the crate docs on
/// trusted proxies), the `User-Agent`, and the User-Agent Client Hints
/// (`Sec-CH-UA-Platform`, `Sec-CH-UA-Arch`, `Sec-CH-UA-Model`, `Sec-CH-UA`).
///
/// Never rejects.
#[derive(Debug, Clone)]
pub struct ClientInfo(pub RequestInfo);

impl<S> FromRequestParts<S> for CurrentSession
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await? {
            Some(session) => Ok(session),
            None => Err(token::no_session(parts, &AccountsState::from_ref(state)).await),
        }
    }
}

impl<S> OptionalFromRequestParts<S> for CurrentSession
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, ApiError> {
        // A handler that takes several session extractors validates once. The cached value
        // is as good as a new one: only session validation makes its sessions.
        if let Some(found) = parts.extensions.get::<account_core::EnrollingSession>() {
            return match found {
                account_core::EnrollingSession::SignedIn(session) => {
                    Ok(Some(CurrentSession(session.clone())))
                }
                account_core::EnrollingSession::EnrollmentOnly(_) => {
                    Err(Error::SecondFactorEnrollmentRequired.into())
                }
            };
        }
        let state = AccountsState::from_ref(state);
        let Some(token) = cookie_token(parts, &state)? else {
            return Ok(None);
        };
        // `authenticate` refuses a session still waiting for its second factor (401) and,
        // where the "require 2FA" policy applies, one that may only enrol a second factor
        // (403 `second_factor_enrollment_required`): every route that takes a
        // `CurrentSession` is closed to both. The few routes an enrolling session may use
        // take `EnrollingSession`.
        match state.accounts.authenticate(token).await {
            Ok(session) => {
                parts
                    .extensions
                    .insert(account_core::EnrollingSession::from(session.clone()));
                Ok(Some(CurrentSession(session)))
            }
            Err(Error::Unauthenticated) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// A signed-in session that may also be one the "require 2FA" policy restricts to enrolling
/// a second factor ([`account_core::EnrollingSession`], from
/// [`Accounts::authenticate_enrolling`](account_core::Accounts::authenticate_enrolling)):
/// for the few routes such a session may use (the account read-out, logout,
/// re-authentication, TOTP and passkey enrolment).
///
/// Rejects like [`CurrentSession`] otherwise; [`CurrentSession`] itself refuses a
/// restricted session with 403 `second_factor_enrollment_required`.
#[derive(Debug, Clone)]
pub struct EnrollingSession(pub account_core::EnrollingSession);

impl<S> FromRequestParts<S> for EnrollingSession
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await? {
            Some(session) => Ok(session),
            None => Err(token::no_session(parts, &AccountsState::from_ref(state)).await),
        }
    }
}

impl<S> OptionalFromRequestParts<S> for EnrollingSession
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, ApiError> {
        // A handler that takes several session extractors validates once.
        if let Some(found) = parts.extensions.get::<account_core::EnrollingSession>() {
            return Ok(Some(EnrollingSession(found.clone())));
        }
        let state = AccountsState::from_ref(state);
        let Some(token) = cookie_token(parts, &state)? else {
            return Ok(None);
        };
        // `authenticate_enrolling` refuses a session still waiting for its second factor.
        match state.accounts.authenticate_enrolling(token).await {
            Ok(session) => {
                parts.extensions.insert(session.clone());
                Ok(Some(EnrollingSession(session)))
            }
            Err(Error::Unauthenticated) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The session cookie's token, after the CSRF check that every cookie extractor makes
/// first (an unsafe request from another site is refused whether or not it has a cookie).
fn cookie_token<'a>(parts: &'a Parts, state: &AccountsState) -> Result<Option<&'a str>, ApiError> {
    csrf::check(&parts.method, &parts.headers, &state.settings)?;
    Ok(cookie_value(&parts.headers, &state.settings.cookie_name))
}

/// A login waiting for its second factor: the pending session the session cookie names
/// after a right password, validated by
/// [`Accounts::authenticate_pending`](account_core::Accounts::authenticate_pending) into
/// the [`PendingSession`](account_core::PendingSession) that the second-factor steps take.
/// Only the second-factor login routes accept it; every other route sees no session.
///
/// Rejects with 401 `unauthenticated` for a missing, unknown or expired pending session
/// (or a full one), and with 403 `csrf_refused` for a cross-site unsafe request; a valid
/// bearer token instead of a pending session gets 403 `session_required`, like
/// [`CurrentSession`].
#[derive(Debug, Clone)]
pub(crate) struct PendingLogin(pub(crate) account_core::PendingSession);

impl<S> FromRequestParts<S> for PendingLogin
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let state = AccountsState::from_ref(state);
        let Some(token) = cookie_token(parts, &state)? else {
            return Err(token::no_session(parts, &state).await);
        };
        match state.accounts.authenticate_pending(token).await {
            Ok(session) => Ok(PendingLogin(session)),
            Err(Error::Unauthenticated) => Err(token::no_session(parts, &state).await),
            Err(e) => Err(e.into()),
        }
    }
}

impl<S> FromRequestParts<S> for CurrentAccount
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let CurrentSession(session) =
            <CurrentSession as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        // Validation read the account with the session, and refused an inactive one.
        Ok(CurrentAccount {
            account: session.account().clone(),
            session,
        })
    }
}

impl<S> FromRequestParts<S> for AdminAccount
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let current = CurrentAccount::from_request_parts(parts, state).await?;
        if current.account.role != Role::Admin {
            return Err(ApiError::Forbidden);
        }
        Ok(AdminAccount(current))
    }
}

impl<S> FromRequestParts<S> for ClientInfo
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Self, std::convert::Infallible> {
        let state = AccountsState::from_ref(state);
        let ClientIp(ip) = ClientIp::of(parts, &state.settings.trusted_proxies);
        let header = |name: &str| text(&parts.headers, name);
        Ok(ClientInfo(RequestInfo {
            ip,
            user_agent: header("user-agent"),
            client_hints: ClientHints {
                platform: header("sec-ch-ua-platform"),
                arch: header("sec-ch-ua-arch"),
                model: header("sec-ch-ua-model"),
                brands: header("sec-ch-ua"),
            },
            device_cookie: cookie_value(&parts.headers, &state.settings.device_cookie_name)
                .map(account_core::known_device::DeviceCookie::new),
        }))
    }
}

/// A header's value as text, if it is visible ASCII (the services clean it further).
fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A JSON body: `Content-Type: application/json` (or `+json`), at most the configured
/// size, parsed into `T`. Every failure is a problem: 415, 413 or 400.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType {
                expected: "application/json",
            });
        }
        let limit = AccountsState::from_ref(state).settings.json_body_limit;
        let bytes = read_body(req, state, limit).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, a struct only from an object (see `json`). The parser's message is
/// never shown or logged (it may quote the input), except for the name of a missing
/// field, which comes from our own types.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    crate::json::from_slice(bytes).map_err(|e| {
        let field = if e.classify() == serde_json::error::Category::Data {
            missing_field(&e.to_string())
        } else {
            None
        };
        ApiError::MalformedJson { field }
    })
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(essence) = content_type_essence(headers) else {
        return false;
    };
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

fn content_type_essence(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim())
}

/// Reads the body, refusing more than `limit` bytes with 413.
async fn read_body<S: Send + Sync>(
    req: Request,
    state: &S,
    limit: usize,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { max_bytes: limit }
        } else {
            ApiError::MalformedJson { field: None }
        }
    })
}

/// An avatar upload: `Content-Type` `image/png`, `image/jpeg` or `image/webp` (else 415,
/// before the body is read), at most the configured size (else 413). The content type only
/// refuses obvious mistakes early; the services judge the bytes themselves.
#[derive(Debug)]
pub(crate) struct AvatarUpload(pub(crate) Bytes);

impl<S> FromRequest<S> for AvatarUpload
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let declared = content_type_essence(req.headers())
            .and_then(account_core::avatar::ImageType::from_content_type);
        if declared.is_none() {
            return Err(ApiError::UnsupportedMediaType {
                expected: "image/png, image/jpeg or image/webp",
            });
        }
        let limit = AccountsState::from_ref(state).settings.avatar_body_limit;
        read_body(req, state, limit).await.map(AvatarUpload)
    }
}

/// One path parameter parsed with `FromStr`; anything unparsable names nothing here, so it
/// is a 404 `not_found` like an unknown id.
#[derive(Debug)]
pub(crate) struct PathParam<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for PathParam<T>
where
    T: FromStr,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = <Path<String> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        raw.parse().map(PathParam).map_err(|_| ApiError::NotFound)
    }
}

/// Where this router is mounted, for the links it hands out: the prefix a host nested it
/// under (`/accounts`), or nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mount(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Mount {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(Mount(mount_of(&parts.extensions)))
    }
}

/// Where the host nested the router (`/app`), or `""` at the root: the path that links
/// the router writes start with.
pub(crate) fn mount_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<NestedPath>()
        .map(|p| p.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_content_types() {
        for (value, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/json", false),
            ("application/x-www-form-urlencoded", false),
            ("text/plain", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), ok, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn a_missing_field_is_named_and_nothing_else_is_echoed() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            email: String,
        }
        match parse_json::<Body>(b"{}") {
            Err(ApiError::MalformedJson { field }) => assert_eq!(field.as_deref(), Some("email")),
            other => panic!("{other:?}"),
        }
        match parse_json::<Body>(br#"{"email": 12345678}"#) {
            Err(e @ ApiError::MalformedJson { field: None }) => {
                assert!(!e.problem().detail.contains("12345678"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_json::<Body>(b"{\"email\":"),
            Err(ApiError::MalformedJson { field: None })
        ));
    }
}
