//! The HTTP API of the account workspace, for axum: every route of the account-settings
//! page over the services of [`account_core`], ready to mount in an application.
//!
//! # Embedding it
//!
//! Build the services, hand them to [`AccountRouter`] with an [`HttpConfig`], and merge the
//! router into your application (or nest it under a prefix). Your own handlers get the
//! signed-in user from the [`CurrentAccount`] extractor:
//!
//! ```no_run
//! use std::sync::Arc;
//! use account_axum::{AccountRouter, CurrentAccount, HttpConfig};
//! use account_core::{AccountConfig, Accounts, mail::MemoryMailer, store::memory::MemoryStore};
//! use axum::{Router, routing::get};
//!
//! async fn hello(me: CurrentAccount) -> String {
//!     format!("Hello, {}!", me.account.display_name)
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = AccountConfig::new("http://127.0.0.1:3000".parse()?);
//! let accounts = Accounts::builder(Arc::new(MemoryStore::new()), Arc::new(MemoryMailer::new()), config).build();
//! let api = AccountRouter::new(accounts, HttpConfig::default());
//! let app = Router::new()
//!     .route("/hello", get(hello))
//!     .with_state(api.state().clone())
//!     .merge(api.into_router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! account_axum::serve(listener, app, std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! [`serve`] is `axum::serve` with the peer's address as `ConnectInfo<SocketAddr>` and
//! hyper's own refusals of malformed requests in problem+json (see [`ProblemListener`]).
//! Serving with plain `axum::serve` works too; give it
//! `app.into_make_service_with_connect_info::<SocketAddr>()`: the client IP comes from the
//! socket (or, behind [trusted proxies](HttpConfig::trusted_proxies), from their
//! forwarding headers), and without it every client counts as one unknown IP for the rate
//! limits.
//!
//! When your application has its own state, make [`AccountsState`] reachable from it with
//! [`FromRef`](axum::extract::FromRef) (derive it) and the extractors work there too:
//!
//! ```
//! use axum::extract::FromRef;
//! use account_axum::AccountsState;
//!
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     accounts: AccountsState,
//!     db: String,
//! }
//! ```
//!
//! # The pieces
//!
//! | item | what it is |
//! |---|---|
//! | [`AccountRouter`] | builds the `Router<()>` of every route, and the OpenAPI document |
//! | [`HttpConfig`], [`RateLimits`], [`CookieName`] | public URL, cookie name, trusted proxies, body and rate limits |
//! | [`AccountsState`] | the services and the configuration; the state the extractors read |
//! | [`CurrentSession`], [`CurrentAccount`], [`AdminAccount`] | the signed-in session, account, administrator, by the session cookie only (401 / 403 otherwise; 403 `session_required` for a personal API token) |
//! | [`EnrollingSession`] | a signed-in session that may be one restricted to enrolling a second factor |
//! | [`Authenticated`], [`AuthenticatedBy`] | the signed-in account by a personal API token (`Authorization: Bearer`) or by the session cookie, and which one, with the token's scope |
//! | [`AppPasswordAuth`] | HTTP Basic with an app password, for a host's routes for mail, CalDAV or git clients |
//! | [`ClientInfo`] | client IP, user agent and client hints, as the services want them |
//! | [`ApiError`], [`Problem`] | every error, and its `application/problem+json` body |
//! | [`SetSessionCookie`], [`ClearSessionCookie`], [`SetDeviceCookie`] | the session and known-device cookies as response parts, for a host's own sign-in route |
//! | `AccountPages` (feature `ui`) | the account-settings pages: server-rendered, translated, styled through CSS custom properties, wrapped in the host's header and footer |
//!
//! # Routes
//!
//! | route | answer |
//! |---|---|
//! | `POST /api/auth/signup` `{username, email, password, display_name?}` | 201 account |
//! | `POST /api/auth/login` `{login, password}` | 200 `{"status":"ok"}` and the cookie, or `{"status":"second_factor_required","methods":[...]}` and a pending session's cookie |
//! | `POST /api/auth/login/totp` `{code}` (pending session) | 200 `{"status":"ok"}` and the cookie |
//! | `POST /api/auth/login/recovery-code` `{code}` (pending session) | 200 `{"status":"ok"}` and the cookie |
//! | `POST /api/auth/login/passkey/start` (pending session) | 200 `{ceremony_id, options}` |
//! | `POST /api/auth/login/passkey/finish` `{ceremony_id, credential}` (pending session) | 200 `{"status":"ok"}` and the cookie |
//! | `POST /api/auth/passkey/start` | 200 `{ceremony_id, options}` (passwordless) |
//! | `POST /api/auth/passkey/finish` `{ceremony_id, credential}` | 200 `{"status":"ok"}` and the cookie |
//! | `POST /api/auth/logout` | 204, the cookie cleared, `Clear-Site-Data: "cookies"` |
//! | `POST /api/auth/password/forgot` `{email}` | 202 `{"status":"accepted"}` for every address |
//! | `POST /api/auth/password/reset` `{token, new_password}` | 200 `{"status":"ok"}` |
//! | `POST /api/auth/email/verify` `{token}` | 200 account |
//! | `POST /api/auth/reauthenticate` `{password}` or `{totp_code}` | 200 `{"status":"ok"}` and a new cookie |
//! | `POST /api/auth/reauthenticate/passkey/start` | 200 `{ceremony_id, options}` |
//! | `POST /api/auth/reauthenticate/passkey/finish` `{ceremony_id, credential}` | 200 `{"status":"ok"}` and a new cookie |
//! | `GET /api/account` (token) | 200 account |
//! | `PATCH /api/account` `{display_name?, language?}` (write token) | 200 account |
//! | `POST /api/account/email` `{email}` | 202 |
//! | `PUT /api/account/recovery-email` `{email}` (`null` removes) | 202 (set), 200 (removed) |
//! | `PUT /api/account/password` `{current_password, new_password}` | 200 and a new cookie |
//! | `PUT /api/account/avatar` (raw PNG, JPEG or WebP) (write token) | 200 account |
//! | `DELETE /api/account/avatar` (write token) | 200 account |
//! | `GET /api/users/{id}/avatar` | 200 image |
//! | `POST /api/account/totp/start` | 200 `{secret, otpauth_uri, qr_png}` |
//! | `POST /api/account/totp/confirm` `{code}` | 200 `{recovery_codes}` and a new cookie |
//! | `DELETE /api/account/totp` | 204 |
//! | `POST /api/account/recovery-codes` | 200 `{recovery_codes}` |
//! | `GET /api/account/passkeys` (token) | 200 list |
//! | `POST /api/account/passkeys/start` `{name}` | 200 `{ceremony_id, options}` |
//! | `POST /api/account/passkeys/finish` `{ceremony_id, credential}` | 201 passkey and a new cookie |
//! | `PATCH /api/account/passkeys/{id}` `{name}` | 200 passkey |
//! | `DELETE /api/account/passkeys/{id}` | 204 |
//! | `GET /api/account/sessions` (token: none is `current`) | 200 list |
//! | `DELETE /api/account/sessions/{id}` | 204 |
//! | `DELETE /api/account/sessions` | 200 `{"revoked": n}` |
//! | `GET /api/account/security-events?limit=&before=` (token) | 200 list |
//! | `GET /api/account/tokens` (token) | 200 list of `{id, name, scope, allowed_networks, created_at, expires_at, last_used_at, last_used_ip, last_four}` |
//! | `POST /api/account/tokens` `{name, scope, allowed_networks?, expires_at?}` (fresh) | 201 the same and `token`, shown once |
//! | `POST /api/account/tokens/{id}/regenerate` (fresh) | 200 the same with the new `token` |
//! | `DELETE /api/account/tokens/{id}` | 204 |
//! | `GET /api/account/app-passwords` (token) | 200 list of `{id, name, created_at, last_used_at}` |
//! | `POST /api/account/app-passwords` `{name}` (fresh) | 201 the same and `password`, shown once |
//! | `DELETE /api/account/app-passwords/{id}` | 204 |
//! | `GET /api/account/ssh-keys` (token) | 200 list of `{id, name, algorithm, bits, fingerprint, comment, created_at}` |
//! | `POST /api/account/ssh-keys` `{name, public_key}` (fresh) | 201 the key |
//! | `DELETE /api/account/ssh-keys/{id}` | 204 |
//! | `GET`, `PUT /api/admin/policy` | 200 policy (administrators) |
//! | `POST /api/admin/users/{id}/reset-2fa` | 200 `{"removed": n}` (administrators, fresh) |
//! | `GET /api/openapi.json` | the OpenAPI 3.1 document |
//!
//! "(token)" marks the routes a personal API token of either scope may use, "(write
//! token)" those that need a `write` token; every other route that needs a session
//! answers a token with 403 `session_required`. "(fresh)" marks the routes that need an
//! authentication within the re-authentication window (403 `reauthentication_required`).
//!
//! Every error is a [`Problem`] with a stable `code`; the status of each code is listed on
//! [`ApiError`].
//!
//! Under the "require 2FA" policy, a session of an account without a second factor may
//! only read the account, log out, re-authenticate and enrol a factor (TOTP or a passkey);
//! every other route answers 403 `second_factor_enrollment_required`. The core's types
//! enforce it and the extractors carry them: [`CurrentSession`] holds a
//! [`SignedInSession`](account_core::SignedInSession), which such a session never is, and
//! [`EnrollingSession`] an [`EnrollingSession`](account_core::EnrollingSession), which it
//! may be.
//!
//! # Security
//!
//! - **Session cookie.** `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`; over https named
//!   `__Host-<name>` and `Secure`. Its `Max-Age` is the session's remaining absolute
//!   lifetime. Login, re-authentication and a password change each set a new token (the
//!   old one dies at once); logout ends the session on the server, clears the cookie and
//!   sends `Clear-Site-Data: "cookies"`.
//! - **CSRF.** Every unsafe request is checked: `Sec-Fetch-Site` must be `same-origin` or
//!   `none`; without it, `Origin` must be the public URL's origin; a request with neither
//!   (not from a browser page) passes. That covers login and sign-up too. The extractors
//!   check the same for a host's own routes. A request with `Authorization: Bearer` is
//!   exempt: a browser never sends that header on its own.
//! - **Personal API tokens.** Only from the `Authorization: Bearer` header, never the URL.
//!   A bad token gets 401 with `WWW-Authenticate: Bearer error="invalid_token"`; a request
//!   from outside the token's networks (judged by the trusted client IP) 403
//!   `network_not_allowed`; a `read` token on any method but `GET`, `HEAD`, `OPTIONS` 403
//!   `insufficient_scope`. No token can change the password, the addresses, the second
//!   factors, tokens, app passwords, SSH keys or sessions, delete the account or use the
//!   admin routes: those take the cookie-only extractors, which answer 403
//!   `session_required`. Making a token, an app password or an SSH key needs a recent
//!   authentication, and each change is logged and mailed.
//! - **App passwords.** Accepted only by [`AppPasswordAuth`] on the host's own routes
//!   (HTTP Basic), never by the login route or the account routes; failed attempts are
//!   limited per IP.
//! - **Client IP.** The socket peer, or — only when the peer is one of
//!   [`HttpConfig::trusted_proxies`] — the rightmost address of `X-Forwarded-For` (or
//!   `Forwarded: for=`) that is not a trusted proxy.
//! - **Rate limits.** Login, sign-up, forgot and reset password and email verification
//!   are limited per IP, counted in the store so that several instances share them; so
//!   are failed app-password sign-ins.
//! - **Headers.** `Cache-Control: no-store` (avatars: `private, max-age=300`),
//!   `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, a
//!   `Content-Security-Policy` that allows nothing, HSTS over https, and never a CORS
//!   header.
//! - **No enumeration.** Login failures are identical whatever the cause; forgot-password
//!   answers 202 for every address; sign-up with an address in use answers exactly like a
//!   new sign-up (the owner is mailed).
//! - **Errors.** Every refusal is problem+json, hyper's own under [`serve`] included. A
//!   database that cannot be reached is a 503 `storage_unavailable` with `Retry-After`;
//!   any other storage or internal failure is a 500 that says "internal error"; the
//!   detail goes only to the log (`tracing`).
//! - **Logs.** Each request runs in a `tracing` span with the method, the matched route,
//!   the status, the latency and the client IP — never a header (`Authorization` included),
//!   cookie, body, token or query string.

mod client_ip;
mod config;
mod cookie;
mod csrf;
mod error;
mod extract;
#[doc(hidden)]
pub mod fuzzing;
mod json;
mod middleware;
mod openapi;
mod router;
mod routes;
mod serve;
mod state;
#[cfg(feature = "ui")]
mod ui;
mod views;

pub use config::{CookieName, HttpConfig, InvalidCookieName, RateLimits};
pub use cookie::{ClearSessionCookie, SetDeviceCookie, SetSessionCookie};
pub use error::{ApiError, PROBLEM_JSON, Problem};
pub use extract::{
    AdminAccount, AppPasswordAuth, Authenticated, AuthenticatedBy, ClientInfo, CurrentAccount,
    CurrentSession, EnrollingSession,
};
pub use router::AccountRouter;
pub use serve::{ProblemAnswers, ProblemListener, serve};
pub use state::AccountsState;
#[cfg(feature = "ui")]
pub use ui::AccountPages;
