//! The session cookie: how it is written, removed and read.
//!
//! `HttpOnly` keeps scripts away from it, `SameSite=Lax` keeps it off cross-site
//! subrequests and form posts, `Path=/` without `Domain` binds it to this host alone, and
//! over https the `__Host-` prefix makes browsers refuse any copy that is not `Secure`,
//! host-only and `Path=/`, so a sibling subdomain cannot plant one (session fixation).

use std::fmt;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};

use account_core::Error;
use account_core::known_device::DeviceCookie;
use account_core::token::OpaqueToken;

use crate::config::Settings;
use crate::error::ApiError;

/// A response part that sets the session cookie. Made by
/// [`AccountsState::session_cookie`](crate::AccountsState::session_cookie).
///
/// It holds the session token, so its `Debug` shows none of it.
pub struct SetSessionCookie(String);

impl SetSessionCookie {
    pub(crate) fn new(settings: &Settings, token: &OpaqueToken, max_age_secs: i64) -> Self {
        Self(format!(
            "{}={}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{}",
            settings.cookie_name,
            token.expose(),
            secure(settings),
        ))
    }
}

impl fmt::Debug for SetSessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetSessionCookie(***)")
    }
}

impl IntoResponseParts for SetSessionCookie {
    type Error = ApiError;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, ApiError> {
        append_set_cookie(res, self.0, "the session cookie is not a valid header")
    }
}

/// A response part that removes the session cookie. Made by
/// [`AccountsState::clear_session_cookie`](crate::AccountsState::clear_session_cookie).
#[derive(Debug, Clone)]
pub struct ClearSessionCookie(String);

impl ClearSessionCookie {
    pub(crate) fn new(settings: &Settings) -> Self {
        // A `__Host-` cookie is only accepted, even to delete it, with `Secure` and `Path=/`.
        Self(format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
            settings.cookie_name,
            secure(settings),
        ))
    }
}

impl IntoResponseParts for ClearSessionCookie {
    type Error = ApiError;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, ApiError> {
        append_set_cookie(res, self.0, "the cookie name is not a valid header")
    }
}

/// A response part that sets the known-device cookie (SECURITY.md M47): the browser that
/// has just proved an account's password keeps it for 400 days (the most browsers keep a
/// cookie), and its wrong passwords for that account are counted apart from a stranger's.
/// Its name is the session cookie's with `-device` after it, so it has the same prefix
/// and the same attributes.
///
/// It holds the cookie's value, so its `Debug` shows none of it.
pub struct SetDeviceCookie(String);

impl SetDeviceCookie {
    pub(crate) fn new(settings: &Settings, cookie: &DeviceCookie) -> Self {
        Self(format!(
            "{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
            settings.device_cookie_name,
            cookie.as_str(),
            400 * 24 * 60 * 60,
            secure(settings),
        ))
    }
}

impl fmt::Debug for SetDeviceCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetDeviceCookie(***)")
    }
}

impl IntoResponseParts for SetDeviceCookie {
    type Error = ApiError;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, ApiError> {
        append_set_cookie(res, self.0, "the device cookie is not a valid header")
    }
}

/// Adds `value` to the response as one more `Set-Cookie`; `what` says what failed if it
/// cannot be a header (a cookie name configured with characters a header cannot hold).
fn append_set_cookie(
    mut res: ResponseParts,
    value: String,
    what: &'static str,
) -> Result<ResponseParts, ApiError> {
    let value = HeaderValue::try_from(value).map_err(|_| Error::Internal(what.into()))?;
    res.headers_mut().append(SET_COOKIE, value);
    Ok(res)
}

fn secure(settings: &Settings) -> &'static str {
    if settings.https { "; Secure" } else { "" }
}

/// The value the request's `Cookie` headers carry under `name` (the session token, the
/// known-device cookie), if any: the first one, when a client sends several.
pub(crate) fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim().trim_matches('"'))
        })
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("theme=dark; session=abc"));
        headers.append(COOKIE, HeaderValue::from_static("session=second"));
        assert_eq!(cookie_value(&headers, "session"), Some("abc"));
        assert_eq!(cookie_value(&headers, "sess"), None);
        assert_eq!(cookie_value(&headers, "theme"), Some("dark"));
        let mut empty = HeaderMap::new();
        empty.append(COOKIE, HeaderValue::from_static("session="));
        assert_eq!(cookie_value(&empty, "session"), None);
    }
}
