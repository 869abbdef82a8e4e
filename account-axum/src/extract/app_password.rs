//! HTTP Basic with an app password, for a host's routes that serve clients which can only
//! send a username and a password (mail, CalDAV, git over HTTP): [`AppPasswordAuth`].

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use account_core::Error;
use account_core::model::{Account, AppPasswordRecord};

use crate::client_ip::ClientIp;
use crate::csrf;
use crate::error::ApiError;
use crate::state::AccountsState;

/// A client signed in with HTTP Basic and one of the account's app passwords: for the
/// host's own routes that serve mail, CalDAV or git clients. No route of this crate uses
/// it, and nothing it admits can reach them: the account routes want the session cookie or
/// a bearer token.
///
/// Reads `Authorization: Basic base64(login:password)` (UTF-8), where the login is the
/// username or the primary address, and checks it with
/// [`Accounts::authenticate_app_password`](account_core::Accounts::authenticate_app_password):
/// only an app password is accepted, never the account password, and no second factor is
/// asked (that is what app passwords are for).
///
/// Rejects with 401 `unauthenticated` and `WWW-Authenticate: Basic realm="<product name>",
/// charset="UTF-8"` when the header is missing, malformed or wrong, so that the client
/// asks its user. Failed attempts (not a missing header, which is how a client starts)
/// count per client IP against [`RateLimits::app_password_failures`](crate::RateLimits),
/// and past the limit a failure answers 429 `rate_limited` with `Retry-After`. An unsafe
/// request must pass the same-origin check (403 `csrf_refused`): browsers replay Basic
/// credentials they once used on their own, so another site could otherwise make one send
/// them.
///
/// ```
/// use account_axum::AppPasswordAuth;
///
/// async fn calendar(me: AppPasswordAuth) -> String {
///     format!("the calendar of {} (via {})", me.account.username, me.app_password.name)
/// }
/// # let _: axum::routing::MethodRouter<account_axum::AccountsState> = axum::routing::get(calendar);
/// ```
#[derive(Debug, Clone)]
pub struct AppPasswordAuth {
    /// The account (active).
    pub account: Account,
    /// The app password the client used (never the password itself).
    pub app_password: AppPasswordRecord,
}

impl<S> FromRequestParts<S> for AppPasswordAuth
where
    AccountsState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = AccountsState::from_ref(state);
        csrf::check(&parts.method, &parts.headers, &app.settings)?;
        let challenge = || ApiError::AppPasswordRequired {
            realm: app.accounts.config().product_name.clone(),
        };
        let outcome = match basic_credentials(&parts.headers) {
            // The first request of a Basic client comes without credentials and waits for
            // the challenge: that is not a failed attempt.
            Basic::Absent => return Err(challenge()),
            Basic::Malformed => Err(Error::InvalidCredentials),
            Basic::Present(credentials) => {
                app.accounts
                    .authenticate_app_password(&credentials.login, &credentials.password)
                    .await
            }
        };
        match outcome {
            Ok(login) => Ok(AppPasswordAuth {
                account: login.account,
                app_password: login.app_password,
            }),
            Err(Error::InvalidCredentials) => {
                count_failure(parts, &app).await?;
                Err(challenge())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Counts a failed attempt against the client's address, and refuses with 429 past the
/// limit. Only failures count: a client that keeps sending a good app password (a mail
/// client polling every minute) is never limited, while one that guesses, or still sends a
/// revoked password, is soon told to wait.
async fn count_failure(parts: &Parts, app: &AccountsState) -> Result<(), ApiError> {
    let Some(limit) = app.settings.rate_limits.app_password_failures else {
        return Ok(());
    };
    let ip = ClientIp::of(parts, &app.settings.trusted_proxies);
    let key = format!("app-password:{}", ip.limit_key());
    app.accounts
        .check_rate_limit(&key, limit)
        .await
        .map_err(|e| {
            if matches!(e, Error::RateLimited { .. }) {
                tracing::info!(limit = "app-password", "rate limit reached");
            }
            e.into()
        })
}

/// What the request's `Authorization` header holds for HTTP Basic.
pub(crate) enum Basic {
    /// No Basic credentials at all.
    Absent,
    /// `Basic` with something that is not base64 of UTF-8 `login:password`.
    Malformed,
    /// A login and a password.
    Present(Credentials),
}

/// A login and a password from a Basic header. No `Debug`: it holds a secret.
pub(crate) struct Credentials {
    pub(crate) login: String,
    pub(crate) password: String,
}

/// Reads the first `Authorization: Basic` header (RFC 7617; the scheme in any case).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Basic {
    let found = headers.get_all(AUTHORIZATION).iter().find_map(|value| {
        let bytes = value.as_bytes();
        let at = bytes.iter().position(|b| *b == b' ').unwrap_or(bytes.len());
        bytes[..at]
            .eq_ignore_ascii_case(b"basic")
            .then(|| bytes.get(at + 1..).unwrap_or_default())
    });
    let Some(encoded) = found else {
        return Basic::Absent;
    };
    let decoded = STANDARD
        .decode(encoded.trim_ascii())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok());
    // The user-id of Basic cannot contain a colon, so the first one ends it; the password
    // may contain any.
    match decoded.as_deref().and_then(|text| text.split_once(':')) {
        Some((login, password)) if !login.is_empty() && !password.is_empty() => {
            Basic::Present(Credentials {
                login: login.to_owned(),
                password: password.to_owned(),
            })
        }
        _ => Basic::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn read(value: &str) -> Basic {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("ascii"));
        basic_credentials(&headers)
    }

    #[test]
    fn basic_credentials_are_read_as_rfc_7617_says() {
        let encoded = STANDARD.encode("ada@example.com:abcde-fghjk:x");
        match read(&format!("basic {encoded}")) {
            Basic::Present(c) => {
                assert_eq!(c.login, "ada@example.com");
                assert_eq!(c.password, "abcde-fghjk:x");
            }
            _ => panic!("not read"),
        }
        let utf8 = STANDARD.encode("zoë:pässword");
        assert!(matches!(
            read(&format!("Basic {utf8}")),
            Basic::Present(c) if c.login == "zoë"
        ));
        assert!(matches!(
            basic_credentials(&HeaderMap::new()),
            Basic::Absent
        ));
        assert!(matches!(read("Bearer acct_x"), Basic::Absent));
        for bad in [
            "Basic".to_owned(),
            "Basic !!!".to_owned(),
            format!("Basic {}", STANDARD.encode("no colon")),
            format!("Basic {}", STANDARD.encode(":nologin")),
            format!("Basic {}", STANDARD.encode("nopassword:")),
            format!("Basic {}", STANDARD.encode([0xff, b':', b'x'])),
        ] {
            assert!(matches!(read(&bad), Basic::Malformed), "{bad}");
        }
    }
}
