//! Requests authenticated by a personal API token (`Authorization: Bearer`) or by the
//! session cookie: [`Authenticated`], for the routes that scripts may use too.
//!
//! The rules (SECURITY.md I35, I36, I38):
//! - A request with a `Bearer` authorization is judged by its token alone: cookies are
//!   ignored and there is no CSRF check, because a browser never attaches such a header on
//!   its own, and another site's page cannot add one without a CORS preflight that this API
//!   never grants.
//! - The token is read from the header only, never from the URL, where it would end up in
//!   logs, history and `Referer` headers.
//! - A `read` token is refused on every method but `GET`, `HEAD` and `OPTIONS`.
//! - The routes that change the account's security (password, addresses, second factors,
//!   tokens, app passwords, SSH keys, sessions, deletion) and the administrator's routes
//!   keep their cookie-only extractors, which answer a valid token with 403
//!   `session_required` ([`no_session`]).

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};

use account_core::model::{Account, ApiTokenRecord, SecondFactors, TokenScope};
use account_core::{Error, SignedInSession};

use super::{CurrentAccount, EnrollingSession};
use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::state::AccountsState;

/// The signed-in account, by a personal API token or by the session cookie, and which of
/// the two: for routes that scripts may use as well as browsers.
///
/// With `Authorization: Bearer <token>` (the scheme in any case) the token alone decides:
/// it is checked with
/// [`Accounts::authenticate_api_token`](account_core::Accounts::authenticate_api_token)
/// against the client IP (see the crate docs on trusted proxies), cookies are ignored, and
/// there is no CSRF check (a browser never sends the header on its own). Without one (or
/// with another scheme, such as `Basic`) it is exactly [`CurrentAccount`], wrapped as
/// [`AuthenticatedBy::Session`].
///
/// Rejects a token with 401 `unauthenticated` and `WWW-Authenticate: Bearer
/// error="invalid_token"` when it is malformed, unknown, expired or deleted (or its
/// account is disabled); with 403 `network_not_allowed` from an address outside the
/// token's networks; and with 403 `insufficient_scope` when a `read` token is used with
/// any method but `GET`, `HEAD` and `OPTIONS`. Rejects a cookie like [`CurrentAccount`]. A
/// token in the query string (`?access_token=`) is never looked at.
///
/// The host decides what a token may do on its own routes: [`Authenticated::scope`] is
/// [`TokenScope::Write`] for a session, and [`Authenticated::session`] is `None` for a
/// token. Use [`CurrentAccount`] for routes no token may use.
///
/// ```
/// use account_axum::{Authenticated, AuthenticatedBy};
///
/// async fn whoami(me: Authenticated) -> String {
///     match &me.via {
///         AuthenticatedBy::ApiToken(token) => {
///             format!("{} with the token {}", me.account.username, token.name)
///         }
///         _ => format!("{} in a browser", me.account.username),
///     }
/// }
/// # let _: axum::routing::MethodRouter<account_axum::AccountsState> = axum::routing::get(whoami);
/// ```
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The account (active).
    pub account: Account,
    /// How the request proved it acts for the account.
    pub via: AuthenticatedBy,
}

/// How a request was authenticated: see [`Authenticated`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthenticatedBy {
    /// The session cookie of a signed-in browser: a fully signed-in session (a session
    /// the "require 2FA" policy restricts to enrolling is never one).
    Session(SignedInSession),
    /// A personal API token (`Authorization: Bearer`); the record never holds the token.
    ApiToken(ApiTokenRecord),
}

impl Authenticated {
    /// What the request may do: the token's scope, or [`TokenScope::Write`] for a session.
    pub fn scope(&self) -> TokenScope {
        match &self.via {
            AuthenticatedBy::Session(_) => TokenScope::Write,
            AuthenticatedBy::ApiToken(token) => token.scope,
        }
    }

    /// The session, when the request came with the session cookie.
    pub fn session(&self) -> Option<&SignedInSession> {
        match &self.via {
            AuthenticatedBy::Session(session) => Some(session),
            AuthenticatedBy::ApiToken(_) => None,
        }
    }

    /// The token, when the request came with a personal API token.
    pub fn api_token(&self) -> Option<&ApiTokenRecord> {
        match &self.via {
            AuthenticatedBy::ApiToken(token) => Some(token),
            AuthenticatedBy::Session(_) => None,
        }
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Some(by_token) = by_bearer_token(parts, state).await? {
            return Ok(by_token);
        }
        let CurrentAccount { account, session } =
            CurrentAccount::from_request_parts(parts, state).await?;
        Ok(Authenticated {
            account,
            via: AuthenticatedBy::Session(session),
        })
    }
}

