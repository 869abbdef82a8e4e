//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz). Not part of the API: hidden
//! from the documentation, and free to change with the targets.
//!
//! The parsers that a request's untrusted bytes reach first are private to this crate. A
//! fuzz target must exercise those very functions, not copies of them, so this module
//! hands each one out unchanged: it adds no behaviour of its own.

use std::fmt;
use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::de::DeserializeOwned;

use account_core::policy::Policy;

use crate::error::ApiError;
use crate::extract::Basic;
use crate::views::{
    ChangeEmailRequest, ChangePasswordRequest, CodeRequest, CreateUserRequest,
    DeleteAccountRequest, ForgotPasswordRequest, LoginRequest, NewApiTokenRequest,
    NewAppPasswordRequest, NewSshKeyRequest, PasskeyFinishRequest, PasskeyNameRequest,
    ReauthenticateRequest, RecoveryEmailRequest, ResetPasswordRequest, SignUpRequest,
    UpdateAccountRequest, UpdateUserRequest, VerifyEmailRequest,
};

/// A JSON request body as `ApiJson` reads it: structs only from objects, at every depth,
/// and every failure a `malformed_json` problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    crate::extract::parse_json(bytes)
}

/// Reads a request body as one type and gives the value's `Debug` text (in which
/// passwords show as `***`), so that two readings can be compared.
pub type BodyParser = fn(&[u8]) -> Result<String, ApiError>;

/// Every type a route of this crate reads with `ApiJson`, by name, with its parser.
pub const REQUEST_BODIES: &[(&str, BodyParser)] = &[
    ("SignUpRequest", debug_of::<SignUpRequest>),
    ("LoginRequest", debug_of::<LoginRequest>),
    ("ForgotPasswordRequest", debug_of::<ForgotPasswordRequest>),
    ("ResetPasswordRequest", debug_of::<ResetPasswordRequest>),
    ("VerifyEmailRequest", debug_of::<VerifyEmailRequest>),
    ("ReauthenticateRequest", debug_of::<ReauthenticateRequest>),
    ("CodeRequest", debug_of::<CodeRequest>),
    ("PasskeyFinishRequest", debug_of::<PasskeyFinishRequest>),
    ("PasskeyNameRequest", debug_of::<PasskeyNameRequest>),
    ("UpdateAccountRequest", debug_of::<UpdateAccountRequest>),
    ("ChangeEmailRequest", debug_of::<ChangeEmailRequest>),
    ("RecoveryEmailRequest", debug_of::<RecoveryEmailRequest>),
    ("ChangePasswordRequest", debug_of::<ChangePasswordRequest>),
    ("NewApiTokenRequest", debug_of::<NewApiTokenRequest>),
    ("NewAppPasswordRequest", debug_of::<NewAppPasswordRequest>),
    ("NewSshKeyRequest", debug_of::<NewSshKeyRequest>),
    ("DeleteAccountRequest", debug_of::<DeleteAccountRequest>),
    ("CreateUserRequest", debug_of::<CreateUserRequest>),
    ("UpdateUserRequest", debug_of::<UpdateUserRequest>),
    ("Policy", debug_of::<Policy>),
];

fn debug_of<T: DeserializeOwned + fmt::Debug>(bytes: &[u8]) -> Result<String, ApiError> {
    crate::extract::parse_json::<T>(bytes).map(|value| format!("{value:?}"))
}

/// The value of the cookie `name` among the request's `Cookie` headers, as the session
/// and known-device extractors read it.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    crate::cookie::cookie_value(headers, name)
}

/// The token of the first `Authorization: Bearer` header, as the API-token extractor
/// reads it.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    crate::extract::bearer_token(headers)
}

/// The first `Authorization: Basic` header, as the app-password extractor reads it:
/// `None` without one, `Some(None)` for a malformed one, else the login and the password.
pub fn basic_credentials(headers: &HeaderMap) -> Option<Option<(String, String)>> {
    match crate::extract::basic_credentials(headers) {
        Basic::Absent => None,
        Basic::Malformed => Some(None),
        Basic::Present(credentials) => Some(Some((credentials.login, credentials.password))),
    }
}

/// The client address of a request from `peer` with these headers behind the `trusted`
/// proxies, as every per-IP rate limit and token network check sees it.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    crate::client_ip::resolve(peer, headers, trusted)
}
