//! The layers around every route: the request span, the security headers, the per-IP
//! rate limits, and the record of the route that matched.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument as _;

use account_core::RateLimit;

use crate::client_ip::{self, ClientIp};
use crate::config::RateLimits;
use crate::error::ApiError;
use crate::state::AccountsState;

/// The outermost layer: resolves the client IP once (later layers and extractors read it
/// from the request's extensions) and runs the request in a span.
///
/// The span holds the method and the client IP, which every log line of the request
/// carries; the line that ends the request adds the matched route
/// (`/api/users/{id}/avatar`, never the concrete URI: no query string, no path
/// parameter), the status and the latency. No header, cookie, body or token is ever
/// recorded. The span's fields are all given when it opens and the last three go to the
/// final line, not recorded into the span: each recording makes a subscriber format the
/// span's fields again, on every request.
pub(crate) async fn trace(
    State(state): State<AccountsState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let ip = client_ip::resolve(peer, request.headers(), &state.settings.trusted_proxies);
    request.extensions_mut().insert(ClientIp(ip));
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        client_ip = ip.map(tracing::field::display),
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let path = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", MatchedPath::as_str);
    span.in_scope(|| {
        tracing::info!(
            path = %path,
            status = response.status().as_u16(),
            latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request finished"
        );
    });
    response
}

/// Copies the matched route into the response's extensions, where the request span (which
/// runs before routing) and tests can see it. Installed as a route layer, so it runs only
/// for requests that reached a route.
pub(crate) async fn record_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The headers every answer gets (SECURITY.md J41): `Cache-Control: no-store` (unless the
/// route chose its own), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
/// no-referrer`, a Content-Security-Policy that allows nothing (these are API answers, not
/// pages), and HSTS when the public URL is https. No CORS header is ever sent: the API is
/// for the application's own origin.
///
/// It also gives axum's bare 405 a problem body.
pub(crate) async fn security_headers(
    State(state): State<AccountsState>,
    request: Request,
    next: Next,
) -> Response {
    security_headers_with(&state, request, next, CONTENT_SECURITY_POLICY).await
}

/// [`security_headers`] with another Content-Security-Policy: the pages' (feature `ui`),
/// which allow this origin's script and style.
pub(crate) async fn security_headers_with(
    state: &AccountsState,
    request: Request,
    next: Next,
    content_security_policy: &'static str,
) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        let extensions = std::mem::take(response.extensions_mut());
        response = ApiError::MethodNotAllowed.into_response();
        *response.extensions_mut() = extensions;
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(content_security_policy),
    );
    if state.settings.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    // Never let a handler (or a future layer) open the API to other origins. (Looked for
    // first, so that the usual answer, which has none, costs no allocation.)
    let is_cors = |name: &HeaderName| name.as_str().starts_with("access-control-");
    if headers.keys().any(is_cors) {
        let cors: Vec<HeaderName> = headers.keys().filter(|n| is_cors(n)).cloned().collect();
        for name in cors {
            headers.remove(name);
        }
    }
    response
}

/// Which per-IP limit a route counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    Login,
    SignUp,
    ForgotPassword,
    ResetPassword,
    VerifyEmail,
}

impl Limited {
    fn limit(self, limits: &RateLimits) -> Option<RateLimit> {
        match self {
            Limited::Login => limits.login,
            Limited::SignUp => limits.signup,
            Limited::ForgotPassword => limits.forgot_password,
            Limited::ResetPassword => limits.reset_password,
            Limited::VerifyEmail => limits.verify_email,
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            Limited::Login => "login",
            Limited::SignUp => "signup",
            Limited::ForgotPassword => "forgot",
            Limited::ResetPassword => "reset",
            Limited::VerifyEmail => "verify",
        }
    }
}

/// Counts the request against its per-IP limit in the store (`login:203.0.113.7`), before
/// the body is read or a password hashed, and refuses it with 429 past the limit.
///
/// Every limited route takes `POST` only. A request of another method is not counted: the
/// router answers it 405, and a `GET` on the login route must not spend the budget of the
/// logins from that address (SECURITY.md M49). The API's routes are layered as a whole,
/// 405 included, which is why the method is looked at here.
pub(crate) async fn rate_limit(
    State((state, limited)): State<(AccountsState, Limited)>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    if let Some(limit) = limited.limit(&state.settings.rate_limits) {
        let (parts, body) = request.into_parts();
        let ip = ClientIp::of(&parts, &state.settings.trusted_proxies);
        let key = format!("{}:{}", limited.key_prefix(), ip.limit_key());
        if let Err(e) = state.accounts.check_rate_limit(&key, limit).await {
            if matches!(e, account_core::Error::RateLimited { .. }) {
                tracing::info!(limit = limited.key_prefix(), "rate limit reached");
            }
            return ApiError::from(e).into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}
