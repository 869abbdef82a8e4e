//! Cross-site request forgery defence (SECURITY.md J40), by Fetch Metadata with `Origin`
//! as the fallback, as OWASP's CSRF cheat sheet describes.
//!
//! Every unsafe request (anything but `GET`, `HEAD`, `OPTIONS` and `TRACE`) to the
//! router is checked, which covers the cookie-authenticated routes and also login,
//! sign-up, forgot and reset password and email verification (login CSRF: another site
//! must not sign a victim's browser into the attacker's account). The extractors
//! [`CurrentSession`](crate::CurrentSession) and [`CurrentAccount`](crate::CurrentAccount)
//! run the same check, so a host's own unsafe routes that use them are covered too.
//!
//! The rules, in order:
//! 1. `Sec-Fetch-Site: same-origin` or `none` (the user typed the URL or used a bookmark)
//!    passes; `cross-site` and `same-site` are refused (a sibling subdomain is another
//!    party too).
//! 2. Without `Sec-Fetch-Site` (older browsers), `Origin` must be the public URL's
//!    origin; `Origin: null` (sandboxed frames, some redirects) is refused.
//! 3. With neither header the request did not come from a browser page (curl, a mobile
//!    app, a server), which a forging site cannot make a victim's browser send, and it
//!    passes.
//!
//! A request with `Authorization: Bearer` is not checked by the router's middleware: it is
//! authenticated by its token, not by an ambient cookie, and a browser never adds that
//! header on its own — another site's page could only add it to a cross-origin request
//! through a CORS preflight, which this API never grants. The cookie-only extractors still
//! check such a request, since it may carry the cookie too.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Settings;
use crate::error::ApiError;
use crate::extract::bearer_token;
use crate::state::AccountsState;

/// Refuses an unsafe request that another site made a browser send.
///
/// # Errors
///
/// [`ApiError::CsrfRefused`].
pub(crate) fn check(
    method: &Method,
    headers: &HeaderMap,
    settings: &Settings,
) -> Result<(), ApiError> {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(());
    }
    match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        Some(b"same-origin" | b"none") => return Ok(()),
        Some(b"cross-site" | b"same-site") => return Err(ApiError::CsrfRefused),
        // An unknown value says nothing; fall back to Origin.
        _ => {}
    }
    match headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(origin)
            if origin
                .as_bytes()
                .eq_ignore_ascii_case(settings.origin.as_bytes()) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::CsrfRefused),
    }
}

/// The middleware form of [`check`], for the whole router; requests with a bearer token
/// pass (see the module docs).
pub(crate) async fn middleware(
    State(state): State<AccountsState>,
    request: Request,
    next: Next,
) -> Response {
    if bearer_token(request.headers()).is_some() {
        return next.run(request).await;
    }
    match check(request.method(), request.headers(), &state.settings) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::info!("cross-site request refused");
            refused.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HttpConfig;
    use axum::http::HeaderValue;

    fn check_with(method: Method, headers: &[(&'static str, &'static str)]) -> bool {
        let settings = Settings::new(
            HttpConfig::default(),
            &"https://accounts.example.com".parse().expect("url"),
        );
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        check(&method, &map, &settings).is_ok()
    }

    #[test]
    fn fetch_metadata_decides_first() {
        assert!(check_with(
            Method::POST,
            &[("sec-fetch-site", "same-origin")]
        ));
        assert!(check_with(Method::POST, &[("sec-fetch-site", "none")]));
        assert!(!check_with(
            Method::POST,
            &[("sec-fetch-site", "cross-site")]
        ));
        assert!(!check_with(
            Method::DELETE,
            &[("sec-fetch-site", "same-site")]
        ));
        // Fetch Metadata wins over a matching Origin.
        assert!(!check_with(
            Method::PUT,
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://accounts.example.com")
            ]
        ));
    }

    #[test]
    fn origin_is_the_fallback() {
        assert!(check_with(
            Method::POST,
            &[("origin", "https://accounts.example.com")]
        ));
        assert!(check_with(
            Method::POST,
            &[("origin", "https://ACCOUNTS.example.com")]
        ));
        assert!(!check_with(
            Method::POST,
            &[("origin", "https://evil.test")]
        ));
        assert!(!check_with(
            Method::POST,
            &[("origin", "http://accounts.example.com")]
        ));
        assert!(!check_with(Method::PATCH, &[("origin", "null")]));
        assert!(check_with(Method::POST, &[]));
    }

    #[test]
    fn safe_methods_pass() {
        assert!(check_with(Method::GET, &[("sec-fetch-site", "cross-site")]));
        assert!(check_with(Method::HEAD, &[("origin", "https://evil.test")]));
    }
}