/// The account of a request authenticated like [`Authenticated`], except that a cookie
/// session the "require 2FA" policy restricts to enrolling a second factor is accepted
/// too: for `GET /api/account`, which the settings page needs while the user enrols.
///
/// It holds the account, and the account's second factors when a session's validation read
/// them with it (a token's does not). A restricted session is an
/// [`EnrollmentSession`](account_core::EnrollmentSession), not a [`SignedInSession`], so it
/// cannot be an [`AuthenticatedBy::Session`]; keeping it out of [`Authenticated`] keeps
/// every `Authenticated` a host sees fully signed in, and the one route that takes this
/// extractor reads only the account.
#[derive(Debug, Clone)]
pub(crate) struct AuthenticatedOrEnrolling(pub(crate) Account, pub(crate) Option<SecondFactors>);

impl<S> FromRequestParts<S> for AuthenticatedOrEnrolling
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Some(by_token) = by_bearer_token(parts, state).await? {
            return Ok(AuthenticatedOrEnrolling(by_token.account, None));
        }
        let EnrollingSession(session) = EnrollingSession::from_request_parts(parts, state).await?;
        Ok(AuthenticatedOrEnrolling(
            session.account().clone(),
            Some(session.second_factors()),
        ))
    }
}

/// The request's bearer token, checked, if it has one: then the token alone decides and
/// the cookie is not looked at.
async fn by_bearer_token<S>(parts: &Parts, state: &S) -> Result<Option<Authenticated>, ApiError>
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    let Some(presented) = bearer_token(&parts.headers) else {
        return Ok(None);
    };
    let app = AccountsState::from_ref(state);
    let ClientIp(ip) = ClientIp::of(parts, &app.settings.trusted_proxies);
    let access = app
        .accounts
        .authenticate_api_token(presented, ip)
        .await
        .map_err(bearer_error)?;
    if !access.token.scope.allows_writes() && !is_safe(&parts.method) {
        return Err(ApiError::InsufficientScope);
    }
    Ok(Some(Authenticated {
        account: access.account,
        via: AuthenticatedBy::ApiToken(access.token),
    }))
}

/// Whether a method only reads: what a `read` token may use. `TRACE` is not among them:
/// nothing here answers it, and a read token has no business probing.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The token of the request's first `Authorization: Bearer <token>` header (the scheme in
/// any case), if it has one. A header whose token is not text gives an empty token, which
/// fails like any malformed one rather than falling back to the cookie.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers.get_all(AUTHORIZATION).iter().find_map(|value| {
        let bytes = value.as_bytes();
        let (scheme, rest) = match bytes.iter().position(|b| *b == b' ') {
            Some(at) => (&bytes[..at], &bytes[at + 1..]),
            None => (bytes, &b""[..]),
        };
        scheme
            .eq_ignore_ascii_case(b"bearer")
            .then(|| std::str::from_utf8(rest).map_or("", str::trim))
    })
}

/// A failed token check as an answer: a bad token gets the bearer challenge.
fn bearer_error(e: Error) -> ApiError {
    match e {
        Error::Unauthenticated => ApiError::InvalidBearerToken,
        other => other.into(),
    }
}

/// The rejection of a cookie-only extractor that found no session: 401 `unauthenticated`,
/// unless the request carries a bearer token. Then the token is checked so that its owner
/// learns the right thing: a bad token is a bad token (401 with the bearer challenge, or
/// 403 `network_not_allowed`), and a good one is refused with 403 `session_required`,
/// because this route needs a signed-in browser session.
pub(crate) async fn no_session(parts: &Parts, state: &AccountsState) -> ApiError {
    let Some(presented) = bearer_token(&parts.headers) else {
        return Error::Unauthenticated.into();
    };
    let ClientIp(ip) = ClientIp::of(parts, &state.settings.trusted_proxies);
    match state.accounts.authenticate_api_token(presented, ip).await {
        Ok(_) => ApiError::SessionRequired,
        Err(e) => bearer_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token_of(values: &[&'static str]) -> Option<String> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_static(v));
        }
        bearer_token(&headers).map(str::to_owned)
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_others_are_not_bearer() {
        assert_eq!(token_of(&["Bearer acct_x"]).as_deref(), Some("acct_x"));
        assert_eq!(token_of(&["bearer acct_x"]).as_deref(), Some("acct_x"));
        assert_eq!(token_of(&["BEARER  acct_x "]).as_deref(), Some("acct_x"));
        assert_eq!(token_of(&["Bearer"]).as_deref(), Some(""));
        assert_eq!(token_of(&["Basic YWRhOng="]), None);
        assert_eq!(token_of(&["Bearerish acct_x"]), None);
        assert_eq!(token_of(&[]), None);
        assert_eq!(
            token_of(&["Basic YWRhOng=", "Bearer acct_y"]).as_deref(),
            Some("acct_y")
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("obs-text"),
        );
        assert_eq!(bearer_token(&headers), Some(""));
    }

    #[test]
    fn only_reading_methods_are_safe() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(is_safe(&method), "{method}");
        }
        for method in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::TRACE,
            Method::CONNECT,
        ] {
            assert!(!is_safe(&method), "{method}");
        }
    }
}
